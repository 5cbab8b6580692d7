#include "dev/image_check.hpp"

#include <algorithm>
#include <cstdio>

#include "common/error.hpp"
#include "common/log.hpp"
#include "dev/wait.hpp"
#include "kube/objects.hpp"

namespace nh::dev {

namespace {

using Clock = std::chrono::steady_clock;

// How long the check waits for a pod nothing can schedule (the workload's own pods may hold the
// resources the dev pod gets once they are gone) before the start goes on without it.
constexpr auto kUnschedulableGrace = std::chrono::seconds(15);

// Waiting reasons of a container whose image the node cannot get.
bool pull_failure(const std::string &reason) {
    return reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
           reason == "ErrImageNeverPull";
}

// Waiting reasons of a container the runtime could not create or start.
bool start_failure(const std::string &reason) {
    return reason == "CreateContainerError" || reason == "RunContainerError" || reason == "CreateContainerConfigError" ||
           reason == "StartError" || reason == "ContainerCannotRun";
}

std::string role_of(const DevSpec &spec, bool sidecar) {
    if (!sidecar) return "the dev image " + spec.image;
    if (!spec.sidecar_image.empty()) return "the sidecar image " + spec.sidecar_image;
    if (!spec.sidecar_base_image.empty()) return "the sidecar base image " + spec.sidecar_base_image;
    return "the dev image " + spec.image;
}

std::string with_detail(std::string text, const std::string &reason, const std::string &message) {
    if (!reason.empty()) text += " (" + reason + (message.empty() ? "" : ": " + message) + ")";
    return text;
}

// Deletes the check pod at once, whatever ended the check.
struct PodRemover {
    kube::Client &c;
    std::string path;
    ~PodRemover() {
        if (path.empty()) return;
        try {
            c.remove(path + "?gracePeriodSeconds=0", nullptr);
        } catch (const Error &e) {
            if (e.code() != NH_ENOTFOUND) log::warn("dev: could not delete the image check pod " + path + ": " + e.what());
        }
    }
};

}  // namespace

json image_check_pod(const json &dev_pod_spec, const DevSpec &spec, const std::string &ns, const std::string &what,
                     long deadline_s) {
    json ps = {{"restartPolicy", "Never"},
               {"terminationGracePeriodSeconds", 0},
               {"activeDeadlineSeconds", deadline_s},
               {"automountServiceAccountToken", false},
               {"enableServiceLinks", false},
               {"containers", json::array()}};
    // Where and as whom the dev pod runs, and how its images are pulled.
    for (const char *key : {"nodeName", "nodeSelector", "affinity", "tolerations", "schedulerName", "runtimeClassName",
                            "priorityClassName", "imagePullSecrets", "serviceAccountName", "securityContext",
                            "hostUsers"})
        if (dev_pod_spec.contains(key)) ps[key] = dev_pod_spec[key];
    const bool bootstrap = spec.sidecar_image.empty();
    for (const auto &c : dev_pod_spec.value("containers", json::array())) {
        const std::string name = c.value("name", "");
        const bool sidecar = name == kSidecarName;
        if (!sidecar && name != spec.container) continue;
        // The bootstrap in the dev image itself starts as the dev container does.
        if (sidecar && bootstrap && spec.sidecar_base_image.empty() && !ps["containers"].empty()) continue;
        json check = {{"name", name}, {"image", c.value("image", "")}};
        if (sidecar && !bootstrap)
            check["command"] = {"nhsyncd", "--version"};
        else
            check["command"] = {"/bin/sh", "-c", "exit 0"};
        for (const char *key : {"imagePullPolicy", "resources", "securityContext"})
            if (c.contains(key)) check[key] = c[key];
        ps["containers"].push_back(check);
    }
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"generateName", "nh-image-check-"},
              {"namespace", ns},
              {"labels", {{kManagedByLabel, kManagedByValue}, {kRoleLabel, "image-check"}}},
              {"annotations", {{"dev.nocalhost.io/checks-images-of", what}}}}},
            {"spec", ps}};
}

