#include "dev/workload.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <unistd.h>

#include "common/error.hpp"
#include "dev/lease.hpp"
#include "kube/kinds.hpp"

namespace nh::dev {

namespace {

const KindInfo kKinds[] = {
    {Kind::Deployment, "Deployment", "deployment", "deployments", "apps/v1"},
    {Kind::StatefulSet, "StatefulSet", "statefulset", "statefulsets", "apps/v1"},
    {Kind::ReplicaSet, "ReplicaSet", "replicaset", "replicasets", "apps/v1"},
    {Kind::DaemonSet, "DaemonSet", "daemonset", "daemonsets", "apps/v1"},
    {Kind::Job, "Job", "job", "jobs", "batch/v1"},
    {Kind::CronJob, "CronJob", "cronjob", "cronjobs", "batch/v1"},
    {Kind::Pod, "Pod", "pod", "pods", "v1"},
    {Kind::Custom, "Custom", "custom", "", ""},
};

const char *kSupported =
    "supported: deployment, statefulset, replicaset, daemonset, job, cronjob, pod, or <resource>.<group> of a custom kind";

// Labels controllers put on the pods they make; a generated Deployment drops them.
const char *kControllerLabels[] = {"controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
                                   "batch.kubernetes.io/job-name", "pod-template-hash", "controller-revision-hash",
                                   "pod-template-generation", "statefulset.kubernetes.io/pod-name",
                                   "apps.kubernetes.io/pod-index"};

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
    if (const kube::BuiltinKind *b = kube::find_builtin_kind(text))
        for (const auto &k : kKinds)
            if (std::string_view(k.name) == b->kind) return k.kind;
    // "<resource>.<group>" of another group: a custom kind.
    auto dot = text.find('.');
    if (dot != std::string_view::npos && dot > 0 && dot + 1 < text.size()) return Kind::Custom;
    fail(NH_EINVAL, "unknown workload kind '" + std::string(text) + "' (" + kSupported + ")");
}

WorkloadKind::WorkloadKind(Kind k) : kind(k) {
    const auto &i = kind_info(k);
    name = i.name;
    lower = i.lower;
    resource = i.resource;
    group_version = i.group_version;
    if (k == Kind::CronJob) template_path = "/spec/jobTemplate/spec/template";
    if (k == Kind::Pod) template_path = "";
    if (k != Kind::Deployment && k != Kind::StatefulSet && k != Kind::ReplicaSet && k != Kind::Custom)
        replicas_path = "";
}

json WorkloadKind::to_json() const {
    return {{"kind", kind_info(kind).name}, {"name", name},       {"lower", lower},
            {"resource", resource},           {"group_version", group_version},
            {"template_path", template_path}, {"replicas_path", replicas_path}};
}

WorkloadKind WorkloadKind::from_json(const json &j) {
    WorkloadKind k(parse_kind(j.value("kind", "deployment") == "Custom" ? std::string("custom.x")
                                                                        : j.value("kind", "deployment")));
    k.name = j.value("name", k.name);
    k.lower = j.value("lower", k.lower);
    k.resource = j.value("resource", k.resource);
    k.group_version = j.value("group_version", k.group_version);
    k.template_path = j.value("template_path", k.template_path);
    k.replicas_path = j.value("replicas_path", k.replicas_path);
    return k;
}

WorkloadKind parse_workload_kind(std::string_view text) {
    Kind k = parse_kind(text);
    if (k != Kind::Custom) return WorkloadKind(k);
    WorkloadKind w(Kind::Custom);
    std::string t = lower(text);
    auto dot = t.find('.');
    w.resource = t.substr(0, dot);
    w.group_version = t.substr(dot + 1);
    w.lower = t;
    w.name = w.resource;  // the Kind's name comes from discovery
    return w;
}

std::string workload_path(const WorkloadKind &k, const std::string &ns, const std::string &name) {
    if (k.kind == Kind::Pod) return pods_path(ns) + (name.empty() ? "" : "/" + name);
    if (k.builtin()) {
        const auto &i = kind_info(k.kind);
        return std::string("/apis/") + i.group_version + "/namespaces/" + ns + "/" + i.resource +
               (name.empty() ? "" : "/" + name);
    }
    if (k.group_version.find('/') == std::string::npos)
        fail(NH_EINVAL, "custom kind " + k.lower + ": its API version is not resolved");
    return "/apis/" + k.group_version + "/namespaces/" + ns + "/" + k.resource + (name.empty() ? "" : "/" + name);
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

namespace {

std::string sha_hex(const std::string &text, size_t bytes) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char *>(text.data()), text.size(), digest);
    return hex(digest, bytes);
}

// At most `max` characters, a hash of the whole appended when cut.
std::string fit_name(std::string n, const std::string &hash_of, size_t max) {
    if (n.size() <= max) return n;
    n.resize(max - 17);
    while (!n.empty() && (n.back() == '-' || n.back() == '.')) n.pop_back();
    return n + "-" + sha_hex(hash_of, 8);
}

std::string slug(const std::string &text, size_t max) {
    std::string out;
    for (char ch : lower(text)) {
        bool ok = std::isalnum(static_cast<unsigned char>(ch));
        if (ok)
            out += ch;
        else if (!out.empty() && out.back() != '-')
            out += '-';
        if (out.size() >= max) break;
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.empty() ? "dev" : out;
}

}  // namespace

std::string session_object_name(const WorkloadKind &k, const std::string &name) {
    return fit_name("nh-dev-" + k.lower + "-" + name, name, 253);
}

std::string duplicate_object_name(const WorkloadKind &k, const std::string &name, const std::string &developer) {
    return fit_name("nh-dev-" + k.lower + "-" + name + "-dup-" + sha_hex(developer, 4), name + "/" + developer, 253);
}

std::string duplicate_copy_name(const std::string &name, const std::string &developer) {
    std::string suffix = "-dup-" + slug(developer.substr(0, developer.find('@')), 16) + "-" + sha_hex(developer, 3);
    // Deployment names make pod names (+ 16 characters); keep them short enough for hostnames.
    std::string base = name.size() + suffix.size() > 47 ? name.substr(0, 47 - suffix.size()) : name;
    while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
    return base + suffix;
}

std::string label_value(const std::string &text) {
    std::string v;
    for (char ch : text) v += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.') ? ch : '-';
    if (v.size() > 63) v = v.substr(0, 46) + "-" + sha_hex(text, 8);
    while (!v.empty() && !std::isalnum(static_cast<unsigned char>(v.back()))) v.pop_back();
    while (!v.empty() && !std::isalnum(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
    return v;
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
            m["annotations"].erase("deprecated.daemonset.template.generation");
            m["annotations"].erase(kSessionAnnotation);
            if (m["annotations"].empty()) m.erase("annotations");
        }
    }
    return o;
}

const json &pod_template(const json &workload, const WorkloadKind &k) {
    if (k.template_path.empty()) return workload;  // a Pod: its metadata and spec
    json::json_pointer ptr;
    try {
        ptr = json::json_pointer(k.template_path);
    } catch (const json::exception &) {
        fail(NH_EINVAL, "pod template path '" + k.template_path + "' is not a JSON pointer (e.g. /spec/template)");
    }
    if (!workload.contains(ptr) || !workload.at(ptr).is_object())
        fail(NH_EPROTOCOL, "the " + k.name + " has no pod template at " + k.template_path);
    return workload.at(ptr);
}

json &pod_template(json &workload, const WorkloadKind &k) {
    return const_cast<json &>(pod_template(static_cast<const json &>(workload), k));
}

std::string controller_of(const json &workload) {
    for (const auto &o : workload.value("metadata", json::object()).value("ownerReferences", json::array()))
        if (o.value("controller", false)) return o.value("kind", "") + "/" + o.value("name", "");
    return {};
}

std::string choose_container(const json &workload, const WorkloadKind &k, const std::string &requested) {
    const json *containers = nullptr;
    try {
        containers = &pod_template(workload, k).at("spec").at("containers");
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

const std::string &sidecar_bootstrap() {
    // Polls with a backgrounded sleep so that TERM ends the wait at once.
    static const std::string script = std::string("trap 'exit 0' TERM INT; b=") + kSidecarBinary +
                                      "; while [ ! -x \"$b\" ]; do sleep 1 & wait $!; done; exec \"$b\" \"$@\"";
    return script;
}

std::string missing_shell_hint(const std::string &message) {
    bool shell = message.find("/bin/sh") != std::string::npos;
    bool missing = message.find("no such file") != std::string::npos ||
                   message.find("not found") != std::string::npos;
    if (!shell || !missing) return "";
    return "the image has no shell (/bin/sh): dev mode keeps the dev container alive with it and, without a "
           "sidecar image, runs the sync sidecar's bootstrap with it. Use a dev image with a shell, and for the "
           "sidecar either a sidecar image (--sidecar-image, sidecar_image; see `nh sidecar image`) or a base image "
           "with a shell for the bootstrap (--sidecar-base-image, sidecar_base_image)";
}

json apply_dev_spec(const json &original, const WorkloadKind &k, const DevSpec &spec) {
    json w = original;
    if (k.kind == Kind::Deployment) {
        w["spec"]["replicas"] = 1;
        w["spec"]["strategy"] = {{"type", "Recreate"}};
        w["spec"].erase("paused");
    } else if (k.kind == Kind::StatefulSet) {
        w["spec"]["replicas"] = 1;
        w["spec"]["updateStrategy"] = {{"type", "RollingUpdate"}};
    } else if (k.kind == Kind::ReplicaSet) {
        w["spec"]["replicas"] = 1;
    }
    w["metadata"]["annotations"][kSessionAnnotation] = spec.secret_name;
    auto &tpl = pod_template(w, k);
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

    // Local mode: the workload's ports move to the sidecar, which is all the pod runs.
    json app_ports = json::array();
    if (spec.local) {
        for (const auto &c : ps["containers"])
            for (const auto &p : c.value("ports", json::array())) {
                if (p.value("containerPort", 0) == spec.sync_port + 1)
                    fail(NH_EINVAL, "container '" + c.value("name", "") + "' uses port " +
                                        std::to_string(spec.sync_port + 1) +
                                        ", the sidecar's tunnel port in local mode; choose another sync port");
                json q = {{"containerPort", p.value("containerPort", 0)}, {"protocol", p.value("protocol", "TCP")}};
                if (p.contains("name")) q["name"] = p["name"];
                if (std::find(app_ports.begin(), app_ports.end(), q) == app_ports.end()) app_ports.push_back(q);
            }
        bool found = false;
        for (const auto &c : ps["containers"]) found |= c.value("name", "") == spec.container;
        if (!found) fail(NH_ENOTFOUND, "container '" + spec.container + "' not found in the pod template");
        ps["containers"] = json::array();
        ps.erase("initContainers");
    }

    std::string shared_volume = kSharedVolumeName;
    bool found = spec.local;
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
        if (!spec.image_pull_policy.empty()) c["imagePullPolicy"] = spec.image_pull_policy;
        for (const auto &[claim, mount] : spec.pvc_mounts) {
            std::string vol = "nh-pvc-" + label_value(claim).substr(0, 40);
            c["volumeMounts"].push_back({{"name", vol}, {"mountPath", mount}});
            ps["volumes"].push_back({{"name", vol}, {"persistentVolumeClaim", {{"claimName", claim}}}});
        }
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

    std::vector<std::string> args = {"--root", spec.workdir, "--listen", "0.0.0.0:" + std::to_string(spec.sync_port),
                                     "--state-dir", kSidecarStateDir};
    std::vector<std::string> command;
    if (spec.sidecar_image.empty())
        command = {"/bin/sh", "-c", sidecar_bootstrap(), "nh-sidecar"};
    else
        command = {"nhsyncd"};
    command.insert(command.end(), args.begin(), args.end());
    json sidecar = {
        {"name", kSidecarName},
        {"image", !spec.sidecar_image.empty()      ? spec.sidecar_image
                  : !spec.sidecar_base_image.empty() ? spec.sidecar_base_image
                                                     : spec.image},
        {"command", command},
        {"env",
         {{{"name", kTokenEnv},
           {"valueFrom", {{"secretKeyRef", {{"name", spec.secret_name}, {"key", "token"}}}}}}}},
        {"ports", json::array({{{"name", kSidecarName}, {"containerPort", spec.sync_port}, {"protocol", "TCP"}}})},
        {"volumeMounts",
         {{{"name", shared_volume}, {"mountPath", spec.workdir}}, {{"name", kSidecarVolumeName}, {"mountPath", kSidecarMount}}}},
        {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "32Mi"}}}}},
    };
    if (spec.sidecar_image.empty() && spec.sidecar_base_image.empty() && !spec.image_pull_policy.empty())
        sidecar["imagePullPolicy"] = spec.image_pull_policy;
    for (const auto &p : app_ports) sidecar["ports"].push_back(p);
    ps["volumes"].push_back({{"name", kSidecarVolumeName}, {"emptyDir", json::object()}});
    ps["containers"].push_back(sidecar);
    return w;
}

