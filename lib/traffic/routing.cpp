#include "traffic/routing.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>

#include "common/error.hpp"
#include "kube/optional.hpp"

namespace nh::traffic {

namespace {

constexpr int kAttempts = 20;  // conflicts retried per object

using kube::get_optional;
using kube::remove_optional;

// The items of a list, or nullopt when the collection is not served (404).
std::optional<json> list_optional(kube::Client &c, const std::string &path, CancelToken *cancel) {
    auto l = get_optional(c, path, cancel);
    if (!l) return std::nullopt;
    return l->value("items", json::array());
}

std::string services_path(const std::string &ns) { return "/api/v1/namespaces/" + ns + "/services"; }
std::string vs_path(const std::string &ns) {
    return std::string("/apis/") + kIstioGroup + "/v1/namespaces/" + ns + "/virtualservices";
}
std::string httproute_path(const std::string &ns) {
    return std::string("/apis/") + kGatewayGroup + "/v1/namespaces/" + ns + "/httproutes";
}
std::string by_session(const std::string &sid) {
    return "?labelSelector=" + kube::url_escape(std::string(kRouteSessionLabel) + "=" + sid);
}

std::string name_of(const json &obj) { return obj.value("metadata", json::object()).value("name", ""); }

// A stable short hash of `text` (FNV-1a, 32 bits) in hex, for names cut to fit.
std::string short_hash(const std::string &text) {
    uint32_t h = 2166136261u;
    for (unsigned char ch : text) h = (h ^ ch) * 16777619u;
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", h);
    return buf;
}

// "nh-<session>-<service>" as a Service name (a DNS-1035 label: at most 63 characters).
std::string copy_service_name(const std::string &sid, const std::string &svc) {
    std::string prefix = "nh-" + sid + "-";
    std::string part = svc;
    if (prefix.size() + part.size() > 63) part = part.substr(0, 63 - prefix.size() - 9) + "-" + short_hash(svc);
    std::string n = prefix + part;
    while (!n.empty() && n.back() == '-') n.pop_back();
    return n;
}

// The route names of a session in a VirtualService: "nh-<session>-<service>-<port>".
std::string route_prefix(const std::string &sid) { return "nh-" + sid + "-"; }
bool ours(const json &route, const std::string &sid) {
    const std::string n = route.is_object() ? route.value("name", "") : "";
    return n.rfind(route_prefix(sid), 0) == 0;
}

bool token_char(unsigned char ch) {
    return std::isalnum(ch) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(ch)) != std::string_view::npos;
}

// Does this VirtualService route `svc` of `ns` for the mesh (not only at a gateway)?
bool routes_host(const json &vs, const std::string &svc, const std::string &ns) {
    const json spec = vs.value("spec", json::object());
    const json gateways = spec.value("gateways", json::array());
    if (!gateways.empty() && std::find(gateways.begin(), gateways.end(), "mesh") == gateways.end()) return false;
    for (const auto &h : spec.value("hosts", json::array())) {
        if (!h.is_string()) continue;
        const std::string host = h.get<std::string>();
        if (host == svc || host == svc + "." + ns || host.rfind(svc + "." + ns + ".svc", 0) == 0) return true;
    }
    return false;
}

// The VirtualService of the mesh for `svc`, if any; NH_ESTATE when it routes other hosts too
// (the developer's routes would catch their requests as well).
std::optional<json> find_vs(const json &items, const std::string &svc, const std::string &ns) {
    std::vector<json> found;
    for (const auto &vs : items)
        if (routes_host(vs, svc, ns)) found.push_back(vs);
    if (found.empty()) return std::nullopt;
    std::sort(found.begin(), found.end(), [](const json &a, const json &b) {
        auto ts = [](const json &o) { return o["metadata"].value("creationTimestamp", ""); };
        return ts(a) != ts(b) ? ts(a) < ts(b) : name_of(a) < name_of(b);
    });
    const json &vs = found.front();
    const json hosts = vs["spec"].value("hosts", json::array());
    if (hosts.size() > 1)
        fail(NH_ESTATE, "VirtualService " + name_of(vs) + " in namespace " + ns + " routes several hosts (" + hosts.dump() +
                            "): a developer's header routes there would catch the requests of every one of them; give " +
                            svc + " a VirtualService of its own");
    return vs;
}

// The developer's routes for one Service in a VirtualService: one per port.
json istio_routes(const json &plan, const json &svc) {
    const std::string sid = plan.value("session", "");
    json match_headers = json::object();
    for (const auto &h : plan["headers"]) match_headers[h.value("name", "")] = {{"exact", h.value("value", "")}};
    json routes = json::array();
    for (const auto &p : svc["ports"]) {
        const int port = p.value("port", 0);
        routes.push_back({{"name", route_prefix(sid) + svc.value("name", "") + "-" + std::to_string(port)},
                          {"match", {{{"headers", match_headers}, {"port", port}}}},
                          {"route", {{{"destination", {{"host", svc.value("copy", "")}, {"port", {{"number", port}}}}}}}}});
    }
    return routes;
}

// `http` without the routes of session `sid`.
json without_ours(const json &http, const std::string &sid) {
    json kept = json::array();
    for (const auto &r : http)
        if (!ours(r, sid)) kept.push_back(r);
    return kept;
}

void apply_istio(kube::Client &c, const std::string &ns, const json &plan, const json &svc, CancelToken *cancel) {
    const std::string sid = plan.value("session", ""), name = svc.value("name", "");
    const json mine = istio_routes(plan, svc);
    for (int attempt = 0;; ++attempt) {
        if (attempt >= kAttempts)
            fail(NH_ECONFLICT, "the VirtualService of " + name + " in namespace " + ns + " kept changing; try again");
        json items = list_optional(c, vs_path(ns), cancel).value_or(json::array());
        auto vs = find_vs(items, name, ns);
        try {
            if (!vs) {
                json http = mine;
                http.push_back({{"name", kDefaultRouteName}, {"route", {{{"destination", {{"host", name}}}}}}});
                json made = {{"apiVersion", std::string(kIstioGroup) + "/v1"},
                             {"kind", "VirtualService"},
                             {"metadata", {{"name", "nh-" + name}, {"namespace", ns}, {"labels", {{kRouteOwnerLabel, name}}}}},
                             {"spec", {{"hosts", {name}}, {"http", http}}}};
                c.create(vs_path(ns), made, cancel);
                return;
            }
            json next = *vs;
            json http = mine;
            for (const auto &r : without_ours(next["spec"].value("http", json::array()), sid)) http.push_back(r);
            if (next["spec"].value("http", json::array()) == http) return;
            next["spec"]["http"] = http;
            c.update(vs_path(ns) + "/" + name_of(next), next, cancel);
            return;
        } catch (const Error &e) {
            // Another developer made the host's VirtualService meanwhile, changed it, or removed
            // the routing's own one as their last route went: read again.
            if (e.code() != NH_EEXISTS && e.code() != NH_ECONFLICT && e.code() != NH_ENOTFOUND) throw;
        }
    }
}

// Creates `obj` at `collection`, or replaces the spec (and labels) of the one of its name.
void create_or_replace(kube::Client &c, const std::string &collection, const json &obj, CancelToken *cancel) {
    for (int attempt = 0;; ++attempt) {
        try {
            c.create(collection, obj, cancel);
            return;
        } catch (const Error &e) {
            if (e.code() != NH_EEXISTS) throw;
        }
        auto cur = get_optional(c, collection + "/" + name_of(obj), cancel);
        if (!cur) continue;
        json next = *cur;
        next["metadata"]["labels"] = obj["metadata"]["labels"];
        for (const auto &[k, v] : obj["spec"].items()) next["spec"][k] = v;
        try {
            c.update(collection + "/" + name_of(obj), next, cancel);
            return;
        } catch (const Error &e) {
            if (e.code() != NH_ECONFLICT || attempt >= kAttempts) throw;
        }
    }
}

json gateway_route(const std::string &ns, const json &plan, const json &svc, const json &port) {
    const std::string sid = plan.value("session", ""), name = svc.value("name", ""), copy = svc.value("copy", "");
    const int p = port.value("port", 0);
    json headers = json::array();
    for (const auto &h : plan["headers"])
        headers.push_back({{"type", "Exact"}, {"name", h.value("name", "")}, {"value", h.value("value", "")}});
    return {{"apiVersion", std::string(kGatewayGroup) + "/v1"},
            {"kind", "HTTPRoute"},
            {"metadata", {{"name", copy + "-" + std::to_string(p)}, {"namespace", ns}, {"labels", {{kRouteSessionLabel, sid}}}}},
            {"spec",
             {{"parentRefs", {{{"group", ""}, {"kind", "Service"}, {"name", name}, {"port", p}}}},
              {"rules",
               {{{"matches", {{{"headers", headers}}}}, {"backendRefs", {{{"name", copy}, {"port", p}}}}},
                {{"backendRefs", {{{"name", name}, {"port", p}}}}}}}}}};
}

}  // namespace

