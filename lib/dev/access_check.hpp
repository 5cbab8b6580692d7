// Before dev mode changes anything: does the caller have every right the start and the later
// end need? The API server answers through SelfSubjectAccessReviews, one per verb and resource;
// a start that would fail half-way for a missing right fails before it begins instead, naming
// every right missing at once.
#pragma once

#include <string>
#include <vector>

#include "dev/session.hpp"
#include "dev/workload.hpp"

namespace nh::dev {

// One right: `verb` on `resource` (with `subresource`, e.g. pods "exec") of API `group` ("" the
// core group) in the workload's namespace. `needed`: false for a right whose lack dev mode works
// around (it is checked and reported, but does not stop the start).
struct Right {
    std::string verb, group, resource, subresource, why;
    bool needed = true;
};

// The rights a start of a workload of kind `k` in `mode` and its end need, in the namespace:
// the workload (and, where dev mode runs it elsewhere, the generated Deployment), its
// ReplicaSets (Deployment history), HPAs, pods, pods/exec, pods/portforward, events, the
// session Secret and the Lease; PersistentVolumeClaims with `persistent_dirs`; patch on the
// workload with `patches`; with header routing (`route_group` the router's API group, see
// traffic::router_group()), the copy's Services and the group's VirtualServices or HTTPRoutes.
// Worked out from the requests start and end make.
std::vector<Right> required_rights(const WorkloadKind &k, Mode mode, bool persistent_dirs, bool patches,
                                   const std::string &route_group = "");

// The rights as JSON, grouped as an RBAC Role's rules: [{"apiGroups":[G],"resources":["pods/exec"],
// "verbs":[...]}...], in the order of `rights`.
json rights_rules(const std::vector<Right> &rights);

// What the check found: `checked` false when the server would not say (SelfSubjectAccessReview
// forbidden or not served); `missing` the rights refused, as {"verb","group","resource",
// "subresource","why","needed"}.
struct AccessReport {
    bool checked = true;
    std::string unchecked_reason;
    json missing = json::array();
};

AccessReport review_access(kube::Client &c, const std::string &ns, const std::vector<Right> &rights, CancelToken *cancel);

// The check of a start: an event of phase "access", then NH_EFORBIDDEN naming every needed
// right missing (nothing changed yet); rights dev mode can do without, missing, and a server
// that would not say are info events, and the start goes on.
void check_access(kube::Client &c, const WorkloadKind &k, const std::string &ns, const StartOptions &o,
                  const std::string &what, const std::string &route_group = "");

}  // namespace nh::dev
