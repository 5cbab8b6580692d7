// Kubernetes requests and object helpers that dev mode's start, end and restore share
// (internal to lib/dev).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/cancel.hpp"
#include "dev/workload.hpp"
#include "kube/client.hpp"
#include "kube/optional.hpp"

namespace nh::dev {

using Clock = std::chrono::steady_clock;

bool deleting(const json &obj);  // has a deletionTimestamp
std::string annotation(const json &obj, const char *key);  // "" when absent
// "apps" of "apps/v1"; "" for the core group.
std::string api_group(const std::string &api_version);

// GET, nullopt for NotFound; DELETE, NotFound counts as done.
using kube::get_optional;
using kube::remove_optional;
// Updates the object at `path` to what `build` makes of its current state, retrying on Conflict.
json update_with_retry(kube::Client &c, const std::string &path, const std::function<json(const json &)> &build,
                       CancelToken *cancel);
// Waits until the workload's controller has seen `updated` (status.observedGeneration).
void wait_observed(kube::Client &c, const std::string &path, const json &updated, Clock::time_point deadline,
                   CancelToken *cancel);
// The last Event message about an object, or "".
std::string last_event(kube::Client &c, const std::string &ns, const std::string &kind, const std::string &name,
                       CancelToken *cancel);
// Deletes the pods selected by `selector` whose session-id annotation is (keep == false) or is
// not (keep == true) `session_id`; pods being deleted are left alone.
void delete_pods_by_session(kube::Client &c, const std::string &ns, const std::string &selector,
                            const std::string &session_id, bool keep, CancelToken *cancel);

// The Deployment controller never finishes a change of replicas made together with a
// switch to (or under) the Recreate strategy while several ReplicaSets are active: it
// takes it for a scaling event, and Recreate scales nothing proportionally. So scale
// under RollingUpdate first (scale_step()), and switch the strategy once the controller has
// scaled.
json scale_step(const json &target, const json &cur);
bool needs_scale_step(const json &target, const json &cur);

}  // namespace nh::dev
