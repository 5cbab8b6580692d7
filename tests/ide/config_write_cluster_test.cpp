// Writing the dev config back on the test cluster, through the C ABI: to the workload's
// dev.nocalhost annotation and to an application's ConfigMap, read back and used by the next
// start's config; refused when the config changed since it was read (for the annotation: the
// annotation, not the rest of the workload), when it exists and no version was given, and when
// the config is invalid, with nothing written. And the dev profile:
// `nh dev start` with no --image takes the image the last start used.
#include "ide_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

std::string config_with_image(const std::string &image, const std::string &service = "web") {
    return "name: " + service + "\nserviceType: deployment\ncontainers:\n  - name: app\n    dev:\n      image: " + image +
           "\n      workDir: /work\n";
}

}  // namespace

class ConfigWrite : public DevTest {
protected:
    json read(const char *app = nullptr) {
        nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
        o.app_name = app;
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_dev_config_read(&b, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
        return take_json(b);
    }
    int write(const std::string &text, const std::string &rv, const char *app = nullptr) {
        nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
        o.app_name = app;
        o.resource_version = rv.empty() ? nullptr : rv.c_str();
        return nh_dev_config_write(nullptr, client, "deployment", "web", text.c_str(), &o);
    }
    // The image the next start's config resolution takes.
    std::string resolved_image(const char *app = nullptr) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.app_name = app;
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_dev_config_resolve(&b, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
        return take_json(b).value("image", "");
    }
};

TEST_F(ConfigWrite, TheAnnotationRoundTripsAndTheNextStartReadsIt) {
    create(web_deployment());
    json r = read();  // while the controller still updates the workload's status: no matter
    EXPECT_TRUE(r["config"].is_null());
    EXPECT_EQ(r["source"], "annotation dev.nocalhost of deployment/web");
    const std::string text = config_with_image("registry.example/dev:2");
    ASSERT_EQ(write(text, r["resource_version"]), NH_OK) << nh_error_last()->message;
    json again = read();
    EXPECT_EQ(again["config"], text);
    EXPECT_NE(again["resource_version"], r["resource_version"]);
    EXPECT_EQ(get(Kind::Deployment, "web")["metadata"]["annotations"]["dev.nocalhost"], text);
    EXPECT_EQ(resolved_image(), "registry.example/dev:2");
    // Written over the version just read: fine again.
    ASSERT_EQ(write(config_with_image("registry.example/dev:3"), again["resource_version"]), NH_OK)
        << nh_error_last()->message;
    EXPECT_EQ(resolved_image(), "registry.example/dev:3");
}

TEST_F(ConfigWrite, OfTwoWritersWhoReadTheSameTheSecondIsRefusedAndNothingIsOverwritten) {
    create(web_deployment());
    const std::string first = config_with_image("registry.example/dev:1");
    ASSERT_EQ(write(first, ""), NH_OK) << nh_error_last()->message;
    // Two editors read the same config.
    json a = read(), b = read();
    ASSERT_EQ(a["resource_version"], b["resource_version"]);
    const std::string mine = config_with_image("registry.example/dev:a");
    ASSERT_EQ(write(mine, a["resource_version"]), NH_OK) << nh_error_last()->message;
    // The second writes over what it read, which is no longer there.
    EXPECT_EQ(write(config_with_image("registry.example/dev:b"), b["resource_version"]), NH_ECONFLICT);
    const std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("annotation dev.nocalhost of deployment/web was changed since it was read"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was overwritten"), std::string::npos) << msg;
    EXPECT_EQ(read()["config"], mine) << "the second writer overwrote the first";
    EXPECT_EQ(get(Kind::Deployment, "web")["metadata"]["annotations"]["dev.nocalhost"], mine);
    // Removed since it was read: refused too.
    json c = read();
    kube->patch(path(Kind::Deployment, "web"), nh::kube::PatchType::Merge,
                json{{"metadata", {{"annotations", {{"dev.nocalhost", nullptr}}}}}}.dump());
    EXPECT_EQ(write(mine, c["resource_version"]), NH_ECONFLICT);
    EXPECT_TRUE(read()["config"].is_null());
}

TEST_F(ConfigWrite, AnUnrelatedChangeOfTheWorkloadDoesNotRefuseAWrite) {
    create(web_deployment());
    ASSERT_EQ(write(config_with_image("registry.example/dev:1"), ""), NH_OK) << nh_error_last()->message;
    json r = read();
    // Someone else changes the workload after we read its config: a label, the replicas (and
    // the controller its status), none of them the annotation.
    kube->patch(path(Kind::Deployment, "web"), nh::kube::PatchType::Merge,
                json{{"metadata", {{"labels", {{"touched", "yes"}}}}}, {"spec", {{"replicas", 2}}}}.dump());
    const std::string text = config_with_image("registry.example/dev:2");
    ASSERT_EQ(write(text, r["resource_version"]), NH_OK) << nh_error_last()->message;
    json wl = get(Kind::Deployment, "web");
    EXPECT_EQ(wl["metadata"]["annotations"]["dev.nocalhost"], text);
    EXPECT_EQ(wl["metadata"]["labels"]["touched"], "yes") << "the other change was lost";
    EXPECT_EQ(wl["spec"]["replicas"], 2) << "the other change was lost";
    // With no version, only where there is none yet.
    EXPECT_EQ(write(config_with_image("registry.example/dev:9"), ""), NH_ECONFLICT);
    EXPECT_NE(std::string(nh_error_last()->message).find("nothing was overwritten"), std::string::npos);
    EXPECT_EQ(read()["config"], text);
}

TEST_F(ConfigWrite, AnInvalidConfigIsRefusedAndNothingIsWritten) {
    create(web_deployment());
    wait_ready(Kind::Deployment, "web", 1);
    json r = read();
    const json before = nh::dev::clean_object(get(Kind::Deployment, "web"));
    EXPECT_EQ(write("name: [web\n", r["resource_version"]), NH_EINVAL);
    EXPECT_EQ(write(config_with_image("x") + "      imagePullPolicy: Sometimes\n", r["resource_version"]), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("imagePullPolicy"), std::string::npos) << nh_error_last()->message;
    // A config of another workload is no config of this one.
    EXPECT_EQ(write(config_with_image("x", "api"), r["resource_version"]), NH_EINVAL);
    EXPECT_EQ(nh::dev::clean_object(get(Kind::Deployment, "web")), before) << "something was written";
    EXPECT_TRUE(read()["config"].is_null());
}

TEST_F(ConfigWrite, TheApplicationsConfigMapRoundTripsWithTheSameRules) {
    create(web_deployment());
    json r = read("shop");
    EXPECT_TRUE(r["config"].is_null());
    EXPECT_EQ(r["resource_version"], "");
    EXPECT_EQ(r["source"], "ConfigMap dev.nocalhost.config.shop");
    const std::string app_config = "configProperties:\n  version: v2\napplication:\n  name: shop\n  services:\n" +
                                   std::string("    - name: web\n      serviceType: deployment\n      containers:\n") +
                                   "        - name: app\n          dev:\n            image: registry.example/dev:cm\n";
    ASSERT_EQ(write(app_config, "", "shop"), NH_OK) << nh_error_last()->message;
    json cm = kube->get("/api/v1/namespaces/" + ns + "/configmaps/dev.nocalhost.config.shop");
    EXPECT_EQ(cm["data"]["config"], app_config);
    EXPECT_EQ(resolved_image("shop"), "registry.example/dev:cm");
    EXPECT_EQ(write(app_config, "", "shop"), NH_ECONFLICT) << "created over an existing ConfigMap";
    json mine = read("shop");
    // Another key of the ConfigMap, changed by someone else: our version is stale.
    kube->patch("/api/v1/namespaces/" + ns + "/configmaps/dev.nocalhost.config.shop", nh::kube::PatchType::Merge,
                json{{"data", {{"other", "x"}}}}.dump());
    EXPECT_EQ(write(app_config + "\n", mine["resource_version"], "shop"), NH_ECONFLICT);
    json now = read("shop");
    EXPECT_EQ(now["config"], app_config);
    ASSERT_EQ(write("application:\n  name: shop\n  services: []\n", now["resource_version"], "shop"), NH_OK)
        << nh_error_last()->message;
    cm = kube->get("/api/v1/namespaces/" + ns + "/configmaps/dev.nocalhost.config.shop");
    EXPECT_EQ(cm["data"]["other"], "x") << "the ConfigMap's other keys are kept";
}

#ifdef NH_CLI_PATH
TEST_F(ConfigWrite, NhDevStartTakesTheImageTheLastStartUsed) {
    nh::test::TempDir home;
    const std::string env = "XDG_CONFIG_HOME='" + home.path() + "/cfg' ";
    auto nh = [&](const std::string &args) {
        return run_shell(env + "CI=1 '" NH_CLI_PATH "' --kubeconfig '" + kubeconfig + "' -n " + ns + " " + args + " 2>&1");
    };
    create(web_deployment());
    wait_ready(Kind::Deployment, "web", 1);
    const std::string sidecar = " --sidecar-image registry.example/nhsyncd:test --timeout 90s";
    CliRun r = nh("dev start deployment/web --image registry.example/dev:remembered -c app --workdir /src" + sidecar);
    ASSERT_EQ(r.code, 0) << r.out;
    ASSERT_EQ(nh("dev end deployment/web").code, 0);
    wait_ready(Kind::Deployment, "web", 1);
    // No image given, none in a dev config: the profile's.
    r = nh("dev start deployment/web" + sidecar);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("using the dev profile of deployment/web"), std::string::npos) << r.out;
    json dev = get(Kind::Deployment, "web");
    json app = dev["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(app["image"], "registry.example/dev:remembered") << dev.dump();
    EXPECT_EQ(app["workingDir"], "/src");
    ASSERT_EQ(nh("dev end deployment/web").code, 0);
    // The profile as the C ABI reads it.
    nh_dev_profile_options po = NH_DEV_PROFILE_OPTIONS_INIT;
    std::string store = home.path() + "/cfg/nocalhost/profiles.json";
    po.store_path = store.c_str();
    po.namespace_name = ns.c_str();
    po.context = nh_client_context(client);
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_profile_get(&b, "deploy", "web", &po), NH_OK) << nh_error_last()->message;
    json p = take_json(b);
    EXPECT_EQ(p["image"], "registry.example/dev:remembered");
    EXPECT_EQ(p["container"], "app");
    EXPECT_EQ(p["workdir"], "/src");
}
#endif
