#include "kube/client.hpp"

#include <cstring>
#include <exception>
#include <thread>

#include "common/log.hpp"
#include "kube/errors.hpp"

namespace nh::kube {

namespace {

bool is_tls_error(CURLcode rc) {
    switch (rc) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_USE_SSL_FAILED:
            return true;
        default:
            return false;
    }
}

std::string server_host_port(const std::string &server, std::string &scheme, std::string &host,
                             std::string &port) {
    CURLU *u = curl_url();
    if (!u) throw std::bad_alloc();
    std::string rest;
    if (curl_url_set(u, CURLUPART_URL, server.c_str(), 0) == CURLUE_OK) {
        char *s = nullptr, *h = nullptr, *p = nullptr;
        curl_url_get(u, CURLUPART_SCHEME, &s, 0);
        curl_url_get(u, CURLUPART_HOST, &h, 0);
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
        scheme = s ? s : "";
        host = h ? h : "";
        port = p ? p : "";
        curl_free(s);
        curl_free(h);
        curl_free(p);
        char *path = nullptr;
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        rest = path && std::strcmp(path, "/") != 0 ? path : "";
        curl_free(path);
    }
    curl_url_cleanup(u);
    return rest;
}

}  // namespace

const char *patch_content_type(PatchType t) {
    switch (t) {
        case PatchType::Json:
            return "application/json-patch+json";
        case PatchType::Merge:
            return "application/merge-patch+json";
        case PatchType::StrategicMerge:
            return "application/strategic-merge-patch+json";
        case PatchType::Apply:
            return "application/apply-patch+yaml";
    }
    return "application/json";
}

std::string url_escape(std::string_view s) {
    char *e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
    if (!e) throw std::bad_alloc();
    std::string out(e);
    curl_free(e);
    return out;
}

PreparedHandle::~PreparedHandle() {
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);
}

struct Client::Conn {
    CURLM *multi = nullptr;
    CURL *easy = nullptr;
    char errbuf[CURL_ERROR_SIZE] = {};
    Conn() {
        multi = curl_multi_init();
        easy = curl_easy_init();
        if (!multi || !easy) {
            curl_multi_cleanup(multi);
            curl_easy_cleanup(easy);
            throw std::bad_alloc();
        }
    }
    ~Conn() {
        curl_easy_cleanup(easy);
        curl_multi_cleanup(multi);
    }
};

Client::Client(RestConfig cfg, ClientOptions opts)
    : cfg_(std::move(cfg)),
      opts_(std::move(opts)),
      retry_(opts_.max_retries, std::chrono::milliseconds(200), std::chrono::seconds(8), opts_.outage_wait),
      creds_(cfg_) {
    if (opts_.user_agent.empty()) opts_.user_agent = std::string("libnocalhost/") + NH_VERSION_STRING;
    if (opts_.timeout.count() <= 0) opts_.timeout = std::chrono::milliseconds(30000);
}

Client::~Client() = default;

std::unique_ptr<Client::Conn> Client::acquire() {
    {
        std::lock_guard lock(pool_mu_);
        if (!pool_.empty()) {
            auto c = std::move(pool_.back());
            pool_.pop_back();
            return c;
        }
    }
    return std::make_unique<Conn>();
}

void Client::release(std::unique_ptr<Conn> c) {
    std::lock_guard lock(pool_mu_);
    if (pool_.size() < 8) pool_.push_back(std::move(c));
}

