// The sync server (the program nhsyncd, also usable in-process): accepts one
// authenticated client at a time, applies its operations inside the root,
// acknowledges them after making them durable, and in two-way mode sends
// the changes made under the root back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nocalhost.h"

namespace nh::sync {

struct ServerOptions {
    std::string root;
    std::string listen = "127.0.0.1:" + std::to_string(NH_DEV_DEFAULT_SYNC_PORT);
    // Where the server keeps its own state (index, server id), created if missing; it
    // should be outside the root, where the app's tools never see it. Empty: the
    // root's ".nocalhost-sync" (in-process servers of tests).
    std::string state_dir;
    std::string token;  // required, never logged
    // One syncfs() per batch before acknowledging it; false acknowledges at once.
    bool durable = true;
    // Grants delta transfer (feature bit 2) to clients that offer it; false answers as a
    // server from before it did (tests of older peers).
    bool delta = true;
};

class Server {
public:
    // Opens the root, loads the index and binds. Throws nh::Error.
    explicit Server(ServerOptions options);
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    uint16_t port() const;
    // Serves until stop() is called. Throws nh::Error on a fatal error.
    void run();
    // Thread-safe; makes run() return promptly.
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace nh::sync
