// The sync client's connection: connecting with backoff, the handshake and manifest, the
// server's frames and acknowledgements, and what a lost connection leaves to retry.
#include "sync/client_impl.hpp"

namespace nh::sync {

void Client::Impl::disconnect(int code, const std::string &why) {
    if (sock >= 0) ::close(sock);
    bool was_live = conn != Conn::Down;
    sock = -1;
    conn = Conn::Down;
    wbuf.clear();
    wpos = 0;
    rbuf.clear();
    rpos = 0;
    queue.clear();
    read_ahead_ops = 0;
    read_ahead_bytes = 0;
    queued_files.clear();
    inflight.clear();
    sent_marks.clear();
    round_encoded_bytes = round_sent_bytes = round_acked_bytes;
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
        // The round keeps what the server acknowledged; the rest is counted again when the
        // next connection's reconciling queues it (else a file would count twice in the totals).
        status.files_total = status.files_done;
        status.bytes_total = status.bytes_done = round_acked_bytes;
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

void Client::Impl::fatal(int code, const std::string &why) {
    {
        std::lock_guard l(mu);
        fatal_code = code;
    }
    disconnect(code, why);
    std::lock_guard l(mu);
    status.error_code = code;
    status.error = why;
}

void Client::Impl::try_connect() {
    try {
        sock = net::connect_tcp(net::parse_host_port(opt.address), opt.connect_timeout_ms);
    } catch (const Error &e) {
        disconnect(e.code(), e.what());
        return;
    }
    // Auto offers zstd always and compresses as the link's and the compressor's measured speeds
    // say (LinkMeter); until the link is measured, at level 1 whatever the address, with the
    // socket queueing little so that it is measured soon.
    bool zstd = opt.compression != Compression::Off;
    rung = opt.compression == Compression::Off ? 0
           : opt.compression == Compression::On ? std::max(link.start(), 1)
                                                : link.start();
    link.restart();
    link.at(rung);
    written = 0;
    link_since = Clock::now();
    sndbuf_small = zstd && !link.rate();
    probe_from = 0;
    int buf = sndbuf_small ? kProbeSndbuf : kSndbuf;
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
    w.varint((zstd ? uint64_t{proto::kFeatureZstd | proto::kFeatureZstdStream} : uint64_t{0}) |
             (opt.delta ? uint64_t{proto::kFeatureDelta} : uint64_t{0}));
    w.finish();
}

void Client::Impl::on_signatures(proto::Reader &r) {
    uint64_t seq = r.varint();
    uint64_t block = r.varint(), base_size = r.varint(), first = r.varint(), n = r.varint();
    if (!out.awaiting || seq != out.seq || first != (out.enc ? out.enc->received() : 0)) throw proto::ProtocolError("unexpected SIGNATURES");
    if (block > (1u << 20) || (base_size && !block) ||
        (out.enc && (block != out.enc->block() || base_size > out.enc->base_size())))
        throw proto::ProtocolError("SIGNATURES with a bad block size");
    uint64_t total = delta::block_count(base_size, static_cast<uint32_t>(block));
    if (n > delta::kSigsPerFrame || total > (uint64_t{1} << 22) || first + n > total)
        throw proto::ProtocolError("SIGNATURES with more blocks than the base has");
    std::vector<delta::BlockSig> sigs(n);
    for (auto &s : sigs) {
        auto b = r.raw(delta::kSigBytes);
        for (int i = 0; i < 4; ++i) s.weak |= uint32_t{static_cast<unsigned char>(b[i])} << (8 * i);
        for (int i = 0; i < 8; ++i) s.strong |= uint64_t{static_cast<unsigned char>(b[4 + i])} << (8 * i);
    }
    r.done();
    // Encoding starts with the first of them (see delta::Encoder); the rest follow.
    if (!out.enc) out.enc = std::make_unique<delta::Encoder>(out.fd, static_cast<uint32_t>(block), base_size);
    out.enc->add(sigs.data(), sigs.size(), base_size);
    if (out.enc->complete()) out.awaiting = false;
}

void Client::Impl::handle_frame(const proto::Frame &fr) {
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
        uint64_t features = r.varint();
        use_zstd = (features & proto::kFeatureZstd) != 0;
        use_stream = use_zstd && (features & proto::kFeatureZstdStream) != 0;
        use_delta = opt.delta && (features & proto::kFeatureDelta) != 0;
        // A new stream for a new connection (the server's decoder starts afresh too); its
        // parameters are set with the first block (compress_block).
        ZSTD_CCtx_reset(scctx, ZSTD_reset_session_and_parameters);
        stream_level = stream_window = 0;
        if (!use_zstd && sndbuf_small) grow_sndbuf();
        backoff_ms = 0;
        load_view(id);
        {
            std::lock_guard l(mu);
            status.error_code = 0;
            status.error.clear();
        }
        log::info("sync: connected to " + opt.address);
        if (view.digest() == welcome_digest && view.size()) {
            // The server's tree is the view: no manifest is needed.
            conn = Conn::Live;
            auto local = take_scan();
            if (!settle_unchanged(local)) {
                std::vector<local::Entry> remote;
                remote.reserve(view.size());
                for (auto &[p, rec] : view.records()) remote.push_back(rec.entry);
                for (auto &e : remote) view.set_state(e.path, view.find(e.path)->synced_state == kRemoteOnly ? kRemoteOnly : kConfirmed);
                reconcile(remote, std::move(local));
            }
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
        // A manifest means the trees are known to differ (a first sync, or changes on the
        // server): the comparison takes a scan made now, not the one made with the watches.
        first_scan.reset();
        reconcile(manifest, scan_local());
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
    case Msg::Signatures:
        on_signatures(r);
        return;
    case Msg::Resend: {
        uint64_t seq = r.varint();
        std::string path(r.str(proto::kMaxPath));
        r.done();
        // The server's copy changed while our delta was applied to it: the file goes whole.
        log::info("sync: '" + proto::loggable(path) + "' changed on the server during a delta; sending it whole");
        whole_only.insert(path);
        if (auto e = tree->stat(path); e && e->type == Type::File) push_upsert(*e, true);
        // A flush that waited for the delta waits for the whole file instead.
        std::lock_guard l(mu);
        if (flush_epoch == epoch && flush_target >= seq) flush_target = std::max(flush_target, last_seq);
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

void Client::Impl::finish_initial() {
    if (need_full) full_local_diff();
    // Answer flushes waiting for the connection.
    resolve_flushes();
}

void Client::Impl::on_ack(uint64_t seq) {
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
            if (auto *r = view.find(it->first); r && r->synced_state == kPending) view.set_state(it->first, kConfirmed);
            it = pending_seq.erase(it);
        } else {
            ++it;
        }
    }
    view_dirty = true;
    std::lock_guard l(mu);
    status.files_done += files;
    round_acked_bytes += bytes;
    status.files_synced += files;
    if (status.files_done > status.files_total) status.files_total = status.files_done;
    if (inflight.empty() && queue.empty()) {
        status.files_done = status.files_total = 0;
        status.bytes_total = round_acked_bytes = round_encoded_bytes = round_sent_bytes = 0;
        sent_marks.clear();
    }
    status.bytes_done = bytes_sent_in_round();
}

void Client::Impl::read_socket() {
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

}  // namespace nh::sync
