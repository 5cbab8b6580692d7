#include "tunnel/mux.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/log.hpp"

namespace nh::tunnel {
namespace {

// The tunnel's unsent bytes beyond which no stream is read and no connection accepted.
constexpr size_t kOutLimit = 1u << 20;
constexpr size_t kReadChunk = 256u << 10;

void nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

std::string peer_of(const sockaddr_in &a) {
    char ip[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

}  // namespace

void close_with_reset(int fd) {
    if (fd < 0) return;
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

int listen_on(const std::string &address, int port, int backlog) {
    if (port < 0 || port > 65535) throw Error(NH_EINVAL, "port " + std::to_string(port) + " is out of range");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    std::string host = address.empty() ? "0.0.0.0" : address;
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
        throw Error(NH_EINVAL, "'" + host + "' is not an IPv4 address to listen on");
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw Error(NH_EIO, std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0) {
        int e = errno;
        ::close(fd);
        throw Error(e == EADDRINUSE ? NH_EBUSY : NH_EIO,
                    "cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(e));
    }
    return fd;
}

int bound_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) return 0;
    return ntohs(a.sin_port);
}

Mux::Mux(int fd, Role role, MuxHooks hooks, FrameReader reader)
    : fd_(fd), role_(role), hooks_(std::move(hooks)), reader_(std::move(reader)) {
    reader_.set_limit(kMaxPayload);
    nonblocking(fd_);
    nodelay(fd_);
}

Mux::~Mux() {
    for (auto &[id, s] : streams_) close_with_reset(s.fd);
    for (auto &[id, l] : listeners_) ::close(l.fd);
    ::close(fd_);
}

void Mux::send(Type t, uint32_t stream, std::string_view payload) { append_frame(out_, t, stream, payload); }

void Mux::flush_tunnel() {
    while (out_off_ < out_.size()) {
        ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
        if (n < 0) {
            if (would_block(errno)) break;
            throw Error(NH_ECONNECT, std::string("the tunnel broke: ") + std::strerror(errno));
        }
        out_off_ += static_cast<size_t>(n);
    }
    if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
    } else if (out_off_ >= (256u << 10)) {
        out_.erase(0, out_off_);
        out_off_ = 0;
    }
}

void Mux::run(int stop_fd) {
    std::vector<pollfd> pfds;
    // What each pollfd after the first two is: a listener (true) or a stream, and its id.
    std::vector<std::pair<bool, uint32_t>> what;
    std::vector<char> buf(kReadChunk);
    // What came with the handshake.
    while (auto f = reader_.next()) on_frame(*f);
    for (;;) {
        flush_tunnel();
        pfds.clear();
        what.clear();
        const bool room = out_.size() - out_off_ < kOutLimit;
        pfds.push_back({stop_fd, POLLIN, 0});
        pfds.push_back({fd_, static_cast<short>(POLLIN | (out_off_ < out_.size() ? POLLOUT : 0)), 0});
        if (room)
            for (auto &[id, l] : listeners_) {
                pfds.push_back({l.fd, POLLIN, 0});
                what.emplace_back(true, id);
            }
        for (auto &[id, s] : streams_) {
            short ev = 0;
            if (s.connecting) ev |= POLLOUT;
            else {
                if (!s.read_eof && s.send_credit > 0 && room) ev |= POLLIN;
                if (s.to_local_off < s.to_local.size()) ev |= POLLOUT;
            }
            if (ev == 0) continue;
            pfds.push_back({s.fd, ev, 0});
            what.emplace_back(false, id);
        }
        int n = ::poll(pfds.data(), pfds.size(), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
        }
        if (pfds[0].revents) return;
        if (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = ::recv(fd_, buf.data(), buf.size(), 0);
            if (r == 0) throw Error(NH_ECONNECT, "the tunnel was closed by its other end");
            if (r < 0 && !would_block(errno))
                throw Error(NH_ECONNECT, std::string("the tunnel broke: ") + std::strerror(errno));
            if (r > 0) {
                reader_.feed(buf.data(), static_cast<size_t>(r));
                while (auto f = reader_.next()) on_frame(*f);
            }
        }
        for (size_t i = 2; i < pfds.size(); ++i) {
            if (!pfds[i].revents) continue;
            auto [is_listener, id] = what[i - 2];
            if (is_listener) {
                auto it = listeners_.find(id);
                if (it != listeners_.end()) accept_all(id, it->second.fd);
                continue;
            }
            auto it = streams_.find(id);
            if (it == streams_.end() || it->second.fd != pfds[i].fd) continue;
            if (it->second.connecting) {
                connected(id);
                continue;
            }
            short re = pfds[i].revents;
            if (re & POLLOUT) local_writable(id);
            if (streams_.count(id) && (re & (POLLIN | POLLHUP | POLLERR))) local_readable(id);
            if (streams_.count(id)) finish_if_done(id);
        }
    }
}

void Mux::on_frame(Frame &f) {
    switch (f.type) {
    case Type::Fail: {
        size_t at = 0;
        auto code = static_cast<int32_t>(get_u32(f.payload, at));
        throw Error(code < 0 ? code : NH_EPROTOCOL, "the tunnel's other end failed: " + f.payload.substr(at));
    }
    case Type::Listen:
        if (role_ != Role::Pod) break;
        on_listen(f);
        return;
    case Type::Open:
        if (role_ != Role::Laptop) break;
        on_open(f);
        return;
    case Type::Data: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) {
            if (known_closed(f.stream)) return;  // crossed our reset
            break;
        }
        Stream &s = it->second;
        if (s.peer_eof) throw Error(NH_EPROTOCOL, "tunnel stream " + std::to_string(f.stream) + " sent data after its end");
        if (f.payload.size() > s.recv_left)
            throw Error(NH_EPROTOCOL, "tunnel stream " + std::to_string(f.stream) + " sent " +
                                          std::to_string(f.payload.size()) + " bytes with a window of " +
                                          std::to_string(s.recv_left));
        s.recv_left -= static_cast<uint32_t>(f.payload.size());
        if (s.to_local_off == s.to_local.size()) {
            s.to_local = std::move(f.payload);
            s.to_local_off = 0;
        } else {
            s.to_local.append(f.payload);
        }
        if (!s.connecting) local_writable(f.stream);
        if (streams_.count(f.stream)) finish_if_done(f.stream);
        return;
    }
    case Type::Window: {
        size_t at = 0;
        uint32_t credit = get_u32(f.payload, at);
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) {
            if (known_closed(f.stream)) return;
            break;
        }
        uint64_t total = uint64_t{it->second.send_credit} + credit;
        if (total > kInitialWindow) throw Error(NH_EPROTOCOL, "tunnel stream " + std::to_string(f.stream) + " granted more than its window");
        it->second.send_credit = static_cast<uint32_t>(total);
        return;
    }
    case Type::Close: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) {
            if (known_closed(f.stream)) return;
            break;
        }
        it->second.peer_eof = true;
        finish_if_done(f.stream);
        return;
    }
    case Type::Reset: {
        auto it = streams_.find(f.stream);
        if (it == streams_.end()) {
            if (known_closed(f.stream)) return;
            break;
        }
        reset(f.stream, f.payload, false);
        return;
    }
    default: break;
    }
    throw Error(NH_EPROTOCOL, std::string("unexpected tunnel frame ") + type_name(f.type) + " on stream " +
                                  std::to_string(f.stream));
}

