// nh_reverse_*: reverse forwarding for a workload in dev mode (docs/traffic.md).
#include <iterator>
#include <memory>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "dev/workload.hpp"
#include "loop/reverse.hpp"

using namespace nh::capi;

struct nh_reverse {
    std::unique_ptr<nh::loop::ReverseForwarder> impl;
};

static constexpr std::size_t kReverseOptionsSizes[] = {sizeof(nh_reverse_options)};
static_assert(std::size(kReverseOptionsSizes) == NH_REVERSE_OPTIONS_VERSION, "one size per version of nh_reverse_options");

int nh_reverse_options_init(nh_reverse_options *opts, unsigned int version) {
    return init_options(opts, version, nh_reverse_options NH_REVERSE_OPTIONS_INIT, kReverseOptionsSizes,
                        "nh_reverse_options");
}

int nh_reverse_start(nh_reverse **out, nh_client *client, const char *kind, const char *name,
                     const char *const *ports, const nh_reverse_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind);
    NH_CHECK_ARG(name && *name);
    NH_CHECK_ARG(ports && ports[0]);
    nh_reverse_options defaults = NH_REVERSE_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_REVERSE_OPTIONS_VERSION, "nh_reverse_options")) return rc;
    return guard([&]() -> int {
        nh::loop::ReverseOptions ro;
        for (const char *const *p = ports; *p; ++p) ro.ports.push_back(nh::loop::parse_reverse_port(*p));
        if (opts->remote_address && *opts->remote_address) ro.remote_address = opts->remote_address;
        if (opts->timeout_ms > 0) ro.timeout = std::chrono::milliseconds(opts->timeout_ms);
        if (opts->syncd_dir) ro.syncd_dir = opts->syncd_dir;
        if (opts->mode != NH_DEV_MODE_REPLACE && opts->mode != NH_DEV_MODE_DUPLICATE)
            return set_error(NH_EINVAL, "unknown dev mode " + std::to_string(opts->mode) +
                                            " (valid: NH_DEV_MODE_REPLACE, NH_DEV_MODE_DUPLICATE)");
        nh::dev::Query q;
        q.kind = nh::dev::parse_workload_kind(kind);
        q.ns = opts->namespace_name && *opts->namespace_name ? std::string(opts->namespace_name) : client->impl->ns();
        q.name = name;
        q.mode = opts->mode == NH_DEV_MODE_DUPLICATE ? nh::dev::Mode::Duplicate : nh::dev::Mode::Replace;
        q.developer = opts->developer ? opts->developer : "";
        nh::CancelToken *cancel = token_of(opts->cancel);
        auto session = nh::dev::find_session(*client->impl, q, cancel);
        if (!session)
            return set_error(NH_ESTATE, std::string(kind) + "/" + name + " in namespace " + q.ns +
                                            " is not in dev mode: reverse forwarding needs its sidecar");
        nh_reverse_event_cb cb = opts->on_event;
        void *payload = opts->payload;
        auto h = std::make_unique<nh_reverse>();
        h->impl = std::make_unique<nh::loop::ReverseForwarder>(
            client->impl, std::move(*session), std::move(ro),
            [cb, payload](nh::loop::ReverseEvent e, const std::string &pod, int remote, int local,
                          const std::string &msg) {
                if (cb) cb(static_cast<int>(e), pod.c_str(), remote, local, msg.c_str(), payload);
            },
            cancel);
        *out = h.release();
        return NH_OK;
    });
}

int nh_reverse_pod(nh_buf *out, nh_reverse *rev) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(rev);
    return guard([&]() -> int {
        buf_set(out, rev->impl->pod());
        return NH_OK;
    });
}

int nh_reverse_wait(nh_reverse *rev, long timeout_ms) {
    NH_CHECK_ARG(rev);
    return guard([&]() -> int {
        if (!rev->impl->wait(std::chrono::milliseconds(timeout_ms < 0 ? -1 : timeout_ms)))
            return set_error(NH_ETIMEOUT, "reverse forwarding still running after " + std::to_string(timeout_ms) + " ms");
        return NH_OK;
    });
}

void nh_reverse_free(nh_reverse *rev) {
    try {
        delete rev;
    } catch (...) {
    }
}
