// A minimal HTTP CONNECT proxy on 127.0.0.1 for tests of proxy-url: it
// tunnels each CONNECT to its target and counts the tunnels it opened.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net.hpp"

namespace nh::test {

class ConnectProxy {
public:
    ConnectProxy() {
        fd_ = listen_loopback(&port_, 16);
        acceptor_ = std::thread([this] {
            while (true) {
                int c = accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                std::lock_guard lock(mu_);
                workers_.emplace_back([this, c] { tunnel(c); });
            }
        });
    }
    ~ConnectProxy() {
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        acceptor_.join();
        std::lock_guard lock(mu_);
        for (auto &t : workers_) t.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int tunnels() const { return tunnels_.load(); }

private:
    void tunnel(int c) {
        std::string head;
        char ch;
        while (head.find("\r\n\r\n") == std::string::npos && recv(c, &ch, 1, 0) == 1) head += ch;
        std::string target;
        if (head.rfind("CONNECT ", 0) == 0) target = head.substr(8, head.find(' ', 8) - 8);
        size_t colon = target.rfind(':');
        int up = -1;
        if (colon != std::string::npos) {
            addrinfo *res = nullptr;
            addrinfo hints{};
            hints.ai_socktype = SOCK_STREAM;
            if (getaddrinfo(target.substr(0, colon).c_str(), target.substr(colon + 1).c_str(), &hints, &res) == 0) {
                up = socket(res->ai_family, SOCK_STREAM, 0);
                if (connect(up, res->ai_addr, res->ai_addrlen) != 0) {
                    close(up);
                    up = -1;
                }
                freeaddrinfo(res);
            }
        }
        if (up < 0) {
            send(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n", 28, MSG_NOSIGNAL);
            close(c);
            return;
        }
        ++tunnels_;
        std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
        send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
        pollfd fds[2] = {{c, POLLIN, 0}, {up, POLLIN, 0}};
        char buf[16384];
        bool open = true;
        while (open && poll(fds, 2, 5000) > 0) {
            for (int i = 0; i < 2 && open; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t n = recv(fds[i].fd, buf, sizeof buf, 0);
                if (n <= 0 || send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) open = false;
            }
        }
        close(c);
        close(up);
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<int> tunnels_{0};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> workers_;
};

}  // namespace nh::test
