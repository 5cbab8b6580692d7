// The sync section of the C ABI: nh_sync over nh::sync::Client.
#include <cstring>
#include <iterator>
#include <memory>

#include "capi/sync.hpp"

#include "capi/capi.hpp"

using namespace nh::capi;

namespace {

void fill_status(nh_sync_status *out, const nh::sync::Status &s) {
    // Version 1 fields; later versions append.
    out->state = static_cast<int>(s.state);
    out->files_done = s.files_done;
    out->files_total = s.files_total;
    out->bytes_done = s.bytes_done;
    out->bytes_total = s.bytes_total;
    out->files_synced = s.files_synced;
    out->file_errors = s.file_errors;
    out->conflicts = s.conflicts;
    out->reconnects = s.reconnects;
    out->error_code = s.error_code;
}

std::vector<std::string> copy_list(const char *const *items, size_t n) {
    std::vector<std::string> v;
    for (size_t i = 0; i < n; ++i)
        if (items && items[i]) v.emplace_back(items[i]);
    return v;
}

}  // namespace

namespace nh::capi {

int check_sync_options(const nh_sync_options *opts, bool session) {
    if (!opts) return NH_OK;
    if (int rc = check_version(opts->version, NH_SYNC_OPTIONS_VERSION, "nh_sync_options")) return rc;
    NH_CHECK_ARG(opts->mode == NH_SYNC_MODE_SEND || opts->mode == NH_SYNC_MODE_TWO_WAY);
    NH_CHECK_ARG(opts->compression >= NH_SYNC_COMPRESS_AUTO && opts->compression <= NH_SYNC_COMPRESS_OFF);
    if (session && opts->version >= 3 && opts->once)
        return set_error(NH_EINVAL, "nh_sync_options.once: a dev session's sync keeps watching the local directory; "
                                    "a one-shot sync is nh_sync_start's");
    return NH_OK;
}

nh::sync::ClientOptions sync_options_of(const nh_sync_options *opts, nh::sync::EventFn *events) {
    static const nh_sync_options kDefaults = NH_SYNC_OPTIONS_INIT;
    if (!opts) opts = &kDefaults;
    nh::sync::ClientOptions o;
    o.mode = static_cast<nh::sync::SyncMode>(opts->mode);
    o.ignore.patterns = copy_list(opts->ignore_patterns, opts->ignore_patterns_count);
    o.ignore.include_patterns = copy_list(opts->include_patterns, opts->include_patterns_count);
    o.ignore.use_gitignore = opts->use_gitignore != 0;
    if (opts->state_dir) o.state_dir = opts->state_dir;
    o.compression = static_cast<nh::sync::Compression>(opts->compression);
    if (opts->connect_timeout_ms > 0) o.connect_timeout_ms = static_cast<int>(opts->connect_timeout_ms);
    if (opts->max_backoff_ms > 0) o.max_backoff_ms = static_cast<int>(opts->max_backoff_ms);
    if (opts->version >= 2) o.delete_protection = opts->delete_protection != 0;
    if (opts->version >= 3) o.watch = opts->once == 0;
    if (opts->callback && events) {
        auto cb = opts->callback;
        void *payload = opts->payload;
        *events = [cb, payload](const nh::sync::Event &ev) {
            nh_sync_status st = NH_SYNC_STATUS_INIT;
            fill_status(&st, ev.status);
            nh_sync_event e;
            e.version = NH_SYNC_EVENT_VERSION;
            e.type = static_cast<int>(ev.type);
            e.path = ev.path.c_str();
            e.message = ev.detail.c_str();
            e.code = ev.code;
            e.status = &st;
            cb(&e, payload);
        };
    }
    return o;
}

}  // namespace nh::capi

extern "C" {

const char *nh_sync_state_name(int state) {
    if (state < 0 || state > static_cast<int>(nh::sync::State::Stopped)) return "unknown";
    return nh::sync::state_name(static_cast<nh::sync::State>(state));
}

static constexpr std::size_t kSyncOptionsSizes[] = {offsetof(nh_sync_options, delete_protection),
                                                     offsetof(nh_sync_options, once), sizeof(nh_sync_options)};
static_assert(std::size(kSyncOptionsSizes) == NH_SYNC_OPTIONS_VERSION, "one size per version of nh_sync_options");

int nh_sync_options_init(nh_sync_options *opts, unsigned int version) {
    return init_options(opts, version, nh_sync_options NH_SYNC_OPTIONS_INIT, kSyncOptionsSizes, "nh_sync_options");
}

int nh_sync_start(nh_sync **out, const char *local_dir, const char *address, const char *token,
                  const nh_sync_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(local_dir && *local_dir);
    NH_CHECK_ARG(address && *address);
    NH_CHECK_ARG(token && *token);
    if (int rc = check_sync_options(opts)) return rc;
    return guard([&] {
        nh::sync::EventFn fn;
        nh::sync::ClientOptions o = sync_options_of(opts, &fn);
        o.local_dir = local_dir;
        o.address = address;
        o.token = token;
        // Validate the patterns now, so a bad one is an error of this call.
        (void)nh::sync::local::IgnoreRules::build(o.local_dir, o.ignore);
        auto handle = std::make_unique<nh_sync>();
        handle->client = std::make_shared<nh::sync::Client>(std::move(o), std::move(fn));
        *out = handle.release();
        return NH_OK;
    });
}

int nh_sync_status_get(nh_sync_status *out, const nh_sync *sync) {
    NH_CHECK_ARG(out && sync);
    if (int rc = check_version(out->version, NH_SYNC_STATUS_VERSION, "nh_sync_status")) return rc;
    return guard([&] {
        fill_status(out, sync->client->status());
        return NH_OK;
    });
}

int nh_sync_last_error(nh_buf *out, const nh_sync *sync) {
    NH_CHECK_ARG(out && sync);
    return guard([&] {
        buf_set(out, sync->client->status().error);
        return NH_OK;
    });
}

int nh_sync_flush(nh_sync *sync, long timeout_ms, nh_cancel *cancel) {
    NH_CHECK_ARG(sync);
    return guard([&]() -> int {
        int rc = sync->client->flush(timeout_ms, token_of(cancel));
        switch (rc) {
        case NH_OK:
            return rc;
        case NH_ETIMEOUT:
            return set_error(rc, "sync flush timed out");
        case NH_ECANCELLED:
            return set_error(rc, "sync flush cancelled");
        case NH_ESTATE:
            return set_error(rc, "the sync is stopped");
        default: {
            auto st = sync->client->status();
            return set_error(rc, st.error.empty() ? "the sync failed" : st.error);
        }
        }
    });
}

int nh_sync_pause(nh_sync *sync) {
    NH_CHECK_ARG(sync);
    return guard([&] {
        sync->client->pause();
        return NH_OK;
    });
}

int nh_sync_resume(nh_sync *sync) {
    NH_CHECK_ARG(sync);
    return guard([&] {
        sync->client->resume();
        return NH_OK;
    });
}

int nh_sync_stop(nh_sync *sync) {
    NH_CHECK_ARG(sync);
    return guard([&] {
        sync->client->stop();
        return NH_OK;
    });
}

void nh_sync_free(nh_sync *sync) {
    if (!sync) return;
    try {
        sync->client->stop();
    } catch (...) {
    }
    delete sync;
}

}  // extern "C"
