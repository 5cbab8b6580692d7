// Pod logs from real containers on the real node, read while they write: follow delivers
// lines written after the call began and stops promptly on cancel; tail, timestamps,
// container and previous as kubectl takes them; a workload resolved to one of its pods as
// `kubectl logs` picks it; `nh logs` as a user runs it.
#include <atomic>
#include <mutex>
#include <regex>

#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

struct Lines {
    std::mutex mu;
    std::vector<std::string> lines;
    static int cb(const char *line, size_t len, void *payload) {
        auto *self = static_cast<Lines *>(payload);
        std::lock_guard<std::mutex> l(self->mu);
        self->lines.emplace_back(line, len);
        return 0;
    }
    size_t size() {
        std::lock_guard<std::mutex> l(mu);
        return lines.size();
    }
    std::vector<std::string> copy() {
        std::lock_guard<std::mutex> l(mu);
        return lines;
    }
};

// The counter a "tick N" line carries, or -1.
long tick_of(const std::string &line) {
    auto p = line.rfind("tick ");
    return p == std::string::npos ? -1 : std::atol(line.c_str() + p + 5);
}

}  // namespace

class LogsRealTest : public RealPods {
protected:
    // Containers "app" (a tick every 200 ms) and "quiet" on the real node.
    std::string talker_spec(const std::string &indent) const {
        const std::string &i = indent;
        return i + "nodeSelector: {" + taint_ + ": \"true\"}\n" + i + "tolerations: [{key: " + taint_ +
               ", operator: Exists, effect: NoSchedule}]\n" + i + "terminationGracePeriodSeconds: 1\n" + i +
               "containers:\n" + i + "- name: app\n" + i + "  image: " + app_image_ + "\n" + i +
               "  command: [/bin/sh, -c, 'n=0; while true; do echo \"tick $n\"; n=$((n+1)); sleep 0.2; done']\n" + i +
               "- name: quiet\n" + i + "  image: " + app_image_ + "\n" + i +
               "  command: [/bin/sh, -c, 'echo quiet here; exec sleep 3600']\n";
    }

    void wait_running(const std::string &selector, size_t n) {
        ASSERT_TRUE(eventually(
            [&] {
                json items = pods(selector);
                size_t running = 0;
                for (auto &p : items)
                    if (p["status"].value("phase", "") == "Running" && !p["metadata"].contains("deletionTimestamp")) ++running;
                return running == n;
            },
            120s))
            << kubectl("-n " + ns_ + " get pods -o wide");
    }
};

