// The sync client's engine (internal to lib/sync): one struct, its state grouped by who touches
// it, its methods in files along the lines the groups draw:
//   client.cpp             the public API, events and status, the view and its persistence,
//                          the engine loop
//   client_connection.cpp  the connection: connect, handshake, the server's frames, ACKs
//   client_queue.cpp       the outgoing queue: planning (diffs, reconciliation), encoding,
//                          the local watcher's changes
//   client_apply.cpp       the applier of the server's changes in two-way mode
#pragma once

#include "sync/client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/memory.hpp"
#include "platform/wakeup.hpp"
#include "sync/delta.hpp"
#include "sync/fsops.hpp"
#include "sync/link_meter.hpp"
#include "sync/net.hpp"
#include "sync/protocol.hpp"
#include "sync/tracked_index.hpp"

namespace nh::sync {

using proto::Expect;
using proto::Msg;
using Clock = std::chrono::steady_clock;
using Type = local::Entry::Type;

// synced_state values in the view
inline const std::string kConfirmed;           // the server has it (acknowledged)
inline const std::string kPending = "p";       // sent, not acknowledged
inline const std::string kRemoteOnly = "r";    // on the server, not ours to sync (ignored or kept)
// Saved with the index only: "d" + the state the entry had when we deleted it
// (a delete or the source of a rename sent but not acknowledged).
inline constexpr char kUnackedDelete = 'd';

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    ClientOptions opt;
    EventFn on_event;
    std::string root;

    // ---- shared with API threads (mu) ----
    mutable std::mutex mu;
    std::condition_variable cv;
    Status status;
    bool stop_req = false;
    bool pause_req = false;
    uint64_t flush_req = 0;        // requests made
    uint64_t flush_resolved = 0;   // requests answered with a target
    uint64_t flush_target = 0;     // seq that must be acknowledged
    uint64_t flush_epoch = 0;      // connection the target belongs to
    uint64_t epoch_pub = 0;        // current connection number
    uint64_t acked_pub = 0;        // acknowledged seq on it
    bool live_pub = false;
    bool stopped = false;
    int fatal_code = 0;
    platform::Wakeup wakeup;  // wakes the engine thread
    std::thread thread;

    // ---- engine thread only ----
    local::IgnoreRules rules;
    std::unique_ptr<local::Watcher> watcher;
    std::unique_ptr<ConfinedTree> tree;
    TrackedIndex view;
    // What deletes (and the sources of renames) sent but not yet acknowledged removed from
    // the view: the record we had, and the seq of the operation. If the connection dies
    // before the ACK, the server may still have these paths while the view no longer knows
    // them; reconciling takes them as its base, so they are deleted there after all instead of
    // being kept as the server's own. Saved with the index (state "d...").
    struct UnackedDelete {
        TrackedIndex::Record rec;
        uint64_t seq;
    };
    std::map<std::string, UnackedDelete, std::less<>> unacked_deletes;
    std::string server_id, state_file;
    bool view_dirty = false;
    Clock::time_point last_save = Clock::now();
    bool paused = false;

    enum class Conn { Down, Handshake, Manifest, Live } conn = Conn::Down;
    int sock = -1;
    uint64_t epoch = 0;
    std::string wbuf;
    size_t wpos = 0;
    std::string rbuf;
    size_t rpos = 0;
    Clock::time_point next_connect = Clock::now();
    // A server that accepts and never answers HELLO is given up on (and retried) after this.
    Clock::time_point handshake_deadline;
    int backoff_ms = 0;
    bool use_zstd = false;      // the server takes zstd blocks (negotiated)
    bool use_stream = false;    // ... and one zstd stream across the session (negotiated)
    bool use_delta = false;     // the server takes deltas (negotiated)
    // Paths whose delta the server could not apply (RESEND): their next send is whole.
    std::set<std::string> whole_only;
    // Data blocks are compressed now at LinkMeter::kLevel[rung] (0: raw), as the option and
    // the link say; the session's zstd frame was begun at stream_level (0: none open).
    int rung = 0;
    int stream_level = 0;
    int stream_window = 0;  // ... with this window (log2)
    static constexpr int kFirstWindowLog = 20;
    // Until the link is measured, the socket queues little (kProbeSndbuf): what it queues goes
    // at the first guess's compression, and a slow link is measured sooner. Then kSndbuf, or
    // after kProbeBytes without a measurement (a link that never fell behind the client).
    static constexpr int kSndbuf = 4 << 20, kProbeSndbuf = 256 << 10;
    static constexpr uint64_t kProbeBytes = 16u << 20;
    bool sndbuf_small = false;
    uint64_t probe_from = 0;  // `written` when the socket's buffer was made small
    LinkMeter link;             // how fast the connection drains, how fast we compress
    uint64_t written = 0;       // bytes handed to the socket on this connection
    Clock::time_point link_since, link_traced;  // the connection made, the meter last traced
    ZSTD_CCtx *cctx = nullptr;
    ZSTD_CCtx *scctx = nullptr;  // the connection's zstd stream
    ZSTD_DCtx *dctx = nullptr;
    std::vector<local::Entry> manifest;
    uint64_t welcome_digest = 0;
    bool need_full = false;

