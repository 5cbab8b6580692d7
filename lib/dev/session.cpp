#include "dev/session.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <thread>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "dev/access_check.hpp"
#include "dev/config.hpp"
#include "dev/history.hpp"
#include "dev/image_check.hpp"
#include "kube/objects.hpp"
#include "dev/lease.hpp"
#include "dev/wait.hpp"

namespace nh::dev {

namespace {

using Clock = std::chrono::steady_clock;

std::string what_of(const WorkloadKind &k, const std::string &ns, const std::string &name, Mode mode = Mode::Replace,
                    const std::string &developer = {}) {
    std::string w = (k.builtin() ? k.lower : k.name) + "/" + name + " in namespace " + ns;
    if (mode == Mode::Duplicate) w += " (duplicate of " + developer + ")";
    return w;
}

bool deleting(const json &obj) { return obj.value("metadata", json::object()).contains("deletionTimestamp"); }

void sleep_a_little(CancelToken *cancel, int ms, const char *what) {
    if (cancel ? cancel->sleep_for(std::chrono::milliseconds(ms))
               : (std::this_thread::sleep_for(std::chrono::milliseconds(ms)), false))
        cancel->check(what);
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

void emit(const EventSink &sink, EventType type, Phase phase, const std::string &message,
          json detail = nullptr) {
    log::debug(std::string("dev: ") + phase_name(phase) + ": " + message);
    if (!sink) return;
    if (!sink(Event{type, phase, message, std::move(detail)}))
        throw Error(NH_ECANCELLED, "dev mode operation stopped by the events callback");
}

// Tells who holds the dev-mode lock and when it expires while waiting for it (phase "lock"), and
// that the lock of a dead process was taken over.
std::function<void(const std::string &, bool)> lock_progress(const EventSink &sink) {
    return [&sink](const std::string &message, bool waiting) {
        emit(sink, waiting ? EventType::Phase : EventType::Info, Phase::Lock, message);
    };
}

// Kinds an HPA can scale: those with a replica count (Deployment, StatefulSet, ReplicaSet, and
// custom kinds with a replicas path, which dev mode parks at 0 replicas).
bool scalable(const WorkloadKind &k) {
    return k.in_place() || (k.kind == Kind::Custom && !k.replicas_path.empty());
}

std::string api_group(const std::string &api_version) {
    auto slash = api_version.find('/');
    return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

// The HPAs that scale the workload, cleaned for storage: their scaleTargetRef names its kind and
// name (and, for a custom kind, its API group).
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

Session session_from_secret(Kind k, const std::string &ns, const std::string &name, const json &secret) {
    Session s;
    s.kind = k;
    s.wk = WorkloadKind(k == Kind::Custom ? Kind::Deployment : k);
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
        if (spec.contains("workload_kind")) {
            s.wk = WorkloadKind::from_json(spec["workload_kind"]);
            s.kind = s.wk.kind;
        }
        s.mode = spec.value("mode", "replace") == "duplicate" ? Mode::Duplicate : Mode::Replace;
        s.developer = spec.value("developer", "");
        s.generated = spec.value("generated", "");
        s.pod_selector = spec.value("pod_selector", "");
        s.pvcs = spec.value("pvcs", json::array());
        s.extra = spec.value("extra", json());
    }
    s.token = secret_text(secret, "token");
    return s;
}

// The session of a Secret found by listing: its kind from the record.
Session session_from_secret(const json &secret) {
    std::string kind_text = annotation(secret, kKindAnnotation);
    Kind k = Kind::Deployment;
    try {
        k = parse_kind(kind_text);
    } catch (const Error &) {
        k = Kind::Custom;
    }
    return session_from_secret(k, secret["metadata"].value("namespace", ""), annotation(secret, kNameAnnotation), secret);
}

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

// Re-creates a bare Pod from its record once the name is free.
void restore_pod(kube::Client &c, const std::string &ns, const std::string &name, const json &original,
                 RestoreReport &r, CancelToken *cancel) {
    const std::string path = workload_path(Kind::Pod, ns, name);
    auto until = Clock::now() + std::chrono::seconds(90);
    for (;;) {
        auto cur = get_optional(c, path, cancel);
        if (!cur) {
            try {
                c.create(pods_path(ns), original, cancel);
                return;
            } catch (const Error &e) {
                if (e.code() != NH_EEXISTS) throw;
                continue;
            }
        }
        if (!deleting(*cur) && !annotation(*cur, kNhctlOriginAnnotation).empty()) {
            // Nocalhost's (nhctl's) dev pod in the original's place: it goes, the original comes back.
            remove_optional(c, path, cancel);
            continue;
        }
        if (!deleting(*cur)) {
            // Never deleted (a start stopped before), or re-created by an end that died after it.
            if (!annotation(*cur, kSessionAnnotation).empty() || cur->value("metadata", json::object()).contains("ownerReferences"))
                r.notes.push_back("pod/" + name + " exists and is not the recorded original; left as it is");
            return;
        }
        if (Clock::now() >= until)
            fail(NH_ETIMEOUT, "pod/" + name + " in namespace " + ns + " is still being deleted; end dev mode again to re-create it");
        sleep_a_little(cancel, 200, "waiting for the pod's name to be free");
    }
}

// The session record Secret (its data already base64-encoded).
json session_record(const std::string &ns, const std::string &object_name, const json &annotations, const json &data) {
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"type", "Opaque"},
            {"metadata",
             {{"name", object_name},
              {"namespace", ns},
              {"labels", {{kManagedByLabel, kManagedByValue}, {kRoleLabel, kRoleSession}}},
              {"annotations", annotations}}},
            {"data", data}};
}

// Puts the original back in place and removes what dev mode created, except the lock.
RestoreReport restore(kube::Client &c, Kind k_in, const std::string &ns, const std::string &name, const json &secret,
                      const EventSink &sink, CancelToken *cancel) {
    RestoreReport r;
    json spec = secret_json(secret, "spec");
    WorkloadKind k = spec.is_object() && spec.contains("workload_kind") ? WorkloadKind::from_json(spec["workload_kind"])
                                                                        : WorkloadKind(k_in);
    const Mode mode = spec.is_object() && spec.value("mode", "replace") == "duplicate" ? Mode::Duplicate : Mode::Replace;
    const std::string generated = spec.is_object() ? spec.value("generated", "") : "";
    const std::string what = what_of(k, ns, name, mode, spec.is_object() ? spec.value("developer", "") : "");
    const std::string secret_name = secret["metadata"].value("name", "");

    if (!generated.empty()) {
        emit(sink, EventType::Phase, Phase::Restore,
             std::string(mode == Mode::Duplicate ? "deleting the copy " : "deleting the generated Deployment ") +
                 generated);
        remove_optional(c, workload_path(Kind::Deployment, ns, generated) + "?propagationPolicy=Background", cancel);
    }
    if (mode == Mode::Duplicate) {
        emit(sink, EventType::Phase, Phase::Cleanup, "removing the session record of " + what);
        remove_optional(c, secret_path(ns, secret_name), cancel);
        return r;
    }

    json original = secret_json(secret, "original");
    if (!original.is_object()) fail(NH_EPROTOCOL, "the session record of " + what + " holds no original");
    json hpas = secret_json(secret, "hpas");
    std::string session_id = spec.is_object() ? spec.value("session_id", "") : "";
    std::string dev_generation = annotation(secret, kDevGenerationAnnotation);
    const std::string path = workload_path(k, ns, name);

    // The recorded HPAs back in place (a deleted one is reported, not re-created).
    auto restore_hpas = [&]() {
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
    };
    // A workload parked at 0 replicas is out of every HPA's reach (scaling is disabled at 0), so
    // its HPAs go back first and never see the restored replica count outside their pinned
    // range; a workload in dev mode in place runs one replica, which restored HPAs would scale.
    const bool parked_at_zero = k.kind == Kind::Custom;
    if (parked_at_zero) restore_hpas();

    emit(sink, EventType::Phase, Phase::Restore,
         k.kind == Kind::Pod ? "re-creating " + what + " from its record" : "restoring " + what + " in place");
    json restored;  // the workload as restored in place
    if (k.kind == Kind::Pod) {
        restore_pod(c, ns, name, original, r, cancel);
    } else {
        for (int attempt = 0;; ++attempt) {
            auto cur = get_optional(c, path, cancel);
            if (!cur) {
                r.workload_gone = true;
                r.notes.push_back(what + " no longer exists; cleaned up what dev mode left");
                break;
            }
            std::string generation = std::to_string((*cur)["metadata"].value("generation", 0L));
            if (!dev_generation.empty() && generation != dev_generation &&
                !annotation(*cur, kSessionAnnotation).empty() && !r.overwrote) {
                r.overwrote = true;
                r.notes.push_back(what + " was changed while in dev mode (generation " + generation +
                                  ", dev mode left " + dev_generation + "); the change was overwritten by the original");
                emit(sink, EventType::Warning, Phase::Restore, r.notes.back());
            }
            json next = original;
            next["metadata"]["resourceVersion"] = (*cur)["metadata"].value("resourceVersion", "");
            try {
                if (k.kind == Kind::Deployment && needs_scale_step(original, *cur)) {
                    json step = scale_step(original, *cur);
                    step["metadata"]["resourceVersion"] = next["metadata"]["resourceVersion"];
                    json done = c.update(path, step, cancel);
                    wait_observed(c, path, done, Clock::now() + std::chrono::seconds(30), cancel);
                    next["metadata"]["resourceVersion"] = done["metadata"].value("resourceVersion", "");
                }
                restored = c.update(path, next, cancel);
                break;
            } catch (const Error &e) {
                if (e.code() != NH_ECONFLICT || attempt >= 10) throw;
            }
        }
    }

    // The HPAs right after the workload: while they stay pinned to one replica, their controller
    // scales the restored workload back down to one.
    if (!parked_at_zero) restore_hpas();

    // A StatefulSet does not replace a pod that never became ready, nor any pod under
    // OnDelete, and a ReplicaSet never replaces pods for a new template: remove the dev
    // pods so the controller recreates them from the original.
    if (!r.workload_gone && (k.kind == Kind::StatefulSet || k.kind == Kind::ReplicaSet) && !session_id.empty()) {
        json pods = c.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(kube::workload_selector(original)), cancel);
        for (const auto &p : pods.value("items", json::array()))
            if (annotation(p, kSessionIdAnnotation) == session_id)
                remove_optional(c, pods_path(ns) + "/" + p["metadata"].value("name", ""), cancel);
    }

