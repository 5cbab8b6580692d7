// The whole dev loop on top of a session: a port-forward to the sync
// sidecar, a sync of a local directory through it, and the port-forwards of
// the session's Nocalhost dev config (portForward). A session owns at most
// one loop; ending dev mode in this process stops its loops first.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.hpp"
#include "nocalhost.h"

namespace nh::capi {

// A port-forward of the dev config that runs with the loop.
struct AppForward {
    std::string spec;  // as configured: "LOCAL:REMOTE" or "PORT"
    int remote_port = 0;
    nh_forward *fwd = nullptr;
};

class SessionLoop {
public:
    SessionLoop(std::string key, nh_forward *fwd, nh_sync *sync);
    ~SessionLoop();
    SessionLoop(const SessionLoop &) = delete;
    SessionLoop &operator=(const SessionLoop &) = delete;

    nh_sync *sync() const { return sync_; }
    int local_port() const;
    void add_forward(AppForward f);
    // [{"spec","local_port","remote_port"}] of the running config port-forwards.
    nlohmann::json forwards() const;
    // Runs `round` every `every` on a thread of its own until stop().
    void follow(std::function<void()> round, std::chrono::milliseconds every);
    // Stops the sync (saving its index) and every forward. Idempotent.
    void stop();

private:
    std::string key_;
    mutable std::mutex mu_;
    nh_forward *fwd_;
    nh_sync *sync_;
    std::vector<AppForward> app_;
    std::mutex follow_mu_;
    std::condition_variable follow_cv_;
    bool follow_stop_ = false;
    std::thread follower_;
};

// A session whose sidecar runs the uploaded nhsyncd (no sidecar image): what finding its dev
// pods and uploading into them needs.
struct SidecarUpload {
    std::shared_ptr<kube::Client> client;
    std::string ns, selector, session_id;
    std::string syncd_dir;  // the option; "" for the default (dev/sidecar_upload.hpp)
};

// The sync options of the whole loop: the caller's (or the defaults), with the session's
// Nocalhost config (`config` is the session's recorded config: {"sync": {...}}) filling
// what the caller left at its default. Owns the strings the options point to.
class LoopSyncOptions {
public:
    LoopSyncOptions(const nh_sync_options *caller, const nlohmann::json &config);
    const nh_sync_options *get() const { return &opts_; }
    // One line for humans on what the config set, or "" when it set nothing.
    const std::string &summary() const { return summary_; }

private:
    nh_sync_options opts_;
    std::vector<std::string> ignore_, include_;
    std::vector<const char *> ignore_ptrs_, include_ptrs_;
    std::string summary_;
};

// The key of a session's loops: its namespace and session object (one per mode and developer).
std::string loop_key(const std::string &ns, const std::string &session_object);

// With `upload`: first waits for the dev pod's sidecar and uploads nhsyncd into it (phase
// "upload"), and while the loop runs uploads it into every new dev pod (a replaced pod).
// Starts forward + sync for `session` and waits for the first full sync
// (timeout_ms <= 0: 5 minutes), then the port-forwards of `config` (a busy
// local port is a warning event, not an error). Events go to `events` as
// phases "forward", "sync", "synced" and "port-forward". Throws nh::Error
// on failure (nothing left running).
std::unique_ptr<SessionLoop> start_loop(nh_client *client, const nh_session *session, const std::string &key,
                                        const nlohmann::json &config, const char *local_dir,
                                        const nh_sync_options *sync_opts, long timeout_ms, nh_cancel *cancel,
                                        nh_dev_event_cb events, void *payload,
                                        const std::optional<SidecarUpload> &upload = std::nullopt);

// Stops every loop of this process with the given key.
void stop_loops_for(const std::string &key);

}  // namespace nh::capi
