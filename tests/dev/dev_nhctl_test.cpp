// A workload left in dev mode by Nocalhost's own CLI (nhctl) is ended by nh_dev_end() and
// `nh dev end`: the original saved in its dev.nocalhost/origin-workload-definition annotation
// is put back in place, and what nhctl made for that dev mode (its syncthing Secret, its
// dev-mode Deployment, its pinning of the HPAs) is removed or undone; nothing else is touched.
#include <functional>

#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

class DevNhctlTest : public DevTest {
protected:
    // A Deployment as Nocalhost installs it (application annotations and managed-by label).
    json nocalhost_app_deployment(const std::string &name, int replicas) {
        json d = sample_deployment(name, replicas);
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "nocalhost";
        d["metadata"]["annotations"]["dev.nocalhost/application-name"] = "bookinfo";
        d["metadata"]["annotations"]["dev.nocalhost/application-namespace"] = ns;
        return d;
    }

    // nhctl's record of the original: the workload without status, resourceVersion,
    // managedFields or creationTimestamp, but with uid and generation.
    static json nhctl_origin(const json &cur) {
        json origin = {{"apiVersion", cur["apiVersion"]}, {"kind", cur["kind"]}, {"spec", cur["spec"]}};
        json &om = origin["metadata"];
        for (const char *f : {"annotations", "generation", "labels", "name", "namespace", "uid"})
            if (cur["metadata"].contains(f)) om[f] = cur["metadata"][f];
        origin["spec"]["template"]["metadata"]["creationTimestamp"] = nullptr;
        return origin;
    }

    json create_secret(const std::string &name, const json &labels = json::object()) {
        return kube->create(nh::dev::secret_path(ns), {{"apiVersion", "v1"},
                                                       {"kind", "Secret"},
                                                       {"type", "Opaque"},
                                                       {"metadata", {{"name", name}, {"labels", labels}}},
                                                       {"stringData",
                                                        {{"config.xml", "<configuration/>"},
                                                         {"cert.pem", "-----BEGIN CERTIFICATE-----"},
                                                         {"key.pem", "-----BEGIN EC PRIVATE KEY-----"}}}});
    }

    // nhctl's syncthing Secret of a workload: "<name>-<type>-nocalhost-syncthing-secret".
    json create_syncthing_secret(const std::string &name, const std::string &type) {
        return create_secret(name + "-" + type + "-nocalhost-syncthing-secret");
    }

    // `tpl` (a pod template) as nhctl's dev mode makes it: the target container renamed
    // nocalhost-dev running the dev image with `tail -f /dev/null`, work dir, imagePullPolicy
    // Always, no probes; the nocalhost-sidecar container; the syncthing (secret `secret`) and
    // shared volumes; an empty pod securityContext; the dev container named in the template's
    // dev.nocalhost/nocalhost-dev annotation.
    static void nhctl_dev_template(json &t, const std::string &container, const std::string &secret) {
        t["metadata"]["annotations"]["dev.nocalhost/nocalhost-dev"] = "nocalhost-dev";
        json &spec = t["spec"];
        spec["securityContext"] = json::object();
        for (auto &ct : spec["containers"]) {
            for (const char *p : {"readinessProbe", "livenessProbe", "startupProbe"}) ct.erase(p);
            if (ct["name"] != container) continue;
            ct["name"] = "nocalhost-dev";
            ct["image"] = "nocalhost-docker.pkg.coding.net/nocalhost/dev-images/golang:latest";
            ct["command"] = {"/bin/sh", "-c", "tail -f /dev/null"};
            ct.erase("args");
            ct["workingDir"] = "/home/nocalhost-dev";
            ct["imagePullPolicy"] = "Always";
            ct["env"].push_back({{"name", "NOCALHOST_DEV"}, {"value", "1"}});
            ct["volumeMounts"] = {{{"name", "nocalhost-shared-volume"}, {"mountPath", "/home/nocalhost-dev"}},
                                  {{"name", "nocalhost-syncthing"}, {"mountPath", "/var/syncthing"}}};
        }
        spec["containers"].push_back(
            {{"name", "nocalhost-sidecar"},
             {"image", "nocalhost-docker.pkg.coding.net/nocalhost/public/nocalhost-sidecar:syncthing"},
             {"command", {"/bin/sh", "-c"}},
             {"args", {"unset STGUIADDRESS && cp /var/syncthing/secret/* /var/syncthing/ && /bin/entrypoint.sh syncthing -home /var/syncthing"}},
             {"workingDir", "/home/nocalhost-dev"},
             {"volumeMounts",
              {{{"name", "nocalhost-shared-volume"}, {"mountPath", "/home/nocalhost-dev"}},
               {{"name", "nocalhost-syncthing"}, {"mountPath", "/var/syncthing"}},
               {{"name", "nocalhost-syncthing-secret"}, {"mountPath", "/var/syncthing/secret"}}}}});
        spec["volumes"] = {{{"name", "nocalhost-syncthing"}, {"emptyDir", json::object()}},
                           {{"name", "nocalhost-shared-volume"}, {"emptyDir", json::object()}},
                           {{"name", "nocalhost-syncthing-secret"},
                            {"secret", {{"secretName", secret}, {"defaultMode", 420}}}}};
    }