json generated_deployment(const std::string &name, const std::string &ns, const json &tpl_in, bool duplicate,
                          const json &original, const WorkloadKind &k, const std::string &developer) {
    json tpl = {{"metadata", tpl_in.value("metadata", json::object())}, {"spec", tpl_in.value("spec", json::object())}};
    auto &md = tpl["metadata"];
    for (const char *f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "ownerReferences",
                          "managedFields", "generateName", "finalizers", "generation", "selfLink"})
        md.erase(f);
    const std::string gen = label_value(name);
    json labels = md.value("labels", json::object());
    if (duplicate) {
        labels = {{kDuplicateOfLabel, label_value(original["metadata"].value("name", ""))},
                  {kDeveloperLabel, label_value(developer.substr(0, developer.find('@')))}};
    } else {
        for (const char *l : kControllerLabels) labels.erase(l);
    }
    labels[kGeneratedLabel] = gen;
    md["labels"] = labels;
    auto &ps = tpl["spec"];
    ps["restartPolicy"] = "Always";
    for (const char *f : {"nodeName", "hostname", "subdomain"}) ps.erase(f);
    if (k.kind == Kind::Pod) ps.erase("ephemeralContainers");
    // StatefulSet claims: an emptyDir each, so the copy never shares a replica's volume.
    json volumes = ps.value("volumes", json::array());
    for (const auto &vct : original.value("spec", json::object()).value("volumeClaimTemplates", json::array())) {
        std::string vn = vct.value("metadata", json::object()).value("name", "");
        bool have = false;
        for (const auto &v : volumes) have |= v.value("name", "") == vn;
        if (!have && !vn.empty()) volumes.push_back({{"name", vn}, {"emptyDir", json::object()}});
    }
    if (!volumes.empty()) ps["volumes"] = volumes;
    json owner = {{"apiVersion", original.value("apiVersion", k.group_version)},
                  {"kind", original.value("kind", k.name)},
                  {"name", original["metadata"].value("name", "")},
                  {"uid", original["metadata"].value("uid", "")}};
    json d = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"labels", {{kManagedByLabel, kManagedByValue}, {kRoleLabel, kRoleGenerated}, {kGeneratedLabel, gen}}},
                {"annotations",
                 {{kKindAnnotation, k.name}, {kNameAnnotation, original["metadata"].value("name", "")}}}}},
              {"spec",
               {{"replicas", 1},
                {"selector", {{"matchLabels", {{kGeneratedLabel, gen}}}}},
                {"strategy", {{"type", "Recreate"}}},
                {"template", tpl}}}};
    // Owned by the original (not as its controller) so it goes when the original goes; a
    // bare Pod is deleted in replace mode, so its generated Deployment has no owner.
    if (!owner["uid"].get<std::string>().empty() && !(k.kind == Kind::Pod && !duplicate))
        d["metadata"]["ownerReferences"] = json::array({owner});
    return d;
}