    struct Op {
        enum Kind { File, Dir, Link, Delete, Rename, Meta } kind;
        uint64_t seq;
        local::Entry e;  // what is sent (path = target path)
        std::string from;  // Rename
        Expect expect;
        bool recursive = true;
    };
    std::deque<Op> queue;
    // The first read_ahead_ops entries of the queue had their files' reading started
    // (read_ahead_bytes of them): a tree not in the page cache is read from the disk many files
    // at a time rather than one after the other, while the client compresses and sends.
    size_t read_ahead_ops = 0;
    uint64_t read_ahead_bytes = 0;
    static constexpr uint64_t kReadAhead = 8u << 20;
    std::unordered_map<std::string, uint64_t> queued_files;  // path -> seq of its queued File op
    uint64_t next_seq = 1;
    uint64_t last_seq = 0;      // last seq assigned
    uint64_t last_produced = 0; // last seq written to the wire (or skipped)
    uint64_t acked = 0;
    bool uncommitted = false;
    size_t ops_since_commit = 0;
    uint64_t bytes_since_commit = 0;
    struct Inflight {
        uint64_t seq;
        std::string path;
        uint64_t bytes;
        bool file;
    };
    std::deque<Inflight> inflight;
    // Progress of the current round in bytes of its files: those the server acknowledged,
    // those encoded into frames, and those whose frames the link took (out of the socket).
    // The status reports the last, so a large file's progress moves while it goes over the
    // wire, not only when its acknowledgement comes (after the server's syncfs). Each frame
    // holding file content leaves a mark: the connection's byte its frame ends at, and
    // round_encoded_bytes with it.
    uint64_t round_acked_bytes = 0;
    uint64_t round_encoded_bytes = 0;
    uint64_t round_sent_bytes = 0;
    std::deque<std::pair<uint64_t, uint64_t>> sent_marks;
    void mark_encoded(uint64_t file_bytes);
    uint64_t bytes_sent_in_round();
    std::unordered_map<std::string, uint64_t> pending_seq;  // path -> seq of the last op on it

    // The file being streamed out.
    // A delta (DELTA_BEGIN) encodes as the server's signatures of its base come in.
    struct OutStream {
        int fd = -1;
        uint64_t seq = 0;
        uint64_t off = 0;
        local::Entry e;
        bool awaiting = false;  // DELTA_BEGIN sent, signatures still coming
        std::unique_ptr<delta::Encoder> enc;
        // Nothing can be sent until more signatures come.
        bool blocked() const { return awaiting && (!enc || enc->waiting()); }
    } out;
    // A file being received (two-way).
    std::optional<ConfinedTree::PendingFile> in;
    bool in_skip = false;

    Clock::time_point last_progress = Clock::now();
    State last_state = State::Starting;

    explicit Impl(ClientOptions o, EventFn fn) : opt(std::move(o)), on_event(std::move(fn)) {}

    ~Impl() {
        if (cctx) ZSTD_freeCCtx(cctx);
        if (scctx) ZSTD_freeCCtx(scctx);
        if (dctx) ZSTD_freeDCtx(dctx);
    }

    void wake() { wakeup.signal(); }

    // ---- events and status (client.cpp) ----
    Status snapshot();

    void emit(EventType type, std::string path = {}, std::string detail = {}, int code = 0);

    State compute_state();

    void publish(bool force_progress = false);

    // Idle: what a round of syncing grew (buffers, queues) goes back to the
    // system, so watching a large tree costs little memory.
    void release_memory();

    // After a large round the view's nodes sit scattered between the pages the round's
    // temporaries used, and the allocator cannot give those pages back. Saving the view,
    // freeing it whole and loading it again packs it: a 100k-file tree then keeps about the
    // view's own size resident instead of the round's peak.
    uint64_t compacted_at_seq = 0;
    bool release_pending = false;
    void compact_view();

    void file_error(const std::string &path, int code, const std::string &msg);

    // ---- the view and its persistence (client.cpp) ----
    void load_view(const std::string &id);

