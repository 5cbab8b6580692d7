// File operations confined to a root directory. Every path is walked one
// component at a time with openat(O_NOFOLLOW | O_DIRECTORY), so neither
// "..", an absolute path nor a symlinked parent directory can lead outside
// the root. Files are written to a temporary name and renamed into place.
// Errors are thrown as nh::Error(NH_EIO or NH_EINVAL) naming the path.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sync/local/tree.hpp"

namespace nh::sync {

class ConfinedTree {
public:
    explicit ConfinedTree(const std::string &root);
    ~ConfinedTree();
    ConfinedTree(const ConfinedTree &) = delete;
    ConfinedTree &operator=(const ConfinedTree &) = delete;

    const std::string &root() const { return root_; }
    int root_fd() const { return root_fd_; }

    // lstat of a path inside the root; nullopt when absent (or when a parent
    // is not a directory).
    std::optional<local::Entry> stat(std::string_view path);

    struct PendingFile {
        int fd = -1;
        int dirfd = -1;
        std::string path, leaf, tmp;
        uint32_t mode = 0644;
        uint64_t written = 0;
    };
    // Creates the temporary file next to path (creating missing parents).
    PendingFile begin_file(std::string_view path, uint32_t mode);
    void write(PendingFile &f, std::string_view data);
    // Sets mode and mtime, renames over path (replacing whatever is there,
    // a directory tree included). Returns the resulting entry.
    local::Entry commit_file(PendingFile &f, int64_t mtime_ns);
    void abort_file(PendingFile &f) noexcept;

    local::Entry make_dir(std::string_view path, uint32_t mode);
    local::Entry make_symlink(std::string_view path, std::string_view target);
    // Removes path (recursively when `recursive`; else a non-empty directory
    // is left alone and false returned). True when nothing is left.
    bool remove(std::string_view path, bool recursive);
    void rename(std::string_view from, std::string_view to);
    local::Entry set_meta(std::string_view path, uint32_t mode, int64_t mtime_ns);
    // Moves path aside to a free "<name>.conflict-<time>" sibling; returns its path.
    std::string move_aside(std::string_view path);

    // Opens a regular file for reading (no symlink followed). -1 if absent.
    int open_read(std::string_view path);

    // Drops cached directory descriptors (after others may have changed the tree).
    void forget_dirs();

private:
    int dir_fd(const std::string &dir, bool create);
    int parent_fd(std::string_view path, std::string &leaf, bool create);
    void remove_tree_at(int dirfd, const std::string &name);

    std::string root_;
    int root_fd_ = -1;
    std::unordered_map<std::string, int> dirs_;
    uint64_t tmp_counter_ = 0;
};

// lstat result of an open descriptor or a path as an Entry.
local::Entry entry_from_stat(std::string path, const struct stat &st);

}  // namespace nh::sync
