// nh_dev_* and nh_session_*: dev mode (replace) through the C ABI.
#include <cstring>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "capi/dev_loop.hpp"
#include "dev/session.hpp"

using namespace nh::capi;

struct nh_session {
    std::shared_ptr<nh::kube::Client> client;
    nh::dev::Session s;
    std::string kind;
    std::string status_text;
    std::unique_ptr<nh::capi::SessionLoop> loop;  // the whole loop, when a local dir syncs
};

namespace {

std::string str(const char *s) { return s ? s : ""; }

nh::dev::EventSink sink_of(nh_dev_event_cb cb, void *payload) {
    if (!cb) return {};
    return [cb, payload](const nh::dev::Event &e) {
        std::string detail = e.detail.is_null() ? std::string() : e.detail.dump();
        return cb(static_cast<int>(e.type), e.phase.c_str(), e.message.c_str(),
                  e.detail.is_null() ? nullptr : detail.c_str(), payload) == 0;
    };
}

nh_session *make_session(const std::shared_ptr<nh::kube::Client> &client, nh::dev::Session s) {
    auto out = std::make_unique<nh_session>();
    out->client = client;
    out->kind = nh::dev::kind_info(s.kind).name;
    out->s = std::move(s);
    return out.release();
}

const char *cstr(const nh_session *s, const std::string nh::dev::Session::*field) {
    return s ? (s->s.*field).c_str() : "";
}

}  // namespace

