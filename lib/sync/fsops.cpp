#include "sync/fsops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "sync/protocol.hpp"

namespace nh::sync {
namespace {

[[noreturn]] void fail_errno(const std::string &what, std::string_view path, int err = errno) {
    throw Error(NH_EIO, what + " '" + std::string(path) + "': " + std::strerror(err));
}

std::string_view dirname_of(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

std::string_view basename_of(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

size_t depth_of(std::string_view path) { return static_cast<size_t>(std::count(path.begin(), path.end(), '/')); }

std::string read_link_at(int dirfd, const std::string &name, std::string_view shown) {
    std::string target(4097, '\0');
    ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
    if (n < 0) fail_errno("cannot read link", shown);
    target.resize(static_cast<size_t>(n));
    return target;
}

// Throws when a symlink at or below `name` (in dirfd; `from` relative to the
// root), whose target stays inside the root where it is, would lead outside
// it once moved to `to`. Only a move to a shallower depth can do that.
// The entries of the directory dirfd/name (not "." or ".."), read whole, with the directory kept
// open for calls relative to it (fd()). `keep` picks entries by their d_type where it is set.
struct DirListing {
    std::unique_ptr<DIR, int (*)(DIR *)> dir{nullptr, ::closedir};
    std::vector<std::string> names;
    int fd() const { return ::dirfd(dir.get()); }
};

template <class Keep>
DirListing list_dir_at(int dirfd, const std::string &name, const char *what, const std::string &path, Keep keep) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) fail_errno(what, path);
    DirListing l;
    l.dir.reset(::fdopendir(fd));
    if (!l.dir) {
        int err = errno;
        ::close(fd);
        fail_errno(what, path, err);
    }
    while (auto *de = ::readdir(l.dir.get())) {
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        if (keep(*de)) l.names.emplace_back(de->d_name);
    }
    return l;
}

void check_links_moved(int dirfd, const std::string &name, const std::string &from, const std::string &to) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // renameat reports it
    if (S_ISLNK(st.st_mode)) {
        auto target = read_link_at(dirfd, name, from);
        if (proto::check_link_target(from, target).empty() && !proto::check_link_target(to, target).empty())
            throw Error(NH_EINVAL, "refused: moving '" + from + "' to '" + to + "' would make its link target '" +
                                       target + "' lead outside the root");
        return;
    }
    if (!S_ISDIR(st.st_mode)) return;
    auto l = list_dir_at(dirfd, name, "cannot check the links in", from, [](const dirent &de) {
        return de.d_type == DT_LNK || de.d_type == DT_DIR || de.d_type == DT_UNKNOWN;
    });
    for (auto &n : l.names) check_links_moved(l.fd(), n, from + "/" + n, to + "/" + n);
}

// atime left alone, mtime set.
std::array<struct timespec, 2> mtime_times(int64_t mtime_ns) {
    std::array<struct timespec, 2> ts{};
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = mtime_ns / 1'000'000'000;
    ts[1].tv_nsec = mtime_ns % 1'000'000'000;
    if (ts[1].tv_nsec < 0) {
        ts[1].tv_nsec += 1'000'000'000;
        ts[1].tv_sec -= 1;
    }
    return ts;
}

bool same_time(const struct timespec &a, const struct timespec &b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

void close_pending(ConfinedTree::PendingFile &f) noexcept {
    if (f.fd >= 0) {
        ::close(f.fd);
        if (f.dir) ::unlinkat(f.dir->fd, f.tmp.c_str(), 0);
    }
    f.fd = -1;
    f.dir.reset();
}

// Removes dirfd/name and, if it is a directory, everything below it. Stops early (leaving the
// rest) once *cancel is set.
void remove_tree_at(int dirfd, const std::string &name, const std::atomic<bool> *cancel = nullptr) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
    if (errno != EISDIR && errno != EPERM) fail_errno("cannot remove", name);
    // Cached descriptors below here go stale; the caller forgets them after.
    {
        auto l = list_dir_at(dirfd, name, "cannot read directory to remove", name, [](const dirent &) { return true; });
        for (auto &n : l.names) {
            if (cancel && cancel->load()) break;
            remove_tree_at(l.fd(), n, cancel);
        }
    }
    if (cancel && cancel->load()) return;
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        fail_errno("cannot remove directory", name);
}

constexpr std::string_view kTrashPrefix = ".nocalhost-sync-trash.";

}  // namespace

// Deletes, one after the other, the trees renamed aside into the root.
struct ConfinedTree::Reaper {
    int root_fd;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> names;
    std::atomic<bool> stop{false};
    std::thread thread;

