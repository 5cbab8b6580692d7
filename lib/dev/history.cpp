#include "dev/history.hpp"

#include <cstdlib>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "kube/objects.hpp"

namespace nh::dev {

namespace {

using Clock = std::chrono::steady_clock;

bool owned_by(const json &obj, const std::string &uid) {
    for (const auto &ref : obj.value("metadata", json::object()).value("ownerReferences", json::array()))
        if (ref.value("uid", "") == uid && ref.value("controller", false)) return true;
    return false;
}

// Waits (a little) until the workload's controller has seen its restored generation; false
// when it has not in time.
bool observed(kube::Client &c, const std::string &path, long generation, CancelToken *cancel, json &cur) {
    auto until = Clock::now() + std::chrono::seconds(20);
    for (;;) {
        cur = c.get(path, cancel);
        if (cur["metadata"].value("generation", 0L) != generation) return true;  // changed again since: a newer state
        if (cur.value("status", json::object()).value("observedGeneration", 0L) >= generation) return true;
        if (Clock::now() >= until) return false;
        if (cancel ? cancel->sleep_for(std::chrono::milliseconds(100))
                   : (std::this_thread::sleep_for(std::chrono::milliseconds(100)), false))
            cancel->check("waiting for the workload controller");
    }
}

// Removes the labels the controllers add to the templates they record.
void drop_controller_labels(json &tpl) {
    if (!tpl.contains("metadata") || !tpl["metadata"].contains("labels")) return;
    for (const char *l : {"pod-template-hash", "controller-revision-hash"}) tpl["metadata"]["labels"].erase(l);
    if (tpl["metadata"]["labels"].empty()) tpl["metadata"].erase("labels");
}

}  // namespace

bool dev_template(const json &tpl) {
    if (!tpl.is_object()) return false;
    const json meta = tpl.value("metadata", json::object());
    if (meta.value("annotations", json::object()).contains(kSessionIdAnnotation)) return true;
    return tpl.value("spec", json::object()).value("nodeSelector", json::object()).contains(kParkedNodeLabel);
}

std::vector<std::string> forget_dev_revisions(kube::Client &c, const WorkloadKind &k, const std::string &ns,
                                              const json &restored, std::vector<std::string> &notes,
                                              CancelToken *cancel) {
    std::vector<std::string> deleted;
    const bool rs = k.kind == Kind::Deployment;
    if (!rs && k.kind != Kind::StatefulSet && k.kind != Kind::DaemonSet) return deleted;
    const std::string name = restored["metadata"].value("name", "");
    const std::string uid = restored["metadata"].value("uid", "");
    // An original that itself looks like a dev template cannot be told apart from its dev revisions.
    if (uid.empty() || dev_template(restored.value("spec", json::object()).value("template", json::object())))
        return deleted;
    const std::string what = std::string(kind_info(k.kind).lower) + "/" + name;
    try {
        json cur;
        if (!observed(c, workload_path(k, ns, name), restored["metadata"].value("generation", 0L), cancel, cur)) {
            notes.push_back("the controller of " + what + " did not catch up in time: its rollout history still " +
                            "holds dev mode's revisions; end dev mode again to remove them");
            return deleted;
        }
        // A StatefulSet's status names the revision of its current template.
        const std::string current = cur.value("status", json::object()).value("updateRevision", "");
        const std::string list_path = "/apis/apps/v1/namespaces/" + ns + (rs ? "/replicasets" : "/controllerrevisions");
        const std::string selector = kube::url_escape(kube::workload_selector(cur));
        json items = c.get(list_path + "?labelSelector=" + selector, cancel);
        std::vector<std::string> dev_sets;  // UIDs of the dev ReplicaSets deleted
        for (const auto &item : items.value("items", json::array())) {
            if (!owned_by(item, uid)) continue;
            const std::string n = item["metadata"].value("name", "");
            if (n == current) continue;
            const json tpl = rs ? item.value("spec", json::object()).value("template", json::object())
                                : item.value("data", json::object()).value("spec", json::object()).value("template", json::object());
            if (!dev_template(tpl)) continue;
            try {
                // The pods of a dev ReplicaSet are dev pods: they go with it.
                c.remove(list_path + "/" + n + "?propagationPolicy=Background", cancel);
            } catch (const Error &e) {
                if (e.code() != NH_ENOTFOUND) throw;
            }
            deleted.push_back(std::string(rs ? "replicaset/" : "controllerrevision/") + n);
            dev_sets.push_back(item["metadata"].value("uid", ""));
        }
        // Their dev pods go now rather than whenever the garbage collector gets to them: until
        // then they match the selector and look like old pods to the next start.
        if (rs && !dev_sets.empty()) {
            json pods = c.get("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + selector, cancel);
            for (const auto &p : pods.value("items", json::array())) {
                bool dev_pod = false;
                for (const auto &owner : dev_sets) dev_pod |= owned_by(p, owner);
                if (!dev_pod) continue;
                try {
                    c.remove("/api/v1/namespaces/" + ns + "/pods/" + p["metadata"].value("name", ""), cancel);
                } catch (const Error &e) {
                    if (e.code() != NH_ENOTFOUND) throw;
                }
            }
        }
    } catch (const Error &e) {
        if (e.code() == NH_ECANCELLED) throw;
        notes.push_back("could not remove dev mode's revisions from the rollout history of " + what + ": " + e.what());
        log::warn(notes.back());
    }
    return deleted;
}

json recorded_template(kube::Client &c, const WorkloadKind &k, const std::string &ns, const json &workload,
                       std::string &from, CancelToken *cancel) {
    const bool rs = k.kind == Kind::Deployment;
    if (!rs && k.kind != Kind::StatefulSet && k.kind != Kind::DaemonSet) return nullptr;
    const std::string uid = workload["metadata"].value("uid", "");
    const std::string list_path = "/apis/apps/v1/namespaces/" + ns + (rs ? "/replicasets" : "/controllerrevisions");
    json items = c.get(list_path + "?labelSelector=" + kube::url_escape(kube::workload_selector(workload)), cancel);
    json best;
    long best_revision = -1;
    for (const auto &item : items.value("items", json::array())) {
        if (!owned_by(item, uid)) continue;
        json tpl = rs ? item.value("spec", json::object()).value("template", json::object())
                      : item.value("data", json::object()).value("spec", json::object()).value("template", json::object());
        if (tpl.empty() || dev_template(tpl)) continue;
        long revision = 0;
        if (rs) {
            const std::string text = item["metadata"].value("annotations", json::object()).value("deployment.kubernetes.io/revision", "0");
            revision = std::strtol(text.c_str(), nullptr, 10);
        } else {
            revision = item.value("revision", 0L);
        }
        if (revision <= best_revision) continue;
        best_revision = revision;
        tpl.erase("$patch");
        drop_controller_labels(tpl);
        best = tpl;
        from = std::string(rs ? "replicaset/" : "controllerrevision/") + item["metadata"].value("name", "") +
               " (revision " + std::to_string(revision) + ")";
    }
    return best;
}

std::string unstall_rollout(kube::Client &c, const std::string &ns, const std::string &path, CancelToken *cancel) {
    static const char *kDesired = "deployment.kubernetes.io/desired-replicas";
    json d = c.get(path, cancel);
    const json status = d.value("status", json::object());
    const long generation = d["metadata"].value("generation", 0L);
    if (status.value("observedGeneration", 0L) < generation) return "";  // the controller has not looked yet
    const long replicas = d.value("spec", json::object()).value("replicas", 1L);
    const std::string uid = d["metadata"].value("uid", "");
    const json sets = c.get("/apis/apps/v1/namespaces/" + ns + "/replicasets?labelSelector=" +
                                kube::url_escape(kube::workload_selector(d)),
                            cancel)
                          .value("items", json::array());
    const json *active = nullptr;
    size_t n_active = 0;
    for (const auto &rs : sets) {
        if (!owned_by(rs, uid) || rs["metadata"].contains("deletionTimestamp")) continue;
        if (rs.value("spec", json::object()).value("replicas", 0L) == 0) continue;
        ++n_active;
        active = &rs;
    }
    if (n_active != 1 || active->value("spec", json::object()).value("replicas", 0L) != replicas) return "";
    const std::string desired =
        (*active)["metadata"].value("annotations", json::object()).value(kDesired, "");
    if (desired.empty() || desired == std::to_string(replicas)) return "";
    // The template of the active set against the Deployment's, both without the controllers' labels.
    json tpl = active->value("spec", json::object()).value("template", json::object());
    json want = d.value("spec", json::object()).value("template", json::object());
    drop_controller_labels(tpl);
    drop_controller_labels(want);
    if (tpl == want) return "";  // the active set is the current template's: nothing to roll out
    const std::string name = (*active)["metadata"].value("name", "");
    json patch = {{"metadata",
                   {{"annotations", {{kDesired, std::to_string(replicas)}}},
                    {"resourceVersion", (*active)["metadata"].value("resourceVersion", "")}}}};
    try {
        c.patch("/apis/apps/v1/namespaces/" + ns + "/replicasets/" + name, kube::PatchType::Merge, patch.dump(), cancel);
    } catch (const Error &e) {
        if (e.code() == NH_ECONFLICT || e.code() == NH_ENOTFOUND) return "";  // it moved on by itself
        throw;
    }
    return "the Deployment controller had stalled the rollout (replicaset/" + name + " has " +
           std::to_string(replicas) + " replica(s) but was annotated for " + desired +
           "); corrected its desired-replicas annotation so the rollout goes on";
}

}  // namespace nh::dev
