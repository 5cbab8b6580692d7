// The restore of dev mode from its session record: the original back in place (a bare Pod
// created again), the HPAs, the dev pods and revisions gone, the record removed.
#include "dev/history.hpp"
#include "dev/session_internal.hpp"
#include "kube/objects.hpp"
#include "traffic/routing.hpp"

namespace nh::dev {

namespace {

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
        sleep_or_cancel(cancel, std::chrono::milliseconds(200), "waiting for the pod's name to be free");
    }
}
}  // namespace

RestoreReport restore(kube::Client &c, const SessionRecord &record, const EventSink &sink, CancelToken *cancel) {
    RestoreReport r;
    const WorkloadKind &k = record.kind;
    const std::string &ns = record.ns, &name = record.workload;
    const Mode mode = record.mode;
    const std::string &generated = record.generated;
    const std::string what = what_of(k, ns, name, mode, record.developer);
    const std::string &secret_name = record.object_name;

    // The header routes first: no request goes to a copy that is being deleted.
    if (record.routes.is_object()) {
        emit(sink, EventType::Phase, Phase::Restore,
             "removing the header routes to the copy " + generated + " (" + record.routes.value("router", "") + ")");
        traffic::remove_routes(c, ns, record.routes, cancel);
    }
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

    const json &original = record.original;
    if (!original.is_object()) fail(NH_EPROTOCOL, "the session record of " + what + " holds no original");
    const json &hpas = record.hpas;
    const std::string &session_id = record.session_id;
    const std::string &dev_generation = record.dev_generation;
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
    if (!r.workload_gone && (k.kind == Kind::StatefulSet || k.kind == Kind::ReplicaSet) && !session_id.empty())
        delete_pods_by_session(c, ns, kube::workload_selector(original), session_id, false, cancel);

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

}  // namespace nh::dev
