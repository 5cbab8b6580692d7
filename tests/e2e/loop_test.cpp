// The dev loop's failure path that needs no container, on kwok: a dev pod that is
// Running and Ready, whose sync sidecar never answers (kwok runs no container, so
// nothing listens on the sync port behind its port-forward). The start must fail on
// its first sync with a clear error and leave the workload exactly as it was. The
// loop on real containers (the real sidecar, syncs, edits, deletes, the Nocalhost
// config, a sidecar that cannot start, an API server outage) is tested on the test
// cluster's real node: tests/realpods.
#include <gtest/gtest.h>
#include <nocalhost.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cluster_env.hpp"
#include "dev/workload.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string sh(const std::string &cmd, int *rc = nullptr) { return nh::test::shell(cmd + " 2>&1", rc); }

class Loop : public ::testing::Test {
protected:
    void SetUp() override {
        NH_REQUIRE_CLUSTER("NH_TEST_KUBECONFIG");
        kubeconfig_ = nh::test::cluster_env("NH_TEST_KUBECONFIG");
        ASSERT_GE(nh_init(), 1);
        ns_ = "nh-loop-" + std::to_string(getpid());
        src_ = fs::path(local_.path()) / "src";
        fs::create_directories(src_);
        std::ofstream(src_ / "hello.txt") << "hello v1\n";
        // Pods of node "fake" (kwok's): the real node is tainted for the real-pod tests only.
        std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns_ + "}\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + ns_ + "}\n"
            "spec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n"
            "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n"
            "      - {name: app, image: 'registry.example/web:1.0', ports: [{containerPort: 80}]}\n";
        nh::test::write_file(local_ / "objects.yaml", yaml);
        int rc = 0;
        std::string out = kubectl("apply -f '" + local_ / "objects.yaml" + "'", &rc);
        ASSERT_EQ(rc, 0) << out;
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        o.kubeconfig = kubeconfig_.c_str();
        o.namespace_name = ns_.c_str();
        ASSERT_EQ(nh_client_new(&client_, &o), NH_OK) << nh_error_last()->message;
    }

    void TearDown() override {
        nh_client_free(client_);
        if (!ns_.empty() && !kubeconfig_.empty()) kubectl("delete namespace " + ns_ + " --wait=false");
        nh_shutdown();
    }

    std::string kubectl(const std::string &args, int *rc = nullptr) {
        return sh("kubectl --kubeconfig '" + kubeconfig_ + "' --request-timeout=30s " + args, rc);
    }

    nh::test::TempDir local_;
    fs::path src_;
    std::string kubeconfig_, ns_;
    nh_client *client_ = nullptr;
};

}  // namespace

TEST_F(Loop, AFirstSyncThatNeverCompletesFailsTheStartAndRollsBack) {
    // From a settled rollout: the start's one timeout covers the dev pod's rollout and the
    // first sync, and only the sync is to run out of it.
    int rc = 0;
    std::string out = kubectl("-n " + ns_ + " rollout status deployment/web --timeout=60s", &rc);
    ASSERT_EQ(rc, 0) << out;
    json before = json::parse(kubectl("-n " + ns_ + " get deployment web -o json"));
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:latest";
    // An image's own nhsyncd (kwok runs none): the default sidecar would wait for an upload first.
    o.sidecar_image = "registry.example/nhsyncd:test";
    std::string src = src_.string();
    o.local_dir = src.c_str();
    o.timeout_ms = 8000;
    nh_session *session = nullptr;
    rc = nh_dev_start(&session, client_, "deployment", "web", &o);
    EXPECT_NE(rc, NH_OK);
    EXPECT_EQ(session, nullptr);
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("the first sync of " + src + " did not complete"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rolled back"), std::string::npos) << msg;
    // Exactly as it was: same object, same content, no session record or lock.
    json after = json::parse(kubectl("-n " + ns_ + " get deployment web -o json"));
    EXPECT_EQ(after["metadata"]["uid"], before["metadata"]["uid"]);
    EXPECT_EQ(nh::dev::clean_object(after), nh::dev::clean_object(before))
        << json::diff(nh::dev::clean_object(before), nh::dev::clean_object(after)).dump();
    std::string object = nh::dev::session_object_name(nh::dev::Kind::Deployment, "web");
    EXPECT_EQ(kubectl("-n " + ns_ + " get secret,lease " + object + " --ignore-not-found -o name"), "");
    nh_buf buf = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&buf, client_, "deployment", "web", nullptr), NH_OK);
    std::string status = buf.ptr;
    nh_buf_dispose(&buf);
    EXPECT_EQ(status.find("\"in_dev_mode\":true"), std::string::npos) << status;
}
