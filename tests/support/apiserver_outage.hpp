// Takes the test cluster's kube-apiserver away and brings it back, through
// `scripts/test-cluster stop|start apiserver`. The script is NH_TEST_CLUSTER_SCRIPT
// when set, else the source tree's (NH_TEST_CLUSTER_SCRIPT_DEFAULT, a compile
// definition); the cluster's state dir is NH_TEST_CLUSTER_DIR when set, else the
// directory of NH_TEST_KUBECONFIG (the script keeps the admin kubeconfig there).
// Tests that use it must run alone (ctest RUN_SERIAL): every client of the
// cluster sees the outage.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

// True when something accepts a TCP connection on 127.0.0.1:port.
inline bool port_listening(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    close(fd);
    return ok;
}

// The port of NH_TEST_SERVER (https://127.0.0.1:PORT), or 0.
inline int apiserver_port() {
    std::string s = outage_env("NH_TEST_SERVER");
    auto colon = s.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(s.c_str() + colon + 1);
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
    // From the server gone to it listening again.
    double down_seconds() const { return std::chrono::duration<double>(listening_at_ - stopped_at_).count(); }
    // Seconds from the server listening again (answering clients) to `t`.
    double after_back(Clock::time_point t) const { return std::chrono::duration<double>(t - listening_at_).count(); }

private:
    void bring_back() {
        std::atomic<bool> done{false};
        listening_at_ = Clock::time_point::max();
        std::thread watch([&] {
            int port = apiserver_port();
            while (!done && !port_listening(port)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            listening_at_ = Clock::now();
        });
        start_ok_ = control_apiserver("start");
        done = true;
        watch.join();
        back_ = true;
    }

    std::chrono::milliseconds down_;
    std::atomic<bool> stopped_{false}, back_{false};
    bool stop_ok_ = false, start_ok_ = false;
    Clock::time_point stopped_at_, listening_at_;
    std::thread thread_;
};

}  // namespace nh::test