extern "C" {

const char *nh_dev_default_sidecar_image(void) {
    static const std::string image = nh::dev::default_sidecar_image();
    return image.c_str();
}

int nh_dev_start_options_init(nh_dev_start_options *opts, unsigned int version) {
    NH_CHECK_ARG(opts);
    if (int rc = check_version(version, NH_DEV_START_OPTIONS_VERSION, "nh_dev_start_options")) return rc;
    *opts = nh_dev_start_options NH_DEV_START_OPTIONS_INIT;
    opts->version = version;
    return NH_OK;
}

int nh_dev_end_options_init(nh_dev_end_options *opts, unsigned int version) {
    NH_CHECK_ARG(opts);
    if (int rc = check_version(version, NH_DEV_END_OPTIONS_VERSION, "nh_dev_end_options")) return rc;
    *opts = nh_dev_end_options NH_DEV_END_OPTIONS_INIT;
    opts->version = version;
    return NH_OK;
}

int nh_dev_query_options_init(nh_dev_query_options *opts, unsigned int version) {
    NH_CHECK_ARG(opts);
    if (int rc = check_version(version, NH_DEV_QUERY_OPTIONS_VERSION, "nh_dev_query_options")) return rc;
    *opts = nh_dev_query_options NH_DEV_QUERY_OPTIONS_INIT;
    opts->version = version;
    return NH_OK;
}

int nh_dev_start(nh_session **out, nh_client *client, const char *kind, const char *name,
                 const nh_dev_start_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    NH_CHECK_ARG(opts);
    if (int rc = check_version(opts->version, NH_DEV_START_OPTIONS_VERSION, "nh_dev_start_options")) return rc;
    NH_CHECK_ARG(opts->image && *opts->image);
    NH_CHECK_ARG(opts->env_count == 0 || opts->env);
    return guard([&]() -> int {
        nh::dev::StartOptions o;
        o.kind = nh::dev::parse_kind(kind);
        o.name = name;
        o.ns = str(opts->namespace_name);
        o.container = str(opts->container);
        o.image = opts->image;
        if (opts->workdir) o.workdir = opts->workdir;
        for (size_t i = 0; i < opts->env_count; ++i) {
            std::string e = str(opts->env[i]);
            auto eq = e.find('=');
            if (eq == std::string::npos || eq == 0)
                return set_error(NH_EINVAL, "invalid env entry '" + e.substr(0, e.find('=')) + "': expected NAME=VALUE");
            o.env.emplace_back(e.substr(0, eq), e.substr(eq + 1));
        }
        if (opts->resources_json) {
            o.resources = nlohmann::json::parse(opts->resources_json, nullptr, false);
            if (!o.resources.is_object())
                return set_error(NH_EINVAL, "resources_json is not a JSON object");
        }
        o.sidecar_image = str(opts->sidecar_image);
        if (opts->sync_port != 0) o.sync_port = opts->sync_port;
        if (opts->timeout_ms > 0) o.timeout = std::chrono::milliseconds(opts->timeout_ms);
        o.rollback_on_failure = opts->rollback_on_failure != 0;
        o.owner = str(opts->owner);
        if (opts->lease_duration_s > 0) o.lease_duration = std::chrono::seconds(opts->lease_duration_s);
        o.events = sink_of(opts->events, opts->payload);
        o.cancel = token_of(opts->cancel);
        nh::dev::Session s = nh::dev::start(*client->impl, o);
        std::unique_ptr<nh_session> session(make_session(client->impl, std::move(s)));
        if (opts->version >= 2 && opts->local_dir) {
            try {
                session->loop = nh::capi::start_loop(client, session.get(), opts->local_dir, opts->sync_options,
                                                     opts->timeout_ms, opts->cancel, opts->events, opts->payload);
            } catch (const nh::Error &e) {
                if (!o.rollback_on_failure) throw;
                // The workload must not stay in dev mode when the start as a whole failed.
                nh::dev::EndOptions eo;
                eo.kind = o.kind;
                eo.name = o.name;
                eo.ns = session->s.ns;
                eo.owner = o.owner;
                eo.events = o.events;
                try {
                    nh::dev::end(*client->impl, eo);
                } catch (const nh::Error &re) {
                    throw nh::Error(e.code(), std::string(e.what()) + "; rolling back failed too: " + re.what(),
                                    e.http_status(), e.reason());
                }
                throw nh::Error(e.code(), std::string(e.what()) + " (dev mode was rolled back)", e.http_status(),
                                e.reason());
            }
        }
        *out = session.release();
        return NH_OK;
    });
}

int nh_dev_end(int *out, nh_client *client, const char *kind, const char *name, const nh_dev_end_options *opts) {
    if (out) *out = NH_DEV_END_NOT_IN_DEV_MODE;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    nh_dev_end_options defaults = NH_DEV_END_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_DEV_END_OPTIONS_VERSION, "nh_dev_end_options")) return rc;
    return guard([&]() -> int {
        nh::dev::EndOptions o;
        o.kind = nh::dev::parse_kind(kind);
        o.name = name;
        o.ns = str(opts->namespace_name);
        // Stop this process's sync and forward of the workload before restoring it.
        nh::capi::stop_loops_for(o.ns.empty() ? client->impl->ns() : o.ns, nh::dev::kind_info(o.kind).name, name);
        o.owner = str(opts->owner);
        if (opts->timeout_ms > 0) o.timeout = std::chrono::milliseconds(opts->timeout_ms);
        if (opts->lease_duration_s > 0) o.lease_duration = std::chrono::seconds(opts->lease_duration_s);
        o.events = sink_of(opts->events, opts->payload);
        o.cancel = token_of(opts->cancel);
        nh::dev::EndResult r = nh::dev::end(*client->impl, o);
        if (out) {
            if (!r.was_in_dev_mode)
                *out = NH_DEV_END_NOT_IN_DEV_MODE;
            else if (r.workload_gone)
                *out = NH_DEV_END_WORKLOAD_GONE;
            else if (r.overwrote_changes)
                *out = NH_DEV_END_RESTORED_OVERWRITING;
            else
                *out = NH_DEV_END_RESTORED;
        }
        return NH_OK;
    });
}

int nh_dev_status(nh_buf *out, nh_client *client, const char *kind, const char *name,
                  const nh_dev_query_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    nh_dev_query_options defaults = NH_DEV_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_DEV_QUERY_OPTIONS_VERSION, "nh_dev_query_options")) return rc;
    return guard([&]() -> int {
        auto j = nh::dev::status(*client->impl, nh::dev::parse_kind(kind), str(opts->namespace_name), name,
                                 token_of(opts->cancel));
        buf_set(out, j.dump());
        return NH_OK;
    });
}

