#include "dev/session.hpp"

#include <optional>
#include <thread>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "dev/lease.hpp"
#include "dev/wait.hpp"

namespace nh::dev {

namespace {

using Clock = std::chrono::steady_clock;

std::string what_of(Kind k, const std::string &ns, const std::string &name) {
    return std::string(kind_info(k).lower) + "/" + name + " in namespace " + ns;
}

std::optional<json> get_optional(kube::Client &c, const std::string &path, CancelToken *cancel) {
    try {
        return c.get(path, cancel);
    } catch (const Error &e) {
        if (e.code() == NH_ENOTFOUND) return std::nullopt;
        throw;
    }
}

void remove_optional(kube::Client &c, const std::string &path, CancelToken *cancel) {
    try {
        c.remove(path, cancel);
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND) throw;
    }
}

std::string annotation(const json &obj, const char *key) {
    return obj.value("metadata", json::object()).value("annotations", json::object()).value(key, "");
}

std::string secret_text(const json &secret, const char *key) {
    const json data = secret.value("data", json::object());
    if (!data.contains(key)) return {};
    auto decoded = base64::decode(data[key].get<std::string>());
    if (!decoded) fail(NH_EPROTOCOL, std::string("the session record has an unreadable '") + key + "'");
    return *decoded;
}

json secret_json(const json &secret, const char *key) {
    std::string text = secret_text(secret, key);
    if (text.empty()) return nullptr;
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) fail(NH_EPROTOCOL, std::string("the session record has an unreadable '") + key + "'");
    return j;
}

void emit(const EventSink &sink, EventType type, const char *phase, const std::string &message,
          json detail = nullptr) {
    log::debug(std::string("dev: ") + phase + ": " + message);
    if (!sink) return;
    if (!sink(Event{type, phase, message, std::move(detail)}))
        throw Error(NH_ECANCELLED, "dev mode operation stopped by the events callback");
}

// The HPAs that scale the workload, cleaned for storage.
json find_hpas(kube::Client &c, Kind k, const std::string &ns, const std::string &name, CancelToken *cancel) {
    json out = json::array();
    json list = c.get(hpa_path(ns), cancel);
    for (const auto &h : list.value("items", json::array())) {
        const json ref = h.value("spec", json::object()).value("scaleTargetRef", json::object());
        if (ref.value("kind", "") == kind_info(k).name && ref.value("name", "") == name) {
            json cleaned = clean_object(h);
            cleaned["apiVersion"] = "autoscaling/v2";
            cleaned["kind"] = "HorizontalPodAutoscaler";
            out.push_back(cleaned);
        }
    }
    return out;
}

Session session_from_secret(Kind k, const std::string &ns, const std::string &name, const json &secret) {
    Session s;
    s.kind = k;
    s.ns = ns;
    s.name = name;
    s.object_name = secret["metadata"].value("name", "");
    s.phase = annotation(secret, kPhaseAnnotation);
    s.owner = annotation(secret, kOwnerAnnotation);
    s.since = annotation(secret, kSinceAnnotation);
    json spec = secret_json(secret, "spec");
    if (spec.is_object()) {
        s.container = spec.value("container", "");
        s.image = spec.value("image", "");
        s.workdir = spec.value("workdir", "");
        s.sidecar_image = spec.value("sidecar_image", "");
        s.sync_port = spec.value("sync_port", kDefaultSyncPort);
        s.session_id = spec.value("session_id", "");
    }
    s.token = secret_text(secret, "token");
    return s;
}

void add_lock_state(kube::Client &c, Session &s, CancelToken *cancel) {
    auto lease = get_optional(c, lease_path(s.ns, s.object_name), cancel);
    if (!lease) return;
    const json spec = (*lease).value("spec", json::object());
    double renewed = parse_rfc3339(spec.value("renewTime", spec.value("acquireTime", "")));
    double left = renewed + static_cast<double>(spec.value("leaseDurationSeconds", 0L)) - now_seconds();
    if (left <= 0) return;
    s.lock_holder = spec.value("holderIdentity", "");
    s.lock_expires_in = left;
}

