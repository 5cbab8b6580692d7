// The sync client engine: scans and watches a local directory and keeps a
// sync server's root equal to it (send mode) or merges both ways (two-way).
// One background thread per Client does all the work, event-driven: an
// inotify event goes to the socket without a fixed delay, and whatever
// arrives while a send is in flight is coalesced into the next batch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/cancel.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync {

enum class SyncMode { Send = 0, TwoWay = 1 };
// Auto: zstd at the level the link's and the compressor's measured speeds say, or raw
// (sync/link_meter.hpp); level 1 until measured. On: never raw, the level as Auto says.
enum class Compression { Auto = 0, On = 1, Off = 2 };

struct ClientOptions {
    std::string local_dir;
    std::string address;  // host:port of the sync server
    std::string token;    // never logged
    SyncMode mode = SyncMode::Send;
    // Two-way: deletions made on the server never delete local files; what
    // was deleted there is sent back (Nocalhost's sync.deleteProtection).
    bool delete_protection = false;
    local::IgnoreOptions ignore;
    // Where the index of what the server acknowledged is kept; "" gives
    // $XDG_CACHE_HOME/nocalhost/sync (or ~/.cache/nocalhost/sync).
    std::string state_dir;
    Compression compression = Compression::Auto;
    // Offers delta transfer of large files (protocol feature bit 2); false: whole files only,
    // as a client from before it did.
    bool delta = true;
    // Watches the local tree (inotify) and syncs every change until stopped; false: a one-shot
    // sync of the tree as its first walk found it, with no watch set up (nh_sync_options.once).
    bool watch = true;
    int connect_timeout_ms = 5000;
    int max_backoff_ms = 5000;
};

// Values equal to the C ABI's nh_sync_state.
enum class State { Starting = 0, Scanning = 1, Connecting = 2, Syncing = 3, Idle = 4, Disconnected = 5, Paused = 6, Error = 7, Stopped = 8 };
const char *state_name(State s);

struct Status {
    State state = State::Starting;
    uint64_t files_done = 0, files_total = 0;  // of the current round
    uint64_t bytes_done = 0, bytes_total = 0;
    uint64_t file_errors = 0;    // since start
    uint64_t conflicts = 0;      // since start
    uint64_t reconnects = 0;     // connections lost since start
    uint64_t files_synced = 0;   // files acknowledged since start
    int error_code = 0;          // of the last error (state Error or connection)
    std::string error;           // its message
};

// Values equal to the C ABI's nh_sync_event_type.
enum class EventType { State = 1, Progress = 2, FileError = 3, Conflict = 4, RemoteChange = 5 };

struct Event {
    EventType type = EventType::State;
    std::string path;     // FileError, Conflict, RemoteChange
    std::string detail;   // a message, or the conflict copy's path
    int code = 0;         // FileError: an nh_error_code
    Status status;        // at the time of the event
};

using EventFn = std::function<void(const Event &)>;

class Client {
public:
    // Validates the options and starts the engine thread. Throws nh::Error
    // (NH_EINVAL, NH_EIO when local_dir cannot be read).
    Client(ClientOptions options, EventFn on_event = {});
    ~Client();  // stop()
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    Status status() const;
    // Blocks until every change made before the call is acknowledged by the
    // server (including the first full sync). Returns NH_OK, NH_ETIMEOUT
    // (timeout_ms < 0: none), NH_ECANCELLED, or the fatal error's code.
    int flush(long timeout_ms, CancelToken *cancel = nullptr);
    void pause();
    void resume();
    // Stops the engine, saves the index. Idempotent.
    void stop();

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace nh::sync
