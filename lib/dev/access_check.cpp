#include "dev/access_check.hpp"

#include <algorithm>
#include <map>

#include "common/error.hpp"
#include "kube/access.hpp"
#include "traffic/routing.hpp"

namespace nh::dev {

namespace {

std::string group_of(const std::string &group_version) {
    auto slash = group_version.find('/');
    return slash == std::string::npos ? (group_version.find('.') == std::string::npos ? "" : group_version)
                                      : group_version.substr(0, slash);
}

void add(std::vector<Right> &out, const std::string &group, const std::string &resource, const std::string &sub,
         std::initializer_list<const char *> verbs, const std::string &why, bool needed = true) {
    for (const char *v : verbs) out.push_back(Right{v, group, resource, sub, why, needed});
}

std::string resource_text(const json &r) {
    std::string s = r.value("resource", "");
    if (!r.value("subresource", "").empty()) s += "/" + r.value("subresource", "");
    if (!r.value("group", "").empty()) s += "." + r.value("group", "");
    return s;
}

}  // namespace

std::vector<Right> required_rights(const WorkloadKind &k, Mode mode, bool persistent_dirs, bool patches,
                                   const std::string &route_group) {
    std::vector<Right> r;
    const bool dup = mode == Mode::Duplicate;
    const std::string group = group_of(k.group_version);
    const std::string resource = k.resource;
    add(r, "coordination.k8s.io", "leases", "", {"get", "create", "update", "delete"}, "the dev-mode lock");
    add(r, "", "secrets", "", {"get", "create", "patch", "delete"}, "the session record (the original, the sync token)");
    if (dup) {
        add(r, group, resource, "", {"get"}, "reading the original the copy is made of");
    } else if (k.kind == Kind::Pod) {
        add(r, "", "pods", "", {"get", "delete", "create"}, "the bare Pod is deleted while in dev mode and created again at the end");
    } else {
        add(r, group, resource, "", {"get", "update"}, "switching the workload to dev mode and restoring it");
        if (patches) add(r, group, resource, "", {"patch"}, "the dev config's patches");
    }
    const bool generated = dup || !k.in_place();
    if (generated) {
        add(r, "apps", "deployments", "", {"get", "list", "create", "update", "delete"},
            dup ? "the copy (a Deployment)" : "the Deployment that runs the dev pod");
        if (patches) add(r, "apps", "deployments", "", {"patch"}, "the dev config's patches");
    }
    if (!dup && k.kind == Kind::Deployment)
        add(r, "apps", "replicasets", "", {"list", "patch", "delete"},
            "dropping dev mode's revisions from the rollout history, and a stalled rollout");
    if (!dup && (k.in_place() || (k.kind == Kind::Custom && !k.replicas_path.empty())))
        add(r, "autoscaling", "horizontalpodautoscalers", "", {"list", "get", "update", "patch"},
            "pinning the HPAs to one replica and restoring them");
    add(r, "", "pods", "", {"get", "list", "watch", "delete"},
        "waiting for the dev pod, following it for the sync's port-forward, removing old pods");
    add(r, "", "pods", "", {"create"}, "the image check's short-lived pod", k.kind == Kind::Pod && !dup);
    add(r, "", "events", "", {"list"}, "the dev pod's warnings");
    add(r, "", "pods", "exec", {"create"}, "uploading nhsyncd into the sync sidecar, exec and terminals");
    add(r, "", "pods", "portforward", {"create"}, "the sync and port-forwards");
    if (persistent_dirs) add(r, "", "persistentvolumeclaims", "", {"get", "list", "create"}, "the persistent dirs' claims");
    if (!route_group.empty()) {
        add(r, "", "services", "", {"get", "list", "create", "update", "delete"},
            "finding the workload's Services, and the copy's own Service the header routes send to");
        const bool istio = route_group == traffic::kIstioGroup;
        add(r, route_group, istio ? "virtualservices" : "httproutes", "", {"get", "list", "create", "update", "delete"},
            istio ? "the header routes in the Services' VirtualServices" : "the header routes (HTTPRoutes of the Services)");
    }
    return r;
}

json rights_rules(const std::vector<Right> &rights) {
    json rules = json::array();
    std::map<std::pair<std::string, std::string>, size_t> index;
    for (const auto &r : rights) {
        std::string res = r.resource + (r.subresource.empty() ? "" : "/" + r.subresource);
        auto [it, fresh] = index.emplace(std::make_pair(r.group, res), rules.size());
        if (fresh) rules.push_back({{"apiGroups", {r.group}}, {"resources", {res}}, {"verbs", json::array()}});
        json &verbs = rules[it->second]["verbs"];
        if (std::find(verbs.begin(), verbs.end(), r.verb) == verbs.end()) verbs.push_back(r.verb);
    }
    return rules;
}

AccessReport review_access(kube::Client &c, const std::string &ns, const std::vector<Right> &rights, CancelToken *cancel) {
    AccessReport report;
    std::vector<kube::Right> wanted;
    for (const auto &r : rights) wanted.push_back({r.verb, r.group, r.resource, r.subresource, ns, ""});
    const std::vector<kube::Right> refused = kube::missing_rights(c, wanted, cancel, &report.checked, &report.unchecked_reason);
    for (const auto &r : rights) {
        const bool is_refused = std::any_of(refused.begin(), refused.end(), [&](const kube::Right &m) {
            return m.verb == r.verb && m.group == r.group && m.resource == r.resource && m.subresource == r.subresource;
        });
        if (!is_refused) continue;
        bool listed = false;
        for (const auto &m : report.missing)
            if (m["verb"] == r.verb && m["group"] == r.group && m["resource"] == r.resource &&
                m["subresource"] == r.subresource)
                listed = true;
        if (!listed)
            report.missing.push_back({{"verb", r.verb},
                                      {"group", r.group},
                                      {"resource", r.resource},
                                      {"subresource", r.subresource},
                                      {"why", r.why},
                                      {"needed", r.needed}});
    }
    return report;
}

void check_access(kube::Client &c, const WorkloadKind &k, const std::string &ns, const StartOptions &o,
                  const std::string &what, const std::string &route_group) {
    auto emit = [&](EventType type, const std::string &message, json detail = nullptr) {
        if (o.events && !o.events(Event{type, Phase::Access, message, std::move(detail)}))
            throw Error(NH_ECANCELLED, "dev start cancelled by the event callback");
    };
    const auto rights = required_rights(k, o.mode, !o.persistent_dirs.empty(), !o.patches.empty(), route_group);
    emit(EventType::Phase, "checking the rights the start and end of " + what + " need");
    AccessReport report = review_access(c, ns, rights, o.cancel);
    if (!report.checked) {
        emit(EventType::Info, "cannot ask the API server which rights we have, going on without the check: " +
                                  report.unchecked_reason);
        return;
    }
    std::string needed, optional;
    for (const auto &m : report.missing) {
        std::string &list = m.value("needed", true) ? needed : optional;
        list += (list.empty() ? "" : ", ") + m.value("verb", "") + " " + resource_text(m);
    }
    if (!optional.empty())
        emit(EventType::Info, "missing rights dev mode can do without: " + optional, {{"missing", report.missing}});
    if (!needed.empty())
        throw Error(NH_EFORBIDDEN,
                    "the start of " + what + " needs rights in namespace " + ns + " this identity lacks: " + needed +
                        " (nothing was changed)",
                    403, "Forbidden");
}

}  // namespace nh::dev