    explicit Reaper(int fd) : root_fd(fd) {
        // What an earlier process set aside and did not get to (best effort: the root is read
        // again at the next start).
        try {
            auto l = list_dir_at(root_fd, ".", "cannot read", ".", [](const dirent &de) {
                return std::string_view(de.d_name).starts_with(kTrashPrefix);
            });
            names.assign(l.names.begin(), l.names.end());
        } catch (const Error &) {
            // Left for the next start, as anything else this thread does not get to.
        }
        thread = std::thread([this] { run(); });
    }

    ~Reaper() {
        {
            // Under the lock: set between the thread's look at `stop` and its wait, the
            // notification would be lost and the join below would never return.
            std::lock_guard l(mu);
            stop = true;
        }
        cv.notify_all();
        thread.join();
    }

    void add(std::string name) {
        {
            std::lock_guard l(mu);
            names.push_back(std::move(name));
        }
        cv.notify_one();
    }

    void run() {
        for (;;) {
            std::string name;
            {
                std::unique_lock l(mu);
                cv.wait(l, [&] { return stop || !names.empty(); });
                if (stop) return;
                name = std::move(names.front());
                names.pop_front();
            }
            try {
                remove_tree_at(root_fd, name, &stop);
            } catch (const std::exception &e) {
                log::warn(std::string("sync: cannot delete what was set aside: ") + e.what());
            }
        }
    }
};

void ConfinedTree::remove_in_background() {
    if (!reaper_) reaper_ = std::make_unique<Reaper>(root_dir_->fd);
}

void ConfinedTree::discard_tree_at(int dirfd, const std::string &name) {
    if (reaper_) {
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            std::string aside = std::string(kTrashPrefix) + std::to_string(::getpid()) + "." + std::to_string(++tmp_counter_);
            if (::renameat(dirfd, name.c_str(), root_dir_->fd, aside.c_str()) == 0) {
                reaper_->add(std::move(aside));
                return;
            }
        }
    }
    remove_tree_at(dirfd, name);
}


DirFd::~DirFd() {
    if (fd >= 0) ::close(fd);
}

ConfinedTree::PendingFile::PendingFile(PendingFile &&o) noexcept
    : fd(o.fd), dir(std::move(o.dir)), path(std::move(o.path)), leaf(std::move(o.leaf)), tmp(std::move(o.tmp)),
      mode(o.mode), written(o.written), flushing(o.flushing) {
    o.fd = -1;
}

ConfinedTree::PendingFile &ConfinedTree::PendingFile::operator=(PendingFile &&o) noexcept {
    if (this != &o) {
        close_pending(*this);
        fd = o.fd;
        o.fd = -1;
        dir = std::move(o.dir);
        path = std::move(o.path);
        leaf = std::move(o.leaf);
        tmp = std::move(o.tmp);
        mode = o.mode;
        written = o.written;
        flushing = o.flushing;
    }
    return *this;
}

ConfinedTree::PendingFile::~PendingFile() { close_pending(*this); }

local::Entry entry_from_stat(std::string path, const struct stat &st) {
    local::Entry e;
    e.path = std::move(path);
    if (S_ISDIR(st.st_mode))
        e.type = local::Entry::Type::Dir;
    else if (S_ISLNK(st.st_mode))
        e.type = local::Entry::Type::Symlink;
    else
        e.type = local::Entry::Type::File;
    e.size = e.type == local::Entry::Type::Dir ? 0 : static_cast<uint64_t>(st.st_size);
    e.mtime_ns = local::time_ns(st.st_mtim);
    e.mode = st.st_mode & 07777;
    e.ino = st.st_ino;
    return e;
}

ConfinedTree::ConfinedTree(const std::string &root) : root_(root) {
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open root directory", root);
    root_dir_ = std::make_shared<const DirFd>(fd);
    // The cache takes at most a quarter of the descriptors the process may open.
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        max_cached_ = std::clamp<size_t>(static_cast<size_t>(rl.rlim_cur / 4), 16, 4096);
}

ConfinedTree::~ConfinedTree() = default;

void ConfinedTree::forget_dirs() { dirs_.clear(); }

