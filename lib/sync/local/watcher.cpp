// The recursive watcher over the platform's directory watches (inotify on Linux). One watch
// per non-ignored directory; the maps watch <-> relative path are kept in step with creates,
// deletes and moves.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>

#include "common/error.hpp"
#include "platform/dir_watch.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {

namespace {

std::string join(std::string_view dir, std::string_view name) {
    std::string p;
    p.reserve(dir.size() + 1 + name.size());
    if (!dir.empty()) {
        p.append(dir);
        p.push_back('/');
    }
    p.append(name);
    return p;
}

}  // namespace

struct Watcher::Impl {
    std::string root;
    IgnoreRules rules;
    platform::DirWatch dirs;
    std::unordered_map<int, std::string> wd_to_path;
    std::map<std::string, int, std::less<>> path_to_wd;  // sorted: subtrees are ranges

    // Output of one read(): in order, with repeated (path, kind) pairs merged.
    std::vector<Change> changes;
    std::unordered_map<std::string, Change::Kind> last_kind;

    std::string full(std::string_view rel) const {
        return rel.empty() ? root : root + "/" + std::string(rel);
    }

    void emit(std::string path, Change::Kind kind) {
        if (kind == Change::Kind::Removed) {
            // A later Modified of anything (under) this path must not be merged
            // away with one from before the removal.
            last_kind.clear();
        } else if (auto it = last_kind.find(path); it != last_kind.end() && it->second == kind) {
            return;
        }
        last_kind[path] = kind;
        changes.push_back({std::move(path), kind});
    }

    // Forgets the watch of dir and of everything under it; with remove, also
    // asks the kernel to drop them (for a directory moved away: its watches
    // would otherwise keep reporting under the old path).
    void forget_tree(const std::string &dir, bool remove) {
        auto drop = [&](auto it) {
            if (remove) dirs.remove(it->second);
            wd_to_path.erase(it->second);
            return path_to_wd.erase(it);
        };
        if (auto it = path_to_wd.find(dir); it != path_to_wd.end()) drop(it);
        std::string prefix = dir + "/";
        for (auto it = path_to_wd.lower_bound(prefix);
             it != path_to_wd.end() && it->first.starts_with(prefix);)
            it = drop(it);
    }

    // Watches dir and every non-ignored directory below it, watch first and
    // list second, so nothing created meanwhile is missed. With report, dir
    // and everything found in it is emitted as Modified.
    // Watches dir alone; false when it is gone or unreadable (nothing in it can be synced).
    bool watch_dir(const std::string &dir) {
        std::string path = full(dir);
        int wd = dirs.add(path);
        if (wd < 0) {
            int err = -wd;
            if (err == ENOENT || err == ENOTDIR || err == ELOOP) return false;  // gone already
            if (err == EACCES || err == EPERM) return false;
            fail(NH_EIO, platform::DirWatch::error_message(err, path));
        }
        if (auto old = path_to_wd.find(dir); old != path_to_wd.end() && old->second != wd)
            wd_to_path.erase(old->second);
        wd_to_path[wd] = dir;
        path_to_wd[dir] = wd;
        return true;
    }

