// Watching directories for changes to their entries, one watch per directory: inotify on Linux.
// The recursive watcher of the sync (lib/sync/local/watcher.cpp) builds on this: it keeps the
// map of watches to paths, follows created and moved directories and answers an overflow with
// a rescan. Elsewhere the constructor fails with a message saying file watching is not
// available on this platform (docs/portability.md says what a port puts here).
// Part of the platform layer (see wakeup.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace nh::platform {

struct DirEvent {
    enum class Kind {
        Created,    // an entry appeared (created, or a hard link made)
        Deleted,    // an entry was removed
        Modified,   // an entry's content or attributes changed, or a write to it was closed
        MovedFrom,  // an entry was renamed away from the watched directory
        MovedTo,    // an entry was renamed into the watched directory
        SelfGone,   // the watched directory itself was removed or renamed
        Dropped,    // the watch no longer exists (removed, or its directory is gone)
        Overflow,   // events were lost: whatever is watched must be looked at again
    };
    int watch = -1;  // the id add() returned; -1 for Overflow
    Kind kind = Kind::Modified;
    bool is_dir = false;
    std::string_view name;  // the entry, relative to the watched directory; empty for its own events
};

class DirWatch {
public:
    // Throws nh::Error(NH_EIO), with the system's limit and how to raise it when that is why.
    DirWatch();
    ~DirWatch();
    DirWatch(DirWatch &&other) noexcept;
    DirWatch &operator=(DirWatch &&other) noexcept;
    DirWatch(const DirWatch &) = delete;
    DirWatch &operator=(const DirWatch &) = delete;

    // Poll this for POLLIN: readable when events are pending.
    int fd() const { return fd_; }

    // Watches the entries of the directory dir (a symlink is not followed). Returns the watch's
    // id (the same id again for a directory already watched), or -errno when it cannot be
    // watched: ENOENT, ENOTDIR or ELOOP for one that is gone or is not a directory, EACCES,
    // ENOSPC for the system's limit (error_message() explains it).
    int add(const std::string &dir);
    // Stops a watch; a Dropped event for it may still follow.
    void remove(int watch);

    // Calls fn for every pending event, in order, without blocking. Throws nh::Error(NH_EIO)
    // when the events cannot be read.
    void read(const std::function<void(const DirEvent &)> &fn);

    // The message for a watch of dir that failed with errno err: for the system's limits it
    // names the setting, its current value and how to raise it.
    static std::string error_message(int err, const std::string &dir);

private:
    int fd_ = -1;
};

// Test seam: replaces the kernel call add() makes (inotify_add_watch on Linux); nullptr
// restores it.
using AddWatchFn = int (*)(int fd, const char *path, uint32_t mask);
void set_add_watch_for_testing(AddWatchFn fn);

}  // namespace nh::platform