int nh_dev_list(nh_buf *out, nh_client *client, const nh_dev_query_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    nh_dev_query_options defaults = NH_DEV_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_DEV_QUERY_OPTIONS_VERSION, "nh_dev_query_options")) return rc;
    return guard([&]() -> int {
        std::string ns = opts->all_namespaces ? std::string()
                                              : (opts->namespace_name ? std::string(opts->namespace_name)
                                                                      : client->impl->ns());
        auto j = nh::dev::list(*client->impl, ns, token_of(opts->cancel));
        buf_set(out, j.dump());
        return NH_OK;
    });
}

int nh_dev_attach(nh_session **out, nh_client *client, const char *kind, const char *name,
                  const nh_dev_query_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    nh_dev_query_options defaults = NH_DEV_QUERY_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_DEV_QUERY_OPTIONS_VERSION, "nh_dev_query_options")) return rc;
    return guard([&]() -> int {
        auto k = nh::dev::parse_kind(kind);
        std::string ns = opts->namespace_name ? opts->namespace_name : client->impl->ns();
        auto s = nh::dev::find_session(*client->impl, k, ns, name, token_of(opts->cancel));
        if (!s)
            return set_error(NH_ENOTFOUND, std::string(nh::dev::kind_info(k).lower) + "/" + name + " in namespace " +
                                               ns + " is not in dev mode");
        *out = make_session(client->impl, std::move(*s));
        return NH_OK;
    });
}

void nh_session_free(nh_session *session) { delete session; }

int nh_session_sync_start(nh_session *session, nh_client *client, const char *local_dir,
                          const struct nh_sync_options *sync_options, long timeout_ms, nh_cancel *cancel,
                          nh_dev_event_cb events, void *payload) {
    NH_CHECK_ARG(session);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(local_dir && *local_dir);
    if (session->loop) return set_error(NH_ESTATE, "this session already syncs a local directory");
    return guard([&]() -> int {
        session->loop = nh::capi::start_loop(client, session, local_dir, sync_options, timeout_ms, cancel, events,
                                             payload);
        return NH_OK;
    });
}

struct nh_sync *nh_session_sync(nh_session *session) {
    return session && session->loop ? session->loop->sync() : nullptr;
}

void nh_session_sync_stop(nh_session *session) {
    if (session) session->loop.reset();
}

const char *nh_session_kind(const nh_session *session) { return session ? session->kind.c_str() : ""; }
const char *nh_session_name(const nh_session *session) { return cstr(session, &nh::dev::Session::name); }
const char *nh_session_namespace(const nh_session *session) { return cstr(session, &nh::dev::Session::ns); }
const char *nh_session_pod_name(const nh_session *session) { return cstr(session, &nh::dev::Session::pod_name); }
const char *nh_session_container(const nh_session *session) { return cstr(session, &nh::dev::Session::container); }
const char *nh_session_sidecar_container(const nh_session *session) {
    return session ? nh::dev::kSidecarName : "";
}
const char *nh_session_workdir(const nh_session *session) { return cstr(session, &nh::dev::Session::workdir); }
const char *nh_session_owner(const nh_session *session) { return cstr(session, &nh::dev::Session::owner); }
const char *nh_session_since(const nh_session *session) { return cstr(session, &nh::dev::Session::since); }
const char *nh_session_token(const nh_session *session) { return cstr(session, &nh::dev::Session::token); }
int nh_session_sync_port(const nh_session *session) { return session ? session->s.sync_port : 0; }

int nh_session_status(nh_buf *out, const nh_session *session) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(session);
    return guard([&]() -> int {
        buf_set(out, session->s.to_json().dump());
        return NH_OK;
    });
}

int nh_session_refresh(nh_session *session, nh_cancel *cancel) {
    NH_CHECK_ARG(session);
    return guard([&]() -> int {
        nh::dev::refresh_pod(*session->client, session->s, token_of(cancel));
        return NH_OK;
    });
}

}  // extern "C"
