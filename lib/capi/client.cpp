// nh_client_*: kubeconfig loading, raw requests, the server version and watches.
#include "capi/client.hpp"

#include <cstdlib>
#include <cstring>
#include <iterator>

#include "capi/capi.hpp"
#include "kube/errors.hpp"
#include "kube/kinds.hpp"

using namespace nh::capi;

std::unique_ptr<nh_client> nh::capi::make_client(nh::kube::RestConfig cfg, const nh_client_options &opts) {
    nh::kube::ClientOptions co;
    if (opts.timeout_ms > 0) co.timeout = std::chrono::milliseconds(opts.timeout_ms);
    if (opts.max_retries >= 0) co.max_retries = opts.max_retries;
    if (opts.user_agent) co.user_agent = opts.user_agent;
    auto c = std::make_unique<nh_client>();
    c->impl = std::make_shared<nh::kube::Client>(std::move(cfg), co);
    c->server = c->impl->config().server;
    return c;
}

extern "C" {

const char *nh_kind_name(const char *text) {
    if (!text) return nullptr;
    const nh::kube::BuiltinKind *k = nh::kube::find_builtin_kind(text);
    return k ? k->singular : nullptr;
}

static constexpr std::size_t kClientOptionsSizes[] = {sizeof(nh_client_options)};
static_assert(std::size(kClientOptionsSizes) == NH_CLIENT_OPTIONS_VERSION, "one size per version of nh_client_options");

int nh_client_options_init(nh_client_options *opts, unsigned int version) {
    return init_options(opts, version, nh_client_options NH_CLIENT_OPTIONS_INIT, kClientOptionsSizes, "nh_client_options");
}

int nh_client_new(nh_client **out, const nh_client_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    nh_client_options defaults = NH_CLIENT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_CLIENT_OPTIONS_VERSION, "nh_client_options")) return rc;
    return guard([&]() -> int {
        nh::kube::LoadOptions lo;
        if (opts->kubeconfig) lo.paths = opts->kubeconfig;
        if (opts->context) lo.context = opts->context;
        if (opts->namespace_name) lo.ns = opts->namespace_name;
        auto c = nh::capi::make_client(nh::kube::load_config(lo), *opts);
        const char *env = std::getenv("KUBECONFIG");
        c->kubeconfig_paths = opts->kubeconfig ? opts->kubeconfig : (env ? env : "");
        *out = c.release();
        return NH_OK;
    });
}

void nh_client_free(nh_client *client) { delete client; }

const char *nh_client_namespace(const nh_client *client) {
    return client ? client->impl->config().ns.c_str() : "";
}

const char *nh_client_server(const nh_client *client) { return client ? client->server.c_str() : ""; }

const char *nh_client_context(const nh_client *client) {
    return client ? client->impl->config().context_name.c_str() : "";
}

static constexpr std::size_t kRequestOptionsSizes[] = {sizeof(nh_request_options)};
static_assert(std::size(kRequestOptionsSizes) == NH_REQUEST_OPTIONS_VERSION, "one size per version of nh_request_options");

int nh_request_options_init(nh_request_options *opts, unsigned int version) {
    return init_options(opts, version, nh_request_options NH_REQUEST_OPTIONS_INIT, kRequestOptionsSizes, "nh_request_options");
}

int nh_client_request(nh_buf *out_body, int *out_status, nh_client *client,
                      const nh_request_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(opts);
    if (int rc = check_version(opts->version, NH_REQUEST_OPTIONS_VERSION, "nh_request_options")) return rc;
    NH_CHECK_ARG(opts->path && opts->path[0] == '/');
    if (out_status) *out_status = 0;
    return guard([&]() -> int {
        nh::kube::Request r;
        if (opts->method) r.method = opts->method;
        for (auto &ch : r.method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        r.path = opts->path;
        if (opts->body) r.body.assign(opts->body, opts->body_len == (size_t)-1 ? std::strlen(opts->body) : opts->body_len);
        if (opts->content_type) r.content_type = opts->content_type;
        if (opts->timeout_ms > 0) r.timeout = std::chrono::milliseconds(opts->timeout_ms);
        r.cancel = token_of(opts->cancel);
        nh::kube::Response resp = client->impl->send(r);
        if (out_status) *out_status = resp.status;
        buf_set(out_body, resp.body);
        if (resp.status < 200 || resp.status >= 300)
            throw nh::kube::status_error(resp.status, resp.body, r.method, r.path);
        return NH_OK;
    });
}

int nh_client_server_version(nh_buf *out, nh_client *client, nh_cancel *cancel) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    return guard([&]() -> int {
        auto j = client->impl->get("/version", token_of(cancel));
        buf_set(out, j.dump());
        return NH_OK;
    });
}

static constexpr std::size_t kWatchOptionsSizes[] = {sizeof(nh_watch_options)};
static_assert(std::size(kWatchOptionsSizes) == NH_WATCH_OPTIONS_VERSION, "one size per version of nh_watch_options");

int nh_watch_options_init(nh_watch_options *opts, unsigned int version) {
    return init_options(opts, version, nh_watch_options NH_WATCH_OPTIONS_INIT, kWatchOptionsSizes, "nh_watch_options");
}

int nh_client_watch(nh_client *client, const nh_watch_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(opts);
    if (int rc = check_version(opts->version, NH_WATCH_OPTIONS_VERSION, "nh_watch_options")) return rc;
    NH_CHECK_ARG(opts->path && opts->path[0] == '/');
    NH_CHECK_ARG(opts->callback);
    return guard([&]() -> int {
        nh::kube::WatchParams p;
        p.path = opts->path;
        if (opts->resource_version) p.resource_version = opts->resource_version;
        if (opts->label_selector) p.label_selector = opts->label_selector;
        if (opts->field_selector) p.field_selector = opts->field_selector;
        if (opts->duration_ms > 0) p.duration = std::chrono::milliseconds(opts->duration_ms);
        p.cancel = token_of(opts->cancel);
        bool stopped_by_callback = false;
        client->impl->watch(p, [&](nh::kube::WatchEvent type, const nlohmann::json &obj) {
            std::string text = obj.dump();
            if (opts->callback(static_cast<int>(type), text.c_str(), text.size(), opts->payload) != 0) {
                stopped_by_callback = true;
                return false;
            }
            return true;
        });
        if (stopped_by_callback) return set_error(NH_ECANCELLED, "watch stopped by its callback");
        return NH_OK;
    });
}

}  // extern "C"
