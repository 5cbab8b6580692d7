// The .xz container (LZMA2) in which Nocalhost's nhctl keeps an application's manifest and dev
// config in its record (Secret keys "m" and "c"), through liblzma.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nh::app {

// `text` as one .xz stream (preset 1, CRC64 check: what nhctl's reader accepts). Throws on
// liblzma's failure (out of memory).
std::string xz_compress(std::string_view text);

// The text of a .xz stream, or nullopt when `data` is not one (corrupt, truncated, trailing
// garbage) or would be larger than `limit` bytes once decompressed: a record is read from the
// cluster, where anyone with write access to the Secret could put a bomb there.
std::optional<std::string> xz_decompress(std::string_view data, size_t limit);

}  // namespace nh::app