ImageCheckFailure image_check_failure(const json &cs, const DevSpec &spec, bool sidecar) {
    const json st = cs.value("state", json::object());
    std::string reason, message;
    bool exited = false;
    int exit_code = 0;
    if (st.contains("waiting")) {
        reason = st["waiting"].value("reason", "");
        message = st["waiting"].value("message", "");
    } else if (st.contains("terminated")) {
        reason = st["terminated"].value("reason", "");
        message = st["terminated"].value("message", "");
        exit_code = st["terminated"].value("exitCode", 0);
        exited = true;
    }
    if (pull_failure(reason))
        return {NH_ERROR, with_detail("the node cannot pull " + role_of(spec, sidecar), reason, message) +
                              "; check the image's name and tag, the pull secrets of the workload or its service "
                              "account, and that the node can reach the registry"};
    const bool did_not_run = start_failure(reason) || (exited && exit_code != 0);
    const std::string detail = message.empty() && exited ? "exit code " + std::to_string(exit_code) : message;
    if (sidecar && !spec.sidecar_image.empty()) {
        if (!did_not_run) return {};
        return {NH_EINVAL, with_detail(role_of(spec, true) + " does not run `nhsyncd --version`", reason, detail) +
                               "; build one with `nh sidecar image`, or leave the sidecar image out to upload nhsyncd "
                               "into the dev image"};
    }
    std::string hint = missing_shell_hint(message);
    if (!hint.empty()) return {NH_EINVAL, role_of(spec, sidecar) + " cannot start: " + hint};
    if (did_not_run) return {NH_EINVAL, with_detail(role_of(spec, sidecar) + " cannot run /bin/sh", reason, detail)};
    return {};
}

void check_images(kube::Client &c, const std::string &ns, const json &dev_pod_spec, const DevSpec &spec,
                  const std::string &what, Clock::time_point deadline, const EventSink &events, CancelToken *cancel) {
    auto emit = [&](EventType type, const std::string &message, json detail = nullptr) {
        if (events && !events(Event{type, Phase::Image, message, std::move(detail)}))
            throw Error(NH_ECANCELLED, "dev start cancelled by the event callback");
    };
    long left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count();
    json pod = image_check_pod(dev_pod_spec, spec, ns, what, std::max(left, 30L) + 30);
    std::string images;
    for (const auto &ct : pod["spec"]["containers"])
        images += (images.empty() ? "" : ", ") + ct.value("image", "");
    emit(EventType::Phase, "checking that the node can pull and start " + images + " (pod nh-image-check-*)");
    const auto t0 = Clock::now();
    json created;
    try {
        created = c.create(pods_path(ns), pod, cancel);
    } catch (const Error &e) {
        if (e.code() != NH_EFORBIDDEN) throw;
        emit(EventType::Info, std::string("cannot check the images before the start, going on: ") + e.what());
        return;
    }
    const std::string name = created["metadata"].value("name", "");
    PodRemover remover{c, pods_path(ns) + "/" + name};
    const size_t expected = created["spec"]["containers"].size();
    std::string last;
    Clock::time_point unschedulable_since{};  // the epoch: schedulable
    auto interval = std::chrono::milliseconds(100);
    for (;;) {
        if (cancel) cancel->check("checking the images");
        json p = c.get(remover.path, cancel);
        const json status = p.value("status", json::object());
        size_t started = 0;
        for (const auto &cs : status.value("containerStatuses", json::array())) {
            const bool sidecar = cs.value("name", "") == kSidecarName;
            ImageCheckFailure failure = image_check_failure(cs, spec, sidecar);
            if (failure.code != NH_OK)
                fail(failure.code, "dev start of " + what + ": " + failure.message + "; nothing was changed");
            const json st = cs.value("state", json::object());
            if (st.contains("running") || (st.contains("terminated") && st["terminated"].value("exitCode", 1) == 0))
                ++started;
        }
        if (started == expected) {
            double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            char took[32];
            std::snprintf(took, sizeof took, "%.2f", seconds);
            emit(EventType::Info, "the node pulled and started " + images + " in " + took + " s",
                 {{"images", images}, {"seconds", seconds}});
            return;
        }
        std::string summary = describe_pod(p);
        if (summary != last) {
            emit(EventType::Info, "image check: " + summary);
            last = summary;
        }
        const std::string phase = status.value("phase", "");
        if (phase == "Failed")
            fail(NH_ERROR, "dev start of " + what + ": the image check pod " + name + " failed (" +
                               status.value("reason", "") + ": " + status.value("message", "") + "); nothing was changed");
        const json *scheduled = kube::condition(p, "PodScheduled");
        if (scheduled && scheduled->value("status", "") == "False" && scheduled->value("reason", "") == "Unschedulable") {
            if (unschedulable_since == Clock::time_point{}) unschedulable_since = Clock::now();
            if (Clock::now() - unschedulable_since >= kUnschedulableGrace) {
                emit(EventType::Info, "the image check pod cannot be scheduled (" + scheduled->value("message", "") +
                                          "), going on without it");
                return;
            }
        } else {
            unschedulable_since = {};
        }
        if (Clock::now() >= deadline)
            fail(NH_ETIMEOUT, "dev start of " + what + ": timed out checking the images (" + summary +
                                  "); nothing was changed");
        sleep_or_cancel(cancel, interval, "checking the images");
        interval = std::min(interval * 2, std::chrono::milliseconds(500));
    }
}

}  // namespace nh::dev
