// The nh_sync handle and the conversion of nh_sync_options, shared by the sync section and the
// session calls that start the dev loop.
#pragma once

#include <memory>

#include "nocalhost.h"
#include "sync/client.hpp"

struct nh_sync {
    // Shared: a session's sync belongs to its loop (lib/loop), the handle only lends it.
    std::shared_ptr<nh::sync::Client> client;
};

namespace nh::capi {

// Checks `opts` (NULL: the defaults): NH_OK, or the error (already set). `session`: the options
// of a dev session's sync, which must watch (no `once`).
int check_sync_options(const nh_sync_options *opts, bool session = false);

// The sync client's options of a checked `opts` (NULL: the defaults) and its events callback
// into `events`; local_dir, address and token are left to the caller.
nh::sync::ClientOptions sync_options_of(const nh_sync_options *opts, nh::sync::EventFn *events);

}  // namespace nh::capi
