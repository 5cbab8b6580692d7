#include "sync/client.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
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
#include <thread>
#include <unordered_map>

#include "common/error.hpp"
#include "common/log.hpp"
#include "sync/fsops.hpp"
#include "sync/net.hpp"
#include "sync/protocol.hpp"
#include "sync/tracked_index.hpp"

namespace nh::sync {

using proto::Expect;
using proto::Msg;
using Clock = std::chrono::steady_clock;
using Type = local::Entry::Type;

const char *state_name(State s) {
    switch (s) {
    case State::Starting: return "starting";
    case State::Scanning: return "scanning";
    case State::Connecting: return "connecting";
    case State::Syncing: return "syncing";
    case State::Idle: return "idle";
    case State::Disconnected: return "disconnected";
    case State::Paused: return "paused";
    case State::Error: return "error";
    case State::Stopped: return "stopped";
    }
    return "unknown";
}

namespace {

// synced_state values in the view
const std::string kConfirmed;           // the server has it (acknowledged)
const std::string kPending = "p";       // sent, not acknowledged
const std::string kRemoteOnly = "r";    // on the server, not ours to sync (ignored or kept)
// Saved with the index only: "d" + the state the entry had when we deleted it
// (a delete or the source of a rename sent but not acknowledged).
constexpr char kUnackedDelete = 'd';

constexpr size_t kOutHigh = 4u << 20;
constexpr size_t kBatchOps = 4096;
constexpr uint64_t kBatchBytes = 32u << 20;

std::string default_state_dir() {
    if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/nocalhost/sync";
    if (const char *h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/nocalhost/sync";
    return "/tmp/nocalhost-sync-" + std::to_string(::getuid());
}

void mkdir_p(const std::string &dir) {
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i == dir.size() || dir[i] == '/') {
            std::string part = dir.substr(0, i);
            if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
                throw Error(NH_EIO, "cannot create state directory '" + part + "': " + std::strerror(errno));
        }
    }
}

std::string hex64(uint64_t v) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

bool under(std::string_view path, std::string_view dir) {
    return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

}  // namespace

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
    int wake_fd = -1;
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
    bool use_zstd = false;
    ZSTD_CCtx *cctx = nullptr;
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
    std::unordered_map<std::string, uint64_t> pending_seq;  // path -> seq of the last op on it

    // The file being streamed out.
    struct OutStream {
        int fd = -1;
        uint64_t seq = 0;
        uint64_t off = 0;
        local::Entry e;
    } out;
    // A file being received (two-way).
    std::optional<ConfinedTree::PendingFile> in;
    bool in_skip = false;

    Clock::time_point last_progress = Clock::now();
    State last_state = State::Starting;

    explicit Impl(ClientOptions o, EventFn fn) : opt(std::move(o)), on_event(std::move(fn)) {}

    ~Impl() {
        if (wake_fd >= 0) ::close(wake_fd);
        if (cctx) ZSTD_freeCCtx(cctx);
        if (dctx) ZSTD_freeDCtx(dctx);
    }

    void wake() {
        uint64_t one = 1;
        ssize_t n = ::write(wake_fd, &one, sizeof one);
        (void)n;
    }

    // ---- events and status ----
    Status snapshot() {
        std::lock_guard l(mu);
        return status;
    }

    void emit(EventType type, std::string path = {}, std::string detail = {}, int code = 0) {
        if (!on_event) return;
        Event ev;
        ev.type = type;
        ev.path = std::move(path);
        ev.detail = std::move(detail);
        ev.code = code;
        ev.status = snapshot();
        try {
            on_event(ev);
        } catch (...) {
        }
    }

    State compute_state() {
        if (fatal_code) return State::Error;
        if (paused) return State::Paused;
        if (conn == Conn::Down) return status.reconnects || epoch ? State::Disconnected : State::Connecting;
        if (conn == Conn::Handshake) return State::Connecting;
        if (conn == Conn::Manifest || !queue.empty() || !inflight.empty() || out.fd >= 0 || uncommitted) return State::Syncing;
        return State::Idle;
    }

    void publish(bool force_progress = false) {
        State s = compute_state();
        bool state_changed;
        bool progress = false;
        {
            std::lock_guard l(mu);
            state_changed = s != status.state;
            status.state = s;
            if (s == State::Idle && status.files_done == status.files_total) {
                // a round is complete; the next change starts a new one
            }
            epoch_pub = epoch;
            acked_pub = acked;
            live_pub = conn == Conn::Live && !paused;
            auto now = Clock::now();
            if (s == State::Syncing && (force_progress || now - last_progress > std::chrono::milliseconds(100))) {
                last_progress = now;
                progress = true;
            }
        }
        cv.notify_all();
        if (state_changed) {
            if (s == State::Idle) {
                log::debug("sync: idle");
                release_pending = true;  // done by the loop, where nothing holds on to the view
            }
            emit(EventType::State);
        }
        if (progress) emit(EventType::Progress);
    }

    // Idle: what a round of syncing grew (buffers, queues) goes back to the
    // system, so watching a large tree costs little memory.
    void release_memory() {
        if (wpos >= wbuf.size() && wbuf.capacity() > (64u << 10)) {
            std::string().swap(wbuf);
            wpos = 0;
        }
        if (rpos >= rbuf.size() && rbuf.capacity() > (64u << 10)) {
            std::string().swap(rbuf);
            rpos = 0;
        }
        if (queue.empty()) std::deque<Op>().swap(queue);
        if (inflight.empty()) std::deque<Inflight>().swap(inflight);
        if (queued_files.empty()) decltype(queued_files)().swap(queued_files);
        if (pending_seq.empty()) decltype(pending_seq)().swap(pending_seq);
        compact_view();
        ::malloc_trim(0);
    }

    // After a large round the view's nodes sit scattered between the pages the round's
    // temporaries used, and the allocator cannot give those pages back. Saving the view,
    // freeing it whole and loading it again packs it: a 100k-file tree then keeps about the
    // view's own size resident instead of the round's peak.
    uint64_t compacted_at_seq = 0;
    bool release_pending = false;
    void compact_view() {
        if (state_file.empty() || view.size() < 10000 || last_seq - compacted_at_seq < view.size() / 2) return;
        compacted_at_seq = last_seq;
        bool cleared = false;
        try {
            view_dirty = true;
            save_view();
            if (view_dirty) return;  // not saved: keep what we have
            uint64_t digest = view.digest();
            size_t n = view.size();
            view.clear();
            cleared = true;
            ::malloc_trim(0);
            view = TrackedIndex::load(state_file);
            take_unacked_deletes();
            if (view.digest() != digest || view.size() != n)
                throw Error(NH_EIO, "the index read back differs from the one saved");
        } catch (const std::exception &e) {
            log::warn(std::string("sync: cannot compact the index: ") + e.what());
            if (cleared) {
                // The view is the base of every comparison: reconnecting compares the whole
                // tree with the server's manifest again, which rebuilds it.
                view.clear();
                view_dirty = true;
                disconnect(NH_EIO, "the index was lost while compacting it");
            }
        }
    }

