// The developer's side of one reverse tunnel: over a TCP connection that reaches the sidecar's
// tunnel port (a port-forward through the API server), authenticate with the session's token,
// ask for a listener in the pod per mapping, then carry every connection accepted there to its
// local port on this machine.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tunnel/mux.hpp"

namespace nh::tunnel {

struct Mapping {
    int remote = 0;  // the port in the pod
    int local = 0;   // the port on this machine
};

// Parses "REMOTE:LOCAL" or "PORT" (the same both sides). Throws NH_EINVAL.
Mapping parse_mapping(const std::string &text);

struct ClientOptions {
    std::string token;                      // the session's sync token; secret
    std::string remote_address = "127.0.0.1";  // where the pod's listeners bind
    std::string local_host = "127.0.0.1";
    std::vector<Mapping> ports;
    std::chrono::milliseconds handshake_timeout{15000};
    // Stream events: the mapping's ports and a message ("" for a normal end).
    std::function<void(StreamEvent, const Mapping &, const std::string &message)> on_event;
};

// Authenticates on `fd` and binds every listener in the pod; returns the tunnel, ready to
// run() (it owns fd from then on; on an error fd is closed). Throws nh::Error:
// NH_EUNAUTHORIZED (the sidecar refused the token), NH_EBUSY (a port in the pod is taken),
// NH_ECONNECT (closed before the answer: nothing serves the tunnel port yet), NH_ETIMEOUT,
// NH_EPROTOCOL.
std::unique_ptr<Mux> open_tunnel(int fd, const ClientOptions &opts);

}  // namespace nh::tunnel
