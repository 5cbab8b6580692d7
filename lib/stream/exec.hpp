// Exec into a container through the API server (remotecommand over WebSocket,
// v5.channel.k8s.io with v4.channel.k8s.io as fallback).
//
// Channels: 0 stdin, 1 stdout, 2 stderr, 3 status (a Status object: Success,
// or Failure with the exit code under details.causes[reason=ExitCode]),
// 4 resize ({"Width":w,"Height":h}); v5 adds the close message [255, channel].
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"
#include "platform/wakeup.hpp"
#include "stream/websocket.hpp"

namespace nh::stream {

inline constexpr const char *kExecProtocolV5 = "v5.channel.k8s.io";
inline constexpr const char *kExecProtocolV4 = "v4.channel.k8s.io";

enum Channel : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kStatus = 3, kResize = 4, kClose = 255 };

struct ExecRequest {
    std::string ns;
    std::string pod;
    std::string container;  // empty: the server's choice (fails for multi-container pods)
    std::vector<std::string> command;
    bool stdin_ = false;
    bool tty = false;
    std::chrono::milliseconds connect_timeout{0};  // 0: the client's
    std::vector<std::string> protocols{kExecProtocolV5, kExecProtocolV4};
};

// The path and query of an exec request.
std::string exec_path(const ExecRequest &req);

// What the status channel said: an exit code, or an error from the server.
struct ExecStatus {
    std::optional<int> exit_code;
    std::optional<Error> error;
};
ExecStatus parse_exec_status(std::string_view json_text);

class ExecSession {
public:
    // stream is 1 (stdout) or 2 (stderr); return false to stop the command.
    using OutputFn = std::function<bool(int stream, const char *data, size_t len)>;

    // Connects (throws the typed error on refusal) and starts the I/O thread.
    ExecSession(kube::Client &client, const ExecRequest &req, OutputFn output, CancelToken *cancel);
    ~ExecSession();
    ExecSession(const ExecSession &) = delete;
    ExecSession &operator=(const ExecSession &) = delete;

    const std::string &protocol() const { return protocol_; }

    // Thread-safe. Blocks while more than a few MiB of stdin wait to be sent.
    void write_stdin(std::string_view data);
    // Sends EOF on stdin (v5); NH_EUNSUPPORTED on v4, which has no way to say it.
    void close_stdin();
    void resize(unsigned width, unsigned height);

    // Waits for the command to end; returns its exit code or throws (the server's
    // error, NH_ECANCELLED, NH_EPROTOCOL when the stream ended without a status).
    // `timeout` < 0: no limit; on timeout returns std::nullopt.
    std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    // Stops the session (the connection is closed). Thread-safe.
    void cancel();

private:
    void run();
    void wake();
    void enqueue(std::string msg);

    std::unique_ptr<WebSocket> ws_;
    std::string protocol_;
    OutputFn output_;
    CancelToken *cancel_;
    int cancel_waker_ = 0;
    std::unique_ptr<platform::Wakeup> wake_;  // wakes the I/O thread
    std::string what_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::string> outbox_;  // whole messages, channel byte first
    size_t outbox_bytes_ = 0;
    bool stop_ = false;
    bool done_ = false;
    bool stdin_closed_ = false;
    std::optional<int> exit_code_;
    std::optional<Error> error_;
    std::thread io_;
};

// Runs a command to completion: stdout and stderr are collected; stdin is sent
// then closed (v5). Returns the exit code or throws.
struct ExecOutput {
    std::string out, err;
    int exit_code = 0;
    std::string protocol;
};
ExecOutput exec_run(kube::Client &client, const ExecRequest &req, std::string_view stdin_data,
                    CancelToken *cancel);

}  // namespace nh::stream
