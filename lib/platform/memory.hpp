// Gives the heap's free memory back to the system (glibc's malloc_trim; nothing elsewhere).
// Part of the platform layer (see wakeup.hpp).
#pragma once

namespace nh::platform {

void trim_heap();

}  // namespace nh::platform
