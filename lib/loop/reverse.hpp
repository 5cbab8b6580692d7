// Reverse forwarding for a workload in dev mode (docs/traffic.md): listeners in the dev pod,
// served by the sidecar's nhsyncd, whose connections come back to local ports on this machine
// through one tunnel, a port-forward to the sidecar's tunnel port (the sync port + 1). Without
// a sidecar image nhsyncd is uploaded first, as for the sync. When the tunnel ends (the dev pod
// replaced, the forward broken), it is opened again to the workload's current dev pod and
// its listeners bound there again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/cancel.hpp"
#include "dev/session.hpp"
#include "kube/client.hpp"
#include "platform/wakeup.hpp"
#include "stream/portforward.hpp"
#include "tunnel/client.hpp"

namespace nh::loop {

enum class ReverseEvent { Connected = 1, Closed = 2, Error = 3, PodLost = 4, Reconnected = 5 };

using ReverseEventFn = std::function<void(ReverseEvent, const std::string &pod, int remote_port, int local_port,
                                          const std::string &message)>;

struct ReverseOptions {
    std::vector<tunnel::Mapping> ports;
    std::string remote_address = "127.0.0.1";  // where the listeners bind in the pod
    std::string local_host = "127.0.0.1";
    std::chrono::milliseconds timeout{120000};  // the first tunnel, upload included
    std::string syncd_dir;                      // as loop::Options::syncd_dir
    dev::EventSink upload_events;               // phase "upload" of the first upload
};

class ReverseForwarder {
public:
    // Opens the first tunnel (uploading nhsyncd when needed) with every listener bound, or
    // throws nh::Error; then keeps it up on a thread of its own.
    ReverseForwarder(std::shared_ptr<kube::Client> client, dev::Session session, ReverseOptions opts,
                     ReverseEventFn on_event, CancelToken *cancel);
    ~ReverseForwarder();  // stop()
    ReverseForwarder(const ReverseForwarder &) = delete;
    ReverseForwarder &operator=(const ReverseForwarder &) = delete;

    // The pod the tunnel goes to now ("" while it is being opened again).
    std::string pod() const;
    const std::vector<tunnel::Mapping> &ports() const { return opts_.ports; }
    // As PortForwarder::wait(): NH_ECANCELLED once cancelled, or the error that ended it.
    bool wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    void stop();

private:
    // One tunnel to the current dev pod; retries until `deadline` while the sidecar does not
    // answer yet. Throws nh::Error.
    std::unique_ptr<tunnel::Mux> open(std::chrono::steady_clock::time_point deadline);
    void upload_all();
    void serve(std::unique_ptr<tunnel::Mux> mux);
    void emit(ReverseEvent e, const std::string &pod, const tunnel::Mapping &m, const std::string &msg);
    bool stopping() const;

    std::shared_ptr<kube::Client> client_;
    dev::Session session_;
    ReverseOptions opts_;
    ReverseEventFn on_event_;
    CancelToken *cancel_;
    CancelToken stop_token_;
    int cancel_waker_ = 0;
    platform::Wakeup stop_wake_;
    std::unique_ptr<stream::PortForwarder> fwd_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::string pod_;
    bool stopped_ = false;
    std::optional<Error> fatal_;
    std::thread thread_;
};

// Parses "REMOTE:LOCAL" or "PORT" (tunnel::parse_mapping()).
inline tunnel::Mapping parse_reverse_port(const std::string &text) { return tunnel::parse_mapping(text); }

}  // namespace nh::loop
