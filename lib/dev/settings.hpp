// The settings of a Nocalhost dev config that the dev loop (lib/loop) consumes, typed: its
// dev.sync and dev.portForward. The session record keeps the config as apply_nocalhost_config()
// recorded it (Session::extra: the keys "shell", "command", "debug", "portForward", "sync" of
// the config's dev section); loop_settings() is the one place that reads them back, so records
// written by earlier versions read the same.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace nh::dev {

// dev.sync, in the sync client's terms.
struct SyncSettings {
    bool two_way = false;    // type: sendReceive
    bool gitignore = false;  // mode: gitIgnore
    // ignoreFilePattern as gitignore patterns ("./src" is anchored: "/src").
    std::vector<std::string> ignore;
    // filePattern (pattern mode only) as gitignore patterns; empty: everything ("." or none).
    std::vector<std::string> include;
    bool delete_protection = true;  // Nocalhost protects local files unless told otherwise
};

struct LoopSettings {
    std::optional<SyncSettings> sync;        // none when the config has no sync section
    std::vector<std::string> port_forwards;  // dev.portForward: "LOCAL:REMOTE" or "PORT"
};

// The loop settings of a recorded config (null or an object; unknown keys are ignored).
LoopSettings loop_settings(const nlohmann::json &recorded);

}  // namespace nh::dev
