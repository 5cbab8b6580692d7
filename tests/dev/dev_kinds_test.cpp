// Every workload kind through a full start/end cycle with the exact-restore check, crash
// after each step for a bare Pod and a generated-Deployment kind, and duplicate mode.
#include <set>

#include "common/base64.hpp"
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

json pod_spec(const std::string &name) {
    json spec = simple_template(name)["spec"];
    spec["nodeSelector"] = {{"example.com/pool", name.empty() ? "x" : "default"}};
    return spec;
}

json tpl(const std::string &app) {
    json spec = pod_spec(app);
    spec.erase("nodeSelector");
    return {{"metadata", {{"labels", {{"app", app}}}}}, {"spec", spec}};
}

}  // namespace

class DevKindsTest : public DevTest {
protected:
    json wl(const nh::dev::WorkloadKind &k, const std::string &name) { return kube->get(nh::dev::workload_path(k, ns, name)); }

    // A bare Pod once the scheduler has placed it (what dev mode records).
    json scheduled_pod(const std::string &name) {
        json p;
        for (int i = 0; i < 100; ++i) {
            p = wl(Kind::Pod, name);
            if (p["spec"].contains("nodeName")) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return p;
    }

    nh_session *start(const char *kind, const char *name, int mode = NH_DEV_MODE_REPLACE, const char *developer = nullptr) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        if (mode == NH_DEV_MODE_DUPLICATE) o.container = "app";
        o.image = "registry.example/dev:1";
        o.sidecar_image = "registry.example/nhsyncd:test";
        o.timeout_ms = 60000;
        o.mode = mode;
        o.developer = developer;
        nh_session *s = nullptr;
        EXPECT_EQ(nh_dev_start(&s, client, kind, name, &o), NH_OK) << nh_error_last()->message;
        return s;
    }

    int end(const char *kind, const char *name, int mode = NH_DEV_MODE_REPLACE, const char *developer = nullptr) {
        nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
        o.mode = mode;
        o.developer = developer;
        int result = -1;
        EXPECT_EQ(nh_dev_end(&result, client, kind, name, &o), NH_OK) << nh_error_last()->message;
        return result;
    }

    // Same object (UID), same content, nothing of dev mode left.
    void expect_same(const nh::dev::WorkloadKind &k, const std::string &name, const json &original, bool same_uid = true) {
        json now = wl(k, name);
        if (same_uid) {
            EXPECT_EQ(now["metadata"]["uid"], original["metadata"]["uid"]);
        }
        json want = nh::dev::clean_object(original), got = nh::dev::clean_object(now);
        if (k.kind == Kind::Pod) {
            want["metadata"].erase("uid");
            got["metadata"].erase("uid");
        }
        EXPECT_TRUE(got == want) << json::diff(want, got).dump();
        std::string obj = nh::dev::session_object_name(k, name);
        EXPECT_FALSE(exists(nh::dev::secret_path(ns, obj)));
        EXPECT_FALSE(exists(nh::dev::lease_path(ns, obj)));
        EXPECT_FALSE(exists(nh::dev::workload_path(Kind::Deployment, ns, obj))) << "generated Deployment left behind";
    }

    void round_trip(const nh::dev::WorkloadKind &k, const char *kind, const std::string &name, const json &original) {
        nh_session *s = start(kind, name.c_str());
        ASSERT_NE(s, nullptr);
        EXPECT_STRNE(nh_session_pod_name(s), "");
        nh_session_free(s);
        EXPECT_EQ(end(kind, name.c_str()), NH_DEV_END_RESTORED);
        expect_same(k, name, original, k.kind != Kind::Pod);
    }
};

TEST_F(DevKindsTest, ReplicaSetRoundTrip) {
    json rs = {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"metadata", {{"name", "rs"}, {"labels", {{"app", "rs"}}}}},
               {"spec", {{"replicas", 2}, {"selector", {{"matchLabels", {{"app", "rs"}}}}}, {"template", tpl("rs")}}}};
    kube->create(nh::dev::workload_path(Kind::ReplicaSet, ns, ""), rs);
    wait_ready(Kind::ReplicaSet, "rs", 2);
    json original = wl(Kind::ReplicaSet, "rs");
    nh_session *s = start("rs", "rs");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(wl(Kind::ReplicaSet, "rs")["spec"]["replicas"], 1);
    EXPECT_EQ(pods_of("rs").size(), 1u) << "only the dev pod runs";
    EXPECT_STREQ(nh_session_target(s), "replicaset/rs") << "a kind run in place: streams go to the workload";
    nh_session_free(s);
    EXPECT_EQ(end("replicaset", "rs"), NH_DEV_END_RESTORED);
    expect_same(Kind::ReplicaSet, "rs", original);
    wait_ready(Kind::ReplicaSet, "rs", 2);
}

