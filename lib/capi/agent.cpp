// nh_agent_*: syncs and port-forwards held by the per-user agent (lib/agent, tools/nhagent).
#include <filesystem>
#include <iterator>
#include <string_view>

#include "agent/client.hpp"
#include "agent/proto.hpp"
#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "capi/session.hpp"

using namespace nh::capi;
using json = nlohmann::json;

namespace {

std::string str(const char *s) { return s ? s : ""; }

nh::agent::ClientOptions client_options(const nh_agent_options *o, long default_timeout_ms) {
    nh::agent::ClientOptions c;
    c.dir = str(o->dir);
    c.agent_path = str(o->agent_path);
    c.timeout = std::chrono::milliseconds(o->timeout_ms > 0 ? o->timeout_ms : default_timeout_ms);
    return c;
}

// How the agent makes its own client of the same cluster, user and namespace as `client`.
json client_spec(const nh_client *client, const nh_agent_options *o, const std::string &ns) {
    json spec = {{"context", client->impl->config().context_name}, {"namespace", ns}};
    if (o->kubeconfig_data) {
        spec["kubeconfig_data"] = o->kubeconfig_data;
    } else if (client->from_data) {
        throw nh::Error(NH_EINVAL, "invalid argument: the client was made from kubeconfig data, which the library "
                                   "does not keep; give it again as opts->kubeconfig_data for the agent");
    } else {
        // Absolute: the agent runs from another directory than this process.
        std::string paths;
        std::string_view rest = client->kubeconfig_paths;
        while (!rest.empty()) {
            size_t colon = rest.find(':');
            std::string_view one = rest.substr(0, colon);
            if (!one.empty()) {
                std::error_code ec;
                auto abs = std::filesystem::absolute(std::filesystem::path(one), ec);
                paths += (paths.empty() ? "" : ":") + (ec ? std::string(one) : abs.string());
            }
            rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
        }
        spec["kubeconfig"] = paths;
    }
    return spec;
}

int check_options(const nh_agent_options *&opts, const nh_agent_options &defaults) {
    if (!opts) opts = &defaults;
    return check_version(opts->version, NH_AGENT_OPTIONS_VERSION, "nh_agent_options");
}

constexpr long kDefaultTimeoutMs = 60000;
constexpr long kDetachTimeoutMs = 300000;

}  // namespace

extern "C" {

static constexpr std::size_t kAgentOptionsSizes[] = {sizeof(nh_agent_options)};
static_assert(std::size(kAgentOptionsSizes) == NH_AGENT_OPTIONS_VERSION, "one size per version of nh_agent_options");

int nh_agent_options_init(nh_agent_options *opts, unsigned int version) {
    return init_options(opts, version, nh_agent_options NH_AGENT_OPTIONS_INIT, kAgentOptionsSizes, "nh_agent_options");
}

int nh_agent_detach(nh_buf *out, nh_session *session, nh_client *client, const nh_agent_options *opts) {
    NH_CHECK_ARG(session);
    NH_CHECK_ARG(client);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    return guard([&]() -> int {
        json spec = session_handoff(session);
        const json cs = client_spec(client, opts, spec["namespace"]);
        spec.update(cs);
        const auto co = client_options(opts, kDetachTimeoutMs);
        // The agent's directory is checked before this process lets go of the sync.
        (void)nh::agent::agent_dir(co.dir);
        // One sync of a directory at a time: this one stops (saving its index) before the
        // agent's resumes from that index.
        session_stop_loop(session);
        json r = nh::agent::call({{"op", "detach"}, {"spec", spec}}, co, nh::agent::Start::Always);
        if (out) buf_set(out, r.value("id", std::string()));
        return NH_OK;
    });
}

int nh_agent_forward_start(nh_buf *out, nh_client *client, const char *target, const char *const *ports,
                           const nh_agent_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target && *target);
    NH_CHECK_ARG(ports && ports[0]);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    json list = json::array();
    for (size_t i = 0; ports[i]; ++i) {
        if (std::string why = nh::agent::privileged_port_error(ports[i]); !why.empty()) return set_error(NH_EINVAL, why);
        list.push_back(ports[i]);
    }
    return guard([&]() -> int {
        json spec = client_spec(client, opts, opts->namespace_name ? opts->namespace_name : client->impl->ns());
        spec["target"] = target;
        spec["ports"] = list;
        json r = nh::agent::call({{"op", "forward"}, {"spec", spec}}, client_options(opts, kDefaultTimeoutMs),
                                 nh::agent::Start::Always);
        if (out) buf_set(out, r.value("id", std::string()));
        return NH_OK;
    });
}

