// The end of dev mode: under the lock, the restore from the session record, the forced end of a
// workload whose record is gone, and the end of Nocalhost's (nhctl's) dev mode.
#include <algorithm>

#include "dev/history.hpp"
#include "dev/lease.hpp"
#include "dev/session_internal.hpp"
#include "kube/objects.hpp"

namespace nh::dev {

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
    if ((k.kind == Kind::StatefulSet || k.kind == Kind::ReplicaSet) && !session_id.empty())
        delete_pods_by_session(c, ns, kube::workload_selector(restored), session_id, false, cancel);
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
    WorkloadKind k = o.kind;
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
                restored = restore(c, SessionRecord::read_with_original(*secret, &k), o.events, o.cancel);
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
                SessionRecord record;
                record.ns = ns;
                record.object_name = object_name;
                record.workload = o.name;
                record.kind = k;
                record.phase = "ending";
                record.owner = owner;
                record.original = nhctl;
                c.create(secret_path(ns), record.secret(), o.cancel);
                RestoreReport r = restore(c, record, o.events, o.cancel);
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

}  // namespace nh::dev