void Client::prepare(CURL *h, const std::string &path, PreparedHandle &holder,
                     const std::vector<std::string> &extra_headers) {
    std::string scheme, host, port;
    std::string base_path = server_host_port(cfg_.server, scheme, host, port);
    // Credentials travel only over TLS, as client-go sends them (the loader already
    // drops them for http://; this also holds for a RestConfig built by hand).
    const bool tls = scheme == "https";
    holder.credential = tls ? creds_.get() : Credential{};
    if (!cfg_.tls_server_name.empty() && scheme == "https") {
        // Connect to the configured host but name (SNI) and verify tls-server-name.
        holder.url = "https://" + cfg_.tls_server_name + ":" + port + base_path + path;
        holder.connect_to_entry = cfg_.tls_server_name + ":" + port + ":" + host + ":" + port;
        holder.connect_to = curl_slist_append(nullptr, holder.connect_to_entry.c_str());
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, holder.connect_to);
    } else {
        holder.url = cfg_.server + path;
    }
    curl_easy_setopt(h, CURLOPT_URL, holder.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, opts_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (cfg_.insecure_skip_tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        if (!cfg_.ca_pem.empty()) {
            // Trust exactly the kubeconfig's CA, as kubectl does, not the system store too.
            curl_blob ca{const_cast<char *>(cfg_.ca_pem.data()), cfg_.ca_pem.size(), CURL_BLOB_COPY};
            curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
            curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
        }
    }
    const std::string &cert = holder.credential.client_cert_pem.empty() ? cfg_.client_cert_pem
                                                                         : holder.credential.client_cert_pem;
    const std::string &key = holder.credential.client_key_pem.empty() ? cfg_.client_key_pem
                                                                       : holder.credential.client_key_pem;
    if (tls && !cert.empty()) {
        curl_blob cb{const_cast<char *>(cert.data()), cert.size(), CURL_BLOB_COPY};
        curl_blob kb{const_cast<char *>(key.data()), key.size(), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!cfg_.proxy_url.empty()) {
        // Go resolves names through a SOCKS5 proxy (curl's socks5h); http(s) proxies as given.
        holder.proxy = cfg_.proxy_url;
        if (holder.proxy.size() > 9 && curl_strnequal(holder.proxy.c_str(), "socks5://", 9))
            holder.proxy.replace(0, 9, "socks5h://");
        curl_easy_setopt(h, CURLOPT_PROXY, holder.proxy.c_str());
    }
    const Credential &cred = holder.credential;
    if (!cred.bearer_token.empty()) {
        std::string auth = "Authorization: Bearer " + cred.bearer_token;
        holder.headers = curl_slist_append(holder.headers, auth.c_str());
    } else if (!cred.basic_username.empty() || !cred.basic_password.empty()) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, cred.basic_username.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, cred.basic_password.c_str());
    }
    for (auto &hd : impersonation_headers(cfg_)) holder.headers = curl_slist_append(holder.headers, hd.c_str());
    for (auto &hd : extra_headers) holder.headers = curl_slist_append(holder.headers, hd.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, holder.headers);
}

Error Client::transport_error(CURLcode rc, const char *errbuf, const std::string &method,
                              const std::string &path) const {
    // Neither the server's nor the proxy's user:password@ (nor any credential) is shown.
    std::string detail = scrub(errbuf && *errbuf ? errbuf : curl_easy_strerror(rc),
                               {url_userinfo(cfg_.proxy_url), url_userinfo(cfg_.server), cfg_.password, cfg_.token});
    std::string server = redact_url(cfg_.server);
    std::string what = method + " " + path.substr(0, path.find('?'));
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return Error(NH_ETIMEOUT, what + ": no answer from " + server + " in time (" + detail + ")");
    if (is_tls_error(rc))
        return Error(NH_ETLS, "TLS connection to " + server + " failed: " + detail +
                                  "; check the certificate-authority and client certificate of context '" +
                                  cfg_.context_name + "' (" + cfg_.origin + ")");
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Error(NH_ECANCELLED, what + " cancelled");
    return Error(NH_ECONNECT, "cannot reach the API server " + server + " (" + what + "): " + detail);
}