    // The revisions of the dev template leave the rollout history: no rollback returns to dev mode.
    if (restored.is_object()) {
        const size_t noted = r.notes.size();
        std::vector<std::string> forgotten = forget_dev_revisions(c, k, ns, restored, r.notes, cancel);
        for (size_t i = noted; i < r.notes.size(); ++i) emit(sink, EventType::Warning, Phase::History, r.notes[i]);
        if (!forgotten.empty()) {
            std::string list;
            for (const auto &f : forgotten) list += (list.empty() ? "" : ", ") + f;
            emit(sink, EventType::Info, Phase::History,
                 "removed dev mode from the rollout history of " + what + " (" + list +
                     "): a rollback cannot return to it");
        }
    }

    emit(sink, EventType::Phase, Phase::Cleanup, "removing the session record of " + what);
    remove_optional(c, secret_path(ns, secret_name), cancel);
    return r;
}

// The original a workload had before Nocalhost's own CLI (nhctl) put it into dev mode,
// from its annotation; null when it has none.
json nhctl_original(const json &wl) {
    std::string text = annotation(wl, kNhctlOriginAnnotation);
    if (text.empty()) return nullptr;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        fail(NH_EPROTOCOL, std::string("the annotation ") + kNhctlOriginAnnotation + " is not a JSON object");
    j = clean_object(j);
    if (j.contains("metadata") && j["metadata"].contains("annotations")) {
        j["metadata"]["annotations"].erase(kNhctlOriginAnnotation);
        if (j["metadata"]["annotations"].empty()) j["metadata"].erase("annotations");
    }
    return j;
}

// What Nocalhost's CLI (nhctl) makes for a workload's replace dev mode, besides the
// changes to the workload that its annotation undoes. It names and labels them after the
// workload's name and its type: "deployment", "statefulset", "daemonset", "job", "cronjob",
// "pod", or "<resource>.<version>.<group>" for a custom kind.
inline constexpr const char *kNhctlSyncthingSecretSuffix = "nocalhost-syncthing-secret";  // also its volume's name
inline constexpr const char *kNhctlIgnoredLabel = "nocalhost.dev.workload.ignored";
inline constexpr const char *kNhctlWorkloadTypeLabel = "dev.nocalhost/workload-type";
inline constexpr const char *kNhctlWorkloadNameLabel = "dev.nocalhost/workload-name";
inline constexpr const char *kNhctlHpaMaxAnnotation = "nocalhost.dev.hpa.origin.max.replicas";
inline constexpr const char *kNhctlHpaMinAnnotation = "nocalhost.dev.hpa.origin.min.replicas";

std::string nhctl_type(const WorkloadKind &k) {
    if (k.builtin()) return kind_info(k.kind).lower;
    const auto slash = k.group_version.find('/');
    if (slash == std::string::npos) return k.resource + "." + k.group_version;
    return k.resource + "." + k.group_version.substr(slash + 1) + "." + k.group_version.substr(0, slash);
}

// The names of the Secrets that the pod template's syncthing secret volume mounts.
void syncthing_secrets_of(const json &tpl, std::vector<std::string> &out) {
    for (const auto &v : tpl.value("spec", json::object()).value("volumes", json::array()))
        if (v.value("name", "") == kNhctlSyncthingSecretSuffix && v.contains("secret"))
            out.push_back(v["secret"].value("secretName", ""));
}

