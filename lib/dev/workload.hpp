// Workload kinds, the names of what dev mode stores in the cluster, and the
// pure transformations: cleaning an object for storage, and turning a
// workload into its dev-mode form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/random.hpp"
#include "nocalhost.h"

namespace nh::dev {

using json = nlohmann::json;

enum class Kind { Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob, Pod, Custom };

struct KindInfo {
    Kind kind;
    const char *name;      // "Deployment"
    const char *lower;     // "deployment"
    const char *resource;  // "deployments"
    const char *group_version;  // "apps/v1"
};

// The built-in kinds; Kind::Custom gives placeholders ("Custom", "custom").
const KindInfo &kind_info(Kind k);

// "deployment", "deployments", "deploy", "Deployment", "statefulset", "sts", "rs", "ds",
// "job", "cronjob", "cj", "pod", "po", ...; "deployments.apps" and the like. Text of the form
// "<resource>.<group>" with another group (e.g. "rollouts.argoproj.io") is Kind::Custom.
// Throws NH_EINVAL for unknown kinds.
Kind parse_kind(std::string_view text);

// A kind with everything dev mode needs to find and change a workload of it: a built-in
// kind, or a custom kind (a CRD) described by its resource, group/version, where its pod
// template lives and where its replica count lives (JSON pointers).
struct WorkloadKind {
    Kind kind = Kind::Deployment;
    std::string name;           // "Deployment", "Rollout"
    std::string lower;          // in object names: "deployment", "rollouts.argoproj.io"
    std::string resource;       // "deployments", "rollouts"
    std::string group_version;  // "apps/v1", "argoproj.io/v1alpha1" ("argoproj.io": version not resolved yet)
    std::string template_path = "/spec/template";  // JSON pointer to the pod template
    std::string replicas_path = "/spec/replicas";  // JSON pointer to the replica count; "" none