TEST_F(DevKindsTest, DaemonSetRoundTripKeepsItsPodsOffTheNodes) {
    json ds = {{"apiVersion", "apps/v1"}, {"kind", "DaemonSet"}, {"metadata", {{"name", "agent"}}},
               {"spec", {{"selector", {{"matchLabels", {{"app", "agent"}}}}}, {"template", tpl("agent")}}}};
    kube->create(nh::dev::workload_path(Kind::DaemonSet, ns, ""), ds);
    json original = wl(Kind::DaemonSet, "agent");
    nh_session *s = start("ds", "agent");
    ASSERT_NE(s, nullptr);
    json parked = wl(Kind::DaemonSet, "agent");
    EXPECT_EQ(parked["spec"]["template"]["spec"]["nodeSelector"][nh::dev::kParkedNodeLabel], "true");
    EXPECT_STREQ(nh_session_workload(s), "nh-dev-daemonset-agent");
    EXPECT_STREQ(nh_session_target(s), "deployment/nh-dev-daemonset-agent");
    nh_buf target_pod = NH_BUF_INIT;
    ASSERT_EQ(nh_target_resolve(&target_pod, client, ns.c_str(), nh_session_target(s), nullptr), NH_OK)
        << nh_error_last()->message;
    EXPECT_STREQ(target_pod.ptr, nh_session_pod_name(s)) << "the target leads to the dev pod";
    nh_buf_dispose(&target_pod);
    json dev_pod = kube->get(nh::dev::pods_path(ns) + "/" + nh_session_pod_name(s));
    EXPECT_EQ(dev_pod["metadata"]["labels"]["app"], "agent") << "replace mode keeps the labels (Services reach the dev pod)";
    nh_session_free(s);
    EXPECT_EQ(end("daemonset", "agent"), NH_DEV_END_RESTORED);
    expect_same(Kind::DaemonSet, "agent", original);
}

TEST_F(DevKindsTest, JobAndCronJobRoundTripSuspended) {
    json job = {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", "batch"}}},
                {"spec", {{"backoffLimit", 2}, {"template", tpl("batch")}}}};
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never";
    kube->create(nh::dev::workload_path(Kind::Job, ns, ""), job);
    json cj = {{"apiVersion", "batch/v1"}, {"kind", "CronJob"}, {"metadata", {{"name", "nightly"}}},
               {"spec", {{"schedule", "0 3 * * *"}, {"jobTemplate", {{"spec", {{"template", tpl("nightly")}}}}}}}};
    cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure";
    kube->create(nh::dev::workload_path(Kind::CronJob, ns, ""), cj);
    json job0 = wl(Kind::Job, "batch"), cj0 = wl(Kind::CronJob, "nightly");

    nh_session *s = start("job", "batch");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(wl(Kind::Job, "batch")["spec"]["suspend"], true);
    nh_session_free(s);
    EXPECT_EQ(end("job", "batch"), NH_DEV_END_RESTORED);
    expect_same(Kind::Job, "batch", job0);

    s = start("cronjob", "nightly");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(wl(Kind::CronJob, "nightly")["spec"]["suspend"], true);
    nh_session_free(s);
    EXPECT_EQ(end("cj", "nightly"), NH_DEV_END_RESTORED);
    expect_same(Kind::CronJob, "nightly", cj0);
}

TEST_F(DevKindsTest, BarePodRoundTripAndOwnedPodRefused) {
    json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "solo"}, {"labels", {{"app", "solo"}}}}},
                {"spec", pod_spec("")}};
    pod["spec"].erase("nodeSelector");
    kube->create(nh::dev::pods_path(ns), pod);
    json original = scheduled_pod("solo");
    round_trip(Kind::Pod, "pod", "solo", original);

    create(sample_deployment("owned", 1));
    wait_ready(Kind::Deployment, "owned", 1);
    std::string owned = pods_of("owned")[0]["metadata"]["name"];
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:1";
    nh_session *s = nullptr;
    EXPECT_EQ(nh_dev_start(&s, client, "pod", owned.c_str(), &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("managed by ReplicaSet/owned-"), std::string::npos)
        << nh_error_last()->message;
}

