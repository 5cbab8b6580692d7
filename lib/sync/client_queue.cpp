// The sync client's outgoing queue: planning what to send (the local diff, the three-way
// reconciliation after connecting), encoding operations and streamed files onto the wire under
// flow control, and turning the local watcher's changes into operations.
#include "sync/client_impl.hpp"

namespace nh::sync {

namespace {

constexpr size_t kOutHigh = 4u << 20;
constexpr size_t kBatchOps = 4096;
constexpr uint64_t kBatchBytes = 32u << 20;

bool under(std::string_view path, std::string_view dir) {
    return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

}  // namespace

Expect Client::Impl::expect_of(std::string_view path) const {
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

void Client::Impl::enqueue(Op op) {
    op.seq = next_seq++;
    last_seq = op.seq;
    const std::string &path = op.e.path;
    if (op.kind == Op::Delete || op.kind == Op::Rename) {
        // A file send queued before this op reads whatever is there when it goes, and this op
        // then removes it: a later change of the path needs a send of its own, after this op.
        const std::string &gone = op.kind == Op::Delete ? path : op.from;
        queued_files.erase(gone);
        if (op.kind == Op::Rename || op.recursive)
            for (auto &rec : view.subtree(gone)) queued_files.erase(rec.entry.path);
    }
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

void Client::Impl::push_upsert(const local::Entry &l, bool force) {
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

void Client::Impl::push_delete(const std::string &path) {
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

std::optional<local::Entry> Client::Impl::local_entry(const std::string &path) {
    try {
        return tree->stat(path);
    } catch (const Error &) {
        return std::nullopt;
    }
}

bool Client::Impl::still_inside(const std::string &from, const std::string &to) {
    for (auto &rec : view.subtree(from)) {
        if (rec.entry.path == from || rec.synced_state == kRemoteOnly) continue;
        auto l = local_entry(to + rec.entry.path.substr(from.size()));
        if (l && proto::same_remote(rec.entry, *l)) return true;
    }
    return false;
}

void Client::Impl::execute(std::vector<std::string> removed, std::vector<local::Entry> upserts, bool force) {
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
            if (!still_inside(it->second, u.path)) continue;
            Op op{};
            op.kind = Op::Rename;
            op.from = it->second;
            op.e = u;
            op.expect = expect_of(it->second);
            enqueue(std::move(op));
            by_ino.erase(it);
            // What the directory held and no longer does goes on the server too (what is
            // there and changed is among the upserts: the scan or the watcher lists it).
            for (auto &rec : view.subtree(u.path)) {
                const std::string &p = rec.entry.path;
                if (p == u.path || rec.synced_state == kRemoteOnly || !view.find(p) || local_entry(p)) continue;
                push_delete(p);
            }
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

std::vector<local::Entry> Client::Impl::scan_local() {
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

std::vector<local::Entry> Client::Impl::take_scan() {
    if (!first_scan || need_full) {
        // Something changed since that walk (the watcher reported it before WELCOME): the
        // first comparison takes a fresh scan, as without the early one.
        first_scan.reset();
        return scan_local();
    }
    auto v = std::move(*first_scan);
    first_scan.reset();
    return v;
}

bool Client::Impl::settle_unchanged(const std::vector<local::Entry> &local) {
    if (!unacked_deletes.empty() || local.size() != view.size()) return false;
    std::vector<const local::Entry *> refresh;  // unchanged for the server; inode or a directory's mtime moved
    auto it = view.records().begin();
    for (auto &l : local) {
        auto &r = (it++)->second;
        if (r.entry.path != l.path || r.synced_state != kConfirmed || !proto::same_remote(r.entry, l)) return false;
        if (!(r.entry == l)) refresh.push_back(&l);
    }
    for (auto *l : refresh) view.put(*l, kConfirmed);
    return true;
}

void Client::Impl::full_local_diff() {
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

void Client::Impl::reconcile(const std::vector<local::Entry> &remote, std::vector<local::Entry> local) {
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
            if (!deleted_top.empty() && under(p, deleted_top)) {
                // Goes with its directory (one delete), unless that directory turns out to
                // be moved: kept in the view, so execute() can tell by what it holds.
                view.put(*m, b_ok ? kConfirmed : kRemoteOnly);
                continue;
            }
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
    platform::trim_heap();  // the scans' peak need not stay resident while watching
    for (auto &p : fetch) {
        proto::Writer w(wbuf);
        w.begin(Msg::Fetch);
        w.str(p);
        w.finish();
    }
}

void Client::Impl::compress_block(std::string_view data, std::string &z, bool stream) {
    int level = LinkMeter::kLevel[static_cast<size_t>(rung)];
    auto t0 = Clock::now();
    if (!stream) {
        z.resize(ZSTD_compressBound(data.size()));
        size_t n = ZSTD_compressCCtx(cctx, z.data(), z.size(), data.data(), data.size(), level);
        if (ZSTD_isError(n)) throw Error(NH_ERROR, std::string("zstd: ") + ZSTD_getErrorName(n));
        z.resize(n);
    } else {
        z.resize(ZSTD_compressBound(data.size()) + 64);
        ZSTD_outBuffer o{z.data(), z.size(), 0};
        auto run = [&](ZSTD_inBuffer &src, ZSTD_EndDirective how) {
            size_t left;
            do {
                left = ZSTD_compressStream2(scctx, &o, &src, how);
                if (ZSTD_isError(left)) throw Error(NH_ERROR, std::string("zstd: ") + ZSTD_getErrorName(left));
                if (left && o.pos == o.size) {
                    z.resize(z.size() * 2);
                    o.dst = z.data();
                    o.size = z.size();
                }
            } while (left);
        };
        // The largest window the server accepts, with long-distance matching (a tree repeats
        // itself far apart: vendored copies, generated files), once the link was measured:
        // some 10 MiB, which a client that soon finds out it is on a fast link and goes raw
        // never takes.
        int window = link.rate() ? proto::kStreamWindowLogMax : kFirstWindowLog;
        if (level != stream_level || window != stream_window) {
            // Parameters apply from the start of a frame: the open one (if any) is ended, and
            // the decoder goes on to the next frame in the same stream.
            if (stream_level) {
                ZSTD_inBuffer none{nullptr, 0, 0};
                run(none, ZSTD_e_end);
            }
            ZSTD_CCtx_setParameter(scctx, ZSTD_c_compressionLevel, level);
            ZSTD_CCtx_setParameter(scctx, ZSTD_c_windowLog, window);
            ZSTD_CCtx_setParameter(scctx, ZSTD_c_enableLongDistanceMatching, window > kFirstWindowLog ? 1 : 0);
            stream_level = level;
            stream_window = window;
        }
        ZSTD_inBuffer src{data.data(), data.size(), 0};
        run(src, ZSTD_e_flush);
        z.resize(o.pos);
    }
    if (link.compressed(rung, data.size(), z.size(), Clock::now() - t0)) set_rung();
}

void Client::Impl::put_data(Msg type, uint64_t seq, std::string_view data, proto::Writer &w) {
    (void)type;
    (void)seq;
    if (use_zstd && rung > 0 && data.size() >= 512) {
        // One stream across the connection: a small file compresses against those before
        // it. What went into the stream is sent compressed whatever it saved, or the
        // server's decoder would fall out of step. A block compressed alone goes raw unless
        // that saved 10 %.
        std::string z;
        compress_block(data, z, use_stream);
        if (use_stream || z.size() < data.size() - data.size() / 10) {
            w.u8(static_cast<uint8_t>(use_stream ? proto::Encoding::ZstdStream : proto::Encoding::Zstd));
            w.varint(data.size());
            w.raw(z);
            return;
        }
    }
    w.u8(static_cast<uint8_t>(proto::Encoding::Raw));
    w.varint(data.size());
    w.raw(data);
}

void Client::Impl::write_commit() {
    proto::Writer w(wbuf);
    w.begin(Msg::Commit);
    w.varint(last_produced);
    w.finish();
    uncommitted = false;
    ops_since_commit = 0;
    bytes_since_commit = 0;
}

bool Client::Impl::delta_for(const Op &op, const local::Entry &e) {
    if (whole_only.erase(op.e.path)) return false;
    if (!use_delta || e.size <= delta::kMinSize || op.expect.kind == Expect::Kind::Absent) return false;
    // Is: the server has what we last sent; a file is a base. Any (not acknowledged yet): it
    // may have one, and answers with no signatures if not.
    return op.expect.kind == Expect::Kind::Any || (op.expect.entry.type == Type::File && op.expect.entry.size);
}

void Client::Impl::produce_delta(proto::Writer &w) {
    struct Sink : delta::Encoder::Sink {
        Client::Impl &c;
        proto::Writer &w;
        Sink(Client::Impl &cl, proto::Writer &wr) : c(cl), w(wr) {}
        void copy(uint64_t first, uint64_t count) override {
            w.begin(Msg::DeltaCopy);
            w.varint(c.out.seq);
            w.varint(first);
            w.varint(count);
            w.finish();
        }
        void literal(std::string_view data) override {
            w.begin(Msg::FileData);
            w.varint(c.out.seq);
            c.put_data(Msg::FileData, c.out.seq, data, w);
            w.finish();
            c.bytes_since_commit += data.size();
        }
    } sink(*this, w);
    uint64_t from = out.enc->position();
    bool more = out.enc->step(sink, 4u << 20);
    mark_encoded(out.enc->position() - from);
    if (more) return;
    ::close(out.fd);
    out.fd = -1;
    auto sum = out.enc->digest();
    out.enc.reset();
    w.begin(Msg::DeltaEnd);
    w.varint(out.seq);
    w.svarint(out.e.mtime_ns);
    w.raw(std::string_view(reinterpret_cast<const char *>(sum.data()), sum.size()));
    w.finish();
}

void Client::Impl::read_ahead() {
    read_ahead_ops = std::min(read_ahead_ops, queue.size());
    if (!read_ahead_ops) read_ahead_bytes = 0;  // none ahead
    while (read_ahead_ops < queue.size() && read_ahead_bytes < kReadAhead) {
        const Op &next = queue[read_ahead_ops++];
        if (next.kind != Op::File) continue;
        read_ahead_bytes += next.e.size;
        int fd = tree->open_read(next.e.path);
        if (fd < 0) continue;  // its turn reports what is wrong
        // No more of a large file than the window: the rest is read as it is sent.
        ::posix_fadvise(fd, 0, static_cast<off_t>(std::min(next.e.size, kReadAhead)), POSIX_FADV_WILLNEED);
        ::close(fd);
    }
}

void Client::Impl::produce_one() {
    proto::Writer w(wbuf);
    if (out.enc) {
        produce_delta(w);
        return;
    }
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
            mark_encoded(static_cast<uint64_t>(n));
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
    if (read_ahead_ops) {
        --read_ahead_ops;
        if (op.kind == Op::File) read_ahead_bytes -= std::min(read_ahead_bytes, op.e.size);
    }
    if (op.kind == Op::File) read_ahead();
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
            mark_encoded(data.size());
        } else {
            bool by_delta = delta_for(op, e);
            w.begin(by_delta ? Msg::DeltaBegin : Msg::FileBegin);
            w.varint(op.seq);
            w.str(path);
            w.varint(e.mode & 0777);
            w.expect(op.expect);
            w.finish();
            out.fd = fd;
            out.seq = op.seq;
            out.off = 0;
            out.e = e;
            out.awaiting = by_delta;
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

void Client::Impl::pump_output() {
    if (sock < 0) return;
    for (;;) {
        if (conn == Conn::Live && !paused) {
            while (wbuf.size() - wpos < out_high()) {
                if (out.fd >= 0 && out.blocked()) break;  // it needs signatures not in yet
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
        measure_link();
        ssize_t n = ::send(sock, wbuf.data() + wpos, wbuf.size() - wpos, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            throw Error(NH_ECONNECT, std::string("send failed: ") + std::strerror(errno));
        }
        wpos += static_cast<size_t>(n);
        written += static_cast<uint64_t>(n);
        measure_link();
        if (wpos > (8u << 20)) {
            wbuf.erase(0, wpos);
            wpos = 0;
        }
    }
}

void Client::Impl::measure_link() {
    auto now = Clock::now();
    long queued = 0;
    bool measured = opt.compression != Compression::Off && use_zstd &&
                    link.sample(now, written, queued = net::unacked_bytes(sock));
    if ((measured || now - link_traced >= std::chrono::milliseconds(50)) && log::enabled(NH_LOG_DEBUG)) {
        // The meter over time (NH_LOG=debug): what each window measured, the socket every 50 ms.
        link_traced = now;
        auto mb = [](std::optional<double> v) { return v ? std::to_string(*v / 1e6).substr(0, 6) : "-"; };
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - link_since).count();
        auto c = link.carried();
        log::debug(std::string("sync: link ") + (measured ? "window " : "") + "at " + std::to_string(ms) +
                   " ms: rung " + std::to_string(rung) + (link.trying_raw() ? " (trying raw)" : "") +
                   ", written " + std::to_string(written) + ", queued " + std::to_string(queued) + ", drain " +
                   mb(link.rate()) + " MB/s, carried raw " + mb(c.raw) + " compressed " + mb(c.compressed) +
                   " MB/s" + (link.starved() ? ", starved" : ""));
    }
    if (sndbuf_small && (measured || written - probe_from > kProbeBytes) && !link.trying_raw()) grow_sndbuf();
    if (measured) set_rung();
}

size_t Client::Impl::out_high() const {
    // Encoded ahead of the socket: what is encoded goes at the compression of the moment, so
    // on a slow link (or one not measured yet) only about a quarter second of it.
    if (sndbuf_small) return kProbeSndbuf;
    if (auto r = link.rate()) return std::clamp(static_cast<size_t>(*r / 4), size_t{kProbeSndbuf}, kOutHigh);
    return kOutHigh;
}

void Client::Impl::grow_sndbuf() {
    // Measured (or fast enough not to be): the socket may now queue as much as it takes to
    // keep a fast link busy.
    int buf = kSndbuf;
    ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sndbuf_small = false;
}

void Client::Impl::set_rung() {
    if (opt.compression == Compression::Off || !use_zstd) return;
    int to = link.next(rung);
    if (opt.compression == Compression::On) to = std::max(to, 1);
    if (to == rung) return;
    rung = to;
    link.at(rung, written + (wbuf.size() - wpos));
    if (!rung && !sndbuf_small) {
        // Raw to find out whether the link is faster than the compressor: a small socket
        // buffer again, so that a link slower than that is found out before it took much.
        int buf = kProbeSndbuf;
        ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
        sndbuf_small = true;
        probe_from = written;
    }
    auto mb = [](double v) { return std::to_string(static_cast<long>(v / 1e6)); };
    std::string why = link.rate() ? "sync: the link takes " + mb(*link.rate()) + " MB/s"
                                  : std::string("sync: the link keeps up with the client");
    int shown = std::max(to, 1);
    if (auto c = link.codec(shown))
        why += ", zstd level " + std::to_string(LinkMeter::kLevel[static_cast<size_t>(shown)]) + " " + mb(c->speed) +
               " MB/s at ratio " + std::to_string(c->ratio).substr(0, 4);
    log::info(why + (to ? ": compression at level " + std::to_string(LinkMeter::kLevel[static_cast<size_t>(to)])
                        : std::string(": compression off")));
}

bool Client::Impl::want_write() const {
    return wpos < wbuf.size() ||
           (conn == Conn::Live && !paused && (out.fd >= 0 ? !out.blocked() : !queue.empty() || uncommitted));
}

void Client::Impl::process_changes(const std::vector<local::Change> &changes) {
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
        if (watcher) watcher->set_rules(rules);
        need_full = true;
    }
    if (need_full) {
        full_local_diff();
        return;
    }
    for (auto &p : seen) {
        std::optional<local::Entry> l = local_entry(p);
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

void Client::Impl::resolve_flushes() {
    if (conn != Conn::Live || paused) return;
    std::lock_guard l(mu);
    if (flush_resolved < flush_req) {
        flush_resolved = flush_req;
        flush_target = last_seq;
        flush_epoch = epoch;
    }
}

}  // namespace nh::sync
