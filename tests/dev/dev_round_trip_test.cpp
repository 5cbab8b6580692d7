// Start and end dev mode through the C ABI on real Deployments and
// StatefulSets: every changed field, one dev pod with the sidecar, and an
// exact in-place restore.
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

const json *find_container(const json &pod_spec, const std::string &name) {
    for (const auto &c : pod_spec["containers"])
        if (c["name"] == name) return &c;
    return nullptr;
}

void expect_dev_spec(const json &w, const std::string &image, const std::string &workdir) {
    const json &ps = w["spec"]["template"]["spec"];
    EXPECT_EQ(w["spec"]["replicas"], 1);
    const json *app = find_container(ps, "app");
    ASSERT_NE(app, nullptr);
    EXPECT_EQ((*app)["image"], image);
    EXPECT_EQ((*app)["command"], json(nh::dev::keep_alive_command()));
    EXPECT_FALSE(app->contains("args"));
    EXPECT_EQ((*app)["workingDir"], workdir);
    for (const auto &c : ps["containers"]) {
        EXPECT_FALSE(c.contains("readinessProbe")) << c["name"];
        EXPECT_FALSE(c.contains("livenessProbe")) << c["name"];
        EXPECT_FALSE(c.contains("startupProbe")) << c["name"];
    }
    const json *proxy = find_container(ps, "proxy");
    ASSERT_NE(proxy, nullptr);
    EXPECT_EQ((*proxy)["image"], "registry.example/proxy:2.0") << "other containers keep their image";
    const json *sidecar = find_container(ps, "nh-sync");
    ASSERT_NE(sidecar, nullptr);
    EXPECT_EQ((*sidecar)["image"], "registry.example/nhsyncd:test");
    EXPECT_EQ((*sidecar)["command"][0], "nhsyncd");
    EXPECT_EQ((*sidecar)["ports"][0]["containerPort"], 7710);
    EXPECT_EQ((*sidecar)["env"][0]["name"], "NH_SYNC_TOKEN");
    EXPECT_TRUE((*sidecar)["env"][0]["valueFrom"].contains("secretKeyRef")) << "the token comes from the Secret";
    bool app_mount = false, side_mount = false;
    for (const auto &m : (*app)["volumeMounts"]) app_mount |= m["mountPath"] == workdir && m["name"] == "nh-dev-workdir";
    for (const auto &m : (*sidecar)["volumeMounts"]) side_mount |= m["mountPath"] == workdir && m["name"] == "nh-dev-workdir";
    EXPECT_TRUE(app_mount && side_mount) << "the work dir is shared";
    bool env_found = false;
    for (const auto &e : (*app)["env"]) env_found |= e["name"] == "DEBUG" && e["value"] == "1";
    EXPECT_TRUE(env_found);
    EXPECT_EQ((*app)["resources"]["limits"]["memory"], "1Gi");
}

}  // namespace

