// The sync client: the public API, events and status, the view and its persistence, and the
// engine loop. The engine's other parts are in client_connection.cpp, client_queue.cpp and
// client_apply.cpp (see client_impl.hpp).
#include "sync/client_impl.hpp"

#include <dirent.h>

namespace nh::sync {

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

}  // namespace

Status Client::Impl::snapshot() {
    std::lock_guard l(mu);
    return status;
}

void Client::Impl::emit(EventType type, std::string path, std::string detail, int code) {
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

State Client::Impl::compute_state() {
    if (fatal_code) return State::Error;
    if (paused) return State::Paused;
    if (conn == Conn::Down) return status.reconnects || epoch ? State::Disconnected : State::Connecting;
    if (conn == Conn::Handshake) return State::Connecting;
    if (conn == Conn::Manifest || !queue.empty() || !inflight.empty() || out.fd >= 0 || uncommitted) return State::Syncing;
    return State::Idle;
}

void Client::Impl::mark_encoded(uint64_t file_bytes) {
    round_encoded_bytes += file_bytes;
    sent_marks.emplace_back(written + (wbuf.size() - wpos), round_encoded_bytes);
}

uint64_t Client::Impl::bytes_sent_in_round() {
    if (sock >= 0 && !sent_marks.empty()) {
        long queued = net::unacked_bytes(sock);  // < 0: unknown; what was handed over counts
        uint64_t taken = written - std::min<uint64_t>(written, queued > 0 ? static_cast<uint64_t>(queued) : 0);
        while (!sent_marks.empty() && sent_marks.front().first <= taken) {
            round_sent_bytes = sent_marks.front().second;
            sent_marks.pop_front();
        }
    }
    return std::min(status.bytes_total, std::max(round_acked_bytes, round_sent_bytes));
}

void Client::Impl::publish(bool force_progress) {
    State s = compute_state();
    bool state_changed;
    bool progress = false;
    {
        std::lock_guard l(mu);
        state_changed = s != status.state;
        status.state = s;
        status.bytes_done = bytes_sent_in_round();
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

void Client::Impl::release_memory() {
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
    platform::trim_heap();
}

void Client::Impl::compact_view() {
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
        platform::trim_heap();
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

void Client::Impl::file_error(const std::string &path, int code, const std::string &msg) {
    {
        std::lock_guard l(mu);
        status.file_errors++;
    }
    log::warn("sync: '" + proto::loggable(path) + "': " + proto::loggable(msg));
    emit(EventType::FileError, path, msg, code);
}

std::string Client::Impl::state_prefix() const {
    std::string dir = opt.state_dir.empty() ? default_state_dir() : opt.state_dir;
    char real[PATH_MAX];
    std::string abs = ::realpath(root.c_str(), real) ? std::string(real) : root;
    return dir + "/" + hex64(proto::fnv1a(abs)) + "-";
}

void Client::Impl::start_preload() {
    std::string prefix = state_prefix();
    size_t slash = prefix.rfind('/');
    std::string dir = prefix.substr(0, slash), stem = prefix.substr(slash + 1);
    DIR *d = ::opendir(dir.c_str());
    if (!d) return;  // no state yet: nothing to read ahead
    int64_t newest = -1;
    while (struct dirent *e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (!n.starts_with(stem) || !n.ends_with(".index")) continue;
        struct stat st;
        if (::fstatat(::dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
        int64_t t = local::time_ns(st.st_mtim);
        if (t > newest) {
            newest = t;
            preload_file = dir + "/" + std::string(n);
        }
    }
    ::closedir(d);
    if (preload_file.empty()) return;
    try {
        preload_thread = std::thread([this] {
            auto t0 = Clock::now();
            preloaded = TrackedIndex::load(preload_file);
            log::debug("sync: read " + std::to_string(preloaded->size()) + " index entries ahead in " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()) + " ms");
        });
    } catch (const std::system_error &) {
        preload_file.clear();  // no thread to spare: load_view reads it when WELCOME names it
    }
}

void Client::Impl::join_preload() {
    if (preload_thread.joinable()) preload_thread.join();
}

void Client::Impl::load_view(const std::string &id) {
    if (id == server_id) return;
    server_id = id;
    std::string prefix = state_prefix();
    mkdir_p(prefix.substr(0, prefix.rfind('/')));
    std::string safe_id;
    for (char c : id) safe_id.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    state_file = prefix + safe_id + ".index";
    join_preload();
    if (preloaded && preload_file == state_file)
        view = std::move(*preloaded);
    else
        view = TrackedIndex::load(state_file);
    preloaded.reset();
    unacked_deletes.clear();
    take_unacked_deletes();
    view_dirty = false;
}

void Client::Impl::take_unacked_deletes() {
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

void Client::Impl::remember_delete(const std::string &path, bool recursive, uint64_t seq) {
    if (recursive) {
        for (auto &rec : view.subtree(path)) unacked_deletes.insert_or_assign(rec.entry.path, UnackedDelete{rec, seq});
    } else if (auto *r = view.find(path)) {
        unacked_deletes.insert_or_assign(path, UnackedDelete{*r, seq});
    }
}

void Client::Impl::save_view() {
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

void Client::Impl::handle_commands(bool &stop) {
    wakeup.drain();
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

void Client::Impl::run() {
    try {
        start_preload();
        rules = local::IgnoreRules::build(root, opt.ignore);
        tree = std::make_unique<ConfinedTree>(root);
        // Hello first: the server reads its tree while the watches are being set up and the
        // tree scanned here (in one walk: each directory's watch before its listing, so no
        // change slips between them), and the index is read on another thread meanwhile.
        try_connect();
        if (sock >= 0) pump_output();
        if (opt.watch) {
            auto t0 = Clock::now();
            watcher = std::make_unique<local::Watcher>(root, rules, first_scan);
            log::debug("sync: watching " + std::to_string(watcher->watch_count()) + " directories and scanned " +
                       (first_scan ? std::to_string(first_scan->size()) : std::string("no")) + " entries in " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()) + " ms");
        } else {
            // One-shot: the tree as this walk finds it, nothing watched (an unreadable directory
            // is the first comparison's error, met in its own scan).
            try {
                first_scan = local::scan(root, rules);
            } catch (const Error &e) {
                if (e.code() != NH_EIO) throw;
            }
        }
    } catch (const Error &e) {
        join_preload();
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
            fds[nfds++] = {wakeup.fd(), POLLIN, 0};
            int wi = -1;
            if (watcher) {
                wi = nfds;
                fds[nfds++] = {watcher->fd(), POLLIN, 0};
            }
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
            // Bytes still in the socket: the progress follows them out.
            if (!sent_marks.empty() && (timeout < 0 || timeout > 100)) timeout = 100;
            int rc = ::poll(fds, static_cast<nfds_t>(nfds), timeout);
            if (rc < 0 && errno != EINTR) throw Error(NH_EIO, std::string("poll: ") + std::strerror(errno));
            if (rc == 0 && view_dirty && inflight.empty() && queue.empty()) save_view();
            if (fds[0].revents) handle_commands(stop);
            if (stop) break;
            if (wi >= 0 && fds[wi].revents) {
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
    join_preload();
    save_view();
    {
        std::lock_guard l(mu);
        status.state = State::Stopped;
        stopped = true;
    }
    cv.notify_all();
    emit(EventType::State);
}

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
    impl_->cctx = ZSTD_createCCtx();
    impl_->scctx = ZSTD_createCCtx();
    impl_->dctx = ZSTD_createDCtx();
    if (!impl_->cctx || !impl_->scctx || !impl_->dctx) throw Error(NH_ENOMEM, "cannot create the sync engine");
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
