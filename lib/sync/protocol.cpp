#include "sync/protocol.hpp"

#include <zstd.h>

#include <cstring>

namespace nh::sync::proto {

void Writer::begin(Msg type) {
    start_ = out_.size();
    out_.append(4, '\0');
    u8(static_cast<uint8_t>(type));
}

void Writer::finish() {
    size_t len = out_.size() - start_ - 4;
    auto *p = reinterpret_cast<unsigned char *>(out_.data() + start_);
    p[0] = static_cast<unsigned char>(len >> 24);
    p[1] = static_cast<unsigned char>(len >> 16);
    p[2] = static_cast<unsigned char>(len >> 8);
    p[3] = static_cast<unsigned char>(len);
}

void Writer::u64le(uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
}

void Writer::varint(uint64_t v) {
    while (v >= 0x80) {
        u8(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
}

void Writer::str(std::string_view s) {
    varint(s.size());
    out_.append(s);
}

void Writer::entry(const local::Entry &e) {
    u8(static_cast<uint8_t>(e.type));
    str(e.path);
    varint(e.size);
    svarint(e.mtime_ns);
    varint(e.mode);
    if (e.type == local::Entry::Type::Symlink) str(e.link_target);
}

void Writer::expect(const Expect &x) {
    u8(static_cast<uint8_t>(x.kind));
    if (x.kind != Expect::Kind::Is) return;
    u8(static_cast<uint8_t>(x.entry.type));
    varint(x.entry.size);
    svarint(x.entry.mtime_ns);
    varint(x.entry.mode);
    if (x.entry.type == local::Entry::Type::Symlink) str(x.entry.link_target);
}

uint8_t Reader::u8() {
    if (p_.empty()) throw ProtocolError("truncated frame");
    uint8_t v = static_cast<uint8_t>(p_[0]);
    p_.remove_prefix(1);
    return v;
}

uint64_t Reader::u64le() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(u8()) << (8 * i);
    return v;
}

uint64_t Reader::varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = u8();
        if (shift == 63 && b > 1) throw ProtocolError("varint overflow");
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    throw ProtocolError("varint too long");
}

std::string_view Reader::str(size_t max) {
    uint64_t n = varint();
    if (n > p_.size() || n > max) throw ProtocolError("string length out of range");
    auto s = p_.substr(0, n);
    p_.remove_prefix(n);
    return s;
}

static local::Entry::Type read_type(uint8_t t) {
    if (t > 2) throw ProtocolError("bad entry type");
    return static_cast<local::Entry::Type>(t);
}

local::Entry Reader::entry() {
    local::Entry e;
    e.type = read_type(u8());
    e.path = std::string(str(kMaxPath));
    e.size = varint();
    e.mtime_ns = svarint();
    e.mode = static_cast<uint32_t>(varint() & 07777);
    if (e.type == local::Entry::Type::Symlink) e.link_target = std::string(str(kMaxPath));
    return e;
}

Expect Reader::expect() {
    Expect x;
    uint8_t k = u8();
    if (k > 2) throw ProtocolError("bad expect kind");
    x.kind = static_cast<Expect::Kind>(k);
    if (x.kind != Expect::Kind::Is) return x;
    x.entry.type = read_type(u8());
    x.entry.size = varint();
    x.entry.mtime_ns = svarint();
    x.entry.mode = static_cast<uint32_t>(varint() & 07777);
    if (x.entry.type == local::Entry::Type::Symlink) x.entry.link_target = std::string(str(kMaxPath));
    return x;
}

size_t parse_frame(std::string_view buf, uint32_t max_frame, Frame &out) {
    if (buf.size() < 4) return 0;
    auto *p = reinterpret_cast<const unsigned char *>(buf.data());
    uint32_t len = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    if (len == 0) throw ProtocolError("empty frame");
    if (len > max_frame) throw ProtocolError("frame of " + std::to_string(len) + " bytes exceeds the limit");
    if (buf.size() < 4 + size_t(len)) return 0;
    out.type = static_cast<Msg>(p[4]);
    out.payload = buf.substr(5, len - 1);
    return 4 + size_t(len);
}

std::string check_path(std::string_view path) {
    if (path.empty()) return "empty path";
    if (path.size() > kMaxPath) return "path too long";
    if (path.find('\0') != std::string_view::npos) return "NUL byte in path";
    if (path.front() == '/') return "absolute path";
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        auto comp = path.substr(start, end - start);
        if (comp.empty()) return "empty path component";
        if (comp == "." || comp == "..") return "'.' or '..' in path";
        if (comp.size() > kMaxName) return "path component longer than 255 bytes";
        if (local::is_always_ignored_name(comp)) return "reserved name in path";
        start = end + 1;
    }
    return {};
}

