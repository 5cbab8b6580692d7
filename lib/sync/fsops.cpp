#include "sync/fsops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/error.hpp"

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

}  // namespace

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
    e.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.mode = st.st_mode & 07777;
    e.ino = st.st_ino;
    return e;
}

ConfinedTree::ConfinedTree(const std::string &root) : root_(root) {
    root_fd_ = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd_ < 0) fail_errno("cannot open root directory", root);
}

ConfinedTree::~ConfinedTree() {
    forget_dirs();
    if (root_fd_ >= 0) ::close(root_fd_);
}

void ConfinedTree::forget_dirs() {
    for (auto &[k, fd] : dirs_) ::close(fd);
    dirs_.clear();
}

int ConfinedTree::dir_fd(const std::string &dir, bool create) {
    if (dir.empty()) return root_fd_;
    if (auto it = dirs_.find(dir); it != dirs_.end()) return it->second;
    auto parent = std::string(dirname_of(dir));
    int pfd = dir_fd(parent, create);
    if (pfd < 0) return -1;
    std::string name(basename_of(dir));
    int fd = ::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(pfd, name.c_str(), 0755) != 0 && errno != EEXIST)
            fail_errno("cannot create directory", dir);
        fd = ::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        if (errno == ENOENT && !create) return -1;
        if (errno == ELOOP || errno == ENOTDIR) {
            if (!create) return -1;
            throw Error(NH_EIO, "parent '" + dir + "' is not a directory (symlinks are never followed)");
        }
        fail_errno("cannot open directory", dir);
    }
    if (dirs_.size() >= 4096) forget_dirs();  // fd was not cached; parents may be gone now
    dirs_.emplace(dir, fd);
    return fd;
}

int ConfinedTree::parent_fd(std::string_view path, std::string &leaf, bool create) {
    leaf = std::string(basename_of(path));
    return dir_fd(std::string(dirname_of(path)), create);
}

std::optional<local::Entry> ConfinedTree::stat(std::string_view path) {
    std::string leaf;
    int dfd = parent_fd(path, leaf, false);
    if (dfd < 0) return std::nullopt;
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        fail_errno("cannot stat", path);
    }
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
    f.dirfd = parent_fd(path, f.leaf, true);
    for (int attempt = 0; attempt < 100; ++attempt) {
        f.tmp = ".nocalhost-sync." + std::to_string(::getpid()) + "." + std::to_string(++tmp_counter_) + ".tmp";
        f.fd = ::openat(f.dirfd, f.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f.fd >= 0) return f;
        if (errno != EEXIST) fail_errno("cannot create temporary file for", path);
    }
    fail_errno("cannot create temporary file for", path, EEXIST);
}

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
}

void ConfinedTree::abort_file(PendingFile &f) noexcept {
    if (f.fd >= 0) {
        ::close(f.fd);
        ::unlinkat(f.dirfd, f.tmp.c_str(), 0);
    }
    f.fd = -1;
}

local::Entry ConfinedTree::commit_file(PendingFile &f, int64_t mtime_ns) {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = mtime_ns / 1'000'000'000;
    ts[1].tv_nsec = mtime_ns % 1'000'000'000;
    if (ts[1].tv_nsec < 0) {
        ts[1].tv_nsec += 1'000'000'000;
        ts[1].tv_sec -= 1;
    }
    struct stat st;
    if (::fchmod(f.fd, f.mode) != 0 || ::futimens(f.fd, ts) != 0 || ::fstat(f.fd, &st) != 0) {
        int err = errno;
        abort_file(f);
        fail_errno("cannot set metadata of", f.path, err);
    }
    ::close(f.fd);
    f.fd = -1;
    if (::renameat(f.dirfd, f.tmp.c_str(), f.dirfd, f.leaf.c_str()) != 0) {
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
            remove_tree_at(f.dirfd, f.leaf);
            bool ok = ::renameat(f.dirfd, f.tmp.c_str(), f.dirfd, f.leaf.c_str()) == 0;
            int err = errno;
            forget_dirs();
            if (ok) return entry_from_stat(f.path, st);
            errno = err;
        }
        int err = errno;
        ::unlinkat(f.dirfd, f.tmp.c_str(), 0);
        fail_errno("cannot rename into place", f.path, err);
    }
    return entry_from_stat(f.path, st);
}

local::Entry ConfinedTree::make_dir(std::string_view path, uint32_t mode) {
    std::string leaf;
    int dfd = parent_fd(path, leaf, true);
    if (::mkdirat(dfd, leaf.c_str(), 0700) != 0) {
        if (errno != EEXIST) fail_errno("cannot create directory", path);
        struct stat st;
        if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
            if (::unlinkat(dfd, leaf.c_str(), 0) != 0 || ::mkdirat(dfd, leaf.c_str(), 0700) != 0)
                fail_errno("cannot replace with a directory", path);
        }
    }
    if (::fchmodat(dfd, leaf.c_str(), mode & 07777, 0) != 0) fail_errno("cannot chmod", path);
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    return entry_from_stat(std::string(path), st);
}

