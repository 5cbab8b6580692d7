#include "loop/reverse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "dev/sidecar_upload.hpp"

namespace nh::loop {
namespace {

// A blocking TCP connection to 127.0.0.1:port (the local end of the forward to the sidecar).
int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(NH_EIO, std::string("socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        int e = errno;
        ::close(fd);
        throw Error(NH_ECONNECT, std::string("cannot reach the forward to the sidecar: ") + std::strerror(e));
    }
    return fd;
}

// Errors after which another try may succeed: the sidecar not serving yet, the pod being
// replaced, the API server busy.
bool transient(int code) {
    return code == NH_ECONNECT || code == NH_ETIMEOUT || code == NH_ENOTFOUND || code == NH_ESERVER ||
           code == NH_ESTATE || code == NH_EIO || code == NH_EPROTOCOL;
}

}  // namespace

ReverseForwarder::ReverseForwarder(std::shared_ptr<kube::Client> client, dev::Session session, ReverseOptions opts,
                                   ReverseEventFn on_event, CancelToken *cancel)
    : client_(std::move(client)), session_(std::move(session)), opts_(std::move(opts)),
      on_event_(std::move(on_event)), cancel_(cancel) {
    if (opts_.ports.empty()) throw Error(NH_EINVAL, "no port to reverse-forward");
    if (session_.token.empty()) throw Error(NH_ESTATE, "the session has no sync token; is its Secret intact?");
    if (cancel_)
        cancel_waker_ = cancel_->add_waker([this] {
            stop_token_.trigger();
            stop_wake_.signal();
        });
    try {
        stream::ForwardOptions fo;
        fo.ns = session_.ns;
        fo.target = stream::parse_target(session_.target());
        fo.ports.push_back({0, session_.sync_port + 1});
        fwd_ = std::make_unique<stream::PortForwarder>(client_, std::move(fo), stream::ForwardEventFn(), &stop_token_);
        auto mux = open(std::chrono::steady_clock::now() + opts_.timeout);
        thread_ = std::thread([this, m = std::move(mux)]() mutable { serve(std::move(m)); });
    } catch (...) {
        if (cancel_) cancel_->remove_waker(cancel_waker_);
        fwd_.reset();
        throw;
    }
}

ReverseForwarder::~ReverseForwarder() {
    stop();
    if (thread_.joinable()) thread_.join();
    if (cancel_) cancel_->remove_waker(cancel_waker_);
    fwd_.reset();
}

std::string ReverseForwarder::pod() const {
    std::lock_guard l(mu_);
    return pod_;
}

bool ReverseForwarder::stopping() const { return stop_token_.triggered() || cancelled(cancel_); }

void ReverseForwarder::stop() {
    stop_token_.trigger();
    stop_wake_.signal();
}

bool ReverseForwarder::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    auto done = [&] { return stopped_; };
    if (timeout.count() < 0) cv_.wait(lock, done);
    else if (!cv_.wait_for(lock, timeout, done)) return false;
    if (fatal_) throw *fatal_;
    if (cancelled(cancel_)) throw Error(NH_ECANCELLED, "reverse forwarding cancelled");
    return true;
}

void ReverseForwarder::emit(ReverseEvent e, const std::string &pod, const tunnel::Mapping &m, const std::string &msg) {
    if (!on_event_) return;
    try {
        on_event_(e, pod, m.remote, m.local, msg);
    } catch (...) {
        // A callback's failure must not take the tunnel down.
    }
}

void ReverseForwarder::upload_all() {
    if (!session_.sidecar_image.empty()) return;
    auto pods = dev::running_sidecars(*client_, session_.ns, session_.pod_selector, session_.session_id, &stop_token_);
    if (pods.empty()) throw Error(NH_ENOTFOUND, "no dev pod of the session runs its sync sidecar yet");
    std::string dir = dev::syncd_dir(opts_.syncd_dir);
    for (const auto &p : pods)
        dev::ensure_sidecar_binary(
            *client_, session_.ns, p.name, dir,
            [this](const std::string &m, const nlohmann::json &d) {
                if (opts_.upload_events) opts_.upload_events(dev::Event{dev::EventType::Phase, dev::Phase::Upload, m, d});
            },
            &stop_token_);
}

std::unique_ptr<tunnel::Mux> ReverseForwarder::open(std::chrono::steady_clock::time_point deadline) {
    tunnel::ClientOptions co;
    co.token = session_.token;
    co.remote_address = opts_.remote_address;
    co.local_host = opts_.local_host;
    co.ports = opts_.ports;
    co.on_event = [this](tunnel::StreamEvent e, const tunnel::Mapping &m, const std::string &msg) {
        emit(e == tunnel::StreamEvent::Opened   ? ReverseEvent::Connected
             : e == tunnel::StreamEvent::Closed ? ReverseEvent::Closed
                                                : ReverseEvent::Error,
             pod(), m, msg);
    };
    std::string last;
    int last_code = NH_ETIMEOUT;
    for (;;) {
        if (stopping()) throw Error(NH_ECANCELLED, "reverse forwarding cancelled");
        if (fwd_->wait(std::chrono::milliseconds(0))) throw Error(NH_ESTATE, "the forward to the sidecar stopped");
        try {
            upload_all();
            auto mux = tunnel::open_tunnel(connect_loopback(fwd_->local_port(0)), co);
            std::lock_guard l(mu_);
            pod_ = fwd_->pod();
            return mux;
        } catch (const Error &e) {
            if (!transient(e.code()) || stopping()) throw;
            last = e.what();
            last_code = e.code();
            log::debug(std::string("reverse tunnel: not yet: ") + e.what());
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(last_code, "the sidecar's reverse tunnel (port " + std::to_string(session_.sync_port + 1) +
                                       ") did not answer: " + last);
        stop_token_.sleep_for(std::chrono::milliseconds(500));
    }
}

void ReverseForwarder::serve(std::unique_ptr<tunnel::Mux> mux) {
    std::optional<Error> fatal;
    for (;;) {
        try {
            mux->run(stop_wake_.fd());
            break;  // stopped
        } catch (const Error &e) {
            mux.reset();
            if (stopping()) break;
            std::string was = pod();
            {
                std::lock_guard l(mu_);
                pod_.clear();
            }
            emit(ReverseEvent::PodLost, was, {}, std::string("the tunnel ended (") + e.what() + "); opening it again");
        }
        try {
            mux = open(std::chrono::steady_clock::time_point::max());
            emit(ReverseEvent::Reconnected, pod(), {}, "");
        } catch (const Error &e) {
            if (!stopping()) fatal = e;
            break;
        }
    }
    mux.reset();
    std::lock_guard l(mu_);
    stopped_ = true;
    if (fatal) fatal_ = fatal;
    cv_.notify_all();
}

}  // namespace nh::loop
