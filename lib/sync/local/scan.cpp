// The tree walk: openat/fstatat relative to each directory's descriptor, so
// no symlink is ever followed and paths are never re-resolved from the root.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "common/error.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {
namespace {

[[noreturn]] void fail_io(const std::string &what, const std::string &path, int err) {
    fail(NH_EIO, what + " " + path + ": " + std::strerror(err));
}

// False if the link vanished or stopped being a link meanwhile.
bool read_link(int dirfd, const std::string &name, off_t size_hint, std::string &target) {
    target.assign(static_cast<size_t>(size_hint > 0 ? size_hint + 1 : 256), '\0');
    for (;;) {
        ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
        if (n < 0) {
            if (errno == ENOENT || errno == EINVAL) return false;
            fail_io("cannot read link", name, errno);
        }
        if (static_cast<size_t>(n) < target.size()) {
            target.resize(static_cast<size_t>(n));
            return true;
        }
        target.resize(target.size() * 2);
    }
}

// What the walkers of one scan share when it runs on two threads: the directories one
// hands to the other (opened, not yet listed) while the other has nothing to do.
struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    struct Job {
        int fd;
        std::string rel;
    };
    std::deque<Job> jobs;
    int walkers = 0, idle = 0;
    bool done = false;
    std::atomic<bool> wanted{false};  // a walker is idle: the next directory found goes to it
    std::mutex hook_mu;                // the on_dir hook is called by one walker at a time
    std::exception_ptr error;

    // The next directory to walk; false when every walker is idle and none is left.
    bool next(Job &job) {
        std::unique_lock l(mu);
        ++idle;
        for (;;) {
            if (!jobs.empty()) {
                job = std::move(jobs.front());
                jobs.pop_front();
                --idle;
                return true;
            }
            if (done || idle == walkers) {
                done = true;
                cv.notify_all();
                return false;
            }
            wanted = true;
            cv.wait(l);
        }
    }
    // Hands dirfd over when a walker is idle (true: it is the other's now).
    bool give(int dirfd, const std::string &rel) {
        if (!wanted.load(std::memory_order_relaxed)) return false;
        std::lock_guard l(mu);
        if (!wanted || done) return false;
        jobs.push_back({dirfd, rel});
        wanted = false;
        cv.notify_one();
        return true;
    }
    void fail(std::exception_ptr e) {
        std::lock_guard l(mu);
        if (!error) error = e;
        done = true;
        cv.notify_all();
    }
};

struct Walker {
    const std::string &root;
    const IgnoreRules &rules;
    std::vector<Entry> out;
    std::string rel;  // current directory, relative; "" for the root
    bool sweep = false;
    size_t swept = 0;
    std::vector<Unreadable> *unreadable = nullptr;
    const DirHook *on_dir = nullptr;
    Shared *shared = nullptr;

    // With an `unreadable` list, a permission error on rel_path is listed
    // there (true: skip it) instead of thrown.
    bool skip_denied(int err, const std::string &rel_path, const std::string &what) {
        if (!unreadable || (err != EACCES && err != EPERM)) return false;
        unreadable->push_back({rel_path, what + ": " + std::strerror(err)});
        return true;
    }

    // A server's temporary file (see fsops.cpp): ".nocalhost-sync.<pid>.<n>.tmp|.lnk".
    static bool is_temp(std::string_view n) {
        return n.starts_with(".nocalhost-sync.") && (n.ends_with(".tmp") || n.ends_with(".lnk"));
    }

    std::string display(const std::string &name) const {
        return root + "/" + (rel.empty() ? name : rel + "/" + name);
    }

    // Lists dirfd (not closing it).
    std::vector<std::pair<std::string, unsigned char>> list(int dirfd, const std::string &shown) {
        int dup_fd = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
        if (dup_fd < 0) fail_io("cannot read directory", shown, errno);
        DIR *dir = ::fdopendir(dup_fd);
        if (!dir) {
            int err = errno;
            ::close(dup_fd);
            fail_io("cannot read directory", shown, err);
        }
        std::vector<std::pair<std::string, unsigned char>> names;
        for (;;) {
            errno = 0;
            struct dirent *d = ::readdir(dir);
            if (!d) {
                int err = errno;
                ::closedir(dir);
                if (err) fail_io("cannot read directory", shown, err);
                break;
            }
            const char *n = d->d_name;
            if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
            names.emplace_back(n, d->d_type);
        }
        return names;
    }