std::string check_link_target(std::string_view link_path, std::string_view target) {
    if (target.empty()) return "empty symlink target";
    if (target.size() > kMaxPath) return "symlink target too long";
    if (target.find('\0') != std::string_view::npos) return "NUL byte in symlink target";
    if (target.front() == '/') return "absolute symlink target";
    long depth = 0;  // depth of the link's directory below the root
    for (char c : link_path)
        if (c == '/') ++depth;
    bool seen_name = false;
    size_t start = 0;
    while (start <= target.size()) {
        size_t end = target.find('/', start);
        if (end == std::string_view::npos) end = target.size();
        auto comp = target.substr(start, end - start);
        if (comp == "..") {
            if (seen_name) return "symlink target with '..' after a name";
            if (--depth < 0) return "symlink target outside the root";
        } else if (!comp.empty() && comp != ".") {
            seen_name = true;
        }
        start = end + 1;
    }
    return {};
}

bool same_remote(const local::Entry &a, const local::Entry &b) {
    if (a.type != b.type) return false;
    switch (a.type) {
    case local::Entry::Type::File:
        return a.size == b.size && a.mtime_ns == b.mtime_ns && (a.mode & 0777) == (b.mode & 0777);
    case local::Entry::Type::Dir:
        return (a.mode & 0777) == (b.mode & 0777);
    case local::Entry::Type::Symlink:
        return a.link_target == b.link_target;
    }
    return false;
}

uint64_t fnv1a(std::string_view s, uint64_t h) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t entry_hash(const local::Entry &e) {
    // FNV-1a over path, NUL, type and the fields of the type, fed piece by piece: the same
    // bytes (and so the same digest) as one record, without building one per entry.
    uint64_t h = fnv1a(e.path);
    const char sep[2] = {'\0', static_cast<char>(e.type)};
    h = fnv1a(std::string_view(sep, sizeof sep), h);
    auto num = [&h](uint64_t v) { h = fnv1a(std::string_view(reinterpret_cast<const char *>(&v), sizeof v), h); };
    switch (e.type) {
    case local::Entry::Type::File:
        num(e.size);
        num(static_cast<uint64_t>(e.mtime_ns));
        num(e.mode & 0777);
        break;
    case local::Entry::Type::Dir:
        num(e.mode & 0777);
        break;
    case local::Entry::Type::Symlink:
        h = fnv1a(e.link_target, h);
        break;
    }
    // Finalise (murmur3 fmix64) so that sums of hashes mix well.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

std::string decode_block(Reader &r, size_t max_raw, ZSTD_DCtx_s *dctx, ZSTD_DCtx_s *stream) {
    auto enc = static_cast<Encoding>(r.u8());
    uint64_t raw_len = r.varint();
    auto data = r.rest();
    if (raw_len > max_raw) throw ProtocolError("data block too large");
    if (enc == Encoding::Raw) {
        if (data.size() != raw_len) throw ProtocolError("data length mismatch");
        return std::string(data);
    }
    if (enc == Encoding::ZstdStream && stream) {
        // The sender flushed the stream at the end of the block: its bytes give exactly raw_len
        // bytes (never more: the output is bounded), and leave nothing unread.
        std::string out(raw_len, '\0');
        ZSTD_inBuffer in{data.data(), data.size(), 0};
        ZSTD_outBuffer o{out.data(), out.size(), 0};
        while (in.pos < in.size) {
            size_t in_before = in.pos, out_before = o.pos;
            size_t rc = ZSTD_decompressStream(stream, &o, &in);
            if (ZSTD_isError(rc)) throw ProtocolError("corrupt compressed data");
            if (in.pos == in_before && o.pos == out_before) throw ProtocolError("corrupt compressed data");
        }
        if (o.pos != raw_len) throw ProtocolError("corrupt compressed data");
        return out;
    }
    if (enc != Encoding::Zstd || !dctx) throw ProtocolError("unknown encoding");
    std::string out(raw_len, '\0');
    size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), data.data(), data.size());
    if (ZSTD_isError(n) || n != raw_len) throw ProtocolError("corrupt compressed data");
    return out;
}

bool secret_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    // Every byte is looked at whatever the first difference: the time says nothing of where.
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::string msg_name(Msg m) {
    switch (m) {
#define N(x) \
    case Msg::x: return #x;
        N(Hello) N(ManifestReq) N(Mkdir) N(File) N(FileBegin) N(FileData) N(FileEnd) N(Symlink)
        N(Delete) N(Rename) N(Meta) N(Commit) N(Fetch) N(Welcome) N(Error) N(Manifest)
        N(ManifestEnd) N(Ack) N(Nack) N(Notice) N(DeltaBegin) N(DeltaCopy) N(DeltaEnd) N(Signatures) N(Resend)
#undef N
    }
    return "0x" + std::to_string(static_cast<int>(m));
}

std::string loggable(std::string_view s) {
    static const char *hex = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        } else {
            out.push_back(ch);
        }
    }
    return out;
}

}  // namespace nh::sync::proto
