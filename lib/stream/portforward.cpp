#include "stream/portforward.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "common/log.hpp"

namespace nh::stream {

namespace {

// What one read from the local connection takes at most, and so the largest
// data message. Under a bulk upload the local socket holds this much and more:
// messages of 512 KiB to 4 MiB cost containerd's streaming server (the relay
// that takes the most CPU in the tunnel) about 15 % less CPU per byte than
// 128 KiB ones, and this process about 20 % less. A read takes only what is
// there, so interactive traffic still goes out at once in small messages.
constexpr size_t kReadChunk = 1024 * 1024;
// Stop reading one side while this much waits to be written to the other.
constexpr size_t kHighWater = 2u * 1024 * 1024;

int parse_port_number(const std::string &s, const std::string &whole, bool allow_zero) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
        throw Error(NH_EINVAL, "bad port in '" + whole + "': use LOCAL:REMOTE, e.g. 8080:80");
    int v = std::atoi(s.c_str());
    if (v > 65535 || (v == 0 && !allow_zero))
        throw Error(NH_EINVAL, "port out of range in '" + whole + "'");
    return v;
}

void set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

bool pod_gone(const kube::json &pod, const std::string &uid) {
    if (pod.contains("metadata") && pod["metadata"].contains("deletionTimestamp")) return true;
    if (!uid.empty() && pod["metadata"].value("uid", "") != uid) return true;
    return !pod.contains("status") || pod["status"].value("phase", "") != "Running";
}

}  // namespace

ForwardPort parse_forward_port(const std::string &text) {
    size_t colon = text.find(':');
    ForwardPort p;
    if (colon == std::string::npos) {
        p.local = p.remote = parse_port_number(text, text, false);
    } else {
        std::string l = text.substr(0, colon), r = text.substr(colon + 1);
        p.local = l.empty() ? 0 : parse_port_number(l, text, true);
        p.remote = parse_port_number(r, text, false);
    }
    return p;
}

std::string_view PortForwardChannels::on_message(const uint8_t *data, size_t len) {
    if (len == 0) return {};
    uint8_t ch = data[0];
    std::string_view body(reinterpret_cast<const char *>(data + 1), len - 1);
    bool &prefix_seen = ch == 0 ? data_prefix_seen_ : error_prefix_seen_;
    if (ch > 1) throw Error(NH_EPROTOCOL, "port-forward: message on unexpected channel " + std::to_string(ch));
    if (!prefix_seen) {
        // The server starts each channel with the port number (2 bytes, little-endian).
        if (body.size() < 2) throw Error(NH_EPROTOCOL, "port-forward: short port prefix from the server");
        port_ = static_cast<uint8_t>(body[0]) | (static_cast<uint8_t>(body[1]) << 8);
        prefix_seen = true;
        body.remove_prefix(2);
    }
    if (ch == 1) {
        error_.append(body);
        return {};
    }
    return body;
}

