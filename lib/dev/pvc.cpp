// The PersistentVolumeClaims of persistentVolumeDirs: made (or found again by their labels) at
// a start, listed and deleted on request; they outlive dev mode.
#include <cctype>

#include "dev/session_internal.hpp"

namespace nh::dev {

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
            sleep_or_cancel(cancel, std::chrono::milliseconds(250), "waiting for a PersistentVolumeClaim to bind");
            pvc = c.get(pvc_path(ns, claim), cancel);
        }
        out.push_back({{"path", d.path}, {"claim", claim}});
    }
    return out;
}

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

}  // namespace nh::dev
