// Before dev mode changes anything: can the node pull the images the dev pod will run, and do
// they start the way dev mode starts them? A short-lived pod scheduled as the dev pod will be
// answers; a dev image without a shell (distroless) or one the node cannot pull fails the start
// while the workload is still untouched.
#pragma once

#include <chrono>
#include <string>

#include "dev/session.hpp"
#include "dev/workload.hpp"

namespace nh::dev {

// The pod that checks the images of `dev_pod_spec` (the dev-mode pod template's spec, as
// apply_dev_spec() makes it) in namespace `ns`: the dev container and the sidecar with their
// images, pull policies, resources and security contexts, each running only the start dev mode
// needs of it (`/bin/sh -c 'exit 0'`; `nhsyncd --version` in a sidecar image), and the pod's
// scheduling, pull secrets, service account and security context. Restarts never; removes itself
// from the node after `deadline_s`.
json image_check_pod(const json &dev_pod_spec, const DevSpec &spec, const std::string &ns, const std::string &what,
                     long deadline_s);

// Why a container status of the check pod says its image is unusable: NH_ERROR (the node cannot
// pull it) or NH_EINVAL (it cannot run what dev mode runs), with a message naming the ways out;
// code NH_OK and no message while it is fine or not decided yet. `sidecar`: the status is the
// sidecar's.
struct ImageCheckFailure {
    int code = NH_OK;
    std::string message;
};
ImageCheckFailure image_check_failure(const json &container_status, const DevSpec &spec, bool sidecar);

// Runs the check pod in `ns` and waits for its verdict: returns when every container has started
// (or, on a pod nothing can schedule, after a grace period, saying so in an info event); throws
// NH_EINVAL (no shell, an nhsyncd that does not run), NH_ERROR (an image that cannot be pulled),
// NH_ETIMEOUT at `deadline`, NH_ECANCELLED. Forbidden to create pods, or over a quota: an
// info event, and the start goes on without the check. The pod is deleted in every case.
void check_images(kube::Client &c, const std::string &ns, const json &dev_pod_spec, const DevSpec &spec,
                  const std::string &what, std::chrono::steady_clock::time_point deadline, const EventSink &events,
                  CancelToken *cancel);

}  // namespace nh::dev