    // PUT of what `change` makes of the object at `p`, retried while controllers write its status.
    json change_object(const std::string &p, const std::function<void(json &)> &change) {
        for (int attempt = 0;; ++attempt) {
            json obj = kube->get(p);
            change(obj);
            try {
                return kube->update(p, obj);
            } catch (const nh::Error &e) {
                if (e.code() != NH_ECONFLICT || attempt >= 10) throw;
            }
        }
    }

    // nhctl's pinning of an HPA: its bounds kept in two annotations, both set to 1.
    json nhctl_pin_hpa(const std::string &hpa) {
        return change_object(nh::dev::hpa_path(ns, hpa), [](json &h) {
            h["metadata"]["annotations"]["nocalhost.dev.hpa.origin.max.replicas"] =
                std::to_string(h["spec"].value("maxReplicas", 0));
            h["metadata"]["annotations"]["nocalhost.dev.hpa.origin.min.replicas"] =
                std::to_string(h["spec"].value("minReplicas", 1));
            h["spec"]["minReplicas"] = 1;
            h["spec"]["maxReplicas"] = 1;
        });
    }

    // A Deployment with nhctl's labels of a dev-mode Deployment (generated for `type`/`name`), or of
    // a duplicate when `duplicate_of` is given.
    json create_nhctl_deployment(const std::string &dname, const std::string &type, const std::string &name,
                                 const std::string &secret, bool duplicate = false) {
        json labels = duplicate ? json{{"identifier", "a1b2c3d4e5"},
                                       {"origin-workload-name", name},
                                       {"origin-workload-type", type},
                                       {"nocalhost.dev.workload.ignored", "true"}}
                                : json{{"nocalhost.dev.workload.ignored", "true"},
                                       {"dev.nocalhost/workload-type", type},
                                       {"dev.nocalhost/workload-name", name}};
        json tpl = simple_template(dname);
        nhctl_dev_template(tpl, "app", secret);
        json d = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata", {{"name", dname}, {"labels", labels}}},
                  {"spec",
                   {{"replicas", 1},
                    {"strategy", {{"type", "Recreate"}}},
                    {"selector", {{"matchLabels", {{"app", dname}}}}},
                    {"template", tpl}}}};
        return create(d);
    }

    // Puts Deployment `name` into the state nhctl's replace dev mode leaves: the original in
    // dev.nocalhost/origin-workload-definition and dev.nocalhost/dev-mode-count on the
    // workload; one replica; the dev pod template; its syncthing Secret.
    // `legacy`: the Secret named as nhctl releases before the workload's type was in the name did.
    void enter_nhctl_dev_mode(const std::string &name, const std::string &container, bool legacy = false) {
        const std::string secret = legacy ? name + "-nocalhost-syncthing-secret" : name + "-deployment-nocalhost-syncthing-secret";
        create_secret(secret);
        change_object(path(Kind::Deployment, name), [&](json &w) {
            const std::string origin = nhctl_origin(w).dump();
            w["metadata"]["annotations"]["dev.nocalhost/origin-workload-definition"] = origin;
            w["metadata"]["annotations"]["dev.nocalhost/dev-mode-count"] = "1";
            w["spec"]["replicas"] = 1;
            nhctl_dev_template(w["spec"]["template"], container, secret);
        });
    }
};

