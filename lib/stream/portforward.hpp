// Port-forward through the API server (the WebSocket port-forward protocol,
// v4.channel.k8s.io): one WebSocket per local TCP connection; for the
// forwarded port, channel 0 carries data and channel 1 errors, and the first
// message on each channel from the server starts with the port (2 bytes,
// little-endian).
//
// A PortForwarder listens on local ports, serves each accepted connection on
// its own thread, and (when following) watches the pod: when it goes away it
// resolves the workload's new pod and keeps listening, reporting both through
// events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"
#include "platform/wakeup.hpp"
#include "stream/target.hpp"
#include "stream/websocket.hpp"

namespace nh::stream {

inline constexpr const char *kPortForwardProtocol = "v4.channel.k8s.io";

struct ForwardPort {
    int local = 0;  // 0: pick a free port
    int remote = 0;
};

// Parses "LOCAL:REMOTE", ":REMOTE" / "0:REMOTE" (pick a local port) or "PORT" (same both sides).
ForwardPort parse_forward_port(const std::string &text);

enum class ForwardEvent { Connected = 1, Closed = 2, Error = 3, PodLost = 4, Reconnected = 5 };

using ForwardEventFn = std::function<void(ForwardEvent, const std::string &pod, int local_port, int remote_port,
                                          const std::string &message)>;

struct ForwardOptions {
    std::string ns;
    Target target;
    std::string address = "127.0.0.1";
    std::vector<ForwardPort> ports;
    std::chrono::milliseconds timeout{0};  // per stream connect; 0: the client's
    bool follow = true;                    // re-resolve the target when its pod goes away
};

// Demultiplexes the messages of one forwarded port's WebSocket.
class PortForwardChannels {
public:
    // Returns the data bytes of a message for the local side (may be empty) and
    // collects error-channel text. Throws NH_EPROTOCOL on an unknown channel.
    std::string_view on_message(const uint8_t *data, size_t len);
    const std::string &error_text() const { return error_; }
    int port_seen() const { return port_; }

private:
    bool data_prefix_seen_ = false;
    bool error_prefix_seen_ = false;
    std::string error_;
    int port_ = -1;
};

class PortForwarder {
public:
    // Resolves the target and binds every local port (throws on failure), then
    // starts serving. `cancel` (may be null) stops everything.
    PortForwarder(std::shared_ptr<kube::Client> client, ForwardOptions opts, ForwardEventFn on_event,
                  CancelToken *cancel);
    ~PortForwarder();
    PortForwarder(const PortForwarder &) = delete;
    PortForwarder &operator=(const PortForwarder &) = delete;

    size_t port_count() const { return listeners_.size(); }
    int local_port(size_t i) const { return listeners_.at(i).local; }
    int remote_port(size_t i) const { return listeners_.at(i).remote; }
    std::string pod() const;

    // Blocks until stopped: throws NH_ECANCELLED when the cancel token fired, or
    // the fatal error that ended forwarding. Returns false when `timeout` (>= 0) passed.
    bool wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    void stop();

private:
    struct Listener {
        int fd = -1;
        int local = 0;
        int remote = 0;
    };
    struct Conn {
        std::thread thread;
        std::atomic<bool> done{false};
    };

    void accept_loop();
    void serve(int fd, const Listener &l);
    void pump(int fd, WebSocket &ws, const Listener &l, const std::string &pod);
    void monitor_loop();
    // The pod to connect to; waits while it is being replaced. Empty when stopping or timed out.
    std::string wait_for_pod(std::chrono::milliseconds timeout);
    void mark_lost(const std::string &pod, const std::string &why);
    void emit(ForwardEvent e, const std::string &pod, int local, int remote, const std::string &msg);

    std::shared_ptr<kube::Client> client_;
    ForwardOptions opts_;
    ForwardEventFn on_event_;
    CancelToken *cancel_;
    int cancel_waker_ = 0;
    CancelToken stop_token_;
    platform::Wakeup stop_wake_;  // signalled once on stop: readable forever after
    std::vector<Listener> listeners_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::string pod_;
    bool lost_ = false;
    bool stopped_ = false;
    std::optional<Error> fatal_;
    CancelToken *watch_token_ = nullptr;  // the monitor's current watch, to interrupt it

    std::mutex conns_mu_;
    std::list<std::unique_ptr<Conn>> conns_;
    std::thread acceptor_;
    std::thread monitor_;
};

}  // namespace nh::stream
