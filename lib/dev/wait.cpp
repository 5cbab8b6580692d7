#include "dev/wait.hpp"

#include <set>

#include "common/error.hpp"
#include "kube/objects.hpp"

namespace nh::dev {

namespace {

// Waiting reasons that retrying will not fix on its own within a dev start.
const std::set<std::string> kFatalWaiting = {
    "ErrImagePull",      "ImagePullBackOff",   "InvalidImageName",  "ErrImageNeverPull",
    "CrashLoopBackOff",  "CreateContainerConfigError", "CreateContainerError", "RunContainerError"};

// How long a pod may stay unschedulable before the start gives up: long enough for
// the old pods to free their resources, short enough not to wait for the timeout.
constexpr double kUnschedulableGraceSeconds = 15;

bool deleting(const json &pod) { return pod.value("metadata", json::object()).contains("deletionTimestamp"); }

std::string session_of(const json &pod) {
    return pod.value("metadata", json::object()).value("annotations", json::object()).value(kSessionIdAnnotation, "");
}

bool is_ready(const json &pod) { return kube::pod_ready(pod) && kube::pod_running(pod); }

json container_detail(const json &cs) {
    json d = {{"name", cs.value("name", "")}, {"ready", cs.value("ready", false)},
              {"restarts", cs.value("restartCount", 0)}};
    const json st = cs.value("state", json::object());
    if (st.contains("running")) {
        d["state"] = "running";
    } else if (st.contains("waiting")) {
        d["state"] = "waiting";
        d["reason"] = st["waiting"].value("reason", "");
        d["message"] = st["waiting"].value("message", "");
    } else if (st.contains("terminated")) {
        d["state"] = "terminated";
        d["reason"] = st["terminated"].value("reason", "");
        d["exit_code"] = st["terminated"].value("exitCode", 0);
    } else {
        d["state"] = "unknown";
    }
    return d;
}

json pod_detail(const json &pod) {
    json d = {{"name", pod["metadata"].value("name", "")},
              {"phase", pod.value("status", json::object()).value("phase", "")},
              {"ready", is_ready(pod)},
              {"containers", json::array()}};
    const json st = pod.value("status", json::object());
    for (const char *list : {"initContainerStatuses", "containerStatuses"})
        for (const auto &cs : st.value(list, json::array())) d["containers"].push_back(container_detail(cs));
    if (const json *s = kube::condition(pod, "PodScheduled"); s && s->value("status", "") == "False") {
        d["unschedulable"] = s->value("reason", "") == "Unschedulable";
        d["schedule_message"] = s->value("message", "");
    }
    return d;
}

PodState state_of(const json &pod) {
    return {pod["metadata"].value("name", ""), pod.value("status", json::object()).value("phase", ""), is_ready(pod)};
}

}  // namespace

std::string describe_pod(const json &pod) {
    json d = pod_detail(pod);
    std::string out = d["phase"].get<std::string>();
    if (out.empty()) out = "Pending";
    if (d.contains("schedule_message")) out += " (not scheduled: " + d["schedule_message"].get<std::string>() + ")";
    std::string parts;
    for (const auto &c : d["containers"]) {
        std::string s = c["name"].get<std::string>() + ": " + c["state"].get<std::string>();
        if (c.contains("reason") && !c["reason"].get<std::string>().empty())
            s += " (" + c["reason"].get<std::string>() + ")";
        if (c["ready"].get<bool>()) s += ", ready";
        parts += (parts.empty() ? "" : "; ") + s;
    }
    if (!parts.empty()) out += "; " + parts;
    return out;
}

PodState find_dev_pod(kube::Client &client, const std::string &ns, const std::string &selector,
                      const std::string &session_id, CancelToken *cancel) {
    json pods = client.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(selector), cancel);
    const json items = pods.value("items", json::array());
    const json *best = nullptr;
    for (const auto &p : items) {
        if (session_of(p) != session_id || deleting(p)) continue;
        if (!best || p["metadata"].value("creationTimestamp", "") > (*best)["metadata"].value("creationTimestamp", ""))
            best = &p;
    }
    return best ? state_of(*best) : PodState{};
}