// Updates the object at `path` to what `build` makes of its current state, retrying on Conflict.
json update_with_retry(kube::Client &c, const std::string &path, const std::function<json(const json &)> &build,
                       CancelToken *cancel) {
    for (int attempt = 0;; ++attempt) {
        json cur = c.get(path, cancel);
        json next = build(cur);
        next["metadata"]["resourceVersion"] = cur["metadata"].value("resourceVersion", "");
        try {
            return c.update(path, next, cancel);
        } catch (const Error &e) {
            if (e.code() != NH_ECONFLICT || attempt >= 10) throw;
        }
    }
}

// Waits until the workload's controller has seen `updated` (status.observedGeneration).
void wait_observed(kube::Client &c, const std::string &path, const json &updated, Clock::time_point deadline,
                   CancelToken *cancel) {
    long generation = updated["metadata"].value("generation", 0L);
    for (;;) {
        json cur = c.get(path, cancel);
        if (cur.value("status", json::object()).value("observedGeneration", 0L) >= generation) return;
        if (Clock::now() >= deadline)
            fail(NH_ETIMEOUT, "timed out waiting for the controller to see " + path.substr(path.rfind('/') + 1));
        if (cancel ? cancel->sleep_for(std::chrono::milliseconds(100))
                   : (std::this_thread::sleep_for(std::chrono::milliseconds(100)), false))
            cancel->check("waiting for the workload controller");
    }
}

bool is_recreate(const json &deployment) {
    return deployment.value("spec", json::object()).value("strategy", json::object()).value("type", "") == "Recreate";
}

// The Deployment controller never finishes a change of replicas made together with a
// switch to (or under) the Recreate strategy while several ReplicaSets are active: it
// takes it for a scaling event, and Recreate scales nothing proportionally. So scale
// under RollingUpdate first, and switch the strategy once the controller has scaled.
json scale_step(const json &target, const json &cur) {
    json step = target;
    step["spec"]["strategy"] = cur.value("spec", json::object()).value("strategy", json::object());
    if (is_recreate(step) || !step["spec"]["strategy"].is_object() || step["spec"]["strategy"].empty())
        step["spec"]["strategy"] = {{"type", "RollingUpdate"}};
    step["spec"]["template"] = cur["spec"]["template"];
    return step;
}

bool needs_scale_step(const json &target, const json &cur) {
    return is_recreate(target) && cur.value("spec", json::object()).value("replicas", 1) !=
                                      target.value("spec", json::object()).value("replicas", 1);
}

struct RestoreReport {
    bool workload_gone = false;
    bool overwrote = false;
    std::vector<std::string> notes;
};