CURLcode Client::perform(Conn &c, const Request &req, Response &resp, bool &sent,
                         const std::function<bool(const char *, size_t)> *stream) {
    CURL *h = c.easy;
    curl_easy_reset(h);
    c.errbuf[0] = '\0';
    PreparedHandle ph;
    std::vector<std::string> headers{"Accept: application/json"};
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
        headers.push_back("Content-Type: " + req.content_type);
    prepare(h, req.path, ph, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c.errbuf);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    }
    auto timeout = req.timeout.count() > 0 ? req.timeout : opts_.timeout;
    if (stream) {
        if (req.timeout.count() > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long long>(timeout.count(), 15000)));

    struct Sink {
        Response *resp;
        CURL *h;
        const std::function<bool(const char *, size_t)> *stream;
        std::exception_ptr error;
        bool stopped = false;
    } sink{&resp, h, stream, nullptr};
    auto write_cb = +[](char *data, size_t, size_t n, void *ud) -> size_t {
        auto *s = static_cast<Sink *>(ud);
        long code = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
        if (!s->stream || code < 200 || code >= 300) {
            s->resp->body.append(data, n);
            return n;
        }
        try {
            if (!(*s->stream)(data, n)) {
                s->stopped = true;
                return 0;
            }
        } catch (...) {
            s->error = std::current_exception();
            return 0;
        }
        return n;
    };
    auto header_cb = +[](char *data, size_t, size_t n, void *ud) -> size_t {
        auto *s = static_cast<Sink *>(ud);
        std::string_view line(data, n);
        static constexpr std::string_view key = "retry-after:";
        if (line.size() > key.size()) {
            bool match = true;
            for (size_t i = 0; i < key.size() && match; ++i)
                match = std::tolower(static_cast<unsigned char>(line[i])) == key[i];
            if (match) s->resp->retry_after_s = parse_retry_after(line.substr(key.size()));
        }
        return n;
    };
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);

    curl_multi_add_handle(c.multi, h);
    CancelScope scope(req.cancel, [m = c.multi] { curl_multi_wakeup(m); });
    CURLcode result = CURLE_OK;
    bool done = false;
    while (!done) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(c.multi, &running);
        if (mc != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
        int left = 0;
        while (CURLMsg *msg = curl_multi_info_read(c.multi, &left)) {
            if (msg->msg == CURLMSG_DONE) {
                result = msg->data.result;
                done = true;
            }
        }
        if (done) break;
        if (cancelled(req.cancel)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(c.multi, nullptr, 0, 500, nullptr);
        if (cancelled(req.cancel)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    long req_size = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req_size);
    curl_multi_remove_handle(c.multi, h);
    resp.status = static_cast<int>(code);
    sent = req_size > 0;
    if (sink.error) std::rethrow_exception(sink.error);
    if (sink.stopped) return CURLE_OK;
    return result;
}

Response Client::send(const Request &req) {
    bool refreshed = false;
    auto unreachable_since = std::chrono::steady_clock::time_point::min();  // min(): reachable
    bool outage_counted = false;
    for (int retry = 1;; ++retry) {
        if (req.cancel) req.cancel->check((req.method + " " + req.path).c_str());
        auto conn = acquire();
        Response resp;
        bool sent = false;
        auto t0 = std::chrono::steady_clock::now();
        CURLcode rc = perform(*conn, req, resp, sent, nullptr);
        std::string errbuf = conn->errbuf;
        release(std::move(conn));
        if (log::enabled(NH_LOG_DEBUG)) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
            log::debug(req.method + " " + req.path + " -> " +
                       (rc == CURLE_OK ? std::to_string(resp.status) : curl_easy_strerror(rc)) + " in " +
                       std::to_string(ms) + " ms");
        }
        if (rc == CURLE_ABORTED_BY_CALLBACK && cancelled(req.cancel))
            throw Error(NH_ECANCELLED, req.method + " " + req.path.substr(0, req.path.find('?')) + " cancelled");
        // A server may answer an error before it has read the whole request and then reset the
        // stream (HTTP/2 allows it: RFC 9113, 8.1); curl then calls the body partial. The status
        // arrived whole and is the answer; only an error's body (its message) may be cut.
        if (rc == CURLE_PARTIAL_FILE && resp.status >= 400 && resp.status < 500 && resp.status != 429) {
            log::debug(req.method + " " + req.path + ": HTTP " + std::to_string(resp.status) + " with a cut body");
            rc = CURLE_OK;
        }
        Attempt a;
        a.method = req.method;
        if (rc != CURLE_OK) {
            a.transport_error = true;
            a.request_sent = sent;
            a.server_answered_before = answered_.load();
            auto now = std::chrono::steady_clock::now();
            if (unreachable_since == std::chrono::steady_clock::time_point::min()) unreachable_since = now;
            a.unreachable_for = std::chrono::duration_cast<std::chrono::milliseconds>(now - unreachable_since);
            // Timeouts and TLS failures do not get better by trying again at once.
            if (rc == CURLE_OPERATION_TIMEDOUT || is_tls_error(rc)) throw transport_error(rc, errbuf.c_str(), req.method, req.path);
            auto d = retry_.next(retry, a);
            if (!d) throw transport_error(rc, errbuf.c_str(), req.method, req.path);
            log::debug("retrying " + req.method + " " + req.path + " after " + curl_easy_strerror(rc));
            if (req.cancel ? req.cancel->sleep_for(*d) : (std::this_thread::sleep_for(*d), false))
                throw Error(NH_ECANCELLED, req.method + " " + req.path + " cancelled");
            continue;
        }
        answered_ = true;
        if (unreachable_since != std::chrono::steady_clock::time_point::min() && !outage_counted) {
            // Back after an outage: what it answers now gets retries of its own (once).
            outage_counted = true;
            retry = 0;
        }
        unreachable_since = std::chrono::steady_clock::time_point::min();
        if (resp.status == 401 && !refreshed && creds_.invalidate()) {
            refreshed = true;
            --retry;
            continue;
        }
        if (resp.status == 429 || resp.status >= 500) {
            a.http_status = resp.status;
            a.retry_after_s = resp.retry_after_s;
            if (auto d = retry_.next(retry, a)) {
                log::debug("retrying " + req.method + " " + req.path + " after HTTP " + std::to_string(resp.status));
                if (req.cancel ? req.cancel->sleep_for(*d) : (std::this_thread::sleep_for(*d), false))
                    throw Error(NH_ECANCELLED, req.method + " " + req.path + " cancelled");
                continue;
            }
        }
        return resp;
    }
}

