// Watching the dev pod come up: its container states, warning events, and
// the failures that will not fix themselves.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "dev/session.hpp"

namespace nh::dev {

struct PodState {
    std::string name, phase;
    bool ready = false;
};

// The newest pod matching `selector` that carries `session_id` and is not being deleted.
PodState find_dev_pod(kube::Client &client, const std::string &ns, const std::string &selector,
                      const std::string &session_id, CancelToken *cancel);

// Waits until the dev pod is Running and Ready and no other pod of the workload
// remains, reporting its states and warning events through `emit`. Throws
// NH_ETIMEOUT at `deadline`, NH_ERROR when the pod cannot start (image pull
// errors, crash loops, a pod that stays unschedulable, a failed pod), NH_ECANCELLED.
// `idle`, when given, runs on each poll that finds no dev pod yet.
PodState wait_for_dev_pod(kube::Client &client, const std::string &ns, const std::string &selector,
                          const std::string &session_id, const std::string &what,
                          std::chrono::steady_clock::time_point deadline,
                          const std::function<void(const Event &)> &emit, CancelToken *cancel,
                          const std::function<void()> &idle = {});

// "Pending; app: waiting (ContainerCreating), nh-sync: running, ready" and the like.
std::string describe_pod(const json &pod);

}  // namespace nh::dev