// Puts the original back in place and removes what dev mode created, except the lock.
RestoreReport restore(kube::Client &c, Kind k, const std::string &ns, const std::string &name, const json &secret,
                      const EventSink &sink, CancelToken *cancel) {
    RestoreReport r;
    const std::string what = what_of(k, ns, name);
    json original = secret_json(secret, "original");
    if (!original.is_object()) fail(NH_EPROTOCOL, "the session record of " + what + " holds no original");
    json hpas = secret_json(secret, "hpas");
    json spec = secret_json(secret, "spec");
    std::string session_id = spec.is_object() ? spec.value("session_id", "") : "";
    std::string dev_generation = annotation(secret, kDevGenerationAnnotation);
    const std::string path = workload_path(k, ns, name);

    emit(sink, EventType::Phase, "restore", "restoring " + what + " in place");
    for (int attempt = 0;; ++attempt) {
        auto cur = get_optional(c, path, cancel);
        if (!cur) {
            r.workload_gone = true;
            r.notes.push_back(what + " no longer exists; cleaned up what dev mode left");
            break;
        }
        std::string generation = std::to_string((*cur)["metadata"].value("generation", 0L));
        if (!dev_generation.empty() && generation != dev_generation && !annotation(*cur, kSessionAnnotation).empty() &&
            !r.overwrote) {
            r.overwrote = true;
            r.notes.push_back(what + " was changed while in dev mode (generation " + generation + ", dev mode left " +
                              dev_generation + "); the change was overwritten by the original");
            emit(sink, EventType::Warning, "restore", r.notes.back());
        }
        json next = original;
        next["metadata"]["resourceVersion"] = (*cur)["metadata"].value("resourceVersion", "");
        try {
            if (k == Kind::Deployment && needs_scale_step(original, *cur)) {
                json step = scale_step(original, *cur);
                step["metadata"]["resourceVersion"] = next["metadata"]["resourceVersion"];
                json done = c.update(path, step, cancel);
                wait_observed(c, path, done, Clock::now() + std::chrono::seconds(30), cancel);
                next["metadata"]["resourceVersion"] = done["metadata"].value("resourceVersion", "");
            }
            c.update(path, next, cancel);
            break;
        } catch (const Error &e) {
            if (e.code() != NH_ECONFLICT || attempt >= 10) throw;
        }
    }

    // A StatefulSet does not replace a pod that never became ready, nor any pod
    // under OnDelete: remove the dev pods so the controller recreates them from the original.
    if (!r.workload_gone && k == Kind::StatefulSet && !session_id.empty()) {
        json pods = c.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(label_selector(original)), cancel);
        for (const auto &p : pods.value("items", json::array()))
            if (annotation(p, kSessionIdAnnotation) == session_id)
                remove_optional(c, pods_path(ns) + "/" + p["metadata"].value("name", ""), cancel);
    }

    for (const auto &h : hpas.is_array() ? hpas : json::array()) {
        std::string hname = h["metadata"].value("name", "");
        for (int attempt = 0;; ++attempt) {
            auto cur = get_optional(c, hpa_path(ns, hname), cancel);
            if (!cur) {
                r.notes.push_back("HorizontalPodAutoscaler " + hname + " was deleted while in dev mode; not re-created");
                break;
            }
            json next = h;
            next["metadata"]["resourceVersion"] = (*cur)["metadata"].value("resourceVersion", "");
            try {
                c.update(hpa_path(ns, hname), next, cancel);
                break;
            } catch (const Error &e) {
                if (e.code() != NH_ECONFLICT || attempt >= 10) throw;
            }
        }
    }

    emit(sink, EventType::Phase, "cleanup", "removing the session record of " + what);
    remove_optional(c, secret_path(ns, secret["metadata"].value("name", "")), cancel);
    return r;
}

Error with_suffix(const Error &e, const std::string &suffix) {
    return Error(e.code(), std::string(e.what()) + suffix, e.http_status(), e.reason());
}

Error busy_active(const std::string &what, const json &secret) {
    return Error(NH_EBUSY, what + " is already in dev mode (owner " + annotation(secret, kOwnerAnnotation) +
                               ", since " + annotation(secret, kSinceAnnotation) +
                               "); resume it, or end it before starting again");
}

}  // namespace

std::string default_sidecar_image() { return std::string("ghcr.io/libnocalhost/nhsyncd:") + NH_VERSION_STRING; }

json Session::to_json() const {
    json j = {{"kind", kind_info(kind).name},
              {"name", name},
              {"namespace", ns},
              {"dev_mode", true},
              {"mode", "replace"},
              {"phase", phase},
              {"owner", owner},
              {"since", since},
              {"container", container},
              {"image", image},
              {"workdir", workdir},
              {"sidecar_image", sidecar_image},
              {"sidecar_container", kSidecarName},
              {"sync_port", sync_port},
              {"session_object", object_name}};
    j["pod"] = pod_name.empty() ? json(nullptr) : json{{"name", pod_name}, {"phase", pod_phase}, {"ready", pod_ready}};
    j["lock"] = lock_holder.empty() ? json(nullptr)
                                    : json{{"holder", lock_holder}, {"expires_in_s", static_cast<long>(lock_expires_in)}};
    return j;
}

