// What tells one process apart from another across hosts, reboots and pid namespaces, for the
// dev-mode lock's holder (lib/dev/lease). Linux reads /proc; elsewhere the calls return ""
// ("unknown"), and a lock of a dead process is then only taken over once its lease expired.
// Part of the platform layer (see wakeup.hpp).
#pragma once

#include <string>

namespace nh::platform {

// The start time of a running process (clock ticks since boot on Linux), "" when none runs
// with that pid or the platform cannot tell; "zombie" for one that has exited but is not
// reaped yet.
std::string process_start(long pid);
// This boot of the machine ("" when unknown).
std::string boot_id();
// The pid namespace of this process ("" when unknown or none).
std::string pid_namespace();

}  // namespace nh::platform
