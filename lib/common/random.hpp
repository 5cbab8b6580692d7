// Random tokens from the operating system (getentropy; rand_s on Windows): session ids, sync
// tokens, server ids.
#pragma once

#include <cstddef>
#include <string>

namespace nh {

// `bytes` random bytes as 2*bytes lowercase hex digits. Throws NH_EIO when the kernel gives none.
std::string random_hex(size_t bytes);

}  // namespace nh
