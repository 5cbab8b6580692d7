#include "stream/target.hpp"

#include <algorithm>
#include <iterator>

#include "kube/kinds.hpp"
#include "kube/objects.hpp"

namespace nh::stream {

namespace {

// The kinds a stream resolves to a pod (kube/kinds.hpp names them).
constexpr const char *kStreamKinds[] = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"};

const kube::BuiltinKind &info_of(const std::string &kind) {
    for (const auto &k : kube::builtin_kinds())
        if (kind == k.kind) return k;
    throw Error(NH_EINVAL, "unsupported workload kind '" + kind + "'");
}

std::string object_path(const kube::BuiltinKind &k, const std::string &ns, const std::string &name) {
    std::string group_version = *k.group ? std::string("/apis/") + k.group + "/" + k.version : std::string("/api/") + k.version;
    return group_version + "/namespaces/" + kube::url_escape(ns) + "/" + k.resource + "/" + kube::url_escape(name);
}

}  // namespace

Target parse_target(const std::string &text) {
    if (text.empty()) throw Error(NH_EINVAL, "empty target: use KIND/NAME (e.g. deployment/web) or a pod name");
    size_t slash = text.find('/');
    if (slash == std::string::npos) return {"Pod", text};
    std::string kind = text.substr(0, slash), name = text.substr(slash + 1);
    if (name.empty() || name.find('/') != std::string::npos)
        throw Error(NH_EINVAL, "bad target '" + text + "': use KIND/NAME (e.g. deployment/web)");
    if (const kube::BuiltinKind *k = kube::find_builtin_kind(kind))
        if (std::find_if(std::begin(kStreamKinds), std::end(kStreamKinds),
                         [&](const char *s) { return std::string_view(s) == k->kind; }) != std::end(kStreamKinds))
            return {k->kind, name};
    throw Error(NH_EINVAL, "unsupported kind '" + kind + "' in '" + text +
                               "': use pod, deployment, statefulset, daemonset or replicaset");
}

int pick_pod(const kube::json &items) {
    int best = -1;
    bool best_ready = false;
    std::string best_created;
    for (size_t i = 0; i < items.size(); ++i) {
        const auto &p = items[i];
        if (!kube::pod_running(p)) continue;
        bool ready = kube::pod_ready(p);
        std::string created = p["metadata"].value("creationTimestamp", "");
        // RFC 3339 timestamps in UTC compare as strings.
        if (best < 0 || (ready && !best_ready) || (ready == best_ready && created > best_created)) {
            best = static_cast<int>(i);
            best_ready = ready;
            best_created = created;
        }
    }
    return best;
}

ResolvedPod describe_pod(const kube::json &pod) {
    ResolvedPod r;
    r.ns = pod["metadata"].value("namespace", "");
    r.name = pod["metadata"].value("name", "");
    r.uid = pod["metadata"].value("uid", "");
    if (pod.contains("spec") && pod["spec"].contains("containers"))
        for (auto &c : pod["spec"]["containers"]) r.containers.push_back(c.value("name", ""));
    auto &md = pod["metadata"];
    if (md.contains("annotations") && md["annotations"].contains("kubectl.kubernetes.io/default-container"))
        r.default_container = md["annotations"]["kubectl.kubernetes.io/default-container"].get<std::string>();
    if (r.default_container.empty() && !r.containers.empty()) r.default_container = r.containers.front();
    return r;
}

ResolvedPod resolve_pod(kube::Client &client, const std::string &ns, const Target &target, CancelToken *cancel) {
    const kube::BuiltinKind &k = info_of(target.kind);
    kube::json obj = client.get(object_path(k, ns, target.name), cancel);
    if (target.kind == "Pod") {
        if (!kube::pod_running(obj)) {
            std::string phase = obj.contains("status") ? obj["status"].value("phase", "Unknown") : "Unknown";
            if (obj["metadata"].contains("deletionTimestamp")) phase = "Terminating";
            throw Error(NH_ESTATE, "pod " + ns + "/" + target.name + " is " + phase + ", not Running");
        }
        return describe_pod(obj);
    }
    if (!obj.contains("spec") || !obj["spec"].contains("selector"))
        throw Error(NH_EPROTOCOL, target.kind + " " + ns + "/" + target.name + " has no spec.selector");
    std::string sel = kube::selector_text(obj["spec"]["selector"]);
    if (sel.empty())
        throw Error(NH_EINVAL, target.kind + " " + ns + "/" + target.name + " has an empty selector");
    kube::json list = client.get("/api/v1/namespaces/" + kube::url_escape(ns) + "/pods?labelSelector=" +
                                     kube::url_escape(sel), cancel);
    const kube::json &items = list.contains("items") ? list["items"] : kube::json::array();
    int i = pick_pod(items);
    if (i < 0)
        throw Error(NH_ESTATE, target.kind + " " + ns + "/" + target.name + " has no Running pod (" +
                                   std::to_string(items.size()) + " pod(s) match " + sel + ")");
    return describe_pod(items[static_cast<size_t>(i)]);
}

}  // namespace nh::stream
