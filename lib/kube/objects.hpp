// The Kubernetes vocabulary every layer reads objects with: label selectors as
// the API server takes them in a query, conditions, and when a pod counts as
// Running and Ready (the rules of client-go's podutil).
#pragma once

#include <string>
#include <string_view>

#include "kube/client.hpp"

namespace nh::kube {

// The text of a LabelSelector (matchLabels and matchExpressions) for ?labelSelector=:
// "app=web,tier in (a,b),!legacy". An operator other than In, NotIn, Exists and
// DoesNotExist is NH_EINVAL, as client-go's LabelSelectorAsSelector refuses it.
std::string selector_text(const json &selector);

// The selector text of a workload's spec.selector ("" when it has none).
std::string workload_selector(const json &workload);

// The status condition of `type` ("Ready", "PodScheduled", ...), or nullptr.
const json *condition(const json &object, std::string_view type);

// Phase Running and not being deleted.
bool pod_running(const json &pod);

// The Ready condition is True (client-go's IsPodReady).
bool pod_ready(const json &pod);

}  // namespace nh::kube
