// Which pod a stream goes to: a pod by name, or a workload (Deployment,
// StatefulSet, DaemonSet, ReplicaSet) resolved through its spec.selector to
// its Running pod, Ready ones first, newest first. In dev mode a workload
// runs exactly one pod, the dev pod, so this finds it.
#pragma once

#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::stream {

struct Target {
    std::string kind;  // canonical: "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"
    std::string name;
};

// Parses "KIND/NAME" (kinds as kubectl spells them: deploy, deployment, deployments,
// sts, ds, rs, po, pod, ...) or a bare "NAME" (a pod). Throws NH_EINVAL.
Target parse_target(const std::string &text);

struct ResolvedPod {
    std::string ns;
    std::string name;
    std::string uid;
    std::vector<std::string> containers;
    std::string default_container;  // kubectl.kubernetes.io/default-container, else the first
};

// Picks the pod to use among `pods` (a PodList's items): Running and not being
// deleted; Ready first, then the newest. Returns the index or -1.
int pick_pod(const kube::json &items);

// Resolves `target` in namespace `ns` to a pod. Errors: NH_ENOTFOUND (the
// workload or pod does not exist), NH_ESTATE (no Running pod), those of the API.
ResolvedPod resolve_pod(kube::Client &client, const std::string &ns, const Target &target,
                        CancelToken *cancel = nullptr);

// Fills a ResolvedPod from a Pod object.
ResolvedPod describe_pod(const kube::json &pod);

}  // namespace nh::stream