TEST_F(DevKindsTest, CrashAfterEachStepBarePodAndDaemonSet) {
    const char *steps[] = {"lock", "record", "hpa", "pvc", "park", "patch", "wait", "active"};
    for (const char *kind : {"pod", "daemonset"}) {
        nh::dev::WorkloadKind k = nh::dev::parse_workload_kind(kind);
        std::string name = std::string("crash-") + kind;
        if (k.kind == Kind::Pod) {
            json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
                        {"spec", pod_spec("")}};
            pod["spec"].erase("nodeSelector");
            kube->create(nh::dev::pods_path(ns), pod);
        } else {
            json ds = {{"apiVersion", "apps/v1"}, {"kind", "DaemonSet"}, {"metadata", {{"name", name}}},
                       {"spec", {{"selector", {{"matchLabels", {{"app", name}}}}}, {"template", tpl(name)}}}};
            kube->create(nh::dev::workload_path(k, ns, ""), ds);
        }
        json original = k.kind == Kind::Pod ? scheduled_pod(name) : wl(k, name);
        for (const char *step : steps) {
            SCOPED_TRACE(std::string(kind) + " crash after " + step);
            nh::dev::StartOptions so;
            so.kind = k.kind;
            so.ns = ns;
            so.name = name;
            so.image = "registry.example/dev:1";
            so.sidecar_image = "registry.example/nhsyncd:test";
            so.lease_duration = std::chrono::seconds(1);
            so.timeout = std::chrono::seconds(60);
            auto crash = [&](const char *s) {
                if (std::string(s) == step) throw std::runtime_error("simulated crash");
            };
            auto fresh = kube_client(kubeconfig);
            EXPECT_THROW(nh::dev::start_observed(*fresh, so, crash), std::runtime_error);
            std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the lease expires
            nh::dev::EndOptions eo;
            eo.kind = k.kind;
            eo.ns = ns;
            eo.name = name;
            auto other = kube_client(kubeconfig);
            nh::dev::end(*other, eo);
            expect_same(k, name, original, k.kind != Kind::Pod);
        }
    }
}

TEST_F(DevKindsTest, CustomKindRolloutRoundTrip) {
    nh::dev::WorkloadKind k = rollout_kind();
    create_rollout("canary", 3, tpl("canary"));
    json original = wl(k, "canary");
    nh_session *s = start("rollouts.argoproj.io", "canary");
    ASSERT_NE(s, nullptr);
    EXPECT_STREQ(nh_session_kind(s), "Rollout");
    EXPECT_EQ(wl(k, "canary")["spec"]["replicas"], 0);
    nh_session_free(s);
    EXPECT_EQ(end("rollouts.argoproj.io", "canary"), NH_DEV_END_RESTORED);
    expect_same(k, "canary", original);
}

TEST_F(DevKindsTest, CustomKindHpaIsPinnedWhileInDevModeAndRestored) {
    nh::dev::WorkloadKind k = rollout_kind();
    json original = create_rollout("auto", 3);
    json hpa = sample_hpa("auto", "Rollout", 2, 5);
    hpa["spec"]["scaleTargetRef"]["apiVersion"] = "argoproj.io/v1alpha1";
    hpa["spec"]["behavior"] = {{"scaleDown", {{"stabilizationWindowSeconds", 120}}}};
    hpa = kube->create(nh::dev::hpa_path(ns), hpa);
    // Same name, other kind or other group: not the Rollout's, never touched.
    json other_kind = sample_hpa("auto", "Deployment", 2, 4);
    other_kind["metadata"]["name"] = "auto-deployment";
    other_kind = kube->create(nh::dev::hpa_path(ns), other_kind);
    json other_group = sample_hpa("auto", "Rollout", 1, 3);
    other_group["metadata"]["name"] = "auto-other-group";
    other_group["spec"]["scaleTargetRef"]["apiVersion"] = "rollouts.example.com/v1";
    other_group = kube->create(nh::dev::hpa_path(ns), other_group);

    EventLog log;
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:1";
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 60000;
    o.events = EventLog::cb;
    o.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "rollouts.argoproj.io", "auto", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    EXPECT_TRUE(log.has_phase("hpa")) << log.dump();
    EXPECT_EQ(wl(k, "auto")["spec"]["replicas"], 0);
    json pinned = kube->get(nh::dev::hpa_path(ns, "auto"));
    EXPECT_EQ(pinned["spec"]["minReplicas"], 1);
    EXPECT_EQ(pinned["spec"]["maxReplicas"], 1);
    EXPECT_EQ(pinned["spec"]["behavior"], hpa["spec"]["behavior"]);
    // The record holds the HPA as it was.
    json secret = kube->get(nh::dev::secret_path(ns, nh::dev::session_object_name(k, "auto")));
    json recorded = json::parse(*nh::base64::decode(secret["data"]["hpas"].get<std::string>()));
    ASSERT_EQ(recorded.size(), 1u) << recorded.dump();
    EXPECT_EQ(recorded[0]["spec"], hpa["spec"]);

    EXPECT_EQ(end("rollouts.argoproj.io", "auto"), NH_DEV_END_RESTORED);
    expect_same(k, "auto", original);
    EXPECT_EQ(wl(k, "auto")["spec"]["replicas"], 3);
    json now = kube->get(nh::dev::hpa_path(ns, "auto"));
    EXPECT_EQ(now["spec"], hpa["spec"]) << json::diff(hpa["spec"], now["spec"]).dump();
    EXPECT_EQ(now["metadata"]["labels"], hpa["metadata"]["labels"]);
    EXPECT_EQ(now["metadata"].value("annotations", json::object()), hpa["metadata"].value("annotations", json::object()));
    for (const json *h : {&other_kind, &other_group}) {
        json cur = kube->get(nh::dev::hpa_path(ns, (*h)["metadata"]["name"]));
        EXPECT_EQ(cur["spec"], (*h)["spec"]) << (*h)["metadata"]["name"];
        EXPECT_EQ(cur["metadata"].value("annotations", json::object()), (*h)["metadata"].value("annotations", json::object()))
            << (*h)["metadata"]["name"];
    }
}

