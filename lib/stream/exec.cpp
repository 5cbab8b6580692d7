#include "stream/exec.hpp"

#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "common/log.hpp"
#include "kube/errors.hpp"

namespace nh::stream {

namespace {
constexpr size_t kMaxOutbox = 4u * 1024 * 1024;
constexpr size_t kStdinChunk = 64u * 1024;
}  // namespace

std::string exec_path(const ExecRequest &req) {
    std::string p = "/api/v1/namespaces/" + kube::url_escape(req.ns) + "/pods/" + kube::url_escape(req.pod) +
                    "/exec?";
    if (!req.container.empty()) p += "container=" + kube::url_escape(req.container) + "&";
    for (auto &c : req.command) p += "command=" + kube::url_escape(c) + "&";
    p += "stdin=";
    p += req.stdin_ ? "true" : "false";
    p += "&stdout=true";
    // With a TTY, stderr is merged into stdout by the terminal; the API refuses both.
    p += req.tty ? "&tty=true" : "&stderr=true&tty=false";
    return p;
}

ExecStatus parse_exec_status(std::string_view text) {
    ExecStatus st;
    auto j = kube::json::parse(text, nullptr, false);
    if (!j.is_object()) {
        st.error = Error(NH_EPROTOCOL, "unreadable exec status from the server: " + std::string(text.substr(0, 200)));
        return st;
    }
    std::string status = j.value("status", "");
    if (status == "Success") {
        st.exit_code = 0;
        return st;
    }
    std::string reason = j.value("reason", "");
    std::string message = j.value("message", "");
    if (reason == "NonZeroExitCode" && j.contains("details") && j["details"].contains("causes")) {
        for (auto &c : j["details"]["causes"]) {
            if (c.value("reason", "") == "ExitCode") {
                std::string m = c.value("message", "");
                char *end = nullptr;
                long v = std::strtol(m.c_str(), &end, 10);
                if (end && *end == '\0' && !m.empty()) {
                    st.exit_code = static_cast<int>(v);
                    return st;
                }
            }
        }
    }
    int http = j.value("code", 0);
    if (message.empty()) message = "the command failed (" + (reason.empty() ? status : reason) + ")";
    st.error = Error(kube::code_for_status(reason, http ? http : 500), "exec: " + message, http, reason);
    return st;
}

ExecSession::ExecSession(kube::Client &client, const ExecRequest &req, OutputFn output, CancelToken *cancel)
    : output_(std::move(output)), cancel_(cancel) {
    what_ = "exec in pod " + req.ns + "/" + req.pod;
    ConnectOptions co;
    co.protocols = req.protocols;
    co.timeout = req.connect_timeout;
    co.cancel = cancel;
    co.what = what_;
    ws_ = WebSocket::connect(client, exec_path(req), co);
    protocol_ = ws_->protocol();
    log::debug(what_ + ": connected with " + protocol_);
    wake_ = std::make_unique<platform::Wakeup>();
    ws_->set_handler([this](const uint8_t *data, size_t len) {
        if (len == 0) return;
        uint8_t ch = data[0];
        const char *p = reinterpret_cast<const char *>(data + 1);
        size_t n = len - 1;
        if (ch == kStdout || ch == kStderr) {
            if (n && output_ && !output_(ch, p, n)) {
                std::lock_guard lock(mu_);
                if (!error_) error_ = Error(NH_ECANCELLED, what_ + " stopped by the output callback");
                stop_ = true;
            }
        } else if (ch == kStatus) {
            ExecStatus st = parse_exec_status(std::string_view(p, n));
            std::lock_guard lock(mu_);
            if (st.exit_code) exit_code_ = st.exit_code;
            else if (!error_) error_ = st.error;
        }
    });
    if (cancel_) cancel_waker_ = cancel_->add_waker([this] { this->cancel(); });
    io_ = std::thread([this] { run(); });
}

ExecSession::~ExecSession() {
    if (cancel_) cancel_->remove_waker(cancel_waker_);
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake();
    if (io_.joinable()) io_.join();
}

void ExecSession::wake() {
    if (wake_) wake_->signal();
}

void ExecSession::cancel() {
    {
        std::lock_guard lock(mu_);
        if (done_) return;
        if (!error_) error_ = Error(NH_ECANCELLED, what_ + " cancelled");
        stop_ = true;
    }
    cv_.notify_all();
    wake();
}

void ExecSession::enqueue(std::string msg) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return outbox_bytes_ < kMaxOutbox || stop_ || done_; });
    if (stop_ || done_) {
        if (error_ && error_->code() == NH_ECANCELLED) throw *error_;
        throw Error(NH_ESTATE, what_ + ": the command has ended");
    }
    outbox_bytes_ += msg.size();
    outbox_.push_back(std::move(msg));
    lock.unlock();
    wake();
}

