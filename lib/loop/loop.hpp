// The dev loop on top of a dev-mode session: a port-forward to the sync sidecar, a sync of a
// local directory through it, and the port-forwards of the session's Nocalhost dev config
// (portForward). Built on the stream and sync classes; it owns the loops of this process (a
// registry by session, so that ending dev mode stops them first) and the policy of a start as
// a whole (a loop that fails rolls dev mode back).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/cancel.hpp"
#include "dev/session.hpp"
#include "kube/client.hpp"
#include "loop/traffic.hpp"
#include "stream/portforward.hpp"
#include "sync/client.hpp"

namespace nh::loop {

// What a loop is started with besides its session.
struct Options {
    std::string local_dir;
    // The caller's sync options (local_dir, address and token are the loop's): the session's
    // Nocalhost config fills what they leave at their defaults (see apply_config()).
    sync::ClientOptions sync;
    sync::EventFn sync_events;
    std::chrono::milliseconds timeout{300000};  // upload and first full sync, each
    CancelToken *cancel = nullptr;
    dev::EventSink events;  // phases "upload", "forward", "sync", "synced", "port-forward"
    // Without a sidecar image: where the nhsyncd binaries to upload are ("": the default,
    // dev/sidecar_upload.hpp).
    std::string syncd_dir;
};

class Loop {
public:
    ~Loop();  // stop()
    Loop(const Loop &) = delete;
    Loop &operator=(const Loop &) = delete;

    // The running sync; shared with the C ABI's handle of it.
    const std::shared_ptr<sync::Client> &sync() const { return sync_; }
    // The local port forwarded to the sync sidecar; 0 once stopped.
    int local_port() const;
    // [{"spec","local_port","remote_port"}] of the running config port-forwards.
    nlohmann::json forwards() const;
    // Stops the sync (saving its index), then every forward. Idempotent.
    void stop();
    // The local directory it syncs, and the sync's settings as the loop started it (the
    // session's Nocalhost config applied; no address or token): what another process needs to
    // sync the same way (the agent, docs/agent.md).
    const std::string &local_dir() const { return settings_.local_dir; }
    const sync::ClientOptions &settings() const { return settings_; }

private:
    friend std::unique_ptr<Loop> start(std::shared_ptr<kube::Client>, const dev::Session &, Options);
    struct AppForward {
        std::string spec;  // as configured: "LOCAL:REMOTE" or "PORT"
        std::unique_ptr<stream::PortForwarder> fwd;
    };
    explicit Loop(std::string key);
    // Runs `round` every `every` on a thread of its own until stop().
    void follow(std::function<void()> round, std::chrono::milliseconds every);

    std::string key_;
    mutable std::mutex mu_;
    std::unique_ptr<stream::PortForwarder> fwd_;
    std::shared_ptr<sync::Client> sync_;
    sync::ClientOptions settings_;
    std::vector<AppForward> app_;
    std::mutex follow_mu_;
    std::condition_variable follow_cv_;
    bool follow_stop_ = false;
    std::thread follower_;
};

// Fills what `o` leaves at its defaults from the session's recorded Nocalhost config: type
// sendReceive makes a send sync two-way, mode gitIgnore sets use_gitignore, ignoreFilePattern
// and filePattern become the ignore and include patterns when none are given, deleteProtection
// sets delete_protection. Returns one line for humans on what the config set ("" for nothing).
std::string apply_config(const nlohmann::json &recorded, sync::ClientOptions &o);

// Without a sidecar image, first waits for the dev pod's sidecar and uploads nhsyncd into it
// (phase "upload"), and while the loop runs uploads it into every new dev pod. Starts the
// forward and the sync and waits for the first full sync, then the config's port-forwards (a
// busy local port is a warning event, not an error). Throws nh::Error; nothing is left running.
std::unique_ptr<Loop> start(std::shared_ptr<kube::Client> client, const dev::Session &session, Options opts);

// A start as a whole: dev mode, then (with `traffic`) the local mode's tunnel and the Service
// forwards, then (with `loop`) the loop. When either fails and start.rollback_on_failure, dev
// mode is ended again and the error says so.
struct Started {
    dev::Session session;
    std::unique_ptr<Traffic> traffic;
    std::unique_ptr<Loop> loop;
};
Started start_dev(std::shared_ptr<kube::Client> client, const dev::StartOptions &start, std::optional<Options> loop,
                  std::optional<TrafficOptions> traffic = std::nullopt);

// Ends dev mode (dev::end()) after stopping this process's loops of that session.
dev::EndResult end_dev(kube::Client &client, const dev::EndOptions &opts);

}  // namespace nh::loop
