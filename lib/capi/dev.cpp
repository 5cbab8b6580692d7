// nh_dev_* and nh_session_*: dev mode through the C ABI (the policy is in lib/dev and lib/loop).
#include <cstring>
#include <iterator>
#include <optional>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "capi/session.hpp"
#include "capi/sync.hpp"
#include "dev/access_check.hpp"
#include "dev/config.hpp"
#include "dev/lease.hpp"
#include "dev/session.hpp"
#include "loop/loop.hpp"
#include "traffic/routing.hpp"

using namespace nh::capi;

struct nh_session {
    std::shared_ptr<nh::kube::Client> client;
    nh::dev::Session s;
    std::string kind;
    std::string target;  // nh_session_target()
    std::unique_ptr<nh::loop::Traffic> traffic;  // local mode's tunnel and the Service forwards
    std::unique_ptr<nh::loop::Loop> loop;  // the whole loop, when a local dir syncs
    nh_sync sync;                          // lends the loop's sync to nh_session_sync()
    std::string syncd_dir;  // the start's option: where the nhsyncd binaries to upload are ("": the default)

    // The settings of the last loop it ran, for nh_agent_detach() after nh_session_sync_stop().
    std::optional<nh::sync::ClientOptions> last_sync;

    void set_loop(std::unique_ptr<nh::loop::Loop> l) {
        if (loop) last_sync = loop->settings();
        loop = std::move(l);
        sync.client = loop ? loop->sync() : nullptr;
    }
};

namespace {

std::string str(const char *s) { return s ? s : ""; }

nh::dev::EventSink sink_of(nh_dev_event_cb cb, void *payload) {
    if (!cb) return {};
    return [cb, payload](const nh::dev::Event &e) {
        std::string detail = e.detail.is_null() ? std::string() : e.detail.dump();
        return cb(static_cast<int>(e.type), nh::dev::phase_name(e.phase), e.message.c_str(),
                  e.detail.is_null() ? nullptr : detail.c_str(), payload) == 0;
    };
}

// The kind named by `kind`, custom kinds with their paths.
nh::dev::WorkloadKind workload_kind_of(const char *kind, const char *api_version, const char *template_path,
                                       const char *replicas_path) {
    nh::dev::WorkloadKind k = nh::dev::parse_workload_kind(kind);
    if (k.kind != nh::dev::Kind::Custom) return k;
    if (api_version && *api_version) k.group_version = api_version;
    if (template_path) k.template_path = template_path;
    if (replicas_path) k.replicas_path = replicas_path;
    return k;
}

nh::dev::Mode mode_of(int mode) {
    if (mode == NH_DEV_MODE_REPLACE) return nh::dev::Mode::Replace;
    if (mode == NH_DEV_MODE_DUPLICATE) return nh::dev::Mode::Duplicate;
    throw nh::Error(NH_EINVAL, "unknown dev mode " + std::to_string(mode) +
                                   " (valid: NH_DEV_MODE_REPLACE, NH_DEV_MODE_DUPLICATE)");
}

// The start options of the C struct, with the Nocalhost dev config merged in (explicit
// options win); `resolved` gets the effective config.
nh::dev::StartOptions start_options_of(nh_client *client, const char *kind, const char *name,
                                       const nh_dev_start_options *opts, nlohmann::json *resolved) {
    nh::dev::StartOptions o;
    nh::dev::WorkloadKind wk = nh::dev::parse_workload_kind(kind);
    o.kind = wk;
    o.name = name;
    o.ns = str(opts->namespace_name);
    o.container = str(opts->container);
    if (opts->image) o.image = opts->image;
    bool workdir_given = opts->workdir != nullptr;
    if (opts->workdir) o.workdir = opts->workdir;
    for (size_t i = 0; i < opts->env_count; ++i) {
        std::string e = str(opts->env[i]);
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0)
            throw nh::Error(NH_EINVAL, "invalid env entry '" + e.substr(0, e.find('=')) + "': expected NAME=VALUE");
        o.env.emplace_back(e.substr(0, eq), e.substr(eq + 1));
    }
    if (opts->resources_json) {
        o.resources = nlohmann::json::parse(opts->resources_json, nullptr, false);
        if (!o.resources.is_object()) throw nh::Error(NH_EINVAL, "resources_json is not a JSON object");
    }
    o.sidecar_image = str(opts->sidecar_image);
    if (opts->sync_port != 0) o.sync_port = opts->sync_port;
    if (opts->timeout_ms > 0) o.timeout = std::chrono::milliseconds(opts->timeout_ms);
    o.rollback_on_failure = opts->rollback_on_failure != 0;
    o.owner = str(opts->owner);
    if (opts->lease_duration_s > 0) o.lease_duration = std::chrono::seconds(opts->lease_duration_s);
    nh::dev::ConfigSources src;
    if (opts->version >= 2) {
        o.mode = mode_of(opts->mode);
        o.developer = str(opts->developer);
        if (wk.kind == nh::dev::Kind::Custom)
            o.kind = workload_kind_of(kind, opts->api_version, opts->pod_template_path, opts->replicas_path);
        o.image_pull_policy = str(opts->image_pull_policy);
        if (opts->patches_json) o.patches = nh::dev::parse_patches(opts->patches_json, "patches_json");
        if (opts->persistent_dirs_json)
            o.persistent_dirs = nh::dev::parse_persistent_dirs(opts->persistent_dirs_json, "persistent_dirs_json");
        src.config_path = str(opts->config_path);
        src.app_name = str(opts->app_name);
        src.use_cluster = opts->ignore_cluster_config == 0;
        if (opts->version >= 3) o.patch_errors_fatal = opts->patch_errors_fatal != 0;
        if (opts->version >= 4) o.sidecar_base_image = str(opts->sidecar_base_image);
        if (opts->version >= 5) {
            o.local = opts->local != 0;
            for (size_t i = 0; i < opts->local_ports_count; ++i)
                o.local_ports.push_back(nh::dev::parse_local_port(str(opts->local_ports[i])));
            if (opts->headers_count > 0 && !opts->headers) throw nh::Error(NH_EINVAL, "headers is NULL but headers_count is not 0");
            for (size_t i = 0; i < opts->headers_count; ++i) {
                if (!opts->headers[i]) throw nh::Error(NH_EINVAL, "headers[" + std::to_string(i) + "] is NULL");
                o.headers.emplace_back(opts->headers[i]);
            }
            o.router = str(opts->router);
        }
    } else {
        src.use_cluster = false;
    }
    nlohmann::json r = nh::dev::apply_nocalhost_config(*client->impl, src, o, workdir_given);
    if (resolved) *resolved = r;
    return o;
}