TEST_F(DevKindsTest, TwoDuplicatesAtOnceLeaveTheOriginalServing) {
    create(sample_deployment("web", 2));
    json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "web"}}},
                {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}, {"targetPort", 8080}}}}}}};
    kube->create("/api/v1/namespaces/" + ns + "/services", svc);
    wait_ready(Kind::Deployment, "web", 2);
    json original = get(Kind::Deployment, "web");

    nh_session *a = start("deployment", "web", NH_DEV_MODE_DUPLICATE, "alice@laptop");
    nh_session *b = start("deployment", "web", NH_DEV_MODE_DUPLICATE, "bob@desk");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(nh_session_mode(a), NH_DEV_MODE_DUPLICATE);
    EXPECT_STREQ(nh_session_developer(a), "alice@laptop");
    EXPECT_STREQ(nh_session_developer(b), "bob@desk");
    std::string copy_a = nh_session_workload(a), copy_b = nh_session_workload(b);
    EXPECT_NE(copy_a, copy_b);
    EXPECT_EQ(copy_a.rfind("web-dup-alice-", 0), 0u) << copy_a;
    EXPECT_EQ(get(Kind::Deployment, "web")["metadata"]["resourceVersion"], original["metadata"]["resourceVersion"]);
    // The copies' pods carry none of the original's labels: the Service selects only the original's.
    json dev_pod = kube->get(nh::dev::pods_path(ns) + "/" + nh_session_pod_name(a));
    EXPECT_FALSE(dev_pod["metadata"]["labels"].contains("app"));
    auto endpoint_pods = [&]() {
        std::set<std::string> pods;
        json sl = kube->get("/apis/discovery.k8s.io/v1/namespaces/" + ns +
                            "/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb");
        for (const auto &s : sl["items"])
            for (const auto &e : s.value("endpoints", json::array()))
                if (e.contains("targetRef")) pods.insert(e["targetRef"].value("name", ""));
        return pods;
    };
    std::set<std::string> eps;
    for (int i = 0; i < 50 && eps.size() != 2; ++i) {
        eps = endpoint_pods();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(eps.size(), 2u) << "the original's two pods serve the Service";
    EXPECT_FALSE(eps.count(nh_session_pod_name(a)));
    EXPECT_FALSE(eps.count(nh_session_pod_name(b)));
    nh_session_free(a);
    nh_session_free(b);

    EXPECT_EQ(end("deployment", "web", NH_DEV_MODE_DUPLICATE, "alice@laptop"), NH_DEV_END_RESTORED);
    EXPECT_FALSE(exists(nh::dev::workload_path(Kind::Deployment, ns, copy_a)));
    EXPECT_TRUE(exists(nh::dev::workload_path(Kind::Deployment, ns, copy_b))) << "ending one leaves the other";
    EXPECT_EQ(end("deployment", "web", NH_DEV_MODE_DUPLICATE, "bob@desk"), NH_DEV_END_RESTORED);
    EXPECT_FALSE(exists(nh::dev::workload_path(Kind::Deployment, ns, copy_b)));
    json now = get(Kind::Deployment, "web");
    EXPECT_EQ(now["metadata"]["resourceVersion"], original["metadata"]["resourceVersion"]) << "original untouched";
}