    void file_error(const std::string &path, int code, const std::string &msg) {
        {
            std::lock_guard l(mu);
            status.file_errors++;
        }
        log::warn("sync: '" + proto::loggable(path) + "': " + proto::loggable(msg));
        emit(EventType::FileError, path, msg, code);
    }

    // ---- the view and its persistence ----
    void load_view(const std::string &id) {
        if (id == server_id) return;
        server_id = id;
        std::string dir = opt.state_dir.empty() ? default_state_dir() : opt.state_dir;
        mkdir_p(dir);
        char real[PATH_MAX];
        std::string abs = ::realpath(root.c_str(), real) ? std::string(real) : root;
        std::string safe_id;
        for (char c : id) safe_id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
        state_file = dir + "/" + hex64(proto::fnv1a(abs)) + "-" + safe_id + ".index";
        view = TrackedIndex::load(state_file);
        unacked_deletes.clear();
        take_unacked_deletes();
        view_dirty = false;
    }

    // Moves the records saved as unacknowledged deletes out of a freshly loaded view (those
    // still known here, with the seq whose ACK settles them, stay as they are).
    void take_unacked_deletes() {
        std::vector<TrackedIndex::Record> found;
        for (auto &[p, rec] : view.records())
            if (!rec.synced_state.empty() && rec.synced_state[0] == kUnackedDelete) found.push_back(rec);
        for (auto &rec : found) {
            std::string path = rec.entry.path;
            view.erase(path);
            rec.synced_state.erase(0, 1);
            unacked_deletes.try_emplace(std::move(path), UnackedDelete{std::move(rec), 0});  // a live one keeps its seq
        }
    }

    // Remembers what deleting path (and, if recursive, everything below it) removes from the view.
    void remember_delete(const std::string &path, bool recursive, uint64_t seq) {
        if (recursive) {
            for (auto &rec : view.subtree(path)) unacked_deletes.insert_or_assign(rec.entry.path, UnackedDelete{rec, seq});
        } else if (auto *r = view.find(path)) {
            unacked_deletes.insert_or_assign(path, UnackedDelete{*r, seq});
        }
    }

    void save_view() {
        if (!view_dirty || state_file.empty()) return;
        // Unacknowledged deletes go into the file too, so a restart still knows them; they
        // are in the view only while it is written (put and erase leave its digest exact).
        std::vector<std::string> added;
        for (auto &[p, d] : unacked_deletes) {
            if (view.find(p)) continue;
            view.put(d.rec.entry, kUnackedDelete + d.rec.synced_state);
            added.push_back(p);
        }
        try {
            view.save(state_file);
            view_dirty = false;
            last_save = Clock::now();
        } catch (const std::exception &e) {
            log::warn(std::string("sync: cannot save the index: ") + e.what());
        }
        for (auto &p : added) view.erase(p);
    }

    // ---- connection ----
    void disconnect(int code, const std::string &why) {
        if (sock >= 0) ::close(sock);
        bool was_live = conn != Conn::Down;
        sock = -1;
        conn = Conn::Down;
        wbuf.clear();
        wpos = 0;
        rbuf.clear();
        rpos = 0;
        queue.clear();
        queued_files.clear();
        inflight.clear();
        // What was not acknowledged is gone with the connection: reconciling on the next one
        // sends again what is still needed, under new seqs. A flush waits for those, not for
        // the lost ones (which would never be acknowledged if nothing needs sending again).
        acked = last_seq;
        uncommitted = false;
        if (out.fd >= 0) ::close(out.fd);
        out = OutStream{};
        if (in) tree->abort_file(*in);
        in.reset();
        in_skip = false;
        ++epoch;
        {
            std::lock_guard l(mu);
            if (was_live) status.reconnects++;
            status.error_code = code;
            status.error = why;
        }
        backoff_ms = backoff_ms ? std::min(backoff_ms * 2, opt.max_backoff_ms) : 50;
        next_connect = Clock::now() + std::chrono::milliseconds(backoff_ms);
        log::info("sync: disconnected: " + proto::loggable(why));
        save_view();
        // Each connection lost or refused is reported with why and when the next try is (a
        // pause's own disconnect, code 0, and a fatal error are not tried again).
        State s = compute_state();
        if (code != 0 && s == State::Disconnected) {
            {
                std::lock_guard l(mu);
                status.state = s;
            }
            emit(EventType::State, {}, why + "; next try in " + std::to_string(backoff_ms) + " ms");
        }
    }

    void fatal(int code, const std::string &why) {
        {
            std::lock_guard l(mu);
            fatal_code = code;
        }
        disconnect(code, why);
        std::lock_guard l(mu);
        status.error_code = code;
        status.error = why;
    }

    void try_connect() {
        try {
            sock = net::connect_tcp(net::parse_host_port(opt.address), opt.connect_timeout_ms);
        } catch (const Error &e) {
            disconnect(e.code(), e.what());
            return;
        }
        bool zstd = opt.compression == Compression::On ||
                    (opt.compression == Compression::Auto && !net::is_loopback_peer(sock));
        int buf = 4 << 20;
        ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        net::set_nonblocking(sock, true);
        conn = Conn::Handshake;
        handshake_deadline = Clock::now() + std::chrono::milliseconds(4 * static_cast<long>(opt.connect_timeout_ms));
        proto::Writer w(wbuf);
        w.begin(Msg::Hello);
        for (char c : proto::kMagic) w.u8(static_cast<uint8_t>(c));
        w.varint(proto::kVersion);
        w.str(opt.token);
        w.u8(opt.mode == SyncMode::TwoWay ? 1 : 0);
        w.varint(zstd ? uint64_t{proto::kFeatureZstd} : uint64_t{0});
        w.finish();
    }

    // ---- planning ----
    Expect expect_of(std::string_view path) const {
        Expect x;
        auto *r = view.find(path);
        if (!r) {
            x.kind = Expect::Kind::Absent;
        } else if (r->synced_state == kConfirmed || r->synced_state == kRemoteOnly) {
            x.kind = Expect::Kind::Is;
            x.entry = r->entry;
        }
        return x;  // pending: unknown
    }