    // A restart does not wait for WELCOME to read its index: the newest index saved for this
    // root (the server's id, which names the file, is known only from WELCOME) is loaded on
    // another thread while the client connects and sets up its watches, and load_view takes
    // it when the id matches. The thread is joined by load_view or by run() on its way out.
    std::string state_prefix() const;
    void start_preload();
    void join_preload();
    std::thread preload_thread;
    std::string preload_file;
    std::optional<TrackedIndex> preloaded;

    // Moves the records saved as unacknowledged deletes out of a freshly loaded view (those
    // still known here, with the seq whose ACK settles them, stay as they are).
    void take_unacked_deletes();

    // Remembers what deleting path (and, if recursive, everything below it) removes from the view.
    void remember_delete(const std::string &path, bool recursive, uint64_t seq);

    void save_view();

    // ---- connection (client_connection.cpp) ----
    void disconnect(int code, const std::string &why);

    void fatal(int code, const std::string &why);

    void try_connect();

    // ---- planning (client_queue.cpp) ----
    Expect expect_of(std::string_view path) const;

    void enqueue(Op op);

    // Pushes l (a local entry) to the server.
    void push_upsert(const local::Entry &l, bool force = false);

    void push_delete(const std::string &path);

    // Carries out a plan: renames detected between removed and new entries,
    // then deletes, then upserts in path order (parents first).
    // A directory that went and one that came with its inode are the same directory moved
    // only if something inside is still there under the same name and unchanged: the kernel
    // hands a freed inode to the next new directory at once, and a branch switch makes
    // hundreds of those, unrelated to each other (a rename would carry the old content there).
    void execute(std::vector<std::string> removed, std::vector<local::Entry> upserts, bool force = false);

    // lstat of a local path (nullopt: absent or unreadable).
    std::optional<local::Entry> local_entry(const std::string &path);
    // Whether directory `to` here holds something `from` held on the server, unchanged.
    bool still_inside(const std::string &from, const std::string &to);

    std::vector<local::Entry> scan_local();
    // The scan made in the same walk as the watches (local::Watcher's second constructor),
    // before the server answered: a warm restart (the digests agree) takes it instead of
    // scanning again when the watcher reported nothing before WELCOME (else it scans afresh);
    // what the watcher reports after is compared path by path once live. A manifest exchange
    // always scans afresh.
    std::optional<std::vector<local::Entry>> first_scan;
    std::vector<local::Entry> take_scan();
    // A restart with nothing changed on either side: the server's tree is the view (the
    // digests agree) and every local entry is the view's, confirmed. True when so (the
    // reconciliation then has nothing to do); false leaves everything as it was.
    bool settle_unchanged(const std::vector<local::Entry> &local);

    // Compares the whole local tree with the view (no remote changes known).
    void full_local_diff();
    std::vector<local::Entry> removed_ignored;

    // Three-way reconciliation after connecting: local tree, the view (the
    // base: what we last knew the server had) and the server's manifest.
    void reconcile(const std::vector<local::Entry> &remote, std::vector<local::Entry> local);

    // ---- applying the server's changes locally (two-way) (client_apply.cpp) ----
    bool local_unchanged(std::string_view path);

    void apply_remote_entry(const local::Entry &m);

    void apply_remote_delete(const std::string &path);

    std::string decode(proto::Reader &r, size_t max_raw);

    void handle_remote_op(const proto::Frame &fr);

    // ---- input (client_connection.cpp) ----
    void handle_frame(const proto::Frame &fr);
    void on_signatures(proto::Reader &r);

    void finish_initial();

    void on_ack(uint64_t seq);

    void read_socket();

    // ---- output (client_queue.cpp) ----
    void put_data(Msg type, uint64_t seq, std::string_view data, proto::Writer &w);

    void write_commit();
    // Whether the large file being sent goes as a delta.
    bool delta_for(const Op &op, const local::Entry &e);
    void produce_delta(proto::Writer &w);

    // Encodes the next op (or part of a streamed file) into wbuf.
    void produce_one();
    void read_ahead();

    void pump_output();
    // Samples the socket's drain rate and chooses the compression from it (set_rung).
    void measure_link();
    // Moves to the rung the link's and the compressor's figures say (Compression::Auto, and the
    // level under Compression::On).
    void set_rung();
    void grow_sndbuf();
    // How much output is encoded ahead of the socket.
    size_t out_high() const;
    // Compresses `data` into `z` (resized to what came out) at the present rung: into the
    // session's stream, or as a frame of its own; the compressor's speed is measured.
    void compress_block(std::string_view data, std::string &z, bool stream);

    bool want_write() const;

    // ---- local changes (client_queue.cpp) ----
    void process_changes(const std::vector<local::Change> &changes);

    void resolve_flushes();

    // ---- the engine loop (client.cpp) ----
    void handle_commands(bool &stop);

    void run();
};

}  // namespace nh::sync
