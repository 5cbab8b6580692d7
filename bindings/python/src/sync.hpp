// nh_sync_*: a running sync, owned (nocalhost.start_sync) or a dev session's
// (nh_session_sync), and the nh_sync_options built from a Python dict.
#pragma once

#include <shared_mutex>

#include "common.hpp"

namespace nhpy {

// An nh_sync_options and what it points to. The event callback must outlive
// the sync: whoever keeps the sync keeps `callback`.
struct SyncOptions {
    // `spec`: None or the dict nocalhost/sync.py builds (mode, ignore, include,
    // use_gitignore, state_dir, compression, connect_timeout_ms,
    // max_backoff_ms, delete_protection, on_event).
    explicit SyncOptions(const py::object &spec);
    SyncOptions(const SyncOptions &) = delete;
    SyncOptions &operator=(const SyncOptions &) = delete;

    nh_sync_options opts = NH_SYNC_OPTIONS_INIT;
    std::shared_ptr<Callback> callback;

private:
    std::vector<std::string> ignore_, include_;
    std::vector<const char *> ignore_ptrs_, include_ptrs_;
    std::optional<std::string> state_dir_;
};

// The sync a dev session owns (nh_session_sync()): valid until the session
// stops it. Users hold `mu` shared; stopping holds it exclusively, after
// triggering `inflight` so that flushes in progress return.
struct SessionSyncState {
    std::shared_mutex mu;
    nh_sync *sync = nullptr;
    std::shared_ptr<Callback> callback;
    std::shared_ptr<Canceller> inflight = std::make_shared<Canceller>();
};

// nocalhost._native.Sync for a session's sync.
py::object make_session_sync(std::shared_ptr<SessionSyncState> state);

}  // namespace nhpy
