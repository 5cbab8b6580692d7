// The sync wire protocol (docs/sync-protocol.md): frames, message types, the
// byte codec, path and symlink-target validation and the tree digest.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sync/local/tree.hpp"

struct ZSTD_DCtx_s;  // zstd.h's ZSTD_DCtx

namespace nh::sync::proto {

inline constexpr uint32_t kVersion = 1;
inline constexpr char kMagic[4] = {'N', 'H', 'S', 'Y'};
// A frame: u32 big-endian length of (type + payload), u8 type, payload.
inline constexpr size_t kHeaderSize = 5;
inline constexpr uint32_t kMaxFrame = 8u << 20;       // after authentication
inline constexpr uint32_t kMaxHelloFrame = 64u << 10;  // before it
// Files up to this size travel in one FILE frame; larger ones are streamed.
inline constexpr size_t kInlineMax = 1u << 20;
inline constexpr size_t kChunk = 1u << 20;
inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxName = 255;

enum class Msg : uint8_t {
    // client -> server
    Hello = 0x01,
    ManifestReq = 0x10,
    Mkdir = 0x11,
    File = 0x12,
    FileBegin = 0x13,
    FileData = 0x14,
    FileEnd = 0x15,
    Symlink = 0x16,
    Delete = 0x17,
    Rename = 0x18,
    Meta = 0x19,
    Commit = 0x1A,
    Fetch = 0x1B,
    DeltaBegin = 0x1C,  // kFeatureDelta (docs/sync-protocol.md, "Delta transfer")
    DeltaCopy = 0x1D,
    DeltaEnd = 0x1E,
    // server -> client
    Welcome = 0x02,
    Error = 0x03,
    Manifest = 0x20,
    ManifestEnd = 0x21,
    Ack = 0x22,
    Nack = 0x23,
    Notice = 0x24,
    Signatures = 0x25,  // kFeatureDelta
    Resend = 0x26,      // kFeatureDelta
};

enum class Mode : uint8_t { Send = 0, TwoWay = 1 };
// kFeatureZstdStream: data blocks may be one zstd stream across the session (Encoding::ZstdStream),
// each block flushed, so every block after the first is compressed against what came before.
// kFeatureDelta (bit 2): a large file the server already has a version of is sent as a delta
// against it (DELTA_BEGIN, SIGNATURES, DELTA_COPY, FILE_DATA, DELTA_END, RESEND). Bit 3 (8)
// is taken by the index exchange.
enum Feature : uint32_t { kFeatureZstd = 1, kFeatureZstdStream = 2, kFeatureDelta = 4 };
enum class Encoding : uint8_t { Raw = 0, Zstd = 1, ZstdStream = 2 };
// The largest zstd window a receiver accepts in a stream (2^23 = 8 MiB).
inline constexpr int kStreamWindowLogMax = 23;
enum class NoticeKind : uint8_t {
    Conflict = 1,         // both sides changed: detail names the conflict copy
    RemoteOverwritten = 2,  // send mode replaced a change made on the server
    DeleteSkipped = 3,    // two-way: a delete was refused because the server changed the path
    Unreadable = 4,       // the server cannot read this path (detail: why); it is left out
};

// Thrown by the codec on malformed input.
struct ProtocolError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// What the writer of an operation believes the target currently is.
struct Expect {
    enum class Kind : uint8_t { Any = 0, Absent = 1, Is = 2 } kind = Kind::Any;
    local::Entry entry;  // when Is (path unused)
};

class Writer {
public:
    explicit Writer(std::string &out) : out_(out) {}
    // Starts a frame; finish() patches its length.
    void begin(Msg type);
    void finish();
    void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u64le(uint64_t v);
    void varint(uint64_t v);
    void svarint(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
    void str(std::string_view s);
    void raw(std::string_view s) { out_.append(s); }
    void entry(const local::Entry &e);  // type, path, size, mtime, mode, target
    void expect(const Expect &x);
    std::string &out() { return out_; }

private:
    std::string &out_;
    size_t start_ = 0;
};

class Reader {
public:
    explicit Reader(std::string_view payload) : p_(payload) {}
    uint8_t u8();
    uint64_t u64le();
    uint64_t varint();
    int64_t svarint() {
        uint64_t v = varint();
        return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
    }
    std::string_view str(size_t max = kMaxFrame);
    // Exactly n bytes.
    std::string_view raw(size_t n) {
        if (p_.size() < n) throw ProtocolError("truncated frame");
        auto r = p_.substr(0, n);
        p_.remove_prefix(n);
        return r;
    }
    std::string_view rest() {
        auto r = p_;
        p_ = {};
        return r;
    }
    local::Entry entry();
    Expect expect();
    bool empty() const { return p_.empty(); }
    void done() const {
        if (!p_.empty()) throw ProtocolError("trailing bytes in frame");
    }

private:
    std::string_view p_;
};

// Splits complete frames off the front of a receive buffer.
struct Frame {
    Msg type;
    std::string_view payload;
};
// Returns the bytes consumed (0: need more). Throws ProtocolError for a
// frame longer than max_frame or of length 0.
size_t parse_frame(std::string_view buf, uint32_t max_frame, Frame &out);

// A relative path the server may touch: non-empty, '/'-separated, no empty,
// "." or ".." components, no NUL, not absolute, components <= 255 bytes,
// total <= 4096, and no component that is always ignored (".git",
// ".nocalhost-sync*"). Returns an empty string when valid, else why not.
std::string check_path(std::string_view path);

// A symlink target that stays inside the root whatever the other links are:
// relative, no NUL, only leading ".." components, no more of them than the
// link's directory depth. Returns "" when valid.
std::string check_link_target(std::string_view link_path, std::string_view target);

// Metadata equality as the protocol sees it (no inode; no mtime for dirs and
// symlinks; permission bits 0777 only).
bool same_remote(const local::Entry &a, const local::Entry &b);
// One entry's contribution to a tree digest (the sum of all of them).
uint64_t entry_hash(const local::Entry &e);

// Stable 64-bit FNV-1a.
uint64_t fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL);

// Constant-time equality of secrets.
bool secret_equal(std::string_view a, std::string_view b);

// A data block (its encoding, raw length and bytes) read from the rest of `r`, decoded.
// ProtocolError for more than `max_raw` raw bytes, a length that does not match, an unknown
// encoding (zstd is unknown without `dctx`, the zstd stream without `stream`: not negotiated)
// or corrupt compressed data. `stream` is the session's decoder of Encoding::ZstdStream blocks.
std::string decode_block(Reader &r, size_t max_raw, ZSTD_DCtx_s *dctx, ZSTD_DCtx_s *stream = nullptr);

std::string msg_name(Msg m);

// Text from a peer made safe for one log line: control bytes (newlines
// included), DEL and backslash are written as \xNN / \\; other bytes are kept.
std::string loggable(std::string_view s);

}  // namespace nh::sync::proto