void ExecSession::write_stdin(std::string_view data) {
    {
        std::lock_guard lock(mu_);
        if (stdin_closed_) throw Error(NH_ESTATE, what_ + ": stdin is already closed");
    }
    while (!data.empty()) {
        size_t n = std::min(data.size(), kStdinChunk);
        std::string m;
        m.reserve(n + 1);
        m.push_back(static_cast<char>(kStdin));
        m.append(data.substr(0, n));
        enqueue(std::move(m));
        data.remove_prefix(n);
    }
}

void ExecSession::close_stdin() {
    if (protocol_ != kExecProtocolV5)
        throw Error(NH_EUNSUPPORTED, what_ + ": the server speaks " + protocol_ +
                                         ", which cannot signal the end of stdin (needs v5.channel.k8s.io)");
    {
        std::lock_guard lock(mu_);
        if (stdin_closed_) return;
        stdin_closed_ = true;
    }
    enqueue(std::string{static_cast<char>(kClose), static_cast<char>(kStdin)});
}

void ExecSession::resize(unsigned width, unsigned height) {
    std::string m(1, static_cast<char>(kResize));
    m += R"({"Width":)" + std::to_string(width) + R"(,"Height":)" + std::to_string(height) + "}";
    enqueue(std::move(m));
}

void ExecSession::run() {
    try {
        while (true) {
            std::deque<std::string> batch;
            bool stop;
            {
                std::lock_guard lock(mu_);
                batch.swap(outbox_);
                outbox_bytes_ = 0;
                stop = stop_;
            }
            if (!batch.empty()) cv_.notify_all();
            if (stop) break;
            for (auto &m : batch) ws_->queue_binary({}, m);
            if (ws_->wants_write()) ws_->on_writable();
            if (ws_->closed()) break;
            pollfd fds[2] = {{ws_->fd(), static_cast<short>(POLLIN | (ws_->wants_write() ? POLLOUT : 0)), 0},
                             {wake_->fd(), POLLIN, 0}};
            int n = ::poll(fds, 2, ws_->has_buffered_input() ? 0 : 1000);
            if (n < 0 && errno != EINTR) throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
            if (fds[1].revents & POLLIN) wake_->drain();
            if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) || ws_->has_buffered_input()) ws_->on_readable();
            if (ws_->closed()) break;
            if (fds[0].revents & POLLOUT) ws_->on_writable();
        }
    } catch (const Error &e) {
        std::lock_guard lock(mu_);
        if (!error_ && !exit_code_) error_ = e;
    } catch (const std::exception &e) {
        std::lock_guard lock(mu_);
        if (!error_ && !exit_code_) error_ = Error(NH_ERROR, what_ + ": " + e.what());
    }
    // Say goodbye politely when we are the ones leaving.
    try {
        if (!ws_->closed()) {
            ws_->queue_close();
            ws_->on_writable();
        }
    } catch (...) {
    }
    {
        std::lock_guard lock(mu_);
        if (!exit_code_ && !error_)
            error_ = Error(NH_EPROTOCOL, what_ + ": the stream ended before the command's exit status arrived");
        done_ = true;
    }
    cv_.notify_all();
}

std::optional<int> ExecSession::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    auto done = [&] { return done_; };
    if (timeout.count() < 0) cv_.wait(lock, done);
    else if (!cv_.wait_for(lock, timeout, done)) return std::nullopt;
    // A cancel that raced with the normal end still reports the exit code.
    if (exit_code_) return exit_code_;
    throw *error_;
}

ExecOutput exec_run(kube::Client &client, const ExecRequest &req, std::string_view stdin_data,
                    CancelToken *cancel) {
    ExecOutput out;
    ExecRequest r = req;
    r.stdin_ = r.stdin_ || !stdin_data.empty();
    ExecSession s(client, r, [&](int stream, const char *data, size_t n) {
        (stream == kStderr ? out.err : out.out).append(data, n);
        return true;
    }, cancel);
    out.protocol = s.protocol();
    if (r.stdin_) {
        try {
            if (!stdin_data.empty()) s.write_stdin(stdin_data);
            if (s.protocol() == kExecProtocolV5) s.close_stdin();
        } catch (const Error &e) {
            // The command may end without reading all of its input; wait() tells how.
            if (e.code() != NH_ESTATE) throw;
        }
    }
    out.exit_code = *s.wait();
    return out;
}

}  // namespace nh::stream