// Removes what nhctl's dev start made for the workload and its dev end removes: its dev-mode
// Deployment (kinds it cannot run in place), found by the three labels it puts on it; its
// syncthing Secret "<name>-<type>-nocalhost-syncthing-secret" (or, from nhctl releases before the
// type was in the name, "<name>-nocalhost-syncthing-secret" when the dev pod template mounts it).
// Nothing else: never another workload's objects, nor the claims of its persistent dirs, which
// outlive its dev mode as ours do. `dev`: the workload in nhctl's dev mode. Runs before the restore.
void remove_nhctl_objects(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
                          const json &dev, const EventSink &sink, std::vector<std::string> &notes, CancelToken *cancel) {
    const std::string type = nhctl_type(k);
    std::vector<std::string> mounted;
    try {
        if (!k.template_path.empty()) syncthing_secrets_of(pod_template(dev, k), mounted);
    } catch (const Error &) {
    }
    const std::string sel = std::string(kNhctlIgnoredLabel) + "=true," + kNhctlWorkloadTypeLabel + "=" + type + "," +
                            kNhctlWorkloadNameLabel + "=" + name;
    json gen = c.get(workload_path(Kind::Deployment, ns, "") + "?labelSelector=" + kube::url_escape(sel), cancel);
    for (const auto &d : gen.value("items", json::array())) {
        const std::string dname = d["metadata"].value("name", "");
        syncthing_secrets_of(d.value("spec", json::object()).value("template", json::object()), mounted);
        remove_optional(c, workload_path(Kind::Deployment, ns, dname) + "?propagationPolicy=Background", cancel);
        notes.push_back("deleted Nocalhost's dev-mode Deployment " + dname);
        emit(sink, EventType::Info, Phase::Cleanup, notes.back());
    }
    std::vector<std::string> secrets = {name + "-" + type + "-" + kNhctlSyncthingSecretSuffix};
    const std::string legacy = name + "-" + kNhctlSyncthingSecretSuffix;
    if (std::find(mounted.begin(), mounted.end(), legacy) != mounted.end()) secrets.push_back(legacy);
    for (const auto &sname : secrets) {
        if (!get_optional(c, secret_path(ns, sname), cancel)) continue;
        remove_optional(c, secret_path(ns, sname), cancel);
        notes.push_back("deleted Nocalhost's syncthing Secret " + sname);
        emit(sink, EventType::Info, Phase::Cleanup, notes.back());
    }
}

// nhctl pins the HPAs of the workload to one replica and keeps their bounds in two annotations;
// put the bounds back and drop the annotations. A failure is reported, not thrown: the workload
// is already restored by then.
void restore_nhctl_hpas(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
                        const EventSink &sink, std::vector<std::string> &notes, CancelToken *cancel) {
    try {
        for (const auto &h : find_hpas(c, k, ns, name, cancel)) {
            const std::string max = annotation(h, kNhctlHpaMaxAnnotation), min = annotation(h, kNhctlHpaMinAnnotation);
            if (max.empty() && min.empty()) continue;
            const std::string hname = h["metadata"].value("name", "");
            auto bound = [&](const std::string &text) -> std::optional<long> {
                if (text.empty()) return std::nullopt;
                char *end = nullptr;
                long v = std::strtol(text.c_str(), &end, 10);
                if (end == text.c_str() || *end != '\0' || v < 1)
                    fail(NH_EPROTOCOL, "HorizontalPodAutoscaler " + hname + " has an unreadable replica bound '" + text +
                                           "' in Nocalhost's annotations; left as it is");
                return v;
            };
            const auto max_v = bound(max), min_v = bound(min);
            update_with_retry(
                c, hpa_path(ns, hname),
                [&](const json &cur) {
                    json next = cur;
                    if (max_v) next["spec"]["maxReplicas"] = *max_v;
                    if (min_v) next["spec"]["minReplicas"] = *min_v;
                    json &ann = next["metadata"]["annotations"];
                    ann.erase(kNhctlHpaMaxAnnotation);
                    ann.erase(kNhctlHpaMinAnnotation);
                    if (ann.empty()) next["metadata"].erase("annotations");
                    return next;
                },
                cancel);
            std::string bounds;
            if (min_v) bounds = "minReplicas " + std::to_string(*min_v);
            if (max_v) bounds += (bounds.empty() ? "" : ", ") + std::string("maxReplicas ") + std::to_string(*max_v);
            notes.push_back("restored HorizontalPodAutoscaler " + hname + " (" + bounds +
                            ") from the bounds Nocalhost kept in its annotations");
            emit(sink, EventType::Info, Phase::Cleanup, notes.back());
        }
    } catch (const Error &e) {
        if (e.code() == NH_ECANCELLED) throw;
        notes.push_back(std::string("could not restore the HorizontalPodAutoscalers Nocalhost pinned: ") + e.what());
        emit(sink, EventType::Warning, Phase::Cleanup, notes.back());
    }
}

// A parked original: a kind that cannot run one dev replica is stopped from running pods
// while its dev pod runs from a generated Deployment.
json parked(const json &original, const WorkloadKind &k, const std::string &secret_name) {
    json w = original;
    w["metadata"]["annotations"][kSessionAnnotation] = secret_name;
    switch (k.kind) {
        case Kind::DaemonSet:
            pod_template(w, k)["spec"]["nodeSelector"][kParkedNodeLabel] = "true";
            break;
        case Kind::Job:
        case Kind::CronJob:
            w["spec"]["suspend"] = true;
            break;
        case Kind::Custom: {
            if (k.replicas_path.empty())
                fail(NH_EINVAL, "custom kind " + k.lower + " has no replicas path: dev mode cannot stop its pods");
            w[json::json_pointer(k.replicas_path)] = 0;
            break;
        }
        default:
            break;
    }
    return w;
}

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

}  // namespace

const char *mode_name(Mode m) { return m == Mode::Duplicate ? "duplicate" : "replace"; }

Mode parse_mode(const std::string &text) {
    if (text.empty() || text == "replace") return Mode::Replace;
    if (text == "duplicate") return Mode::Duplicate;
    fail(NH_EINVAL, "unknown dev mode '" + text + "' (valid: replace, duplicate)");
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
    return (wk.lower.empty() ? std::string(kind_info(kind).lower) : wk.lower) + "/" + name;
}

