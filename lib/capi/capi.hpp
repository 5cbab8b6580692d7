// Shared plumbing of the extern "C" shims: the error TLS, the catch-all
// that keeps exceptions from crossing the ABI, and nh_buf helpers.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "common/cancel.hpp"
#include "common/error.hpp"
#include "nocalhost.h"

struct nh_cancel {
    // Shared so that a parent's waker still holding it after the child is freed
    // triggers a live (if orphaned) token.
    std::shared_ptr<nh::CancelToken> shared = std::make_shared<nh::CancelToken>();
    nh::CancelToken &token = *shared;
    // A child token's link to its parent, undone when the child is freed.
    nh_cancel *parent = nullptr;
    int parent_waker = 0;
    ~nh_cancel() {
        if (parent) parent->token.remove_waker(parent_waker);
    }
};

namespace nh::capi {

// Records an error for nh_error_last() and returns `code`.
int set_error(int code, std::string message, int http_status = 0, std::string reason = {});
void clear_error();

inline nh::CancelToken *token_of(nh_cancel *c) { return c ? &c->token : nullptr; }

// Stores `data` in `out` (NUL-terminated). Replaces what `out` held.
void buf_set(nh_buf *out, std::string_view data);

// Checks an options struct's version: 0 or newer than `current` is refused.
int check_version(unsigned int version, unsigned int current, const char *what);

// Initialises an options struct as version `version` of the header declared
// it. `sizes[v - 1]` is the size of version v (the offset of the first field
// version v + 1 appended; the last entry is sizeof(T)), so only that many bytes
// are written: a caller built against an older header passes its smaller struct
// and is never overrun. Versions 0 and newer than the last entry are refused.
template <class T, std::size_t N>
int init_options(T *opts, unsigned int version, const T &defaults, const std::size_t (&sizes)[N],
                 const char *what) {
    static_assert(N >= 1);
    if (!opts) return set_error(NH_EINVAL, "invalid argument: opts");
    if (int rc = check_version(version, static_cast<unsigned int>(N), what)) return rc;
    std::memcpy(static_cast<void *>(opts), &defaults, sizes[version - 1]);
    // Byte-wise, as the defaults: the struct of an older version may be smaller than the
    // newest one's alignment allows (its last field an int), so not accessed as a T.
    std::memcpy(reinterpret_cast<unsigned char *>(opts) + offsetof(T, version), &version, sizeof version);
    return 0;
}

// Runs `f` (returning int) and turns any exception into an error code.
template <class F>
int guard(F &&f) noexcept {
    try {
        return f();
    } catch (const nh::Error &e) {
        return set_error(e.code(), e.what(), e.http_status(), e.reason());
    } catch (const std::bad_alloc &) {
        return set_error(NH_ENOMEM, "out of memory");
    } catch (const std::exception &e) {
        return set_error(NH_ERROR, std::string("internal error: ") + e.what());
    } catch (...) {
        return set_error(NH_ERROR, "internal error: unknown exception");
    }
}

#define NH_CHECK_ARG(cond)                                                               \
    do {                                                                                 \
        if (!(cond)) return ::nh::capi::set_error(NH_EINVAL, "invalid argument: " #cond); \
    } while (0)

}  // namespace nh::capi