Response Client::request(const Request &req) {
    Response r = send(req);
    if (r.status < 200 || r.status >= 300) throw status_error(r.status, r.body, req.method, req.path);
    return r;
}

namespace {
json parse_body(const Response &r, const std::string &what) {
    if (r.body.empty()) return json::object();
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) throw Error(NH_EPROTOCOL, what + ": the server's answer is not JSON");
    return j;
}
}  // namespace

json Client::get(const std::string &path, CancelToken *cancel) {
    Request r;
    r.path = path;
    r.cancel = cancel;
    return parse_body(request(r), "GET " + path);
}

json Client::create(const std::string &path, const json &obj, CancelToken *cancel) {
    Request r;
    r.method = "POST";
    r.path = path;
    r.body = obj.dump();
    r.cancel = cancel;
    return parse_body(request(r), "POST " + path);
}

json Client::update(const std::string &path, const json &obj, CancelToken *cancel) {
    Request r;
    r.method = "PUT";
    r.path = path;
    r.body = obj.dump();
    r.cancel = cancel;
    return parse_body(request(r), "PUT " + path);
}

json Client::patch(const std::string &path, PatchType type, const std::string &body, CancelToken *cancel) {
    Request r;
    r.method = "PATCH";
    r.path = path;
    r.body = body;
    r.content_type = patch_content_type(type);
    r.cancel = cancel;
    return parse_body(request(r), "PATCH " + path);
}

json Client::remove(const std::string &path, CancelToken *cancel) {
    Request r;
    r.method = "DELETE";
    r.path = path;
    r.cancel = cancel;
    return parse_body(request(r), "DELETE " + path);
}

