#include "dev/kube_ops.hpp"

#include "common/error.hpp"
#include "kube/objects.hpp"

namespace nh::dev {

bool deleting(const json &obj) { return obj.value("metadata", json::object()).contains("deletionTimestamp"); }

std::string annotation(const json &obj, const char *key) {
    return obj.value("metadata", json::object()).value("annotations", json::object()).value(key, "");
}

std::string api_group(const std::string &api_version) {
    auto slash = api_version.find('/');
    return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

json update_with_retry(kube::Client &c, const std::string &path, const std::function<json(const json &)> &build,
                       CancelToken *cancel) {
    for (int attempt = 0;; ++attempt) {
        json cur = c.get(path, cancel);
        json next = build(cur);
        next["metadata"]["resourceVersion"] = cur["metadata"].value("resourceVersion", "");
        try {
            return c.update(path, next, cancel);
        } catch (const Error &e) {
            if (e.code() != NH_ECONFLICT || attempt >= 10) throw;
        }
    }
}

void wait_observed(kube::Client &c, const std::string &path, const json &updated, Clock::time_point deadline,
                   CancelToken *cancel) {
    long generation = updated["metadata"].value("generation", 0L);
    for (;;) {
        json cur = c.get(path, cancel);
        if (cur.value("status", json::object()).value("observedGeneration", 0L) >= generation) return;
        if (Clock::now() >= deadline)
            fail(NH_ETIMEOUT, "timed out waiting for the controller to see " + path.substr(path.rfind('/') + 1));
        sleep_or_cancel(cancel, std::chrono::milliseconds(100), "waiting for the workload controller");
    }
}

std::string last_event(kube::Client &c, const std::string &ns, const std::string &kind, const std::string &name,
                       CancelToken *cancel) {
    json evs = c.get("/api/v1/namespaces/" + ns + "/events?fieldSelector=" +
                         kube::url_escape("involvedObject.kind=" + kind + ",involvedObject.name=" + name),
                     cancel);
    std::string msg;
    for (const auto &e : evs.value("items", json::array())) msg = e.value("message", msg);
    return msg;
}

void delete_pods_by_session(kube::Client &c, const std::string &ns, const std::string &selector,
                            const std::string &session_id, bool keep, CancelToken *cancel) {
    json pods = c.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(selector), cancel);
    for (const auto &p : pods.value("items", json::array()))
        if ((annotation(p, kSessionIdAnnotation) == session_id) != keep && !deleting(p))
            remove_optional(c, pods_path(ns) + "/" + p["metadata"].value("name", ""), cancel);
}

namespace {

bool is_recreate(const json &deployment) {
    return deployment.value("spec", json::object()).value("strategy", json::object()).value("type", "") == "Recreate";
}

}  // namespace

json scale_step(const json &target, const json &cur) {
    json step = target;
    step["spec"]["strategy"] = cur.value("spec", json::object()).value("strategy", json::object());
    if (is_recreate(step) || !step["spec"]["strategy"].is_object() || step["spec"]["strategy"].empty())
        step["spec"]["strategy"] = {{"type", "RollingUpdate"}};
    step["spec"]["template"] = cur["spec"]["template"];
    return step;
}

bool needs_scale_step(const json &target, const json &cur) {
    return is_recreate(target) && cur.value("spec", json::object()).value("replicas", 1) !=
                                      target.value("spec", json::object()).value("replicas", 1);
}

}  // namespace nh::dev
