// A small HTTP/1.1 server on 127.0.0.1 for unit tests: each request goes to a
// handler that answers with a status, headers and a body, or drops the
// connection, or streams chunks (for watches). Plain HTTP, or HTTPS with a
// certificate from make_loopback_cert() (credentials only travel over TLS).
#pragma once

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net.hpp"
#include "test_support.hpp"

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
    bool cut = false;                    // announce the whole body, send half of it, close
    std::vector<std::string> chunks;     // streamed with chunked encoding when non-empty
    std::chrono::milliseconds chunk_delay{0};
    std::chrono::milliseconds delay{0};  // wait before answering
};

// A self-signed certificate for 127.0.0.1 in `dir` (server.crt, server.key): the
// server's certificate and, for the client, its own certificate authority.
inline void make_loopback_cert(const std::string &dir) {
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                      "-addext subjectAltName=IP:127.0.0.1 -keyout '" + dir + "/server.key' -out '" + dir +
                      "/server.crt' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl failed");
}

// A directory holding one make_loopback_cert() certificate for the whole test binary.
inline const std::string &loopback_cert_dir() {
    static TempDir dir;
    static bool made = (make_loopback_cert(dir.path()), true);
    (void)made;
    return dir.path();
}

class LoopbackServer {
public:
    using Handler = std::function<HttpResponse(const HttpRequest &)>;

    explicit LoopbackServer(Handler h) : handler_(std::move(h)) {
        fd_ = listen_loopback(&port_, 64);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    // HTTPS with the PEM certificate and key at these paths.
    LoopbackServer(Handler h, const std::string &cert_file, const std::string &key_file) : handler_(std::move(h)) {
        tls_ = SSL_CTX_new(TLS_server_method());
        if (!tls_ || SSL_CTX_use_certificate_chain_file(tls_, cert_file.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
            SSL_CTX_free(tls_);
            throw std::runtime_error("cannot load the loopback server's certificate");
        }
        std::signal(SIGPIPE, SIG_IGN);  // SSL_write has no MSG_NOSIGNAL
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
        SSL_CTX_free(tls_);
    }
    int port() const { return port_; }
    std::string url() const { return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_); }
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
    // One connection: a socket, with a TLS session over it when the server speaks HTTPS.
    struct Conn {
        int fd;
        SSL *ssl = nullptr;
        ssize_t recv_some(char *buf, size_t n) {
            if (!ssl) return ::recv(fd, buf, n, 0);
            int k = SSL_read(ssl, buf, static_cast<int>(n));
            return k > 0 ? k : -1;
        }
        bool send_all(const std::string &s) {
            size_t off = 0;
            while (off < s.size()) {
                ssize_t n = ssl ? SSL_write(ssl, s.data() + off, static_cast<int>(s.size() - off))
                                : ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
                if (n <= 0) return false;
                off += static_cast<size_t>(n);
            }
            return true;
        }
        void close_all() {
            if (ssl) {
                SSL_shutdown(ssl);
                SSL_free(ssl);
                ssl = nullptr;
            }
            ::close(fd);
        }
    };
    void serve(int fd) {
        Conn c{fd};
        if (tls_) {
            c.ssl = SSL_new(tls_);
            SSL_set_fd(c.ssl, fd);
            if (SSL_accept(c.ssl) != 1) {  // e.g. a plain-HTTP client: it gets nothing
                ERR_clear_error();
                c.close_all();
                return;
            }
        }
        std::string buf;
        char tmp[8192];
        while (true) {
            size_t hdr_end;
            while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos) {
                ssize_t n = c.recv_some(tmp, sizeof tmp);
                if (n <= 0) {
                    c.close_all();
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
                ssize_t n = c.recv_some(tmp, sizeof tmp);
                if (n <= 0) {
                    c.close_all();
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
                c.close_all();
                return;
            }
            std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\n";
            for (auto &[k, v] : r.headers) out += k + ": " + v + "\r\n";
            if (r.chunks.empty()) {
                out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
                       "\r\n\r\n" + (r.cut ? r.body.substr(0, r.body.size() / 2) : r.body);
                if (!c.send_all(out) || r.cut) break;
            } else {
                out += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if (!c.send_all(out)) break;
                bool ok = true;
                for (auto &ch : r.chunks) {
                    if (r.chunk_delay.count()) std::this_thread::sleep_for(r.chunk_delay);
                    char hex[32];
                    snprintf(hex, sizeof hex, "%zx\r\n", ch.size());
                    if (!c.send_all(hex + ch + "\r\n")) {
                        ok = false;
                        break;
                    }
                }
                if (!ok || !c.send_all("0\r\n\r\n")) break;
            }
        }
        c.close_all();
    }

    Handler handler_;
    SSL_CTX *tls_ = nullptr;
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

// An HTTPS loopback server with the shared certificate (its CA file: loopback_cert_dir()/server.crt).
inline LoopbackServer https_loopback(LoopbackServer::Handler h) {
    return LoopbackServer(std::move(h), loopback_cert_dir() + "/server.crt", loopback_cert_dir() + "/server.key");
}

// The same for an HTTPS server whose certificate authority is the file `ca_file`.
inline std::string tls_kubeconfig(const std::string &server,
                                  const std::string &ca_file = loopback_cert_dir() + "/server.crt",
                                  const std::string &user_yaml = "{token: t0k3n}") {
    return "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ns1}\n"
           "clusters:\n- name: c\n  cluster: {server: '" + server + "', certificate-authority: '" + ca_file +
           "'}\nusers:\n- name: u\n  user: " + user_yaml + "\n";
}

}  // namespace nh::test
