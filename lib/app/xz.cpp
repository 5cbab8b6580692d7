#include "app/xz.hpp"

#include <lzma.h>

#include "common/error.hpp"

namespace nh::app {

std::string xz_compress(std::string_view text) {
    std::string out(lzma_stream_buffer_bound(text.size()), '\0');
    size_t pos = 0;
    lzma_ret r = lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t *>(text.data()),
                                         text.size(), reinterpret_cast<uint8_t *>(out.data()), &pos, out.size());
    if (r != LZMA_OK) throw Error(r == LZMA_MEM_ERROR ? NH_ENOMEM : NH_ERROR, "xz compression failed (liblzma " + std::to_string(r) + ")");
    out.resize(pos);
    return out;
}

std::optional<std::string> xz_decompress(std::string_view data, size_t limit) {
    if (data.empty()) return std::string();
    lzma_stream s = LZMA_STREAM_INIT;
    // At most 96 MiB of decoder memory: enough for `xz -9` (a 64 MiB dictionary; nhctl's writer
    // uses 8 MiB), not for a header that claims a dictionary of gigabytes.
    if (lzma_stream_decoder(&s, 96u << 20, 0) != LZMA_OK) return std::nullopt;
    std::string out;
    s.next_in = reinterpret_cast<const uint8_t *>(data.data());
    s.avail_in = data.size();
    uint8_t buf[16384];
    lzma_ret r = LZMA_OK;
    while (r == LZMA_OK) {
        s.next_out = buf;
        s.avail_out = sizeof buf;
        r = lzma_code(&s, LZMA_FINISH);
        const size_t got = sizeof buf - s.avail_out;
        if (out.size() + got > limit) {
            r = LZMA_BUF_ERROR;
            break;
        }
        out.append(reinterpret_cast<const char *>(buf), got);
    }
    const bool whole = r == LZMA_STREAM_END && s.avail_in == 0;
    lzma_end(&s);
    if (!whole) return std::nullopt;
    return out;
}

}  // namespace nh::app