TEST_F(DevTest, DeploymentRoundTripRestoresExactly) {
    json created = create(sample_deployment("web", 3));
    json hpa = kube->create(nh::dev::hpa_path(ns), sample_hpa("web", "Deployment", 2, 5));
    wait_ready(Kind::Deployment, "web", 3);
    json original = get(Kind::Deployment, "web");

    EventLog log;
    const char *env[] = {"DEBUG=1"};
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/golang-dev:1.22";
    o.env = env;
    o.env_count = 1;
    o.resources_json = R"({"limits":{"memory":"1Gi"}})";
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 60000;
    o.events = EventLog::cb;
    o.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message << "\n" << log.dump();

    // The workload in dev mode.
    json dev = get(Kind::Deployment, "web");
    EXPECT_EQ(dev["metadata"]["uid"], original["metadata"]["uid"]);
    expect_dev_spec(dev, "registry.example/golang-dev:1.22", "/home/nocalhost-dev");
    EXPECT_EQ(dev["spec"]["strategy"]["type"], "Recreate");
    EXPECT_EQ(dev["metadata"]["labels"], original["metadata"]["labels"]);
    json h = kube->get(nh::dev::hpa_path(ns, "web"));
    EXPECT_EQ(h["spec"]["minReplicas"], 1);
    EXPECT_EQ(h["spec"]["maxReplicas"], 1);

    // Exactly one pod, the dev pod, with the sidecar.
    json pods = pods_of("web");
    int live = 0;
    for (const auto &p : pods)
        if (!p["metadata"].contains("deletionTimestamp")) ++live;
    EXPECT_EQ(live, 1);
    json pod = kube->get(nh::dev::pods_path(ns) + "/" + nh_session_pod_name(s));
    EXPECT_EQ(pod["status"]["phase"], "Running");
    EXPECT_NE(find_container(pod["spec"], "nh-sync"), nullptr);

    // The session handle: what a sync client needs.
    EXPECT_STREQ(nh_session_kind(s), "Deployment");
    EXPECT_STREQ(nh_session_name(s), "web");
    EXPECT_EQ(nh_session_namespace(s), ns);
    EXPECT_STREQ(nh_session_container(s), "app");
    EXPECT_STREQ(nh_session_sidecar_container(s), "nh-sync");
    EXPECT_STREQ(nh_session_workdir(s), "/home/nocalhost-dev");
    EXPECT_EQ(nh_session_sync_port(s), 7710);
    EXPECT_EQ(std::string(nh_session_token(s)).size(), 64u);
    nh_buf st = NH_BUF_INIT;
    ASSERT_EQ(nh_session_status(&st, s), NH_OK);
    EXPECT_EQ(std::string(st.ptr).find(nh_session_token(s)), std::string::npos) << "status must not carry the token";
    nh_buf_dispose(&st);

    // The events told the story.
    for (const char *p : {"lock", "record", "hpa", "patch", "wait", "ready"}) EXPECT_TRUE(log.has_phase(p)) << p;
    EXPECT_FALSE(log.pod_lines.empty());
    for (const auto &line : log.all) EXPECT_EQ(line.find(nh_session_token(s)), std::string::npos);
    nh_session_free(s);

    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    expect_restored(Kind::Deployment, "web", original, &hpa);
    wait_ready(Kind::Deployment, "web", 3);
    for (const auto &p : pods_of("web"))
        EXPECT_FALSE(p["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionIdAnnotation));

    // Idempotent: a second end is a no-op with a clear result.
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "web", nullptr), NH_OK);
    EXPECT_EQ(result, NH_DEV_END_NOT_IN_DEV_MODE);
}