Session start(kube::Client &c, const StartOptions &o) {
    if (o.name.empty()) fail(NH_EINVAL, "dev start: the workload name is empty");
    if (o.image.empty()) fail(NH_EINVAL, "dev start: the dev image is empty");
    if (o.sync_port < 1 || o.sync_port > 65535) fail(NH_EINVAL, "dev start: sync port out of range");
    if (o.workdir.empty() || o.workdir[0] != '/') fail(NH_EINVAL, "dev start: the work dir must be an absolute path");
    const std::string ns = o.ns.empty() ? c.ns() : o.ns;
    const std::string what = what_of(o.kind, ns, o.name);
    const std::string owner = o.owner.empty() ? default_owner() : o.owner;
    const std::string object_name = session_object_name(o.kind, o.name);
    const std::string path = workload_path(o.kind, ns, o.name);
    const auto deadline = Clock::now() + o.timeout;
    CancelToken *cancel = o.cancel;

    emit(o.events, EventType::Phase, "lock", "locking " + what);
    if (auto s = get_optional(c, secret_path(ns, object_name), cancel);
        s && annotation(*s, kPhaseAnnotation) == "active")
        throw busy_active(what, *s);
    LeaseLock lock(c, ns, object_name, owner, o.lease_duration);
    lock.acquire(what, std::chrono::milliseconds(0), cancel);
    lock.start_renewing();

    auto step = [&](const char *name) {
        if (lock.lost()) fail(NH_EBUSY, "lost the dev-mode lock of " + what + " to another client");
        if (o.after_step) o.after_step(name);
    };

    bool changed = false;  // true once the cluster holds a session record
    json record;
    auto on_failure = [&](const Error &e) -> Error {
        if (!changed) {
            lock.release();
            return e;
        }
        if (!o.rollback_on_failure) {
            lock.release();
            return with_suffix(e, "; " + what + " was left in its partial dev-mode state (rollback disabled): end dev mode to restore it");
        }
        try {
            emit(o.events, EventType::Phase, "rollback", "start failed, rolling back " + what + ": " + e.what());
        } catch (const Error &) {
        }
        try {
            // The caller's token may be what stopped us: roll back regardless of it.
            auto secret = get_optional(c, secret_path(ns, object_name), nullptr);
            if (secret) restore(c, o.kind, ns, o.name, *secret, nullptr, nullptr);
        } catch (const Error &re) {
            lock.release();
            return with_suffix(e, std::string("; rolling back failed too: ") + re.what() +
                                      " (end dev mode to retry the restore)");
        }
        lock.release();
        return with_suffix(e, "; " + what + " was rolled back to its original state");
    };

    try {
        step("lock");
        emit(o.events, EventType::Phase, "read", "reading " + what);
        json wl = c.get(path, cancel);
        auto secret = get_optional(c, secret_path(ns, object_name), cancel);
        json original, hpas;
        DevSpec spec;
        std::string token, since = now_rfc3339();
        if (secret) {
            if (annotation(*secret, kPhaseAnnotation) == "active") throw busy_active(what, *secret);
            // A start that died half-way: continue from its record, never from the changed workload.
            changed = true;
            emit(o.events, EventType::Info, "read",
                 "taking over the unfinished start of " + what + " by " + annotation(*secret, kOwnerAnnotation));
            original = secret_json(*secret, "original");
            hpas = secret_json(*secret, "hpas");
            json old = secret_json(*secret, "spec");
            spec.session_id = old.is_object() ? old.value("session_id", "") : "";
            token = secret_text(*secret, "token");
            if (!original.is_object() || spec.session_id.empty() || token.empty())
                fail(NH_EPROTOCOL, "the session record of " + what + " is incomplete");
        } else {
            if (!annotation(wl, kSessionAnnotation).empty())
                fail(NH_ESTATE, what + " is marked as in dev mode (annotation " + kSessionAnnotation +
                                    ") but its session record, Secret " + object_name +
                                    ", is missing; it cannot be restored exactly");
            original = clean_object(wl);
            hpas = find_hpas(c, o.kind, ns, o.name, cancel);
            spec.session_id = random_hex(8);
            token = random_hex(32);
        }
        spec.container = choose_container(original, o.container);
        spec.image = o.image;
        spec.workdir = o.workdir;
        spec.env = o.env;
        spec.resources = o.resources;
        spec.sidecar_image = o.sidecar_image.empty() ? default_sidecar_image() : o.sidecar_image;
        spec.sync_port = o.sync_port;
        spec.secret_name = object_name;
        apply_dev_spec(original, o.kind, spec);  // validates before anything changes

        json spec_json = {{"container", spec.container},    {"image", spec.image},
                          {"workdir", spec.workdir},        {"sidecar_image", spec.sidecar_image},
                          {"sync_port", spec.sync_port},    {"session_id", spec.session_id}};
        json annotations = {{kKindAnnotation, kind_info(o.kind).name}, {kNameAnnotation, o.name},
                            {kPhaseAnnotation, "starting"},            {kOwnerAnnotation, owner},
                            {kSinceAnnotation, since}};
        emit(o.events, EventType::Phase, "record", "recording the original of " + what);
        if (secret) {
            json patch = {{"metadata", {{"annotations", annotations}}},
                          {"data", {{"spec", base64::encode(spec_json.dump())}}}};
            record = c.patch(secret_path(ns, object_name), kube::PatchType::Merge, patch.dump(), cancel);
        } else {
            json s = {{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"type", "Opaque"},
                      {"metadata",
                       {{"name", object_name},
                        {"namespace", ns},
                        {"labels", {{kManagedByLabel, kManagedByValue}, {kRoleLabel, kRoleSession}}},
                        {"annotations", annotations}}},
                      {"data",
                       {{"original", base64::encode(original.dump())},
                        {"hpas", base64::encode(hpas.dump())},
                        {"spec", base64::encode(spec_json.dump())},
                        {"token", base64::encode(token)}}}};
            record = c.create(secret_path(ns), s, cancel);
            changed = true;
        }
        step("record");

        if (!hpas.empty()) {
            emit(o.events, EventType::Phase, "hpa", "pinning " + std::to_string(hpas.size()) +
                                                        " HorizontalPodAutoscaler(s) to 1 replica");
            for (const auto &h : hpas)
                c.patch(hpa_path(ns, h["metadata"].value("name", "")), kube::PatchType::Merge,
                        R"({"spec":{"minReplicas":1,"maxReplicas":1}})", cancel);
        }
        step("hpa");

        emit(o.events, EventType::Phase, "patch",
             "switching " + what + " to dev mode (image " + spec.image + ", 1 replica, sync sidecar)");
        json dev = apply_dev_spec(original, o.kind, spec);
        if (o.kind == Kind::Deployment) {
            json scaled = update_with_retry(
                c, path,
                [&](const json &cur) {
                    json first = scale_step(dev, cur);
                    first["metadata"] = dev["metadata"];
                    return first;
                },
                cancel);
            wait_observed(c, path, scaled, deadline, cancel);
        }
        json updated = update_with_retry(c, path, [&](const json &) { return dev; }, cancel);
        std::string dev_generation = std::to_string(updated["metadata"].value("generation", 0L));
        step("patch");

        emit(o.events, EventType::Phase, "wait", "waiting for the dev pod of " + what);
        PodState pod = wait_for_dev_pod(
            c, ns, label_selector(original), spec.session_id, what, deadline,
            [&](const Event &e) { emit(o.events, e.type, e.phase.c_str(), e.message, e.detail); }, cancel);
        step("wait");

        json mark = {{"metadata",
                      {{"annotations", {{kPhaseAnnotation, "active"}, {kDevGenerationAnnotation, dev_generation}}}}}};
        c.patch(secret_path(ns, object_name), kube::PatchType::Merge, mark.dump(), cancel);
        step("active");
        lock.release();

        Session s;
        s.kind = o.kind;
        s.ns = ns;
        s.name = o.name;
        s.object_name = object_name;
        s.phase = "active";
        s.owner = owner;
        s.since = annotation(record, kSinceAnnotation);
        s.container = spec.container;
        s.image = spec.image;
        s.workdir = spec.workdir;
        s.sidecar_image = spec.sidecar_image;
        s.sync_port = spec.sync_port;
        s.session_id = spec.session_id;
        s.token = token;
        s.pod_name = pod.name;
        s.pod_phase = pod.phase;
        s.pod_ready = pod.ready;
        emit(o.events, EventType::Phase, "ready", what + " is in dev mode: pod " + pod.name,
             {{"pod", pod.name}, {"container", spec.container}, {"sync_port", spec.sync_port}});
        return s;
    } catch (const Error &e) {
        throw on_failure(e);
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &e) {
        throw on_failure(Error(NH_ERROR, std::string("internal error: ") + e.what()));
    }
}

