#include "kube/kinds.hpp"

#include <cctype>
#include <string>

namespace nh::kube {
namespace {

// kubectl's names: the resources' singular and plural forms and the short names the API
// server's discovery lists for them (kubectl api-resources).
constexpr BuiltinKind kKinds[] = {
    {"Pod", "pod", "pods", "po", "", "v1"},
    {"Deployment", "deployment", "deployments", "deploy", "apps", "v1"},
    {"StatefulSet", "statefulset", "statefulsets", "sts", "apps", "v1"},
    {"DaemonSet", "daemonset", "daemonsets", "ds", "apps", "v1"},
    {"ReplicaSet", "replicaset", "replicasets", "rs", "apps", "v1"},
    {"Job", "job", "jobs", "", "batch", "v1"},
    {"CronJob", "cronjob", "cronjobs", "cj", "batch", "v1"},
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Whether `qualifier` (what follows the name's first dot) is the kind's group, its version,
// or its version and group ("v1.apps").
bool qualifies(const BuiltinKind &k, const std::string &qualifier) {
    const std::string group = k.group, version = k.version;
    if (qualifier.empty()) return true;  // no qualifier
    if (qualifier == version) return true;
    if (group.empty()) return false;
    return qualifier == group || qualifier == version + "." + group;
}

}  // namespace

std::span<const BuiltinKind> builtin_kinds() { return kKinds; }

const BuiltinKind *find_builtin_kind(std::string_view text) {
    std::string name = lower(text), qualifier;
    if (auto dot = name.find('.'); dot != std::string::npos) {
        qualifier = name.substr(dot + 1);
        name.resize(dot);
        if (qualifier.empty()) return nullptr;
    }
    if (name.empty()) return nullptr;
    for (const auto &k : kKinds)
        if ((name == k.singular || name == k.resource || name == k.short_name) && qualifies(k, qualifier)) return &k;
    return nullptr;
}

}  // namespace nh::kube
