// Dev mode (replace or duplicate) for every workload kind (dev/workload.hpp): start, end,
// status, list and resume. Everything a later process needs lives in the cluster:
//
//  - a Lease "nh-dev-<kind>-<name>" while a start or an end runs (the lock);
//  - a Secret of the same name, created before anything is changed, holding
//    the cleaned original workload, the original HPAs, the sync token and the
//    session's settings; its annotations carry owner, since and phase;
//  - the annotation dev.nocalhost.io/session on the workload, and
//    dev.nocalhost.io/session-id on its pod template (to find the dev pod).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/cancel.hpp"
#include "dev/workload.hpp"
#include "kube/client.hpp"

namespace nh::dev {

inline constexpr const char *kDefaultWorkdir = "/home/nocalhost-dev";
inline constexpr int kDefaultSyncPort = NH_DEV_DEFAULT_SYNC_PORT;
// The sync sidecar's image unless the caller names one: "", the sidecar runs from the dev
// image and the library uploads nhsyncd into it (dev/sidecar_upload.hpp).
std::string default_sidecar_image();

enum class EventType { Phase = 1, Pod = 2, Warning = 3, Info = 4 };

// The phases events report: values equal to the C ABI's nh_dev_phase, names (phase_name()) the
// strings its events carry. Dev mode's own, then the dev loop's (lib/loop).
enum class Phase {
    Lock = 1, Read, Record, Hpa, Pvc, Park, Patch, Wait, Ready, Rollback, Restore, History, Cleanup, Force, Done,
    Upload, Forward, Sync, Synced, PortForward, Image, Access
};
inline constexpr Phase kLastPhase = Phase::Access;
const char *phase_name(Phase p);  // "lock", ..., "port-forward"

struct Event {
    EventType type;
    Phase phase;
    std::string message;  // one human-readable line, never a secret
    json detail;          // a JSON object with the facts, or null
};

// Receives events on the calling thread; returning false stops the operation (NH_ECANCELLED).
using EventSink = std::function<bool(const Event &)>;

enum class Mode { Replace, Duplicate };
const char *mode_name(Mode m);  // "replace", "duplicate"
Mode parse_mode(const std::string &text);  // throws NH_EINVAL listing the choices
// The developer a call in `mode` means: in duplicate mode `given`, or default_developer() when
// it is empty; "" in replace mode.
std::string developer_of(Mode mode, const std::string &given);
// The session Secret and Lease of a workload in `mode` (duplicate: of developer_of(mode, developer)).
std::string session_object_name(const WorkloadKind &k, const std::string &name, Mode mode, const std::string &developer);

// A directory of the dev container kept on a PersistentVolumeClaim (Nocalhost's
// persistentVolumeDirs): found again on the next start by its labels, so it outlives dev mode.
struct PersistentDir {
    std::string path;           // absolute, in the dev container
    std::string capacity = "10Gi";
    std::string storage_class;  // "": the cluster's default
};

// A patch applied to the dev-mode workload (or its generated Deployment) after the switch.
struct Patch {
    kube::PatchType type = kube::PatchType::StrategicMerge;
    std::string body;  // JSON
};

// Local mode: a port of the workload's pods carried to a process on this machine.
struct LocalPort {
    int port = 0;   // a containerPort of the workload's pods
    int local = 0;  // on 127.0.0.1 here
};
// "PORT" or "PORT:LOCAL" (1-65535 each); throws NH_EINVAL.
LocalPort parse_local_port(const std::string &text);

struct StartOptions {
    // A built-in kind (Kind::Deployment, ...), or a custom kind in full (parse_workload_kind():
    // its resource, group/version, pod template and replicas paths).
    WorkloadKind kind = Kind::Deployment;
    std::string ns;  // empty: the client's
    std::string name;
    std::string container;  // empty: the only container
    std::string image;      // required
    std::string workdir = kDefaultWorkdir;
    std::vector<std::pair<std::string, std::string>> env;
    json resources;  // a ResourceRequirements object for the dev container, or null
    std::string sidecar_image;  // empty: default_sidecar_image(), the uploaded nhsyncd
    std::string sidecar_base_image;  // the bootstrap's image without a sidecar image; empty: the dev image
    int sync_port = kDefaultSyncPort;
    std::chrono::milliseconds timeout{300000};
    bool rollback_on_failure = true;
    std::string owner;  // empty: default_owner()
    std::chrono::seconds lease_duration{30};
    EventSink events;
    CancelToken *cancel = nullptr;
    // Replace (the workload itself) or Duplicate (a private copy; the original is untouched).
    Mode mode = Mode::Replace;
    // Duplicate mode: who the copy belongs to (in its name); empty: default_developer().
    std::string developer;
    std::string image_pull_policy;  // "": unchanged
    std::vector<Patch> patches;
    // A patch the API server refuses fails the start (rolled back) instead of being skipped with
    // a warning event, as Nocalhost skips it.
    bool patch_errors_fatal = false;
    std::vector<PersistentDir> persistent_dirs;
    // Facts recorded with the session and returned by status (e.g. the Nocalhost config's
    // shell, commands, debug port, port forwards, sync settings), or null.
    json extra;
    // Local mode (docs/traffic.md): the dev pod runs only the sync sidecar, which declares the
    // workload's container ports; `local_ports` (at least one, each a port the workload's
    // containers declare) are served there by the sidecar's reverse tunnel. The dev image is
    // optional: without one the sidecar's bootstrap runs from the container's own image.
    bool local = false;
    std::vector<LocalPort> local_ports;
    // Duplicate mode: requests to the workload's Services that carry every one of these headers
    // ("NAME=VALUE") go to the copy (lib/traffic/routing.hpp); empty: no routing.
    std::vector<std::string> headers;
    // What routes them: "" or "auto", "istio", "gateway-api".
    std::string router;
};

// A workload in dev mode, as the cluster records it.
struct Session {
    WorkloadKind kind = Kind::Deployment;  // in full (custom kinds too)
    std::string ns, name;
    std::string object_name;  // of the session Secret and Lease
    std::string phase;        // "starting" or "active"
    std::string owner, since;
    std::string container, image, workdir, sidecar_image;
    int sync_port = kDefaultSyncPort;
    std::string session_id;
    std::string token;  // the sync token: secret, never log it
    std::string pod_name, pod_phase;
    bool pod_ready = false;
    std::string lock_holder;  // a start or end in progress, or ""
    double lock_expires_in = 0;
    Mode mode = Mode::Replace;
    std::string developer;    // duplicate mode
    std::string generated;    // the generated Deployment (the copy in duplicate mode), or ""
    std::string pod_selector; // selects the dev pod's workload pods
    json pvcs = json::array();  // [{"path","claim"}]
    json extra;
    // Local mode: [{"port","local"}] (the workload's ports carried to 127.0.0.1:local); null otherwise.
    json local;
    json routes;  // duplicate mode's header routing (traffic::plan_routes()), or null

