// nhsyncd's reverse-tunnel server (lib/tunnel, docs/traffic.md), run next to the sync server
// on a thread of its own with the same token.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "tunnel/server.hpp"

namespace nhsyncd {

class Tunnel {
public:
    // `spec`: "ADDR:PORT", "off", or "" for the default: 127.0.0.1 on the sync port + 1
    // (7711 beside the sidecar's 7710), none when the sync port is 0 (picked at random).
    // Returns null when off, or when the port cannot be bound (a warning on stderr: the sync
    // goes on without reverse tunnels). Throws nh::Error(NH_EINVAL) for a bad spec.
    static std::unique_ptr<Tunnel> start(const std::string &spec, const std::string &sync_listen,
                                         const std::string &token);
    ~Tunnel();
    int port() const { return server_.port(); }

private:
    explicit Tunnel(nh::tunnel::ServerOptions o) : server_(std::move(o)) {}
    nh::tunnel::Server server_;
    std::thread thread_;
};

}  // namespace nhsyncd
