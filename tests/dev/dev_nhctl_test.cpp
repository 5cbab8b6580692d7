// A Deployment left in dev mode by Nocalhost's own CLI (nhctl) is ended by nh_dev_end() and
// `nh dev end`: the original saved in its dev.nocalhost/origin-workload-definition annotation
// is put back in place.
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

    // Puts `name` into the state nhctl's replace dev mode leaves: the original (without
    // status, resourceVersion, managedFields or creationTimestamp, but with uid and
    // generation) as JSON in dev.nocalhost/origin-workload-definition and
    // dev.nocalhost/dev-mode-count on the workload; one replica; the target container
    // renamed nocalhost-dev running the dev image with `tail -f /dev/null`, work dir,
    // imagePullPolicy Always, no probes; the nocalhost-sidecar container; the syncthing and
    // shared volumes; an empty pod securityContext; the dev container named in the pod
    // template's dev.nocalhost/nocalhost-dev annotation.
    void enter_nhctl_dev_mode(const std::string &name, const std::string &container) {
        json cur = get(Kind::Deployment, name);
        json origin = {{"apiVersion", cur["apiVersion"]}, {"kind", cur["kind"]}, {"spec", cur["spec"]}};
        json &om = origin["metadata"];
        for (const char *f : {"annotations", "generation", "labels", "name", "namespace", "uid"})
            if (cur["metadata"].contains(f)) om[f] = cur["metadata"][f];
        origin["spec"]["template"]["metadata"]["creationTimestamp"] = nullptr;

        kube->create("/api/v1/namespaces/" + ns + "/secrets",
                     {{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", {{"name", name + "-deployment-secret"}}},
                      {"stringData", {{"config.xml", "<configuration/>"}}}});

        json w = cur;
        w["metadata"]["annotations"]["dev.nocalhost/origin-workload-definition"] = origin.dump();
        w["metadata"]["annotations"]["dev.nocalhost/dev-mode-count"] = "1";
        w["spec"]["replicas"] = 1;
        json &t = w["spec"]["template"];
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
                            {"secret", {{"secretName", name + "-deployment-secret"}, {"defaultMode", 420}}}}};
        kube->update(path(Kind::Deployment, name), w);
    }
};

TEST_F(DevNhctlTest, CliEndsNocalhostDevModeAndRestores) {
    create(nocalhost_app_deployment("productpage", 2));
    wait_ready(Kind::Deployment, "productpage", 2);
    json original = get(Kind::Deployment, "productpage");
    enter_nhctl_dev_mode("productpage", "app");
    wait_ready(Kind::Deployment, "productpage", 1);
    json dev = get(Kind::Deployment, "productpage");
    ASSERT_EQ(dev["spec"]["replicas"], 1);
    ASSERT_EQ(dev["spec"]["template"]["spec"]["containers"][0]["name"], "nocalhost-dev");

    // nh sees no session of its own: status says not in dev mode, end restores from the annotation.
    CliRun r = cli("dev end deployment/productpage");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("restored"), std::string::npos) << r.out;
    expect_restored(Kind::Deployment, "productpage", original);
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
    enter_nhctl_dev_mode("reviews", "proxy");
    int res = -1;
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "reviews", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(res, NH_DEV_END_RESTORED);
    expect_restored(Kind::Deployment, "reviews", original);
    wait_ready(Kind::Deployment, "reviews", 3);
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "reviews", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(res, NH_DEV_END_NOT_IN_DEV_MODE);
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
