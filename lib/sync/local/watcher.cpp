// The recursive inotify watcher. One watch per non-ignored directory; the
// maps wd <-> relative path are kept in step with creates, deletes and moves.
#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <unordered_map>

#include "common/error.hpp"
#include "common/log.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {

namespace detail {
namespace {
std::atomic<AddWatchFn> g_add_watch{nullptr};

std::string read_proc_value(const char *file) {
    std::ifstream in(file);
    std::string v;
    if (!(in >> v)) v = "unknown";
    return v;
}
}  // namespace

void set_add_watch_for_testing(AddWatchFn fn) { g_add_watch.store(fn); }

std::string watch_error_message(int err, const std::string &dir) {
    if (err == ENOSPC) {
        return "cannot watch " + dir +
               ": the inotify watch limit is reached (fs.inotify.max_user_watches = " +
               read_proc_value("/proc/sys/fs/inotify/max_user_watches") +
               ", shared by every program of this user). Raise it with "
               "'sudo sysctl fs.inotify.max_user_watches=524288' (make it permanent with "
               "'echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/60-inotify.conf'), "
               "or ignore large directories such as node_modules so they are not watched";
    }
    if (err == EMFILE) {
        return "cannot create an inotify instance: the limit fs.inotify.max_user_instances = " +
               read_proc_value("/proc/sys/fs/inotify/max_user_instances") +
               " is reached, or the process is out of file descriptors. Raise it with "
               "'sudo sysctl fs.inotify.max_user_instances=1024'";
    }
    return "cannot watch " + dir + ": " + std::strerror(err);
}
}  // namespace detail

namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |
                              IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                              IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

int add_watch(int fd, const char *path, uint32_t mask) {
    if (auto fn = detail::g_add_watch.load()) return fn(fd, path, mask);
    return ::inotify_add_watch(fd, path, mask);
}

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
    int fd = -1;
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
            if (remove) ::inotify_rm_watch(fd, it->second);
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
    void add_tree(const std::string &dir, bool report) {
        std::string path = full(dir);
        int wd = add_watch(fd, path.c_str(), kDirMask);
        if (wd < 0) {
            int err = errno;
            if (err == ENOENT || err == ENOTDIR || err == ELOOP) return;  // gone already
            if (err == EACCES || err == EPERM) return;  // unreadable: nothing in it can be synced
            fail(NH_EIO, detail::watch_error_message(err, path));
        }
        if (auto old = path_to_wd.find(dir); old != path_to_wd.end() && old->second != wd)
            wd_to_path.erase(old->second);
        wd_to_path[wd] = dir;
        path_to_wd[dir] = wd;
        if (report && !dir.empty()) emit(dir, Change::Kind::Modified);

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
        for (auto &[wd, path] : wd_to_path) ::inotify_rm_watch(fd, wd);
        wd_to_path.clear();
        path_to_wd.clear();
        add_tree("", false);
    }

    void handle(const struct inotify_event &ev, bool &overflow) {
        if (ev.mask & IN_Q_OVERFLOW) {
            overflow = true;
            return;
        }
        auto it = wd_to_path.find(ev.wd);
        if (it == wd_to_path.end()) return;  // a watch we already dropped
        if (ev.mask & IN_IGNORED) {
            auto p = path_to_wd.find(it->second);
            if (p != path_to_wd.end() && p->second == ev.wd) path_to_wd.erase(p);
            wd_to_path.erase(it);
            return;
        }
        if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
            // The parent's IN_DELETE / IN_MOVED_FROM covers subdirectories;
            // for the root itself there is no parent: everything must be rescanned.
            if (it->second.empty()) overflow = true;
            return;
        }
        if (ev.len == 0) return;
        std::string path = join(it->second, ev.name);
        bool is_dir = ev.mask & IN_ISDIR;
        if (rules.ignored_in_parent(path, is_dir)) return;

        if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
            if (is_dir) forget_tree(path, ev.mask & IN_MOVED_FROM);
            emit(std::move(path), Change::Kind::Removed);
        } else if (is_dir && (ev.mask & (IN_CREATE | IN_MOVED_TO))) {
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
    impl_->fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (impl_->fd < 0) fail(NH_EIO, detail::watch_error_message(errno, impl_->root));
    struct stat st;
    errno = 0;
    if (::stat(impl_->root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        std::string why = errno ? std::strerror(errno) : "not a directory";
        ::close(impl_->fd);
        fail(NH_EIO, "cannot watch " + impl_->root + ": " + why);
    }
    try {
        impl_->add_tree("", false);
    } catch (...) {
        ::close(impl_->fd);
        throw;
    }
}

Watcher::~Watcher() {
    if (impl_ && impl_->fd >= 0) ::close(impl_->fd);
}

Watcher::Watcher(Watcher &&) noexcept = default;
Watcher &Watcher::operator=(Watcher &&other) noexcept {
    if (this != &other) {
        if (impl_ && impl_->fd >= 0) ::close(impl_->fd);
        impl_ = std::move(other.impl_);
    }
    return *this;
}

int Watcher::fd() const { return impl_->fd; }

size_t Watcher::watch_count() const { return impl_->wd_to_path.size(); }

std::vector<Change> Watcher::read() {
    Impl &w = *impl_;
    w.changes.clear();
    w.last_kind.clear();
    bool overflow = false;
    alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(w.fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            fail(NH_EIO, std::string("reading inotify events: ") + std::strerror(errno));
        }
        if (n == 0) break;
        for (char *p = buf; p < buf + n;) {
            auto *ev = reinterpret_cast<struct inotify_event *>(p);
            if (!overflow) w.handle(*ev, overflow);
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
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
