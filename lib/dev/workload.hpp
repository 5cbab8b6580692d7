// Workload kinds, the names of what dev mode stores in the cluster, and the
// pure transformations: cleaning an object for storage, and turning a
// workload into its dev-mode form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nh::dev {

using json = nlohmann::json;

enum class Kind { Deployment, StatefulSet };

struct KindInfo {
    Kind kind;
    const char *name;      // "Deployment"
    const char *lower;     // "deployment"
    const char *resource;  // "deployments"
    const char *group_version;  // "apps/v1"
};

const KindInfo &kind_info(Kind k);

// "deployment", "deployments", "deploy", "Deployment", "statefulset", "sts", ...
// Throws NH_EUNSUPPORTED for kinds dev mode does not handle yet, NH_EINVAL otherwise.
Kind parse_kind(std::string_view text);

std::string workload_path(Kind k, const std::string &ns, const std::string &name);
std::string secret_path(const std::string &ns, const std::string &name = {});
std::string lease_path(const std::string &ns, const std::string &name = {});
std::string hpa_path(const std::string &ns, const std::string &name = {});
std::string pods_path(const std::string &ns);

// Keys of what dev mode writes into the cluster.
inline constexpr const char *kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char *kManagedByValue = "libnocalhost";
inline constexpr const char *kRoleLabel = "dev.nocalhost.io/role";
inline constexpr const char *kRoleSession = "dev-session";
// On the workload while in dev mode: the name of the session Secret.
inline constexpr const char *kSessionAnnotation = "dev.nocalhost.io/session";
// On the dev pod template: the random id of the session, to tell the dev pod apart.
inline constexpr const char *kSessionIdAnnotation = "dev.nocalhost.io/session-id";
// On the session Secret.
inline constexpr const char *kKindAnnotation = "dev.nocalhost.io/workload-kind";
inline constexpr const char *kNameAnnotation = "dev.nocalhost.io/workload-name";
inline constexpr const char *kPhaseAnnotation = "dev.nocalhost.io/phase";
inline constexpr const char *kOwnerAnnotation = "dev.nocalhost.io/owner";
inline constexpr const char *kSinceAnnotation = "dev.nocalhost.io/since";
inline constexpr const char *kDevGenerationAnnotation = "dev.nocalhost.io/dev-generation";

inline constexpr const char *kSidecarName = "nh-sync";
inline constexpr const char *kSharedVolumeName = "nh-dev-workdir";
inline constexpr const char *kTokenEnv = "NH_SYNC_TOKEN";

// The name of the session Secret and Lease of a workload: "nh-dev-deployment-web",
// shortened with a hash when the workload's name is long.
std::string session_object_name(Kind k, const std::string &name);

// The object without server-managed fields (status, uid, resourceVersion,
// managedFields, creationTimestamp, generation, selfLink, deletion fields) and
// without the Deployment revision annotation: what is stored and restored.
json clean_object(const json &obj);

// The container dev mode replaces: `requested`, or the only one. Throws
// NH_ENOTFOUND (unknown name, listing the containers) or NH_EINVAL (several, none given).
std::string choose_container(const json &workload, const std::string &requested);

// What dev mode changes.
struct DevSpec {
    std::string container;
    std::string image;
    std::string workdir;
    std::vector<std::pair<std::string, std::string>> env;
    json resources;  // a ResourceRequirements object, or null
    std::string sidecar_image;
    int sync_port = 7710;
    std::string session_id;
    std::string secret_name;  // holds the sync token under key "token"
};

// The command that keeps the dev container alive without starting the app. Unlike
// `tail -f /dev/null` as PID 1 it exits at once on SIGTERM, so pods stop promptly.
const std::vector<std::string> &keep_alive_command();

// `original` in dev mode: 1 replica, Recreate (Deployment) or RollingUpdate
// (StatefulSet), the container swapped, probes removed, the sidecar and the
// shared volume added, the session annotation set. `original` is not changed.
json apply_dev_spec(const json &original, Kind k, const DevSpec &spec);

// A label selector string ("a=b,c in (d)") for the workload's spec.selector.
std::string label_selector(const json &workload);

// A random hex string of `bytes` random bytes (OpenSSL RAND_bytes).
std::string random_hex(size_t bytes);

// Current UTC time as RFC 3339 ("2024-01-02T03:04:05Z"), or with microseconds.
std::string now_rfc3339(bool micro = false);
// Seconds since the epoch of an RFC 3339 time; 0 when unparseable.
double parse_rfc3339(const std::string &text);
double now_seconds();

}  // namespace nh::dev
