// The sync server's engine (nhsyncd): one client at a time, authenticated by its token; the
// index of the root and its durability thread; the client's operations applied under the root
// only (ConfinedTree); in two-way mode, local changes sent back. Over 700 lines on purpose: it
// is one connection's state machine over one struct (Impl), whose handlers share the session
// state (expectations, the file being received, the index) at every step; the pieces that stand
// alone already live elsewhere (protocol.cpp: frames and the block codec; fsops.cpp: the
// confined writes; tracked_index.cpp: the index; local/: scan and watch).
#include "sync/server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/random.hpp"
#include "common/log.hpp"
#include "platform/wakeup.hpp"
#include "sync/delta.hpp"
#include "sync/fsops.hpp"
#include "sync/net.hpp"
#include "sync/protocol.hpp"
#include "sync/sig_cache.hpp"
#include "sync/tracked_index.hpp"

namespace nh::sync {

using proto::Expect;
using proto::Msg;
using Clock = std::chrono::steady_clock;
using proto::loggable;

namespace {

// Connections that have not authenticated yet: at most this many are kept
// (a new one closes the oldest), each for at most kHandshakeTime.
constexpr size_t kMaxUnauthenticated = 64;
constexpr auto kHandshakeTime = std::chrono::seconds(5);

std::string read_small_file(const std::string &path) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return {};
    char buf[256];
    size_t n = std::fread(buf, 1, sizeof buf, f);
    std::fclose(f);
    return std::string(buf, n);
}

}  // namespace

struct Server::Impl {
    ServerOptions opt;
    std::unique_ptr<ConfinedTree> tree;
    TrackedIndex index;
    std::string state_dir, index_file, server_id;
    int listen_fd = -1;
    platform::Wakeup stop_wake;  // Server::stop()

    // Connections waiting for their HELLO, oldest first.
    struct Unauthenticated {
        int fd = -1;
        std::string buf;
        Clock::time_point deadline;
    };
    std::deque<Unauthenticated> waiting;
    // What the last scan could not read (reported to each new session).
    std::vector<local::Unreadable> unreadable;

    // The current session.
    int sock = -1;
    proto::Mode mode = proto::Mode::Send;
    bool zstd = false;
    std::string rbuf;
    size_t rpos = 0;
    std::optional<ConfinedTree::PendingFile> stream;
    uint64_t stream_seq = 0;
    bool stream_failed = false;
    // When the file being received is a delta (DELTA_BEGIN): its base, open, and the patcher.
    int delta_base = -1;
    struct stat delta_base_st {};  // as it was when its signatures were read
    std::unique_ptr<delta::Patcher> patch;
    std::unique_ptr<SigBuilder> result_sigs;  // the result's signatures, taken as it is written
    bool delta_ok = false;  // granted in this session
    // The signatures of the large files this server wrote, for the next DELTA_BEGIN of each.
    static constexpr size_t kSigCacheBytes = 8u << 20;
    SigCache sigs_kept{kSigCacheBytes};
    std::unique_ptr<local::Watcher> watcher;
    bool swept_once = false;
    // The index kept current while the server runs: true when it was made by a full scan
    // with the watcher already watching, and the watcher has lost nothing since. What the
    // watcher reported outside a two-way session is kept here and re-stat()ed at the next
    // HELLO, instead of scanning the whole tree again.
    bool index_fresh = false;
    bool watch_failed = false;  // the tree could not be watched: a send session scans it
    std::set<std::string, std::less<>> stale_removed, stale_changed;
    static constexpr size_t kMaxStale = 65536;  // beyond it, a full scan is cheaper
    ZSTD_DCtx *dctx = nullptr;
    ZSTD_DCtx *sdctx = nullptr;  // the session's zstd stream (kFeatureZstdStream)
    bool zstd_stream = false;
    bool index_dirty = false;
    Clock::time_point last_activity = Clock::now();

    // Durability: the thread that syncfs()es and acknowledges.
    std::mutex wmu;  // socket writes; guards sock for the ack thread
    std::mutex mu;
    std::condition_variable cv;
    uint64_t commit_req = 0;
    uint64_t session_gen = 0;
    bool quit = false;
    std::thread durability;

    explicit Impl(ServerOptions o) : opt(std::move(o)) {}

    void init() {
        if (opt.token.empty()) throw Error(NH_EINVAL, "the sync server needs a token");
        tree = std::make_unique<ConfinedTree>(opt.root);
        tree->remove_in_background();  // a deleted directory costs the session one rename
        state_dir = opt.state_dir.empty() ? opt.root + "/" + std::string(local::kStatePrefix) : opt.state_dir;
        std::error_code ec;
        std::filesystem::create_directories(state_dir, ec);
        if (!std::filesystem::is_directory(state_dir, ec))
            throw Error(NH_EIO, "cannot create the sync server's state dir " + loggable(state_dir));
        ::chmod(state_dir.c_str(), 0700);
        index_file = state_dir + "/server.index";
        server_id = read_small_file(state_dir + "/server-id");
        while (!server_id.empty() && (server_id.back() == '\n' || server_id.back() == ' ')) server_id.pop_back();
        if (server_id.size() != 32) {
            server_id = random_hex(16);
            std::string tmp = state_dir + "/server-id.tmp";
            if (FILE *f = std::fopen(tmp.c_str(), "wb")) {
                std::fwrite(server_id.data(), 1, server_id.size(), f);
                std::fclose(f);
                std::rename(tmp.c_str(), (state_dir + "/server-id").c_str());
            }
        }
        index = TrackedIndex::load(index_file);
        listen_fd = net::listen_tcp(net::parse_host_port(opt.listen), 128);
        net::set_nonblocking(listen_fd, true);
        dctx = ZSTD_createDCtx();
        sdctx = ZSTD_createDCtx();
        if (!dctx || !sdctx) throw Error(NH_ENOMEM, "cannot create the zstd decoders");
        ZSTD_DCtx_setParameter(sdctx, ZSTD_d_windowLogMax, proto::kStreamWindowLogMax);
        durability = std::thread([this] { durability_loop(); });
        // The tree is read now, before any client asks (one waiting meanwhile is answered
        // when this is done), and watched from then on. Errors are left to the first HELLO,
        // which scans again and tells the client why.
        try {
            watch_and_rescan();
        } catch (const std::exception &e) {
            watch_failed = watcher == nullptr;
            watcher.reset();
            log::info(std::string("nhsyncd: the tree is read at the first session instead: ") + loggable(e.what()));
        }
        log::info("nhsyncd: serving " + loggable(opt.root) + " on " + loggable(opt.listen) + " (server id " + server_id + ")");
    }