const char *router_name(Router r) { return r == Router::Istio ? "istio" : "gateway-api"; }
const char *router_group(Router r) { return r == Router::Istio ? kIstioGroup : kGatewayGroup; }

std::vector<Header> parse_headers(const std::vector<std::string> &entries) {
    std::vector<Header> out;
    std::set<std::string> seen;
    for (const auto &e : entries) {
        const auto eq = e.find('=');
        if (eq == std::string::npos)
            fail(NH_EINVAL, "header '" + e + "': expected NAME=VALUE (e.g. x-dev=alice)");
        Header h{e.substr(0, eq), e.substr(eq + 1)};
        if (h.name.empty()) fail(NH_EINVAL, "header '" + e + "': the name is empty (expected NAME=VALUE)");
        if (h.name.size() > 256) fail(NH_EINVAL, "header '" + h.name.substr(0, 32) + "...': the name is longer than 256 characters");
        for (unsigned char ch : h.name)
            if (!token_char(ch))
                fail(NH_EINVAL, "header '" + h.name + "': the name may hold only letters, digits and !#$%&'*+-.^_`|~ (an HTTP token)");
        for (auto &ch : h.name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (h.value.empty()) fail(NH_EINVAL, "header '" + h.name + "': the value is empty (expected NAME=VALUE)");
        if (h.value.size() > 256) fail(NH_EINVAL, "header '" + h.name + "': the value is longer than 256 characters");
        for (unsigned char ch : h.value)
            if (ch != ' ' && ch != '\t' && (ch < 0x21 || ch > 0x7e))
                fail(NH_EINVAL, "header '" + h.name + "': the value may hold only visible ASCII characters, spaces and tabs");
        if (std::isspace(static_cast<unsigned char>(h.value.front())) || std::isspace(static_cast<unsigned char>(h.value.back())))
            fail(NH_EINVAL, "header '" + h.name + "': the value starts or ends with whitespace (HTTP drops it)");
        if (!seen.insert(h.name).second) fail(NH_EINVAL, "header '" + h.name + "' is given twice (names are case-insensitive)");
        out.push_back(std::move(h));
    }
    return out;
}

void check_router_choice(const std::string &choice) {
    if (choice.empty() || choice == "auto" || choice == "istio" || choice == "gateway-api") return;
    fail(NH_EINVAL, "unknown router '" + choice + "' (valid: auto, istio, gateway-api)");
}

Router resolve_router(kube::Client &c, const std::string &choice, CancelToken *cancel) {
    check_router_choice(choice);
    auto serves = [&](const char *group, const char *resource) {
        auto g = get_optional(c, std::string("/apis/") + group + "/v1", cancel);
        if (!g) return false;
        for (const auto &r : g->value("resources", json::array()))
            if (r.value("name", "") == resource) return true;
        return false;
    };
    const std::string istio_need = std::string("Istio's API (") + kIstioGroup + "/v1 VirtualService, the CRD virtualservices." + kIstioGroup + ")";
    const std::string gateway_need = std::string("the Gateway API (") + kGatewayGroup + "/v1 HTTPRoute, the CRD httproutes." + kGatewayGroup + ")";
    if (choice == "istio") {
        if (serves(kIstioGroup, "virtualservices")) return Router::Istio;
        fail(NH_ESTATE, "header routing with router istio needs " + istio_need + ", which this cluster does not serve; install Istio, or choose --router gateway-api");
    }
    if (choice == "gateway-api") {
        if (serves(kGatewayGroup, "httproutes")) return Router::GatewayApi;
        fail(NH_ESTATE, "header routing with router gateway-api needs " + gateway_need + ", which this cluster does not serve; install the Gateway API CRDs and a mesh that implements them (GAMMA)");
    }
    if (serves(kIstioGroup, "virtualservices")) return Router::Istio;
    if (serves(kGatewayGroup, "httproutes")) return Router::GatewayApi;
    fail(NH_ESTATE, "header routing needs a service mesh: " + istio_need + " or " + gateway_need +
                        " served by the cluster, and this cluster serves neither; nothing was changed");
}

json plan_routes(kube::Client &c, const std::string &ns, const json &pod_labels, const json &copy_selector,
                 const std::string &session_id, Router router, const std::vector<Header> &headers,
                 const std::string &what, CancelToken *cancel) {
    if (headers.empty()) fail(NH_EINVAL, "header routing needs at least one header NAME=VALUE");
    json plan = {{"router", router_name(router)}, {"session", session_id}, {"selector", copy_selector}};
    plan["headers"] = json::array();
    for (const auto &h : headers) plan["headers"].push_back({{"name", h.name}, {"value", h.value}});
    plan["services"] = json::array();
    std::optional<json> vss;
    if (router == Router::Istio) vss = list_optional(c, vs_path(ns), cancel);
    for (const auto &s : c.get(services_path(ns), cancel).value("items", json::array())) {
        const json sel = s.value("spec", json::object()).value("selector", json::object());
        if (sel.empty() || !pod_labels.is_object()) continue;
        bool picks = true;
        for (const auto &[k, v] : sel.items())
            if (!pod_labels.contains(k) || pod_labels[k] != v) picks = false;
        if (!picks) continue;
        json ports = json::array();
        for (const auto &p : s["spec"].value("ports", json::array())) {
            if (p.value("protocol", "TCP") != "TCP") continue;
            json port = {{"port", p.value("port", 0)}, {"protocol", "TCP"}, {"targetPort", p.value("targetPort", json(p.value("port", 0)))}};
            if (p.contains("name")) port["name"] = p["name"];
            ports.push_back(port);
        }
        if (ports.empty()) continue;
        const std::string name = name_of(s);
        if (vss) find_vs(*vss, name, ns);  // a VirtualService it cannot change safely: refused now
        plan["services"].push_back({{"name", name}, {"copy", copy_service_name(session_id, name)}, {"ports", ports}});
    }
    if (plan["services"].empty())
        fail(NH_ESTATE, "no Service in namespace " + ns + " selects the pods of " + what +
                            " (with a TCP port): header routing routes the requests sent to a workload's Services; nothing was changed");
    return plan;
}

void apply_routes(kube::Client &c, const std::string &ns, const json &plan, CancelToken *cancel) {
    const std::string sid = plan.value("session", "");
    const bool istio = plan.value("router", "") == router_name(Router::Istio);
    for (const auto &svc : plan.value("services", json::array())) {
        json ports = json::array();
        for (const auto &p : svc["ports"]) {
            json port = {{"port", p["port"]}, {"protocol", "TCP"}, {"targetPort", p["targetPort"]}};
            if (p.contains("name")) port["name"] = p["name"];
            ports.push_back(port);
        }
        // The copy's pods carry none of the original's labels: a Service of their own is what
        // the routes send to (a DestinationRule subset picks only among the original Service's pods).
        json copy = {{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", {{"name", svc.value("copy", "")}, {"namespace", ns}, {"labels", {{kRouteSessionLabel, sid}}}}},
                     {"spec", {{"selector", plan["selector"]}, {"ports", ports}}}};
        create_or_replace(c, services_path(ns), copy, cancel);
        if (istio) {
            apply_istio(c, ns, plan, svc, cancel);
        } else {
            for (const auto &p : svc["ports"]) create_or_replace(c, httproute_path(ns), gateway_route(ns, plan, svc, p), cancel);
        }
    }
}

void remove_routes(kube::Client &c, const std::string &ns, const json &plan, CancelToken *cancel) {
    const std::string sid = plan.value("session", "");
    if (sid.empty()) return;
    if (plan.value("router", "") == router_name(Router::Istio)) {
        auto items = list_optional(c, vs_path(ns), cancel);
        for (const auto &listed : items.value_or(json::array())) {
            const std::string path = vs_path(ns) + "/" + name_of(listed);
            std::optional<json> vs = listed;
            for (int attempt = 0; vs; ++attempt) {
                const json http = (*vs)["spec"].value("http", json::array());
                const json kept = without_ours(http, sid);
                const bool own = (*vs)["metadata"].value("labels", json::object()).contains(kRouteOwnerLabel);
                const bool only_default = std::all_of(kept.begin(), kept.end(), [](const json &r) {
                    return r.is_object() && r.value("name", "") == kDefaultRouteName;
                });
                if (kept.size() == http.size() && !(own && only_default)) break;
                try {
                    if (own && only_default) {
                        // The routing's own VirtualService, no developer's route left: it goes,
                        // unless another developer's route arrived since it was read.
                        kube::Request r;
                        r.method = "DELETE";
                        r.path = path;
                        r.body = json{{"preconditions", {{"resourceVersion", (*vs)["metadata"].value("resourceVersion", "")}}}}.dump();
                        r.cancel = cancel;
                        c.request(r);
                    } else {
                        json next = *vs;
                        next["spec"]["http"] = kept;
                        c.update(path, next, cancel);
                    }
                    break;
                } catch (const Error &e) {
                    if (e.code() == NH_ENOTFOUND) break;
                    if (e.code() != NH_ECONFLICT || attempt >= kAttempts) throw;
                }
                vs = get_optional(c, path, cancel);
            }
        }
    } else {
        auto routes = list_optional(c, httproute_path(ns) + by_session(sid), cancel);
        for (const auto &r : routes.value_or(json::array())) remove_optional(c, httproute_path(ns) + "/" + name_of(r), cancel);
    }
    for (const auto &s : c.get(services_path(ns) + by_session(sid), cancel).value("items", json::array()))
        remove_optional(c, services_path(ns) + "/" + name_of(s), cancel);
}

json route_status(const json &plan) {
    json headers = json::array();
    for (const auto &h : plan.value("headers", json::array())) headers.push_back(h.value("name", "") + "=" + h.value("value", ""));
    return {{"headers", headers}, {"router", plan.value("router", "")}};
}

}  // namespace nh::traffic