local::Entry ConfinedTree::make_symlink(std::string_view path, std::string_view target) {
    std::string leaf;
    int dfd = parent_fd(path, leaf, true);
    std::string tmp = ".nocalhost-sync." + std::to_string(::getpid()) + "." + std::to_string(++tmp_counter_) + ".lnk";
    std::string t(target);
    if (::symlinkat(t.c_str(), dfd, tmp.c_str()) != 0) fail_errno("cannot create symlink", path);
    if (::renameat(dfd, tmp.c_str(), dfd, leaf.c_str()) != 0) {
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
            remove_tree_at(dfd, leaf);
            if (::renameat(dfd, tmp.c_str(), dfd, leaf.c_str()) != 0) {
                int err = errno;
                ::unlinkat(dfd, tmp.c_str(), 0);
                forget_dirs();
                fail_errno("cannot rename symlink into place", path, err);
            }
            forget_dirs();
            dfd = parent_fd(path, leaf, false);
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

void ConfinedTree::remove_tree_at(int dirfd, const std::string &name) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
    if (errno != EISDIR && errno != EPERM) fail_errno("cannot remove", name);
    // Cached descriptors below here go stale; the caller forgets them after.
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open directory to remove", name);
    DIR *d = ::fdopendir(fd);
    if (!d) {
        ::close(fd);
        fail_errno("cannot read directory to remove", name);
    }
    std::vector<std::string> names;
    while (auto *de = ::readdir(d)) {
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        names.emplace_back(de->d_name);
    }
    try {
        for (auto &n : names) remove_tree_at(fd, n);
    } catch (...) {
        ::closedir(d);
        throw;
    }
    ::closedir(d);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        fail_errno("cannot remove directory", name);
}

bool ConfinedTree::remove(std::string_view path, bool recursive) {
    std::string leaf;
    int dfd = parent_fd(path, leaf, false);
    if (dfd < 0) return true;
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
        remove_tree_at(dfd, leaf);
        forget_dirs();
        return true;
    }
    forget_dirs();
    dfd = parent_fd(path, leaf, false);
    if (dfd < 0) return true;
    if (::unlinkat(dfd, leaf.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return true;
    if (errno == ENOTEMPTY || errno == EEXIST) return false;
    fail_errno("cannot remove directory", path);
}

void ConfinedTree::rename(std::string_view from, std::string_view to) {
    std::string fleaf, tleaf;
    int ffd = parent_fd(from, fleaf, false);
    if (ffd < 0) throw Error(NH_EIO, "cannot rename '" + std::string(from) + "': it does not exist");
    int tfd = parent_fd(to, tleaf, true);
    if (::renameat(ffd, fleaf.c_str(), tfd, tleaf.c_str()) != 0) {
        if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
            remove_tree_at(tfd, tleaf);
            forget_dirs();
            ffd = parent_fd(from, fleaf, false);
            tfd = parent_fd(to, tleaf, true);
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
    int dfd = parent_fd(path, leaf, false);
    if (dfd < 0) throw Error(NH_EIO, "cannot change '" + std::string(path) + "': it does not exist");
    struct stat st;
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    if (S_ISLNK(st.st_mode)) throw Error(NH_EIO, "cannot change mode of symlink '" + std::string(path) + "'");
    if (::fchmodat(dfd, leaf.c_str(), mode & 07777, 0) != 0) fail_errno("cannot chmod", path);
    if (!S_ISDIR(st.st_mode)) {
        struct timespec ts[2];
        ts[0].tv_sec = 0;
        ts[0].tv_nsec = UTIME_OMIT;
        ts[1].tv_sec = mtime_ns / 1'000'000'000;
        ts[1].tv_nsec = mtime_ns % 1'000'000'000;
        if (ts[1].tv_nsec < 0) {
            ts[1].tv_nsec += 1'000'000'000;
            ts[1].tv_sec -= 1;
        }
        if (::utimensat(dfd, leaf.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot set mtime of", path);
    }
    if (::fstatat(dfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", path);
    return entry_from_stat(std::string(path), st);
}

std::string ConfinedTree::move_aside(std::string_view path) {
    std::string leaf;
    int dfd = parent_fd(path, leaf, false);
    if (dfd < 0) return {};
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
    int dfd = parent_fd(path, leaf, false);
    if (dfd < 0) return -1;
    return ::openat(dfd, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

}  // namespace nh::sync
