// Helpers for the sync engine tests: temporary trees, a tree fingerprint to
// compare two trees, an in-process server on a loopback port, the real
// nhsyncd binary as a child process, and a TCP proxy that cuts connections.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

#include "sync/client.hpp"
#include "sync/server.hpp"

namespace nh::synctest {

std::string make_temp_dir(const std::string &tag);
void remove_tree(const std::string &path);
void write_file(const std::string &path, std::string_view data, int mode = 0644);
std::string read_file(const std::string &path);
void mkdirs(const std::string &path);

// path -> "type mode content-hash|target" for everything under root except
// the sync machinery's own files (.nocalhost-sync*) and .git.
std::map<std::string, std::string> fingerprint(const std::string &root);
// A readable list of the differences ("" when none).
std::string diff_trees(const std::string &a, const std::string &b);

class InProcessServer {
public:
    // delta false: a server that does not grant delta transfer (one from before it).
    InProcessServer(std::string root, std::string token, bool durable = true, bool delta = true);
    ~InProcessServer();
    void restart();
    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    void start(uint16_t port);
    void stop();
    std::string root_, token_;
    bool durable_, delta_;
    uint16_t port_ = 0;
    std::unique_ptr<sync::Server> server_;
    std::thread thread_;
};

// The real nhsyncd binary (NH_SYNCD_PATH) serving root on a free loopback
// port; its stderr goes to a log file. Killed (SIGTERM) on destruction.
struct DaemonOptions {
    std::string root{};
    std::string token{};       // passed as NH_SYNC_TOKEN unless token_file is set
    std::string token_file{};  // --token-file
    std::string log_level{};   // NH_LOG ("" leaves it unset)
    uid_t run_as = 0;          // 0: as the current user; else setuid/setgid to it first
    std::vector<std::string> extra_args{};
};

class Daemon {
public:
    explicit Daemon(DaemonOptions options);
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;
    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    // To stop or kill it the way a crashed or frozen container would (SIGSTOP, SIGKILL).
    pid_t pid() const { return pid_; }
    // Whether the process is still running (it never exits on its own).
    bool alive();
    // Everything it wrote on stderr so far.
    std::string log() const;

private:
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string log_file_;
};

// Forwards 127.0.0.1:port() to a target port and drops each connection after
// a random number of bytes in [min_bytes, max_bytes] (0: never). Optionally a
// slow link: what the client sends is passed on at most `rate` bytes a second, with at most
// about `in_flight` bytes taken from the client and not yet passed on (0: what the kernel's
// loopback buffers take, megabytes; a distant link holds its rate times its round trip).
class CuttingProxy {
public:
    CuttingProxy(uint16_t target, uint64_t min_bytes, uint64_t max_bytes, uint32_t seed, uint64_t rate = 0,
                 int in_flight = 0);
    ~CuttingProxy();
    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int cuts() const { return cuts_; }
    void set_cutting(bool on) { cutting_ = on; }
    // Bytes passed from the client to the server, over every connection.
    uint64_t upstream_bytes() const { return upstream_; }
    // Bytes passed from the server to the client.
    uint64_t downstream_bytes() const { return downstream_; }

private:
    void loop();
    int listen_fd_ = -1;
    int stop_fd_ = -1;
    uint16_t port_ = 0, target_;
    uint64_t min_, max_;
    uint32_t seed_;
    uint64_t rate_;
    std::atomic<uint64_t> upstream_{0};
    std::atomic<uint64_t> downstream_{0};
    std::atomic<int> cuts_{0};
    std::atomic<bool> cutting_{true};
    std::thread thread_;
};

}  // namespace nh::synctest
