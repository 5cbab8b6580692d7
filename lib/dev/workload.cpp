#include "dev/workload.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/error.hpp"

namespace nh::dev {

namespace {

const KindInfo kKinds[] = {
    {Kind::Deployment, "Deployment", "deployment", "deployments", "apps/v1"},
    {Kind::StatefulSet, "StatefulSet", "statefulset", "statefulsets", "apps/v1"},
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string hex(const unsigned char *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

void erase_probes(json &container) {
    container.erase("livenessProbe");
    container.erase("readinessProbe");
    container.erase("startupProbe");
}

}  // namespace

const KindInfo &kind_info(Kind k) { return kKinds[static_cast<int>(k)]; }

Kind parse_kind(std::string_view text) {
    std::string k = lower(text);
    auto dot = k.find('.');  // "deployments.apps"
    if (dot != std::string::npos) k.resize(dot);
    if (k == "deployment" || k == "deployments" || k == "deploy") return Kind::Deployment;
    if (k == "statefulset" || k == "statefulsets" || k == "sts") return Kind::StatefulSet;
    static const char *later[] = {"daemonset", "daemonsets", "ds", "job", "jobs", "cronjob", "cronjobs",
                                  "cj", "pod", "pods", "po", "replicaset", "replicasets", "rs"};
    for (const char *l : later)
        if (k == l)
            fail(NH_EUNSUPPORTED, "dev mode does not support kind '" + std::string(text) +
                                      "' yet (supported: deployment, statefulset)");
    fail(NH_EINVAL, "unknown workload kind '" + std::string(text) + "' (supported: deployment, statefulset)");
}

std::string workload_path(Kind k, const std::string &ns, const std::string &name) {
    const auto &i = kind_info(k);
    return std::string("/apis/") + i.group_version + "/namespaces/" + ns + "/" + i.resource +
           (name.empty() ? "" : "/" + name);
}

std::string secret_path(const std::string &ns, const std::string &name) {
    return "/api/v1/namespaces/" + ns + "/secrets" + (name.empty() ? "" : "/" + name);
}

std::string lease_path(const std::string &ns, const std::string &name) {
    return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases" + (name.empty() ? "" : "/" + name);
}

std::string hpa_path(const std::string &ns, const std::string &name) {
    return "/apis/autoscaling/v2/namespaces/" + ns + "/horizontalpodautoscalers" +
           (name.empty() ? "" : "/" + name);
}

std::string pods_path(const std::string &ns) { return "/api/v1/namespaces/" + ns + "/pods"; }

std::string session_object_name(Kind k, const std::string &name) {
    std::string n = std::string("nh-dev-") + kind_info(k).lower + "-" + name;
    if (n.size() <= 253) return n;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char *>(name.data()), name.size(), digest);
    n.resize(236);
    while (!n.empty() && (n.back() == '-' || n.back() == '.')) n.pop_back();
    return n + "-" + hex(digest, 8);
}

json clean_object(const json &obj) {
    json o = obj;
    o.erase("status");
    if (o.contains("metadata") && o["metadata"].is_object()) {
        auto &m = o["metadata"];
        for (const char *f : {"uid", "resourceVersion", "managedFields", "creationTimestamp", "generation",
                              "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})
            m.erase(f);
        if (m.contains("annotations") && m["annotations"].is_object()) {
            m["annotations"].erase("deployment.kubernetes.io/revision");
            m["annotations"].erase(kSessionAnnotation);
            if (m["annotations"].empty()) m.erase("annotations");
        }
    }
    return o;
}

std::string choose_container(const json &workload, const std::string &requested) {
    const json *containers = nullptr;
    try {
        containers = &workload.at("spec").at("template").at("spec").at("containers");
    } catch (const json::exception &) {
        fail(NH_EPROTOCOL, "the workload has no pod template containers");
    }
    std::vector<std::string> names;
    for (const auto &c : *containers) names.push_back(c.value("name", ""));
    std::string list;
    for (const auto &n : names) list += (list.empty() ? "" : ", ") + n;
    if (requested.empty()) {
        if (names.size() == 1) return names[0];
        fail(NH_EINVAL, "the pod has several containers (" + list + "); choose one");
    }
    if (std::find(names.begin(), names.end(), requested) == names.end())
        fail(NH_ENOTFOUND, "container '" + requested + "' not found in the pod template (containers: " + list + ")");
    return requested;
}

const std::vector<std::string> &keep_alive_command() {
    static const std::vector<std::string> cmd = {
        "/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"};
    return cmd;
}

json apply_dev_spec(const json &original, Kind k, const DevSpec &spec) {
    json w = original;
    auto &s = w["spec"];
    s["replicas"] = 1;
    if (k == Kind::Deployment) {
        s["strategy"] = {{"type", "Recreate"}};
        s.erase("paused");
    } else {
        s["updateStrategy"] = {{"type", "RollingUpdate"}};
    }
    w["metadata"]["annotations"][kSessionAnnotation] = spec.secret_name;
    auto &tpl = s["template"];
    tpl["metadata"]["annotations"][kSessionIdAnnotation] = spec.session_id;
    auto &ps = tpl["spec"];

    for (const char *list : {"containers", "initContainers"}) {
        if (!ps.contains(list)) continue;
        for (auto &c : ps[list]) {
            erase_probes(c);
            for (const auto &p : c.value("ports", json::array()))
                if (p.value("containerPort", 0) == spec.sync_port)
                    fail(NH_EINVAL, "container '" + c.value("name", "") + "' already uses port " +
                                        std::to_string(spec.sync_port) + "; choose another sync port");
            if (c.value("name", "") == kSidecarName)
                fail(NH_EINVAL, std::string("the pod already has a container named '") + kSidecarName + "'");
        }
    }

    std::string shared_volume = kSharedVolumeName;
    bool found = false;
    for (auto &c : ps["containers"]) {
        if (c.value("name", "") != spec.container) continue;
        found = true;
        c["image"] = spec.image;
        c["command"] = keep_alive_command();
        c.erase("args");
        c["workingDir"] = spec.workdir;
        for (const auto &[name, value] : spec.env) {
            if (!c.contains("env")) c["env"] = json::array();
            auto &env = c["env"];
            auto it = std::find_if(env.begin(), env.end(), [&](const json &e) { return e.value("name", "") == name; });
            json entry = {{"name", name}, {"value", value}};
            if (it != env.end())
                *it = entry;
            else
                env.push_back(entry);
        }
        if (spec.resources.is_object()) c["resources"] = spec.resources;
        bool mounted = false;
        for (const auto &m : c.value("volumeMounts", json::array()))
            if (m.value("mountPath", "") == spec.workdir) {
                shared_volume = m.value("name", "");
                mounted = true;
            }
        if (!mounted) c["volumeMounts"].push_back({{"name", shared_volume}, {"mountPath", spec.workdir}});
    }
    if (!found) fail(NH_ENOTFOUND, "container '" + spec.container + "' not found in the pod template");
    if (shared_volume == kSharedVolumeName)
        ps["volumes"].push_back({{"name", shared_volume}, {"emptyDir", json::object()}});

    json sidecar = {
        {"name", kSidecarName},
        {"image", spec.sidecar_image},
        {"command",
         {"nhsyncd", "--root", spec.workdir, "--listen", "0.0.0.0:" + std::to_string(spec.sync_port)}},
        {"env",
         {{{"name", kTokenEnv},
           {"valueFrom", {{"secretKeyRef", {{"name", spec.secret_name}, {"key", "token"}}}}}}}},
        {"ports", {{{"name", kSidecarName}, {"containerPort", spec.sync_port}, {"protocol", "TCP"}}}},
        {"volumeMounts", {{{"name", shared_volume}, {"mountPath", spec.workdir}}}},
        {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "32Mi"}}}}},
    };
    ps["containers"].push_back(sidecar);
    return w;
}