const nh_dev_query_options kQueryDefaults = NH_DEV_QUERY_OPTIONS_INIT;

// `opts`, or the defaults when NULL; NH_OK or the version error (already set).
int query_options(const nh_dev_query_options *&opts) {
    if (!opts) opts = &kQueryDefaults;
    return check_version(opts->version, NH_DEV_QUERY_OPTIONS_VERSION, "nh_dev_query_options");
}

// Which session `kind`/`name` and the query options mean; `ns` "" lets the call decide.
nh::dev::Query query_of(const char *kind, const char *name, const nh_dev_query_options *opts, std::string ns) {
    nh::dev::Query q;
    q.kind = nh::dev::parse_workload_kind(kind);
    q.ns = std::move(ns);
    q.name = name;
    if (opts->version >= 2) {
        q.mode = mode_of(opts->mode);
        q.developer = str(opts->developer);
    }
    return q;
}

// The loop's options of the C arguments (sync_options already checked).
nh::loop::Options loop_options_of(const char *local_dir, const nh_sync_options *sync_options, long timeout_ms,
                                  nh_cancel *cancel, nh_dev_event_cb events, void *payload,
                                  const std::string &syncd_dir) {
    nh::loop::Options o;
    o.local_dir = local_dir;
    o.sync = sync_options_of(sync_options, &o.sync_events);
    if (timeout_ms > 0) o.timeout = std::chrono::milliseconds(timeout_ms);
    o.cancel = token_of(cancel);
    o.events = sink_of(events, payload);
    o.syncd_dir = syncd_dir;
    return o;
}

std::unique_ptr<nh_session> make_session(const std::shared_ptr<nh::kube::Client> &client, nh::dev::Session s) {
    auto out = std::make_unique<nh_session>();
    out->client = client;
    out->kind = s.kind.name;
    out->target = s.target();
    out->s = std::move(s);
    return out;
}

