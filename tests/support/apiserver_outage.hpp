// Takes the test cluster's kube-apiserver away and brings it back, through
// `scripts/test-cluster stop|start apiserver`. The script is NH_TEST_CLUSTER_SCRIPT
// when set, else the source tree's (NH_TEST_CLUSTER_SCRIPT_DEFAULT, a compile
// definition); the cluster's state dir is NH_TEST_CLUSTER_DIR when set, else the
// directory of NH_TEST_KUBECONFIG (the script keeps the admin kubeconfig there).
// Tests that use it must run alone (ctest RUN_SERIAL): every client of the
// cluster sees the outage.
#pragma once

#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace nh::test {

inline std::string outage_env(const char *name) {
    const char *v = std::getenv(name);
    return v ? v : "";
}

// `scripts/test-cluster VERB apiserver`, its output on the test's stderr; true on success.
inline bool control_apiserver(const std::string &verb) {
    std::string script = outage_env("NH_TEST_CLUSTER_SCRIPT");
    if (script.empty()) script = NH_TEST_CLUSTER_SCRIPT_DEFAULT;
    std::string dir = outage_env("NH_TEST_CLUSTER_DIR");
    if (dir.empty()) dir = std::filesystem::path(outage_env("NH_TEST_KUBECONFIG")).parent_path().string();
    std::string cmd = "NH_TEST_CLUSTER_DIR='" + dir + "' '" + script + "' " + verb + " apiserver 1>&2";
    int st = std::system(cmd.c_str());
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// One outage: stop() takes the API server down (returning once it is gone), a
// thread brings it back `down` later; back() does it at once. The destructor
// waits until it is back and ready, so the tests that follow find the cluster
// healthy.
class ApiServerOutage {
public:
    using Clock = std::chrono::steady_clock;
    explicit ApiServerOutage(std::chrono::milliseconds down = std::chrono::hours(1)) : down_(down) {}
    ~ApiServerOutage() {
        back();
    }
    ApiServerOutage(const ApiServerOutage &) = delete;
    ApiServerOutage &operator=(const ApiServerOutage &) = delete;

    void stop() {
        if (stopped_.exchange(true)) return;
        stop_ok_ = control_apiserver("stop");
        stopped_at_ = Clock::now();
        if (down_ < std::chrono::hours(1))
            thread_ = std::thread([this] {
                std::this_thread::sleep_for(down_);
                bring_back();
            });
    }

    // Brings it back now (or waits for the thread that does), until /readyz is ok.
    void back() {
        if (thread_.joinable()) thread_.join();
        if (stopped_ && !back_) bring_back();
    }

    bool happened() const { return stopped_ && stop_ok_; }
    bool came_back() const { return back_ && start_ok_; }
    double down_seconds() const { return std::chrono::duration<double>(back_at_ - stopped_at_).count(); }
    // Seconds from the server being ready again to `t`.
    double after_back(Clock::time_point t) const { return std::chrono::duration<double>(t - back_at_).count(); }
    Clock::time_point back_at() const { return back_at_; }

private:
    void bring_back() {
        start_ok_ = control_apiserver("start");
        back_at_ = Clock::now();
        back_ = true;
    }

    std::chrono::milliseconds down_;
    std::atomic<bool> stopped_{false}, back_{false};
    bool stop_ok_ = false, start_ok_ = false;
    Clock::time_point stopped_at_, back_at_;
    std::thread thread_;
};

}  // namespace nh::test
