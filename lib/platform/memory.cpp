#include "platform/memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace nh::platform {

void trim_heap() {
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
}

}  // namespace nh::platform