    void add_tree(const std::string &dir, bool report) {
        if (!watch_dir(dir)) return;
        if (report && !dir.empty()) emit(dir, Change::Kind::Modified);
        std::string path = full(dir);

        DIR *d = ::opendir(path.c_str());
        if (!d) return;  // vanished, or unreadable: its events still arrive
        std::vector<std::pair<std::string, bool>> children;
        while (struct dirent *e = ::readdir(d)) {
            const char *n = e->d_name;
            if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
            bool is_dir = e->d_type == DT_DIR;
            if (e->d_type == DT_UNKNOWN) {
                struct stat st;
                if (::fstatat(::dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                is_dir = S_ISDIR(st.st_mode);
            }
            std::string child = join(dir, n);
            if (rules.ignored_in_parent(child, is_dir)) continue;
            children.emplace_back(std::move(child), is_dir);
        }
        ::closedir(d);
        for (auto &[child, is_dir] : children) {
            if (is_dir)
                add_tree(child, report);
            else if (report)
                emit(std::move(child), Change::Kind::Modified);
        }
    }

    void rewatch_everything() {
        for (auto &[wd, path] : wd_to_path) dirs.remove(wd);
        wd_to_path.clear();
        path_to_wd.clear();
        add_tree("", false);
    }

    void handle(const platform::DirEvent &ev, bool &overflow) {
        using K = platform::DirEvent::Kind;
        if (ev.kind == K::Overflow) {
            overflow = true;
            return;
        }
        auto it = wd_to_path.find(ev.watch);
        if (it == wd_to_path.end()) return;  // a watch we already dropped
        if (ev.kind == K::Dropped) {
            auto p = path_to_wd.find(it->second);
            if (p != path_to_wd.end() && p->second == ev.watch) path_to_wd.erase(p);
            wd_to_path.erase(it);
            return;
        }
        if (ev.kind == K::SelfGone) {
            // The parent's Deleted / MovedFrom covers subdirectories; for the root itself
            // there is no parent: everything must be rescanned.
            if (it->second.empty()) overflow = true;
            return;
        }
        if (ev.name.empty()) return;
        std::string path = join(it->second, ev.name);
        if (rules.ignored_in_parent(path, ev.is_dir)) return;

        if (ev.kind == K::Deleted || ev.kind == K::MovedFrom) {
            if (ev.is_dir) forget_tree(path, ev.kind == K::MovedFrom);
            emit(std::move(path), Change::Kind::Removed);
        } else if (ev.is_dir && (ev.kind == K::Created || ev.kind == K::MovedTo)) {
            add_tree(path, true);
        } else {
            emit(std::move(path), Change::Kind::Modified);
        }
    }
};

Watcher::Watcher(std::string root, IgnoreRules rules) : impl_(std::make_unique<Impl>()) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    impl_->root = std::move(root);
    impl_->rules = std::move(rules);
    struct stat st;
    errno = 0;
    if (::stat(impl_->root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        std::string why = errno ? std::strerror(errno) : "not a directory";
        fail(NH_EIO, "cannot watch " + impl_->root + ": " + why);
    }
    impl_->add_tree("", false);
}

Watcher::Watcher(std::string root, IgnoreRules rules, std::optional<std::vector<Entry>> &scanned)
    : impl_(std::make_unique<Impl>()) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    impl_->root = std::move(root);
    impl_->rules = std::move(rules);
    scanned.reset();
    Impl &w = *impl_;
    try {
        scanned = scan(w.root, w.rules, nullptr, [&w](const std::string &dir) { w.watch_dir(dir); });
        return;
    } catch (const Error &e) {
        if (e.code() != NH_EIO) throw;
    }
    // Some directory could not be read (or the root is gone): watch what can be watched, as the
    // other constructor does (the watches set up so far stay), and leave the scan and its error
    // to the caller.
    scanned.reset();
    struct stat st;
    errno = 0;
    if (::stat(w.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        std::string why = errno ? std::strerror(errno) : "not a directory";
        fail(NH_EIO, "cannot watch " + w.root + ": " + why);
    }
    w.add_tree("", false);
}

Watcher::Watcher(std::string root, IgnoreRules rules, const std::function<void(const DirHook &)> &walk)
    : impl_(std::make_unique<Impl>()) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    impl_->root = std::move(root);
    impl_->rules = std::move(rules);
    Impl &w = *impl_;
    walk([&w](const std::string &dir) { w.watch_dir(dir); });
}

Watcher::~Watcher() = default;
Watcher::Watcher(Watcher &&) noexcept = default;
Watcher &Watcher::operator=(Watcher &&other) noexcept = default;

int Watcher::fd() const { return impl_->dirs.fd(); }

size_t Watcher::watch_count() const { return impl_->wd_to_path.size(); }

std::vector<Change> Watcher::read() {
    Impl &w = *impl_;
    w.changes.clear();
    w.last_kind.clear();
    bool overflow = false;
    w.dirs.read([&](const platform::DirEvent &ev) {
        if (!overflow) w.handle(ev, overflow);
    });
    if (overflow) {
        w.changes.clear();
        w.last_kind.clear();
        w.rewatch_everything();
        w.changes.push_back({"", Change::Kind::Overflow});
    }
    return std::move(w.changes);
}

void Watcher::set_rules(IgnoreRules rules) {
    Impl &w = *impl_;
    w.rules = std::move(rules);
    std::vector<std::string> dropped;
    for (auto &[path, wd] : w.path_to_wd)
        if (!path.empty() && w.rules.ignored(path, true)) dropped.push_back(path);
    for (auto &path : dropped)
        if (w.path_to_wd.count(path)) w.forget_tree(path, true);
    w.add_tree("", false);
}

}  // namespace nh::sync::local