PortForwarder::PortForwarder(std::shared_ptr<kube::Client> client, ForwardOptions opts, ForwardEventFn on_event,
                             CancelToken *cancel)
    : client_(std::move(client)), opts_(std::move(opts)), on_event_(std::move(on_event)), cancel_(cancel) {
    if (opts_.ports.empty()) throw Error(NH_EINVAL, "port-forward needs at least one port");
    auto cleanup = [&] {
        for (auto &l : listeners_) close(l.fd);
    };
    try {
        pod_ = resolve_pod(*client_, opts_.ns, opts_.target, cancel_).name;
        for (auto &p : opts_.ports) {
            Listener l;
            l.remote = p.remote;
            in_addr addr{};
            if (inet_pton(AF_INET, opts_.address.c_str(), &addr) != 1)
                throw Error(NH_EINVAL, "bad listen address '" + opts_.address + "': use an IPv4 address such as 127.0.0.1");
            l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (l.fd < 0) throw Error(NH_EIO, std::string("socket: ") + std::strerror(errno));
            int one = 1;
            setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr = addr;
            a.sin_port = htons(static_cast<uint16_t>(p.local));
            if (bind(l.fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(l.fd, 128) != 0) {
                int err = errno;
                close(l.fd);
                throw Error(err == EADDRINUSE ? NH_EBUSY : NH_EIO,
                            "cannot listen on " + opts_.address + ":" + std::to_string(p.local) + ": " + std::strerror(err));
            }
            socklen_t alen = sizeof a;
            getsockname(l.fd, reinterpret_cast<sockaddr *>(&a), &alen);
            l.local = ntohs(a.sin_port);
            set_nonblocking(l.fd);
            listeners_.push_back(l);
        }
    } catch (...) {
        cleanup();
        throw;
    }
    if (cancel_) cancel_waker_ = cancel_->add_waker([this] { stop(); });
    acceptor_ = std::thread([this] { accept_loop(); });
    if (opts_.follow) monitor_ = std::thread([this] { monitor_loop(); });
}

PortForwarder::~PortForwarder() {
    if (cancel_) cancel_->remove_waker(cancel_waker_);
    stop();
    if (acceptor_.joinable()) acceptor_.join();
    if (monitor_.joinable()) monitor_.join();
    std::list<std::unique_ptr<Conn>> conns;
    {
        std::lock_guard lock(conns_mu_);
        conns.swap(conns_);
    }
    for (auto &c : conns)
        if (c->thread.joinable()) c->thread.join();
    for (auto &l : listeners_) close(l.fd);
}

void PortForwarder::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        stopped_ = true;
        if (cancelled(cancel_) && !fatal_) fatal_ = Error(NH_ECANCELLED, "port-forward cancelled");
    }
    stop_wake_.signal();
    stop_token_.trigger();
    cv_.notify_all();
}

std::string PortForwarder::pod() const {
    std::lock_guard lock(mu_);
    return pod_;
}

bool PortForwarder::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    auto done = [&] { return stopped_; };
    if (timeout.count() < 0) cv_.wait(lock, done);
    else if (!cv_.wait_for(lock, timeout, done)) return false;
    if (fatal_) throw *fatal_;
    return true;
}

void PortForwarder::emit(ForwardEvent e, const std::string &pod, int local, int remote, const std::string &msg) {
    if (!on_event_) return;
    try {
        on_event_(e, pod, local, remote, msg);
    } catch (...) {
        // A callback's failure must not take the forwarder down.
    }
}

