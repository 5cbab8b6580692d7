// The whole dev loop on top of a session: a port-forward to the sync
// sidecar and a sync of a local directory through it. A session owns at
// most one loop; ending dev mode in this process stops its loops first.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "nocalhost.h"

namespace nh::capi {

class SessionLoop {
public:
    SessionLoop(std::string key, nh_forward *fwd, nh_sync *sync);
    ~SessionLoop();
    SessionLoop(const SessionLoop &) = delete;
    SessionLoop &operator=(const SessionLoop &) = delete;

    nh_sync *sync() const { return sync_; }
    int local_port() const;
    // Stops the sync (saving its index) and the forward. Idempotent.
    void stop();

private:
    std::string key_;
    mutable std::mutex mu_;
    nh_forward *fwd_;
    nh_sync *sync_;
};

// Starts forward + sync for `session` and waits for the first full sync
// (timeout_ms <= 0: 5 minutes). Events go to `events` as phases "forward",
// "sync" and "synced". Throws nh::Error on failure (nothing left running).
std::unique_ptr<SessionLoop> start_loop(nh_client *client, const nh_session *session, const char *local_dir,
                                        const nh_sync_options *sync_opts, long timeout_ms, nh_cancel *cancel,
                                        nh_dev_event_cb events, void *payload);

// Stops every loop of this process that syncs the given workload.
void stop_loops_for(const std::string &ns, const std::string &kind, const std::string &name);

}  // namespace nh::capi