    void walk(int dirfd, const std::string &shown) {
        if (on_dir) {  // before the listing: what changes after it is reported
            std::unique_lock<std::mutex> one_at_a_time;
            if (shared) one_at_a_time = std::unique_lock(shared->hook_mu);
            (*on_dir)(rel);
        }
        auto names = list(dirfd, shown);
        for (auto &[name, dtype] : names) {
            size_t rel_len = rel.size();
            std::string path = rel.empty() ? name : rel + "/" + name;
            if (sweep && dtype != DT_DIR && is_temp(name) && ::unlinkat(dirfd, name.c_str(), 0) == 0) {
                ++swept;
                continue;
            }
            // Skip ignored entries before paying for a stat when the type is known.
            if (dtype != DT_UNKNOWN && rules.ignored_in_parent(path, dtype == DT_DIR)) continue;
            struct stat st;
            if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) continue;  // vanished meanwhile
                if (skip_denied(errno, path, "cannot stat")) continue;
                fail_io("cannot stat", display(name), errno);
            }
            bool is_dir = S_ISDIR(st.st_mode);
            if (dtype == DT_UNKNOWN && rules.ignored_in_parent(path, is_dir)) continue;
            Entry e;
            e.mtime_ns = time_ns(st.st_mtim);
            e.mode = st.st_mode & 07777;
            e.ino = st.st_ino;
            if (S_ISREG(st.st_mode)) {
                e.type = Entry::Type::File;
                e.size = static_cast<uint64_t>(st.st_size);
            } else if (S_ISLNK(st.st_mode)) {
                e.type = Entry::Type::Symlink;
                std::string target;
                if (!read_link(dirfd, name, st.st_size, target)) continue;  // replaced meanwhile
                e.size = target.size();
                e.link_target = std::move(target);
            } else if (is_dir) {
                e.type = Entry::Type::Dir;
            } else {
                continue;  // sockets, fifos, devices are not synced
            }
            e.path = std::move(path);
            out.push_back(std::move(e));
            if (is_dir) {
                int child = ::openat(dirfd, name.c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) {
                    // Vanished or replaced by a non-directory: the watcher reports it.
                    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;
                    if (skip_denied(errno, out.back().path, "cannot open directory")) continue;
                    fail_io("cannot open directory", display(name), errno);
                }
                if (shared && shared->give(child, out.back().path)) continue;
                rel = out.back().path;
                try {
                    walk(child, root + "/" + rel);
                } catch (...) {
                    ::close(child);
                    throw;
                }
                ::close(child);
                rel.resize(rel_len);
            }
        }
    }
};

}  // namespace

bool same_metadata(const Entry &a, const Entry &b) {
    return a.type == b.type && a.size == b.size && a.mtime_ns == b.mtime_ns && a.mode == b.mode &&
           a.ino == b.ino && a.link_target == b.link_target;
}

namespace {

void walk_dir(Walker &w, int fd, const std::string &rel) {
    w.rel = rel;
    try {
        w.walk(fd, rel.empty() ? w.root : w.root + "/" + rel);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
}

// The directories a walker is handed until none is left.
void walk_jobs(Walker &w, Shared &shared) {
    Shared::Job job;
    while (shared.next(job)) {
        try {
            walk_dir(w, job.fd, job.rel);
        } catch (...) {
            shared.fail(std::current_exception());
        }
    }
}

bool two_cpus() {
    cpu_set_t set;
    return ::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 2;
}

// The walk, on two threads when two CPUs are there: a walker that finds a directory while
// the other is idle hands it over instead of walking it itself. Each walker sets up each
// directory's hook before listing it, as a single one does, so the guarantee is the same.
std::vector<Entry> walk_root(Walker &w) {
    const std::string &root = w.root;
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_io("cannot open sync root", root, errno);
    std::thread helper;
    Shared shared;
    Walker second{w.root, w.rules, {}, {}};
    std::vector<Unreadable> second_unreadable;
    if (two_cpus()) {
        second.sweep = w.sweep;
        second.unreadable = w.unreadable ? &second_unreadable : nullptr;
        second.on_dir = w.on_dir;
        second.shared = w.shared = &shared;
        shared.walkers = 2;
        try {
            helper = std::thread([&] { walk_jobs(second, shared); });
        } catch (const std::system_error &) {
            second.shared = w.shared = nullptr;  // no thread to spare: one walker
        }
    }
    if (!w.shared) {
        walk_dir(w, fd, "");
    } else {
        try {
            walk_dir(w, fd, "");
        } catch (...) {
            shared.fail(std::current_exception());
        }
        walk_jobs(w, shared);
        helper.join();
        for (auto &job : shared.jobs) ::close(job.fd);  // left by a failed walk
        if (shared.error) std::rethrow_exception(shared.error);
        w.out.reserve(w.out.size() + second.out.size());
        std::move(second.out.begin(), second.out.end(), std::back_inserter(w.out));
        if (w.unreadable) w.unreadable->insert(w.unreadable->end(), second_unreadable.begin(), second_unreadable.end());
        w.swept += second.swept;
    }
    std::sort(w.out.begin(), w.out.end(),
              [](const Entry &a, const Entry &b) { return a.path < b.path; });
    return std::move(w.out);
}

}  // namespace

std::vector<Entry> scan(const std::string &root, const IgnoreRules &rules, std::vector<Unreadable> *unreadable,
                        const DirHook &on_dir) {
    Walker w{root, rules, {}, {}};
    w.unreadable = unreadable;
    if (on_dir) w.on_dir = &on_dir;
    return walk_root(w);
}

std::vector<Entry> scan_sweeping(const std::string &root, const IgnoreRules &rules, size_t &swept,
                                 std::vector<Unreadable> *unreadable, const DirHook &on_dir) {
    Walker w{root, rules, {}, {}};
    w.sweep = true;
    w.unreadable = unreadable;
    if (on_dir) w.on_dir = &on_dir;
    auto out = walk_root(w);
    swept = w.swept;
    return out;
}

}  // namespace nh::sync::local