    void enqueue(Op op) {
        op.seq = next_seq++;
        last_seq = op.seq;
        const std::string &path = op.e.path;
        if (op.kind == Op::Delete) {
            remember_delete(path, op.recursive, op.seq);
            if (op.recursive)
                view.erase_tree(path);
            else
                view.erase(path);
            pending_seq.erase(path);
        } else if (op.kind == Op::Rename) {
            remember_delete(op.from, true, op.seq);
            view.move_tree(op.from, path);
            view.put(op.e, kPending);
            unacked_deletes.erase(path);
        } else {
            view.put(op.e, kPending);
            unacked_deletes.erase(path);
        }
        pending_seq[path] = op.seq;
        view_dirty = true;
        if (op.kind == Op::File) {
            std::lock_guard l(mu);
            status.files_total++;
            status.bytes_total += op.e.size;
        }
        queue.push_back(std::move(op));
    }

    // Pushes l (a local entry) to the server.
    void push_upsert(const local::Entry &l, bool force = false) {
        Expect x = expect_of(l.path);
        auto *r = view.find(l.path);
        Op op{};
        op.e = l;
        op.expect = x;
        if (l.type == Type::Dir) {
            op.kind = Op::Dir;
        } else if (l.type == Type::Symlink) {
            op.kind = Op::Link;
        } else if (!force && r && r->entry.type == Type::File && r->synced_state == kConfirmed && r->entry.size == l.size &&
                   r->entry.mtime_ns == l.mtime_ns) {
            op.kind = Op::Meta;
        } else {
            if (auto it = queued_files.find(l.path); it != queued_files.end()) {
                view.put(l, kPending);  // the queued op reads the newest content anyway
                return;
            }
            op.kind = Op::File;
        }
        if (r && r->entry.type == Type::Dir && l.type != Type::Dir) view.erase_tree(l.path);
        enqueue(std::move(op));
        if (queue.back().kind == Op::File) queued_files[l.path] = queue.back().seq;
    }