std::string label_selector(const json &workload) {
    std::string out;
    auto add = [&](const std::string &term) { out += (out.empty() ? "" : ",") + term; };
    const json sel = workload.value("spec", json::object()).value("selector", json::object());
    const json match_labels = sel.value("matchLabels", json::object());
    for (const auto &[k, v] : match_labels.items()) add(k + "=" + v.get<std::string>());
    const json expressions = sel.value("matchExpressions", json::array());
    for (const auto &e : expressions) {
        std::string key = e.value("key", ""), op = e.value("operator", "");
        std::string values;
        for (const auto &v : e.value("values", json::array()))
            values += (values.empty() ? "" : ",") + v.get<std::string>();
        if (op == "In")
            add(key + " in (" + values + ")");
        else if (op == "NotIn")
            add(key + " notin (" + values + ")");
        else if (op == "Exists")
            add(key);
        else if (op == "DoesNotExist")
            add("!" + key);
    }
    return out;
}

std::string random_hex(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) fail(NH_ERROR, "no random bytes (RAND_bytes failed)");
    return hex(buf.data(), buf.size());
}

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string now_rfc3339(bool micro) {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    if (micro) {
        auto us = duration_cast<microseconds>(now.time_since_epoch()).count() % 1000000;
        std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(us));
        out += buf;
    }
    return out + "Z";
}

double parse_rfc3339(const std::string &text) {
    std::tm tm{};
    int frac_pos = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &frac_pos) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double t = static_cast<double>(timegm(&tm));
    if (static_cast<size_t>(frac_pos) < text.size() && text[frac_pos] == '.') {
        double scale = 0.1;
        for (size_t i = frac_pos + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
            t += (text[i] - '0') * scale;
            scale /= 10;
        }
    }
    return t;
}

}  // namespace nh::dev