EndResult end(kube::Client &c, const EndOptions &o) {
    if (o.name.empty()) fail(NH_EINVAL, "dev end: the workload name is empty");
    const std::string ns = o.ns.empty() ? c.ns() : o.ns;
    const std::string what = what_of(o.kind, ns, o.name);
    const std::string owner = o.owner.empty() ? default_owner() : o.owner;
    const std::string object_name = session_object_name(o.kind, o.name);
    EndResult result;

    auto secret = get_optional(c, secret_path(ns, object_name), o.cancel);
    auto lease = get_optional(c, lease_path(ns, object_name), o.cancel);
    if (!secret && !lease) {
        auto wl = get_optional(c, workload_path(o.kind, ns, o.name), o.cancel);
        if (wl && !annotation(*wl, kSessionAnnotation).empty())
            fail(NH_ESTATE, what + " is marked as in dev mode but its session record, Secret " + object_name +
                                ", is missing; it cannot be restored exactly");
        if (!wl) fail(NH_ENOTFOUND, what + " does not exist and is not in dev mode");
        result.notes.push_back(what + " is not in dev mode; nothing to do");
        return result;
    }

    emit(o.events, EventType::Phase, "lock", "locking " + what);
    LeaseLock lock(c, ns, object_name, owner, o.lease_duration);
    lock.acquire(what, o.timeout, o.cancel);
    lock.start_renewing();
    try {
        secret = get_optional(c, secret_path(ns, object_name), o.cancel);
        if (!secret) {
            result.notes.push_back(what + " is not in dev mode; nothing to do");
        } else {
            result.was_in_dev_mode = true;
            RestoreReport r = restore(c, o.kind, ns, o.name, *secret, o.events, o.cancel);
            result.workload_gone = r.workload_gone;
            result.overwrote_changes = r.overwrote;
            result.notes = r.notes;
        }
    } catch (...) {
        lock.release();
        throw;
    }
    lock.release();
    emit(o.events, EventType::Phase, "done",
         result.was_in_dev_mode ? what + " restored" : what + " is not in dev mode; nothing to do");
    return result;
}