DirRef ConfinedTree::dir_fd(const std::string &dir, bool create) {
    if (dir.empty()) return root_dir_;
    if (auto it = dirs_.find(dir); it != dirs_.end()) return it->second;
    auto parent = std::string(dirname_of(dir));
    DirRef pdir = dir_fd(parent, create);
    if (!pdir) return nullptr;
    int pfd = pdir->fd;
    std::string name(basename_of(dir));
    int fd = ::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(pfd, name.c_str(), 0755) != 0 && errno != EEXIST)
            fail_errno("cannot create directory", dir);
        fd = ::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        if (errno == ENOENT && !create) return nullptr;
        if (errno == ELOOP || errno == ENOTDIR) {
            if (!create) return nullptr;
            throw Error(NH_EIO, "parent '" + dir + "' is not a directory (symlinks are never followed)");
        }
        fail_errno("cannot open directory", dir);
    }
    auto ref = std::make_shared<const DirFd>(fd);
    if (dirs_.size() >= max_cached_) dirs_.clear();  // holders keep theirs open
    dirs_.emplace(dir, ref);
    return ref;
}

DirRef ConfinedTree::parent_fd(std::string_view path, std::string &leaf, bool create) {
    leaf = std::string(basename_of(path));
    return dir_fd(std::string(dirname_of(path)), create);
}

std::optional<local::Entry> ConfinedTree::stat(std::string_view path, bool synced_only) {
    std::string leaf;
    DirRef dir = parent_fd(path, leaf, false);
    if (!dir) return std::nullopt;
    int dfd = dir->fd;
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        fail_errno("cannot stat", path);
    }
    if (synced_only && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) return std::nullopt;
    auto e = entry_from_stat(std::string(path), st);
    if (e.type == local::Entry::Type::Symlink) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(dfd, leaf.c_str(), target.data(), target.size());
        if (n < 0) fail_errno("cannot read link", path);
        target.resize(static_cast<size_t>(n));
        e.link_target = std::move(target);
        e.size = e.link_target.size();
    }
    return e;
}

ConfinedTree::PendingFile ConfinedTree::begin_file(std::string_view path, uint32_t mode) {
    PendingFile f;
    f.path = std::string(path);
    f.mode = mode & 0777;
    f.dir = parent_fd(path, f.leaf, true);
    for (int attempt = 0; attempt < 100; ++attempt) {
        f.tmp = ".nocalhost-sync." + std::to_string(::getpid()) + "." + std::to_string(++tmp_counter_) + ".tmp";
        f.fd = ::openat(f.dir->fd, f.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f.fd >= 0) return f;
        if (errno != EEXIST) fail_errno("cannot create temporary file for", path);
    }
    fail_errno("cannot create temporary file for", path, EEXIST);
}

namespace {

// A large file's writeback starts as it is written, a piece at a time, so that the batch's
// syncfs() finds little left to write (for a 200 MB file, most of the flush overlaps the
// writing instead of following it). Only a start: nothing waits here.
constexpr uint64_t kWritebackPiece = 8u << 20;

void start_writeback(ConfinedTree::PendingFile &f) {
    if (f.written < f.flushing + kWritebackPiece) return;
    ::sync_file_range(f.fd, static_cast<off_t>(f.flushing), static_cast<off_t>(f.written - f.flushing),
                      SYNC_FILE_RANGE_WRITE);
    f.flushing = f.written;
}

}  // namespace

void ConfinedTree::write(PendingFile &f, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(f.fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("cannot write", f.path);
        }
        data.remove_prefix(static_cast<size_t>(n));
        f.written += static_cast<uint64_t>(n);
    }
    start_writeback(f);
}

void ConfinedTree::write_at(PendingFile &f, uint64_t offset, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::pwrite(f.fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("cannot write", f.path);
        }
        data.remove_prefix(static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
        f.written = std::max(f.written, offset);
    }
    start_writeback(f);
}

void ConfinedTree::abort_file(PendingFile &f) noexcept { close_pending(f); }

bool unchanged_since(int fd, const struct stat &then) {
    struct stat now;
    return ::fstat(fd, &now) == 0 && now.st_dev == then.st_dev && now.st_ino == then.st_ino &&
           now.st_size == then.st_size && same_time(now.st_mtim, then.st_mtim) && same_time(now.st_ctim, then.st_ctim);
}

