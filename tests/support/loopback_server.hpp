// A small HTTP/1.1 server on 127.0.0.1 for unit tests: each request goes to a
// handler that answers with a status, headers and a body, or drops the
// connection, or streams chunks (for watches).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net.hpp"

namespace nh::test {

struct HttpRequest {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
};

struct HttpResponse {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool drop = false;                   // close the connection without answering
    std::vector<std::string> chunks;     // streamed with chunked encoding when non-empty
    std::chrono::milliseconds chunk_delay{0};
    std::chrono::milliseconds delay{0};  // wait before answering
};

class LoopbackServer {
public:
    using Handler = std::function<HttpResponse(const HttpRequest &)>;

    explicit LoopbackServer(Handler h) : handler_(std::move(h)) {
        fd_ = listen_loopback(&port_, 64);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~LoopbackServer() {
        stopping_ = true;
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        acceptor_.join();
        std::lock_guard lock(mu_);
        for (int c : conns_) shutdown(c, SHUT_RDWR);
        for (auto &t : workers_) t.join();
    }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int requests() const { return requests_.load(); }
    std::vector<HttpRequest> seen() {
        std::lock_guard lock(mu_);
        return seen_;
    }

private:
    void accept_loop() {
        while (!stopping_) {
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0) {
                if (stopping_) return;
                continue;
            }
            std::lock_guard lock(mu_);
            conns_.push_back(c);
            workers_.emplace_back([this, c] { serve(c); });
        }
    }
    static bool send_all(int c, const std::string &s) {
        size_t off = 0;
        while (off < s.size()) {
            ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<size_t>(n);
        }
        return true;
    }
    void serve(int c) {
        std::string buf;
        char tmp[8192];
        while (true) {
            size_t hdr_end;
            while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos) {
                ssize_t n = recv(c, tmp, sizeof tmp, 0);
                if (n <= 0) {
                    close(c);
                    return;
                }
                buf.append(tmp, static_cast<size_t>(n));
            }
            HttpRequest req;
            std::string head = buf.substr(0, hdr_end);
            buf.erase(0, hdr_end + 4);
            size_t line_end = head.find("\r\n");
            std::string first = head.substr(0, line_end);
            size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
            req.method = first.substr(0, sp1);
            req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
            size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
            while (pos < head.size()) {
                size_t e = head.find("\r\n", pos);
                if (e == std::string::npos) e = head.size();
                std::string line = head.substr(pos, e - pos);
                size_t colon = line.find(':');
                if (colon != std::string::npos) {
                    std::string k = line.substr(0, colon);
                    for (auto &ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    std::string v = line.substr(colon + 1);
                    while (!v.empty() && v[0] == ' ') v.erase(0, 1);
                    req.headers[k] = v;
                }
                pos = e + 2;
            }
            size_t len = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
            while (buf.size() < len) {
                ssize_t n = recv(c, tmp, sizeof tmp, 0);
                if (n <= 0) {
                    close(c);
                    return;
                }
                buf.append(tmp, static_cast<size_t>(n));
            }
            req.body = buf.substr(0, len);
            buf.erase(0, len);
            ++requests_;
            {
                std::lock_guard lock(mu_);
                seen_.push_back(req);
            }
            HttpResponse r = handler_(req);
            if (r.delay.count()) std::this_thread::sleep_for(r.delay);
            if (r.drop) {
                close(c);
                return;
            }
            std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\n";
            for (auto &[k, v] : r.headers) out += k + ": " + v + "\r\n";
            if (r.chunks.empty()) {
                out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
                       "\r\n\r\n" + r.body;
                if (!send_all(c, out)) break;
            } else {
                out += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if (!send_all(c, out)) break;
                bool ok = true;
                for (auto &ch : r.chunks) {
                    if (r.chunk_delay.count()) std::this_thread::sleep_for(r.chunk_delay);
                    char hex[32];
                    snprintf(hex, sizeof hex, "%zx\r\n", ch.size());
                    if (!send_all(c, hex + ch + "\r\n")) {
                        ok = false;
                        break;
                    }
                }
                if (!ok || !send_all(c, "0\r\n\r\n")) break;
            }
        }
        close(c);
    }

    Handler handler_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> requests_{0};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<int> conns_;
    std::vector<std::thread> workers_;
    std::vector<HttpRequest> seen_;
};

inline std::string plain_kubeconfig(const std::string &server, const std::string &user_yaml = "{token: t0k3n}") {
    return "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ns1}\n"
           "clusters:\n- name: c\n  cluster: {server: '" + server + "'}\nusers:\n- name: u\n  user: " + user_yaml + "\n";
}

}  // namespace nh::test
