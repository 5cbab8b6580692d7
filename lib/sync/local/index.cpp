// The persistent index. Layout (little-endian):
//   "NHSYNCIX" u32 version u32 reserved i64 saved_at_ns u64 count
//   count x { u32 len path | u8 type | u64 size | i64 mtime_ns | u32 mode |
//             u64 ino | u32 len link_target | u32 len synced_state }
//   u64 XXH3_64bits(all preceding bytes)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/error.hpp"
#include "common/log.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {
namespace {

constexpr char kMagic[8] = {'N', 'H', 'S', 'Y', 'N', 'C', 'I', 'X'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 8;
constexpr size_t kMinRecordSize = 4 + 1 + 8 + 8 + 4 + 8 + 4 + 4;

int64_t now_ns() {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return time_ns(ts);
}

template <typename T>
void put_le(std::string &out, T value) {
    auto v = static_cast<std::make_unsigned_t<T>>(value);
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_bytes(std::string &out, std::string_view s) {
    put_le<uint32_t>(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}

class Reader {
public:
    explicit Reader(std::string_view data) : data_(data) {}

    template <typename T>
    bool get(T &value) {
        if (data_.size() - pos_ < sizeof(T)) return false;
        std::make_unsigned_t<T> v = 0;
        for (size_t i = 0; i < sizeof(T); ++i)
            v |= static_cast<std::make_unsigned_t<T>>(static_cast<unsigned char>(data_[pos_ + i]))
                 << (8 * i);
        value = static_cast<T>(v);
        pos_ += sizeof(T);
        return true;
    }

    bool get_bytes(std::string &out) {
        uint32_t len;
        if (!get(len) || data_.size() - pos_ < len) return false;
        out.assign(data_.substr(pos_, len));
        pos_ += len;
        return true;
    }

    size_t remaining() const { return data_.size() - pos_; }

private:
    std::string_view data_;
    size_t pos_ = 0;
};

bool read_whole(const std::string &file, std::string &out, int &err) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        return false;
    }
    out.clear();
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = errno;
            ::close(fd);
            return false;
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return true;
}

// Parses data into index; false (and index untouched) if anything is off.
bool parse(std::string_view data, Index::Map &map, int64_t &saved_at_ns, std::string &why) {
    if (data.size() < kHeaderSize + 8 || std::memcmp(data.data(), kMagic, 8) != 0) {
        why = "not an index file";
        return false;
    }
    std::string_view body = data.substr(0, data.size() - 8);
    Reader trailer(data.substr(data.size() - 8));
    uint64_t checksum = 0;
    trailer.get(checksum);
    if (XXH3_64bits(body.data(), body.size()) != checksum) {
        why = "checksum mismatch";
        return false;
    }
    Reader r(body.substr(8));
    uint32_t version = 0, reserved = 0;
    uint64_t count = 0;
    r.get(version);
    r.get(reserved);
    r.get(saved_at_ns);
    r.get(count);
    if (version != kVersion) {
        why = "version " + std::to_string(version) + ", expected " + std::to_string(kVersion);
        return false;
    }
    if (count > r.remaining() / kMinRecordSize) {
        why = "record count out of range";
        return false;
    }
    Index::Map parsed;
    for (uint64_t i = 0; i < count; ++i) {
        Index::Record rec;
        uint8_t type = 0;
        if (!r.get_bytes(rec.entry.path) || !r.get(type) || !r.get(rec.entry.size) ||
            !r.get(rec.entry.mtime_ns) || !r.get(rec.entry.mode) || !r.get(rec.entry.ino) ||
            !r.get_bytes(rec.entry.link_target) || !r.get_bytes(rec.synced_state)) {
            why = "truncated record";
            return false;
        }
        if (type > static_cast<uint8_t>(Entry::Type::Symlink) || rec.entry.path.empty()) {
            why = "invalid record";
            return false;
        }
        rec.entry.type = static_cast<Entry::Type>(type);
        std::string key = rec.entry.path;
        // Saved in key order: each record goes at the end, in constant time.
        parsed.insert_or_assign(parsed.end(), std::move(key), std::move(rec));
    }
    if (r.remaining() != 0) {
        why = "trailing bytes";
        return false;
    }
    map = std::move(parsed);
    return true;
}

[[noreturn]] void fail_save(const std::string &file, const char *what, int err) {
    fail(NH_EIO, std::string("cannot save index ") + file + ": " + what + ": " + std::strerror(err));
}

void write_all(int fd, std::string_view data, const std::string &file) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_save(file, "write", errno);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

}  // namespace

Index Index::load(const std::string &file) {
    Index index;
    std::string data;
    int err = 0;
    if (!read_whole(file, data, err)) {
        if (err != ENOENT)
            log::warn("sync index " + file + " unreadable (" + std::strerror(err) + "); starting empty");
        return index;
    }
    std::string why;
    if (!parse(data, index.map_, index.saved_at_ns_, why)) {
        log::warn("sync index " + file + " ignored (" + why + "); starting empty");
        index.map_.clear();
        index.saved_at_ns_ = 0;
    }
    return index;
}

void Index::save(const std::string &file) const {
    std::string out;
    out.reserve(kHeaderSize + map_.size() * (kMinRecordSize + 48) + 8);
    out.append(kMagic, sizeof kMagic);
    put_le<uint32_t>(out, kVersion);
    put_le<uint32_t>(out, 0);
    put_le<int64_t>(out, now_ns());
    put_le<uint64_t>(out, map_.size());
    for (const auto &[path, rec] : map_) {
        put_bytes(out, path);
        put_le<uint8_t>(out, static_cast<uint8_t>(rec.entry.type));
        put_le<uint64_t>(out, rec.entry.size);
        put_le<int64_t>(out, rec.entry.mtime_ns);
        put_le<uint32_t>(out, rec.entry.mode);
        put_le<uint64_t>(out, rec.entry.ino);
        put_bytes(out, rec.entry.link_target);
        put_bytes(out, rec.synced_state);
    }
    put_le<uint64_t>(out, XXH3_64bits(out.data(), out.size()));

    std::string tmp = file + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail_save(file, "create", errno);
    try {
        write_all(fd, out, file);
        if (::fsync(fd) != 0) fail_save(file, "fsync", errno);
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail_save(file, "close", e);
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail_save(file, "rename", e);
    }
    size_t slash = file.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);  // best effort: the rename is already visible
        ::close(dfd);
    }
}