std::string default_developer() { return default_identity(); }

std::vector<std::string> strip_dev_marks(json &tpl) {
    std::vector<std::string> dev_containers;
    auto erase_if_empty = [](json &obj, const char *key) {
        if (obj.contains(key) && obj[key].empty()) obj.erase(key);
    };
    auto ours = [](const std::string &volume) {
        return volume == kSharedVolumeName || volume == kSidecarVolumeName || volume.rfind("nh-pvc-", 0) == 0;
    };
    if (tpl.contains("metadata") && tpl["metadata"].contains("annotations")) {
        tpl["metadata"]["annotations"].erase(kSessionIdAnnotation);
        erase_if_empty(tpl["metadata"], "annotations");
    }
    if (!tpl.contains("spec")) return dev_containers;
    json &ps = tpl["spec"];
    if (ps.contains("nodeSelector")) {
        ps["nodeSelector"].erase(kParkedNodeLabel);
        erase_if_empty(ps, "nodeSelector");
    }
    // Drops the entries of obj[key] named like dev mode's volumes, and the list if it ends up empty.
    auto drop_ours = [&](json &obj, const char *key) {
        if (!obj.contains(key)) return;
        json kept = json::array();
        for (const auto &e : obj[key])
            if (!ours(e.value("name", ""))) kept.push_back(e);
        obj[key] = kept;
        erase_if_empty(obj, key);
    };
    drop_ours(ps, "volumes");
    if (ps.contains("containers")) {
        json kept = json::array();
        for (auto c : ps["containers"]) {
            if (c.value("name", "") == kSidecarName) continue;
            drop_ours(c, "volumeMounts");
            if (c.value("command", json::array()) == json(keep_alive_command()))
                dev_containers.push_back(c.value("name", ""));
            kept.push_back(c);
        }
        ps["containers"] = kept;
    }
    return dev_containers;
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