void refresh_pod(kube::Client &c, Session &s, CancelToken *cancel) {
    s.pod_name.clear();
    s.pod_phase.clear();
    s.pod_ready = false;
    auto wl = get_optional(c, workload_path(s.kind, s.ns, s.name), cancel);
    if (!wl || s.session_id.empty()) return;
    PodState p = find_dev_pod(c, s.ns, label_selector(*wl), s.session_id, cancel);
    s.pod_name = p.name;
    s.pod_phase = p.phase;
    s.pod_ready = p.ready;
}

std::optional<Session> find_session(kube::Client &c, Kind k, const std::string &ns_in, const std::string &name,
                                    CancelToken *cancel) {
    const std::string ns = ns_in.empty() ? c.ns() : ns_in;
    auto secret = get_optional(c, secret_path(ns, session_object_name(k, name)), cancel);
    if (!secret) return std::nullopt;
    Session s = session_from_secret(k, ns, name, *secret);
    refresh_pod(c, s, cancel);
    add_lock_state(c, s, cancel);
    return s;
}

json status(kube::Client &c, Kind k, const std::string &ns_in, const std::string &name, CancelToken *cancel) {
    const std::string ns = ns_in.empty() ? c.ns() : ns_in;
    if (auto s = find_session(c, k, ns, name, cancel)) return s->to_json();
    auto wl = get_optional(c, workload_path(k, ns, name), cancel);
    if (!wl) fail(NH_ENOTFOUND, what_of(k, ns, name) + " does not exist");
    json j = {{"kind", kind_info(k).name}, {"name", name}, {"namespace", ns}, {"dev_mode", false}};
    Session probe;
    probe.ns = ns;
    probe.object_name = session_object_name(k, name);
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
        Kind k;
        try {
            k = parse_kind(annotation(sec, kKindAnnotation));
        } catch (const Error &) {
            continue;
        }
        Session s = session_from_secret(k, sec["metadata"].value("namespace", ""), annotation(sec, kNameAnnotation), sec);
        refresh_pod(c, s, cancel);
        add_lock_state(c, s, cancel);
        out.push_back(s.to_json());
    }
    return out;
}

}  // namespace nh::dev
