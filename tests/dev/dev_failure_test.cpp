// Failed starts: a clear error and the workload exactly as it was.
#include <atomic>

#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

// A Deployment whose pods are bound to a node no kubelet (and no kwok) serves:
// they stay without status until the test writes one, as a kubelet would.
json ghost_deployment(const std::string &name, const std::string &ns) {
    json d = sample_deployment(name, 2);
    d["spec"]["template"]["spec"]["nodeName"] = "nh-ghost-" + ns;
    // No kubelet confirms a graceful deletion there: delete at once so Recreate can proceed.
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 0;
    return d;
}

// Plays the kubelet of the ghost node: the pod of the image check that runs before the start
// changes anything starts (the images are fine); the dev pod's container "app" then reports
// `reason` (a pull or crash-loop failure), or, when `reason` is empty, nothing ever, as a silent
// kubelet would.
class FakeKubelet {
public:
    FakeKubelet(std::shared_ptr<nh::kube::Client> kube, std::string ns, std::string reason)
        : kube_(std::move(kube)), ns_(std::move(ns)), reason_(std::move(reason)), thread_([this] { run(); }) {}
    ~FakeKubelet() {
        stop_ = true;
        thread_.join();
    }

private:
    void run() {
        std::set<std::string> done;
        while (!stop_) {
            try {
                const json pods = kube_->get(nh::dev::pods_path(ns_))["items"];
                for (const auto &p : pods) {
                    std::string name = p["metadata"]["name"];
                    if (done.count(name)) continue;
                    if (p["metadata"].value("labels", json::object()).value(nh::dev::kRoleLabel, "") == "image-check") {
                        json statuses = json::array();
                        for (const auto &c : p["spec"]["containers"])
                            statuses.push_back({{"name", c["name"]}, {"image", c["image"]}, {"imageID", ""},
                                                {"ready", false}, {"restartCount", 0},
                                                {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}});
                        json patch = {{"status", {{"phase", "Succeeded"}, {"containerStatuses", statuses}}}};
                        kube_->patch(nh::dev::pods_path(ns_) + "/" + name + "/status",
                                     nh::kube::PatchType::StrategicMerge, patch.dump());
                        done.insert(name);
                        continue;
                    }
                    if (reason_.empty() ||
                        !p["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionIdAnnotation))
                        continue;
                    json statuses = json::array();
                    for (const auto &c : p["spec"]["containers"]) {
                        json st = {{"name", c["name"]}, {"image", c["image"]}, {"imageID", ""}, {"ready", false},
                                   {"restartCount", 0}};
                        if (c["name"] == "app")
                            st["state"] = {{"waiting", {{"reason", reason_}, {"message", "Back-off pulling image \"" +
                                                                                         c["image"].get<std::string>() + "\""}}}};
                        else
                            st["state"] = {{"running", {{"startedAt", nh::dev::now_rfc3339()}}}};
                        statuses.push_back(st);
                    }
                    json patch = {{"status",
                                   {{"phase", "Pending"},
                                    {"conditions", {{{"type", "PodScheduled"}, {"status", "True"}},
                                                    {{"type", "Ready"}, {"status", "False"}}}},
                                    {"containerStatuses", statuses}}}};
                    kube_->patch(nh::dev::pods_path(ns_) + "/" + name + "/status", nh::kube::PatchType::StrategicMerge,
                                 patch.dump());
                    json ev = {{"apiVersion", "v1"},
                               {"kind", "Event"},
                               {"metadata", {{"generateName", name + "."}, {"namespace", ns_}}},
                               {"involvedObject", {{"kind", "Pod"}, {"name", name}, {"namespace", ns_}}},
                               {"reason", "Failed"},
                               {"message", "Failed to pull image: not found"},
                               {"type", "Warning"},
                               {"count", 1}};
                    kube_->create("/api/v1/namespaces/" + ns_ + "/events", ev);
                    done.insert(name);
                }
            } catch (const std::exception &) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    std::shared_ptr<nh::kube::Client> kube_;
    std::string ns_, reason_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

nh_dev_start_options start_options(const char *image = "registry.example/dev:1") {
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = image;
    o.timeout_ms = 60000;
    return o;
}

}  // namespace

TEST_F(DevTest, ImagePullFailureRollsBackWithAClearError) {
    create(ghost_deployment("pull", ns));
    json original = get(Kind::Deployment, "pull");
    FakeKubelet kubelet(kube, ns, "ImagePullBackOff");
    EventLog log;
    auto o = start_options("registry.example/does-not-exist:1");
    o.events = EventLog::cb;
    o.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "pull", &o), NH_ERROR) << nh_error_last()->message;
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("ImagePullBackOff"), std::string::npos) << msg;
    EXPECT_NE(msg.find("container app"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rolled back"), std::string::npos) << msg;
    EXPECT_TRUE(log.has_phase("rollback")) << log.dump();
    expect_restored(Kind::Deployment, "pull", original);
}

TEST_F(DevTest, CrashLoopRollsBack) {
    create(ghost_deployment("loop", ns));
    json original = get(Kind::Deployment, "loop");
    FakeKubelet kubelet(kube, ns, "CrashLoopBackOff");
    auto o = start_options();
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "loop", &o), NH_ERROR);
    EXPECT_NE(std::string(nh_error_last()->message).find("CrashLoopBackOff"), std::string::npos);
    expect_restored(Kind::Deployment, "loop", original);
}

TEST_F(DevTest, TimeoutRollsBack) {
    create(ghost_deployment("slow", ns));
    json original = get(Kind::Deployment, "slow");
    FakeKubelet kubelet(kube, ns, "");  // silent on the dev pod
    EventLog log;
    auto o = start_options();
    o.timeout_ms = 5000;  // past the image check and the patch on a loaded machine, then the wait times out
    o.events = EventLog::cb;
    o.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "slow", &o), NH_ETIMEOUT);
    EXPECT_NE(std::string(nh_error_last()->message).find("rolled back"), std::string::npos);
    EXPECT_FALSE(log.pod_lines.empty()) << "the pod's state was reported while waiting";
    expect_restored(Kind::Deployment, "slow", original);
}