ConfinedTree::Append ConfinedTree::commit_append(PendingFile &f, const struct stat &base, uint64_t len, int64_t mtime_ns,
                                                 local::Entry &result) {
    int fd = ::openat(f.dir->fd, f.leaf.c_str(), O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT || errno == ELOOP ? Append::Changed : Append::Unwritable;
    struct stat st;
    if (!unchanged_since(fd, base) || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        ::close(fd);
        return Append::Changed;
    }
    int src = ::openat(f.dir->fd, f.tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);  // f.fd is write-only
    if (src < 0) {
        int err = errno;
        ::close(fd);
        abort_file(f);
        fail_errno("cannot read the temporary file for", f.path, err);
    }
    // From here the file only grows at its end; a failure cuts it back to what it was.
    auto undo = [&](int err) {
        ::close(src);
        ::ftruncate(fd, base.st_size);
        auto was = mtime_times(local::time_ns(base.st_mtim));
        ::futimens(fd, was.data());
        ::close(fd);
        abort_file(f);
        fail_errno("cannot append to", f.path, err);
    };
    loff_t in = base.st_size, out = base.st_size;
    uint64_t left = len;
    while (left) {
        ssize_t n = ::copy_file_range(src, &in, fd, &out, left, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
            // No in-kernel copy here: through a buffer.
            std::string buf(std::min<uint64_t>(left, 1u << 20), '\0');
            n = ::pread(src, buf.data(), buf.size(), in);
            if (n > 0) n = ::pwrite(fd, buf.data(), static_cast<size_t>(n), out);
            if (n > 0) {
                in += n;
                out += n;
            }
        }
        if (n <= 0) undo(n < 0 ? errno : EIO);
        left -= static_cast<uint64_t>(n);
    }
    auto ts = mtime_times(mtime_ns);
    if (::fchmod(fd, f.mode) != 0 || ::futimens(fd, ts.data()) != 0 || ::fstat(fd, &st) != 0) undo(errno);
    ::close(src);
    ::close(fd);
    abort_file(f);  // the temporary file goes
    result = entry_from_stat(f.path, st);
    return Append::Done;
}

local::Entry ConfinedTree::commit_file(PendingFile &f, int64_t mtime_ns, struct stat *final) {
    auto ts = mtime_times(mtime_ns);
    struct stat st;
    if (::fchmod(f.fd, f.mode) != 0 || ::futimens(f.fd, ts.data()) != 0 || ::fstat(f.fd, &st) != 0) {
        int err = errno;
        abort_file(f);
        fail_errno("cannot set metadata of", f.path, err);
    }
    // Open until renamed when the caller wants the file's stat after the rename.
    int fd = f.fd;
    f.fd = -1;
    if (!final) ::close(fd);
    struct Closer {
        int fd;
        ~Closer() {
            if (fd >= 0) ::close(fd);
        }
    } closer{final ? fd : -1};
    auto after = [&] {
        if (final && ::fstat(fd, final) != 0) *final = st;
    };
    DirRef dir = std::move(f.dir);  // released whatever happens below
    int dfd = dir->fd;
    if (::renameat(dfd, f.tmp.c_str(), dfd, f.leaf.c_str()) != 0) {
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
            try {
                discard_tree_at(dfd, f.leaf);
            } catch (...) {
                ::unlinkat(dfd, f.tmp.c_str(), 0);
                forget_dirs();
                throw;
            }
            bool ok = ::renameat(dfd, f.tmp.c_str(), dfd, f.leaf.c_str()) == 0;
            int err = errno;
            forget_dirs();
            if (ok) {
                after();
                return entry_from_stat(f.path, st);
            }
            errno = err;
        }
        int err = errno;
        ::unlinkat(dfd, f.tmp.c_str(), 0);
        fail_errno("cannot rename into place", f.path, err);
    }
    after();
    return entry_from_stat(f.path, st);
}

local::Entry ConfinedTree::make_dir(std::string_view path, uint32_t mode) {
    std::string leaf;
    DirRef dir = parent_fd(path, leaf, true);
    int dfd = dir->fd;
    if (::mkdirat(dfd, leaf.c_str(), 0700) != 0) {
        if (errno != EEXIST) fail_errno("cannot create directory", path);
        struct stat st;
        if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
            if (::unlinkat(dfd, leaf.c_str(), 0) != 0 || ::mkdirat(dfd, leaf.c_str(), 0700) != 0)
                fail_errno("cannot replace with a directory", path);
        }
    }
    if (::fchmodat(dfd, leaf.c_str(), mode & 0777, 0) != 0) fail_errno("cannot chmod", path);
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    return entry_from_stat(std::string(path), st);
}

local::Entry ConfinedTree::make_symlink(std::string_view path, std::string_view target) {
    std::string leaf;
    DirRef dir = parent_fd(path, leaf, true);
    int dfd = dir->fd;
    std::string tmp = ".nocalhost-sync." + std::to_string(::getpid()) + "." + std::to_string(++tmp_counter_) + ".lnk";
    std::string t(target);
    if (::symlinkat(t.c_str(), dfd, tmp.c_str()) != 0) fail_errno("cannot create symlink", path);
    if (::renameat(dfd, tmp.c_str(), dfd, leaf.c_str()) != 0) {
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
            discard_tree_at(dfd, leaf);
            if (::renameat(dfd, tmp.c_str(), dfd, leaf.c_str()) != 0) {
                int err = errno;
                ::unlinkat(dfd, tmp.c_str(), 0);
                forget_dirs();
                fail_errno("cannot rename symlink into place", path, err);
            }
            forget_dirs();
        } else {
            int err = errno;
            ::unlinkat(dfd, tmp.c_str(), 0);
            fail_errno("cannot rename symlink into place", path, err);
        }
    }
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    auto e = entry_from_stat(std::string(path), st);
    e.link_target = t;
    e.size = t.size();
    return e;
}