TEST_F(LogsRealTest, FollowTailContainerAndWorkloads) {
    apply("apiVersion: v1\nkind: Pod\nmetadata: {name: talker, namespace: " + ns_ + ", labels: {app: talker}}\nspec:\n" +
          talker_spec("  "));
    apply("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: chatty, namespace: " + ns_ +
          "}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: chatty}}\n  template:\n    metadata: {labels: {app: "
          "chatty}}\n    spec:\n" + talker_spec("      "));
    wait_running("app=talker", 1);
    wait_running("app=chatty", 2);
    ASSERT_TRUE(eventually(
        [&] { return kubectl("-n " + ns_ + " logs talker -c app").find("tick 3") != std::string::npos; }, 30s));

    // Follow: lines written after the call began keep arriving, in order.
    Lines got;
    nh_cancel *cancel = nullptr;
    ASSERT_EQ(nh_cancel_new(&cancel), NH_OK);
    nh_pod_logs_options o = NH_POD_LOGS_OPTIONS_INIT;
    o.follow = 1;
    o.cancel = cancel;
    o.callback = Lines::cb;
    o.payload = &got;
    int rc = 1;
    nh_buf pod = NH_BUF_INIT;
    std::thread t([&] { rc = nh_pod_logs(&pod, client_, "talker", &o); });
    ASSERT_TRUE(eventually([&] { return got.size() >= 2; }, 20s));
    long first_seen = tick_of(got.copy().back());
    ASSERT_TRUE(eventually([&] { return tick_of(got.copy().back()) >= first_seen + 8; }, 20s))
        << "no new lines while following; last: " << got.copy().back();
    auto t0 = std::chrono::steady_clock::now();
    nh_cancel_trigger(cancel);
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "cancel is prompt";
    EXPECT_EQ(rc, NH_ECANCELLED);
    EXPECT_STREQ(pod.ptr, "talker");
    nh_buf_dispose(&pod);
    auto lines = got.copy();
    for (size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(tick_of(lines[i]), tick_of(lines[i - 1]) + 1) << "lost or reordered";
    nh_cancel_free(cancel);

    // Tail and timestamps, without follow: returns with exactly what was asked.
    Lines tail;
    nh_pod_logs_options to = NH_POD_LOGS_OPTIONS_INIT;
    to.tail_lines = 3;
    to.timestamps = 1;
    to.callback = Lines::cb;
    to.payload = &tail;
    ASSERT_EQ(nh_pod_logs(nullptr, client_, "pod/talker", &to), NH_OK) << nh_error_last()->message;
    ASSERT_EQ(tail.size(), 3u);
    for (auto &l : tail.copy()) EXPECT_TRUE(std::regex_search(l, std::regex("^20[0-9-]+T[0-9:.]+Z tick [0-9]+$"))) << l;

    // Another container; a container it does not have; previous without a previous instance.
    Lines quiet;
    to = NH_POD_LOGS_OPTIONS_INIT;
    to.container = "quiet";
    to.callback = Lines::cb;
    to.payload = &quiet;
    ASSERT_EQ(nh_pod_logs(nullptr, client_, "talker", &to), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(quiet.copy(), std::vector<std::string>{"quiet here"});
    to.container = "nope";
    EXPECT_EQ(nh_pod_logs(nullptr, client_, "talker", &to), NH_ENOTFOUND);
    EXPECT_NE(std::string(nh_error_last()->message).find("app, quiet"), std::string::npos) << nh_error_last()->message;
    to.container = "app";
    to.previous = 1;
    EXPECT_EQ(nh_pod_logs(nullptr, client_, "talker", &to), NH_EINVALID) << nh_error_last()->message;

    // A Deployment: one of its two pods, as kubectl picks it.
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_pod_logs_resolve(&b, client_, "deploy/chatty", nullptr), NH_OK) << nh_error_last()->message;
    json pick = json::parse(b.ptr);
    nh_buf_dispose(&b);
    EXPECT_EQ(pick["pods"], 2);
    EXPECT_EQ(pick["container"], "app");
    EXPECT_EQ(pick["containers"], json::parse(R"(["app","quiet"])"));
    bool one_of_them = false;
    for (auto &p : pods("app=chatty")) one_of_them |= p["metadata"]["name"] == pick["pod"];
    EXPECT_TRUE(one_of_them) << pick.dump();
    EXPECT_EQ(nh_pod_logs_resolve(&b, client_, "cronjob/x", nullptr), NH_EINVAL);
    EXPECT_EQ(nh_pod_logs_resolve(&b, client_, "deployment/none", nullptr), NH_ENOTFOUND);

    // nh logs, as a user runs it.
    int code = -1;
    std::string out = sh(nh_cli() + "logs --tail 2 -c app talker", &code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("^tick [0-9]+\ntick [0-9]+\n$"))) << out;
    out = sh("timeout -s INT 4 " + nh_cli() + "logs -f deployment/chatty", &code);
    EXPECT_NE(out.find("Found 2 pods, using pod/" + pick["pod"].get<std::string>()), std::string::npos) << out;
    EXPECT_NE(out.find("Defaulted container \"app\" out of: app, quiet"), std::string::npos) << out;
    const std::regex tick("tick [0-9]+");
    auto ticks = std::distance(std::sregex_iterator(out.begin(), out.end(), tick), std::sregex_iterator());
    EXPECT_GT(ticks, 10) << out;
    out = sh(nh_cli() + "logs --since 5x talker", &code);
    EXPECT_EQ(code, 2) << out;
}
