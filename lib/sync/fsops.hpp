// File operations confined to a root directory. Every path is walked one
// component at a time with openat(O_NOFOLLOW | O_DIRECTORY), so neither
// "..", an absolute path nor a symlinked parent directory can lead outside
// the root. Files are written to a temporary name and renamed into place.
// Errors are thrown as nh::Error(NH_EIO or NH_EINVAL) naming the path.
//
// Directory descriptors are cached and shared: an operation (or an open
// file stream) holds a reference to the ones it uses, and a descriptor is
// closed only when the cache and every holder have let go, so forgetting the
// cache never closes, and the kernel never reuses, a descriptor in use.
// Setuid, setgid and sticky bits are never set: modes are masked to 0777.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sync/local/tree.hpp"

namespace nh::sync {

// An open directory, closed by its last holder.
struct DirFd {
    int fd = -1;
    explicit DirFd(int f) : fd(f) {}
    ~DirFd();
    DirFd(const DirFd &) = delete;
    DirFd &operator=(const DirFd &) = delete;
};
using DirRef = std::shared_ptr<const DirFd>;

class ConfinedTree {
public:
    explicit ConfinedTree(const std::string &root);
    ~ConfinedTree();
    ConfinedTree(const ConfinedTree &) = delete;
    ConfinedTree &operator=(const ConfinedTree &) = delete;

    const std::string &root() const { return root_; }
    int root_fd() const { return root_dir_->fd; }

    // lstat of a path inside the root; nullopt when absent (or when a parent
    // is not a directory). A socket, fifo or device comes back as a File unless
    // synced_only is set, which makes it nullopt as the scan leaves it out.
    std::optional<local::Entry> stat(std::string_view path, bool synced_only = false);

    // A file being written: its temporary file and (a reference to) its
    // directory. Destroying one that was neither committed nor aborted
    // aborts it.
    struct PendingFile {
        int fd = -1;
        DirRef dir;
        std::string path, leaf, tmp;
        uint32_t mode = 0644;
        uint64_t written = 0;
        uint64_t flushing = 0;  // writeback started for [0, flushing)

        PendingFile() = default;
        PendingFile(PendingFile &&o) noexcept;
        PendingFile &operator=(PendingFile &&o) noexcept;
        PendingFile(const PendingFile &) = delete;
        PendingFile &operator=(const PendingFile &) = delete;
        ~PendingFile();
    };
    // Creates the temporary file next to path (creating missing parents).
    PendingFile begin_file(std::string_view path, uint32_t mode);
    void write(PendingFile &f, std::string_view data);
    // Writes at an offset of the temporary file (a file with holes until they are written).
    void write_at(PendingFile &f, uint64_t offset, std::string_view data);
    // Sets mode and mtime, renames over path (replacing whatever is there,
    // a directory tree included). Returns the resulting entry; `final`, if given, gets the
    // file's fstat() after the rename (its ctime as the rename left it).
    local::Entry commit_file(PendingFile &f, int64_t mtime_ns, struct stat *final = nullptr);
    void abort_file(PendingFile &f) noexcept;

    // Grows path's file in place by bytes [base.st_size, base.st_size + len) of the temporary
    // file f, then sets mode and mtime as commit_file does and drops f. Only when path is still
    // the file `base` describes (same inode, size, mtime and ctime; one link): else Changed,
    // and nothing is written. Unwritable: it cannot be opened for writing (nothing written).
    // Either way f stays. A write that fails halfway cuts the file back to its old size and
    // mtime and throws (f dropped).
    enum class Append { Done, Changed, Unwritable };
    Append commit_append(PendingFile &f, const struct stat &base, uint64_t len, int64_t mtime_ns, local::Entry &result);

    local::Entry make_dir(std::string_view path, uint32_t mode);
    local::Entry make_symlink(std::string_view path, std::string_view target);
    // Removes path (recursively when `recursive`; else a non-empty directory
    // is left alone and false returned). True when nothing is left.
    bool remove(std::string_view path, bool recursive);
    // Refused (NH_EINVAL) when it would move a symlink, or a directory
    // holding one, to where its relative target leads outside the root.
    void rename(std::string_view from, std::string_view to);
    local::Entry set_meta(std::string_view path, uint32_t mode, int64_t mtime_ns);
    // Moves path aside to a free "<name>.conflict-<time>" sibling; returns its path.
    std::string move_aside(std::string_view path);

    // Opens a regular file for reading (no symlink followed). -1 if absent.
    int open_read(std::string_view path);

    // Drops cached directory descriptors (after others may have changed the
    // tree); those an operation or a pending file holds stay open until released.
    void forget_dirs();

    // From now on a directory tree that goes (remove(), or replaced by a file or symlink) is
    // renamed aside in the root, to ".nocalhost-sync-trash.<pid>.<n>" (one rename, then gone
    // from its path), and deleted by a thread of its own while the caller carries on; what an
    // earlier process left aside there is deleted too. The server's branch switch thus costs a
    // rename per deleted directory, not an unlink per file, before the new files are written.
    // Where the rename cannot be done (another file system mounted there) the tree is deleted
    // in place as before. Stopped (work left for the next start) when the tree is destroyed.
    void remove_in_background();

private:
    DirRef dir_fd(const std::string &dir, bool create);
    DirRef parent_fd(std::string_view path, std::string &leaf, bool create);
    // Removes the tree at dirfd/name: aside to the reaper if there is one, else in place.
    void discard_tree_at(int dirfd, const std::string &name);

    std::string root_;
    DirRef root_dir_;
    std::unordered_map<std::string, DirRef> dirs_;
    size_t max_cached_ = 4096;
    uint64_t tmp_counter_ = 0;
    struct Reaper;
    std::unique_ptr<Reaper> reaper_;  // last: stopped before the root's descriptor closes
};

// Whether fd is still the file `then` describes (same inode, size, mtime and ctime).
bool unchanged_since(int fd, const struct stat &then);

// lstat result of an open descriptor or a path as an Entry.
local::Entry entry_from_stat(std::string path, const struct stat &st);

}  // namespace nh::sync
