#ifdef _WIN32
// rand_s: the system's generator (RtlGenRandom); declared only when this comes before any
// header of the C library.
#define _CRT_RAND_S
#include <stdlib.h>
#endif

#include "common/random.hpp"

#ifndef _WIN32
#include <unistd.h>  // getentropy: Linux (glibc 2.25), macOS, the BSDs
#endif

#include <algorithm>
#include <cerrno>

#include "common/error.hpp"

namespace nh {

namespace {

// Fills buf with bytes from the operating system's random generator.
void system_random(unsigned char *buf, size_t len) {
#ifdef _WIN32
    for (size_t i = 0; i < len;) {
        unsigned int v = 0;
        if (rand_s(&v) != 0) throw Error(NH_EIO, "no random bytes from the system (rand_s failed)");
        for (int k = 0; k < 4 && i < len; ++k, v >>= 8) buf[i++] = static_cast<unsigned char>(v);
    }
#else
    while (len > 0) {
        size_t n = std::min<size_t>(len, 256);  // getentropy's limit per call
        if (::getentropy(buf, n) != 0) {
            if (errno == EINTR) continue;
            throw Error(NH_EIO, "no random bytes from the kernel (getentropy failed)");
        }
        buf += n;
        len -= n;
    }
#endif
}

}  // namespace

std::string random_hex(size_t bytes) {
    std::string raw(bytes, '\0');
    system_random(reinterpret_cast<unsigned char *>(raw.data()), bytes);
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

}  // namespace nh
