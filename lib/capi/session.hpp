// What the agent's calls (agent.cpp) need of the session handle of dev.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include "nocalhost.h"

namespace nh::capi {

// What another process needs to take over the session's running sync (or the last it ran): {"kind" (as
// nh_dev_attach() takes it), "name", "namespace", "mode", "developer", "local_dir", "sync"
// (the settings, sync_json()), "syncd_dir"}. Throws NH_ESTATE when the session syncs nothing.
nlohmann::json session_handoff(const nh_session *session);

// Stops the session's sync and forwards (the sync saves its index).
void session_stop_loop(nh_session *session);

}  // namespace nh::capi
