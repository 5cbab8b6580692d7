#include "platform/dir_watch.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/error.hpp"

#ifdef __linux__
#include <sys/inotify.h>
#endif

namespace nh::platform {

namespace {

std::atomic<AddWatchFn> g_add_watch{nullptr};

#ifdef __linux__
std::string read_setting(const char *file) {
    std::ifstream in(file);
    std::string v;
    if (!(in >> v)) v = "unknown";
    return v;
}

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |
                              IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                              IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

DirEvent::Kind kind_of(uint32_t mask) {
    using K = DirEvent::Kind;
    if (mask & IN_Q_OVERFLOW) return K::Overflow;
    if (mask & IN_IGNORED) return K::Dropped;
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) return K::SelfGone;
    if (mask & IN_DELETE) return K::Deleted;
    if (mask & IN_MOVED_FROM) return K::MovedFrom;
    if (mask & IN_CREATE) return K::Created;
    if (mask & IN_MOVED_TO) return K::MovedTo;
    return K::Modified;
}
#endif

}  // namespace

void set_add_watch_for_testing(AddWatchFn fn) { g_add_watch.store(fn); }

#ifdef __linux__

std::string DirWatch::error_message(int err, const std::string &dir) {
    if (err == ENOSPC) {
        return "cannot watch " + dir +
               ": the inotify watch limit is reached (fs.inotify.max_user_watches = " +
               read_setting("/proc/sys/fs/inotify/max_user_watches") +
               ", shared by every program of this user). Raise it with "
               "'sudo sysctl fs.inotify.max_user_watches=524288' (make it permanent with "
               "'echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/60-inotify.conf'), "
               "or ignore large directories such as node_modules so they are not watched";
    }
    if (err == EMFILE) {
        return "cannot create an inotify instance: the limit fs.inotify.max_user_instances = " +
               read_setting("/proc/sys/fs/inotify/max_user_instances") +
               " is reached, or the process is out of file descriptors. Raise it with "
               "'sudo sysctl fs.inotify.max_user_instances=1024'";
    }
    return "cannot watch " + dir + ": " + std::strerror(err);
}

DirWatch::DirWatch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0) throw Error(NH_EIO, error_message(errno, "files for changes"));
}

int DirWatch::add(const std::string &dir) {
    int wd = 0;
    if (auto fn = g_add_watch.load())
        wd = fn(fd_, dir.c_str(), kDirMask);
    else
        wd = ::inotify_add_watch(fd_, dir.c_str(), kDirMask);
    return wd < 0 ? -errno : wd;
}

void DirWatch::remove(int watch) { ::inotify_rm_watch(fd_, watch); }

void DirWatch::read(const std::function<void(const DirEvent &)> &fn) {
    alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            throw Error(NH_EIO, std::string("reading inotify events: ") + std::strerror(errno));
        }
        if (n == 0) return;
        for (char *p = buf; p < buf + n;) {
            auto *ev = reinterpret_cast<struct inotify_event *>(p);
            p += sizeof(struct inotify_event) + ev->len;
            DirEvent e;
            e.kind = kind_of(ev->mask);
            e.watch = e.kind == DirEvent::Kind::Overflow ? -1 : ev->wd;
            e.is_dir = ev->mask & IN_ISDIR;
            // The name is padded with NULs to the event's length.
            if (ev->len) e.name = std::string_view(ev->name, ::strnlen(ev->name, ev->len));
            fn(e);
        }
    }
}

#else  // not Linux: no watcher yet (docs/portability.md)

std::string DirWatch::error_message(int err, const std::string &dir) {
    return "cannot watch " + dir + ": " + std::strerror(err);
}

DirWatch::DirWatch() {
    throw Error(NH_EIO,
                "watching files for changes is not available on this platform yet "
                "(docs/portability.md)");
}

int DirWatch::add(const std::string &) { return -ENOSYS; }
void DirWatch::remove(int) {}
void DirWatch::read(const std::function<void(const DirEvent &)> &) {}

#endif

DirWatch::~DirWatch() {
    if (fd_ >= 0) ::close(fd_);
}

DirWatch::DirWatch(DirWatch &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

DirWatch &DirWatch::operator=(DirWatch &&other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

}  // namespace nh::platform
