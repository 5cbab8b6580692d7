// A pod's logs, streamed: the pod of a workload chosen as kubectl chooses it
// for `kubectl logs KIND/NAME`, and the log lines delivered as they arrive.
#pragma once

#include <functional>
#include <string>

#include "kube/client.hpp"

namespace nh::tree {

using json = nlohmann::json;

struct LogOptions {
    std::string container;  // "": the pod's kubectl.kubernetes.io/default-container, else its first
    bool follow = false;
    long tail_lines = -1;     // < 0: all
    long since_seconds = 0;   // 0: from the start
    bool previous = false;    // the previous (terminated) instance of the container
    bool timestamps = false;
    CancelToken *cancel = nullptr;
};

// The pod `kubectl logs` reads for `target`: "NAME" or "pod/NAME" is that pod; for
// deployment, statefulset, daemonset, replicaset and job, the first of the pods their selector
// matches, in kubectl's order for logs (on a node before unscheduled; Running, then Unknown,
// then Pending; Ready; Ready for longer; more restarts; older). `count` (may be null) gets how
// many pods matched. Errors: NH_EINVAL (target text, a kind without pods), NH_ENOTFOUND (no such
// workload, or no pod matches).
json log_pod(kube::Client &client, const std::string &ns, const std::string &target, CancelToken *cancel,
             size_t *count = nullptr);

// What logs of `pod` are read: {"pod","namespace","container","containers","pods":count}, the
// container `container` (NH_ENOTFOUND naming the pod's containers when it has no such one) or,
// when empty, its kubectl.kubernetes.io/default-container, else its first.
json log_target(const json &pod, size_t count, const std::string &container);

// Streams the logs of `pod` (a Pod object) to `line`, one line at a time without its newline
// (a last line without one too); `line` returning false stops it. With follow, returns when the
// container ends (or the callback stops it, or the token is triggered: NH_ECANCELLED).
// Errors: NH_ENOTFOUND (no such container; the pod's containers are named), NH_EINVALID (the
// server's refusal, e.g. previous without a previous instance), client errors.
void stream_logs(kube::Client &client, const json &pod, const LogOptions &opts,
                 const std::function<bool(std::string_view line)> &line);

}  // namespace nh::tree