void Client::watch(const WatchParams &p, const WatchCallback &cb) {
    auto start = std::chrono::steady_clock::now();
    auto deadline = p.duration.count() > 0 ? start + p.duration : std::chrono::steady_clock::time_point::max();
    auto selectors = [&] {
        std::string q;
        if (!p.label_selector.empty()) q += "&labelSelector=" + url_escape(p.label_selector);
        if (!p.field_selector.empty()) q += "&fieldSelector=" + url_escape(p.field_selector);
        return q;
    };
    std::string rv = p.resource_version;
    bool stop = false;
    auto relist = [&](bool initial) {
        json list = get(p.path + "?limit=0" + selectors(), p.cancel);
        rv = list["metadata"].value("resourceVersion", "");
        if (initial) {
            for (auto &item : list["items"])
                if (!cb(WatchEvent::Added, item)) return false;
            return true;
        }
        return cb(WatchEvent::Relisted, list);
    };
    if (rv.empty() && !relist(true)) return;
    int failures = 0;
    while (!stop) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        Request req;
        req.path = p.path + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=" +
                   url_escape(rv) + selectors();
        req.cancel = p.cancel;
        if (deadline != std::chrono::steady_clock::time_point::max()) req.timeout = left;
        std::string buffer;
        bool gone = false;
        std::function<bool(const char *, size_t)> stream = [&](const char *data, size_t n) {
            buffer.append(data, n);
            size_t pos;
            while ((pos = buffer.find('\n')) != std::string::npos) {
                std::string line = buffer.substr(0, pos);
                buffer.erase(0, pos + 1);
                if (line.empty()) continue;
                json ev = json::parse(line, nullptr, false);
                if (ev.is_discarded() || !ev.is_object())
                    throw Error(NH_EPROTOCOL, "watch " + p.path + ": unreadable event from the server");
                std::string type = ev.value("type", "");
                json &obj = ev["object"];
                if (type == "ERROR") {
                    int code = obj.value("code", 0);
                    if (code == 410) {
                        gone = true;
                        return false;
                    }
                    throw status_error(code ? code : 500, obj.dump(), "WATCH", p.path);
                }
                if (obj.is_object() && obj.contains("metadata"))
                    rv = obj["metadata"].value("resourceVersion", rv);
                if (type == "BOOKMARK") continue;
                WatchEvent we = type == "ADDED"      ? WatchEvent::Added
                                : type == "MODIFIED" ? WatchEvent::Modified
                                : type == "DELETED"  ? WatchEvent::Deleted
                                                     : WatchEvent::Modified;
                if (!cb(we, obj)) {
                    stop = true;
                    return false;
                }
            }
            return true;
        };
        auto conn = acquire();
        Response resp;
        bool sent = false;
        CURLcode rc = perform(*conn, req, resp, sent, &stream);
        std::string errbuf = conn->errbuf;
        release(std::move(conn));
        if (stop) return;
        if (rc == CURLE_ABORTED_BY_CALLBACK && cancelled(p.cancel)) throw Error(NH_ECANCELLED, "watch " + p.path + " cancelled");
        if (gone || resp.status == 410) {
            log::debug("watch " + p.path + ": resourceVersion " + rv + " is gone, listing again");
            if (!relist(false)) return;
            continue;
        }
        if (rc == CURLE_OPERATION_TIMEDOUT && std::chrono::steady_clock::now() >= deadline) return;
        if (rc == CURLE_OK && resp.status >= 200 && resp.status < 300) {
            failures = 0;  // the server closed the watch (timeoutSeconds): resume
            continue;
        }
        if (rc == CURLE_OK && resp.status == 401 && creds_.invalidate()) continue;
        if (rc == CURLE_OK && resp.status != 429 && resp.status < 500)
            throw status_error(resp.status, resp.body, "WATCH", p.path);
        if (rc != CURLE_OK && (is_tls_error(rc))) throw transport_error(rc, errbuf.c_str(), "WATCH", p.path);
        // Dropped connection, 429 or 5xx: resume from the last resourceVersion after a pause.
        ++failures;
        Attempt a;
        a.method = "GET";
        a.transport_error = rc != CURLE_OK;
        a.request_sent = true;
        a.http_status = resp.status;
        a.retry_after_s = resp.retry_after_s;
        auto d = RetryPolicy(1000).next(std::min(failures, 6), a).value_or(std::chrono::milliseconds(1000));
        log::debug("watch " + p.path + " interrupted (" +
                   (rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP " + std::to_string(resp.status)) +
                   "), resuming from resourceVersion " + rv);
        if (p.cancel ? p.cancel->sleep_for(d) : (std::this_thread::sleep_for(d), false))
            throw Error(NH_ECANCELLED, "watch " + p.path + " cancelled");
    }
}

void Client::stream(const Request &req, const std::function<bool(const char *, size_t)> &sink) {
    for (int attempt = 0;; ++attempt) {
        bool stopped = false;
        std::function<bool(const char *, size_t)> wrapped = [&](const char *data, size_t n) {
            if (sink(data, n)) return true;
            stopped = true;
            return false;
        };
        auto conn = acquire();
        Response resp;
        bool sent = false;
        CURLcode rc = perform(*conn, req, resp, sent, &wrapped);
        std::string errbuf = conn->errbuf;
        release(std::move(conn));
        if (stopped) return;
        if (rc == CURLE_ABORTED_BY_CALLBACK && cancelled(req.cancel))
            throw Error(NH_ECANCELLED, req.method + " " + req.path + " cancelled");
        if (rc != CURLE_OK) throw transport_error(rc, errbuf.c_str(), req.method, req.path);
        if (resp.status == 401 && attempt == 0 && creds_.invalidate()) continue;
        if (resp.status < 200 || resp.status >= 300) throw status_error(resp.status, resp.body, req.method, req.path);
        return;
    }
}

}  // namespace nh::kube
