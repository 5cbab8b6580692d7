// A local::Index that also maintains the tree digest of its entries (the sum
// of proto::entry_hash), so both ends can tell in one number whether their
// views of the server's tree agree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sync/local/tree.hpp"

namespace nh::sync {

class TrackedIndex {
public:
    using Record = local::Index::Record;

    static TrackedIndex load(const std::string &file);
    void save(const std::string &file) const { index_.save(file); }

    const Record *find(std::string_view path) const { return index_.find(path); }
    void put(const local::Entry &e, std::string state = {});
    bool set_state(std::string_view path, std::string state) { return index_.set_synced_state(path, std::move(state)); }
    void erase(std::string_view path);
    void erase_tree(std::string_view path);
    // Records at path and below it.
    std::vector<Record> subtree(std::string_view path) const;
    // Moves path and everything below it to `to` (replacing what was there).
    void move_tree(std::string_view from, std::string_view to);
    void clear();

    uint64_t digest() const { return digest_; }
    size_t size() const { return index_.size(); }
    const local::Index::Map &records() const { return index_.records(); }

private:
    local::Index index_;
    uint64_t digest_ = 0;
};

}  // namespace nh::sync