const char *cstr(const nh_session *s, const std::string nh::dev::Session::*field) {
    return s ? (s->s.*field).c_str() : "";
}

}  // namespace

extern "C" {

const char *nh_dev_phase_name(int phase) {
    if (phase < 1 || phase > static_cast<int>(nh::dev::kLastPhase)) return "unknown";
    return nh::dev::phase_name(static_cast<nh::dev::Phase>(phase));
}

const char *nh_dev_default_sidecar_image(void) {
    static const std::string image = nh::dev::default_sidecar_image();
    return image.c_str();
}

int nh_dev_default_identity(nh_buf *out) {
    NH_CHECK_ARG(out);
    return guard([&] {
        buf_set(out, nh::dev::default_identity());
        return NH_OK;
    });
}

static constexpr std::size_t kDevStartOptionsSizes[] = {offsetof(nh_dev_start_options, local_dir),
                                                         offsetof(nh_dev_start_options, patch_errors_fatal),
                                                         offsetof(nh_dev_start_options, sidecar_base_image),
                                                         offsetof(nh_dev_start_options, local),
                                                         sizeof(nh_dev_start_options)};
static_assert(std::size(kDevStartOptionsSizes) == NH_DEV_START_OPTIONS_VERSION, "one size per version of nh_dev_start_options");

int nh_dev_start_options_init(nh_dev_start_options *opts, unsigned int version) {
    return init_options(opts, version, nh_dev_start_options NH_DEV_START_OPTIONS_INIT, kDevStartOptionsSizes, "nh_dev_start_options");
}

static constexpr std::size_t kDevEndOptionsSizes[] = {offsetof(nh_dev_end_options, mode), offsetof(nh_dev_end_options, force),
                                                       sizeof(nh_dev_end_options)};
static_assert(std::size(kDevEndOptionsSizes) == NH_DEV_END_OPTIONS_VERSION, "one size per version of nh_dev_end_options");

int nh_dev_end_options_init(nh_dev_end_options *opts, unsigned int version) {
    return init_options(opts, version, nh_dev_end_options NH_DEV_END_OPTIONS_INIT, kDevEndOptionsSizes, "nh_dev_end_options");
}

static constexpr std::size_t kDevQueryOptionsSizes[] = {offsetof(nh_dev_query_options, mode), sizeof(nh_dev_query_options)};
static_assert(std::size(kDevQueryOptionsSizes) == NH_DEV_QUERY_OPTIONS_VERSION, "one size per version of nh_dev_query_options");

int nh_dev_query_options_init(nh_dev_query_options *opts, unsigned int version) {
    return init_options(opts, version, nh_dev_query_options NH_DEV_QUERY_OPTIONS_INIT, kDevQueryOptionsSizes, "nh_dev_query_options");
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
    NH_CHECK_ARG(opts->version >= 2 || (opts->image && *opts->image));
    NH_CHECK_ARG(opts->env_count == 0 || opts->env);
    NH_CHECK_ARG(opts->version < 5 || opts->local_ports_count == 0 || opts->local_ports);
    NH_CHECK_ARG(opts->version < 5 || opts->forwards_count == 0 || opts->forwards);
    if (opts->version >= 2 && opts->local_dir)
        if (int rc = check_sync_options(opts->sync_options, true)) return rc;
    return guard([&]() -> int {
        nh::dev::StartOptions o = start_options_of(client, kind, name, opts, nullptr);
        if (o.image.empty() && !o.local)
            return set_error(NH_EINVAL, "no dev image: give one, or a Nocalhost dev config with containers[].dev.image");
        std::optional<nh::loop::TrafficOptions> traffic;
        if (o.local || (opts->version >= 5 && opts->forwards_count > 0)) {
            traffic.emplace();
            traffic->local = o.local;
            for (size_t i = 0; i < opts->forwards_count; ++i)
                traffic->forwards.push_back(nh::loop::parse_service_forward(str(opts->forwards[i])));
            if (opts->timeout_ms > 0) traffic->timeout = std::chrono::milliseconds(opts->timeout_ms);
            traffic->syncd_dir = opts->version >= 4 ? str(opts->syncd_dir) : std::string();
            traffic->events = sink_of(opts->events, opts->payload);
            traffic->cancel = token_of(opts->cancel);
        }
        o.events = sink_of(opts->events, opts->payload);
        o.cancel = token_of(opts->cancel);
        const std::string syncd_dir = opts->version >= 4 ? str(opts->syncd_dir) : std::string();
        std::optional<nh::loop::Options> lo;
        if (opts->version >= 2 && opts->local_dir)
            lo = loop_options_of(opts->local_dir, opts->sync_options, opts->timeout_ms, opts->cancel, opts->events,
                                 opts->payload, syncd_dir);
        nh::loop::Started started = nh::loop::start_dev(client->impl, o, std::move(lo), std::move(traffic));
        std::unique_ptr<nh_session> session = make_session(client->impl, std::move(started.session));
        session->traffic = std::move(started.traffic);
        session->syncd_dir = syncd_dir;
        session->set_loop(std::move(started.loop));
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
        o.kind = nh::dev::parse_workload_kind(kind);
        if (opts->version >= 2) {
            o.mode = mode_of(opts->mode);
            o.developer = str(opts->developer);
        }
        if (opts->version >= 3) o.force = opts->force != 0;
        o.name = name;
        o.ns = str(opts->namespace_name);
        o.owner = str(opts->owner);
        if (opts->timeout_ms > 0) o.timeout = std::chrono::milliseconds(opts->timeout_ms);
        if (opts->lease_duration_s > 0) o.lease_duration = std::chrono::seconds(opts->lease_duration_s);
        o.events = sink_of(opts->events, opts->payload);
        o.cancel = token_of(opts->cancel);
        // This process's sync and forwards of the session stop before the workload is restored.
        nh::dev::EndResult r = nh::loop::end_dev(*client->impl, o);
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
    if (int rc = query_options(opts)) return rc;
    return guard([&]() -> int {
        nh::dev::Query q = query_of(kind, name, opts, str(opts->namespace_name));
        auto j = nh::dev::status(*client->impl, q, token_of(opts->cancel));
        buf_set(out, j.dump());
        return NH_OK;
    });
}

int nh_dev_list(nh_buf *out, nh_client *client, const nh_dev_query_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    if (int rc = query_options(opts)) return rc;
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
    if (int rc = query_options(opts)) return rc;
    return guard([&]() -> int {
        nh::dev::Query q = query_of(kind, name, opts, opts->namespace_name ? opts->namespace_name : client->impl->ns());
        auto s = nh::dev::find_session(*client->impl, q, token_of(opts->cancel));
        if (!s)
            return set_error(NH_ENOTFOUND, q.kind.lower + "/" + name + " in namespace " + q.ns +
                                               (q.mode == nh::dev::Mode::Duplicate ? " has no duplicate of this developer"
                                                                                   : " is not in dev mode"));
        *out = make_session(client->impl, std::move(*s)).release();
        return NH_OK;
    });
}

int nh_dev_config_resolve(nh_buf *out, nh_client *client, const char *kind, const char *name,
                          const nh_dev_start_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    nh_dev_start_options defaults = NH_DEV_START_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_DEV_START_OPTIONS_VERSION, "nh_dev_start_options")) return rc;
    return guard([&]() -> int {
        nlohmann::json resolved;
        start_options_of(client, kind, name, opts, &resolved);
        buf_set(out, resolved.dump());
        return NH_OK;
    });
}

int nh_dev_pvc_list(nh_buf *out, nh_client *client, const char *kind, const char *name,
                    const nh_dev_query_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG((kind == nullptr) == (name == nullptr));
    if (int rc = query_options(opts)) return rc;
    return guard([&]() -> int {
        std::optional<nh::dev::WorkloadKind> k;
        if (kind) k = nh::dev::parse_workload_kind(kind);
        auto j = nh::dev::pvc_list(*client->impl, str(opts->namespace_name), k ? &*k : nullptr, str(name),
                                   token_of(opts->cancel));
        buf_set(out, j.dump());
        return NH_OK;
    });
}

int nh_dev_pvc_delete(nh_buf *out, nh_client *client, const char *kind, const char *name, const char *claim,
                      const nh_dev_query_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    if (int rc = query_options(opts)) return rc;
    return guard([&]() -> int {
        auto names = nh::dev::pvc_delete(*client->impl, str(opts->namespace_name), nh::dev::parse_workload_kind(kind),
                                         name, str(claim), token_of(opts->cancel));
        if (out) buf_set(out, nlohmann::json(names).dump());
        return NH_OK;
    });
}

void nh_session_free(nh_session *session) { delete session; }

static constexpr std::size_t kSessionSyncOptionsSizes[] = {sizeof(nh_session_sync_options)};
static_assert(std::size(kSessionSyncOptionsSizes) == NH_SESSION_SYNC_OPTIONS_VERSION,
              "one size per version of nh_session_sync_options");

int nh_session_sync_options_init(nh_session_sync_options *opts, unsigned int version) {
    return init_options(opts, version, nh_session_sync_options NH_SESSION_SYNC_OPTIONS_INIT, kSessionSyncOptionsSizes,
                        "nh_session_sync_options");
}

int nh_session_sync_start_v2(nh_session *session, nh_client *client, const char *local_dir,
                             const nh_session_sync_options *opts) {
    NH_CHECK_ARG(session);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(local_dir && *local_dir);
    const nh_session_sync_options defaults = NH_SESSION_SYNC_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_SESSION_SYNC_OPTIONS_VERSION, "nh_session_sync_options")) return rc;
    if (session->loop) return set_error(NH_ESTATE, "this session already syncs a local directory");
    if (int rc = check_sync_options(opts->sync_options, true)) return rc;
    return guard([&]() -> int {
        session->set_loop(nh::loop::start(session->client, session->s,
                                          loop_options_of(local_dir, opts->sync_options, opts->timeout_ms, opts->cancel,
                                                          opts->events, opts->payload, session->syncd_dir)));
        return NH_OK;
    });
}

