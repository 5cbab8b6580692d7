#include "sync/sig_cache.hpp"

#include <algorithm>

#include "sync/local/tree.hpp"

namespace nh::sync {

namespace {

// What an entry costs: its signatures, the hash state and the bookkeeping around it.
constexpr size_t kEntryOverhead = 1024;

}  // namespace

SigCache::Key SigCache::key_of(const struct stat &st) {
    Key k;
    k.dev = static_cast<uint64_t>(st.st_dev);
    k.ino = static_cast<uint64_t>(st.st_ino);
    k.size = static_cast<uint64_t>(st.st_size);
    k.mtime_ns = local::time_ns(st.st_mtim);
    k.ctime_ns = local::time_ns(st.st_ctim);
    k.block = delta::block_size_for(k.size);
    return k;
}

void SigCache::erase(Map::iterator it) {
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    map_.erase(it);
}

void SigCache::put(const std::string &path, Entry e) {
    if (auto it = map_.find(path); it != map_.end()) erase(it);
    size_t cost = e.sigs.size() * sizeof(delta::BlockSig) + path.size() + kEntryOverhead;
    if (cost > max_bytes_ || !e.whole) return;
    while (bytes_ + cost > max_bytes_ && !lru_.empty()) erase(map_.find(lru_.back()));
    lru_.push_front(path);
    Slot &s = map_[path];
    s.entry = std::move(e);
    s.bytes = cost;
    s.lru = lru_.begin();
    bytes_ += cost;
}

const SigCache::Entry *SigCache::find(const std::string &path, const struct stat &st) {
    auto it = map_.find(path);
    if (it == map_.end()) return nullptr;
    if (!S_ISREG(st.st_mode) || !(it->second.entry.key == key_of(st))) {
        erase(it);
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second.entry;
}

void SigCache::erase_tree(std::string_view path) {
    if (auto it = map_.find(path); it != map_.end()) erase(it);
    std::string sub = std::string(path) + "/";
    for (auto it = map_.lower_bound(sub); it != map_.end() && it->first.starts_with(sub);) erase(it++);
}

SigBuilder::SigBuilder(uint32_t block) : block_(block ? block : 1), whole_(std::make_unique<delta::FileHash>()) {}

void SigBuilder::feed(uint64_t offset, std::string_view data) {
    if (!ok_) return;
    if (offset != next_) {  // out of order: nothing is kept from this file
        ok_ = false;
        sigs_ = {};
        partial_ = {};
        return;
    }
    next_ += data.size();
    whole_->update(data.data(), data.size());
    auto sign = [&](std::string_view b) {
        sigs_.push_back(delta::block_sig(reinterpret_cast<const unsigned char *>(b.data()), b.size()));
    };
    if (!partial_.empty()) {
        size_t take = std::min<size_t>(block_ - partial_.size(), data.size());
        partial_.append(data.substr(0, take));
        data.remove_prefix(take);
        if (partial_.size() < block_) return;
        sign(partial_);
        partial_.clear();
    }
    while (data.size() >= block_) {
        sign(data.substr(0, block_));
        data.remove_prefix(block_);
    }
    partial_.assign(data);
}

bool SigBuilder::finish(uint64_t size, SigCache::Entry &out) {
    if (!ok_ || next_ != size || delta::block_size_for(size) != block_) return false;
    if (!partial_.empty()) {
        sigs_.push_back(delta::block_sig(reinterpret_cast<const unsigned char *>(partial_.data()), partial_.size()));
        partial_.clear();
    }
    out.sigs = std::move(sigs_);
    out.whole = std::move(whole_);
    ok_ = false;
    return true;
}

}  // namespace nh::sync
