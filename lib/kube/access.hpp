// What the caller may do, asked of the API server with SelfSubjectAccessReview,
// so that an operation refused for lack of rights names all of them at once
// instead of failing at the first forbidden request, halfway through.
#pragma once

#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::kube {

struct Right {
    std::string verb;
    std::string group;  // "" for the core group
    std::string resource;
    std::string subresource;
    std::string ns;  // "" for a cluster-scoped resource
    std::string name;

    // kubectl's spelling: "create rolebindings.rbac.authorization.k8s.io in namespace dev".
    std::string describe() const;
};

// The rights of `wanted` the caller does not have, in their order, each once. An API
// server that does not serve SelfSubjectAccessReview (or refuses it) cannot tell: then
// `answered` is false, `why` says what it answered, and nothing is reported missing.
std::vector<Right> missing_rights(Client &c, const std::vector<Right> &wanted, CancelToken *cancel,
                                  bool *answered = nullptr, std::string *why = nullptr);

// Throws NH_EFORBIDDEN "<what>: missing rights: <each>" when any is missing.
void require_rights(Client &c, const std::vector<Right> &wanted, const std::string &what, CancelToken *cancel);

}  // namespace nh::kube
