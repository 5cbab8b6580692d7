#include "stream/websocket.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>

#include <cstring>

#include "common/base64.hpp"
#include "common/log.hpp"
#include "kube/errors.hpp"

namespace nh::stream {

namespace {

constexpr const char *kWsGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Frames wslay encodes are collected up to this size before one write to the
// socket (one TLS record train instead of one per 4 KiB chunk).
constexpr size_t kOutFlush = 256 * 1024;
// At most this much input is read ahead of wslay.
constexpr size_t kMaxInput = 4u * 1024 * 1024;

std::string lower(std::string s) {
    for (auto &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return std::string(s.substr(b, e - b));
}

using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events`, the deadline passes (NH_ETIMEOUT) or
// `cancel` triggers (NH_ECANCELLED).
void wait_fd(int fd, short events, Clock::time_point deadline, CancelToken *cancel, const std::string &what) {
    while (true) {
        if (cancelled(cancel)) throw Error(NH_ECANCELLED, what + " cancelled");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) throw Error(NH_ETIMEOUT, what + ": no answer from the API server in time");
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50)));
        if (n > 0) return;
        if (n < 0 && errno != EINTR) throw Error(NH_EIO, what + ": poll failed: " + std::strerror(errno));
    }
}

struct UrlParts {
    std::string host_header;  // host[:port]
    std::string target;       // path?query
};

UrlParts split_url(const std::string &url) {
    UrlParts r;
    CURLU *u = curl_url();
    if (!u) throw std::bad_alloc();
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        throw Error(NH_ECONFIG, "cannot parse the API server URL " + url);
    }
    char *host = nullptr, *port = nullptr, *path = nullptr, *query = nullptr;
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    r.host_header = std::string(host ? host : "") + (port ? std::string(":") + port : "");
    r.target = std::string(path ? path : "/") + (query ? std::string("?") + query : "");
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return r;
}

}  // namespace

std::string websocket_accept_for(const std::string &key) {
    std::string in = key + kWsGuid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char *>(in.data()), in.size(), digest);
    return base64::encode(std::string_view(reinterpret_cast<const char *>(digest), sizeof digest));
}

UpgradeResponse parse_upgrade_head(std::string_view head, std::string *transfer_encoding,
                                   long long *content_length) {
    UpgradeResponse r;
    size_t eol = head.find("\r\n");
    std::string_view first = head.substr(0, eol);
    // "HTTP/1.1 101 Switching Protocols"
    if (first.substr(0, 5) != "HTTP/" || first.find(' ') == std::string_view::npos)
        throw Error(NH_EPROTOCOL, "the API server's answer to the upgrade is not HTTP: '" +
                                      std::string(first.substr(0, 60)) + "'");
    size_t sp = first.find(' ');
    r.status = std::atoi(std::string(first.substr(sp + 1, 3)).c_str());
    if (r.status < 100 || r.status > 999) throw Error(NH_EPROTOCOL, "malformed HTTP status line in the upgrade answer");
    if (content_length) *content_length = -1;
    size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string_view::npos) e = head.size();
        std::string_view line = head.substr(pos, e - pos);
        pos = e + 2;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name = lower(std::string(line.substr(0, colon)));
        std::string value = trim(line.substr(colon + 1));
        if (name == "sec-websocket-protocol") r.protocol = value;
        else if (name == "sec-websocket-accept") r.accept = value;
        else if (name == "transfer-encoding" && transfer_encoding) *transfer_encoding = lower(value);
        else if (name == "content-length" && content_length) *content_length = std::atoll(value.c_str());
    }
    return r;
}

std::unique_ptr<WebSocket> WebSocket::connect(kube::Client &client, const std::string &path,
                                              const ConnectOptions &opts) {
    const std::string what = opts.what.empty() ? "GET " + path.substr(0, path.find('?')) : opts.what;
    auto timeout = opts.timeout.count() > 0 ? opts.timeout : client.options().timeout;
    bool refreshed = false;
    while (true) {
        if (cancelled(opts.cancel)) throw Error(NH_ECANCELLED, what + " cancelled");
        std::unique_ptr<WebSocket> ws(new WebSocket());
        auto deadline = Clock::now() + timeout;
        ws->curl_ = curl_easy_init();
        if (!ws->curl_) throw std::bad_alloc();
        ws->prepared_ = std::make_unique<kube::PreparedHandle>();
        client.prepare(ws->curl_, path, *ws->prepared_);
        char errbuf[CURL_ERROR_SIZE] = {};
        curl_easy_setopt(ws->curl_, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(ws->curl_, CURLOPT_CONNECT_ONLY, 1L);
        // The upgrade is HTTP/1.1 only: never let ALPN pick h2.
        curl_easy_setopt(ws->curl_, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
        if (!client.config().proxy_url.empty()) curl_easy_setopt(ws->curl_, CURLOPT_HTTPPROXYTUNNEL, 1L);
        curl_easy_setopt(ws->curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(ws->curl_, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(ws->curl_, CURLOPT_XFERINFODATA, opts.cancel);
        curl_easy_setopt(ws->curl_, CURLOPT_XFERINFOFUNCTION,
                         +[](void *ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                             return cancelled(static_cast<CancelToken *>(ud)) ? 1 : 0;
                         });
        CURLcode rc = curl_easy_perform(ws->curl_);
        if (rc != CURLE_OK) throw client.transport_error(rc, errbuf, "GET", path);
        // From here on curl's detail of a failed send or receive goes into the stream's error.
        curl_easy_setopt(ws->curl_, CURLOPT_ERRORBUFFER, ws->curl_error_);
        ws->curl_error_[0] = '\0';
        curl_socket_t sock = CURL_SOCKET_BAD;
        curl_easy_getinfo(ws->curl_, CURLINFO_ACTIVESOCKET, &sock);
        if (sock == CURL_SOCKET_BAD) throw Error(NH_ECONNECT, what + ": no connection to the API server");
        ws->fd_ = static_cast<int>(sock);

        // The upgrade request. CONNECT_ONLY sends nothing, so auth goes in by hand.
        unsigned char nonce[16];
        RAND_bytes(nonce, sizeof nonce);
        std::string key = base64::encode(std::string_view(reinterpret_cast<char *>(nonce), sizeof nonce));
        UrlParts url = split_url(ws->prepared_->url);
        std::string req = "GET " + url.target + " HTTP/1.1\r\nHost: " + url.host_header +
                          "\r\nUser-Agent: " + client.options().user_agent +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13"
                          "\r\nSec-WebSocket-Key: " + key + "\r\n";
        if (!opts.protocols.empty()) {
            req += "Sec-WebSocket-Protocol: ";
            for (size_t i = 0; i < opts.protocols.size(); ++i) req += (i ? ", " : "") + opts.protocols[i];
            req += "\r\n";
        }
        const auto &cred = ws->prepared_->credential;
        if (!cred.bearer_token.empty()) {
            req += "Authorization: Bearer " + cred.bearer_token + "\r\n";
        } else if (!cred.basic_username.empty() || !cred.basic_password.empty()) {
            req += "Authorization: Basic " + base64::encode(cred.basic_username + ":" + cred.basic_password) + "\r\n";
        }
        for (const auto &h : kube::impersonation_headers(client.config())) req += h + "\r\n";
        req += "\r\n";
        size_t off = 0;
        while (off < req.size()) {
            size_t n = 0;
            rc = curl_easy_send(ws->curl_, req.data() + off, req.size() - off, &n);
            if (rc == CURLE_AGAIN) {
                wait_fd(ws->fd_, POLLOUT, deadline, opts.cancel, what);
                continue;
            }
            if (rc != CURLE_OK) throw client.transport_error(rc, nullptr, "GET", path);
            off += n;
        }

        // The answer's head, then (for errors) its body.
        std::string in;
        size_t head_end;
        char buf[16384];
        auto read_some = [&]() -> bool {
            size_t n = 0;
            CURLcode r = curl_easy_recv(ws->curl_, buf, sizeof buf, &n);
            if (r == CURLE_AGAIN) {
                wait_fd(ws->fd_, POLLIN, deadline, opts.cancel, what);
                return true;
            }
            if (r != CURLE_OK) throw client.transport_error(r, nullptr, "GET", path);
            if (n == 0) return false;
            in.append(buf, n);
            return true;
        };
        while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
            if (in.size() > 64 * 1024) throw Error(NH_EPROTOCOL, what + ": the upgrade answer's header is too long");
            if (!read_some())
                throw Error(NH_ECONNECT, what + ": the API server closed the connection before answering the upgrade");
        }
        std::string te;
        long long clen = -1;
        UpgradeResponse resp = parse_upgrade_head(std::string_view(in).substr(0, head_end), &te, &clen);
        in.erase(0, head_end + 4);
        if (resp.status == 101) {
            if (resp.accept != websocket_accept_for(key))
                throw Error(NH_EPROTOCOL, what + ": the server's Sec-WebSocket-Accept does not match our key");
            if (!opts.protocols.empty()) {
                bool offered = false;
                for (auto &p : opts.protocols) offered = offered || p == resp.protocol;
                if (!offered)
                    throw Error(NH_EUNSUPPORTED, what + ": the server accepted none of the stream protocols we speak (" +
                                                     opts.protocols.front() + "...); it chose '" + resp.protocol + "'");
            }
            ws->protocol_ = resp.protocol;
            ws->leftover_ = std::move(in);
            wslay_event_callbacks cbs{};
            cbs.recv_callback = &WebSocket::recv_cb;
            cbs.send_callback = &WebSocket::send_cb;
            cbs.genmask_callback = &WebSocket::genmask_cb;
            cbs.on_msg_recv_callback = &WebSocket::msg_cb;
            if (wslay_event_context_client_init(&ws->ctx_, &cbs, ws.get()) != 0) throw std::bad_alloc();
            wslay_event_config_set_max_recv_msg_length(ws->ctx_, 64u * 1024 * 1024);
            return ws;
        }
        // Not upgraded: collect the body (a Status object) for a typed error.
        auto body_deadline = std::min(deadline, Clock::now() + std::chrono::seconds(5));
        deadline = body_deadline;
        try {
            if (te.find("chunked") != std::string::npos) {
                std::string body;
                size_t pos = 0;
                while (true) {
                    size_t eol = in.find("\r\n", pos);
                    if (eol == std::string::npos) {
                        if (!read_some()) break;
                        continue;
                    }
                    size_t len = std::strtoul(in.substr(pos, eol - pos).c_str(), nullptr, 16);
                    if (len == 0) break;
                    if (in.size() < eol + 2 + len + 2) {
                        if (!read_some()) break;
                        continue;
                    }
                    body.append(in, eol + 2, len);
                    pos = eol + 2 + len + 2;
                }
                in = body;
            } else if (clen >= 0) {
                while (in.size() < static_cast<size_t>(clen) && read_some()) {
                }
                in.resize(std::min(in.size(), static_cast<size_t>(clen)));
            } else {
                while (in.size() < 1024 * 1024 && read_some()) {
                }
            }
        } catch (const Error &e) {
            if (e.code() == NH_ECANCELLED) throw;
            // Keep whatever part of the body arrived.
        }
        if (resp.status == 401 && !refreshed && client.refresh_credentials()) {
            refreshed = true;
            continue;
        }
        if (resp.status >= 200 && resp.status < 300)
            throw Error(NH_EUNSUPPORTED, what + ": the server answered HTTP " + std::to_string(resp.status) +
                                             " instead of upgrading to a WebSocket (a proxy in between?)", resp.status);
        throw kube::status_error(resp.status, in, "GET", path);
    }
}

WebSocket::~WebSocket() {
    if (ctx_) wslay_event_context_free(ctx_);
    if (curl_) curl_easy_cleanup(curl_);
}

ssize_t WebSocket::recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int, void *ud) {
    auto *self = static_cast<WebSocket *>(ud);
    size_t avail = self->leftover_.size() - self->in_off_;
    if (avail == 0) {
        wslay_event_set_error(ctx, self->input_ended_ ? WSLAY_ERR_CALLBACK_FAILURE : WSLAY_ERR_WOULDBLOCK);
        if (self->input_ended_) self->peer_closed_ = true;
        return -1;
    }
    size_t n = std::min(len, avail);
    std::memcpy(buf, self->leftover_.data() + self->in_off_, n);
    self->in_off_ += n;
    if (self->in_off_ == self->leftover_.size()) {
        self->leftover_.clear();
        self->in_off_ = 0;
    }
    return static_cast<ssize_t>(n);
}

// Moves everything the connection has (socket and TLS buffers) into leftover_,
// so nothing waits where poll() cannot see it.
void WebSocket::pull_input() {
    last_pull_full_ = false;
    char buf[256 * 1024];
    while (!input_ended_ && leftover_.size() - in_off_ < kMaxInput) {
        size_t n = 0;
        CURLcode rc = curl_easy_recv(curl_, buf, sizeof buf, &n);
        if (rc == CURLE_AGAIN) return;
        if (rc != CURLE_OK || n == 0) {
            input_ended_ = true;
            if (rc != CURLE_OK) {
                set_transport_error(rc);
            }
            return;
        }
        if (in_off_ > 0 && in_off_ == leftover_.size()) {
            leftover_.clear();
            in_off_ = 0;
        }
        leftover_.append(buf, n);
    }
    last_pull_full_ = !input_ended_;
}

ssize_t WebSocket::send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud) {
    auto *self = static_cast<WebSocket *>(ud);
    // Accept into our buffer; flush when it is large or wslay has nothing more right now.
    if (self->pending_out() >= kOutFlush) {
        if (!self->flush_out()) {
            if (self->transport_failed_) {
                wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
                return -1;
            }
            if (self->pending_out() >= kOutFlush) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
                return -1;
            }
        }
    }
    self->out_.append(reinterpret_cast<const char *>(data), len);
    if (!(flags & WSLAY_MSG_MORE) || self->pending_out() >= kOutFlush) {
        self->flush_out();
        if (self->transport_failed_) {
            wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
    }
    return static_cast<ssize_t>(len);
}

// Writes buffered frames; true when everything went out.
//
// A TLS write that could not finish (CURLE_AGAIN) must be retried with the same
// bytes at the same address: OpenSSL may already hold part of them in records
// and fails a retry from a moved buffer ("bad write retry"), which ends the
// connection. So the bytes handed to curl (wire_) stay untouched until they are
// all written; frames encoded meanwhile wait in out_.
bool WebSocket::flush_out() {
    while (true) {
        if (wire_off_ == wire_.size()) {
            wire_.clear();
            wire_off_ = 0;
            if (out_.empty()) return true;
            wire_.swap(out_);
        }
        size_t n = 0;
        CURLcode rc = curl_easy_send(curl_, wire_.data() + wire_off_, wire_.size() - wire_off_, &n);
        if (rc == CURLE_AGAIN) return false;
        if (rc != CURLE_OK) {
            set_transport_error(rc);
            peer_closed_ = true;
            return false;
        }
        wire_off_ += n;
    }
}

void WebSocket::set_transport_error(CURLcode rc) {
    transport_failed_ = true;
    transport_error_ = curl_easy_strerror(rc);
    if (curl_error_[0]) transport_error_ += std::string(" (") + curl_error_ + ")";
}

int WebSocket::genmask_cb(wslay_event_context_ptr, uint8_t *buf, size_t len, void *) {
    return RAND_bytes(buf, static_cast<int>(len)) == 1 ? 0 : -1;
}

void WebSocket::msg_cb(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg *arg, void *ud) {
    auto *self = static_cast<WebSocket *>(ud);
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        self->peer_closed_ = true;
        self->close_status_ = arg->status_code;
        return;
    }
    if (arg->opcode == WSLAY_BINARY_FRAME || arg->opcode == WSLAY_TEXT_FRAME) {
        if (self->handler_) self->handler_(arg->msg, arg->msg_length);
    }
}

void WebSocket::queue_binary(std::string_view prefix, std::string_view data) {
    if (wslay_event_get_close_sent(ctx_)) return;
    std::string msg;
    msg.reserve(prefix.size() + data.size());
    msg.append(prefix).append(data);
    wslay_event_msg m{WSLAY_BINARY_FRAME, reinterpret_cast<const uint8_t *>(msg.data()), msg.size()};
    int rc = wslay_event_queue_msg(ctx_, &m);
    if (rc == WSLAY_ERR_NOMEM) throw std::bad_alloc();
}

void WebSocket::queue_close(uint16_t status) {
    if (!wslay_event_get_close_sent(ctx_)) wslay_event_queue_close(ctx_, status, nullptr, 0);
}

void WebSocket::on_readable() {
    if (peer_closed_) return;
    int rc;
    do {
        pull_input();
        rc = wslay_event_recv(ctx_);
        // Stopped at the read-ahead limit: what is left may sit in TLS buffers
        // that poll() cannot see, so keep going until the connection says EAGAIN.
    } while (rc == 0 && !input_ended_ && leftover_.size() == in_off_ && last_pull_full_);
    if (rc != 0) {
        if (transport_failed_)
            throw Error(NH_ECONNECT, "the stream's connection to the API server failed: " + transport_error_);
        if (peer_closed_) return;  // end of the connection
        throw Error(NH_EPROTOCOL, "malformed WebSocket data from the API server (wslay error " +
                                      std::to_string(rc) + ")");
    }
    if (wslay_event_get_close_received(ctx_)) peer_closed_ = true;
}

void WebSocket::on_writable() {
    if (!flush_out()) {
        if (transport_failed_)
            throw Error(NH_ECONNECT, "the stream's connection to the API server failed: " + transport_error_);
        return;
    }
    if (wslay_event_want_write(ctx_)) {
        int rc = wslay_event_send(ctx_);
        if (rc != 0 && transport_failed_)
            throw Error(NH_ECONNECT, "the stream's connection to the API server failed: " + transport_error_);
        flush_out();
    }
}

bool WebSocket::wants_write() const {
    return pending_out() > 0 || (ctx_ && wslay_event_want_write(ctx_));
}

size_t WebSocket::queued_bytes() const {
    return pending_out() + (ctx_ ? wslay_event_get_queued_msg_length(ctx_) : 0);
}

}  // namespace nh::stream
