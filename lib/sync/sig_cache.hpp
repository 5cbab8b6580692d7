// The server's kept block signatures of the large files it wrote (docs/sync-protocol.md,
// "Delta transfer"): nhsyncd runs for the whole dev session and writes the files itself, so it
// can keep what a later DELTA_BEGIN needs of a file (its signatures, and the XXH3-128 state of
// the whole file for an append) from when it wrote it, and answer without reading the base.
//
// An entry holds for the file exactly as the server left it: its device, inode, size, mtime
// and ctime as fstat()ed after the rename, and the block size for that size. Anything else (a
// write from the container, a touch, a rename over it, a different size) is a miss and the
// base is read as before. Entries live in the server's memory only, at most `max_bytes` of
// them (the least recently used go first).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sync/delta.hpp"

namespace nh::sync {

class SigCache {
public:
    struct Key {
        uint64_t dev = 0, ino = 0, size = 0;
        int64_t mtime_ns = 0, ctime_ns = 0;
        uint32_t block = 0;
        bool operator==(const Key &) const = default;
    };
    // The key of a file as fstat() describes it (block: delta::block_size_for(its size)).
    static Key key_of(const struct stat &st);

    struct Entry {
        Key key;
        std::vector<delta::BlockSig> sigs;
        std::unique_ptr<delta::FileHash> whole;  // fed the whole file
    };

    explicit SigCache(size_t max_bytes) : max_bytes_(max_bytes) {}

    // Keeps e for path (replacing what was kept for it); nothing when e alone is over the cap.
    void put(const std::string &path, Entry e);
    // What is kept for path when it is still the file `st` describes; else nullptr (and an
    // entry kept for another content of path is dropped).
    const Entry *find(const std::string &path, const struct stat &st);
    // Drops what is kept for path and for everything under it.
    void erase_tree(std::string_view path);

    size_t bytes() const { return bytes_; }
    size_t size() const { return map_.size(); }

private:
    struct Slot {
        Entry entry;
        size_t bytes = 0;
        std::list<std::string>::iterator lru;
    };
    using Map = std::map<std::string, Slot, std::less<>>;
    void erase(Map::iterator it);

    size_t max_bytes_;
    size_t bytes_ = 0;
    Map map_;
    std::list<std::string> lru_;  // most recently used first
};

// Signatures of a file taken from its bytes as they are written, in order from its start, at
// a block size chosen before its size is known; finish() tells whether that was the one its
// final size gives (else, or when bytes came out of order, nothing is kept from it).
class SigBuilder {
public:
    explicit SigBuilder(uint32_t block);
    void feed(uint64_t offset, std::string_view data);
    // The entry for a file of `size` bytes when every byte passed in order at the right block
    // size; the key is left for the caller to fill in.
    bool finish(uint64_t size, SigCache::Entry &out);

private:
    uint32_t block_;
    uint64_t next_ = 0;
    bool ok_ = true;
    std::string partial_;  // the current block's bytes, while it is incomplete
    std::vector<delta::BlockSig> sigs_;
    std::unique_ptr<delta::FileHash> whole_;
};

}  // namespace nh::sync
