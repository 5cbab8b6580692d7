#include "tunnel/server.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/log.hpp"
#include "tunnel/mux.hpp"

namespace nh::tunnel {
namespace {

// Connections that have not yet authenticated, at most: more are closed at once.
constexpr size_t kMaxPending = 16;

void send_blocking(int fd, const std::string &bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, 1000);
                continue;
            }
            throw Error(NH_ECONNECT, std::string("send: ") + std::strerror(errno));
        }
        off += static_cast<size_t>(n);
    }
}

void send_fail(int fd, int code, const std::string &message) {
    std::string p, out;
    put_u32(p, static_cast<uint32_t>(code));
    p += message;
    append_frame(out, Type::Fail, 0, p);
    try {
        send_blocking(fd, out);
    } catch (const Error &) {
    }
}

}  // namespace

Server::Server(ServerOptions opts) : opts_(std::move(opts)) {
    if (opts_.token.empty()) throw Error(NH_EINVAL, "the tunnel server needs a token");
    listen_fd_ = listen_on(opts_.address, opts_.port, 16);
    port_ = bound_port(listen_fd_);
}

Server::~Server() {
    stop();
    std::list<std::unique_ptr<Conn>> conns;
    {
        std::lock_guard l(mu_);
        conns.swap(conns_);
    }
    for (auto &c : conns)
        if (c->thread.joinable()) c->thread.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

void Server::stop() {
    std::lock_guard l(mu_);
    stopped_ = true;
    stop_.signal();
    if (current_) current_->signal();
    cv_.notify_all();
}

void Server::run() {
    for (;;) {
        pollfd p[2] = {{stop_.fd(), POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
        }
        if (p[0].revents) return;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard l(mu_);
        for (auto it = conns_.begin(); it != conns_.end();) {
            if ((*it)->done) {
                (*it)->thread.join();
                it = conns_.erase(it);
            } else {
                ++it;
            }
        }
        if (conns_.size() >= kMaxPending + 1) {
            ::close(fd);
            continue;
        }
        auto c = std::make_unique<Conn>();
        Conn *self = c.get();
        conns_.push_back(std::move(c));
        self->thread = std::thread([this, fd, self] { serve(fd, self); });
    }
}

bool Server::hello(int fd, FrameReader &reader) {
    auto deadline = std::chrono::steady_clock::now() + opts_.hello_timeout;
    std::optional<Frame> f;
    char buf[4096];
    while (!(f = reader.next())) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            send_fail(fd, NH_ETIMEOUT, "no HELLO in time");
            return false;
        }
        pollfd p[2] = {{fd, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
        if (::poll(p, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
        if (p[1].revents) return false;
        if (!p[0].revents) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        reader.feed(buf, static_cast<size_t>(n));
    }
    if (f->type != Type::Hello || f->stream != 0) {
        send_fail(fd, NH_EPROTOCOL, "expected HELLO");
        return false;
    }
    std::string_view p = f->payload;
    if (p.size() < kMagic.size() + 1 || p.substr(0, kMagic.size()) != kMagic) {
        send_fail(fd, NH_EPROTOCOL, "not a nocalhost tunnel client");
        return false;
    }
    auto version = static_cast<uint8_t>(p[kMagic.size()]);
    if (version != kVersion) {
        send_fail(fd, NH_EUNSUPPORTED, "tunnel protocol version " + std::to_string(version) +
                                           " not supported (the sidecar speaks " + std::to_string(kVersion) + ")");
        return false;
    }
    if (!secret_equal(p.substr(kMagic.size() + 1), opts_.token)) {
        log::warn("reverse tunnel: a client presented a wrong token");
        send_fail(fd, NH_EUNAUTHORIZED, "authentication failed: wrong token");
        return false;
    }
    return true;
}

void Server::serve(int fd, Conn *self) {
    FrameReader reader;
    bool ok = false;
    try {
        ok = hello(fd, reader);
    } catch (const Error &e) {
        send_fail(fd, e.code(), e.what());
    }
    platform::Wakeup mine;
    if (ok) {
        // A newer tunnel replaces the current one: its listeners must be closed before this
        // one's LISTEN binds the same ports.
        std::unique_lock l(mu_);
        if (current_) current_->signal();
        cv_.wait(l, [&] { return !serving_ || stopped_; });
        ok = !stopped_;
        if (ok) {
            serving_ = true;
            current_ = &mine;
        }
    }
    if (!ok) {
        ::close(fd);
    } else {
        bool owned = false;  // by the mux, which closes it
        try {
            std::string out, p(1, static_cast<char>(kVersion));
            append_frame(out, Type::Welcome, 0, p);
            send_blocking(fd, out);
            log::info("reverse tunnel: a client connected");
            owned = true;
            Mux mux(fd, Role::Pod, MuxHooks{}, std::move(reader));
            mux.run(mine.fd());
            log::info("reverse tunnel: replaced or stopped");
        } catch (const Error &e) {
            if (!owned) ::close(fd);
            log::info(std::string("reverse tunnel: ended: ") + e.what());
        }
        std::lock_guard l(mu_);
        serving_ = false;
        current_ = nullptr;
        cv_.notify_all();
    }
    std::lock_guard l(mu_);
    self->done = true;
}

}  // namespace nh::tunnel