TEST_F(DevTest, NoRollbackLeavesTheWorkloadForEnd) {
    create(ghost_deployment("keep", ns));
    json original = get(Kind::Deployment, "keep");
    FakeKubelet kubelet(kube, ns, "");  // silent on the dev pod
    auto o = start_options();
    o.timeout_ms = 4000;  // the pods never become ready; long enough to get past the patch on a loaded machine
    o.rollback_on_failure = 0;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "keep", &o), NH_ETIMEOUT);
    EXPECT_NE(std::string(nh_error_last()->message).find("rollback disabled"), std::string::npos);
    json left = get(Kind::Deployment, "keep");
    EXPECT_TRUE(left["metadata"]["annotations"].contains(nh::dev::kSessionAnnotation));
    EXPECT_EQ(left["spec"]["template"]["spec"]["containers"].size(), 3u);
    EXPECT_TRUE(exists(nh::dev::secret_path(ns, nh::dev::session_object_name(Kind::Deployment, "keep"))));
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "keep", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    expect_restored(Kind::Deployment, "keep", original);
}

TEST_F(DevTest, CancelledByTheEventsCallbackRollsBack) {
    create(ghost_deployment("stop", ns));
    json original = get(Kind::Deployment, "stop");
    FakeKubelet kubelet(kube, ns, "");  // silent on the dev pod
    EventLog log;
    log.stop_at = "wait";
    auto o = start_options();
    o.events = EventLog::cb;
    o.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "stop", &o), NH_ECANCELLED);
    expect_restored(Kind::Deployment, "stop", original);
}

TEST_F(DevTest, CancelTokenStopsTheWaitAndRollsBack) {
    create(ghost_deployment("cancel", ns));
    json original = get(Kind::Deployment, "cancel");
    FakeKubelet kubelet(kube, ns, "");  // silent on the dev pod
    nh_cancel *cancel = nullptr;
    ASSERT_EQ(nh_cancel_new(&cancel), NH_OK);
    auto o = start_options();
    o.cancel = cancel;
    std::thread trigger([cancel] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        nh_cancel_trigger(cancel);
    });
    nh_session *s = nullptr;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "cancel", &o), NH_ECANCELLED);
    trigger.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    nh_cancel_free(cancel);
    expect_restored(Kind::Deployment, "cancel", original);
}

TEST_F(DevTest, BadRequestsChangeNothing) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    nh_session *s = nullptr;

    auto o = start_options();
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "missing", &o), NH_ENOTFOUND);
    EXPECT_NE(std::string(nh_error_last()->message).find("missing"), std::string::npos);

    o.container = "nope";
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_ENOTFOUND);
    EXPECT_NE(std::string(nh_error_last()->message).find("app, proxy"), std::string::npos) << nh_error_last()->message;

    o.container = nullptr;
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("several containers"), std::string::npos);

    o.container = "app";
    o.sync_port = 8080;  // the app's own port
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_EINVAL);

    o.sync_port = 0;
    EXPECT_EQ(nh_dev_start(&s, client, "daemonset", "web", &o), NH_ENOTFOUND);
    EXPECT_EQ(nh_dev_start(&s, client, "gizmo", "web", &o), NH_EINVAL);
    o.image = nullptr;
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_EINVAL);
    EXPECT_EQ(s, nullptr);

    expect_restored(Kind::Deployment, "web", original);
    EXPECT_EQ(nh_dev_end(nullptr, client, "deployment", "missing", nullptr), NH_ENOTFOUND);
}

TEST_F(DevTest, EndOnAWorkloadNotInDevModeIsANoOp) {
    create(sample_deployment("plain", 1));
    json original = get(Kind::Deployment, "plain");
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "plain", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_NOT_IN_DEV_MODE);
    EXPECT_EQ(get(Kind::Deployment, "plain")["metadata"]["generation"], original["metadata"]["generation"]);
    expect_restored(Kind::Deployment, "plain", original);
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&b, client, "deployment", "plain", nullptr), NH_OK);
    EXPECT_EQ(json::parse(b.ptr)["dev_mode"], false);
    EXPECT_EQ(nh_dev_status(&b, client, "deployment", "ghost", nullptr), NH_ENOTFOUND);
    nh_buf_dispose(&b);
}

TEST_F(DevTest, ForbiddenUserChangesNothing) {
    std::string nobody = env_or_empty("NH_TEST_NOBODY_TOKEN_KUBECONFIG");
    ASSERT_FALSE(nobody.empty()) << "NH_TEST_NOBODY_TOKEN_KUBECONFIG is not set";
    create(sample_deployment("web", 1));
    json original = get(Kind::Deployment, "web");
    nh_client *c = open(nobody);
    ASSERT_NE(c, nullptr);
    auto o = start_options();
    nh_session *s = nullptr;
    EXPECT_EQ(nh_dev_start(&s, c, "deployment", "web", &o), NH_EFORBIDDEN);
    EXPECT_EQ(nh_error_last()->http_status, 403);
    EXPECT_EQ(get(Kind::Deployment, "web")["metadata"]["generation"], original["metadata"]["generation"]);
    expect_restored(Kind::Deployment, "web", original);
    EXPECT_EQ(nh_dev_end(nullptr, c, "deployment", "web", nullptr), NH_EFORBIDDEN);
}