    // The status object of nh_dev_status(); never contains the token.
    json to_json() const;
    // Where streams to the dev pod go, as stream::parse_target() takes it: the workload that
    // runs the dev pod ("deployment/web"), so that a stream follows a replaced dev pod; the
    // generated Deployment when there is one (duplicate mode, kinds not run in place).
    std::string target() const;
};

Session start(kube::Client &client, const StartOptions &opts);

struct EndOptions {
    WorkloadKind kind = Kind::Deployment;  // as StartOptions::kind
    std::string ns, name;
    Mode mode = Mode::Replace;
    std::string developer;     // duplicate mode; empty: default_developer()
    std::string owner;
    // How long to wait for a start or end of another client to finish (or its lock to expire).
    std::chrono::milliseconds timeout{60000};
    std::chrono::seconds lease_duration{30};
    EventSink events;
    CancelToken *cancel = nullptr;
    // A workload marked as in dev mode whose session record is missing (or unreadable): remove
    // every mark of dev mode found instead of refusing (see end()).
    bool force = false;
};

struct EndResult {
    bool was_in_dev_mode = false;    // false: nothing to do
    bool workload_gone = false;      // the workload was deleted meanwhile; the rest was cleaned up
    bool overwrote_changes = false;  // someone changed the workload in dev mode; the original won
    bool nhctl = false;              // it was in Nocalhost's (nhctl) dev mode, restored from its annotation
    std::vector<std::string> notes;
};

// Restores the original in place (same UID; a bare Pod is created again from its record).
// Idempotent; any process may call it.
// NH_ESTATE when the workload is marked as in dev mode but its record is gone, unless
// opts.force: then, with no record to restore from, it removes every mark of dev mode it
// finds: the session annotation; the sidecar, work-dir volume and session-id annotation of the
// pod template, or the whole template from the rollout history when the kind keeps one; the
// replica count, strategy and suspension from kubectl's last-applied configuration when there
// is one; the parked nodeSelector; the generated Deployment; the dev pods and revisions; the
// lock and any unreadable record. Whatever it could not restore is in the notes and in
// warning events (phase "force").
EndResult end(kube::Client &client, const EndOptions &opts);

// Which session of a workload a query means.
struct Query {
    WorkloadKind kind;
    std::string ns, name;
    Mode mode = Mode::Replace;
    std::string developer;  // duplicate: empty means default_developer()
};
// The session of a workload from the cluster, with its current dev pod; nullopt
// when the workload is not in dev mode.
std::optional<Session> find_session(kube::Client &client, const Query &q, CancelToken *cancel);
// The status of one workload: the session's to_json(), or {"dev_mode": false, ...}.
// NH_ENOTFOUND when neither the workload nor a session exists.
json status(kube::Client &client, const Query &q, CancelToken *cancel);

// Resolves a custom kind's version (from the API group's preferred version) and Kind name.
void resolve_kind(kube::Client &client, WorkloadKind &k, CancelToken *cancel);

// PersistentVolumeClaims dev mode made for persistentVolumeDirs: of one workload (kind and
// name given) or of the namespace; [{"name","workload","path","capacity","storage_class","phase"}],
// "workload" as KIND/NAME that parse_workload_kind() takes back ("Deployment/web",
// "rollouts.argoproj.io/canary").
json pvc_list(kube::Client &client, const std::string &ns, const WorkloadKind *kind, const std::string &name,
              CancelToken *cancel);
// Deletes one claim by name (NH_ENOTFOUND if it is not one of dev mode's), or every claim of
// the workload when `claim` is empty. Returns the names deleted.
std::vector<std::string> pvc_delete(kube::Client &client, const std::string &ns, const WorkloadKind &kind,
                                    const std::string &name, const std::string &claim, CancelToken *cancel);

// Finds the session's current dev pod again (after a restart of the pod).
void refresh_pod(kube::Client &client, Session &session, CancelToken *cancel);

// Every session in `ns` ("" for all namespaces), as an array of status objects.
json list(kube::Client &client, const std::string &ns, CancelToken *cancel);

// The session a session Secret (one of dev mode's, labelled kRoleLabel=kRoleSession) records,
// without its dev pod or lock state (no request). Throws NH_EPROTOCOL for an unreadable record.
Session session_from_record(const json &secret);

}  // namespace nh::dev