json Session::to_json() const {
    json j = {{"kind", wk.name.empty() ? kind_info(kind).name : wk.name},
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
    if (mode == Mode::Duplicate) j["developer"] = developer;
    j["copy"] = mode == Mode::Duplicate ? json(generated) : json(nullptr);
    j["generated_deployment"] = generated.empty() ? json(nullptr) : json(generated);
    if (!pvcs.empty()) j["persistent_volume_claims"] = pvcs;
    if (!extra.is_null()) j["config"] = extra;
    j["pod"] = pod_name.empty() ? json(nullptr) : json{{"name", pod_name}, {"phase", pod_phase}, {"ready", pod_ready}};
    j["lock"] = lock_holder.empty() ? json(nullptr)
                                    : json{{"holder", lock_holder}, {"expires_in_s", static_cast<long>(lock_expires_in)}};
    return j;
}

namespace {

inline constexpr const char *kRolePvc = "persistent-dir";
inline constexpr const char *kPvcWorkloadLabel = "dev.nocalhost.io/pvc-workload";
inline constexpr const char *kPvcDirLabel = "dev.nocalhost.io/pvc-dir";
inline constexpr const char *kPvcPathAnnotation = "dev.nocalhost.io/pvc-path";
// The workload's kind as dev mode is asked for it ("deployment", "rollouts.argoproj.io"): a
// custom kind's Kind name ("Rollout") alone does not say which resource to look up.
inline constexpr const char *kPvcKindAnnotation = "dev.nocalhost.io/pvc-workload-kind";

std::string pvc_path(const std::string &ns, const std::string &name = {}) {
    return "/api/v1/namespaces/" + ns + "/persistentvolumeclaims" + (name.empty() ? "" : "/" + name);
}

std::string pvc_workload_key(const WorkloadKind &k, const std::string &name) { return label_value(k.lower + "-" + name); }

// The last Event message about an object, or "".
std::string last_event(kube::Client &c, const std::string &ns, const std::string &kind, const std::string &name,
                       CancelToken *cancel) {
    json evs = c.get("/api/v1/namespaces/" + ns + "/events?fieldSelector=" +
                         kube::url_escape("involvedObject.kind=" + kind + ",involvedObject.name=" + name),
                     cancel);
    std::string msg;
    for (const auto &e : evs.value("items", json::array())) msg = e.value("message", msg);
    return msg;
}

// Finds or creates the claim of each persistent dir and waits until each is bound (unless its
// class binds only with the first pod). Returns [{"path","claim"}].
json ensure_pvcs(kube::Client &c, const std::string &ns, const WorkloadKind &k, const std::string &name,
                 const std::string &key, const std::vector<PersistentDir> &dirs, Clock::time_point deadline,
                 const EventSink &sink, CancelToken *cancel) {
    json out = json::array();
    for (const auto &d : dirs) {
        if (d.path.empty() || d.path[0] != '/')
            fail(NH_EINVAL, "persistent volume dir '" + d.path + "' is not an absolute path");
        // A stable key of the path (label values cannot hold '/').
        std::string h;
        for (char ch : d.path) h += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-');
        const std::string dir_key = label_value("d" + h);
        std::string sel = std::string(kPvcWorkloadLabel) + "=" + pvc_workload_key(k, name) + "," + kPvcDirLabel + "=" +
                          dir_key + "," + kRoleLabel + "=" + kRolePvc + ",dev.nocalhost.io/pvc-session=" + label_value(key);
        json found = c.get(pvc_path(ns) + "?labelSelector=" + kube::url_escape(sel), cancel);
        json pvc;
        for (const auto &p : found.value("items", json::array()))
            if (!deleting(p) && annotation(p, kPvcPathAnnotation) == d.path) pvc = p;
        if (pvc.is_null()) {
            std::string claim = label_value("nh-pvc-" + name + "-" + random_hex(3));
            json spec = {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", d.capacity}}}}}};
            if (!d.storage_class.empty()) spec["storageClassName"] = d.storage_class;
            json obj = {{"apiVersion", "v1"},
                        {"kind", "PersistentVolumeClaim"},
                        {"metadata",
                         {{"name", claim},
                          {"labels",
                           {{kManagedByLabel, kManagedByValue},
                            {kRoleLabel, kRolePvc},
                            {kPvcWorkloadLabel, pvc_workload_key(k, name)},
                            {"dev.nocalhost.io/pvc-session", label_value(key)},
                            {kPvcDirLabel, dir_key}}},
                          {"annotations",
                           {{kPvcPathAnnotation, d.path},
                            {kKindAnnotation, k.name},
                            {kPvcKindAnnotation, k.lower},
                            {kNameAnnotation, name}}}}},
                        {"spec", spec}};
            emit(sink, EventType::Phase, Phase::Pvc, "creating PersistentVolumeClaim " + claim + " for " + d.path);
            pvc = c.create(pvc_path(ns), obj, cancel);
        } else {
            emit(sink, EventType::Info, Phase::Pvc,
                 "reusing PersistentVolumeClaim " + pvc["metadata"].value("name", "") + " for " + d.path);
        }
        std::string claim = pvc["metadata"].value("name", "");
        // A class that binds with the first consumer binds when the dev pod is scheduled.
        std::string cls = pvc.value("spec", json::object()).value("storageClassName", "");
        bool wait_first = false;
        if (!cls.empty()) {
            try {
                json sc = c.get("/apis/storage.k8s.io/v1/storageclasses/" + cls, cancel);
                wait_first = sc.value("volumeBindingMode", "") == "WaitForFirstConsumer";
            } catch (const Error &e) {
                if (e.code() != NH_ENOTFOUND && e.code() != NH_EFORBIDDEN) throw;
            }
        }
        while (!wait_first && pvc.value("status", json::object()).value("phase", "") != "Bound") {
            if (Clock::now() >= deadline) {
                std::string ev = last_event(c, ns, "PersistentVolumeClaim", claim, cancel);
                fail(NH_ETIMEOUT, "PersistentVolumeClaim " + claim + " for persistent dir " + d.path + " (" +
                                      d.capacity + ", storage class " + (cls.empty() ? "default" : cls) +
                                      ") is not bound: no PersistentVolume binds to it" +
                                      (ev.empty() ? "" : " (" + ev + ")") +
                                      "; create a matching PersistentVolume or choose another storageClass");
            }
            sleep_a_little(cancel, 250, "waiting for a PersistentVolumeClaim to bind");
            pvc = c.get(pvc_path(ns, claim), cancel);
        }
        out.push_back({{"path", d.path}, {"claim", claim}});
    }
    return out;
}

// Deletes the pods matching `selector` that do not carry `session_id` (a ReplicaSet never
// replaces its pods for a new template on its own).
void delete_other_pods(kube::Client &c, const std::string &ns, const std::string &selector,
                       const std::string &session_id, CancelToken *cancel) {
    json pods = c.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(selector), cancel);
    for (const auto &p : pods.value("items", json::array()))
        if (annotation(p, kSessionIdAnnotation) != session_id && !deleting(p))
            remove_optional(c, pods_path(ns) + "/" + p["metadata"].value("name", ""), cancel);
}

// The dev config's patches, in order. Nocalhost's container names in them mean ours; a patch
// the API server refuses (4xx) is skipped with a warning, as Nocalhost does, unless the caller
// made that fatal.
void apply_patches(kube::Client &c, const std::string &path, const StartOptions &o, const std::string &dev_container,
                   json &last, CancelToken *cancel) {
    for (size_t i = 0; i < o.patches.size(); ++i) {
        const std::string what = "patch " + std::to_string(i + 1) + " of the dev config";
        try {
            last = c.patch(path, o.patches[i].type, nocalhost_container_names(o.patches[i].body, dev_container), cancel);
        } catch (const Error &e) {
            bool refused = e.http_status() >= 400 && e.http_status() < 500;
            if (!refused || o.patch_errors_fatal)
                throw Error(e.code(), what + " failed: " + e.what(), e.http_status(), e.reason());
            emit(o.events, EventType::Warning, Phase::Patch, what + " was refused and skipped: " + e.what(),
                 {{"patch", i + 1}, {"status", e.http_status()}});
        }
    }
}

}  // namespace

Session start(kube::Client &c, const StartOptions &o) {
    if (o.name.empty()) fail(NH_EINVAL, "dev start: the workload name is empty");
    if (o.image.empty()) fail(NH_EINVAL, "dev start: the dev image is empty");
    if (o.sync_port < 1 || o.sync_port > 65535) fail(NH_EINVAL, "dev start: sync port out of range");
    if (o.workdir.empty() || o.workdir[0] != '/') fail(NH_EINVAL, "dev start: the work dir must be an absolute path");
    if (!o.image_pull_policy.empty() && o.image_pull_policy != "Always" && o.image_pull_policy != "IfNotPresent" &&
        o.image_pull_policy != "Never")
        fail(NH_EINVAL, "dev start: unknown image pull policy '" + o.image_pull_policy + "' (valid: Always, IfNotPresent, Never)");
    CancelToken *cancel = o.cancel;
    WorkloadKind k = o.kind == Kind::Custom ? o.custom_kind : WorkloadKind(o.kind);
    if (k.kind != o.kind) fail(NH_EINVAL, "dev start: custom_kind does not describe a custom kind");
    resolve_kind(c, k, cancel);
    const bool dup = o.mode == Mode::Duplicate;
    const std::string developer = developer_of(o.mode, o.developer);
    const std::string ns = o.ns.empty() ? c.ns() : o.ns;
    const std::string what = what_of(k, ns, o.name, o.mode, developer);
    const std::string owner = o.owner.empty() ? default_owner() : o.owner;
    const std::string object_name = session_object_name(k, o.name, o.mode, developer);
    const std::string path = workload_path(k, ns, o.name);
    const std::string generated = dup ? duplicate_copy_name(o.name, developer) : k.in_place() ? "" : object_name;
    const auto deadline = Clock::now() + o.timeout;

    check_access(c, k, ns, o, what);
    emit(o.events, EventType::Phase, Phase::Lock, "locking " + what);
    if (auto s = get_optional(c, secret_path(ns, object_name), cancel);
        s && annotation(*s, kPhaseAnnotation) == "active")
        throw busy_active(what, *s);
    LeaseLock lock(c, ns, object_name, owner, o.lease_duration);
    lock.acquire(what, std::chrono::milliseconds(0), cancel, lock_progress(o.events));
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
            emit(o.events, EventType::Phase, Phase::Rollback, "start failed, rolling back " + what + ": " + e.what());
        } catch (const Error &) {
        }
        try {
            // The caller's token may be what stopped us: roll back regardless of it.
            auto secret = get_optional(c, secret_path(ns, object_name), nullptr);
            if (secret) restore(c, k.kind, ns, o.name, *secret, nullptr, nullptr);
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
        emit(o.events, EventType::Phase, Phase::Read, "reading " + what);
        auto secret = get_optional(c, secret_path(ns, object_name), cancel);
        std::optional<json> wl;
        // A bare Pod is deleted by the start: a start taken over may find it gone.
        if (k.kind == Kind::Pod && secret)
            wl = get_optional(c, path, cancel);
        else
            wl = c.get(path, cancel);
        json original, hpas = json::array();
        DevSpec spec;
        std::string token, since = now_rfc3339();
        if (secret) {
            if (annotation(*secret, kPhaseAnnotation) == "active") throw busy_active(what, *secret);
            // A start that died half-way: continue from its record, never from the changed workload.
            changed = true;
            emit(o.events, EventType::Info, Phase::Read,
                 "taking over the unfinished start of " + what + " by " + annotation(*secret, kOwnerAnnotation));
            original = secret_json(*secret, "original");
            hpas = secret_json(*secret, "hpas");
            json old = secret_json(*secret, "spec");
            spec.session_id = old.is_object() ? old.value("session_id", "") : "";
            token = secret_text(*secret, "token");
            if (!original.is_object() || spec.session_id.empty() || token.empty())
                fail(NH_EPROTOCOL, "the session record of " + what + " is incomplete");
        } else {
            if (!dup) {
                if (!annotation(*wl, kSessionAnnotation).empty()) throw missing_record(what, object_name);
                if (!annotation(*wl, kNhctlOriginAnnotation).empty())
                    fail(NH_EBUSY, what + " is in Nocalhost's dev mode (annotation " + kNhctlOriginAnnotation +
                                       "); end it first (nh dev end restores its original)");
                std::string ctl = controller_of(*wl);
                if (!ctl.empty()) {
                    std::string ctl_kind = ctl.substr(0, ctl.find('/'));
                    for (auto &ch : ctl_kind) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    fail(NH_EINVAL, what + " is managed by " + ctl + ", which would undo dev mode; start dev mode on " +
                                        ctl_kind + ctl.substr(ctl.find('/')) + " instead");
                }
            }
            original = clean_object(*wl);
            if (dup) original["metadata"]["uid"] = (*wl)["metadata"].value("uid", "");
            if (!dup && scalable(k)) hpas = find_hpas(c, k, ns, o.name, cancel);
            spec.session_id = random_hex(8);
            token = random_hex(32);
        }
        if (dup && wl) original["metadata"]["uid"] = (*wl)["metadata"].value("uid", "");
        json stored_original = original;
        stored_original["metadata"].erase("uid");
        spec.container = choose_container(original, k, o.container);
        spec.image = o.image;
        spec.workdir = o.workdir;
        spec.env = o.env;
        spec.resources = o.resources;
        spec.sidecar_image = o.sidecar_image.empty() ? default_sidecar_image() : o.sidecar_image;
        spec.sidecar_base_image = o.sidecar_base_image;
        spec.sync_port = o.sync_port;
        spec.secret_name = object_name;
        spec.image_pull_policy = o.image_pull_policy;
        for (const auto &d : o.persistent_dirs) spec.pvc_mounts.emplace_back("validate", d.path);
        auto build_generated = [&]() {
            json tpl = pod_template(original, k);
            if (!dup && k.kind != Kind::Pod && !wl) fail(NH_ENOTFOUND, what + " does not exist");
            json g = generated_deployment(generated, ns, tpl, dup, wl ? *wl : original, k, developer);
            if (dup) g["metadata"]["labels"][kDeveloperLabel] = label_value(developer.substr(0, developer.find('@')));
            return apply_dev_spec(g, Kind::Deployment, spec);
        };
        // Validates before anything changes, and then checks that the node can run its images.
        json dev_pod_spec = generated.empty() ? pod_template(apply_dev_spec(original, k, spec), k)["spec"]
                                              : pod_template(build_generated(), WorkloadKind(Kind::Deployment))["spec"];
        spec.pvc_mounts.clear();
        if (!secret) check_images(c, ns, dev_pod_spec, spec, what, deadline, o.events, cancel);
        const std::string pod_selector =
            generated.empty() ? kube::workload_selector(original) : std::string(kGeneratedLabel) + "=" + label_value(generated);

        json spec_json = {{"container", spec.container},
                          {"image", spec.image},
                          {"workdir", spec.workdir},
                          {"sidecar_image", spec.sidecar_image},
                          {"sync_port", spec.sync_port},
                          {"session_id", spec.session_id},
                          {"workload_kind", k.to_json()},
                          {"mode", mode_name(o.mode)},
                          {"developer", developer},
                          {"generated", generated},
                          {"pod_selector", pod_selector}};
        if (!o.extra.is_null()) spec_json["extra"] = o.extra;
        json annotations = {{kKindAnnotation, k.name},    {kNameAnnotation, o.name},  {kPhaseAnnotation, "starting"},
                            {kOwnerAnnotation, owner},    {kSinceAnnotation, since}, {kModeAnnotation, mode_name(o.mode)},
                            {kDeveloperAnnotation, developer}};
        emit(o.events, EventType::Phase, Phase::Record,
             dup ? "recording the session of " + what : "recording the original of " + what);
        if (secret) {
            json patch = {{"metadata", {{"annotations", annotations}}},
                          {"data", {{"spec", base64::encode(spec_json.dump())}}}};
            record = c.patch(secret_path(ns, object_name), kube::PatchType::Merge, patch.dump(), cancel);
        } else {
            json s = session_record(ns, object_name, annotations,
                                    {{"original", base64::encode(stored_original.dump())},
                                     {"hpas", base64::encode(hpas.dump())},
                                     {"spec", base64::encode(spec_json.dump())},
                                     {"token", base64::encode(token)}});
            record = c.create(secret_path(ns), s, cancel);
            changed = true;
        }
        step("record");

        if (!hpas.empty()) {
            emit(o.events, EventType::Phase, Phase::Hpa, "pinning " + std::to_string(hpas.size()) +
                                                        " HorizontalPodAutoscaler(s) to 1 replica");
            for (const auto &h : hpas)
                c.patch(hpa_path(ns, h["metadata"].value("name", "")), kube::PatchType::Merge,
                        R"({"spec":{"minReplicas":1,"maxReplicas":1}})", cancel);
        }
        step("hpa");

        json pvcs = json::array();
        if (!o.persistent_dirs.empty()) {
            pvcs = ensure_pvcs(c, ns, k, o.name, object_name, o.persistent_dirs, deadline, o.events, cancel);
            for (const auto &p : pvcs) spec.pvc_mounts.emplace_back(p["claim"].get<std::string>(), p["path"].get<std::string>());
            spec_json["pvcs"] = pvcs;
            json patch = {{"data", {{"spec", base64::encode(spec_json.dump())}}}};
            c.patch(secret_path(ns, object_name), kube::PatchType::Merge, patch.dump(), cancel);
        }
        step("pvc");

        std::string dev_generation;
        if (!dup && !generated.empty()) {
            if (k.kind == Kind::Pod) {
                emit(o.events, EventType::Phase, Phase::Park, "deleting " + what + " (its definition is recorded)");
                if (wl && !deleting(*wl)) remove_optional(c, path, cancel);
            } else {
                emit(o.events, EventType::Phase, Phase::Park,
                     k.kind == Kind::DaemonSet ? "keeping the pods of " + what + " off every node"
                     : k.kind == Kind::Custom  ? "scaling " + what + " to 0"
                                               : "suspending " + what);
                json parked_wl = parked(original, k, object_name);
                json done = update_with_retry(c, path, [&](const json &) { return parked_wl; }, cancel);
                dev_generation = std::to_string(done["metadata"].value("generation", 0L));
            }
        }
        step("park");

        emit(o.events, EventType::Phase, Phase::Patch,
             generated.empty()
                 ? "switching " + what + " to dev mode (image " + spec.image + ", 1 replica, sync sidecar)"
                 : std::string(dup ? "creating the copy " : "creating the dev Deployment ") + generated + " (image " +
                       spec.image + ", sync sidecar)");
        if (generated.empty()) {
            json dev = apply_dev_spec(original, k, spec);
            if (k.kind == Kind::Deployment) {
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
            apply_patches(c, path, o, spec.container, updated, cancel);
            dev_generation = std::to_string(updated["metadata"].value("generation", 0L));
            if (k.kind == Kind::ReplicaSet) {
                wait_observed(c, path, updated, deadline, cancel);
                delete_other_pods(c, ns, kube::workload_selector(original), spec.session_id, cancel);
            }
        } else {
            json g = build_generated();
            const std::string gpath = workload_path(Kind::Deployment, ns, generated);
            json made;
            try {
                made = c.create(workload_path(Kind::Deployment, ns, ""), g, cancel);
            } catch (const Error &e) {
                if (e.code() != NH_EEXISTS) throw;
                made = update_with_retry(c, gpath, [&](const json &) { return g; }, cancel);
            }
            apply_patches(c, gpath, o, spec.container, made, cancel);
        }
        step("patch");

        emit(o.events, EventType::Phase, Phase::Wait, "waiting for the dev pod of " + what);
        // No dev pod a while after the switch: the Deployment controller may have stalled the rollout.
        auto next_look = Clock::now() + std::chrono::seconds(3);
        std::function<void()> idle;
        if (k.kind == Kind::Deployment && generated.empty())
            idle = [&] {
                if (Clock::now() < next_look) return;
                next_look = Clock::now() + std::chrono::seconds(3);
                std::string repaired = unstall_rollout(c, ns, path, cancel);
                if (!repaired.empty()) emit(o.events, EventType::Warning, Phase::Wait, repaired);
            };
        PodState pod = wait_for_dev_pod(
            c, ns, pod_selector, spec.session_id, what, deadline,
            [&](const Event &e) { emit(o.events, e.type, e.phase, e.message, e.detail); }, cancel, idle);
        step("wait");

        json mark_ann = {{kPhaseAnnotation, "active"}};
        if (!dev_generation.empty()) mark_ann[kDevGenerationAnnotation] = dev_generation;
        json mark = {{"metadata", {{"annotations", mark_ann}}}};
        c.patch(secret_path(ns, object_name), kube::PatchType::Merge, mark.dump(), cancel);
        step("active");
        lock.release();

        Session s;
        s.kind = k.kind;
        s.wk = k;
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
        s.mode = o.mode;
        s.developer = developer;
        s.generated = generated;
        s.pod_selector = pod_selector;
        s.pvcs = pvcs;
        s.extra = o.extra;
        emit(o.events, EventType::Phase, Phase::Ready, what + " is in dev mode: pod " + pod.name,
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

namespace {

// A workload that carries dev mode's marks: the session annotation, or a dev pod template.
bool marked(const json &wl, const WorkloadKind &k) {
    if (!annotation(wl, kSessionAnnotation).empty()) return true;
    try {
        return dev_template(pod_template(wl, k));
    } catch (const Error &) {
        return false;
    }
}

// What `kubectl apply` last set on an object, or null.
json last_applied(const json &obj) {
    json j = json::parse(annotation(obj, "kubectl.kubernetes.io/last-applied-configuration"), nullptr, false);
    return j.is_object() ? j : json(nullptr);
}

// The forced end of a replace session whose record is missing or unreadable: removes every mark
// of dev mode found, puts back what is recorded elsewhere, and says what it could not restore.
EndResult end_without_record(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
                             const std::string &object_name, const EventSink &sink, CancelToken *cancel) {
    EndResult result;
    result.was_in_dev_mode = true;
    const std::string what = what_of(k, ns, name);
    auto note = [&](const std::string &text, bool warning) {
        result.notes.push_back(text);
        emit(sink, warning ? EventType::Warning : EventType::Info, Phase::Force, text);
    };
    emit(sink, EventType::Phase, Phase::Force, "removing the marks of dev mode from " + what + " (no session record)");
    if (get_optional(c, secret_path(ns, object_name), cancel)) {
        remove_optional(c, secret_path(ns, object_name), cancel);
        note("deleted the unreadable session record, Secret " + object_name, false);
    }
    if (!k.in_place()) {
        auto g = get_optional(c, workload_path(Kind::Deployment, ns, object_name), cancel);
        if (g && (*g)["metadata"].value("labels", json::object()).contains(kGeneratedLabel)) {
            remove_optional(c, workload_path(Kind::Deployment, ns, object_name) + "?propagationPolicy=Background", cancel);
            note("deleted the dev Deployment " + object_name, false);
        }
    }
    const std::string path = workload_path(k, ns, name);
    auto wl = get_optional(c, path, cancel);
    if (!wl) {
        result.workload_gone = true;
        note(what + " no longer exists; cleaned up what dev mode left", false);
        return result;
    }
    std::string from;
    const json recorded = k.builtin() ? recorded_template(c, k, ns, *wl, from, cancel) : json(nullptr);
    std::string session_id;
    std::vector<std::string> dev_containers, unrestored;
    json restored = update_with_retry(
        c, path,
        [&](const json &cur) {
            json next = cur;
            dev_containers.clear();
            unrestored.clear();
            json &md = next["metadata"];
            if (md.contains("annotations")) {
                md["annotations"].erase(kSessionAnnotation);
                if (md["annotations"].empty()) md.erase("annotations");
            }
            json &tpl = pod_template(next, k);
            session_id = tpl.value("metadata", json::object()).value("annotations", json::object()).value(kSessionIdAnnotation, "");
            if (recorded.is_object())
                tpl = recorded;
            else
                dev_containers = strip_dev_marks(tpl);
            // What dev mode changed besides the template: from kubectl's last-applied
            // configuration (a field it does not name takes the server's default), else left.
            const json applied = last_applied(cur);
            auto put_back = [&](const std::string &pointer) {
                const json::json_pointer p(pointer);
                if (applied.is_object() && applied.contains(p))
                    next[p] = applied[p];
                else if (applied.is_object() && next.contains(p))
                    next[p.parent_pointer()].erase(p.back());
                else if (next.contains(p)) {
                    std::string field = pointer.substr(1);
                    std::replace(field.begin(), field.end(), '/', '.');
                    unrestored.push_back(field + " (" + next[p].dump() + ")");
                }
            };
            switch (k.kind) {
                case Kind::Deployment:
                    for (const char *p : {"/spec/replicas", "/spec/strategy"}) put_back(p);
                    break;
                case Kind::StatefulSet:
                    for (const char *p : {"/spec/replicas", "/spec/updateStrategy"}) put_back(p);
                    break;
                case Kind::ReplicaSet:
                    put_back("/spec/replicas");
                    break;
                case Kind::Job:
                case Kind::CronJob:
                    put_back("/spec/suspend");
                    break;
                case Kind::Custom:
                    if (!k.replicas_path.empty()) put_back(k.replicas_path);
                    break;
                default:
                    break;
            }
            return next;
        },
        cancel);
    if (recorded.is_object())
        note("restored the pod template of " + what + " from its rollout history, " + from, false);
    else if (!dev_containers.empty()) {
        std::string names;
        for (const auto &n : dev_containers) names += (names.empty() ? "" : ", ") + n;
        note("removed the sync sidecar of " + what + ", but container " + names +
                 " keeps the dev image and command: its original image, command and probes are recorded nowhere; "
                 "set them again",
             true);
    }
    if (!unrestored.empty()) {
        std::string fields;
        for (const auto &u : unrestored) fields += (fields.empty() ? "" : ", ") + u;
        note("could not restore " + fields + " of " + what + ": the original is recorded nowhere; set it again", true);
    }
    if ((k.kind == Kind::StatefulSet || k.kind == Kind::ReplicaSet) && !session_id.empty()) {
        json pods = c.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(kube::workload_selector(restored)), cancel);
        for (const auto &p : pods.value("items", json::array()))
            if (annotation(p, kSessionIdAnnotation) == session_id)
                remove_optional(c, pods_path(ns) + "/" + p["metadata"].value("name", ""), cancel);
    }
    std::vector<std::string> problems;
    std::vector<std::string> forgotten = forget_dev_revisions(c, k, ns, restored, problems, cancel);
    for (const auto &p : problems) note(p, true);
    if (!forgotten.empty()) note("removed dev mode from the rollout history of " + what, false);
    if (scalable(k))
        for (const auto &h : find_hpas(c, k, ns, name, cancel)) {
            const json spec = h.value("spec", json::object());
            if (spec.value("minReplicas", 0) != 1 || spec.value("maxReplicas", 0) != 1) continue;
            const std::string hname = h["metadata"].value("name", "");
            const json applied = last_applied(h).value("spec", json::object());
            if (applied.contains("maxReplicas")) {
                update_with_retry(
                    c, hpa_path(ns, hname),
                    [&](const json &cur) {
                        json next = cur;
                        next["spec"]["maxReplicas"] = applied["maxReplicas"];
                        if (applied.contains("minReplicas"))
                            next["spec"]["minReplicas"] = applied["minReplicas"];
                        else
                            next["spec"].erase("minReplicas");
                        return next;
                    },
                    cancel);
                note("restored the bounds of HorizontalPodAutoscaler " + hname + " from its last-applied configuration",
                     false);
            } else {
                note("HorizontalPodAutoscaler " + hname + " stays pinned to 1 replica: its bounds are recorded nowhere; "
                     "set them again",
                     true);
            }
        }
    return result;
}

}  // namespace

EndResult end(kube::Client &c, const EndOptions &o) {
    if (o.name.empty()) fail(NH_EINVAL, "dev end: the workload name is empty");
    WorkloadKind k = o.kind == Kind::Custom ? o.custom_kind : WorkloadKind(o.kind);
    const bool dup = o.mode == Mode::Duplicate;
    const std::string developer = developer_of(o.mode, o.developer);
    const std::string ns = o.ns.empty() ? c.ns() : o.ns;
    const std::string what = what_of(k, ns, o.name, o.mode, developer);
    const std::string owner = o.owner.empty() ? default_owner() : o.owner;
    const std::string object_name = session_object_name(k, o.name, o.mode, developer);
    EndResult result;

    auto secret = get_optional(c, secret_path(ns, object_name), o.cancel);
    auto lease = get_optional(c, lease_path(ns, object_name), o.cancel);
    json nhctl, nhctl_dev;  // the original nhctl recorded, and the workload in its dev mode
    if (!secret && !lease) {
        if (dup) {
            result.notes.push_back(what + " is not in dev mode; nothing to do");
            return result;
        }
        resolve_kind(c, k, o.cancel);
        auto wl = get_optional(c, workload_path(k, ns, o.name), o.cancel);
        if (wl && marked(*wl, k) && !o.force) throw missing_record(what, object_name);
        if (!wl) fail(NH_ENOTFOUND, what + " does not exist and is not in dev mode");
        nhctl = nhctl_original(*wl);
        nhctl_dev = *wl;
        if (nhctl.is_null() && !marked(*wl, k)) {
            result.notes.push_back(what + " is not in dev mode; nothing to do");
            return result;
        }
    }

    emit(o.events, EventType::Phase, Phase::Lock, "locking " + what);
    LeaseLock lock(c, ns, object_name, owner, o.lease_duration);
    lock.acquire(what, o.timeout, o.cancel, lock_progress(o.events));
    lock.start_renewing();
    try {
        secret = get_optional(c, secret_path(ns, object_name), o.cancel);
        std::optional<RestoreReport> restored;
        if (secret) {
            try {
                restored = restore(c, k.kind, ns, o.name, *secret, o.events, o.cancel);
            } catch (const Error &e) {
                // An unreadable record: forced, dev mode's marks go without it.
                if (e.code() != NH_EPROTOCOL || !o.force || dup) throw;
                emit(o.events, EventType::Warning, Phase::Force, e.what());
            }
        }
        std::optional<json> wl;
        if (!restored && nhctl.is_null() && !dup) {
            resolve_kind(c, k, o.cancel);
            wl = get_optional(c, workload_path(k, ns, o.name), o.cancel);
        }
        if (restored) {
            result.was_in_dev_mode = true;
            result.workload_gone = restored->workload_gone;
            result.overwrote_changes = restored->overwrote;
            result.notes = restored->notes;
        } else if (secret || (wl && marked(*wl, k))) {
            if (!o.force) throw missing_record(what, object_name);
            result = end_without_record(c, k, ns, o.name, object_name, o.events, o.cancel);
        } else if (!nhctl.is_null()) {
            // Nocalhost's own dev mode: put back the original its CLI saved on the workload.
            emit(o.events, EventType::Phase, Phase::Restore,
                 (k.kind == Kind::Pod ? "re-creating " + what + " from Nocalhost's annotation "
                                      : "restoring " + what + " in place from Nocalhost's annotation ") +
                     kNhctlOriginAnnotation);
            const std::string path = workload_path(k, ns, o.name);
            // What nhctl made goes first: an end that dies half-way still finds the annotation.
            std::vector<std::string> cleaned;
            remove_nhctl_objects(c, k, ns, o.name, nhctl_dev, o.events, cleaned, o.cancel);
            if (k.kind == Kind::Pod) {
                // A Pod cannot be changed in place: nhctl's dev pod is deleted and the original
                // created again, as an end of our own bare-Pod dev mode does. The original goes
                // into a session record first, so an end that dies after the delete is finished
                // from that record by the next `end`.
                json record = session_record(
                    ns, object_name,
                    {{kKindAnnotation, k.name}, {kNameAnnotation, o.name}, {kPhaseAnnotation, "ending"},
                     {kOwnerAnnotation, owner}, {kModeAnnotation, mode_name(Mode::Replace)}},
                    {{"original", base64::encode(nhctl.dump())},
                     {"hpas", base64::encode("[]")},
                     {"spec", base64::encode(json({{"workload_kind", k.to_json()}, {"mode", "replace"}}).dump())}});
                record = c.create(secret_path(ns), record, o.cancel);
                RestoreReport r = restore(c, k.kind, ns, o.name, record, o.events, o.cancel);
                cleaned.insert(cleaned.end(), r.notes.begin(), r.notes.end());
            } else {
                update_with_retry(c, path, [&](const json &) { return nhctl; }, o.cancel);
            }
            restore_nhctl_hpas(c, k, ns, o.name, o.events, cleaned, o.cancel);
            result.was_in_dev_mode = true;
            result.nhctl = true;
            result.notes.push_back(what + (k.kind == Kind::Pod ? " was in Nocalhost's dev mode; its original was re-created"
                                                                : " was in Nocalhost's dev mode; its original was restored in place"));
            result.notes.insert(result.notes.end(), cleaned.begin(), cleaned.end());
        } else {
            result.notes.push_back(what + " is not in dev mode; nothing to do");
        }
    } catch (...) {
        lock.release();
        throw;
    }
    lock.release();
    emit(o.events, EventType::Phase, Phase::Done,
         result.was_in_dev_mode ? what + " restored" : what + " is not in dev mode; nothing to do");
    return result;
}

void refresh_pod(kube::Client &c, Session &s, CancelToken *cancel) {
    s.pod_name.clear();
    s.pod_phase.clear();
    s.pod_ready = false;
    if (s.session_id.empty()) return;
    std::string selector = s.pod_selector;
    if (selector.empty()) {
        auto wl = get_optional(c, workload_path(s.wk.name.empty() ? WorkloadKind(s.kind) : s.wk, s.ns, s.name), cancel);
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
    Session s = session_from_secret(q.kind.kind, ns, q.name, *secret);
    refresh_pod(c, s, cancel);
    add_lock_state(c, s, cancel);
    return s;
}

std::optional<Session> find_session(kube::Client &c, Kind k, const std::string &ns, const std::string &name,
                                    CancelToken *cancel) {
    Query q;
    q.kind = WorkloadKind(k);
    q.ns = ns;
    q.name = name;
    return find_session(c, q, cancel);
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

json status(kube::Client &c, Kind k, const std::string &ns, const std::string &name, CancelToken *cancel) {
    Query q;
    q.kind = WorkloadKind(k);
    q.ns = ns;
    q.name = name;
    return status(c, q, cancel);
}

json list(kube::Client &c, const std::string &ns, CancelToken *cancel) {
    std::string path = ns.empty() ? "/api/v1/secrets" : secret_path(ns);
    json secrets = c.get(path + "?labelSelector=" + kube::url_escape(std::string(kRoleLabel) + "=" + kRoleSession),
                         cancel);
    json out = json::array();
    for (const auto &sec : secrets.value("items", json::array())) {
        Session s;
        try {
            s = session_from_secret(sec);
        } catch (const Error &) {
            continue;
        }
        refresh_pod(c, s, cancel);
        add_lock_state(c, s, cancel);
        out.push_back(s.to_json());
    }
    return out;
}

namespace {

// "KIND/NAME" of a claim's workload in a form parse_workload_kind() takes back: the Kind name of
// a built-in kind ("Deployment/web"), the resource and group of a custom kind
// ("rollouts.argoproj.io/canary").
std::string claim_workload(const json &pvc) {
    const std::string name = annotation(pvc, kNameAnnotation), kind = annotation(pvc, kKindAnnotation);
    auto custom = [](const std::string &text) {
        try {
            return !text.empty() && parse_kind(text) == Kind::Custom;
        } catch (const Error &) {
            return false;
        }
    };
    if (std::string text = annotation(pvc, kPvcKindAnnotation); custom(text)) return text + "/" + name;
    try {
        if (parse_kind(kind) != Kind::Custom) return kind + "/" + name;
    } catch (const Error &) {
    }
    // A custom kind's claim made before the kind annotation: its workload label is
    // "<resource>.<group>-<name>" unless that had to be shortened with a hash.
    const std::string key =
        pvc.value("metadata", json::object()).value("labels", json::object()).value(kPvcWorkloadLabel, "");
    const std::string suffix = "-" + name;
    if (!name.empty() && key.size() > suffix.size() && key.size() < 63 &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
        std::string text = key.substr(0, key.size() - suffix.size());
        if (custom(text)) return text + "/" + name;
    }
    return kind + "/" + name;
}

}  // namespace

json pvc_list(kube::Client &c, const std::string &ns_in, const WorkloadKind *kind, const std::string &name,
              CancelToken *cancel) {
    const std::string ns = ns_in.empty() ? c.ns() : ns_in;
    std::string sel = std::string(kRoleLabel) + "=" + kRolePvc;
    if (kind) sel += std::string(",") + kPvcWorkloadLabel + "=" + pvc_workload_key(*kind, name);
    json pvcs = c.get(pvc_path(ns) + "?labelSelector=" + kube::url_escape(sel), cancel);
    json out = json::array();
    for (const auto &p : pvcs.value("items", json::array())) {
        const json spec = p.value("spec", json::object());
        out.push_back({{"name", p["metadata"].value("name", "")},
                       {"namespace", ns},
                       {"workload", claim_workload(p)},
                       {"path", annotation(p, kPvcPathAnnotation)},
                       {"capacity", spec.value("resources", json::object()).value("requests", json::object()).value("storage", "")},
                       {"storage_class", spec.value("storageClassName", "")},
                       {"phase", p.value("status", json::object()).value("phase", "")}});
    }
    return out;
}

std::vector<std::string> pvc_delete(kube::Client &c, const std::string &ns_in, const WorkloadKind &kind,
                                    const std::string &name, const std::string &claim, CancelToken *cancel) {
    const std::string ns = ns_in.empty() ? c.ns() : ns_in;
    json all = pvc_list(c, ns, &kind, name, cancel);
    std::vector<std::string> deleted;
    for (const auto &p : all) {
        std::string n = p.value("name", "");
        if (!claim.empty() && n != claim && p.value("path", "") != claim) continue;
        remove_optional(c, pvc_path(ns, n), cancel);
        deleted.push_back(n);
    }
    if (!claim.empty() && deleted.empty())
        fail(NH_ENOTFOUND, "no PersistentVolumeClaim '" + claim + "' of dev mode for " + what_of(kind, ns, name));
    return deleted;
}

Session session_from_record(const json &secret) { return session_from_secret(secret); }

}  // namespace nh::dev
