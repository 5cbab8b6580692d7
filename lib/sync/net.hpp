// TCP plumbing shared by the sync client and server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nh::sync::net {

struct HostPort {
    std::string host;
    uint16_t port = 0;
};
// "host:port", "[v6]:port" or ":port" (host ""). Throws NH_EINVAL.
HostPort parse_host_port(std::string_view s);

// A listening socket (SO_REUSEADDR, close-on-exec). Throws NH_EIO.
int listen_tcp(const HostPort &addr, int backlog = 16);
uint16_t local_port(int fd);
// Connects with a timeout; returns a blocking socket with TCP_NODELAY, or
// throws NH_ECONNECT / NH_ETIMEOUT.
int connect_tcp(const HostPort &addr, int timeout_ms);
bool is_loopback_peer(int fd);
// Bytes written to a connected TCP socket that the peer has not yet acknowledged; -1 where the
// platform cannot tell.
long unacked_bytes(int fd);

void set_nonblocking(int fd, bool on);
// Writes everything (blocking, MSG_NOSIGNAL). Throws NH_EIO.
void send_all(int fd, std::string_view data);

}  // namespace nh::sync::net
