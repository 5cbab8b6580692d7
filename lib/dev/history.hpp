// The rollout history dev mode leaves behind. Switching a Deployment, StatefulSet or
// DaemonSet to its dev form (or parking it) makes its controller record a revision of the
// dev pod template: a ReplicaSet, or a ControllerRevision. After the original is back those
// revisions stay, and `kubectl rollout undo` would bring dev mode back from them. They are
// told apart by what only dev mode puts into a pod template: the session-id annotation, or
// the parked nodeSelector of a DaemonSet.
#pragma once

#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "dev/workload.hpp"
#include "kube/client.hpp"

namespace nh::dev {

// True when a pod template is one dev mode made (and no original has).
bool dev_template(const json &tpl);

// Once the controller of `restored` (the workload as the restore left it, in place) has seen
// it, deletes the revisions of dev templates from its rollout history: the ReplicaSets of a
// Deployment, the ControllerRevisions of a StatefulSet or DaemonSet, owned by the workload
// (its UID) and never the one of its current template. Other kinds keep no history of their
// template. Returns the objects deleted ("replicaset/web-5d8f"); a failure to clean up goes
// into `notes` (the workload is restored by then) rather than being thrown, except a cancel.
std::vector<std::string> forget_dev_revisions(kube::Client &c, const WorkloadKind &k, const std::string &ns,
                                              const json &restored, std::vector<std::string> &notes,
                                              CancelToken *cancel);

// The newest pod template in the rollout history of `workload` (a Deployment's ReplicaSets, a
// StatefulSet's or DaemonSet's ControllerRevisions) that is not a dev template: the original's
// template as its controller recorded it, without the labels the controller adds. Null when
// the kind keeps no history or none is left; `from` names the object it came from.
json recorded_template(kube::Client &c, const WorkloadKind &k, const std::string &ns, const json &workload,
                       std::string &from, CancelToken *cancel);

// The Deployment controller can stall a rollout for good: when its only active ReplicaSet
// already has the Deployment's replica count but a different desired-replicas annotation (a
// change of replicas that came while an earlier rollout was still moving), every sync is
// taken for a scaling event, scaling finds nothing to do, and the ReplicaSet of the new
// template is never created. When the Deployment at `path` is in that state, sets the
// annotation to the replica count (what the controller's own scaling would have written) so
// that its next sync rolls out the new template. Returns a note saying what was repaired, or
// "" when nothing was stalled.
std::string unstall_rollout(kube::Client &c, const std::string &ns, const std::string &path, CancelToken *cancel);

}  // namespace nh::dev
