// The sync client's applier of the server's changes in two-way mode: files, directories, links,
// deletes and renames made on the server, written into the local tree unless the local side
// changed them meanwhile.
#include "sync/client_impl.hpp"

namespace nh::sync {

bool Client::Impl::local_unchanged(std::string_view path) {
    auto l = tree->stat(path);
    auto *r = view.find(path);
    if (!l) return !r || r->synced_state == kRemoteOnly;
    return r && r->synced_state == kConfirmed && proto::same_remote(r->entry, *l);
}

void Client::Impl::apply_remote_entry(const local::Entry &m) {
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

void Client::Impl::apply_remote_delete(const std::string &path) {
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

std::string Client::Impl::decode(proto::Reader &r, size_t max_raw) { return proto::decode_block(r, max_raw, dctx); }

void Client::Impl::handle_remote_op(const proto::Frame &fr) {
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

}  // namespace nh::sync
