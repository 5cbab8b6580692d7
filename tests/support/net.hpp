// Socket helpers shared by the test servers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <thread>

namespace nh::test {

// A TCP socket listening on 127.0.0.1 at a free port, which is stored in *port.
inline int listen_loopback(int *port, int backlog = 64) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
        close(fd);
        throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    *port = ntohs(a.sin_port);
    return fd;
}

// A connection to 127.0.0.1:port with TCP_NODELAY, or -1.
inline int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// A TCP server on 127.0.0.1 handing each connection (TCP_NODELAY) to `serve` on its own
// thread; the connection is closed when `serve` returns.
class TcpServer {
public:
    explicit TcpServer(std::function<void(int)> serve) : serve_(std::move(serve)) {
        fd_ = listen_loopback(&port_, 256);
        acceptor_ = std::thread([this] {
            while (true) {
                int c = accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                ++accepted_;
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                std::thread([this, c] {
                    serve_(c);
                    close(c);
                }).detach();
            }
        });
    }
    ~TcpServer() {
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        acceptor_.join();
    }
    TcpServer(const TcpServer &) = delete;
    TcpServer &operator=(const TcpServer &) = delete;
    int port() const { return port_; }
    int accepted() const { return accepted_.load(); }

private:
    std::function<void(int)> serve_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<int> accepted_{0};
    std::thread acceptor_;
};

}  // namespace nh::test