int nh_agent_list(nh_buf *out, const nh_agent_options *opts) {
    NH_CHECK_ARG(out);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    return guard([&]() -> int {
        json r = nh::agent::call({{"op", "list"}}, client_options(opts, kDefaultTimeoutMs), nh::agent::Start::IfSaved,
                                 json::array());
        buf_set(out, r.dump());
        return NH_OK;
    });
}

int nh_agent_status(nh_buf *out, const char *id, const nh_agent_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(id && *id);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    return guard([&]() -> int {
        json r = nh::agent::call({{"op", "status"}, {"id", id}}, client_options(opts, kDefaultTimeoutMs),
                                 nh::agent::Start::IfSaved);
        if (r.is_null()) return set_error(NH_ENOTFOUND, std::string("the agent holds no item ") + id + " (no agent runs)");
        buf_set(out, r.dump());
        return NH_OK;
    });
}

int nh_agent_stop(const char *id, const nh_agent_options *opts) {
    NH_CHECK_ARG(id && *id);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    return guard([&]() -> int {
        json r = nh::agent::call({{"op", "stop"}, {"id", id}}, client_options(opts, kDefaultTimeoutMs),
                                 nh::agent::Start::IfSaved);
        if (r.is_null()) return set_error(NH_ENOTFOUND, std::string("the agent holds no item ") + id + " (no agent runs)");
        return NH_OK;
    });
}

int nh_agent_info(nh_buf *out, const nh_agent_options *opts) {
    NH_CHECK_ARG(out);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    return guard([&]() -> int {
        buf_set(out, nh::agent::info(client_options(opts, kDefaultTimeoutMs)).dump());
        return NH_OK;
    });
}

}  // extern "C"

int nh_agent_reattach(nh_session **out, nh_client *client, const char *id, const nh_session_sync_options *sync_opts,
                      const nh_agent_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(id && *id);
    const nh_agent_options defaults = NH_AGENT_OPTIONS_INIT;
    if (int rc = check_options(opts, defaults)) return rc;
    const nh_session_sync_options sync_defaults = NH_SESSION_SYNC_OPTIONS_INIT;
    if (!sync_opts) sync_opts = &sync_defaults;
    if (int rc = check_version(sync_opts->version, NH_SESSION_SYNC_OPTIONS_VERSION, "nh_session_sync_options")) return rc;
    const auto co = client_options(opts, kDefaultTimeoutMs);
    json spec;
    if (int rc = guard([&]() -> int {
            json r = nh::agent::call({{"op", "release"}, {"id", id}}, co, nh::agent::Start::IfSaved);
            if (r.is_null()) return set_error(NH_ENOTFOUND, std::string("the agent holds no item ") + id + " (no agent runs)");
            spec = r["spec"];
            return NH_OK;
        }))
        return rc;
    // The sync starts here from the index the agent's sync saved as it stopped.
    const std::string kind = spec.value("kind", ""), name = spec.value("name", ""), dir = spec.value("local_dir", "");
    const std::string ns = spec.value("namespace", ""), developer = spec.value("developer", "");
    nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
    q.namespace_name = ns.c_str();
    q.mode = spec.value("mode", 0);
    q.developer = developer.empty() ? nullptr : developer.c_str();
    nh::agent::SyncSettings recorded(spec["sync"]);
    nh_session_sync_options so = *sync_opts;
    if (!so.sync_options) so.sync_options = &recorded.options;
    nh_session *session = nullptr;
    int rc = nh_dev_attach(&session, client, kind.c_str(), name.c_str(), &q);
    if (rc == NH_OK) rc = nh_session_sync_start_v2(session, client, dir.c_str(), &so);
    if (rc == NH_OK) {
        *out = session;
        return NH_OK;
    }
    nh_session_free(session);
    // Nothing may be lost: the agent takes the sync back.
    std::string why = nh_error_last()->message;
    int code = rc;
    std::string back;
    guard([&]() -> int {
        json r = nh::agent::call({{"op", "detach"}, {"spec", spec}}, client_options(opts, kDetachTimeoutMs),
                                 nh::agent::Start::Always);
        back = " (the agent syncs it again as " + r.value("id", std::string()) + ")";
        return NH_OK;
    });
    if (back.empty()) back = std::string(" (handing it back to the agent failed too: ") + nh_error_last()->message + ")";
    return set_error(code, why + back);
}