TEST_F(DevNhctlTest, CliEndsNocalhostDevModeAndRestores) {
    create(nocalhost_app_deployment("productpage", 2));
    wait_ready(Kind::Deployment, "productpage", 2);
    json original = get(Kind::Deployment, "productpage");
    json hpa = kube->create(nh::dev::hpa_path(ns), sample_hpa("productpage", "Deployment", 2, 5));
    enter_nhctl_dev_mode("productpage", "app");
    nhctl_pin_hpa("productpage");
    wait_ready(Kind::Deployment, "productpage", 1);
    json dev = get(Kind::Deployment, "productpage");
    ASSERT_EQ(dev["spec"]["replicas"], 1);
    ASSERT_EQ(dev["spec"]["template"]["spec"]["containers"][0]["name"], "nocalhost-dev");

    // Not this dev mode's: other workloads' syncthing Secrets (another name; the same name of
    // another kind), a duplicate's, a Secret named as old nhctl releases did but not mounted by
    // the dev pod; another developer's duplicate, the dev-mode Deployment of a DaemonSet of the
    // same name; another workload's pinned HPA; the claim of a persistent dir.
    std::vector<std::string> other_secrets = {"reviews-deployment-nocalhost-syncthing-secret",
                                              "productpage-statefulset-nocalhost-syncthing-secret",
                                              "productpage-deployment-nocalhost-syncthing-secret-dup-a1b2c3d4e5",
                                              "productpage-nocalhost-syncthing-secret"};
    for (const auto &n : other_secrets) create_secret(n);
    create_nhctl_deployment("productpage-a1b2c-x7k2m", "deployment", "productpage",
                            "productpage-deployment-nocalhost-syncthing-secret-dup-a1b2c3d4e5", true);
    create_nhctl_deployment("productpage-daemonset-devmode-q8w4e", "daemonset", "productpage",
                            "productpage-daemonset-nocalhost-syncthing-secret");
    create(sample_deployment("reviews", 1));
    kube->create(nh::dev::hpa_path(ns), sample_hpa("reviews", "Deployment", 1, 4));
    json reviews_hpa = nhctl_pin_hpa("reviews");
    kube->create("/api/v1/namespaces/" + ns + "/persistentvolumeclaims",
                 {{"apiVersion", "v1"},
                  {"kind", "PersistentVolumeClaim"},
                  {"metadata",
                   {{"name", "bookinfo-1700000000000000000"},
                    {"labels",
                     {{"nocalhost.dev/app", "bookinfo"},
                      {"nocalhost.dev/service", "productpage"},
                      {"nocalhost.dev/dir", "5d41402abc4b2a76b9719d911017c592"}}},
                    {"annotations", {{"nocalhost.dev/dir", "/root/.cache"}}}}},
                  {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});

    // nh sees no session of its own: status says not in dev mode, end restores from the annotation.
    CliRun r = cli("dev end deployment/productpage");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("restored"), std::string::npos) << r.out;
    expect_restored(Kind::Deployment, "productpage", original, &hpa);
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, "productpage-deployment-nocalhost-syncthing-secret")));
    EXPECT_NE(r.out.find("syncthing Secret productpage-deployment-nocalhost-syncthing-secret"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("HorizontalPodAutoscaler productpage"), std::string::npos) << r.out;
    json h = kube->get(nh::dev::hpa_path(ns, "productpage"));
    EXPECT_FALSE(h["metadata"].contains("annotations")) << h["metadata"].dump();
    for (const auto &n : other_secrets) EXPECT_TRUE(exists(nh::dev::secret_path(ns, n))) << n;
    for (const char *d : {"productpage-a1b2c-x7k2m", "productpage-daemonset-devmode-q8w4e", "reviews"})
        EXPECT_TRUE(exists(path(Kind::Deployment, d))) << d;
    json rh = kube->get(nh::dev::hpa_path(ns, "reviews"));
    EXPECT_EQ(rh["spec"], reviews_hpa["spec"]);
    EXPECT_EQ(rh["metadata"]["annotations"], reviews_hpa["metadata"]["annotations"]);
    EXPECT_TRUE(exists("/api/v1/namespaces/" + ns + "/persistentvolumeclaims/bookinfo-1700000000000000000"));
    json now = get(Kind::Deployment, "productpage");
    const json &ann = now["metadata"]["annotations"];
    EXPECT_FALSE(ann.contains("dev.nocalhost/origin-workload-definition")) << ann.dump();
    EXPECT_FALSE(ann.contains("dev.nocalhost/dev-mode-count")) << ann.dump();
    EXPECT_EQ(ann.value("dev.nocalhost/application-name", ""), "bookinfo");
    wait_ready(Kind::Deployment, "productpage", 2);

    // Ending again: nothing to do.
    r = cli("dev end deployment/productpage");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("was not in dev mode"), std::string::npos) << r.out;
}

