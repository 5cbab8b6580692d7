// What a dev session carries besides the sync (docs/traffic.md): in local mode the reverse
// tunnel that serves the workload's ports in the dev pod from a process on this machine, and in
// every mode the forwards that make cluster Services reachable here ("svc/NAME:PORT[:LOCAL]"),
// with a hosts-style file and an env file naming their local ends.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/cancel.hpp"
#include "dev/session.hpp"
#include "kube/client.hpp"
#include "loop/reverse.hpp"
#include "stream/portforward.hpp"

namespace nh::loop {

// "svc/NAME:PORT[:LOCAL]" ("service/NAME", "services/NAME" too); LOCAL 0 picks a free port.
struct ServiceForwardSpec {
    std::string service;
    int port = 0;   // the Service's port
    int local = 0;  // on 127.0.0.1 here; default `port`
};
ServiceForwardSpec parse_service_forward(const std::string &text);  // throws NH_EINVAL

// Kubernetes' name of a Service's environment variables: "my-db" -> "MY_DB" (so
// MY_DB_SERVICE_HOST, MY_DB_SERVICE_PORT).
std::string service_env_prefix(const std::string &service);

struct TrafficOptions {
    bool local = false;  // serve session.local's ports from this machine
    std::vector<ServiceForwardSpec> forwards;
    std::string syncd_dir;
    std::chrono::milliseconds timeout{120000};  // the first tunnel; each Service's first endpoint
    dev::EventSink events;                       // phase "forward" (on the starting thread only)
    CancelToken *cancel = nullptr;
};

class Traffic {
public:
    // Opens the reverse tunnel (local mode) and every Service forward, writes the files, or
    // throws nh::Error with nothing left running. Registered by session, so that ending dev
    // mode in this process stops it first.
    Traffic(std::shared_ptr<kube::Client> client, const dev::Session &session, TrafficOptions opts);
    ~Traffic();  // stop()
    Traffic(const Traffic &) = delete;
    Traffic &operator=(const Traffic &) = delete;

    // {"local_ports":[{"port","local"}], "forwards":[{"service","port","local_port","pod"}],
    //  "hosts_file", "env_file"} (the files "" without forwards).
    nlohmann::json status() const;
    const std::string &hosts_file() const { return hosts_file_; }
    const std::string &env_file() const { return env_file_; }
    // Stops the tunnel and the forwards and removes the files. Idempotent.
    void stop();

private:
    struct Forward;
    void start_forward(Forward &f, CancelToken *cancel);
    void follow_round();

    std::shared_ptr<kube::Client> client_;
    dev::Session session_;
    TrafficOptions opts_;
    std::string key_;
    std::unique_ptr<ReverseForwarder> reverse_;
    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Forward>> forwards_;
    std::string dir_, hosts_file_, env_file_;
    std::mutex follow_mu_;
    std::condition_variable follow_cv_;
    bool follow_stop_ = false;
    std::thread follower_;
};

// Stops this process's Traffic of a session (ns + "/" + session object name).
void stop_traffic(const std::string &key);

}  // namespace nh::loop
