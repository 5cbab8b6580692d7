// Header routing to a developer's copy (duplicate dev mode, docs/traffic.md "Header routing"):
// requests to the workload's Services that carry the developer's headers go to the copy, all
// others to the original. The routing objects are Istio's (a VirtualService route per Service
// port) or the Gateway API's (an HTTPRoute per Service port, GAMMA: its parent is the Service);
// either routes to a Service of the copy's own, which selects only the copy's pods.
//
// A start plans (plan_routes(): nothing changes), records the plan in its session record, then
// applies it (apply_routes()); an end, a rollback or a restore after a crash removes exactly
// what the plan names (remove_routes()), from the record alone. Everything is found again by
// name: routes inside a VirtualService are named "nh-<session id>-<port>", the copy's Services
// and HTTPRoutes carry the label kRouteSessionLabel = the session id.
#pragma once

#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::traffic {

using json = nlohmann::json;

enum class Router { Istio, GatewayApi };
const char *router_name(Router r);  // "istio", "gateway-api"

// Labels every object the routing creates (the copy's Services, HTTPRoutes, a VirtualService of
// its own) with the session id it belongs to; a VirtualService made for a host that had none
// carries kRouteOwnerLabel instead (it is shared by every developer routing that host).
inline constexpr const char *kRouteSessionLabel = "dev.nocalhost.io/route-session";
inline constexpr const char *kRouteOwnerLabel = "dev.nocalhost.io/route-host";
// The route of a VirtualService made by the routing that sends all other requests to the
// original.
inline constexpr const char *kDefaultRouteName = "nh-default";

inline constexpr const char *kIstioGroup = "networking.istio.io";
inline constexpr const char *kGatewayGroup = "gateway.networking.k8s.io";

struct Header {
    std::string name, value;  // name lower-cased (HTTP header names are case-insensitive)
};

// "NAME=VALUE" each: NAME an HTTP token (RFC 9110: letters, digits and !#$%&'*+-.^_`|~), VALUE
// visible ASCII, spaces and tabs inside (no control characters, not empty, no leading or
// trailing whitespace), at most 256 characters; no name twice. Throws NH_EINVAL naming the
// entry and the rule it breaks.
std::vector<Header> parse_headers(const std::vector<std::string> &entries);

// Accepts "", "auto", "istio" and "gateway-api"; throws NH_EINVAL listing them otherwise.
void check_router_choice(const std::string &choice);

// The router `choice` means on this cluster: "istio" and "gateway-api" when their API is
// served, "auto" ("" too) Istio when networking.istio.io/v1 serves virtualservices, else the
// Gateway API when gateway.networking.k8s.io/v1 serves httproutes. NH_ESTATE, before anything
// changes, saying which API group and CRD is needed when it is not served.
Router resolve_router(kube::Client &c, const std::string &choice, CancelToken *cancel);

// The API group of a router's objects.
const char *router_group(Router r);

// The plan of a start's routing, recorded in the session record as it is:
//   {"router","session","headers":[{"name","value"}],"selector":{copy's pod labels},
//    "services":[{"name","copy","ports":[{"name","port","protocol","targetPort"}]}]}
// The Services are those in `ns` whose selector picks the pods of the original's template
// (`pod_labels`); NH_ESTATE when none does (nothing to route). `copy_selector`: labels only the
// copy's pods carry.
json plan_routes(kube::Client &c, const std::string &ns, const json &pod_labels, const json &copy_selector,
                 const std::string &session_id, Router router, const std::vector<Header> &headers,
                 const std::string &what, CancelToken *cancel);

// Creates the copy's Services and the routes of a plan (idempotent: a start taken over applies
// its plan again). An existing VirtualService of a Service's host gets the developer's routes
// before its own, in place (resourceVersion conflicts retried); a host without one gets a
// VirtualService "nh-<service>" with the developer's routes and kDefaultRouteName.
void apply_routes(kube::Client &c, const std::string &ns, const json &plan, CancelToken *cancel);

// Removes what apply_routes() of `plan` added, and only that: the developer's routes from every
// VirtualService of the namespace (others' routes and changes are kept), a VirtualService of
// the routing's own once no developer's route is left in it, the HTTPRoutes and the copy's
// Services of the session. Idempotent; a router API no longer served is skipped (nothing of it
// can be left).
void remove_routes(kube::Client &c, const std::string &ns, const json &plan, CancelToken *cancel);

// The status fields of a plan: {"headers":["name=value"...],"router":"istio"}.
json route_status(const json &plan);

}  // namespace nh::traffic
