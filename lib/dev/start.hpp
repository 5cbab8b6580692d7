// A seam into dev mode's start for the tests that stop a start half-way (internal to lib/ and
// its tests; not part of StartOptions).
#pragma once

#include <functional>

#include "dev/session.hpp"

namespace nh::dev {

// Called after each completed step of a start: "lock", "record", "hpa", "pvc", "park", "patch",
// "wait", "route", "active". Whatever it throws passes through as the start's failure.
using StepHook = std::function<void(const char *step)>;

// start() calling `after_step` after each completed step.
Session start_observed(kube::Client &client, const StartOptions &opts, const StepHook &after_step);

}  // namespace nh::dev
