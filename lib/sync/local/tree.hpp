// The local tree layer of the sync client: what is in the local directory
// (scan), what must not be synced (IgnoreRules), what was there last time
// (Index) and what changes while we run (Watcher).
//
// Paths are relative to the sync root, '/'-separated, never start or end
// with '/', and are raw bytes (no encoding is assumed or enforced). The root
// itself is never an entry. Errors are thrown as nh::Error.
//
// Thread safety: a const IgnoreRules may be used from several threads. Index,
// Watcher: one thread at a time.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nh::sync::local {

struct Entry {
    enum class Type : uint8_t { File = 0, Dir = 1, Symlink = 2 };

    std::string path;         // relative, '/'-separated, raw bytes
    Type type = Type::File;
    uint64_t size = 0;        // bytes for files, target length for symlinks, 0 for dirs
    int64_t mtime_ns = 0;     // st_mtim in nanoseconds since the epoch
    uint32_t mode = 0;        // permission bits only (st_mode & 07777)
    std::string link_target;  // symlinks only, raw, never resolved
    uint64_t ino = 0;

    bool operator==(const Entry &) const = default;
};

// A file time in nanoseconds since the epoch, the unit of Entry::mtime_ns, the index and the
// protocol. What 64-bit nanoseconds cannot hold (before 1677-09-21, after 2262-04-11: a file
// dated 2300, say) is clamped to their range instead of wrapping around, so a time far in the
// future stays in the future, and reads the same at every stat.
inline int64_t time_ns(const struct timespec &t) {
    int64_t ns;
    if (__builtin_mul_overflow(static_cast<int64_t>(t.tv_sec), int64_t{1'000'000'000}, &ns) ||
        __builtin_add_overflow(ns, static_cast<int64_t>(t.tv_nsec), &ns))
        return t.tv_sec < 0 ? INT64_MIN : INT64_MAX;
    return ns;
}

// Same type, size, mtime, mode, inode and link target: "unchanged" for a
// warm restart (contents are not compared).
bool same_metadata(const Entry &a, const Entry &b);

// Files and directories that belong to the sync machinery and are never
// synced: any path component named ".git", or starting with
// ".nocalhost-sync" (state dir, index, temp files of the server).
inline constexpr std::string_view kStatePrefix = ".nocalhost-sync";
bool is_always_ignored_name(std::string_view name);

// What is synced. Matching follows git (gitignore(5), checked against
// `git check-ignore` in the tests): '*', '?', '[...]' (ranges, '!'/'^',
// [:classes:]) never match '/'; a leading or middle '/' anchors a pattern to
// the directory of its source (the root for the lists below); a trailing '/'
// matches directories only; '**/', '/**/' and '/**' span directories; '!'
// re-includes; '\' escapes; trailing spaces are dropped unless escaped; the
// last matching line of a source decides; nothing under an excluded
// directory can be re-included.
//
// Precedence, highest first: `patterns`, then .gitignore files (deepest
// first), then .git/info/exclude. Then, if `include_patterns` is non-empty,
// a file or symlink is synced only if it or one of its directories matches
// them (directories themselves are always kept, since they may hold included
// files). This is what Nocalhost's generated syncthing ignore file does
// (ignoreFilePattern lines, then "!"+filePattern lines, then "**", first
// match wins there): ignore patterns beat include patterns, an empty
// filePattern means everything, "." means everything and "./x" means the
// root-relative "/x". One difference: syncthing matches a pattern without a
// leading '/' at any depth even when it contains a '/' ("a/b" also matches
// "x/a/b"); we follow gitignore and anchor it. Global git excludes
// (core.excludesFile) and .gitignore files above the root are not read.
struct IgnoreOptions {
    // Nocalhost ignoreFilePattern: gitignore syntax, relative to the root.
    std::vector<std::string> patterns;
    // Nocalhost filePattern: if non-empty, only files matching one of these
    // (or inside a directory that matches) are synced.
    std::vector<std::string> include_patterns;
    // Honour .gitignore files (nested, with negation) and .git/info/exclude.
    bool use_gitignore = false;
};

class IgnoreRules {
public:
    // Ignores nothing but the always-ignored names.
    IgnoreRules();
    // .gitignore files are read lazily, the first time a path under their
    // directory is asked about; rebuild after is_rule_file() paths change.
    // Throws NH_EINVAL for a pattern that cannot be used.
    static IgnoreRules build(const std::string &root, const IgnoreOptions &options);

    // Whether rel_path is excluded from sync, including because one of its
    // parent directories is (as in git, a file under an excluded directory
    // cannot be re-included).
    bool ignored(std::string_view rel_path, bool is_dir) const;

    // The same, assuming every parent directory of rel_path is not ignored
    // (what a tree walk that skips ignored directories knows); cheaper.
    bool ignored_in_parent(std::string_view rel_path, bool is_dir) const;

    // Whether a change to rel_path may change the rules (a .gitignore when
    // use_gitignore is set, .git/info/exclude): the caller should rebuild.
    bool is_rule_file(std::string_view rel_path) const;

    const std::string &root() const;

    struct Impl;

private:
    std::shared_ptr<const Impl> impl_;
};

// What a scan could not read (permission denied): a path relative to the
// root and why. A directory listed here is itself an entry of the scan,
// without its contents; another entry is left out.
struct Unreadable {
    std::string path;
    std::string why;
};

// Walks root with lstat only (symlinks are never followed), skipping ignored
// entries and never descending into ignored directories. Sorted by path
// (bytewise), so a directory comes before its contents. Entries that vanish
// during the walk are left out. Throws NH_EIO if root or a directory inside
// it cannot be read, unless `unreadable` is given: then what permissions
// keep out (EACCES, EPERM) below the root is skipped and listed there.
// on_dir, if given, is called with each directory's path (relative; "" for the root) right
// before the walk lists it (the Watcher sets up its watch there: see its constructor).
using DirHook = std::function<void(const std::string &rel_dir)>;
std::vector<Entry> scan(const std::string &root, const IgnoreRules &rules,
                        std::vector<Unreadable> *unreadable = nullptr, const DirHook &on_dir = {});
// The same, also deleting the temporary files a sync server leaves in a directory when it
// dies mid-write (".nocalhost-sync.*.tmp" / ".lnk"); only for the server, before it writes
// anything itself. `swept` gets how many were deleted.
std::vector<Entry> scan_sweeping(const std::string &root, const IgnoreRules &rules, size_t &swept,
                                 std::vector<Unreadable> *unreadable = nullptr, const DirHook &on_dir = {});

// Persistent map path -> (Entry, synced_state). synced_state is opaque to
// this layer (the sync engine stores e.g. what the server acknowledged).
// File format: magic, version, count, records, XXH3-64 checksum of all the
// preceding bytes; little-endian.
class Index {
public:
    struct Record {
        Entry entry;
        std::string synced_state;
    };
    using Map = std::map<std::string, Record, std::less<>>;

    // A missing, truncated, corrupt or other-version file gives an empty
    // index (logged as a warning when it existed), never an exception.
    static Index load(const std::string &file);
    // Atomic: writes file + ".tmp", fsyncs it, renames it over file and
    // fsyncs the directory. Throws NH_EIO.
    void save(const std::string &file) const;

    const Record *find(std::string_view path) const;
    // Inserts or replaces the entry; keeps the synced_state of an existing
    // record unless synced_state is given.
    void put(const Entry &entry);
    void put(const Entry &entry, std::string synced_state);
    // Returns false if path is not in the index.
    bool set_synced_state(std::string_view path, std::string synced_state);
    bool erase(std::string_view path);
    // Removes path and everything under it; returns how many were removed.
    size_t erase_tree(std::string_view path);
    void clear();

    size_t size() const { return map_.size(); }
    bool empty() const { return map_.empty(); }
    const Map &records() const { return map_; }

    // When the loaded file was saved (CLOCK_REALTIME, ns; 0 for a new
    // index): compare() distrusts entries whose mtime is too close to it.
    int64_t saved_at_ns() const { return saved_at_ns_; }

    // Compares a fresh scan with the index by metadata only.
    // changed: new entries, or entries whose metadata differ, or whose mtime
    //          is within kRacyWindowNs of the time the index was saved or
    //          later, up to kRacyWindowNs past now (a same-size rewrite in the
    //          same timestamp tick is invisible to metadata, as in git's
    //          "racy clean" problem; a time further ahead than that is no
    //          tick a write since the save could have had).
    // removed: paths in the index but not in the scan (sorted).
    struct Diff {
        std::vector<Entry> changed;
        std::vector<std::string> removed;
    };
    static constexpr int64_t kRacyWindowNs = 2'000'000'000;
    Diff compare(const std::vector<Entry> &scanned) const;

private:
    Map map_;
    int64_t saved_at_ns_ = 0;
};

struct Change {
    enum class Kind : uint8_t {
        Modified,  // path was created or changed (or renamed to): lstat it; if
                   // it is gone by then, treat it as Removed
        Removed,   // path and, if it was a directory, everything under it
        Overflow,  // events were lost: rescan everything (path is empty)
    };
    std::string path;
    Kind kind = Kind::Modified;

    bool operator==(const Change &) const = default;
};

// Recursive watch of a root, over the platform's directory watches (platform/dir_watch.hpp:
// inotify on Linux). Ignored directories are not watched,
// nor those it has no permission to read (nothing of theirs can be synced).
// Create the Watcher before the initial scan() so nothing changed during the
// scan is missed (or let it scan: the second constructor). One inotify watch per directory (the kernel's limit is per
// user: fs.inotify.max_user_watches); about 1 kB of kernel memory each.
// A directory that appears (created or moved in) is watched first and then
// read, and it and its contents are reported as Modified, so nothing created
// in it meanwhile is missed. Changes are reported in order; within one read()
// a repeated (path, kind) is dropped unless a Removed came in between. The
// root itself being removed or moved is reported as Overflow.
class Watcher {
public:
    // Throws NH_EIO (naming fs.inotify.max_user_watches and how to raise it
    // when the inotify watch limit is reached).
    Watcher(std::string root, IgnoreRules rules);
    // The same, and the initial scan() in the same walk: each directory's watch is set up
    // right before the walk lists it (so a change made after its listing is reported, one made
    // before it is in the scan), and every entry is lstat()ed as scan() does. `scanned` gets
    // the scan's result, or stays empty when the scan failed (an unreadable directory: the
    // watches are then set up as by the other constructor, and the caller scans itself and
    // meets the error there).
    Watcher(std::string root, IgnoreRules rules, std::optional<std::vector<Entry>> &scanned);
    // The same with the caller's own walk: `walk` is called once with the hook that sets up a
    // directory's watch, to pass as on_dir to scan() or scan_sweeping(). What it throws, the
    // constructor throws.
    Watcher(std::string root, IgnoreRules rules, const std::function<void(const DirHook &)> &walk);
    ~Watcher();
    Watcher(Watcher &&) noexcept;
    Watcher &operator=(Watcher &&) noexcept;
    Watcher(const Watcher &) = delete;
    Watcher &operator=(const Watcher &) = delete;

    // Readable (poll/epoll POLLIN) when read() has something to return.
    int fd() const;
    // Non-blocking: drains every pending event; empty if none. On queue
    // overflow returns exactly one Change{"", Overflow} after re-walking the
    // tree to watch any directory it missed. May throw like the constructor
    // when a new directory cannot be watched.
    std::vector<Change> read();

    // Replaces the rules (e.g. after a .gitignore changed): directories
    // newly ignored stop being watched, newly included ones start being
    // watched. Nothing is reported: rescan, since what is synced changed.
    void set_rules(IgnoreRules rules);

    size_t watch_count() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace nh::sync::local