TEST_F(DevNhctlTest, CApiEndsNocalhostDevMode) {
    create(nocalhost_app_deployment("reviews", 3));
    wait_ready(Kind::Deployment, "reviews", 3);
    json original = get(Kind::Deployment, "reviews");
    enter_nhctl_dev_mode("reviews", "proxy", true);
    int res = -1;
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "reviews", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(res, NH_DEV_END_RESTORED);
    expect_restored(Kind::Deployment, "reviews", original);
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, "reviews-nocalhost-syncthing-secret")))
        << "the Secret under its older name, mounted by the dev pod";
    wait_ready(Kind::Deployment, "reviews", 3);
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "reviews", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(res, NH_DEV_END_NOT_IN_DEV_MODE);
}

TEST_F(DevNhctlTest, DaemonSetDevModeDeploymentAndSecretAreDeleted) {
    json ds = {{"apiVersion", "apps/v1"},
               {"kind", "DaemonSet"},
               {"metadata", {{"name", "ratings"}, {"labels", {{"app", "ratings"}}}}},
               {"spec", {{"selector", {{"matchLabels", {{"app", "ratings"}}}}}, {"template", simple_template("ratings")}}}};
    kube->create(nh::dev::workload_path(Kind::DaemonSet, ns, ""), ds);
    json original = get(Kind::DaemonSet, "ratings");

    // nhctl's dev mode of a DaemonSet: the original recorded, its pods sent to a node that does
    // not exist, the dev pod in a Deployment it generates, the syncthing Secret that one mounts.
    change_object(path(Kind::DaemonSet, "ratings"), [&](json &w) {
        const std::string origin = nhctl_origin(w).dump();
        w["metadata"]["annotations"]["dev.nocalhost/origin-workload-definition"] = origin;
        w["metadata"]["annotations"]["dev.nocalhost/dev-mode-count"] = "1";
        w["spec"]["template"]["spec"]["nodeName"] = "nocalhost.unreachable";
    });
    create_syncthing_secret("ratings", "daemonset");
    create_nhctl_deployment("ratings-daemonset-devmode-z9x8c", "daemonset", "ratings",
                            "ratings-daemonset-nocalhost-syncthing-secret");
    // Those of a Job of the same name and of another DaemonSet stay.
    create_syncthing_secret("ratings", "job");
    create_nhctl_deployment("ratings-job-devmode-m3n4b", "job", "ratings", "ratings-job-nocalhost-syncthing-secret");
    create_syncthing_secret("details", "daemonset");
    create_nhctl_deployment("details-daemonset-devmode-p0o9i", "daemonset", "details",
                            "details-daemonset-nocalhost-syncthing-secret");

    EventLog log;
    nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
    o.events = EventLog::cb;
    o.payload = &log;
    int res = -1;
    ASSERT_EQ(nh_dev_end(&res, client, "daemonset", "ratings", &o), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(res, NH_DEV_END_RESTORED);
    expect_restored(Kind::DaemonSet, "ratings", original);
    EXPECT_FALSE(exists(path(Kind::Deployment, "ratings-daemonset-devmode-z9x8c")));
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, "ratings-daemonset-nocalhost-syncthing-secret")));
    const std::string events = log.dump();
    EXPECT_NE(events.find("Deployment ratings-daemonset-devmode-z9x8c"), std::string::npos) << events;
    EXPECT_NE(events.find("Secret ratings-daemonset-nocalhost-syncthing-secret"), std::string::npos) << events;
    for (const char *d : {"ratings-job-devmode-m3n4b", "details-daemonset-devmode-p0o9i"})
        EXPECT_TRUE(exists(path(Kind::Deployment, d))) << d;
    for (const char *sname : {"ratings-job-nocalhost-syncthing-secret", "details-daemonset-nocalhost-syncthing-secret"})
        EXPECT_TRUE(exists(nh::dev::secret_path(ns, sname))) << sname;
}

