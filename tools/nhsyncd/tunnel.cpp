#include "tunnel.hpp"

#include <cstdio>

#include "common/error.hpp"
#include "sync/net.hpp"

namespace nhsyncd {

std::unique_ptr<Tunnel> Tunnel::start(const std::string &spec, const std::string &sync_listen,
                                      const std::string &token) {
    if (spec == "off") return nullptr;
    nh::tunnel::ServerOptions o;
    o.token = token;
    if (spec.empty()) {
        auto sync = nh::sync::net::parse_host_port(sync_listen);
        if (sync.port == 0 || sync.port == 65535) return nullptr;
        o.port = sync.port + 1;
    } else {
        auto hp = nh::sync::net::parse_host_port(spec);
        if (!hp.host.empty()) o.address = hp.host;
        o.port = hp.port;
    }
    try {
        std::unique_ptr<Tunnel> t(new Tunnel(std::move(o)));
        t->thread_ = std::thread([s = &t->server_] {
            try {
                s->run();
            } catch (const std::exception &e) {
                std::fprintf(stderr, "nhsyncd: reverse tunnels stopped: %s\n", e.what());
            }
        });
        return t;
    } catch (const nh::Error &e) {
        if (e.code() == NH_EINVAL) throw;
        std::fprintf(stderr, "nhsyncd: no reverse tunnels: %s\n", e.what());
        return nullptr;
    }
}

Tunnel::~Tunnel() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
}

}  // namespace nhsyncd