void PortForwarder::accept_loop() {
    std::vector<pollfd> fds;
    for (auto &l : listeners_) fds.push_back({l.fd, POLLIN, 0});
    fds.push_back({stop_wake_.fd(), POLLIN, 0});
    while (true) {
        int n = ::poll(fds.data(), fds.size(), 1000);
        if (fds.back().revents & POLLIN) return;
        // Reap finished connection threads.
        {
            std::lock_guard lock(conns_mu_);
            for (auto it = conns_.begin(); it != conns_.end();) {
                if ((*it)->done.load()) {
                    (*it)->thread.join();
                    it = conns_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        if (n <= 0) continue;
        for (size_t i = 0; i < listeners_.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            while (true) {
                int c = accept4(listeners_[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) break;
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                auto conn = std::make_unique<Conn>();
                Conn *raw = conn.get();
                const Listener &l = listeners_[i];
                std::lock_guard lock(conns_mu_);
                conns_.push_back(std::move(conn));
                raw->thread = std::thread([this, c, &l, raw] {
                    serve(c, l);
                    raw->done = true;
                });
            }
        }
    }
}

std::string PortForwarder::wait_for_pod(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return stopped_ || !lost_; });
    if (stopped_ || lost_) return {};
    return pod_;
}

void PortForwarder::mark_lost(const std::string &pod, const std::string &why) {
    {
        std::lock_guard lock(mu_);
        if (lost_ || pod != pod_ || stopped_) return;
        lost_ = true;
        if (watch_token_) watch_token_->trigger();
    }
    log::info("port-forward: pod " + opts_.ns + "/" + pod + " " + why);
    emit(ForwardEvent::PodLost, pod, 0, 0, "pod " + opts_.ns + "/" + pod + " " + why);
}

void PortForwarder::serve(int fd, const Listener &l) {
    auto timeout = opts_.timeout.count() > 0 ? opts_.timeout : client_->options().timeout;
    std::unique_ptr<WebSocket> ws;
    std::string pod;
    for (int attempt = 0; attempt < 2 && !ws; ++attempt) {
        pod = wait_for_pod(timeout);
        if (pod.empty()) {
            bool stopping;
            {
                std::lock_guard lock(mu_);
                stopping = stopped_;
            }
            if (!stopping)
                emit(ForwardEvent::Error, "", l.local, l.remote,
                     "no Running pod for " + opts_.target.kind + " " + opts_.ns + "/" + opts_.target.name +
                         " to forward to; connection closed");
            close(fd);
            return;
        }
        ConnectOptions co;
        co.protocols = {kPortForwardProtocol};
        co.timeout = timeout;
        co.cancel = &stop_token_;
        co.what = "port-forward to pod " + opts_.ns + "/" + pod + ":" + std::to_string(l.remote);
        try {
            ws = WebSocket::connect(*client_, "/api/v1/namespaces/" + kube::url_escape(opts_.ns) + "/pods/" +
                                                  kube::url_escape(pod) + "/portforward?ports=" + std::to_string(l.remote),
                                    co);
        } catch (const Error &e) {
            if (e.code() == NH_ECANCELLED) break;
            if (e.code() == NH_ENOTFOUND && opts_.follow && attempt == 0) {
                mark_lost(pod, "is gone");
                continue;
            }
            emit(ForwardEvent::Error, pod, l.local, l.remote, e.what());
            break;
        }
    }
    if (!ws) {
        close(fd);
        return;
    }
    emit(ForwardEvent::Connected, pod, l.local, l.remote, "");
    std::string end_message;
    try {
        pump(fd, *ws, l, pod);
    } catch (const Error &e) {
        end_message = e.what();
        emit(ForwardEvent::Error, pod, l.local, l.remote, e.what());
    }
    close(fd);
    emit(ForwardEvent::Closed, pod, l.local, l.remote, end_message);
}

void PortForwarder::pump(int fd, WebSocket &ws, const Listener &l, const std::string &pod) {
    set_nonblocking(fd);
    PortForwardChannels channels;
    std::string to_local;
    size_t to_local_off = 0;
    ws.set_handler([&](const uint8_t *data, size_t len) {
        auto body = channels.on_message(data, len);
        if (!body.empty()) to_local.append(body);
    });
    bool local_eof = false;
    // Not zeroed: only the part reads fill is touched.
    auto buf = std::make_unique_for_overwrite<char[]>(kReadChunk);
    auto pending_local = [&] { return to_local.size() - to_local_off; };
    auto flush_local = [&]() -> bool {
        while (pending_local() > 0) {
            ssize_t n = ::send(fd, to_local.data() + to_local_off, pending_local(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
                if (errno == EINTR) continue;
                return false;  // the local side is gone
            }
            to_local_off += static_cast<size_t>(n);
        }
        to_local.clear();
        to_local_off = 0;
        return true;
    };
    auto check_error_channel = [&] {
        if (!channels.error_text().empty())
            throw Error(NH_ERROR, "port-forward to pod " + opts_.ns + "/" + pod + ":" + std::to_string(l.remote) +
                                      ": " + channels.error_text());
    };
    while (true) {
        if (!flush_local()) return;  // local connection reset: drop the stream
        if (ws.wants_write()) ws.on_writable();
        pollfd fds[3];
        fds[0] = {fd, 0, 0};
        if (!local_eof && ws.queued_bytes() < kHighWater) fds[0].events |= POLLIN;
        if (pending_local() > 0) fds[0].events |= POLLOUT;
        fds[1] = {ws.fd(), 0, 0};
        if (pending_local() < kHighWater) fds[1].events |= POLLIN;
        if (ws.wants_write()) fds[1].events |= POLLOUT;
        fds[2] = {stop_wake_.fd(), POLLIN, 0};
        bool buffered = ws.has_buffered_input() && pending_local() < kHighWater;
        int n = ::poll(fds, 3, buffered ? 0 : 1000);
        if (n < 0 && errno != EINTR) throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
        if (fds[2].revents & POLLIN) return;
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) || buffered) {
            ws.on_readable();
            if (ws.closed() || !channels.error_text().empty()) {
                // The pod side ended, or its end failed (reported on the error channel, often
                // in the same read as the last data): deliver what came, then end the local
                // connection, and report the error if there was one.
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) & ~O_NONBLOCK);
                flush_local();
                ::shutdown(fd, SHUT_WR);
                check_error_channel();
                return;
            }
        }
        if (fds[0].revents & POLLIN) {
            ssize_t r = ::recv(fd, buf.get(), kReadChunk, 0);
            if (r > 0) {
                ws.queue_binary(std::string_view("\0", 1), std::string_view(buf.get(), static_cast<size_t>(r)));
            } else if (r == 0) {
                // Local half-close. The WebSocket protocol cannot pass EOF on to the pod,
                // so keep delivering its answer until it closes (or the local side resets).
                local_eof = true;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return;
            }
        } else if ((fds[0].revents & (POLLERR | POLLHUP)) && !(fds[0].revents & POLLOUT)) {
            if (local_eof || (fds[0].revents & POLLERR)) return;
        }
        if (fds[1].revents & POLLOUT) ws.on_writable();
    }
}

