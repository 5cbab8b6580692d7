// What the library and the per-user agent (tools/nhagent) share: where the agent lives (a
// directory only its user can open, holding the socket, the locks, the state and the log),
// and the framing of its protocol: one JSON object per line, one request and one answer per
// connection. Both sides compile this file; it holds no state. See docs/agent.md.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nocalhost.h"

namespace nh::agent {

// The agent's directory, created 0700 when missing: `option` when not empty, else
// $NH_AGENT_DIR, else $XDG_RUNTIME_DIR/nocalhost, else /tmp/nocalhost-<uid>. Throws nh::Error
// (NH_EFORBIDDEN) when it is a symlink, not a directory, owned by another user or open to
// group or others: the socket must be reachable by its user only.
std::string agent_dir(const std::string &option);

inline std::string socket_path(const std::string &dir) { return dir + "/agent.sock"; }
inline std::string state_path(const std::string &dir) { return dir + "/agent.json"; }
inline std::string lock_path(const std::string &dir) { return dir + "/agent.lock"; }
inline std::string spawn_lock_path(const std::string &dir) { return dir + "/spawn.lock"; }
inline std::string log_path(const std::string &dir) { return dir + "/agent.log"; }

// Connects to the Unix socket at `path`: the descriptor (close-on-exec), or -errno.
int connect_unix(const std::string &path);

// The uid of the process at the other end of a Unix socket, or (uid_t)-1.
uid_t peer_uid(int fd);

// Writes `j` as one line. False when the peer is gone.
bool write_message(int fd, const nlohmann::json &j);

// Reads one line as JSON into `out`, waiting up to `timeout_ms` (< 0: forever). False on
// EOF, a timeout or a line that is no JSON object (`why` says which).
bool read_message(int fd, nlohmann::json &out, long timeout_ms, std::string *why = nullptr);

// Locks `fd` (an open lock file) exclusively, trying until `timeout_ms` passes. False then.
bool lock_file(int fd, long timeout_ms);

// A managed port-forward's local ports must not need privileges: a port spec ("LOCAL:REMOTE",
// ":REMOTE", "PORT") whose local port is 1..1023 gives a message saying so; "" otherwise.
std::string privileged_port_error(const std::string &spec);

// The nh_sync_options of a handoff's "sync" settings ({"mode","ignore","include","gitignore",
// "delete_protection","state_dir","compression","connect_timeout_ms","max_backoff_ms"}), with
// the strings its pointers point to.
struct SyncSettings {
    std::vector<std::string> ignore, include;
    std::vector<const char *> ignore_ptrs, include_ptrs;
    std::string state_dir;
    nh_sync_options options = NH_SYNC_OPTIONS_INIT;
    explicit SyncSettings(const nlohmann::json &j);
    SyncSettings(const SyncSettings &) = delete;
    SyncSettings &operator=(const SyncSettings &) = delete;
};

// The current time as RFC 3339 (UTC, seconds).
std::string now_rfc3339();

}  // namespace nh::agent
