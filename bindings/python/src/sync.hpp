// nh_sync_*: a running sync, owned (nocalhost.start_sync) or a dev session's
// (nh_session_sync), and the nh_sync_options built from a Python dict.
#pragma once

#include <shared_mutex>

#include "common.hpp"

namespace nhpy {

// The options of a sync (the shared layer's builder) and its event callback,
// which must outlive the sync: whoever keeps the sync keeps `callback`.
struct SyncOptions {
    // `spec`: None or the dict nocalhost/sync.py builds (mode, ignore, include,
    // use_gitignore, state_dir, compression, connect_timeout_ms,
    // max_backoff_ms, delete_protection, once, on_event).
    explicit SyncOptions(const py::object &spec);

    nocalhost::SyncOptions options;
    std::shared_ptr<Callback> callback;
};

// The sync a dev session owns (nh_session_sync()): valid until the session
// stops it. Users hold `mu` shared; stopping holds it exclusively, after
// triggering `inflight` so that flushes in progress return.
struct SessionSyncState {
    std::shared_mutex mu;
    nh_sync *sync = nullptr;
    std::shared_ptr<Callback> callback;
    CancellerPtr inflight = Canceller::make();
};

// nocalhost._native.Sync for a session's sync.
py::object make_session_sync(std::shared_ptr<SessionSyncState> state);

}  // namespace nhpy
