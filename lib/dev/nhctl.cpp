// Nocalhost's own dev mode (nhctl's): its record of the original on the workload, and what its
// dev start makes besides (a dev-mode Deployment, a syncthing Secret, pinned HPAs), so that an
// end restores a workload nhctl put into dev mode.
#include <algorithm>
#include <cstdlib>
#include <optional>

#include "dev/session_internal.hpp"
#include "kube/objects.hpp"

namespace nh::dev {

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

namespace {

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

}  // namespace

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

}  // namespace nh::dev