void Mux::on_listen(const Frame &f) {
    size_t at = 0;
    int port = get_u16(f.payload, at);
    std::string address = f.payload.substr(at);
    std::string reply;
    if (f.stream == 0 || listeners_.count(f.stream)) throw Error(NH_EPROTOCOL, "LISTEN with a used listener id");
    try {
        int lfd = listen_on(address, port);
        int bound = bound_port(lfd);
        listeners_[f.stream] = Listener{lfd, bound};
        put_u16(reply, static_cast<uint16_t>(bound));
        log::info("reverse tunnel: listening on " + (address.empty() ? std::string("0.0.0.0") : address) + ":" +
                  std::to_string(bound));
    } catch (const Error &e) {
        put_u16(reply, 0);
        reply += e.what();
        log::warn(std::string("reverse tunnel: ") + e.what());
    }
    send(Type::Listening, f.stream, reply);
}

void Mux::accept_all(uint32_t listener_id, int lfd) {
    for (int k = 0; k < 64; ++k) {
        sockaddr_in a{};
        socklen_t len = sizeof a;
        int c = ::accept4(lfd, reinterpret_cast<sockaddr *>(&a), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        nodelay(c);
        uint32_t id = ++last_id_;
        Stream s;
        s.fd = c;
        s.listener = listener_id;
        streams_.emplace(id, std::move(s));
        std::string p;
        put_u32(p, listener_id);
        p += peer_of(a);
        send(Type::Open, id, p);
    }
}

void Mux::on_open(const Frame &f) {
    if (f.stream <= last_id_) throw Error(NH_EPROTOCOL, "OPEN of a stream id already used");
    last_id_ = f.stream;
    size_t at = 0;
    uint32_t listener = get_u32(f.payload, at);
    int port = hooks_.local_port ? hooks_.local_port(listener) : 0;
    if (port <= 0) throw Error(NH_EPROTOCOL, "OPEN for an unknown listener " + std::to_string(listener));
    Stream s;
    s.listener = listener;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, hooks_.local_host.c_str(), &a.sin_addr);
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = s.fd < 0 ? -1 : ::connect(s.fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
    int e = errno;
    streams_.emplace(f.stream, std::move(s));
    if (rc == 0) {
        connected(f.stream);
    } else if (e == EINPROGRESS) {
        streams_[f.stream].connecting = true;
    } else {
        reset(f.stream, connect_failure(e, port), true);
    }
}

// Why a stream's connection to its local port failed: the same words whether connect() said so
// at once or later (SO_ERROR).
std::string Mux::connect_failure(int err, int port) const {
    const std::string where = hooks_.local_host + ":" + std::to_string(port) + " on the developer's machine";
    return err == ECONNREFUSED ? "nothing listens on " + where + " (connection refused)"
                               : "cannot connect to " + where + ": " + std::strerror(err);
}

void Mux::connected(uint32_t id) {
    Stream &s = streams_[id];
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    int port = hooks_.local_port ? hooks_.local_port(s.listener) : 0;
    if (err != 0) {
        reset(id, connect_failure(err, port), true);
        return;
    }
    s.connecting = false;
    s.opened = true;
    nodelay(s.fd);
    event(StreamEvent::Opened, s.listener, "");
    if (s.to_local_off < s.to_local.size()) local_writable(id);
    if (streams_.count(id)) finish_if_done(id);
}

void Mux::local_readable(uint32_t id) {
    Stream &s = streams_[id];
    if (s.read_eof || s.send_credit == 0) return;
    char buf[kMaxPayload];
    size_t want = std::min<size_t>(sizeof buf, s.send_credit);
    ssize_t n = ::recv(s.fd, buf, want, 0);
    if (n < 0) {
        if (would_block(errno)) return;
        reset(id, std::string("the connection broke: ") + std::strerror(errno), true);
        return;
    }
    if (n == 0) {
        s.read_eof = true;
        send(Type::Close, id);
        return;
    }
    s.send_credit -= static_cast<uint32_t>(n);
    send(Type::Data, id, std::string_view(buf, static_cast<size_t>(n)));
}

void Mux::local_writable(uint32_t id) {
    Stream &s = streams_[id];
    while (s.to_local_off < s.to_local.size()) {
        ssize_t n = ::send(s.fd, s.to_local.data() + s.to_local_off, s.to_local.size() - s.to_local_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (would_block(errno)) break;
            reset(id, std::string("the connection broke: ") + std::strerror(errno), true);
            return;
        }
        s.to_local_off += static_cast<size_t>(n);
        s.written_ungranted += static_cast<uint32_t>(n);
    }
    if (s.to_local_off == s.to_local.size()) {
        s.to_local.clear();
        s.to_local_off = 0;
    }
    // Grant what was written: in batches while data waits, at once when all of it is out.
    if (s.written_ungranted > 0 && (s.written_ungranted >= kInitialWindow / 4 || s.to_local.empty())) {
        std::string p;
        put_u32(p, s.written_ungranted);
        s.recv_left += s.written_ungranted;
        s.written_ungranted = 0;
        send(Type::Window, id, p);
    }
}

void Mux::finish_if_done(uint32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    Stream &s = it->second;
    if (s.connecting) return;
    if (s.peer_eof && !s.shut_wr && s.to_local_off == s.to_local.size()) {
        ::shutdown(s.fd, SHUT_WR);
        s.shut_wr = true;
    }
    if (s.read_eof && s.shut_wr) {
        ::close(s.fd);
        uint32_t listener = s.listener;
        streams_.erase(it);
        event(StreamEvent::Closed, listener, "");
    }
}

void Mux::reset(uint32_t id, const std::string &why, bool tell_peer) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    uint32_t listener = it->second.listener;
    bool was_open = it->second.opened;
    close_with_reset(it->second.fd);
    streams_.erase(it);
    if (tell_peer) send(Type::Reset, id, why);
    if (role_ == Role::Pod) {
        log::warn("reverse tunnel: a connection through listener " + std::to_string(listener) + " was reset: " + why);
        return;
    }
    // On the laptop: a stream that never reached its local port failed; one that did was closed.
    event(was_open ? StreamEvent::Closed : StreamEvent::Failed, listener, why);
}

}  // namespace nh::tunnel