int nh_session_sync_start(nh_session *session, nh_client *client, const char *local_dir,
                          const struct nh_sync_options *sync_options, long timeout_ms, nh_cancel *cancel,
                          nh_dev_event_cb events, void *payload) {
    nh_session_sync_options o = NH_SESSION_SYNC_OPTIONS_INIT;
    o.sync_options = sync_options;
    o.timeout_ms = timeout_ms;
    o.cancel = cancel;
    o.events = events;
    o.payload = payload;
    return nh_session_sync_start_v2(session, client, local_dir, &o);
}

struct nh_sync *nh_session_sync(nh_session *session) {
    return session && session->loop ? &session->sync : nullptr;
}

void nh_session_sync_stop(nh_session *session) {
    if (session) session->set_loop(nullptr);
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
int nh_session_mode(const nh_session *session) {
    return session && session->s.mode == nh::dev::Mode::Duplicate ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE;
}
const char *nh_session_workload(const nh_session *session) { return cstr(session, &nh::dev::Session::generated); }
const char *nh_session_target(const nh_session *session) { return session ? session->target.c_str() : ""; }
const char *nh_session_developer(const nh_session *session) {
    return session && session->s.mode == nh::dev::Mode::Duplicate ? session->s.developer.c_str() : "";
}

int nh_session_status(nh_buf *out, const nh_session *session) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(session);
    return guard([&]() -> int {
        nlohmann::json j = session->s.to_json();
        if (session->loop) j["port_forwards"] = session->loop->forwards();
        if (session->traffic) {
            auto t = session->traffic->status();
            j["service_forwards"] = t["forwards"];
            if (!t["hosts_file"].get<std::string>().empty()) {
                j["hosts_file"] = t["hosts_file"];
                j["env_file"] = t["env_file"];
            }
        }
        buf_set(out, j.dump());
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

namespace {

// The rights of a start with `opts` (NULL: defaults), and its namespace.
std::vector<nh::dev::Right> rights_of(nh_client *client, const char *kind, const char *name,
                                      const nh_dev_start_options *opts, std::string *ns) {
    nh::dev::StartOptions o;
    try {
        o = start_options_of(client, kind, name, opts, nullptr);
    } catch (const nh::Error &e) {
        // An identity that may not read the workload still learns what it lacks: the rights
        // are then worked out without the dev config kept in the cluster.
        if (e.code() != NH_EFORBIDDEN || opts->version < 2 || opts->ignore_cluster_config) throw;
        nh_dev_start_options local = NH_DEV_START_OPTIONS_INIT;  // the caller's version only: never read past it
        std::memcpy(static_cast<void *>(&local), opts, kDevStartOptionsSizes[opts->version - 1]);
        local.ignore_cluster_config = 1;
        o = start_options_of(client, kind, name, &local, nullptr);
    }
    const nh::dev::WorkloadKind &k = o.kind;
    if (ns) *ns = o.ns.empty() ? client->impl->ns() : o.ns;
    std::string route_group;
    if (!o.headers.empty()) {
        // The router the start would pick; one the cluster does not serve still lists the rights
        // of the one asked for (Istio's for "auto").
        try {
            route_group = nh::traffic::router_group(nh::traffic::resolve_router(*client->impl, o.router, token_of(opts->cancel)));
        } catch (const nh::Error &e) {
            if (e.code() != NH_ESTATE) throw;
            route_group = o.router == "gateway-api" ? nh::traffic::kGatewayGroup : nh::traffic::kIstioGroup;
        }
    }
    return nh::dev::required_rights(k, o.mode, !o.persistent_dirs.empty(), !o.patches.empty(), route_group);
}

}  // namespace

#define NH_DEV_RIGHTS_ARGS(opts)                                                                         \
    NH_CHECK_ARG(out);                                                                                    \
    NH_CHECK_ARG(client);                                                                                 \
    NH_CHECK_ARG(kind && *kind);                                                                          \
    NH_CHECK_ARG(name && *name);                                                                          \
    nh_dev_start_options defaults_ = NH_DEV_START_OPTIONS_INIT;                                           \
    if (!(opts)) (opts) = &defaults_;                                                                     \
    if (int rc = check_version((opts)->version, NH_DEV_START_OPTIONS_VERSION, "nh_dev_start_options")) return rc

int nh_dev_required_rights(nh_buf *out, nh_client *client, const char *kind, const char *name,
                           const nh_dev_start_options *opts) {
    NH_DEV_RIGHTS_ARGS(opts);
    return guard([&]() -> int {
        buf_set(out, nh::dev::rights_rules(rights_of(client, kind, name, opts, nullptr)).dump());
        return NH_OK;
    });
}

int nh_dev_access_check(nh_buf *out, nh_client *client, const char *kind, const char *name,
                        const nh_dev_start_options *opts) {
    NH_DEV_RIGHTS_ARGS(opts);
    return guard([&]() -> int {
        std::string ns;
        auto rights = rights_of(client, kind, name, opts, &ns);
        nh::dev::AccessReport r = nh::dev::review_access(*client->impl, ns, rights, token_of(opts->cancel));
        nlohmann::json result = {{"checked", r.checked},
                       {"reason", r.checked ? nlohmann::json(nullptr) : nlohmann::json(r.unchecked_reason)},
                       {"missing", r.missing},
                       {"rules", nh::dev::rights_rules(rights)}};
        buf_set(out, result.dump());
        return NH_OK;
    });
}

}  // extern "C"

nlohmann::json nh::capi::session_handoff(const nh_session *session) {
    if (!session->loop && !session->last_sync)
        throw nh::Error(NH_ESTATE, "the session has synced nothing: start its sync first (nh_session_sync_start_v2)");
    const nh::sync::ClientOptions &o = session->loop ? session->loop->settings() : *session->last_sync;
    return {{"kind", session->s.kind.lower},
            {"name", session->s.name},
            {"namespace", session->s.ns},
            {"mode", static_cast<int>(session->s.mode)},
            {"developer", session->s.developer},
            {"local_dir", o.local_dir},
            {"syncd_dir", session->syncd_dir},
            {"sync",
             {{"mode", static_cast<int>(o.mode)},
              {"ignore", o.ignore.patterns},
              {"include", o.ignore.include_patterns},
              {"gitignore", o.ignore.use_gitignore},
              {"delete_protection", o.delete_protection},
              {"state_dir", o.state_dir},
              {"compression", static_cast<int>(o.compression)},
              {"connect_timeout_ms", o.connect_timeout_ms},
              {"max_backoff_ms", o.max_backoff_ms}}}};
}

void nh::capi::session_stop_loop(nh_session *session) { session->set_loop(nullptr); }