    void push_delete(const std::string &path) {
        auto recs = view.subtree(path);
        if (recs.empty()) return;
        if (opt.mode == SyncMode::Send) {
            Op op{};
            op.kind = Op::Delete;
            op.e.path = path;
            op.expect = expect_of(path);
            op.recursive = true;
            enqueue(std::move(op));
            return;
        }
        for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
            if (it->synced_state == kRemoteOnly) continue;
            Op op{};
            op.kind = Op::Delete;
            op.e.path = it->entry.path;
            op.expect = expect_of(it->entry.path);
            op.recursive = false;
            enqueue(std::move(op));
        }
    }

    // Carries out a plan: renames detected between removed and new entries,
    // then deletes, then upserts in path order (parents first).
    void execute(std::vector<std::string> removed, std::vector<local::Entry> upserts, bool force = false) {
        // Renames are recognised by inode only for directories: a file's
        // inode is reused at once and coarse mtimes make size+mtime collide,
        // so a file "rename" could carry another file's content. A moved
        // directory's children are compared one by one afterwards anyway.
        std::sort(removed.begin(), removed.end());
        if (!removed.empty() && !upserts.empty()) {
            std::unordered_map<uint64_t, std::string> by_ino;
            for (auto &p : removed)
                if (auto *r = view.find(p); r && r->entry.ino && r->synced_state == kConfirmed) by_ino[r->entry.ino] = p;
            std::sort(upserts.begin(), upserts.end(), [](auto &a, auto &b) { return a.path < b.path; });
            for (auto &u : upserts) {
                if (view.find(u.path)) continue;
                auto it = by_ino.find(u.ino);
                if (it == by_ino.end()) continue;
                auto *r = view.find(it->second);
                if (!r || r->entry.type != u.type) continue;
                if (u.type != Type::Dir) continue;
                if (under(u.path, it->second)) continue;
                // An inode can be reused at once by an unrelated new directory: only a target
                // whose parent the server already has as a directory can take the rename (the
                // children are compared one by one afterwards anyway).
                if (auto slash = u.path.rfind('/'); slash != std::string::npos) {
                    auto *parent = view.find(std::string_view(u.path).substr(0, slash));
                    if (!parent || parent->entry.type != Type::Dir || parent->synced_state != kConfirmed ||
                        std::binary_search(removed.begin(), removed.end(), parent->entry.path))
                        continue;
                }
                Op op{};
                op.kind = Op::Rename;
                op.from = it->second;
                op.e = u;
                op.expect = expect_of(it->second);
                enqueue(std::move(op));
                by_ino.erase(it);
            }
        }
        std::string last_top;
        for (auto &p : removed) {
            if (!last_top.empty() && under(p, last_top) && opt.mode == SyncMode::Send) continue;
            if (!view.find(p)) continue;
            push_delete(p);
            last_top = p;
        }
        std::sort(upserts.begin(), upserts.end(), [](auto &a, auto &b) { return a.path < b.path; });
        for (auto &u : upserts) {
            auto *r = view.find(u.path);
            if (!force && r && r->synced_state != kRemoteOnly && proto::same_remote(r->entry, u)) {
                if (r->entry.ino != u.ino) view.put(u, r->synced_state);
                continue;
            }
            push_upsert(u, force);
        }
    }

    std::vector<local::Entry> scan_local() {
        {
            std::lock_guard l(mu);
            status.state = State::Scanning;
        }
        auto t0 = Clock::now();
        auto v = local::scan(root, rules);
        log::debug("sync: scanned " + std::to_string(v.size()) + " entries in " +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()) + " ms");
        return v;
    }

    // Compares the whole local tree with the view (no remote changes known).
    void full_local_diff() {
        need_full = false;
        auto local = scan_local();
        std::vector<std::string> removed;
        std::vector<local::Entry> upserts;
        auto &recs = view.records();
        auto it = recs.begin();
        auto view_only = [&](const TrackedIndex::Record &r) {
            if (r.synced_state == kRemoteOnly) return;
            if (rules.ignored(r.entry.path, r.entry.type == Type::Dir)) {
                removed_ignored.push_back(r.entry);
                return;
            }
            removed.push_back(r.entry.path);
        };
        for (auto &l : local) {
            while (it != recs.end() && it->first < l.path) view_only((it++)->second);
            if (it != recs.end() && it->first == l.path) {
                auto &r = it->second;
                ++it;
                if (r.synced_state != kRemoteOnly && proto::same_remote(r.entry, l)) {
                    if (r.entry.ino != l.ino) view.put(l, r.synced_state);
                    continue;
                }
            }
            upserts.push_back(l);
        }
        while (it != recs.end()) view_only((it++)->second);
        for (auto &e : removed_ignored) view.put(e, kRemoteOnly);
        removed_ignored.clear();
        execute(std::move(removed), std::move(upserts));
    }
    std::vector<local::Entry> removed_ignored;

    // Three-way reconciliation after connecting: local tree, the view (the
    // base: what we last knew the server had) and the server's manifest.
    void reconcile(const std::vector<local::Entry> &remote) {
        auto local = scan_local();
        TrackedIndex base = std::move(view);
        view.clear();
        auto unacked = std::move(unacked_deletes);
        unacked_deletes.clear();
        std::vector<std::string> removed;
        std::vector<local::Entry> upserts;
        std::vector<std::string> fetch;
        std::vector<local::Entry> local_apply;   // dirs and symlinks taken from the server
        std::vector<std::string> local_delete;   // deleted on the server, unchanged here
        bool two_way = opt.mode == SyncMode::TwoWay;
        size_t i = 0, j = 0;
        std::string deleted_top;
        while (i < local.size() || j < remote.size()) {
            const local::Entry *l = nullptr, *m = nullptr;
            int c = i == local.size() ? 1 : j == remote.size() ? -1 : local[i].path.compare(remote[j].path);
            if (c <= 0) l = &local[i++];
            if (c >= 0) m = &remote[j++];
            const std::string &p = l ? l->path : m->path;
            auto *b = base.find(p);
            if (!b && !l) {
                // Deleted here while the connection died: the server may not have seen it.
                if (auto it = unacked.find(p); it != unacked.end()) b = &it->second.rec;
            }
            bool b_ok = b && b->synced_state != kRemoteOnly;
            bool b_confirmed = b && b->synced_state == kConfirmed;
            if (l && m && proto::same_remote(*l, *m)) {
                view.put(*l, kConfirmed);
                continue;
            }
            if (!l) {  // only on the server
                if (!deleted_top.empty() && under(p, deleted_top)) continue;
                if (rules.ignored(p, m->type == Type::Dir)) {
                    view.put(*m, kRemoteOnly);
                    continue;
                }
                bool remote_changed = b_confirmed && !proto::same_remote(b->entry, *m);
                if (b_ok && !(two_way && remote_changed)) {
                    view.put(*m, kConfirmed);
                    removed.push_back(p);
                    if (!two_way && m->type == Type::Dir) deleted_top = p;
                } else if (two_way) {
                    if (m->type == Type::File) {
                        fetch.push_back(p);
                    } else {
                        local_apply.push_back(*m);
                    }
                } else {
                    view.put(*m, kRemoteOnly);
                    log::debug("sync: keeping '" + proto::loggable(p) + "', which exists only on the server");
                }
                continue;
            }
            if (!m) {  // only here
                bool local_changed = !(b && proto::same_remote(b->entry, *l));
                if (two_way && b_confirmed && !local_changed && opt.delete_protection) {
                    emit(EventType::RemoteChange, p, "deleted on the server; kept here and sent back (delete protection)");
                    upserts.push_back(*l);
                    continue;
                }
                if (two_way && b_confirmed && !local_changed) {
                    local_delete.push_back(p);
                    view.put(*l, kConfirmed);
                    continue;
                }
                upserts.push_back(*l);
                continue;
            }
            // on both sides, different
            bool local_changed = !(b && proto::same_remote(b->entry, *l));
            bool remote_changed = b_confirmed && !proto::same_remote(b->entry, *m);
            if (!b) remote_changed = true;
            if (two_way && remote_changed && !local_changed) {
                view.put(*l, kConfirmed);  // so that the incoming version is accepted
                if (m->type == Type::File)
                    fetch.push_back(p);
                else
                    local_apply.push_back(*m);
                continue;
            }
            // Push ours. The expectation is the base, so the server sees (and
            // reports, or in two-way keeps a copy of) a change we have not seen.
            if (b && b_confirmed)
                view.put(b->entry, kConfirmed);
            else if (b && !remote_changed)
                view.put(*m, kConfirmed);
            else if (!b)
                ;  // expect absent
            else
                view.put(*m, kPending);
            upserts.push_back(*l);
        }
        // Save only when something changed: a warm restart with nothing to do
        // writes nothing.
        uint64_t seq_before = last_seq;
        bool had_pending = !unacked.empty();
        for (auto &[p, rec] : base.records())
            if (rec.synced_state != kConfirmed) {
                had_pending = true;
                break;
            }
        for (auto &p : local_delete) apply_remote_delete(p);
        for (auto &e : local_apply) apply_remote_entry(e);
        execute(std::move(removed), std::move(upserts), true);
        if (had_pending || last_seq != seq_before || base.digest() != view.digest() || base.size() != view.size() ||
            !fetch.empty() || state_file.empty())
            view_dirty = true;
        local.clear();
        local.shrink_to_fit();
        ::malloc_trim(0);  // the scans' peak need not stay resident while watching
        for (auto &p : fetch) {
            proto::Writer w(wbuf);
            w.begin(Msg::Fetch);
            w.str(p);
            w.finish();
        }
    }

    // ---- applying the server's changes locally (two-way) ----
    bool local_unchanged(std::string_view path) {
        auto l = tree->stat(path);
        auto *r = view.find(path);
        if (!l) return !r || r->synced_state == kRemoteOnly;
        return r && r->synced_state == kConfirmed && proto::same_remote(r->entry, *l);
    }

    void apply_remote_entry(const local::Entry &m) {
        try {
            if (!local_unchanged(m.path)) return;  // ours wins; the server keeps its copy
            local::Entry res;
            if (m.type == Type::Dir) {
                res = tree->make_dir(m.path, m.mode);
            } else if (m.type == Type::Symlink) {
                auto why = proto::check_link_target(m.path, m.link_target);
                if (!why.empty()) {
                    file_error(m.path, NH_EPROTOCOL, "refused symlink from the server: " + why);
                    return;
                }
                res = tree->make_symlink(m.path, m.link_target);
            } else {
                return;
            }
            view.erase_tree(m.path);
            view.put(res, kConfirmed);
            view_dirty = true;
            emit(EventType::RemoteChange, m.path, "applied");
        } catch (const Error &e) {
            file_error(m.path, e.code(), e.what());
        }
    }

    void apply_remote_delete(const std::string &path) {
        try {
            auto recs = view.subtree(path);
            bool all = true;
            for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
                auto &p = it->entry.path;
                auto l = tree->stat(p);
                if (!l) {
                    view.erase(p);
                    continue;
                }
                if (it->synced_state == kConfirmed && proto::same_remote(it->entry, *l) && tree->remove(p, false)) {
                    view.erase(p);
                } else {
                    all = false;
                }
            }
            if (!all) need_full = true;  // what is left here goes back to the server
            view_dirty = true;
            emit(EventType::RemoteChange, path, "deleted");
        } catch (const Error &e) {
            file_error(path, e.code(), e.what());
        }
    }

    std::string decode(proto::Reader &r, size_t max_raw) {
        auto enc = static_cast<proto::Encoding>(r.u8());
        uint64_t raw_len = r.varint();
        auto data = r.rest();
        if (raw_len > max_raw) throw proto::ProtocolError("data block too large");
        if (enc == proto::Encoding::Raw) {
            if (data.size() != raw_len) throw proto::ProtocolError("data length mismatch");
            return std::string(data);
        }
        if (enc != proto::Encoding::Zstd) throw proto::ProtocolError("unknown encoding");
        std::string out_(raw_len, '\0');
        size_t n = ZSTD_decompressDCtx(dctx, out_.data(), out_.size(), data.data(), data.size());
        if (ZSTD_isError(n) || n != raw_len) throw proto::ProtocolError("corrupt compressed data");
        return out_;
    }

    void handle_remote_op(const proto::Frame &fr) {
        proto::Reader r(fr.payload);
        if (opt.mode != SyncMode::TwoWay && fr.type != Msg::Delete) {
            // A send-mode client never asks for content; ignore what comes.
        }
        if (fr.type == Msg::FileData) {
            r.varint();
            std::string data = decode(r, proto::kChunk);
            if (in) tree->write(*in, data);
            return;
        }
        if (fr.type == Msg::FileEnd) {
            r.varint();
            int64_t mtime = r.svarint();
            if (in) {
                std::string path = in->path;
                auto res = tree->commit_file(*in, mtime);
                in.reset();
                view.put(res, kConfirmed);
                view_dirty = true;
                emit(EventType::RemoteChange, path, "updated");
            }
            in_skip = false;
            return;
        }
        r.varint();  // seq
        std::string path(r.str(proto::kMaxPath));
        auto why = proto::check_path(path);
        if (!why.empty()) throw proto::ProtocolError("server sent a bad path: " + why);
        if (opt.mode != SyncMode::TwoWay) return;
        try {
            switch (fr.type) {
            case Msg::Mkdir: {
                local::Entry m;
                m.path = path;
                m.type = Type::Dir;
                m.mode = static_cast<uint32_t>(r.varint() & 0777);
                apply_remote_entry(m);
                break;
            }
            case Msg::Symlink: {
                local::Entry m;
                m.path = path;
                m.type = Type::Symlink;
                m.link_target = std::string(r.str(proto::kMaxPath));
                apply_remote_entry(m);
                break;
            }
            case Msg::Delete:
                if (opt.delete_protection) {
                    // Forget what we knew of it, so the next pass sends the local copy back.
                    if (view.find(path)) {
                        view.erase_tree(path);
                        view_dirty = true;
                        need_full = true;
                        emit(EventType::RemoteChange, path,
                             "deleted on the server; kept here and sent back (delete protection)");
                    }
                    break;
                }
                if (local_unchanged(path) || view.find(path)) apply_remote_delete(path);
                break;
            case Msg::File: {
                uint32_t mode = static_cast<uint32_t>(r.varint() & 0777);
                int64_t mtime = r.svarint();
                r.expect();
                std::string data = decode(r, proto::kInlineMax);
                if (!local_unchanged(path)) break;
                auto f = tree->begin_file(path, mode);
                try {
                    tree->write(f, data);
                } catch (...) {
                    tree->abort_file(f);
                    throw;
                }
                auto res = tree->commit_file(f, mtime);
                view.erase_tree(path);
                view.put(res, kConfirmed);
                view_dirty = true;
                emit(EventType::RemoteChange, path, "updated");
                break;
            }
            case Msg::FileBegin: {
                uint32_t mode = static_cast<uint32_t>(r.varint() & 0777);
                if (!local_unchanged(path)) {
                    in_skip = true;
                    break;
                }
                in = tree->begin_file(path, mode);
                break;
            }
            default:
                break;
            }
        } catch (const Error &e) {
            if (in) tree->abort_file(*in);
            in.reset();
            file_error(path, e.code(), e.what());
        }
    }

    // ---- input ----
    void handle_frame(const proto::Frame &fr) {
        proto::Reader r(fr.payload);
        switch (fr.type) {
        case Msg::Error: {
            int code = static_cast<int>(r.svarint());
            std::string msg(r.str());
            if (code == NH_EUNAUTHORIZED || code == NH_EUNSUPPORTED)
                throw Error(code, "the sync server refused us: " + msg);
            throw Error(code ? code : NH_EPROTOCOL, "the sync server reported: " + msg);
        }
        case Msg::Welcome: {
            if (conn != Conn::Handshake) throw proto::ProtocolError("unexpected WELCOME");
            r.varint();
            std::string id(r.str(256));
            welcome_digest = r.u64le();
            r.varint();
            use_zstd = (r.varint() & proto::kFeatureZstd) != 0;
            backoff_ms = 0;
            load_view(id);
            {
                std::lock_guard l(mu);
                status.error_code = 0;
                status.error.clear();
            }
            bool pending = false;
            for (auto &[p, rec] : view.records())
                if (rec.synced_state == kPending) {
                    pending = true;
                    break;
                }
            log::info("sync: connected to " + opt.address);
            if (view.digest() == welcome_digest && view.size()) {
                if (pending)
                    for (auto &[p, rec] : std::vector<std::pair<std::string, local::Entry>>{}) (void)p, (void)rec;
                std::vector<local::Entry> remote;
                remote.reserve(view.size());
                for (auto &[p, rec] : view.records()) remote.push_back(rec.entry);
                for (auto &e : remote) view.set_state(e.path, view.find(e.path)->synced_state == kRemoteOnly ? kRemoteOnly : kConfirmed);
                conn = Conn::Live;
                reconcile(remote);
                finish_initial();
            } else {
                manifest.clear();
                proto::Writer w(wbuf);
                w.begin(Msg::ManifestReq);
                w.finish();
                conn = Conn::Manifest;
            }
            return;
        }
        case Msg::Manifest: {
            if (conn != Conn::Manifest) throw proto::ProtocolError("unexpected MANIFEST");
            uint64_t n = r.varint();
            for (uint64_t k = 0; k < n; ++k) manifest.push_back(r.entry());
            r.done();
            return;
        }
        case Msg::ManifestEnd: {
            if (conn != Conn::Manifest) throw proto::ProtocolError("unexpected MANIFEST_END");
            conn = Conn::Live;
            std::sort(manifest.begin(), manifest.end(), [](auto &a, auto &b) { return a.path < b.path; });
            reconcile(manifest);
            manifest.clear();
            manifest.shrink_to_fit();
            finish_initial();
            return;
        }
        case Msg::Ack: {
            uint64_t seq = r.varint();
            on_ack(seq);
            return;
        }
        case Msg::Nack: {
            uint64_t seq = r.varint();
            std::string path(r.str());
            int code = static_cast<int>(r.svarint());
            std::string msg(r.str());
            (void)seq;
            file_error(path, code ? code : NH_EIO, "the server refused it: " + msg);
            return;
        }
        case Msg::Notice: {
            auto kind = static_cast<proto::NoticeKind>(r.u8());
            std::string path(r.str());
            std::string detail(r.str());
            if (kind == proto::NoticeKind::Conflict) {
                {
                    std::lock_guard l(mu);
                    status.conflicts++;
                }
                log::warn("sync: conflict on '" + proto::loggable(path) + "': the server's version is kept as '" +
                          proto::loggable(detail) + "'");
                emit(EventType::Conflict, path, detail);
            } else if (kind == proto::NoticeKind::RemoteOverwritten) {
                emit(EventType::RemoteChange, path, "a change made on the server was overwritten");
            } else if (kind == proto::NoticeKind::DeleteSkipped) {
                emit(EventType::RemoteChange, path, "delete skipped: the server changed it");
            } else if (kind == proto::NoticeKind::Unreadable) {
                emit(EventType::RemoteChange, path, "the sync server cannot read it and leaves it out: " + detail);
            }
            return;
        }
        case Msg::Mkdir:
        case Msg::File:
        case Msg::FileBegin:
        case Msg::FileData:
        case Msg::FileEnd:
        case Msg::Symlink:
        case Msg::Delete:
            if (conn != Conn::Live) throw proto::ProtocolError("operation before the manifest");
            if (paused) {
                if (in) tree->abort_file(*in);
                in.reset();
                return;  // reconciled on resume
            }
            handle_remote_op(fr);
            return;
        default:
            throw proto::ProtocolError("unexpected message " + proto::msg_name(fr.type));
        }
    }

    void finish_initial() {
        if (need_full) full_local_diff();
        // Answer flushes waiting for the connection.
        resolve_flushes();
    }

    void on_ack(uint64_t seq) {
        if (seq > acked) acked = seq;
        uint64_t files = 0, bytes = 0;
        while (!inflight.empty() && inflight.front().seq <= seq) {
            auto &f = inflight.front();
            auto it = pending_seq.find(f.path);
            if (it != pending_seq.end() && it->second <= seq) {
                auto *r = view.find(f.path);
                if (r && r->synced_state == kPending) view.set_state(f.path, kConfirmed);
                pending_seq.erase(it);
            }
            if (f.file) {
                ++files;
                bytes += f.bytes;
            }
            inflight.pop_front();
        }
        std::erase_if(unacked_deletes, [seq](const auto &kv) { return kv.second.seq <= seq; });
        // Ops never sent (skipped) are covered too.
        for (auto it = pending_seq.begin(); it != pending_seq.end();) {
            if (it->second <= seq && queued_files.find(it->first) == queued_files.end()) {
                bool still_queued = false;
                if (!still_queued) {
                    if (auto *r = view.find(it->first); r && r->synced_state == kPending) view.set_state(it->first, kConfirmed);
                }
                it = pending_seq.erase(it);
            } else {
                ++it;
            }
        }
        view_dirty = true;
        std::lock_guard l(mu);
        status.files_done += files;
        status.bytes_done += bytes;
        status.files_synced += files;
        if (status.files_done > status.files_total) status.files_total = status.files_done;
        if (inflight.empty() && queue.empty()) {
            status.files_done = status.files_total = 0;
            status.bytes_done = status.bytes_total = 0;
        }
    }

    void read_socket() {
        for (;;) {
            size_t old = rbuf.size();
            size_t want = 1u << 20;
            rbuf.resize(old + want);
            ssize_t n = ::recv(sock, rbuf.data() + old, want, 0);
            if (n <= 0) {
                rbuf.resize(old);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
                throw Error(NH_ECONNECT, n == 0 ? "the sync server closed the connection" : std::string("receive failed: ") + std::strerror(errno));
            }
            rbuf.resize(old + static_cast<size_t>(n));
            proto::Frame fr;
            for (;;) {
                size_t used = proto::parse_frame(std::string_view(rbuf).substr(rpos), proto::kMaxFrame, fr);
                if (!used) break;
                handle_frame(fr);
                rpos += used;
                if (sock < 0) return;
            }
            if (rpos == rbuf.size()) {
                rbuf.clear();
                rpos = 0;
            } else if (rpos > (4u << 20)) {
                rbuf.erase(0, rpos);
                rpos = 0;
            }
            if (static_cast<size_t>(n) < want) break;
        }
    }

    // ---- output ----
    void put_data(Msg type, uint64_t seq, std::string_view data, proto::Writer &w) {
        (void)type;
        if (use_zstd && data.size() >= 512) {
            std::string z(ZSTD_compressBound(data.size()), '\0');
            size_t n = ZSTD_compressCCtx(cctx, z.data(), z.size(), data.data(), data.size(), 1);
            if (!ZSTD_isError(n) && n < data.size() - data.size() / 10) {
                w.u8(static_cast<uint8_t>(proto::Encoding::Zstd));
                w.varint(data.size());
                w.raw(std::string_view(z.data(), n));
                return;
            }
        }
        (void)seq;
        w.u8(static_cast<uint8_t>(proto::Encoding::Raw));
        w.varint(data.size());
        w.raw(data);
    }

    void write_commit() {
        proto::Writer w(wbuf);
        w.begin(Msg::Commit);
        w.varint(last_produced);
        w.finish();
        uncommitted = false;
        ops_since_commit = 0;
        bytes_since_commit = 0;
    }

    // Encodes the next op (or part of a streamed file) into wbuf.
    void produce_one() {
        proto::Writer w(wbuf);
        if (out.fd >= 0) {
            std::string chunk(proto::kChunk, '\0');
            ssize_t n = ::pread(out.fd, chunk.data(), chunk.size(), static_cast<off_t>(out.off));
            if (n > 0) {
                out.off += static_cast<uint64_t>(n);
                w.begin(Msg::FileData);
                w.varint(out.seq);
                put_data(Msg::FileData, out.seq, std::string_view(chunk.data(), static_cast<size_t>(n)), w);
                w.finish();
                bytes_since_commit += static_cast<uint64_t>(n);
                return;
            }
            ::close(out.fd);
            out.fd = -1;
            w.begin(Msg::FileEnd);
            w.varint(out.seq);
            w.svarint(out.e.mtime_ns);
            w.finish();
            return;
        }
        Op op = std::move(queue.front());
        queue.pop_front();
        last_produced = op.seq;
        uncommitted = true;
        const std::string &path = op.e.path;
        uint64_t bytes = 0;
        bool is_file = false;
        switch (op.kind) {
        case Op::File: {
            queued_files.erase(path);
            int fd = tree->open_read(path);
            struct stat st;
            if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                if (fd >= 0) ::close(fd);
                if (errno == EACCES) file_error(path, NH_EIO, "cannot read it: permission denied");
                return;  // gone or changed type: the watcher reports it
            }
            local::Entry e = entry_from_stat(path, st);
            view.put(e, kPending);
            is_file = true;
            bytes = e.size;
            if (e.size <= proto::kInlineMax) {
                std::string data(e.size, '\0');
                ssize_t n = ::pread(fd, data.data(), data.size(), 0);
                ::close(fd);
                data.resize(n > 0 ? static_cast<size_t>(n) : 0);
                w.begin(Msg::File);
                w.varint(op.seq);
                w.str(path);
                w.varint(e.mode & 0777);
                w.svarint(e.mtime_ns);
                w.expect(op.expect);
                put_data(Msg::File, op.seq, data, w);
                w.finish();
            } else {
                w.begin(Msg::FileBegin);
                w.varint(op.seq);
                w.str(path);
                w.varint(e.mode & 0777);
                w.expect(op.expect);
                w.finish();
                out.fd = fd;
                out.seq = op.seq;
                out.off = 0;
                out.e = e;
            }
            break;
        }
        case Op::Dir:
            w.begin(Msg::Mkdir);
            w.varint(op.seq);
            w.str(path);
            w.varint(op.e.mode);
            w.expect(op.expect);
            w.finish();
            break;
        case Op::Link:
            w.begin(Msg::Symlink);
            w.varint(op.seq);
            w.str(path);
            w.str(op.e.link_target);
            w.expect(op.expect);
            w.finish();
            break;
        case Op::Delete:
            w.begin(Msg::Delete);
            w.varint(op.seq);
            w.str(path);
            w.u8(op.recursive ? 1 : 0);
            w.expect(op.expect);
            w.finish();
            break;
        case Op::Rename:
            w.begin(Msg::Rename);
            w.varint(op.seq);
            w.str(op.from);
            w.str(path);
            w.expect(op.expect);
            w.finish();
            break;
        case Op::Meta:
            w.begin(Msg::Meta);
            w.varint(op.seq);
            w.str(path);
            w.varint(op.e.mode);
            w.svarint(op.e.mtime_ns);
            w.expect(op.expect);
            w.finish();
            break;
        }
        inflight.push_back({op.seq, path, bytes, is_file});
        uncommitted = true;
        ++ops_since_commit;
        bytes_since_commit += bytes;
    }

    void pump_output() {
        if (sock < 0) return;
        for (;;) {
            if (conn == Conn::Live && !paused) {
                while (wbuf.size() - wpos < kOutHigh) {
                    if (out.fd >= 0 || !queue.empty()) {
                        produce_one();
                        if (out.fd < 0 && (ops_since_commit >= kBatchOps || bytes_since_commit >= kBatchBytes)) write_commit();
                    } else if (uncommitted) {
                        write_commit();
                    } else {
                        break;
                    }
                }
            }
            if (wpos == wbuf.size()) {
                wbuf.clear();
                wpos = 0;
                return;
            }
            ssize_t n = ::send(sock, wbuf.data() + wpos, wbuf.size() - wpos, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return;
                throw Error(NH_ECONNECT, std::string("send failed: ") + std::strerror(errno));
            }
            wpos += static_cast<size_t>(n);
            if (wpos > (8u << 20)) {
                wbuf.erase(0, wpos);
                wpos = 0;
            }
        }
    }

    bool want_write() const {
        return wpos < wbuf.size() || (conn == Conn::Live && !paused && (out.fd >= 0 || !queue.empty() || uncommitted));
    }

    // ---- local changes ----
    void process_changes(const std::vector<local::Change> &changes) {
        std::vector<std::string> removed;
        std::vector<local::Entry> upserts;
        std::set<std::string> seen;
        bool rules_changed = false;
        for (auto &c : changes) {
            if (c.kind == local::Change::Kind::Overflow) {
                need_full = true;
                continue;
            }
            if (rules.is_rule_file(c.path)) rules_changed = true;
            if (!seen.insert(c.path).second) {
                // a later event for the same path: re-evaluated below anyway
            }
        }
        if (rules_changed) {
            rules = local::IgnoreRules::build(root, opt.ignore);
            watcher->set_rules(rules);
            need_full = true;
        }
        if (need_full) {
            full_local_diff();
            return;
        }
        for (auto &p : seen) {
            std::optional<local::Entry> l;
            try {
                l = tree->stat(p);
            } catch (const Error &) {
            }
            if (!l) {
                if (view.find(p) || !view.subtree(p).empty()) removed.push_back(p);
                continue;
            }
            if (rules.ignored(p, l->type == Type::Dir)) continue;
            upserts.push_back(*l);
        }
        log::debug("sync: " + std::to_string(changes.size()) + " local changes: " + std::to_string(upserts.size()) +
                   " to send, " + std::to_string(removed.size()) + " removed");
        execute(std::move(removed), std::move(upserts));
    }

    void resolve_flushes() {
        if (conn != Conn::Live || paused) return;
        std::lock_guard l(mu);
        if (flush_resolved < flush_req) {
            flush_resolved = flush_req;
            flush_target = last_seq;
            flush_epoch = epoch;
        }
    }

    void handle_commands(bool &stop) {
        uint64_t v;
        ssize_t n = ::read(wake_fd, &v, sizeof v);
        (void)n;
        bool want_pause;
        bool want_flush;
        {
            std::lock_guard l(mu);
            stop = stop_req;
            want_pause = pause_req;
            want_flush = flush_resolved < flush_req;
        }
        if (want_pause != paused) {
            paused = want_pause;
            if (!paused) {
                need_full = true;
                if (opt.mode == SyncMode::TwoWay && sock >= 0) {
                    // What the server sent while paused was dropped: reconcile
                    // both sides again through a fresh connection.
                    disconnect(0, "resuming");
                    backoff_ms = 0;
                    next_connect = Clock::now();
                }
            }
        }
        if (want_flush && conn == Conn::Live && !paused) {
            // Everything that happened before the request is in the watcher's queue.
            if (watcher) process_changes(watcher->read());
            if (need_full) full_local_diff();
            resolve_flushes();
        }
    }

    void run() {
        try {
            rules = local::IgnoreRules::build(root, opt.ignore);
            tree = std::make_unique<ConfinedTree>(root);
            // Hello first: the server reads its tree while the watches are being set up here.
            // Nothing is scanned before the watcher exists, so no change can slip between them.
            try_connect();
            if (sock >= 0) pump_output();
            watcher = std::make_unique<local::Watcher>(root, rules);
        } catch (const Error &e) {
            fatal(e.code(), e.what());
            emit(EventType::State);
            publish();
            return;
        }
        bool stop = false;
        while (!stop) {
            try {
                // Directories may have been replaced since the last round.
                tree->forget_dirs();
                if (conn == Conn::Down && !fatal_code && !paused && Clock::now() >= next_connect) try_connect();
                if (conn == Conn::Handshake && Clock::now() >= handshake_deadline)
                    disconnect(NH_ETIMEOUT, "the sync server did not answer the handshake");
                if (conn == Conn::Live && !paused && need_full) full_local_diff();
                pump_output();
                publish();
                if (release_pending && compute_state() == State::Idle) {
                    release_pending = false;
                    release_memory();
                    publish();
                }
                pollfd fds[3];
                int nfds = 0;
                fds[nfds++] = {wake_fd, POLLIN, 0};
                fds[nfds++] = {watcher->fd(), POLLIN, 0};
                int si = -1;
                if (sock >= 0) {
                    si = nfds;
                    fds[nfds++] = {sock, static_cast<short>(POLLIN | (want_write() ? POLLOUT : 0)), 0};
                }
                int timeout = -1;
                if (conn == Conn::Down && !fatal_code && !paused)
                    timeout = static_cast<int>(std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next_connect - Clock::now()).count()));
                if (conn == Conn::Handshake)
                    timeout = static_cast<int>(std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(handshake_deadline - Clock::now()).count()) + 1);
                if (view_dirty && timeout < 0) timeout = 1000;
                int rc = ::poll(fds, static_cast<nfds_t>(nfds), timeout);
                if (rc < 0 && errno != EINTR) throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
                if (rc == 0 && view_dirty && inflight.empty() && queue.empty()) save_view();
                if (fds[0].revents) handle_commands(stop);
                if (stop) break;
                if (fds[1].revents) {
                    auto changes = watcher->read();
                    if (conn == Conn::Live && !paused)
                        process_changes(changes);
                    else if (!changes.empty())
                        need_full = true;
                }
                if (si >= 0 && sock >= 0 && (fds[si].revents & (POLLIN | POLLHUP | POLLERR))) read_socket();
                if (view_dirty && inflight.empty() && queue.empty() && Clock::now() - last_save > std::chrono::seconds(2)) save_view();
            } catch (const proto::ProtocolError &e) {
                disconnect(NH_EPROTOCOL, std::string("protocol error: ") + e.what());
            } catch (const Error &e) {
                if (e.code() == NH_EUNAUTHORIZED || e.code() == NH_EUNSUPPORTED) {
                    fatal(e.code(), e.what());
                    log::error("sync: " + std::string(e.what()));
                } else if (sock >= 0 || e.code() == NH_ECONNECT) {
                    disconnect(e.code(), e.what());
                } else {
                    log::warn(std::string("sync: ") + e.what());
                    std::lock_guard l(mu);
                    status.error_code = e.code();
                    status.error = e.what();
                }
            } catch (const std::exception &e) {
                disconnect(NH_ERROR, std::string("internal error: ") + e.what());
            }
        }
        if (sock >= 0) {
            // Leave nothing half-written on the wire for long: best effort.
            ::close(sock);
            sock = -1;
        }
        if (out.fd >= 0) ::close(out.fd);
        save_view();
        {
            std::lock_guard l(mu);
            status.state = State::Stopped;
            stopped = true;
        }
        cv.notify_all();
        emit(EventType::State);
    }
};

