#include "space/space.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "dev/access_check.hpp"
#include "dev/workload.hpp"
#include "kube/access.hpp"

namespace nh::space {

namespace {

using kube::Right;

std::string ns_path(const std::string &name) { return "/api/v1/namespaces/" + kube::url_escape(name); }
std::string core_path(const std::string &ns, const std::string &resource) { return ns_path(ns) + "/" + resource; }
std::string rbac_path(const std::string &ns, const std::string &resource) {
    return "/apis/rbac.authorization.k8s.io/v1/namespaces/" + kube::url_escape(ns) + "/" + resource;
}

bool dns_label(const std::string &s) {
    if (s.empty() || s.size() > 63) return false;
    for (char ch : s)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
    return s.front() != '-' && s.back() != '-';
}

void check_name(const std::string &name) {
    if (!dns_label(name))
        fail(NH_EINVAL, "invalid space name '" + name +
                            "': a space is a namespace, named with lowercase letters, digits and '-' (at most 63)");
}

// A label value for a developer's name (label values allow [A-Za-z0-9._-], 63 long); the exact
// name is in an annotation.
std::string label_value(const std::string &developer) {
    std::string v;
    for (char ch : developer) {
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-';
        v += ok ? ch : '_';
    }
    if (v.size() > 63) v.resize(63);
    while (!v.empty() && !std::isalnum(static_cast<unsigned char>(v.back()))) v.pop_back();
    while (!v.empty() && !std::isalnum(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
    return v;
}

json labels(const std::string &space) { return {{kSpaceLabel, space}, {kManagedByLabel, "nocalhost"}}; }

json developer_meta(const std::string &space, const std::string &name, const std::string &developer) {
    json l = labels(space);
    l[kDeveloperLabel] = label_value(developer);
    return {{"name", name}, {"namespace", space}, {"labels", l}, {"annotations", {{kDeveloperLabel, developer}}}};
}

std::string binding_name(const std::string &sa) { return std::string(kRoleName) + "-" + sa; }

// A Kubernetes quantity as a number of base units (cores, bytes), for comparing defaults with a quota.
double quantity(const std::string &q) {
    size_t end = 0;
    double v = 0;
    try {
        v = std::stod(q, &end);
    } catch (const std::exception &) {
        fail(NH_EINVAL, "invalid quantity '" + q + "' (as Kubernetes writes them: 500m, 2, 512Mi, 10Gi)");
    }
    const std::string suffix = q.substr(end);
    static const std::pair<const char *, double> kSuffixes[] = {
        {"", 1},           {"m", 1e-3},         {"k", 1e3},          {"M", 1e6},          {"G", 1e9},
        {"T", 1e12},       {"P", 1e15},         {"E", 1e18},         {"Ki", 1024.0},      {"Mi", 1048576.0},
        {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}};
    for (const auto &[s, f] : kSuffixes)
        if (suffix == s && v >= 0 && std::isfinite(v)) return v * f;
    fail(NH_EINVAL, "invalid quantity '" + q + "' (as Kubernetes writes them: 500m, 2, 512Mi, 10Gi)");
}

// A default for containers that state none: a quarter of the quota (so a dev pod's two
// containers and a second pod fit), at most `cap`. CPU in millicores, memory in MiB.
std::string share_of(const std::string &quota, const char *cap, bool cpu) {
    const double cap_v = quantity(cap);
    double v = quota.empty() ? cap_v : std::min(cap_v, quantity(quota) / 4);
    if (cpu) return std::to_string(std::max<long long>(1, static_cast<long long>(v * 1000))) + "m";
    return std::to_string(std::max<long long>(1, static_cast<long long>(v / 1048576.0))) + "Mi";
}

json namespace_of(kube::Client &c, const std::string &name, CancelToken *cancel) {
    try {
        return c.get(ns_path(name), cancel);
    } catch (const Error &e) {
        if (e.code() == NH_ENOTFOUND) return nullptr;
        throw;
    }
}

// The namespace of a space, or NH_ENOTFOUND when `name` is not a space.
json space_namespace(kube::Client &c, const std::string &name, CancelToken *cancel) {
    check_name(name);
    json ns = namespace_of(c, name, cancel);
    if (ns.is_null() || ns["metadata"].value("labels", json::object()).value(kSpaceLabel, "") != name)
        fail(NH_ENOTFOUND, "no space named '" + name + "' (list them with: nh space list)");
    return ns;
}

void create_or_keep(kube::Client &c, const std::string &path, const json &obj, CancelToken *cancel) {
    try {
        c.create(path, obj, cancel);
    } catch (const Error &e) {
        if (e.code() != NH_EEXISTS) throw;
    }
}

void delete_if_there(kube::Client &c, const std::string &path, CancelToken *cancel) {
    try {
        c.remove(path, cancel);
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND) throw;
    }
}

std::vector<Right> grant_rights(const std::string &space) {
    return {{"create", "", "serviceaccounts", "", space, ""},
            {"create", "", "serviceaccounts", "token", space, ""},
            {"create", "rbac.authorization.k8s.io", "rolebindings", "", space, ""}};
}

// The developer's ServiceAccount and RoleBinding (kept when they exist).
void grant(kube::Client &c, const std::string &space, const std::string &developer, CancelToken *cancel) {
    const std::string sa = service_account_of(developer);
    create_or_keep(c, core_path(space, "serviceaccounts"),
                   {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", developer_meta(space, sa, developer)}},
                   cancel);
    create_or_keep(c, rbac_path(space, "rolebindings"),
                   {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                    {"kind", "RoleBinding"},
                    {"metadata", developer_meta(space, binding_name(sa), developer)},
                    {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", kRoleName}}},
                    {"subjects", json::array({{{"kind", "ServiceAccount"}, {"name", sa}, {"namespace", space}}})}},
                   cancel);
}

// A RoleBinding takes effect when the API server's authorizer has seen it, a moment after it
// was made. The access is handed out once its token may do what the space's Role gives, asked
// as the developer with a SelfSubjectAccessReview (which anyone may ask): a kubeconfig used at
// once is not refused. After 10 s it is handed out anyway (the binding is made; an authorizer
// that lags that much catches up later).
void wait_effective(const kube::RestConfig &cluster, const std::string &space, const std::string &token,
                    CancelToken *cancel) {
    if (cluster.server.rfind("https://", 0) != 0) return;  // no token goes to an http:// server
    kube::RestConfig dev = cluster;
    kube::clear_user_identity(dev);
    dev.token = token;
    kube::Client as_dev(dev);
    const json review = {{"apiVersion", "authorization.k8s.io/v1"},
                         {"kind", "SelfSubjectAccessReview"},
                         {"spec", {{"resourceAttributes", {{"namespace", space}, {"verb", "list"}, {"resource", "pods"}}}}}};
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
        try {
            json r = as_dev.create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, cancel);
            if (r.value("status", json::object()).value("allowed", false)) return;
        } catch (const Error &e) {
            // A token the authenticator does not know yet (its service account just made).
            if (e.code() != NH_EUNAUTHORIZED && e.code() != NH_EFORBIDDEN) throw;
        }
        if (Clock::now() >= deadline) return;
        sleep_or_cancel(cancel, std::chrono::milliseconds(50), "waiting for the space's access to take effect");
    }
}

Access issue(kube::Client &c, const std::string &space, const Options &o) {
    Access a;
    a.developer = o.developer;
    a.service_account = service_account_of(o.developer);
    const std::int64_t seconds = o.token_seconds > 0 ? o.token_seconds : kDefaultTokenSeconds;
    json r = c.create(core_path(space, "serviceaccounts/" + a.service_account + "/token"),
                      {{"apiVersion", "authentication.k8s.io/v1"},
                       {"kind", "TokenRequest"},
                       {"spec", {{"expirationSeconds", seconds}}}},
                      o.cancel);
    const json status = r.value("status", json::object());
    const std::string token = status.value("token", "");
    if (token.empty()) fail(NH_EPROTOCOL, "the API server issued no token for " + a.service_account);
    a.expires = status.value("expirationTimestamp", "");
    a.kubeconfig = kubeconfig_for(c.config(), space, a.service_account + "@" + space, token);
    wait_effective(c.config(), space, token, o.cancel);
    return a;
}

void check_developer(const Options &o) {
    if (o.developer.empty()) fail(NH_EINVAL, "invalid argument: a space needs its developer (--for NAME)");
    (void)service_account_of(o.developer);
}

json quota_of(const Quota &q) {
    json hard = json::object();
    if (!q.cpu.empty()) hard["requests.cpu"] = hard["limits.cpu"] = q.cpu;
    if (!q.memory.empty()) hard["requests.memory"] = hard["limits.memory"] = q.memory;
    if (!q.storage.empty()) hard["requests.storage"] = q.storage;
    if (q.pods > 0) hard["pods"] = std::to_string(q.pods);
    return hard;
}

// Defaults for containers that state no resources, so they are admitted under a CPU or memory quota.
json limit_range_of(const Quota &q) {
    json def = json::object(), req = json::object();
    if (!q.cpu.empty()) {
        const std::string limit = share_of(q.cpu, "1", true);
        def["cpu"] = limit;
        req["cpu"] = quantity(limit) < quantity("100m") ? limit : "100m";
    }
    if (!q.memory.empty()) {
        const std::string limit = share_of(q.memory, "1Gi", false);
        def["memory"] = limit;
        req["memory"] = quantity(limit) < quantity("128Mi") ? limit : "128Mi";
    }
    return {{"limits", json::array({{{"type", "Container"}, {"default", def}, {"defaultRequest", req}}})}};
}

// Undoes a create that failed halfway: what `made` says was made goes again.
struct Undo {
    kube::Client &c;
    std::string space;
    bool namespace_created = false;
    bool namespace_adopted = false;
    bool done = false;
    ~Undo() {
        if (done) return;
        try {
            if (namespace_created) delete_if_there(c, ns_path(space), nullptr);
            else if (namespace_adopted) remove(c, space, "", nullptr);
        } catch (const std::exception &) {
            // The original error is the one to report; what is left carries the space's labels.
        }
    }
};

void wait_gone(kube::Client &c, const std::string &path, CancelToken *cancel) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    auto interval = std::chrono::milliseconds(100);
    while (Clock::now() < deadline) {
        try {
            c.get(path, cancel);
        } catch (const Error &e) {
            if (e.code() == NH_ENOTFOUND) return;
            throw;
        }
        sleep_or_cancel(cancel, interval, "deleting the space");
        interval = std::min(interval * 2, std::chrono::milliseconds(1000));
    }
    fail(NH_ETIMEOUT, "the space's namespace is still terminating after 120 s (kubectl get namespace shows why)");
}

}  // namespace

json dev_rules() {
    // What dev start and end need for every kind in either mode (the rights check's list)...
    std::vector<dev::Right> rights;
    for (dev::Kind k : {dev::Kind::Deployment, dev::Kind::StatefulSet, dev::Kind::DaemonSet, dev::Kind::ReplicaSet,
                        dev::Kind::Job, dev::Kind::CronJob, dev::Kind::Pod})
        for (dev::Mode m : {dev::Mode::Replace, dev::Mode::Duplicate})
            for (auto &r : dev::required_rights(dev::WorkloadKind(k), m, true, true)) rights.push_back(std::move(r));
    // ...and what the developer's tools read around it: the workload tree (every kind, its
    // pods and the session records), logs, the application's dev config.
    auto read = [&](const char *group, const char *resource) {
        for (const char *verb : {"get", "list", "watch"}) rights.push_back({verb, group, resource, "", "the workload tree"});
    };
    for (const char *r : {"deployments", "statefulsets", "daemonsets", "replicasets"}) read("apps", r);
    for (const char *r : {"jobs", "cronjobs"}) read("batch", r);
    for (const char *r : {"pods", "secrets", "configmaps", "services"}) read("", r);
    rights.push_back({"get", "", "pods", "log", "logs"});
    return dev::rights_rules(rights);
}

std::string service_account_of(const std::string &developer) {
    std::string s;
    for (char ch : developer) {
        char l = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
        if (ok) s += l;
        else if (!s.empty() && s.back() != '-') s += '-';
    }
    while (!s.empty() && s.back() == '-') s.pop_back();
    if (s.empty()) fail(NH_EINVAL, "invalid developer name '" + developer + "': it needs a letter or a digit");
    s = "nh-" + s;
    if (s.size() > 63) s.resize(63);
    while (s.back() == '-') s.pop_back();
    return s;
}

std::string kubeconfig_for(const kube::RestConfig &cluster, const std::string &ns, const std::string &user,
                           const std::string &token) {
    const std::string cluster_name = cluster.cluster_name.empty() ? "nocalhost" : cluster.cluster_name;
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind" << YAML::Value
        << "Config";
    out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << cluster_name << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "server" << YAML::Value << cluster.server;
    if (!cluster.ca_pem.empty())
        out << YAML::Key << "certificate-authority-data" << YAML::Value << base64::encode(cluster.ca_pem);
    if (cluster.insecure_skip_tls_verify) out << YAML::Key << "insecure-skip-tls-verify" << YAML::Value << true;
    if (!cluster.tls_server_name.empty()) out << YAML::Key << "tls-server-name" << YAML::Value << cluster.tls_server_name;
    if (!cluster.proxy_url.empty()) out << YAML::Key << "proxy-url" << YAML::Value << cluster.proxy_url;
    out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
    out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << user << YAML::Key << "user" << YAML::Value << YAML::BeginMap
        << YAML::Key << "token" << YAML::Value << token << YAML::EndMap;
    out << YAML::EndMap << YAML::EndSeq;
    out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << ns << YAML::Key << "context" << YAML::Value << YAML::BeginMap
        << YAML::Key << "cluster" << YAML::Value << cluster_name << YAML::Key << "user" << YAML::Value << user
        << YAML::Key << "namespace" << YAML::Value << ns << YAML::EndMap;
    out << YAML::EndMap << YAML::EndSeq;
    out << YAML::Key << "current-context" << YAML::Value << ns << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

Access create(kube::Client &c, const std::string &name, const Options &o) {
    check_name(name);
    check_developer(o);
    if (!o.extra_rules.is_array()) fail(NH_EINVAL, "invalid argument: the extra rules must be a JSON array of PolicyRules");
    json hard = quota_of(o.quota);  // checks the quantities before anything is made
    json limits = limit_range_of(o.quota);

    std::vector<Right> wanted = {{o.existing_namespace ? "patch" : "create", "", "namespaces", "", "", o.existing_namespace ? name : ""},
                                 {"create", "rbac.authorization.k8s.io", "roles", "", name, ""}};
    for (Right r : grant_rights(name)) wanted.push_back(r);
    if (!hard.empty()) wanted.push_back({"create", "", "resourcequotas", "", name, ""});
    if (!o.quota.cpu.empty() || !o.quota.memory.empty()) wanted.push_back({"create", "", "limitranges", "", name, ""});
    kube::require_rights(c, wanted, "cannot create space " + name, o.cancel);

    Undo undo{c, name};
    json ns = namespace_of(c, name, o.cancel);
    json meta_labels = labels(name);
    // An adopted namespace gets only the space's label (and our annotations), which delete takes off again.
    json ns_labels = json{{kSpaceLabel, name}};
    json annotations = {{kOwnerAnnotation, o.developer}, {kSinceAnnotation, dev::now_rfc3339()}};
    if (!ns.is_null()) {
        if (ns["metadata"].value("labels", json::object()).contains(kSpaceLabel))
            fail(NH_EEXISTS, "space " + name + " exists (share it with: nh space share " + name + " --with DEVELOPER)");
        if (!o.existing_namespace)
            fail(NH_EEXISTS, "namespace " + name + " exists; to make a space of it, pass --existing");
        annotations[kNamespaceAnnotation] = "adopted";
        c.patch(ns_path(name), kube::PatchType::Merge,
                json{{"metadata", {{"labels", ns_labels}, {"annotations", annotations}}}}.dump(), o.cancel);
        undo.namespace_adopted = true;
    } else {
        if (o.existing_namespace) fail(NH_ENOTFOUND, "namespace " + name + " does not exist (leave out --existing to create it)");
        annotations[kNamespaceAnnotation] = "created";
        c.create("/api/v1/namespaces",
                 {{"apiVersion", "v1"},
                  {"kind", "Namespace"},
                  {"metadata", {{"name", name}, {"labels", meta_labels}, {"annotations", annotations}}}},
                 o.cancel);
        undo.namespace_created = true;
    }

    json rules = dev_rules();
    for (const auto &r : o.extra_rules) rules.push_back(r);
    c.create(rbac_path(name, "roles"),
             {{"apiVersion", "rbac.authorization.k8s.io/v1"},
              {"kind", "Role"},
              {"metadata", {{"name", kRoleName}, {"namespace", name}, {"labels", meta_labels}}},
              {"rules", rules}},
             o.cancel);
    if (!hard.empty())
        c.create(core_path(name, "resourcequotas"),
                 {{"apiVersion", "v1"},
                  {"kind", "ResourceQuota"},
                  {"metadata", {{"name", kQuotaName}, {"namespace", name}, {"labels", meta_labels}}},
                  {"spec", {{"hard", hard}}}},
                 o.cancel);
    if (!limits["limits"][0]["default"].empty())
        c.create(core_path(name, "limitranges"),
                 {{"apiVersion", "v1"},
                  {"kind", "LimitRange"},
                  {"metadata", {{"name", kQuotaName}, {"namespace", name}, {"labels", meta_labels}}},
                  {"spec", limits}},
                 o.cancel);
    grant(c, name, o.developer, o.cancel);
    Access a = issue(c, name, o);
    undo.done = true;
    return a;
}

Access share(kube::Client &c, const std::string &name, const Options &o) {
    check_developer(o);
    check_name(name);
    std::vector<Right> wanted = grant_rights(name);
    wanted.insert(wanted.begin(), Right{"get", "", "namespaces", "", "", name});
    kube::require_rights(c, wanted, "cannot share space " + name, o.cancel);
    space_namespace(c, name, o.cancel);
    grant(c, name, o.developer, o.cancel);
    return issue(c, name, o);
}

Access renew(kube::Client &c, const std::string &name, const Options &o) {
    check_developer(o);
    check_name(name);
    const std::string sa = service_account_of(o.developer);
    std::vector<Right> wanted = {{"get", "", "namespaces", "", "", name}, {"create", "", "serviceaccounts", "token", name, ""}};
    if (o.revoke) {
        wanted.push_back({"delete", "", "serviceaccounts", "", name, ""});
        wanted.push_back({"create", "", "serviceaccounts", "", name, ""});
    }
    kube::require_rights(c, wanted, "cannot renew " + o.developer + "'s access to space " + name, o.cancel);
    space_namespace(c, name, o.cancel);
    const std::string path = core_path(name, "serviceaccounts/" + kube::url_escape(sa));
    try {
        c.get(path, o.cancel);
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND) throw;
        fail(NH_ENOTFOUND, o.developer + " has no access to space " + name + " (give it with: nh space share " + name +
                               " --with " + o.developer + ")");
    }
    if (o.revoke) {
        // A bound token names its ServiceAccount's UID: a new account of the same name refuses every old one.
        c.remove(path, o.cancel);
        wait_gone(c, path, o.cancel);
        grant(c, name, o.developer, o.cancel);
    }
    return issue(c, name, o);
}

json list(kube::Client &c, const std::string &developer, CancelToken *cancel) {
    // Three lists whatever the number of spaces: the namespaces, and every space's accounts and
    // quotas by the label the space puts on them.
    const std::string selector = "?labelSelector=" + kube::url_escape(kSpaceLabel);
    json namespaces = c.get("/api/v1/namespaces" + selector, cancel);
    json accounts = c.get("/api/v1/serviceaccounts" + selector, cancel);
    json quotas = c.get("/api/v1/resourcequotas" + selector, cancel);
    auto in = [](const json &item, const std::string &ns) {
        const json m = item.value("metadata", json::object());
        return m.value("namespace", "") == ns && m.value("labels", json::object()).value(kSpaceLabel, "") == ns;
    };
    json out = json::array();
    for (const auto &ns : namespaces.value("items", json::array())) {
        const json meta = ns.value("metadata", json::object());
        const std::string name = meta.value("name", "");
        if (meta.value("labels", json::object()).value(kSpaceLabel, "") != name) continue;
        const json ann = meta.value("annotations", json::object());
        json devs = json::array();
        bool theirs = developer.empty();
        for (const auto &sa : accounts.value("items", json::array())) {
            if (!in(sa, name)) continue;
            const json sm = sa.value("metadata", json::object());
            std::string who = sm.value("annotations", json::object()).value(kDeveloperLabel, "");
            if (who.empty()) continue;
            theirs = theirs || who == developer;
            devs.push_back({{"developer", who}, {"service_account", sm.value("name", "")}});
        }
        if (!theirs) continue;
        json quota = nullptr;
        for (const auto &q : quotas.value("items", json::array()))
            if (in(q, name) && q["metadata"].value("name", "") == kQuotaName)
                quota = q.value("spec", json::object()).value("hard", json::object());
        out.push_back({{"name", name},
                       {"owner", ann.value(kOwnerAnnotation, "")},
                       {"since", ann.value(kSinceAnnotation, "")},
                       {"namespace", ann.value(kNamespaceAnnotation, "created")},
                       {"phase", ns.value("status", json::object()).value("phase", "")},
                       {"developers", devs},
                       {"quota", quota}});
    }
    return out;
}

void remove(kube::Client &c, const std::string &name, const std::string &developer, CancelToken *cancel) {
    check_name(name);
    kube::require_rights(c, {{"get", "", "namespaces", "", "", name}}, "cannot delete space " + name, cancel);
    json ns = space_namespace(c, name, cancel);
    if (!developer.empty()) {
        const std::string sa = service_account_of(developer);
        kube::require_rights(c,
                             {{"delete", "rbac.authorization.k8s.io", "rolebindings", "", name, ""},
                              {"delete", "", "serviceaccounts", "", name, ""}},
                             "cannot remove " + developer + "'s access to space " + name, cancel);
        delete_if_there(c, rbac_path(name, "rolebindings/") + binding_name(sa), cancel);
        delete_if_there(c, core_path(name, "serviceaccounts/") + sa, cancel);
        return;
    }
    const json ann = ns["metadata"].value("annotations", json::object());
    if (ann.value(kNamespaceAnnotation, "created") == "created") {
        kube::require_rights(c, {{"delete", "", "namespaces", "", "", name}}, "cannot delete space " + name, cancel);
        delete_if_there(c, ns_path(name), cancel);
        wait_gone(c, ns_path(name), cancel);
        return;
    }
    // An adopted namespace: what the space made goes, the namespace stays as it was.
    struct Collection {
        const char *group, *resource;
        std::string path;
    };
    const Collection made[] = {{"rbac.authorization.k8s.io", "rolebindings", rbac_path(name, "rolebindings")},
                               {"rbac.authorization.k8s.io", "roles", rbac_path(name, "roles")},
                               {"", "serviceaccounts", core_path(name, "serviceaccounts")},
                               {"", "resourcequotas", core_path(name, "resourcequotas")},
                               {"", "limitranges", core_path(name, "limitranges")}};
    std::vector<Right> wanted = {{"patch", "", "namespaces", "", "", name}};
    for (const auto &m : made) {
        wanted.push_back({"list", m.group, m.resource, "", name, ""});
        wanted.push_back({"delete", m.group, m.resource, "", name, ""});
    }
    kube::require_rights(c, wanted, "cannot delete space " + name, cancel);
    const std::string selector = "?labelSelector=" + kube::url_escape(std::string(kSpaceLabel) + "=" + name + "," +
                                                                      kManagedByLabel + "=nocalhost");
    for (const auto &m : made)
        for (const auto &item : c.get(m.path + selector, cancel).value("items", json::array()))
            delete_if_there(c, m.path + "/" + kube::url_escape(item["metadata"].value("name", "")), cancel);
    c.patch(ns_path(name), kube::PatchType::Merge,
            json{{"metadata",
                  {{"labels", {{kSpaceLabel, nullptr}}},
                   {"annotations", {{kOwnerAnnotation, nullptr}, {kSinceAnnotation, nullptr}, {kNamespaceAnnotation, nullptr}}}}}}
                .dump(),
            cancel);
}

}  // namespace nh::space
