// A REST client for the Kubernetes API over libcurl: typed errors, retries,
// cancellation, watches. Thread-safe: requests from several threads share
// a pool of connections.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "common/error.hpp"
#include "kube/credentials.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/retry.hpp"

namespace nh::kube {

using json = nlohmann::json;

struct ClientOptions {
    std::chrono::milliseconds timeout{30000};
    int max_retries = 5;
    // How long to keep retrying while a server that answered this client before
    // refuses connections (restarting); see RetryPolicy.
    std::chrono::milliseconds outage_wait{60000};
    std::string user_agent;
};

struct Request {
    std::string method = "GET";
    std::string path;  // path and query, starting with '/'
    std::string body;
    std::string content_type = "application/json";
    std::chrono::milliseconds timeout{0};  // 0: the client's
    CancelToken *cancel = nullptr;
};

struct Response {
    int status = 0;
    std::string body;
    std::optional<int> retry_after_s;
};

enum class PatchType { Json, Merge, StrategicMerge, Apply };
const char *patch_content_type(PatchType t);

enum class WatchEvent { Added = 1, Modified = 2, Deleted = 3, Relisted = 4 };

struct WatchParams {
    std::string path;  // a collection, without query
    std::string resource_version;
    std::string label_selector;
    std::string field_selector;
    std::chrono::milliseconds duration{0};  // 0: until cancelled or the callback stops
    CancelToken *cancel = nullptr;
};

// Returns false to stop watching.
using WatchCallback = std::function<bool(WatchEvent, const json &object)>;

// Holds what a CURL handle prepared by Client::prepare() points to.
struct PreparedHandle {
    curl_slist *headers = nullptr;
    Credential credential;
    std::string url;
    std::string proxy;
    std::string connect_to_entry;
    curl_slist *connect_to = nullptr;
    PreparedHandle() = default;
    PreparedHandle(const PreparedHandle &) = delete;
    PreparedHandle &operator=(const PreparedHandle &) = delete;
    ~PreparedHandle();
};

std::string url_escape(std::string_view s);

class Client {
public:
    Client(RestConfig cfg, ClientOptions opts = {});
    ~Client();
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    const RestConfig &config() const { return cfg_; }
    const std::string &ns() const { return cfg_.ns; }
    const ClientOptions &options() const { return opts_; }

    // Any HTTP answer, after retries. Throws nh::Error only when no answer came.
    Response send(const Request &req);
    // Like send(), but a non-2xx answer throws the typed error.
    Response request(const Request &req);

    json get(const std::string &path, CancelToken *cancel = nullptr);
    json create(const std::string &path, const json &obj, CancelToken *cancel = nullptr);
    json update(const std::string &path, const json &obj, CancelToken *cancel = nullptr);
    json patch(const std::string &path, PatchType type, const std::string &body,
               CancelToken *cancel = nullptr);
    json remove(const std::string &path, CancelToken *cancel = nullptr);

    // Watches a collection (see nh_client_watch). Returns normally when the duration
    // elapsed or the callback stopped it; throws NH_ECANCELLED when cancelled.
    void watch(const WatchParams &params, const WatchCallback &cb);

    // One streamed GET (pod logs): the body of a 2xx answer goes to `sink` as it arrives (false
    // stops it and returns normally); no retries, no overall timeout unless req.timeout is set.
    // Other answers throw their typed error; cancellation throws NH_ECANCELLED.
    void stream(const Request &req, const std::function<bool(const char *, size_t)> &sink);

    // Sets on `h` the URL for `path` (scheme from `scheme_override` if non-empty, e.g.
    // "wss" is not needed: curl speaks https), TLS, proxy, auth and User-Agent, so that
    // other transports (WebSocket streams) reach the API server exactly as requests do.
    void prepare(CURL *h, const std::string &path, PreparedHandle &holder,
                 const std::vector<std::string> &extra_headers = {});

    // The server told us our credentials are stale: refresh them. True if that may help.
    bool refresh_credentials() { return creds_.invalidate(); }

    // Maps a libcurl failure to an nh::Error with a clear message.
    Error transport_error(CURLcode rc, const char *errbuf, const std::string &method,
                          const std::string &path) const;

private:
    struct Conn;
    std::unique_ptr<Conn> acquire();
    void release(std::unique_ptr<Conn> c);
    // One attempt; fills `resp` or throws on transport failure. `sent` tells whether
    // bytes may have reached the server.
    CURLcode perform(Conn &c, const Request &req, Response &resp, bool &sent,
                     const std::function<bool(const char *, size_t)> *stream);

    RestConfig cfg_;
    ClientOptions opts_;
    RetryPolicy retry_;
    std::atomic<bool> answered_{false};  // some request got an HTTP answer
    CredentialSource creds_;
    std::mutex pool_mu_;
    std::vector<std::unique_ptr<Conn>> pool_;
};

}  // namespace nh::kube