PodState wait_for_dev_pod(kube::Client &client, const std::string &ns, const std::string &selector,
                          const std::string &session_id, const std::string &what,
                          std::chrono::steady_clock::time_point deadline,
                          const std::function<void(const Event &)> &emit, CancelToken *cancel,
                          const std::function<void()> &idle) {
    std::string last_summary;
    std::set<std::string> seen_events;
    double unschedulable_since = 0;
    auto next_events = std::chrono::steady_clock::now();
    for (;;) {
        if (cancel) cancel->check("waiting for the dev pod");
        json pods = client.get(pods_path(ns) + "?labelSelector=" + kube::url_escape(selector), cancel);
        const json items = pods.value("items", json::array());
        const json *dev = nullptr;
        size_t others = 0;
        for (const auto &p : items) {
            if (deleting(p)) continue;
            if (session_of(p) == session_id) {
                if (!dev || p["metadata"].value("creationTimestamp", "") >
                                (*dev)["metadata"].value("creationTimestamp", ""))
                    dev = &p;
            } else {
                std::string phase = p.value("status", json::object()).value("phase", "");
                if (phase != "Succeeded" && phase != "Failed") ++others;
            }
        }
        std::string summary;
        if (dev) {
            summary = "pod " + (*dev)["metadata"].value("name", "") + ": " + describe_pod(*dev);
        } else {
            summary = "waiting for the dev pod to be created";
        }
        if (others > 0) summary += " (" + std::to_string(others) + " old pod(s) still running)";
        if (summary != last_summary) {
            emit(Event{EventType::Pod, Phase::Wait, summary, dev ? pod_detail(*dev) : json(nullptr)});
            last_summary = summary;
        }

        if (dev) {
            const std::string pod_name = (*dev)["metadata"].value("name", "");
            // Warning events of the dev pod (FailedScheduling, Failed, BackOff, ...).
            if (std::chrono::steady_clock::now() >= next_events) {
                next_events = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
                json evs = client.get("/api/v1/namespaces/" + ns + "/events?fieldSelector=" +
                                          kube::url_escape("involvedObject.name=" + pod_name + ",type=Warning"),
                                      cancel);
                for (const auto &e : evs.value("items", json::array())) {
                    std::string key = e["metadata"].value("uid", "") + "/" + std::to_string(e.value("count", 0));
                    if (!seen_events.insert(key).second) continue;
                    std::string msg = e.value("reason", "") + ": " + e.value("message", "");
                    emit(Event{EventType::Warning, Phase::Wait, msg,
                               {{"pod", pod_name}, {"reason", e.value("reason", "")}, {"message", e.value("message", "")}}});
                }
            }
            const json st = dev->value("status", json::object());
            if (st.value("phase", "") == "Failed")
                fail(NH_ERROR, "the dev pod " + pod_name + " of " + what + " failed: " + st.value("reason", "") + " " +
                                   st.value("message", ""));
            for (const char *list : {"initContainerStatuses", "containerStatuses"})
                for (const auto &cs : st.value(list, json::array())) {
                    const json w = cs.value("state", json::object()).value("waiting", json::object());
                    std::string reason = w.value("reason", "");
                    if (kFatalWaiting.count(reason))
                        fail(NH_ERROR, "the dev pod " + pod_name + " of " + what + " cannot start: container " +
                                           cs.value("name", "") + ": " + reason +
                                           (w.value("message", "").empty() ? "" : ": " + w.value("message", "")));
                }
            const json *sched = kube::condition(*dev, "PodScheduled");
            if (sched && sched->value("status", "") == "False" && sched->value("reason", "") == "Unschedulable") {
                if (unschedulable_since == 0) unschedulable_since = now_seconds();
                if (now_seconds() - unschedulable_since > kUnschedulableGraceSeconds)
                    fail(NH_ERROR, "the dev pod " + pod_name + " of " + what + " cannot be scheduled: " +
                                       sched->value("message", ""));
            } else {
                unschedulable_since = 0;
            }
            if (is_ready(*dev) && others == 0) return state_of(*dev);
        } else if (idle) {
            idle();
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(NH_ETIMEOUT, "timed out waiting for the dev pod of " + what + " to be ready; last seen: " +
                                         summary);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        sleep_or_cancel(cancel, std::min(left + std::chrono::milliseconds(1), std::chrono::milliseconds(400)),
                        "waiting for the dev pod");
    }
}

}  // namespace nh::dev