TEST_F(DevTest, StatefulSetRoundTripRestoresExactly) {
    create(sample_statefulset("db", 2));
    json hpa = kube->create(nh::dev::hpa_path(ns), sample_hpa("db", "StatefulSet", 2, 4));
    wait_ready(Kind::StatefulSet, "db", 2);
    json original = get(Kind::StatefulSet, "db");

    const char *env[] = {"DEBUG=1"};
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/golang-dev:1.22";
    o.workdir = "/work";
    o.env = env;
    o.env_count = 1;
    o.resources_json = R"({"limits":{"memory":"1Gi"}})";
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "sts", "db", &o), NH_OK) << nh_error_last()->message;
    json dev = get(Kind::StatefulSet, "db");
    expect_dev_spec(dev, "registry.example/golang-dev:1.22", "/work");
    EXPECT_EQ(dev["spec"]["updateStrategy"]["type"], "RollingUpdate");
    EXPECT_STREQ(nh_session_pod_name(s), "db-0");
    nh_session_free(s);

    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client, "statefulset", "db", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    expect_restored(Kind::StatefulSet, "db", original, &hpa);
    // OnDelete would keep the dev pod forever: end replaces it with an original one.
    wait_ready(Kind::StatefulSet, "db", 2);
    for (const auto &p : pods_of("db")) {
        if (p["metadata"].contains("deletionTimestamp")) continue;
        EXPECT_FALSE(p["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionIdAnnotation))
            << p["metadata"]["name"];
        EXPECT_EQ(p["spec"]["containers"].size(), 2u);
    }
}

TEST_F(DevTest, ResumeStatusAndListFromAnotherClient) {
    create(sample_deployment("api", 2));
    wait_ready(Kind::Deployment, "api", 2);
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.owner = "alice@laptop";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deploy", "api", &o), NH_OK) << nh_error_last()->message;

    nh_client *other = open(kubeconfig);
    ASSERT_NE(other, nullptr);
    nh_session *r = nullptr;
    ASSERT_EQ(nh_dev_attach(&r, other, "deployment", "api", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_STREQ(nh_session_pod_name(r), nh_session_pod_name(s));
    EXPECT_STREQ(nh_session_token(r), nh_session_token(s));
    EXPECT_EQ(nh_session_sync_port(r), 7710);
    EXPECT_STREQ(nh_session_owner(r), "alice@laptop");
    EXPECT_STREQ(nh_session_since(r), nh_session_since(s));
    EXPECT_STREQ(nh_session_target(r), "deployment/api");
    EXPECT_STREQ(nh_session_target(r), nh_session_target(s));
    ASSERT_EQ(nh_session_refresh(r, nullptr), NH_OK);
    EXPECT_STREQ(nh_session_pod_name(r), nh_session_pod_name(s));

    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&b, other, "deployment", "api", nullptr), NH_OK);
    json st = json::parse(b.ptr);
    EXPECT_EQ(st["dev_mode"], true);
    EXPECT_EQ(st["phase"], "active");
    EXPECT_EQ(st["owner"], "alice@laptop");
    EXPECT_EQ(st["pod"]["name"], nh_session_pod_name(s));
    EXPECT_EQ(st["pod"]["ready"], true);
    EXPECT_EQ(st["sync_port"], 7710);
    EXPECT_EQ(st["image"], "registry.example/dev:1");
    EXPECT_EQ(std::string(b.ptr).find(nh_session_token(s)), std::string::npos);

    ASSERT_EQ(nh_dev_list(&b, other, nullptr), NH_OK);
    json l = json::parse(b.ptr);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0]["name"], "api");
    nh_dev_query_options all = NH_DEV_QUERY_OPTIONS_INIT;
    all.all_namespaces = 1;
    ASSERT_EQ(nh_dev_list(&b, other, &all), NH_OK);
    bool found = false;
    for (const auto &e : json::parse(b.ptr)) found |= e["namespace"] == ns && e["name"] == "api";
    EXPECT_TRUE(found);

    // End from the other client; the first handle's session is then gone.
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, other, "deployment", "api", nullptr), NH_OK);
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    ASSERT_EQ(nh_dev_status(&b, client, "deployment", "api", nullptr), NH_OK);
    EXPECT_EQ(json::parse(b.ptr)["dev_mode"], false);
    ASSERT_EQ(nh_dev_list(&b, client, nullptr), NH_OK);
    EXPECT_EQ(json::parse(b.ptr).size(), 0u);
    nh_session *none = nullptr;
    EXPECT_EQ(nh_dev_attach(&none, client, "deployment", "api", nullptr), NH_ENOTFOUND);
    EXPECT_EQ(none, nullptr);
    EXPECT_NE(std::string(nh_error_last()->message).find("not in dev mode"), std::string::npos);
    nh_buf_dispose(&b);
    nh_session_free(s);
    nh_session_free(r);
}

TEST_F(DevTest, EndOverwritesAnEditMadeInDevModeAndSaysSo) {
    json created = create(sample_deployment("edit", 2));
    wait_ready(Kind::Deployment, "edit", 2);
    json original = get(Kind::Deployment, "edit");
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "edit", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    // Like `kubectl set image` while in dev mode.
    kube->patch(path(Kind::Deployment, "edit"), nh::kube::PatchType::StrategicMerge,
                R"({"spec":{"template":{"spec":{"containers":[{"name":"proxy","image":"registry.example/proxy:3.0"}]}}}})");
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "edit", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED_OVERWRITING);
    expect_restored(Kind::Deployment, "edit", original);
}