Client::Client(ClientOptions options, EventFn on_event)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(on_event))) {
    auto &o = impl_->opt;
    if (o.local_dir.empty()) throw Error(NH_EINVAL, "no local directory given");
    if (o.token.empty()) throw Error(NH_EINVAL, "no token given");
    net::parse_host_port(o.address);
    struct stat st;
    if (::stat(o.local_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw Error(NH_EIO, "cannot use '" + o.local_dir + "' as the local directory: " +
                                (errno ? std::strerror(errno) : "not a directory"));
    impl_->root = o.local_dir;
    while (impl_->root.size() > 1 && impl_->root.back() == '/') impl_->root.pop_back();
    impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    impl_->cctx = ZSTD_createCCtx();
    impl_->dctx = ZSTD_createDCtx();
    if (impl_->wake_fd < 0 || !impl_->cctx || !impl_->dctx) throw Error(NH_ENOMEM, "cannot create the sync engine");
    auto self = impl_;
    impl_->thread = std::thread([self] { self->run(); });
}

Client::~Client() { stop(); }

Status Client::status() const {
    std::lock_guard l(impl_->mu);
    return impl_->status;
}

int Client::flush(long timeout_ms, CancelToken *cancel) {
    auto &m = *impl_;
    auto deadline = timeout_ms < 0 ? Clock::time_point::max() : Clock::now() + std::chrono::milliseconds(timeout_ms);
    CancelScope scope(cancel, [&m] {
        std::lock_guard l(m.mu);
        m.cv.notify_all();
    });
    std::unique_lock l(m.mu);
    uint64_t req = ++m.flush_req;
    m.wake();
    for (;;) {
        if (cancel && cancel->triggered()) return NH_ECANCELLED;
        if (m.fatal_code) return m.fatal_code;
        if (m.stopped) return NH_ESTATE;
        if (m.flush_resolved >= req) {
            if (m.flush_epoch != m.epoch_pub) {
                // The connection was lost since: ask again on the new one.
                req = ++m.flush_req;
                m.wake();
            } else if (m.live_pub && m.acked_pub >= m.flush_target) {
                return NH_OK;
            }
        }
        if (deadline == Clock::time_point::max())
            m.cv.wait_for(l, std::chrono::milliseconds(100));
        else if (m.cv.wait_until(l, std::min(deadline, Clock::now() + std::chrono::milliseconds(100))) == std::cv_status::timeout &&
                 Clock::now() >= deadline)
            return NH_ETIMEOUT;
    }
}

void Client::pause() {
    std::lock_guard l(impl_->mu);
    impl_->pause_req = true;
    impl_->wake();
}

void Client::resume() {
    std::lock_guard l(impl_->mu);
    impl_->pause_req = false;
    impl_->wake();
}

void Client::stop() {
    if (!impl_) return;
    {
        std::lock_guard l(impl_->mu);
        impl_->stop_req = true;
    }
    impl_->wake();
    if (impl_->thread.joinable()) {
        if (impl_->thread.get_id() == std::this_thread::get_id())
            impl_->thread.detach();
        else
            impl_->thread.join();
    }
}

}  // namespace nh::sync