const Index::Record *Index::find(std::string_view path) const {
    auto it = map_.find(path);
    return it == map_.end() ? nullptr : &it->second;
}

void Index::put(const Entry &entry) {
    auto it = map_.find(entry.path);
    if (it != map_.end()) {
        it->second.entry = entry;
    } else {
        map_.emplace(entry.path, Record{entry, {}});
    }
}

void Index::put(const Entry &entry, std::string synced_state) {
    map_.insert_or_assign(entry.path, Record{entry, std::move(synced_state)});
}

bool Index::set_synced_state(std::string_view path, std::string synced_state) {
    auto it = map_.find(path);
    if (it == map_.end()) return false;
    it->second.synced_state = std::move(synced_state);
    return true;
}

bool Index::erase(std::string_view path) {
    auto it = map_.find(path);
    if (it == map_.end()) return false;
    map_.erase(it);
    return true;
}

size_t Index::erase_tree(std::string_view path) {
    size_t n = erase(path) ? 1 : 0;
    std::string prefix(path);
    prefix.push_back('/');
    auto it = map_.lower_bound(prefix);
    while (it != map_.end() && it->first.starts_with(prefix)) {
        it = map_.erase(it);
        ++n;
    }
    return n;
}

void Index::clear() { map_.clear(); }

Index::Diff Index::compare(const std::vector<Entry> &scanned) const {
    Diff diff;
    // A time later than now (a file dated ahead: a clock that was wrong, an archive, touch -d)
    // is no tick a write since the save could have left: any such write was dated at most now.
    const int64_t racy_after = saved_at_ns_ - kRacyWindowNs;
    const int64_t now = now_ns();
    const int64_t racy_before = now > INT64_MAX - kRacyWindowNs ? INT64_MAX : now + kRacyWindowNs;
    auto it = map_.begin();
    for (const Entry &e : scanned) {
        while (it != map_.end() && it->first < e.path) diff.removed.push_back((it++)->first);
        if (it != map_.end() && it->first == e.path) {
            const Entry &old = it->second.entry;
            bool racy = old.type == Entry::Type::File && old.mtime_ns >= racy_after && old.mtime_ns <= racy_before;
            if (racy || !same_metadata(old, e)) diff.changed.push_back(e);
            ++it;
        } else {
            diff.changed.push_back(e);
        }
    }
    while (it != map_.end()) diff.removed.push_back((it++)->first);
    return diff;
}

}  // namespace nh::sync::local