void PortForwarder::monitor_loop() {
    std::string uid;
    while (true) {
        std::string pod;
        bool lost;
        {
            std::lock_guard lock(mu_);
            if (stopped_) return;
            pod = pod_;
            lost = lost_;
        }
        if (lost) {
            try {
                auto np = resolve_pod(*client_, opts_.ns, opts_.target, &stop_token_);
                {
                    std::lock_guard lock(mu_);
                    pod_ = np.name;
                    lost_ = false;
                }
                uid = np.uid;
                cv_.notify_all();
                log::info("port-forward: now forwarding to pod " + opts_.ns + "/" + np.name);
                emit(ForwardEvent::Reconnected, np.name, 0, 0, "forwarding to pod " + opts_.ns + "/" + np.name);
            } catch (const Error &e) {
                if (e.code() == NH_ECANCELLED) return;
                log::debug("port-forward: waiting for a pod: " + std::string(e.what()));
                if (e.code() == NH_EFORBIDDEN || e.code() == NH_EUNAUTHORIZED || e.code() == NH_EINVAL) {
                    // Waiting cannot fix these: end forwarding with the error.
                    {
                        std::lock_guard lock(mu_);
                        if (!fatal_) fatal_ = e;
                    }
                    emit(ForwardEvent::Error, "", 0, 0, e.what());
                    stop();
                    return;
                }
                stop_token_.sleep_for(std::chrono::milliseconds(300));
            }
            continue;
        }
        CancelToken watch_token;
        {
            std::lock_guard lock(mu_);
            if (stopped_) return;
            watch_token_ = &watch_token;
        }
        CancelScope link(&stop_token_, [&] { watch_token.trigger(); });
        try {
            std::string pods = "/api/v1/namespaces/" + kube::url_escape(opts_.ns) + "/pods";
            kube::json obj;
            try {
                obj = client_->get(pods + "/" + kube::url_escape(pod), &watch_token);
            } catch (const Error &e) {
                if (e.code() != NH_ENOTFOUND) throw;
                obj = nullptr;
            }
            if (uid.empty() && obj.is_object()) uid = obj["metadata"].value("uid", "");
            if (!obj.is_object() || pod_gone(obj, uid)) {
                mark_lost(pod, obj.is_object() ? "is no longer Running" : "is gone");
            } else {
                kube::WatchParams wp;
                wp.path = pods;
                wp.resource_version = obj["metadata"].value("resourceVersion", "");
                wp.field_selector = "metadata.name=" + pod;
                wp.cancel = &watch_token;
                client_->watch(wp, [&](kube::WatchEvent ev, const kube::json &o) {
                    if (ev == kube::WatchEvent::Relisted) {
                        bool found = false;
                        if (o.contains("items"))
                            for (auto &p : o["items"]) found = found || !pod_gone(p, uid);
                        if (!found) mark_lost(pod, "is gone");
                        return found;
                    }
                    if (ev == kube::WatchEvent::Deleted || pod_gone(o, uid)) {
                        mark_lost(pod, ev == kube::WatchEvent::Deleted ? "was deleted" : "is no longer Running");
                        return false;
                    }
                    return true;
                });
            }
        } catch (const Error &e) {
            if (e.code() != NH_ECANCELLED) {
                log::debug(std::string("port-forward: pod watch failed: ") + e.what());
                stop_token_.sleep_for(std::chrono::milliseconds(1000));
            }
        }
        {
            std::lock_guard lock(mu_);
            watch_token_ = nullptr;
        }
    }
}

}  // namespace nh::stream
