#include "tree/logs.hpp"

#include <algorithm>
#include <cctype>

#include "common/error.hpp"
#include "dev/workload.hpp"
#include "kube/objects.hpp"

namespace nh::tree {

namespace {

std::string text(const json &obj, const char *a, const char *b) {
    const json &o = obj.contains(a) && obj[a].is_object() ? obj[a] : json::object();
    return o.contains(b) && o[b].is_string() ? o[b].get<std::string>() : std::string();
}

int phase_rank(const json &pod) {  // higher is better, as kubectl's podPhaseToOrdinal
    std::string phase = text(pod, "status", "phase");
    return phase == "Running" ? 2 : phase == "Unknown" ? 1 : 0;
}

std::string ready_since(const json &pod) {
    const json *c = kube::condition(pod, "Ready");
    return c && c->value("status", "") == "True" ? c->value("lastTransitionTime", "") : std::string();
}

long restarts(const json &pod) {
    long n = 0;
    if (pod.contains("status"))
        for (const auto &cs : pod["status"].value("containerStatuses", json::array())) n += cs.value("restartCount", 0L);
    return n;
}

// kubectl's ByLogging order: true when `a` is the better pod to read logs from.
bool better_for_logs(const json &a, const json &b) {
    bool sa = !text(a, "spec", "nodeName").empty(), sb = !text(b, "spec", "nodeName").empty();
    if (sa != sb) return sa;
    if (phase_rank(a) != phase_rank(b)) return phase_rank(a) > phase_rank(b);
    bool ra = kube::pod_ready(a), rb = kube::pod_ready(b);
    if (ra != rb) return ra;
    if (ra) {
        std::string ta = ready_since(a), tb = ready_since(b);
        if (ta != tb) return tb.empty() || (!ta.empty() && ta < tb);
    }
    if (restarts(a) != restarts(b)) return restarts(a) > restarts(b);
    std::string ca = text(a, "metadata", "creationTimestamp"), cb = text(b, "metadata", "creationTimestamp");
    if (ca != cb) return cb.empty() || (!ca.empty() && ca < cb);
    return false;
}

}  // namespace

json log_pod(kube::Client &client, const std::string &ns, const std::string &target, CancelToken *cancel,
             size_t *count) {
    if (target.empty()) fail(NH_EINVAL, "empty target: use KIND/NAME (e.g. deployment/web) or a pod name");
    const auto slash = target.find('/');
    std::string kind_text = slash == std::string::npos ? "pod" : target.substr(0, slash);
    std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
    if (name.empty() || name.find('/') != std::string::npos)
        fail(NH_EINVAL, "bad target '" + target + "': use KIND/NAME (e.g. deployment/web) or a pod name");
    dev::Kind kind = dev::parse_kind(kind_text);
    if (kind == dev::Kind::Custom || kind == dev::Kind::CronJob)
        fail(NH_EINVAL, "cannot read the logs of '" + target +
                            "': use a pod, deployment, statefulset, daemonset, replicaset or job");
    json obj = client.get(dev::workload_path(kind, ns, name), cancel);
    if (count) *count = 1;
    if (kind == dev::Kind::Pod) return obj;
    std::string sel = kube::workload_selector(obj);
    if (sel.empty()) fail(NH_EINVAL, target + " in namespace " + ns + " selects no pods");
    json pods = client.get(dev::pods_path(ns) + "?labelSelector=" + kube::url_escape(sel), cancel);
    json items = pods.value("items", json::array());
    if (count) *count = items.size();
    if (items.empty()) fail(NH_ENOTFOUND, "no pod of " + target + " in namespace " + ns);
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i)
        if (better_for_logs(items[i], items[best])) best = i;
    return items[best];
}

json log_target(const json &pod, size_t count, const std::string &asked) {
    const std::string ns = text(pod, "metadata", "namespace"), name = text(pod, "metadata", "name");
    json containers = json::array();
    if (pod.contains("spec"))
        for (const auto &c : pod["spec"].value("containers", json::array())) containers.push_back(c.value("name", ""));
    std::string container = asked;
    if (container.empty())
        container = pod.value("metadata", json::object())
                        .value("annotations", json::object())
                        .value("kubectl.kubernetes.io/default-container", "");
    if (container.empty() && !containers.empty()) container = containers.front().get<std::string>();
    if (std::find(containers.begin(), containers.end(), container) == containers.end()) {
        std::string list;
        for (const auto &c : containers) list += (list.empty() ? "" : ", ") + c.get<std::string>();
        fail(NH_ENOTFOUND, "pod " + name + " in namespace " + ns + " has no container '" + container +
                               "' (its containers: " + list + ")");
    }
    return {{"pod", name}, {"namespace", ns}, {"container", container}, {"containers", containers}, {"pods", count}};
}

void stream_logs(kube::Client &client, const json &pod, const LogOptions &o,
                 const std::function<bool(std::string_view line)> &line) {
    const std::string ns = text(pod, "metadata", "namespace"), name = text(pod, "metadata", "name");
    const std::string container = log_target(pod, 1, o.container)["container"];
    kube::Request req;
    req.path = dev::pods_path(ns) + "/" + kube::url_escape(name) + "/log?container=" + kube::url_escape(container);
    if (o.follow) req.path += "&follow=true";
    if (o.previous) req.path += "&previous=true";
    if (o.timestamps) req.path += "&timestamps=true";
    if (o.tail_lines >= 0) req.path += "&tailLines=" + std::to_string(o.tail_lines);
    if (o.since_seconds > 0) req.path += "&sinceSeconds=" + std::to_string(o.since_seconds);
    req.cancel = o.cancel;
    std::string pending;
    bool stopped = false;
    client.stream(req, [&](const char *data, size_t n) {
        pending.append(data, n);
        size_t start = 0, nl;
        while ((nl = pending.find('\n', start)) != std::string::npos) {
            if (!line(std::string_view(pending).substr(start, nl - start))) {
                stopped = true;
                return false;
            }
            start = nl + 1;
        }
        pending.erase(0, start);
        return true;
    });
    if (!stopped && !pending.empty()) line(pending);
}

}  // namespace nh::tree
