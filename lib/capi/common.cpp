// Version, errors, buffers, library lifetime, logging and cancellation.
#include <curl/curl.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "capi/capi.hpp"
#include "common/log.hpp"

namespace nh::capi {
namespace {

struct ThreadError {
    nh_error pub{NH_OK, "no error", 0, ""};
    std::string message = "no error";
    std::string reason;
};

ThreadError &tls_error() {
    thread_local ThreadError e;
    return e;
}

}  // namespace

int set_error(int code, std::string message, int http_status, std::string reason) {
    auto &e = tls_error();
    e.message = std::move(message);
    e.reason = std::move(reason);
    e.pub.code = code;
    e.pub.message = e.message.c_str();
    e.pub.http_status = http_status;
    e.pub.reason = e.reason.c_str();
    return code;
}

void clear_error() { set_error(NH_OK, "no error"); }

void buf_set(nh_buf *out, std::string_view data) {
    if (!out) return;
    char *p = static_cast<char *>(std::malloc(data.size() + 1));
    if (!p) throw std::bad_alloc();
    if (!data.empty()) std::memcpy(p, data.data(), data.size());
    p[data.size()] = '\0';
    nh_buf_dispose(out);
    out->ptr = p;
    out->size = data.size();
    out->reserved = data.size() + 1;
}

int check_version(unsigned int version, unsigned int current, const char *what) {
    if (version == 0 || version > current)
        return set_error(NH_EINVAL, std::string("unsupported ") + what + " version " +
                                        std::to_string(version) + " (this library knows 1.." +
                                        std::to_string(current) + ")");
    return NH_OK;
}

}  // namespace nh::capi

using namespace nh::capi;

namespace {
std::mutex g_init_mu;
int g_init_count = 0;
}  // namespace

extern "C" {

const char *nh_version(int *major, int *minor, int *patch) {
    if (major) *major = NH_VERSION_MAJOR;
    if (minor) *minor = NH_VERSION_MINOR;
    if (patch) *patch = NH_VERSION_PATCH;
    return NH_VERSION_STRING;
}

const nh_error *nh_error_last(void) { return &tls_error().pub; }

void nh_error_clear(void) { clear_error(); }

const char *nh_error_name(int code) {
    switch (code) {
#define NH_NAME(c) \
    case c:        \
        return #c;
        NH_NAME(NH_OK)
        NH_NAME(NH_ERROR)
        NH_NAME(NH_EINVAL)
        NH_NAME(NH_ENOMEM)
        NH_NAME(NH_ECONFIG)
        NH_NAME(NH_ECONNECT)
        NH_NAME(NH_ETLS)
        NH_NAME(NH_ETIMEOUT)
        NH_NAME(NH_ECANCELLED)
        NH_NAME(NH_ENOTFOUND)
        NH_NAME(NH_EEXISTS)
        NH_NAME(NH_ECONFLICT)
        NH_NAME(NH_EUNAUTHORIZED)
        NH_NAME(NH_EFORBIDDEN)
        NH_NAME(NH_EINVALID)
        NH_NAME(NH_EGONE)
        NH_NAME(NH_ETOOMANY)
        NH_NAME(NH_ESERVER)
        NH_NAME(NH_EPROTOCOL)
        NH_NAME(NH_EIO)
        NH_NAME(NH_EBUSY)
        NH_NAME(NH_EUNSUPPORTED)
        NH_NAME(NH_ESTATE)
#undef NH_NAME
    }
    return "NH_UNKNOWN";
}

void nh_buf_dispose(nh_buf *buf) {
    if (!buf) return;
    std::free(buf->ptr);
    buf->ptr = nullptr;
    buf->size = 0;
    buf->reserved = 0;
}

int nh_init(void) {
    std::lock_guard lock(g_init_mu);
    if (g_init_count == 0) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (rc != CURLE_OK)
            return set_error(NH_ERROR, std::string("libcurl initialisation failed: ") +
                                           curl_easy_strerror(rc));
    }
    return ++g_init_count;
}

int nh_shutdown(void) {
    std::lock_guard lock(g_init_mu);
    if (g_init_count == 0) return set_error(NH_ESTATE, "nh_shutdown() without nh_init()");
    if (--g_init_count == 0) curl_global_cleanup();
    return g_init_count;
}

void nh_log_set_callback(nh_log_cb cb, int max_level, void *payload) {
    nh::log::set_sink(cb, max_level, payload);
}

int nh_cancel_new(nh_cancel **out) {
    NH_CHECK_ARG(out);
    return guard([&]() -> int {
        *out = new nh_cancel();
        return NH_OK;
    });
}

void nh_cancel_trigger(nh_cancel *cancel) {
    if (cancel) cancel->token.trigger();
}

int nh_cancel_is_triggered(const nh_cancel *cancel) { return cancel && cancel->token.triggered(); }

void nh_cancel_reset(nh_cancel *cancel) {
    if (cancel) cancel->token.reset();
}

void nh_cancel_free(nh_cancel *cancel) { delete cancel; }

int nh_cancel_new_child(nh_cancel **out, nh_cancel *parent) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(parent);
    return guard([&]() -> int {
        auto child = std::make_unique<nh_cancel>();
        child->parent = parent;
        child->parent_waker = parent->token.add_waker([t = child->shared] { t->trigger(); });
        *out = child.release();
        return NH_OK;
    });
}

}  // extern "C"
