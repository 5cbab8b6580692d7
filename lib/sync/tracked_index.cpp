#include "sync/tracked_index.hpp"

#include "sync/protocol.hpp"

namespace nh::sync {

TrackedIndex TrackedIndex::load(const std::string &file) {
    TrackedIndex t;
    t.index_ = local::Index::load(file);
    for (auto &[path, rec] : t.index_.records()) t.digest_ += proto::entry_hash(rec.entry);
    return t;
}

void TrackedIndex::put(const local::Entry &e, std::string state) {
    if (auto *old = index_.find(e.path)) digest_ -= proto::entry_hash(old->entry);
    index_.put(e, std::move(state));
    digest_ += proto::entry_hash(e);
}

void TrackedIndex::erase(std::string_view path) {
    if (auto *old = index_.find(path)) {
        digest_ -= proto::entry_hash(old->entry);
        index_.erase(path);
    }
}

std::vector<TrackedIndex::Record> TrackedIndex::subtree(std::string_view path) const {
    std::vector<Record> out;
    auto &m = index_.records();
    if (auto it = m.find(path); it != m.end()) out.push_back(it->second);
    std::string prefix(path);
    prefix.push_back('/');
    for (auto it = m.lower_bound(prefix); it != m.end() && it->first.starts_with(prefix); ++it)
        out.push_back(it->second);
    return out;
}

void TrackedIndex::erase_tree(std::string_view path) {
    for (auto &r : subtree(path)) digest_ -= proto::entry_hash(r.entry);
    index_.erase_tree(path);
}

void TrackedIndex::move_tree(std::string_view from, std::string_view to) {
    auto recs = subtree(from);
    erase_tree(from);
    erase_tree(to);
    for (auto &r : recs) {
        r.entry.path = std::string(to) + r.entry.path.substr(from.size());
        put(r.entry, r.synced_state);
    }
}

void TrackedIndex::clear() {
    index_.clear();
    digest_ = 0;
}

}  // namespace nh::sync
