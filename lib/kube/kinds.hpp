// The built-in workload kinds as kubectl names them: one table for every layer that reads a
// kind from a user (dev mode, stream targets, the CLI through nh_kind_name()).
#pragma once

#include <span>
#include <string_view>

namespace nh::kube {

struct BuiltinKind {
    const char *kind;        // "Deployment"
    const char *singular;    // "deployment"
    const char *resource;    // "deployments" (the plural)
    const char *short_name;  // "deploy" (kubectl's; "" when the kind has none)
    const char *group;       // "apps"; "" for the core group
    const char *version;     // "v1"
};

// Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob.
std::span<const BuiltinKind> builtin_kinds();

// The kind `text` names, as kubectl reads it: the kind, its singular, plural or short name, in
// any case, optionally qualified by its group and version ("deployments.apps",
// "deploy.v1.apps", "pods.v1"). nullptr when it names no built-in kind ("rollouts.argoproj.io",
// "deploymnet", "deployments.batch").
const BuiltinKind *find_builtin_kind(std::string_view text);

}  // namespace nh::kube
