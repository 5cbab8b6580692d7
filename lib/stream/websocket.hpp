// A client WebSocket to the API server: the HTTP/1.1 upgrade is sent by hand
// on a libcurl CONNECT_ONLY connection (so TLS, client certificates, CA and
// proxy are exactly those of REST requests), frames are handled by wslay.
//
// A WebSocket is driven by one thread at a time: poll fd() for POLLIN and,
// when wants_write(), POLLOUT; then call on_readable() / on_writable().
#pragma once

#include <curl/curl.h>
#include <wslay/wslay.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::stream {

struct ConnectOptions {
    // Offered in this order in Sec-WebSocket-Protocol.
    std::vector<std::string> protocols;
    // Connect + TLS + upgrade; 0: the client's request timeout.
    std::chrono::milliseconds timeout{0};
    CancelToken *cancel = nullptr;
    // What the error messages call this request, e.g. "exec in pod ns/name".
    std::string what;
};

// The pieces of an HTTP/1.1 upgrade answer.
struct UpgradeResponse {
    int status = 0;
    std::string protocol;  // Sec-WebSocket-Protocol
    std::string accept;    // Sec-WebSocket-Accept
    std::string body;
};

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string websocket_accept_for(const std::string &key);

// Parses the status line and headers in `head` (up to, excluding, the blank line).
UpgradeResponse parse_upgrade_head(std::string_view head, std::string *transfer_encoding = nullptr,
                                   long long *content_length = nullptr);

class WebSocket {
public:
    // Receives each complete binary or text message.
    using MessageHandler = std::function<void(const uint8_t *data, size_t len)>;

    // Connects and upgrades. A non-101 answer throws the typed error built from the
    // API's Status (NH_EFORBIDDEN, NH_ENOTFOUND, NH_EINVALID, ...).
    static std::unique_ptr<WebSocket> connect(kube::Client &client, const std::string &path,
                                              const ConnectOptions &opts);
    ~WebSocket();
    WebSocket(const WebSocket &) = delete;
    WebSocket &operator=(const WebSocket &) = delete;

    const std::string &protocol() const { return protocol_; }
    int fd() const { return fd_; }
    void set_handler(MessageHandler h) { handler_ = std::move(h); }

    // Queues a binary message made of `prefix` then `data` (copied).
    void queue_binary(std::string_view prefix, std::string_view data);
    // Queues a close frame (normal closure); later queue_binary() calls are ignored.
    void queue_close(uint16_t status = 1000);

    // Reads whatever is available and delivers complete messages. Throws on a
    // protocol or transport error. After it, closed() may be true.
    void on_readable();
    // Sends queued frames as far as the socket takes them.
    void on_writable();
    bool wants_write() const;
    // Bytes of messages queued but not yet written to the socket.
    size_t queued_bytes() const;
    // The peer closed (close frame or end of the connection).
    bool closed() const { return peer_closed_; }
    // The close status the peer sent (0 if none).
    uint16_t close_status() const { return close_status_; }
    // True when data from the connection may be waiting in a buffer (TLS or the
    // handshake leftover) although poll() would not report the socket readable.
    bool has_buffered_input() const { return leftover_.size() > in_off_ || input_ended_; }

private:
    WebSocket() = default;
    static ssize_t recv_cb(wslay_event_context_ptr, uint8_t *buf, size_t len, int flags, void *ud);
    static ssize_t send_cb(wslay_event_context_ptr, const uint8_t *data, size_t len, int flags, void *ud);
    static int genmask_cb(wslay_event_context_ptr, uint8_t *buf, size_t len, void *ud);
    static void msg_cb(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg *arg, void *ud);
    bool flush_out();
    void pull_input();
    void set_transport_error(CURLcode rc);

    CURL *curl_ = nullptr;
    std::unique_ptr<kube::PreparedHandle> prepared_;
    int fd_ = -1;
    std::string protocol_;
    wslay_event_context_ptr ctx_ = nullptr;
    MessageHandler handler_;
    std::string leftover_;  // bytes read from the connection, not yet given to wslay
    size_t in_off_ = 0;
    bool input_ended_ = false;
    bool last_pull_full_ = false;  // pull_input() stopped at its limit, not at EAGAIN
    // Frames encoded by wslay: wire_[wire_off_..] is being written (and must not
    // move until it is all out), out_ waits behind it.
    std::string wire_;
    size_t wire_off_ = 0;
    std::string out_;
    size_t pending_out() const { return (wire_.size() - wire_off_) + out_.size(); }
    bool peer_closed_ = false;
    bool transport_failed_ = false;
    std::string transport_error_;
    char curl_error_[CURL_ERROR_SIZE] = {};
    uint16_t close_status_ = 0;
};

}  // namespace nh::stream