TEST_F(DevNhctlTest, BrokenAnnotationIsAnErrorAndChangesNothing) {
    create(nocalhost_app_deployment("details", 1));
    wait_ready(Kind::Deployment, "details", 1);
    json w = get(Kind::Deployment, "details");
    w["metadata"]["annotations"]["dev.nocalhost/origin-workload-definition"] = "{not json";
    w = kube->update(path(Kind::Deployment, "details"), w);
    int res = -1;
    EXPECT_EQ(nh_dev_end(&res, client, "deployment", "details", nullptr), NH_EPROTOCOL);
    EXPECT_NE(std::string(nh_error_last()->message).find("dev.nocalhost/origin-workload-definition"), std::string::npos)
        << nh_error_last()->message;
    // The controller may still write status (bumping resourceVersion); what we own must be untouched.
    json now = get(Kind::Deployment, "details");
    EXPECT_EQ(now["spec"], w["spec"]);
    EXPECT_EQ(now["metadata"]["labels"], w["metadata"]["labels"]);
    EXPECT_EQ(now["metadata"]["annotations"], w["metadata"]["annotations"]);
    EXPECT_EQ(now["metadata"]["generation"], w["metadata"]["generation"]);
}

}  // namespace

TEST_F(DevNhctlTest, BarePodIsReCreatedFromItsAnnotation) {
    // nhctl replaces a bare Pod by its dev pod of the same name, the original in the annotation.
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", "solo"}, {"labels", {{"app", "solo"}}}}},
                {"spec", simple_template("solo")["spec"]}};
    create(pod);
    json original = get(Kind::Pod, "solo");
    json origin = {{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata",
                    {{"name", "solo"}, {"namespace", ns}, {"labels", original["metadata"]["labels"]},
                     {"uid", original["metadata"]["uid"]}}},
                   {"spec", original["spec"]}};
    kube->remove(path(Kind::Pod, "solo"));
    for (int i = 0; i < 100 && exists(path(Kind::Pod, "solo")); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    create_syncthing_secret("solo", "pod");
    json dev = pod;
    dev["metadata"]["annotations"]["dev.nocalhost/origin-workload-definition"] = origin.dump();
    json tpl = {{"metadata", json::object()}, {"spec", pod["spec"]}};
    nhctl_dev_template(tpl, "app", "solo-pod-nocalhost-syncthing-secret");
    dev["spec"] = tpl["spec"];
    create(dev);

    auto r = cli("dev end pod/solo");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("re-creating pod/solo"), std::string::npos) << r.out;
    json back = get(Kind::Pod, "solo");
    EXPECT_FALSE(back["metadata"].value("annotations", json::object()).contains("dev.nocalhost/origin-workload-definition"));
    EXPECT_EQ(back["spec"]["containers"], original["spec"]["containers"]);
    EXPECT_EQ(back["metadata"]["labels"], original["metadata"]["labels"]);
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, "solo-pod-nocalhost-syncthing-secret")));
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, nh::dev::session_object_name(Kind::Pod, "solo"))))
        << "the record made for the re-creation is gone";
    r = cli("dev end pod/solo");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("not in dev mode"), std::string::npos) << r.out;
}