bool ConfinedTree::remove(std::string_view path, bool recursive) {
    std::string leaf;
    DirRef dir = parent_fd(path, leaf, false);
    if (!dir) return true;
    int dfd = dir->fd;
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return true;
        fail_errno("cannot stat", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dfd, leaf.c_str(), 0) != 0 && errno != ENOENT) fail_errno("cannot remove", path);
        return true;
    }
    if (recursive) {
        discard_tree_at(dfd, leaf);
        forget_dirs();
        return true;
    }
    forget_dirs();
    if (::unlinkat(dfd, leaf.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return true;
    if (errno == ENOTEMPTY || errno == EEXIST) return false;
    fail_errno("cannot remove directory", path);
}

void ConfinedTree::rename(std::string_view from, std::string_view to) {
    std::string fleaf, tleaf;
    auto inside = [](std::string_view outer, std::string_view inner) {
        return inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/';
    };
    if (from == to) return;
    if (inside(from, to) || inside(to, from))
        throw Error(NH_EINVAL, "cannot rename '" + std::string(from) + "' to '" + std::string(to) +
                                   "': one is inside the other");
    DirRef fdir = parent_fd(from, fleaf, false);
    if (!fdir) throw Error(NH_EIO, "cannot rename '" + std::string(from) + "': it does not exist");
    if (depth_of(to) < depth_of(from)) check_links_moved(fdir->fd, fleaf, std::string(from), std::string(to));
    DirRef tdir = parent_fd(to, tleaf, true);
    int ffd = fdir->fd, tfd = tdir->fd;
    if (::renameat(ffd, fleaf.c_str(), tfd, tleaf.c_str()) != 0) {
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
            discard_tree_at(tfd, tleaf);
            forget_dirs();
            if (::renameat(ffd, fleaf.c_str(), tfd, tleaf.c_str()) == 0) {
                forget_dirs();
                return;
            }
        }
        fail_errno("cannot rename", std::string(from) + "' to '" + std::string(to));
    }
    forget_dirs();
}

local::Entry ConfinedTree::set_meta(std::string_view path, uint32_t mode, int64_t mtime_ns) {
    std::string leaf;
    DirRef dir = parent_fd(path, leaf, false);
    if (!dir) throw Error(NH_EIO, "cannot change '" + std::string(path) + "': it does not exist");
    int dfd = dir->fd;
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    if (S_ISLNK(st.st_mode)) throw Error(NH_EIO, "cannot change mode of symlink '" + std::string(path) + "'");
    if (::fchmodat(dfd, leaf.c_str(), mode & 0777, 0) != 0) fail_errno("cannot chmod", path);
    if (!S_ISDIR(st.st_mode)) {
        auto ts = mtime_times(mtime_ns);
        if (::utimensat(dfd, leaf.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot set mtime of", path);
    }
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    return entry_from_stat(std::string(path), st);
}

std::string ConfinedTree::move_aside(std::string_view path) {
    std::string leaf;
    DirRef parent = parent_fd(path, leaf, false);
    if (!parent) return {};
    int dfd = parent->fd;
    char stamp[32];
    std::time_t now = std::time(nullptr);
    struct tm tmv;
    ::gmtime_r(&now, &tmv);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    std::string dir(dirname_of(path));
    for (int i = 0; i < 1000; ++i) {
        std::string suffix = std::string(".conflict-") + stamp + (i ? "-" + std::to_string(i) : "");
        std::string name = leaf.substr(0, std::min(leaf.size(), 255 - suffix.size())) + suffix;
        struct stat st;
        if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
        if (::renameat(dfd, leaf.c_str(), dfd, name.c_str()) != 0) fail_errno("cannot keep conflict copy of", path);
        forget_dirs();
        return dir.empty() ? name : dir + "/" + name;
    }
    throw Error(NH_EIO, "no free conflict-copy name for '" + std::string(path) + "'");
}

int ConfinedTree::open_read(std::string_view path) {
    std::string leaf;
    DirRef dir = parent_fd(path, leaf, false);
    if (!dir) return -1;
    return ::openat(dir->fd, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

}  // namespace nh::sync