    ~Impl() {
        {
            std::lock_guard lock(mu);
            quit = true;
        }
        cv.notify_all();
        if (durability.joinable()) durability.join();
        end_session();
        for (auto &u : waiting) ::close(u.fd);
        if (listen_fd >= 0) ::close(listen_fd);
        if (dctx) ZSTD_freeDCtx(dctx);
        if (sdctx) ZSTD_freeDCtx(sdctx);
    }

    // ---- sending ----
    void send(const std::string &frame) {
        std::lock_guard lock(wmu);
        if (sock < 0) throw Error(NH_EIO, "no session");
        net::send_all(sock, frame);
    }

    void send_ack(uint64_t seq) {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Ack);
        w.varint(seq);
        w.finish();
        send(f);
    }

    void send_nack(uint64_t seq, std::string_view path, int code, std::string_view message) {
        log::warn("nhsyncd: refused '" + loggable(path) + "': " + loggable(message));
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Nack);
        w.varint(seq);
        w.str(path);
        w.svarint(code);
        w.str(message);
        w.finish();
        send(f);
    }

    void send_notice(proto::NoticeKind kind, std::string_view path, std::string_view detail) {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Notice);
        w.u8(static_cast<uint8_t>(kind));
        w.str(path);
        w.str(detail);
        w.finish();
        send(f);
    }

    // Best effort, never blocking: the peer may not read.
    void send_error(int fd, int code, const std::string &message) {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Error);
        w.svarint(code);
        w.str(message);
        w.finish();
        ssize_t n = ::send(fd, f.data(), f.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
    }

    void durability_loop() {
        uint64_t done = 0, gen_done = 0;
        std::unique_lock lock(mu);
        for (;;) {
            cv.wait(lock, [&] { return quit || session_gen != gen_done || commit_req > done; });
            if (quit) return;
            if (session_gen != gen_done) {
                gen_done = session_gen;
                done = 0;
                if (commit_req <= done) continue;
            }
            uint64_t seq = commit_req, gen = session_gen;
            lock.unlock();
            ::syncfs(tree->root_fd());
            {
                std::lock_guard wl(wmu);
                std::lock_guard l2(mu);
                if (gen == session_gen && sock >= 0) {
                    std::string f;
                    proto::Writer w(f);
                    w.begin(Msg::Ack);
                    w.varint(seq);
                    w.finish();
                    try {
                        net::send_all(sock, f);
                    } catch (...) {
                        ::shutdown(sock, SHUT_RDWR);  // the main loop notices and ends the session
                    }
                }
            }
            lock.lock();
            if (gen == session_gen) done = seq;
        }
    }

    // ---- sessions ----
    void end_session() {
        if (stream) tree->abort_file(*stream);
        stream.reset();
        end_delta();
        stream_failed = false;  // a stream never outlives its session
        stream_seq = 0;
        {
            std::lock_guard wl(wmu);
            std::lock_guard l(mu);
            if (sock >= 0) ::close(sock);
            sock = -1;
            ++session_gen;
            commit_req = 0;
        }
        cv.notify_all();
        rbuf.clear();
        rpos = 0;
        save_index();
    }

    void end_delta() {
        patch.reset();
        result_sigs.reset();
        if (delta_base >= 0) ::close(delta_base);
        delta_base = -1;
    }

    void save_index() {
        if (!index_dirty) return;
        try {
            index.save(index_file);
            index_dirty = false;
        } catch (const std::exception &e) {
            log::warn(std::string("nhsyncd: cannot save index: ") + e.what());
        }
    }

    // Brings the index up to date with the disk (changes made by others).
    // With on_dir, the watcher's hook: each directory is watched right before it is listed.
    void rescan(const local::DirHook &on_dir = {}) {
        std::vector<local::Entry> scanned;
        std::vector<local::Unreadable> now_unreadable;
        if (!swept_once) {
            // The first scan, before this process wrote anything: what a write left behind
            // when an earlier server died in the middle of it goes.
            size_t swept = 0;
            scanned = local::scan_sweeping(opt.root, local::IgnoreRules(), swept, &now_unreadable, on_dir);
            swept_once = true;
            if (swept) log::info("nhsyncd: removed " + std::to_string(swept) + " temporary file(s) of an interrupted write");
        } else {
            scanned = local::scan(opt.root, local::IgnoreRules(), &now_unreadable, on_dir);
        }
        for (auto &u : now_unreadable) {
            bool known = false;
            for (auto &old : unreadable) known = known || old.path == u.path;
            if (!known) log::warn("nhsyncd: skipped '" + loggable(u.path) + "': " + loggable(u.why));
        }
        unreadable = std::move(now_unreadable);
        auto &recs = index.records();
        std::vector<std::string> removed;
        auto it = recs.begin();
        for (auto &e : scanned) {
            while (it != recs.end() && it->first < e.path) removed.push_back((it++)->first);
            if (it != recs.end() && it->first == e.path) {
                bool same = proto::same_remote(it->second.entry, e);
                ++it;
                if (same) continue;
            }
            index.put(e);
            index_dirty = true;
        }
        while (it != recs.end()) removed.push_back((it++)->first);
        for (auto &p : removed) index.erase(p);
        if (!removed.empty()) index_dirty = true;
    }

    // ---- connections that have not authenticated yet ----
    // None of this blocks: each is read when it has something, and closed
    // when it has not sent a HELLO within kHandshakeTime or when too many
    // others came after it.

    void accept_new() {
        for (;;) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) return;  // EAGAIN: all taken; EMFILE & co: the next poll retries
            if (waiting.size() >= kMaxUnauthenticated) {
                ::close(waiting.front().fd);
                waiting.pop_front();
            }
            waiting.push_back({fd, {}, Clock::now() + kHandshakeTime});
        }
    }

    // Reads from a waiting connection; true when it is done with (closed or
    // made the session).
    bool read_waiting(Unauthenticated &u) {
        char tmp[4096];
        ssize_t n = ::recv(u.fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
        if (n <= 0) {
            ::close(u.fd);
            return true;
        }
        u.buf.append(tmp, static_cast<size_t>(n));
        proto::Frame fr;
        size_t used = 0;
        try {
            used = proto::parse_frame(u.buf, proto::kMaxHelloFrame, fr);
        } catch (const proto::ProtocolError &e) {
            send_error(u.fd, NH_EPROTOCOL, e.what());
            ::close(u.fd);
            return true;
        }
        if (!used) return false;
        int fd = u.fd;
        std::string rest = u.buf.substr(used);
        if (!authenticate(fd, fr)) {
            ::close(fd);
            return true;
        }
        start_session(fd, std::move(rest));
        return true;
    }

    // Checks a HELLO; on failure sends ERROR and returns false.
    bool authenticate(int fd, const proto::Frame &fr) {
        try {
            if (fr.type != Msg::Hello) {
                send_error(fd, NH_EPROTOCOL, "expected HELLO");
                return false;
            }
            proto::Reader r(fr.payload);
            for (char c : proto::kMagic)
                if (static_cast<char>(r.u8()) != c) {
                    send_error(fd, NH_EPROTOCOL, "not a nocalhost sync client");
                    return false;
                }
            uint64_t version = r.varint();
            auto token = r.str(4096);
            uint8_t m = r.u8();
            uint64_t features = r.varint();
            if (version != proto::kVersion) {
                send_error(fd, NH_EUNSUPPORTED, "protocol version " + std::to_string(version) + " not supported (server speaks " + std::to_string(proto::kVersion) + ")");
                return false;
            }
            if (!proto::secret_equal(token, opt.token)) {
                log::warn("nhsyncd: a client presented a wrong token");
                send_error(fd, NH_EUNAUTHORIZED, "authentication failed: wrong token");
                return false;
            }
            if (m > 1) {
                send_error(fd, NH_EPROTOCOL, "unknown mode");
                return false;
            }
            hello_mode = static_cast<proto::Mode>(m);
            hello_zstd = (features & proto::kFeatureZstd) != 0;
            hello_zstd_stream = (features & proto::kFeatureZstdStream) != 0;
            hello_delta = opt.delta && (features & proto::kFeatureDelta) != 0;
            return true;
        } catch (const proto::ProtocolError &e) {
            send_error(fd, NH_EPROTOCOL, e.what());
            return false;
        }
    }
    proto::Mode hello_mode = proto::Mode::Send;
    bool hello_zstd = false;
    bool hello_zstd_stream = false;
    bool hello_delta = false;

    // An authenticated connection replaces the current session and gets its WELCOME.
    void start_session(int fd, std::string rest) {
        end_session();
        mode = hello_mode;
        zstd = hello_zstd;
        zstd_stream = hello_zstd_stream;
        delta_ok = hello_delta;
        ZSTD_DCtx_reset(sdctx, ZSTD_reset_session_only);
        net::set_nonblocking(fd, false);
        {
            std::lock_guard wl(wmu);
            std::lock_guard l(mu);
            sock = fd;
        }
        rbuf = std::move(rest);
        rpos = 0;
        timeval tv{60, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        try {
            bring_index_up_to_date();
            std::string f;
            proto::Writer w(f);
            w.begin(Msg::Welcome);
            w.varint(proto::kVersion);
            w.str(server_id);
            w.u64le(index.digest());
            w.varint(index.size());
            w.varint((zstd ? uint64_t{proto::kFeatureZstd} : 0) | (zstd_stream ? uint64_t{proto::kFeatureZstdStream} : 0) |
                     (delta_ok ? uint64_t{proto::kFeatureDelta} : 0));
            w.finish();
            send(f);
            for (auto &u : unreadable) send_notice(proto::NoticeKind::Unreadable, u.path, u.why);
        } catch (const std::exception &e) {
            // The client hears why instead of retrying blind.
            auto *err = dynamic_cast<const Error *>(&e);
            log::warn(std::string("nhsyncd: cannot start the session: ") + loggable(e.what()));
            {
                std::lock_guard wl(wmu);
                send_error(fd, err ? err->code() : NH_EIO, std::string("the sync server cannot start: ") + e.what());
            }
            end_session();
            return;
        }
        log::info("nhsyncd: client connected (" + std::string(mode == proto::Mode::TwoWay ? "two-way" : "send") + ")");
    }

    // Before a WELCOME: the index made current, by re-stat()ing only what the watcher
    // reported since the last full scan when it can, by scanning everything otherwise.
    void bring_index_up_to_date() {
        if (!watcher && (mode == proto::Mode::TwoWay || !watch_failed)) {
            try {
                watch_and_rescan();
                return;
            } catch (const std::exception &) {
                watch_failed = watcher == nullptr;
                if (mode == proto::Mode::TwoWay) throw;  // its changes are pushed from the watcher
            }
        }
        if (watcher) collect_changes();
        bool refreshed = false;
        if (index_fresh && unreadable.empty()) {
            try {
                refreshed = refresh_stale();
            } catch (const std::exception &) {
                refreshed = false;
            }
        }
        stale_removed.clear();
        stale_changed.clear();
        if (!refreshed) {
            rescan();
            index_fresh = watcher != nullptr && !remote_root();
        }
    }

    // The watches and a full scan in one walk; the index is fresh from then on.
    void watch_and_rescan() {
        index_fresh = false;
        stale_removed.clear();
        stale_changed.clear();
        watcher = std::make_unique<local::Watcher>(opt.root, local::IgnoreRules(),
                                                   [this](const local::DirHook &hook) { rescan(hook); });
        watch_failed = false;
        index_fresh = !remote_root();
    }

    // A root on a network or FUSE filesystem: inotify reports only what this machine changed
    // there, not what another client of the same share did, so every HELLO scans it.
    bool remote_root() const {
        struct statfs fs;
        if (::fstatfs(tree->root_fd(), &fs) != 0) return true;
        switch (static_cast<unsigned long>(fs.f_type)) {
        case 0x6969:      // NFS
        case 0x517B:      // SMB
        case 0xFF534D42:  // CIFS
        case 0xFE534D42:  // SMB2
        case 0x65735546:  // FUSE
        case 0x01021997:  // 9P
        case 0x00C36400:  // Ceph
        case 0x5346414F:  // AFS
        case 0x47504653:  // GPFS
        case 0x0BD00BD0:  // Lustre
            return true;
        default:
            return false;
        }
    }

    // Reads what the watcher has into the stale sets; a lost event, too many of them, or a
    // watcher that fails costs a full scan at the next HELLO.
    void collect_changes() {
        try {
            for (;;) {
                auto changes = watcher->read();
                if (changes.empty()) return;
                for (auto &c : changes) {
                    if (!index_fresh) break;
                    if (c.kind == local::Change::Kind::Overflow)
                        index_fresh = false;
                    else
                        (c.kind == local::Change::Kind::Removed ? stale_removed : stale_changed).insert(std::move(c.path));
                }
                if (stale_removed.size() + stale_changed.size() > kMaxStale) index_fresh = false;
                if (!index_fresh) {
                    stale_removed.clear();
                    stale_changed.clear();
                }
            }
        } catch (const std::exception &e) {
            log::warn(std::string("nhsyncd: watch: ") + loggable(e.what()));
            watcher.reset();
            index_fresh = false;
            stale_removed.clear();
            stale_changed.clear();
        }
    }

    // The index brought to what a full scan would make of it from the paths the watcher
    // reported: everything removed or moved away is a Removed of it or of a directory above
    // it, and everything made, changed or moved in is a Modified of its own (a directory made
    // or moved in reports all it holds). False when only a full scan can tell: a directory
    // new to the index or with another mode may be unreadable, which the scan reports.
    bool refresh_stale() {
        tree->forget_dirs();
        for (auto &p : stale_removed) {
            index.erase_tree(p);
            index_dirty = true;
        }
        for (auto &p : stale_changed) {
            auto cur = tree->stat(p, true);
            auto *rec = index.find(p);
            if (!cur) {
                index.erase_tree(p);
                index_dirty = true;
                continue;
            }
            if (cur->type == local::Entry::Type::Dir && (!rec || rec->entry.type != local::Entry::Type::Dir || rec->entry.mode != cur->mode))
                return false;
            if (rec && proto::same_remote(rec->entry, *cur)) continue;
            if (rec && rec->entry.type == local::Entry::Type::Dir) index.erase_tree(p);
            index.put(*cur);
            index_dirty = true;
        }
        return true;
    }

    // ---- operations ----
    void drain_watcher(bool push) {
        tree->forget_dirs();
        for (;;) {
            auto changes = watcher->read();
            if (changes.empty()) return;
            if (!push) continue;
            for (auto &c : changes) {
                if (c.kind == local::Change::Kind::Overflow) {
                    push_all();
                } else if (c.kind == local::Change::Kind::Removed) {
                    push_path(c.path, false);
                } else {
                    push_path(c.path, false);
                }
            }
        }
    }

    void push_all() {
        auto before = index.records();
        rescan();
        // Everything that differs from before goes out.
        for (auto &[p, r] : index.records()) {
            auto it = before.find(p);
            if (it == before.end() || !proto::same_remote(it->second.entry, r.entry)) push_entry(r.entry);
        }
        for (auto &[p, r] : before)
            if (!index.find(p)) send_delete(p);
    }

    void send_delete(std::string_view path) {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Delete);
        w.varint(0);
        w.str(path);
        w.u8(1);
        w.expect({});
        w.finish();
        send(f);
    }

    // Sends path's current state to the client if it differs from the index
    // (or always when force).
    void push_path(const std::string &path, bool force) {
        if (!proto::check_path(path).empty()) return;
        std::optional<local::Entry> cur;
        try {
            cur = tree->stat(path);
        } catch (const std::exception &) {
            return;
        }
        auto *rec = index.find(path);
        if (!cur) {
            if (rec) {
                index.erase_tree(path);
                index_dirty = true;
                send_delete(path);
            }
            return;
        }
        if (!force && rec && proto::same_remote(rec->entry, *cur)) return;
        push_entry(*cur);
    }

    void push_entry(local::Entry e) {
        std::string f;
        proto::Writer w(f);
        switch (e.type) {
        case local::Entry::Type::Dir:
            index.put(e);
            w.begin(Msg::Mkdir);
            w.varint(0);
            w.str(e.path);
            w.varint(e.mode);
            w.expect({});
            w.finish();
            break;
        case local::Entry::Type::Symlink:
            if (!proto::check_link_target(e.path, e.link_target).empty()) return;
            index.put(e);
            w.begin(Msg::Symlink);
            w.varint(0);
            w.str(e.path);
            w.str(e.link_target);
            w.expect({});
            w.finish();
            break;
        case local::Entry::Type::File: {
            int fd = tree->open_read(e.path);
            if (fd < 0) return;
            struct stat st;
            if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                ::close(fd);
                return;
            }
            e = entry_from_stat(e.path, st);
            index.put(e);
            bool inline_ = e.size <= proto::kInlineMax;
            w.begin(inline_ ? Msg::File : Msg::FileBegin);
            w.varint(0);
            w.str(e.path);
            w.varint(e.mode);
            if (inline_) w.svarint(e.mtime_ns);
            w.expect({});
            std::string data;
            if (inline_) {
                data.resize(e.size);
                ssize_t n = ::pread(fd, data.data(), data.size(), 0);
                data.resize(n > 0 ? static_cast<size_t>(n) : 0);
                w.u8(static_cast<uint8_t>(proto::Encoding::Raw));
                w.varint(data.size());
                w.raw(data);
                w.finish();
                ::close(fd);
                break;
            }
            w.finish();
            send(f);
            f.clear();
            std::string chunk(proto::kChunk, '\0');
            off_t off = 0;
            for (;;) {
                ssize_t n = ::pread(fd, chunk.data(), chunk.size(), off);
                if (n <= 0) break;
                off += n;
                std::string df;
                proto::Writer dw(df);
                dw.begin(Msg::FileData);
                dw.varint(0);
                dw.u8(static_cast<uint8_t>(proto::Encoding::Raw));
                dw.varint(static_cast<uint64_t>(n));
                dw.raw(std::string_view(chunk.data(), static_cast<size_t>(n)));
                dw.finish();
                send(df);
            }
            ::close(fd);
            w.begin(Msg::FileEnd);
            w.varint(0);
            w.svarint(e.mtime_ns);
            w.finish();
            break;
        }
        }
        index_dirty = true;
        send(f);
    }

    std::string decode(proto::Reader &r, size_t max_raw) {
        return proto::decode_block(r, max_raw, zstd ? dctx : nullptr, zstd_stream ? sdctx : nullptr);
    }

    // Whether applying `incoming` over `cur` would lose a change the client has not seen.
    static bool conflicts(const Expect &x, const std::optional<local::Entry> &cur, const local::Entry *incoming) {
        if (x.kind == Expect::Kind::Any || !cur) return false;
        if (incoming && proto::same_remote(*cur, *incoming)) return false;
        if (incoming && cur->type == local::Entry::Type::Dir && incoming->type == local::Entry::Type::Dir) return false;
        if (x.kind == Expect::Kind::Absent) return true;
        return !proto::same_remote(*cur, x.entry);
    }

    // Handles a client's expectation before an operation on path; returns
    // false when the operation must be skipped.
    bool resolve(const Expect &x, const std::string &path, const local::Entry *incoming, bool is_delete) {
        if (x.kind == Expect::Kind::Any) return true;
        auto cur = tree->stat(path);
        if (!conflicts(x, cur, incoming)) return true;
        if (mode == proto::Mode::Send) {
            send_notice(proto::NoticeKind::RemoteOverwritten, path, "");
            return true;
        }
        if (is_delete) {
            send_notice(proto::NoticeKind::DeleteSkipped, path, "");
            push_path(path, true);
            return false;
        }
        std::string copy = tree->move_aside(path);
        index.erase_tree(path);
        sigs_kept.erase_tree(path);
        send_notice(proto::NoticeKind::Conflict, path, copy);
        if (!copy.empty()) {
            if (auto ce = tree->stat(copy)) push_entry(*ce);
        }
        return true;
    }

    void checked_path(std::string_view p) {
        auto why = proto::check_path(p);
        if (!why.empty()) throw Error(NH_EINVAL, "refused path: " + why);
    }

    void handle(const proto::Frame &fr) {
        proto::Reader r(fr.payload);
        if (fr.type == Msg::ManifestReq) {
            r.done();
            send_manifest();
            return;
        }
        if (fr.type == Msg::Commit) {
            uint64_t seq = r.varint();
            r.done();
            index_dirty = true;
            tree->forget_dirs();  // others may change the tree between batches
            if (!opt.durable) {
                send_ack(seq);
                return;
            }
            {
                std::lock_guard l(mu);
                if (seq > commit_req) commit_req = seq;
            }
            cv.notify_all();
            return;
        }
        if (fr.type == Msg::Fetch) {
            std::string path(r.str(proto::kMaxPath));
            r.done();
            push_path(path, true);
            return;
        }
        if (fr.type == Msg::FileData) {
            uint64_t seq = r.varint();
            std::string data = decode(r, proto::kChunk);
            if (!stream || seq != stream_seq) {
                if (stream_failed && seq == stream_seq) return;
                throw proto::ProtocolError("FILE_DATA outside a file stream");
            }
            stream_write(seq, [&](const delta::Patcher::Out &out) {
                if (patch)
                    patch->literal(data, out);
                else
                    out(stream->written, data);
            });
            return;
        }
        if (fr.type == Msg::DeltaCopy) {
            uint64_t seq = r.varint();
            uint64_t first = r.varint(), count = r.varint();
            r.done();
            if (!patch || !stream || seq != stream_seq) {
                if (stream_failed && seq == stream_seq) return;
                throw proto::ProtocolError("DELTA_COPY outside a delta stream");
            }
            try {
                stream_write(seq, [&](const delta::Patcher::Out &out) { patch->copy(first, count, out); });
            } catch (const std::out_of_range &e) {
                throw proto::ProtocolError(std::string("DELTA_COPY out of range: ") + e.what());
            }
            return;
        }
        if (fr.type == Msg::DeltaEnd) {
            uint64_t seq = r.varint();
            int64_t mtime = r.svarint();
            auto sum = r.raw(sizeof(delta::Digest));
            r.done();
            if (seq != stream_seq || (!stream && !stream_failed) || (stream && !patch))
                throw proto::ProtocolError("DELTA_END outside a delta stream");
            if (stream) {
                delta::Digest want{};
                std::memcpy(want.data(), sum.data(), want.size());
                finish_delta(seq, want, mtime);
                stream.reset();
            }
            end_delta();
            stream_failed = false;
            return;
        }
        if (fr.type == Msg::FileEnd) {
            uint64_t seq = r.varint();
            int64_t mtime = r.svarint();
            r.done();
            if (seq != stream_seq || (!stream && !stream_failed) || patch) throw proto::ProtocolError("FILE_END outside a file stream");
            if (stream) {
                std::string path = stream->path;
                try {
                    struct stat fin;
                    auto e = tree->commit_file(*stream, mtime, &fin);
                    index.put(e);
                    keep_signatures(path, fin);
                } catch (const Error &e) {
                    send_nack(seq, path, e.code(), e.what());
                }
                stream.reset();
            }
            stream_failed = false;
            return;
        }
        if (stream || stream_failed) throw proto::ProtocolError("operation inside a file stream");

        uint64_t seq = r.varint();
        std::string path(r.str(proto::kMaxPath));
        try {
            switch (fr.type) {
            case Msg::File: {
                uint32_t perm = static_cast<uint32_t>(r.varint() & 0777);
                int64_t mtime = r.svarint();
                Expect x = r.expect();
                std::string data = decode(r, proto::kInlineMax);
                checked_path(path);
                local::Entry in;
                in.type = local::Entry::Type::File;
                in.size = data.size();
                in.mtime_ns = mtime;
                in.mode = perm;
                if (!resolve(x, path, &in, false)) break;
                auto f = tree->begin_file(path, perm);
                try {
                    tree->write(f, data);
                } catch (...) {
                    tree->abort_file(f);
                    throw;
                }
                index.erase_tree(path);
                sigs_kept.erase_tree(path);
                index.put(tree->commit_file(f, mtime));
                break;
            }
            case Msg::FileBegin: {
                uint32_t perm = static_cast<uint32_t>(r.varint() & 0777);
                Expect x = r.expect();
                r.done();
                stream_seq = seq;
                stream_failed = true;  // until the stream is open
                checked_path(path);
                if (!resolve(x, path, nullptr, false)) break;
                index.erase_tree(path);
                sigs_kept.erase_tree(path);
                stream = tree->begin_file(path, perm);
                stream_failed = false;
                break;
            }
            case Msg::DeltaBegin: {
                uint32_t perm = static_cast<uint32_t>(r.varint() & 0777);
                Expect x = r.expect();
                r.done();
                if (!delta_ok) throw proto::ProtocolError("DELTA_BEGIN without the delta feature");
                stream_seq = seq;
                stream_failed = true;  // until the stream is open
                try {
                    checked_path(path);
                    begin_delta(seq, path, perm, x);
                } catch (const Error &e) {
                    end_delta();
                    send_nack(seq, path, e.code(), e.what());
                    send_signatures(seq, 0, 0, 0, nullptr, 0);  // the client waits for them
                }
                break;
            }
            case Msg::Mkdir: {
                uint32_t perm = static_cast<uint32_t>(r.varint() & 0777);  // never setuid, setgid or sticky
                Expect x = r.expect();
                r.done();
                checked_path(path);
                local::Entry in;
                in.type = local::Entry::Type::Dir;
                in.mode = perm;
                if (!resolve(x, path, &in, false)) break;
                sigs_kept.erase_tree(path);
                auto e = tree->make_dir(path, perm);
                if (auto *old = index.find(path); old && old->entry.type != local::Entry::Type::Dir) index.erase(path);
                index.put(e);
                break;
            }
            case Msg::Symlink: {
                std::string target(r.str(proto::kMaxPath));
                Expect x = r.expect();
                r.done();
                checked_path(path);
                auto why = proto::check_link_target(path, target);
                if (!why.empty()) throw Error(NH_EINVAL, "refused symlink: " + why);
                local::Entry in;
                in.type = local::Entry::Type::Symlink;
                in.link_target = target;
                if (!resolve(x, path, &in, false)) break;
                sigs_kept.erase_tree(path);
                auto e = tree->make_symlink(path, target);
                index.erase_tree(path);
                index.put(e);
                break;
            }
            case Msg::Delete: {
                bool recursive = r.u8() != 0;
                Expect x = r.expect();
                r.done();
                checked_path(path);
                if (!resolve(x, path, nullptr, true)) break;
                sigs_kept.erase_tree(path);
                if (tree->remove(path, recursive || mode == proto::Mode::Send)) {
                    index.erase_tree(path);
                } else {
                    send_notice(proto::NoticeKind::DeleteSkipped, path, "directory not empty");
                }
                break;
            }
            case Msg::Rename: {
                std::string to(r.str(proto::kMaxPath));
                Expect x = r.expect();
                r.done();
                checked_path(path);
                checked_path(to);
                (void)x;
                sigs_kept.erase_tree(path);
                sigs_kept.erase_tree(to);
                tree->rename(path, to);
                index.move_tree(path, to);
                break;
            }
            case Msg::Meta: {
                uint32_t perm = static_cast<uint32_t>(r.varint() & 0777);  // never setuid, setgid or sticky
                int64_t mtime = r.svarint();
                Expect x = r.expect();
                r.done();
                checked_path(path);
                if (!resolve(x, path, nullptr, false)) break;
                sigs_kept.erase_tree(path);
                index.put(tree->set_meta(path, perm, mtime));
                break;
            }
            default:
                throw proto::ProtocolError("unexpected message " + proto::msg_name(fr.type));
            }
        } catch (const Error &e) {
            send_nack(seq, path, e.code(), e.what());
        }
    }

    // DELTA_END of a delta that arrived whole: the result replaces the target (or, when it is
    // the target followed by new bytes, the target grows in place), or, when the base was not
    // what its signatures said, the client is asked for the whole file.
    void finish_delta(uint64_t seq, const delta::Digest &want, int64_t mtime) {
        std::string path = stream->path;
        bool append = false;
        stream_write(seq, [&](const delta::Patcher::Out &out) { append = patch->finish(out); });
        if (!stream) return;  // a write failed: NACKed
        bool ok = patch->verify(want);
        try {
            if (ok && append) {
                local::Entry e;
                switch (tree->commit_append(*stream, delta_base_st, patch->written() - patch->base_size(), mtime, e)) {
                case ConfinedTree::Append::Done:
                    index.put(e);
                    sigs_kept.erase_tree(path);  // grown in place: read whole at its next delta
                    return;
                case ConfinedTree::Append::Changed:
                    ok = false;
                    break;
                case ConfinedTree::Append::Unwritable:  // then as any other delta: the result beside it, renamed over
                    stream_write(seq, [&](const delta::Patcher::Out &out) { patch->write_base(out); });
                    if (!stream) return;
                    ok = patch->verify(want);
                    break;
                }
            }
            if (ok) {
                struct stat fin;
                index.put(tree->commit_file(*stream, mtime, &fin));
                SigCache::Entry kept;
                if (result_sigs && result_sigs->finish(static_cast<uint64_t>(fin.st_size), kept)) {
                    kept.key = SigCache::key_of(fin);
                    sigs_kept.put(path, std::move(kept));
                } else {
                    keep_signatures(path, fin);
                }
                return;
            }
        } catch (const Error &e) {
            send_nack(seq, path, e.code(), e.what());
            return;
        }
        // The base changed while it was read or the delta applied: ask for the whole file.
        log::info("nhsyncd: '" + loggable(path) + "' changed while a delta against it was applied; asking for it whole");
        tree->abort_file(*stream);
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Resend);
        w.varint(seq);
        w.str(path);
        w.finish();
        send(f);
    }

    // Writes to the file being received; a write error ends the stream with a NACK (the rest
    // of it is then skipped).
    void stream_write(uint64_t seq, const std::function<void(const delta::Patcher::Out &)> &produce) {
        try {
            produce([&](uint64_t off, std::string_view d) {
                tree->write_at(*stream, off, d);
                if (result_sigs) result_sigs->feed(off, d);
            });
        } catch (const Error &e) {
            tree->abort_file(*stream);
            std::string path = stream->path;
            stream.reset();
            stream_failed = true;
            send_nack(seq, path, e.code(), e.what());
        }
    }

    void send_signatures(uint64_t seq, uint32_t block, uint64_t base_size, uint64_t first, const delta::BlockSig *sigs, size_t n) {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Signatures);
        w.varint(seq);
        w.varint(block);
        w.varint(base_size);
        w.varint(first);
        w.varint(n);
        for (size_t i = 0; i < n; ++i) {
            char b[delta::kSigBytes];
            for (int k = 0; k < 4; ++k) b[k] = static_cast<char>(sigs[i].weak >> (8 * k));
            for (int k = 0; k < 8; ++k) b[4 + k] = static_cast<char>(sigs[i].strong >> (8 * k));
            w.raw(std::string_view(b, sizeof b));
        }
        w.finish();
        send(f);
    }

    // DELTA_BEGIN: the signatures of what is at path now (none when it is not a regular file:
    // the client then sends every byte as a literal), and the temporary file to rebuild into.
    // When this server wrote the file and nothing changed it since, the signatures it kept
    // then go out and nothing of the file is read here.
    void begin_delta(uint64_t seq, const std::string &path, uint32_t perm, const Expect &x) {
        resolve(x, path, nullptr, false);
        index.erase_tree(path);
        stream = tree->begin_file(path, perm);
        int fd = tree->open_read(path);
        struct stat &st = delta_base_st;
        uint64_t size = 0;
        if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
        uint32_t block = delta::block_size_for(size);
        uint64_t sent = 0;
        // A file with one link may grow in place (an append); its hash as read tells the
        // result's. With more links it is replaced, as every other file is.
        delta::FileHash whole;
        bool may_append = size && st.st_nlink == 1;
        const SigCache::Entry *kept = size ? sigs_kept.find(path, st) : nullptr;
        if (kept && kept->sigs.size() == delta::block_count(size, block)) {
            delta_base = fd;
            ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // for the blocks copied from it
            for (; sent < kept->sigs.size(); sent += std::min<uint64_t>(delta::kSigsPerFrame, kept->sigs.size() - sent))
                send_signatures(seq, block, size, sent, kept->sigs.data() + sent,
                                std::min<uint64_t>(delta::kSigsPerFrame, kept->sigs.size() - sent));
            if (may_append) whole.assign(*kept->whole);
            log::debug("nhsyncd: signatures of '" + loggable(path) + "' as kept since it was written; none read");
        } else if (size) {
            delta_base = fd;
            size = delta::signatures(
                fd, size, block,
                [&](const delta::BlockSig *s, size_t n) {
                    send_signatures(seq, block, size, sent, s, n);
                    sent += n;
                },
                may_append ? &whole : nullptr);
            log::debug("nhsyncd: signatures of '" + loggable(path) + "' read from it (" + std::to_string(size) + " bytes)");
        } else if (fd >= 0) {
            ::close(fd);
        }
        uint64_t blocks = delta::block_count(size, block);
        if (sent < blocks || !size) {
            // The base shrank while it was read (or there is none): what was sent is all.
            size = std::min(size, sent * block);
            send_signatures(seq, block, size, sent, nullptr, 0);
            may_append = false;
        }
        patch = std::make_unique<delta::Patcher>(delta_base, size, block);
        if (may_append && size == static_cast<uint64_t>(st.st_size)) patch->defer(whole);
        // The result's signatures as it is written, at the block size of a result as large
        // as the base (an edit in place; another size is read back at the end).
        if (delta_ok) result_sigs = std::make_unique<SigBuilder>(block);
        stream_failed = false;
    }

    // Keeps the signatures of a large file just written whole (FILE_END, or a delta whose
    // result came out of order), read back while its pages are still in memory, for its next
    // DELTA_BEGIN. `fin`: its fstat() after the rename.
    void keep_signatures(const std::string &path, const struct stat &fin) {
        sigs_kept.erase_tree(path);
        uint64_t size = static_cast<uint64_t>(fin.st_size);
        if (!delta_ok || size <= delta::kMinSize) return;  // only larger ones go by delta
        int fd = tree->open_read(path);
        if (fd < 0) return;
        struct stat now;
        SigCache::Entry e;
        e.key = SigCache::key_of(fin);
        if (::fstat(fd, &now) == 0 && SigCache::key_of(now) == e.key) {
            e.whole = std::make_unique<delta::FileHash>();
            uint64_t got = delta::signatures(
                fd, size, e.key.block,
                [&](const delta::BlockSig *s, size_t n) { e.sigs.insert(e.sigs.end(), s, s + n); }, e.whole.get());
            // Kept only when what was read is the file as written, all of it.
            if (got == size && ::fstat(fd, &now) == 0 && SigCache::key_of(now) == e.key) sigs_kept.put(path, std::move(e));
        }
        ::close(fd);
    }

    void send_manifest() {
        std::string f;
        proto::Writer w(f);
        std::string body;
        proto::Writer bw(body);
        size_t count = 0;
        auto flush = [&] {
            if (!count) return;
            w.begin(Msg::Manifest);
            w.varint(count);
            w.raw(body);
            w.finish();
            send(f);
            f.clear();
            body.clear();
            count = 0;
        };
        for (auto &[p, rec] : index.records()) {
            bw.entry(rec.entry);
            if (++count >= 8192 || body.size() > (1u << 20)) flush();
        }
        flush();
        w.begin(Msg::ManifestEnd);
        w.u64le(index.digest());
        w.finish();
        send(f);
    }

    // Reads what is available and handles every complete frame. False: the session ended.
    bool read_session() {
        size_t old = rbuf.size();
        size_t want = 1u << 20;
        rbuf.resize(old + want);
        ssize_t n = ::recv(sock, rbuf.data() + old, want, MSG_DONTWAIT);
        if (n <= 0) {
            rbuf.resize(old);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
            return false;
        }
        rbuf.resize(old + static_cast<size_t>(n));
        proto::Frame fr;
        for (;;) {
            size_t used = proto::parse_frame(std::string_view(rbuf).substr(rpos), proto::kMaxFrame, fr);
            if (!used) break;
            handle(fr);
            rpos += used;
        }
        if (rpos == rbuf.size()) {
            rbuf.clear();
            rpos = 0;
        } else if (rpos > (4u << 20)) {
            rbuf.erase(0, rpos);
            rpos = 0;
        }
        return true;
    }

    void run() {
        std::vector<pollfd> fds;
        for (;;) {
            fds.clear();
            fds.push_back({stop_wake.fd(), POLLIN, 0});
            fds.push_back({listen_fd, POLLIN, 0});
            int si = -1, wi = -1;
            if (sock >= 0) {
                si = static_cast<int>(fds.size());
                fds.push_back({sock, POLLIN, 0});
            }
            // A send session's own writes are in the index already: its watcher is not read
            // meanwhile (reading and handling an event per write would cost the session's
            // thread), and what piles up is read at the next HELLO (an overflow of the
            // kernel's queue, in a session that wrote many files, costs a full scan there).
            if (watcher && (sock < 0 || mode == proto::Mode::TwoWay)) {
                wi = static_cast<int>(fds.size());
                fds.push_back({watcher->fd(), POLLIN, 0});
            }
            size_t first_waiting = fds.size();
            for (auto &u : waiting) fds.push_back({u.fd, POLLIN, 0});
            int timeout = index_dirty ? 500 : -1;
            if (!waiting.empty()) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(waiting.front().deadline - Clock::now()).count();
                int w = static_cast<int>(std::max<long long>(left, 0) + 1);
                timeout = timeout < 0 ? w : std::min(timeout, w);
            }
            int rc = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout);
            if (rc < 0 && errno != EINTR) throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
            if (rc <= 0) {
                expire_waiting();
                if (index_dirty && Clock::now() - last_activity > std::chrono::milliseconds(400)) save_index();
                continue;
            }
            if (fds[0].revents) return;
            if (si >= 0 && fds[si].revents) {
                last_activity = Clock::now();
                bool alive = false;
                try {
                    alive = read_session();
                } catch (const proto::ProtocolError &e) {
                    log::warn(std::string("nhsyncd: protocol error, closing the session: ") + loggable(e.what()));
                    std::lock_guard wl(wmu);
                    send_error(sock, NH_EPROTOCOL, e.what());
                } catch (const std::exception &e) {
                    log::warn(std::string("nhsyncd: session ended: ") + loggable(e.what()));
                }
                if (!alive) {
                    log::info("nhsyncd: client disconnected");
                    end_session();
                }
            }
            if (wi >= 0 && watcher && fds[wi].revents) {
                if (sock >= 0 && mode == proto::Mode::TwoWay) {
                    // What is pushed updates the index path by path, but what is not sent
                    // (a path or link target the client would refuse) does not: the next
                    // HELLO scans everything, as a two-way session always did.
                    index_fresh = false;
                    last_activity = Clock::now();
                    try {
                        drain_watcher(true);
                    } catch (const std::exception &e) {
                        log::warn(std::string("nhsyncd: watch: ") + loggable(e.what()));
                        if (sock >= 0 && !dynamic_cast<const Error *>(&e)) end_session();
                    }
                } else {
                    collect_changes();  // kept for the next HELLO
                }
            }
            // The waiting connections polled are the first ones of `waiting`, in
            // order: only accept_new, below, adds to it (at the back).
            size_t i = first_waiting;
            for (auto it = waiting.begin(); it != waiting.end() && i < fds.size(); ++i) {
                if (fds[i].revents && read_waiting(*it))
                    it = waiting.erase(it);
                else
                    ++it;
            }
            expire_waiting();
            if (fds[1].revents) accept_new();
        }
    }

    void expire_waiting() {
        auto now = Clock::now();
        while (!waiting.empty() && waiting.front().deadline <= now) {
            ::close(waiting.front().fd);
            waiting.pop_front();
        }
    }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) { impl_->init(); }
Server::~Server() = default;
uint16_t Server::port() const { return net::local_port(impl_->listen_fd); }
void Server::run() { impl_->run(); }
void Server::stop() {
    impl_->stop_wake.signal();
}

}  // namespace nh::sync