    WorkloadKind() = default;
    WorkloadKind(Kind k);  // NOLINT: implicit, a built-in kind
    bool builtin() const { return kind != Kind::Custom; }
    bool operator==(Kind k) const { return kind == k; }
    // Where dev mode runs the dev pod: in the workload itself (Deployment, StatefulSet,
    // ReplicaSet), or in a generated Deployment built from its pod template.
    bool in_place() const { return kind == Kind::Deployment || kind == Kind::StatefulSet || kind == Kind::ReplicaSet; }
    json to_json() const;
    static WorkloadKind from_json(const json &j);
};

// parse_kind() and, for custom kinds, resource and group from "<resource>.<group>" (the
// version is resolved from the API server by resolve_kind() unless given).
WorkloadKind parse_workload_kind(std::string_view text);

std::string workload_path(const WorkloadKind &k, const std::string &ns, const std::string &name);
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
inline constexpr const char *kModeAnnotation = "dev.nocalhost.io/mode";
inline constexpr const char *kDeveloperAnnotation = "dev.nocalhost.io/developer";
// On a Deployment dev mode generated (the dev copy, or the dev pod's home for kinds that
// cannot be scaled to one replica), and on its pods: the label its selector uses.
inline constexpr const char *kGeneratedLabel = "dev.nocalhost.io/generated";
inline constexpr const char *kRoleGenerated = "dev-workload";
inline constexpr const char *kDuplicateOfLabel = "dev.nocalhost.io/duplicate-of";
inline constexpr const char *kDeveloperLabel = "dev.nocalhost.io/developer";
// The nodeSelector key that keeps a DaemonSet's pods off every node while in dev mode.
inline constexpr const char *kParkedNodeLabel = "dev.nocalhost.io/parked-in-dev-mode";
// Nocalhost's own (nhctl) record of a workload's original, on the workload in its dev mode.
inline constexpr const char *kNhctlOriginAnnotation = "dev.nocalhost/origin-workload-definition";

inline constexpr const char *kSidecarName = "nh-sync";
inline constexpr const char *kSharedVolumeName = "nh-dev-workdir";
inline constexpr const char *kTokenEnv = "NH_SYNC_TOKEN";
// The sidecar's own volume (an emptyDir mounted in the sidecar only): nhsyncd's state under
// state/, and the uploaded nhsyncd under bin/ when the sidecar runs from the dev image.
inline constexpr const char *kSidecarVolumeName = "nh-sidecar";
inline constexpr const char *kSidecarMount = "/nh-sidecar";
inline constexpr const char *kSidecarStateDir = "/nh-sidecar/state";
inline constexpr const char *kSidecarBinary = "/nh-sidecar/bin/nhsyncd";

// The name of the session Secret and Lease of a workload: "nh-dev-deployment-web",
// shortened with a hash when the workload's name is long.
std::string session_object_name(const WorkloadKind &k, const std::string &name);
// Duplicate mode: one per developer, "nh-dev-<kind>-<name>-dup-<hash of the developer>".
std::string duplicate_object_name(const WorkloadKind &k, const std::string &name, const std::string &developer);
// The name of a developer's copy of a workload: "<name>-dup-<developer slug>-<hash>".
std::string duplicate_copy_name(const std::string &name, const std::string &developer);
// A label value (at most 63 characters, alphanumeric at both ends) standing for `text`.
std::string label_value(const std::string &text);
// "user@host" (default_identity()): who the developer is unless the caller says.
std::string default_developer();

// The object without server-managed fields (status, uid, resourceVersion,
// managedFields, creationTimestamp, generation, selfLink, deletion fields) and
// without the Deployment revision annotation: what is stored and restored.
json clean_object(const json &obj);

// The container dev mode replaces: `requested`, or the only one. Throws
// NH_ENOTFOUND (unknown name, listing the containers) or NH_EINVAL (several, none given).
std::string choose_container(const json &workload, const WorkloadKind &k, const std::string &requested);

// What dev mode changes.
struct DevSpec {
    std::string container;
    std::string image;
    std::string workdir;
    std::vector<std::pair<std::string, std::string>> env;
    json resources;  // a ResourceRequirements object, or null
    // Empty: the sidecar runs from the dev image, a shell bootstrap waiting for the nhsyncd
    // that the library uploads (sidecar_bootstrap()).
    std::string sidecar_image;
    std::string sidecar_base_image;  // the bootstrap's image; empty: the dev image
    int sync_port = NH_DEV_DEFAULT_SYNC_PORT;
    std::string session_id;
    std::string secret_name;  // holds the sync token under key "token"
    std::string image_pull_policy;  // "" unchanged
    // PersistentVolumeClaims mounted in the dev container: claim name, mount path.
    std::vector<std::pair<std::string, std::string>> pvc_mounts;
    // Local mode: no dev container; the pod runs only the sidecar (from `image` without a
    // sidecar image), which declares every port of the pod's containers.
    bool local = false;
};

// The sidecar's shell bootstrap (`sh -c SCRIPT nh-sidecar NHSYNCD-ARGS...`): waits for the
// uploaded nhsyncd at kSidecarBinary and execs it with its arguments; a restarted container
// finds it there at once.
const std::string &sidecar_bootstrap();

// A hint for a start that failed because an image has no /bin/sh (a distroless dev image: the
// dev container's keep-alive and the sidecar's bootstrap both need one), naming the ways out;
// "" when `message` is about something else.
std::string missing_shell_hint(const std::string &message);

// The command that keeps the dev container alive without starting the app. Unlike
// `tail -f /dev/null` as PID 1 it exits at once on SIGTERM, so pods stop promptly.
const std::vector<std::string> &keep_alive_command();

// `original` in dev mode: 1 replica, Recreate (Deployment) or RollingUpdate
// (StatefulSet), the container swapped, probes removed, the sidecar and the
// shared volume added, the session annotation set. In local mode every container and init
// container is removed and the sidecar declares their ports (numbers and names, so that a
// Service's named targetPort still resolves). `original` is not changed.
json apply_dev_spec(const json &original, const WorkloadKind &k, const DevSpec &spec);

// Removes from a pod template what dev mode adds and what needs no record to undo: the session-id
// annotation, the sync sidecar, the shared work-dir volume and the claims' volumes with their
// mounts, the parked nodeSelector. Returns the containers left in their dev form (the dev image
// with the keep-alive command): their original image, command and probes are only in the
// session record.
std::vector<std::string> strip_dev_marks(json &tpl);



// The pod template (at k.template_path) of a workload; throws NH_EPROTOCOL when missing.
const json &pod_template(const json &workload, const WorkloadKind &k);
json &pod_template(json &workload, const WorkloadKind &k);

// The controller owning `workload` ("ReplicaSet/web-5d8f"), or "".
std::string controller_of(const json &workload);

// A Deployment running one pod from `tpl` (a pod template), with a selector of its own
// (kGeneratedLabel = label_value(name)). `duplicate`: the template's labels are replaced by
// dev mode's own, so no Service selects its pods; otherwise they are kept, minus the labels
// controllers add (job-name, controller-uid, pod-template-hash, controller-revision-hash...).
// Volumes of StatefulSet volumeClaimTemplates become emptyDirs; restartPolicy becomes Always.
json generated_deployment(const std::string &name, const std::string &ns, const json &tpl, bool duplicate,
                          const json &original, const WorkloadKind &k, const std::string &developer);


// Current UTC time as RFC 3339 ("2024-01-02T03:04:05Z"), or with microseconds.
std::string now_rfc3339(bool micro = false);
// Seconds since the epoch of an RFC 3339 time; 0 when unparseable.
double parse_rfc3339(const std::string &text);
double now_seconds();

}  // namespace nh::dev
