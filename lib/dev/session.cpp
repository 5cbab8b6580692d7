// Dev mode's sessions: the names and phases, the session's status, and the queries (find,
// status, list). Start, end and the rest live beside it (see session_internal.hpp).
#include "dev/session.hpp"

#include "common/log.hpp"
#include "dev/lease.hpp"
#include "dev/session_internal.hpp"
#include "dev/wait.hpp"
#include "kube/objects.hpp"
#include "traffic/routing.hpp"

namespace nh::dev {

std::string what_of(const WorkloadKind &k, const std::string &ns, const std::string &name, Mode mode,
                    const std::string &developer) {
    std::string w = (k.builtin() ? k.lower : k.name) + "/" + name + " in namespace " + ns;
    if (mode == Mode::Duplicate) w += " (duplicate of " + developer + ")";
    return w;
}
void emit(const EventSink &sink, EventType type, Phase phase, const std::string &message, json detail) {
    log::debug(std::string("dev: ") + phase_name(phase) + ": " + message);
    if (!sink) return;
    if (!sink(Event{type, phase, message, std::move(detail)}))
        throw Error(NH_ECANCELLED, "dev mode operation stopped by the events callback");
}

std::function<void(const std::string &, bool)> lock_progress(const EventSink &sink) {
    return [&sink](const std::string &message, bool waiting) {
        emit(sink, waiting ? EventType::Phase : EventType::Info, Phase::Lock, message);
    };
}

bool scalable(const WorkloadKind &k) {
    return k.in_place() || (k.kind == Kind::Custom && !k.replicas_path.empty());
}

json find_hpas(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
               CancelToken *cancel) {
    json out = json::array();
    json list = c.get(hpa_path(ns), cancel);
    for (const auto &h : list.value("items", json::array())) {
        const json ref = h.value("spec", json::object()).value("scaleTargetRef", json::object());
        if (ref.value("kind", "") != k.name || ref.value("name", "") != name) continue;
        if (!k.builtin() && api_group(ref.value("apiVersion", "")) != api_group(k.group_version)) continue;
        json cleaned = clean_object(h);
        cleaned["apiVersion"] = "autoscaling/v2";
        cleaned["kind"] = "HorizontalPodAutoscaler";
        out.push_back(cleaned);
    }
    return out;
}
namespace {

void add_lock_state(kube::Client &c, Session &s, CancelToken *cancel) {
    auto lease = get_optional(c, lease_path(s.ns, s.object_name), cancel);
    if (!lease || !dead_holder(*lease).empty()) return;
    const json spec = (*lease).value("spec", json::object());
    double renewed = parse_rfc3339(spec.value("renewTime", spec.value("acquireTime", "")));
    double left = renewed + static_cast<double>(spec.value("leaseDurationSeconds", 0L)) - now_seconds();
    if (left <= 0) return;
    s.lock_holder = spec.value("holderIdentity", "");
    s.lock_expires_in = left;
}
}  // namespace

Error with_suffix(const Error &e, const std::string &suffix) {
    return Error(e.code(), std::string(e.what()) + suffix, e.http_status(), e.reason());
}

Error missing_record(const std::string &what, const std::string &object_name) {
    return Error(NH_ESTATE, what + " is marked as in dev mode but its session record, Secret " + object_name +
                                ", is missing; it cannot be restored exactly. End it with force (nh dev end --force) " +
                                "to remove every mark of dev mode and hear what could not be restored");
}

Error busy_active(const std::string &what, const json &secret) {
    return Error(NH_EBUSY, what + " is already in dev mode (owner " + annotation(secret, kOwnerAnnotation) +
                               ", since " + annotation(secret, kSinceAnnotation) +
                               "); attach to it, or end it before starting again");
}

const char *mode_name(Mode m) { return m == Mode::Duplicate ? "duplicate" : "replace"; }

Mode parse_mode(const std::string &text) {
    if (text.empty() || text == "replace") return Mode::Replace;
    if (text == "duplicate") return Mode::Duplicate;
    fail(NH_EINVAL, "unknown dev mode '" + text + "' (valid: replace, duplicate)");
}

LocalPort parse_local_port(const std::string &text) {
    auto number = [&](const std::string &part) {
        if (part.empty() || part.size() > 5 || part.find_first_not_of("0123456789") != std::string::npos)
            fail(NH_EINVAL, "bad local-mode port '" + text + "': use PORT or PORT:LOCAL, e.g. 8080:3000");
        int v = std::stoi(part);
        if (v < 1 || v > 65535) fail(NH_EINVAL, "local-mode port out of range in '" + text + "'");
        return v;
    };
    auto colon = text.find(':');
    if (colon == std::string::npos) {
        int p = number(text);
        return {p, p};
    }
    return {number(text.substr(0, colon)), number(text.substr(colon + 1))};
}

std::string developer_of(Mode mode, const std::string &given) {
    if (mode != Mode::Duplicate) return {};
    return given.empty() ? default_developer() : given;
}

std::string session_object_name(const WorkloadKind &k, const std::string &name, Mode mode, const std::string &developer) {
    return mode == Mode::Duplicate ? duplicate_object_name(k, name, developer_of(mode, developer))
                                   : session_object_name(k, name);
}

void resolve_kind(kube::Client &c, WorkloadKind &k, CancelToken *cancel) {
    if (k.builtin()) return;
    std::string group = k.group_version.substr(0, k.group_version.find('/'));
    if (k.group_version.find('/') == std::string::npos) {
        json g;
        try {
            g = c.get("/apis/" + group, cancel);
        } catch (const Error &e) {
            if (e.code() != NH_ENOTFOUND) throw;
            fail(NH_ENOTFOUND, "the API group '" + group + "' of kind " + k.lower + " does not exist on this cluster");
        }
        k.group_version = g.value("preferredVersion", json::object()).value("groupVersion", "");
        if (k.group_version.empty()) fail(NH_EPROTOCOL, "the API group '" + group + "' has no preferred version");
    }
    json res = c.get("/apis/" + k.group_version, cancel);
    for (const auto &r : res.value("resources", json::array()))
        if (r.value("name", "") == k.resource) {
            k.name = r.value("kind", k.name);
            if (!r.value("namespaced", true))
                fail(NH_EUNSUPPORTED, "kind " + k.lower + " is cluster-scoped; dev mode needs a namespaced workload");
            return;
        }
    fail(NH_ENOTFOUND, "the API " + k.group_version + " has no resource '" + k.resource + "'");
}

std::string default_sidecar_image() { return {}; }

const char *phase_name(Phase p) {
    static constexpr const char *names[] = {"lock",     "read",    "record",  "hpa",   "pvc",    "park",  "patch",
                                            "wait",     "ready",   "rollback", "restore", "history", "cleanup",
                                            "force",    "done",    "upload",  "forward", "sync",   "synced",
                                            "port-forward", "image", "access"};
    static_assert(std::size(names) == static_cast<size_t>(kLastPhase), "one name per phase");
    auto i = static_cast<size_t>(p);
    return i >= 1 && i <= std::size(names) ? names[i - 1] : "unknown";
}

std::string Session::target() const {
    if (!generated.empty()) return std::string(kind_info(Kind::Deployment).lower) + "/" + generated;
    return kind.lower + "/" + name;
}

json Session::to_json() const {
    json j = {{"kind", kind.name},
              {"name", name},
              {"namespace", ns},
              {"dev_mode", true},
              {"schema_version", NH_DEV_STATUS_SCHEMA_VERSION},
              {"mode", mode_name(mode)},
              {"phase", phase},
              {"owner", owner},
              {"since", since},
              {"container", container},
              {"image", image},
              {"workdir", workdir},
              {"sidecar_image", sidecar_image.empty() ? image : sidecar_image},
              {"sidecar_upload", sidecar_image.empty()},
              {"sidecar_container", kSidecarName},
              {"sync_port", sync_port},
              {"session_object", object_name}};
    if (mode == Mode::Duplicate) {
        j["developer"] = developer;
        const json r = routes.is_object() ? traffic::route_status(routes) : json::object();
        j["headers"] = r.value("headers", json::array());
        j["router"] = r.contains("router") ? r["router"] : json(nullptr);
    }
    j["copy"] = mode == Mode::Duplicate ? json(generated) : json(nullptr);
    j["generated_deployment"] = generated.empty() ? json(nullptr) : json(generated);
    if (!pvcs.empty()) j["persistent_volume_claims"] = pvcs;
    if (!extra.is_null()) j["config"] = extra;
    j["local"] = local.is_array();
    if (local.is_array()) j["local_ports"] = local;
    j["pod"] = pod_name.empty() ? json(nullptr) : json{{"name", pod_name}, {"phase", pod_phase}, {"ready", pod_ready}};
    j["lock"] = lock_holder.empty() ? json(nullptr)
                                    : json{{"holder", lock_holder}, {"expires_in_s", static_cast<long>(lock_expires_in)}};
    return j;
}

void refresh_pod(kube::Client &c, Session &s, CancelToken *cancel) {
    s.pod_name.clear();
    s.pod_phase.clear();
    s.pod_ready = false;
    if (s.session_id.empty()) return;
    std::string selector = s.pod_selector;
    if (selector.empty()) {
        auto wl = get_optional(c, workload_path(s.kind, s.ns, s.name), cancel);
        if (!wl) return;
        selector = kube::workload_selector(*wl);
    }
    PodState p = find_dev_pod(c, s.ns, selector, s.session_id, cancel);
    s.pod_name = p.name;
    s.pod_phase = p.phase;
    s.pod_ready = p.ready;
}

std::optional<Session> find_session(kube::Client &c, const Query &q, CancelToken *cancel) {
    const std::string ns = q.ns.empty() ? c.ns() : q.ns;
    const std::string object_name = session_object_name(q.kind, q.name, q.mode, q.developer);
    auto secret = get_optional(c, secret_path(ns, object_name), cancel);
    if (!secret) return std::nullopt;
    Session s = SessionRecord::read(*secret, &q.kind).session();
    s.ns = ns;
    s.name = q.name;
    refresh_pod(c, s, cancel);
    add_lock_state(c, s, cancel);
    return s;
}

json status(kube::Client &c, const Query &q_in, CancelToken *cancel) {
    Query q = q_in;
    if (q.ns.empty()) q.ns = c.ns();
    if (auto s = find_session(c, q, cancel)) return s->to_json();
    resolve_kind(c, q.kind, cancel);
    auto wl = get_optional(c, workload_path(q.kind, q.ns, q.name), cancel);
    if (!wl) fail(NH_ENOTFOUND, what_of(q.kind, q.ns, q.name) + " does not exist");
    json j = {{"kind", q.kind.name},
              {"name", q.name},
              {"namespace", q.ns},
              {"dev_mode", false},
              {"schema_version", NH_DEV_STATUS_SCHEMA_VERSION}};
    if (q.mode == Mode::Duplicate) j["mode"] = "duplicate";
    if (!annotation(*wl, kNhctlOriginAnnotation).empty()) j["nocalhost_dev_mode"] = true;
    Session probe;
    probe.ns = q.ns;
    probe.object_name = session_object_name(q.kind, q.name, q.mode, q.developer);
    add_lock_state(c, probe, cancel);
    j["lock"] = probe.lock_holder.empty()
                    ? json(nullptr)
                    : json{{"holder", probe.lock_holder}, {"expires_in_s", static_cast<long>(probe.lock_expires_in)}};
    return j;
}

json list(kube::Client &c, const std::string &ns, CancelToken *cancel) {
    std::string path = ns.empty() ? "/api/v1/secrets" : secret_path(ns);
    json secrets = c.get(path + "?labelSelector=" + kube::url_escape(std::string(kRoleLabel) + "=" + kRoleSession),
                         cancel);
    json out = json::array();
    for (const auto &sec : secrets.value("items", json::array())) {
        Session s;
        try {
            s = SessionRecord::read(sec).session();
        } catch (const Error &) {
            continue;
        }
        refresh_pod(c, s, cancel);
        add_lock_state(c, s, cancel);
        out.push_back(s.to_json());
    }
    return out;
}

}  // namespace nh::dev
