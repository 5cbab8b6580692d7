// The pod side of reverse tunnels, which nhsyncd serves next to the sync: a TCP port
// (loopback by default, reached through the API server's port-forward) where a client that
// presents the session's sync token opens a tunnel. A newer tunnel replaces the one before it
// (the laptop reconnecting), whose listeners and connections are closed first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "platform/wakeup.hpp"
#include "tunnel/frame.hpp"

namespace nh::tunnel {

struct ServerOptions {
    std::string address = "127.0.0.1";
    int port = 0;  // 0: any
    std::string token;  // required; secret
    std::chrono::milliseconds hello_timeout{10000};
};

class Server {
public:
    // Listens (throws nh::Error: NH_EINVAL without a token, NH_EBUSY when the port is taken).
    explicit Server(ServerOptions opts);
    ~Server();  // stop(), then waits for every connection
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    int port() const { return port_; }
    // Accepts tunnels until stop().
    void run();
    void stop();

private:
    struct Conn {
        std::thread thread;
        bool done = false;
    };
    void serve(int fd, Conn *self);
    // Authenticates the first frame; sends FAIL and returns false when it is not a valid HELLO.
    bool hello(int fd, FrameReader &reader);

    ServerOptions opts_;
    int listen_fd_ = -1;
    int port_ = 0;
    platform::Wakeup stop_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::list<std::unique_ptr<Conn>> conns_;
    platform::Wakeup *current_ = nullptr;  // the wakeup of the tunnel being served, if any
    bool serving_ = false;
    bool stopped_ = false;
};

}  // namespace nh::tunnel
