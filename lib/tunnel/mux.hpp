// One reverse tunnel's streams over its TCP connection (docs/traffic.md). The pod side
// listens where the laptop asks (LISTEN), opens a stream for every connection it accepts
// (OPEN) and carries its bytes; the laptop side dials a local port for every OPEN. Both sides
// keep to the receiver's window per stream: a sender stops reading its socket when its credit
// is spent, and a receiver grants more (WINDOW) only as it writes bytes out, so a slow reader
// on either side slows its writer down rather than filling memory. A single thread polls the
// tunnel, the listeners and every stream.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tunnel/frame.hpp"

namespace nh::tunnel {

enum class Role { Pod, Laptop };

enum class StreamEvent {
    Opened = 1,  // a connection in the pod got its local connection
    Closed = 2,  // it ended; the message says why when it was not a normal end
    Failed = 3,  // it could not be carried (the local port refused it, ...)
};

struct MuxHooks {
    // Laptop: the local port for a listener id (0: unknown listener).
    std::function<int(uint32_t listener)> local_port;
    std::string local_host = "127.0.0.1";
    // Stream events with the listener they came through; from the mux's thread.
    std::function<void(StreamEvent, uint32_t listener, const std::string &message)> on_event;
};

class Mux {
public:
    // Takes `fd` (a connected TCP socket past the handshake) and what `reader` holds of it.
    Mux(int fd, Role role, MuxHooks hooks, FrameReader reader = {});
    ~Mux();  // closes the tunnel, every stream (reset) and every listener
    Mux(const Mux &) = delete;
    Mux &operator=(const Mux &) = delete;

    // Serves until `stop_fd` is readable (returns) or the tunnel ends: throws nh::Error
    // (NH_ECONNECT when the peer closed it or it broke, NH_EPROTOCOL for a malformed frame or
    // a window overrun, or the code of the peer's FAIL).
    void run(int stop_fd);

private:
    struct Stream {
        int fd = -1;
        uint32_t listener = 0;
        bool connecting = false;
        bool opened = false;  // laptop: its local connection was made
        std::string to_local;  // received, not yet written to fd
        size_t to_local_off = 0;
        uint32_t send_credit = kInitialWindow;
        uint32_t recv_left = kInitialWindow;
        uint32_t written_ungranted = 0;
        bool read_eof = false;  // fd's EOF read and CLOSE sent
        bool peer_eof = false;  // CLOSE received
        bool shut_wr = false;
    };
    struct Listener {
        int fd = -1;
        int port = 0;
    };

    void on_frame(Frame &f);
    void on_listen(const Frame &f);
    void on_open(const Frame &f);
    void accept_all(uint32_t listener_id, int lfd);
    void local_readable(uint32_t id);
    void local_writable(uint32_t id);
    void connected(uint32_t id);
    std::string connect_failure(int err, int port) const;
    // Aborts a stream: tells the peer (with `why`) unless the peer aborted it, closes fd with a
    // reset, reports it.
    void reset(uint32_t id, const std::string &why, bool tell_peer);
    void finish_if_done(uint32_t id);
    void flush_tunnel();
    void send(Type t, uint32_t stream, std::string_view payload = {});
    bool known_closed(uint32_t id) const { return id != 0 && id <= last_id_; }
    void event(StreamEvent e, uint32_t listener, const std::string &m) {
        if (hooks_.on_event) hooks_.on_event(e, listener, m);
    }

    int fd_;
    Role role_;
    MuxHooks hooks_;
    FrameReader reader_;
    std::string out_;
    size_t out_off_ = 0;
    std::map<uint32_t, Stream> streams_;
    std::map<uint32_t, Listener> listeners_;
    uint32_t last_id_ = 0;  // the highest stream id opened so far
};

// Closes a TCP socket so that the peer sees a reset rather than an end.
void close_with_reset(int fd);
// A nonblocking listening TCP socket on a numeric IPv4 address ("" or "0.0.0.0": every
// address). Throws nh::Error(NH_EBUSY) when the port is taken, NH_EINVAL for a bad address,
// NH_EIO otherwise.
int listen_on(const std::string &address, int port, int backlog = 128);
int bound_port(int fd);

}  // namespace nh::tunnel
