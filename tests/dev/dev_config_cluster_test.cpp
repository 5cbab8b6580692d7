// Nocalhost dev configs applied on the real test cluster: what the config leaves alone stays
// as the workload has it, and dev config patches behave as Nocalhost's (a refused patch is a
// warning unless the caller makes it fatal; Nocalhost's container names are ours).
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

namespace fs = std::filesystem;

const json *container_of(const json &w, const std::string &name) {
    for (const auto &c : w["spec"]["template"]["spec"]["containers"])
        if (c["name"] == name) return &c;
    return nullptr;
}

class DevConfigClusterTest : public DevTest {
protected:
    void TearDown() override {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
        DevTest::TearDown();
    }

    // A project directory holding .nocalhost/config.yaml with `text`.
    std::string project(const std::string &text) {
        char tmpl[] = "/tmp/nh-devconfig-cluster-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        fs::create_directories(fs::path(dir_) / ".nocalhost");
        std::ofstream(fs::path(dir_) / ".nocalhost" / "config.yaml") << text;
        return dir_;
    }

    int start(const std::string &config_dir, EventLog &log, int patch_errors_fatal = 0) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;  // the image comes from the config
        o.config_path = config_dir.c_str();
        o.ignore_cluster_config = 1;
        o.sidecar_image = "registry.example/nhsyncd:test";
        o.timeout_ms = 60000;
        o.events = EventLog::cb;
        o.payload = &log;
        o.patch_errors_fatal = patch_errors_fatal;
        nh_session *s = nullptr;
        int rc = nh_dev_start(&s, client, "deployment", "web", &o);
        nh_session_free(s);
        return rc;
    }

    std::string dir_;
};

const char *kConfigHead =
    "name: web\nserviceType: deployment\ncontainers:\n  - name: app\n    dev:\n"
    "      image: registry.example/golang-dev:1.22\n";

}  // namespace

TEST_F(DevConfigClusterTest, ResourcesNullKeepsTheContainersOwnLimits) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    // As the IDE plugin writes it.
    EventLog log;
    ASSERT_EQ(start(project(std::string(kConfigHead) + "      resources: null\n      workDir: \"\"\n"), log), NH_OK)
        << nh_error_last()->message << "\n" << log.dump();
    json dev = get(Kind::Deployment, "web");
    const json *app = container_of(dev, "app");
    ASSERT_NE(app, nullptr);
    EXPECT_EQ((*app)["image"], "registry.example/golang-dev:1.22");
    EXPECT_EQ((*app)["resources"], (*container_of(original, "app"))["resources"]) << dev.dump();
    EXPECT_EQ((*app)["resources"]["limits"]["memory"], "128Mi");
    EXPECT_EQ((*app)["workingDir"], "/home/nocalhost-dev");
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "web", original);
}

TEST_F(DevConfigClusterTest, RefusedPatchIsAWarningAndTheStartGoesOn) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    std::string dir = project(std::string(kConfigHead) +
                              "      patches:\n"
                              "        - type: json\n"
                              "          patch: '[{\"op\":\"test\",\"path\":\"/metadata/labels/app\",\"value\":\"other\"}]'\n"
                              "        - type: merge\n"
                              "          patch: '{\"metadata\":{\"labels\":{\"patched\":\"yes\"}}}'\n");
    EventLog log;
    ASSERT_EQ(start(dir, log), NH_OK) << nh_error_last()->message << "\n" << log.dump();
    std::string warnings;
    for (const auto &w : log.warnings) warnings += w + "\n";
    EXPECT_NE(warnings.find("patch 1 of the dev config"), std::string::npos) << log.dump();
    json dev = get(Kind::Deployment, "web");
    EXPECT_EQ(dev["metadata"]["labels"]["patched"], "yes") << "the patches after a refused one still apply";
    EXPECT_EQ((*container_of(dev, "app"))["image"], "registry.example/golang-dev:1.22");
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "web", original);

    // Made fatal by the caller: the start fails and is rolled back exactly.
    EventLog log2;
    EXPECT_EQ(start(dir, log2, 1), NH_EINVALID) << log2.dump();
    EXPECT_NE(std::string(nh_error_last()->message).find("patch 1 of the dev config"), std::string::npos)
        << nh_error_last()->message;
    expect_restored(Kind::Deployment, "web", original);
}

TEST_F(DevConfigClusterTest, PatchesNamingNocalhostsContainersApplyToOurs) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    // Nocalhost's documented example: its dev container is "nocalhost-dev", its sidecar
    // "nocalhost-sidecar".
    std::string dir = project(
        std::string(kConfigHead) +
        "      patches:\n"
        "        - patch: '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nocalhost-dev\","
        "\"imagePullPolicy\":\"IfNotPresent\",\"resources\":{\"limits\":{\"cpu\":\"2\"}}}]}}}}'\n"
        "        - patch: '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nocalhost-sidecar\","
        "\"resources\":{\"limits\":{\"cpu\":\"2\"}}}]}}}}'\n"
        "          type: strategic\n");
    EventLog log;
    ASSERT_EQ(start(dir, log, 1), NH_OK) << nh_error_last()->message << "\n" << log.dump();
    json dev = get(Kind::Deployment, "web");
    const json *app = container_of(dev, "app");
    const json *sidecar = container_of(dev, "nh-sync");
    ASSERT_NE(app, nullptr);
    ASSERT_NE(sidecar, nullptr);
    EXPECT_EQ(container_of(dev, "nocalhost-dev"), nullptr) << dev.dump();
    EXPECT_EQ(container_of(dev, "nocalhost-sidecar"), nullptr) << dev.dump();
    EXPECT_EQ((*app)["resources"]["limits"]["cpu"], "2") << app->dump();
    EXPECT_EQ((*app)["imagePullPolicy"], "IfNotPresent");
    EXPECT_EQ((*sidecar)["resources"]["limits"]["cpu"], "2") << sidecar->dump();
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "web", original);
}
