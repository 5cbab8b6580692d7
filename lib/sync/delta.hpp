// Delta transfer of large files (docs/sync-protocol.md, "Delta transfer"): rsync's algorithm.
// The receiver cuts its current copy of a file (the base) into fixed blocks and sends one
// signature per block (a rolling weak checksum and XXH3-64 of the block); the sender slides a
// window over the new content, finds the base's blocks wherever they now lie (at any byte
// offset, so inserts that shift data still match) and sends only copy-block references and the
// bytes in between. The receiver rebuilds the file from its base and the literals and checks
// the XXH3-128 of the result against the sender's (a base that changed under the receiver is
// caught there; nhsyncd links no OpenSSL, so the check is xxhash's 128-bit hash, which guards
// against accidents, not against the authenticated sender, who may write anything anyway).
//
// Memory: the sender keeps the signatures (12 bytes a block; block sizes grow with the file so
// that a file has at most about 4096 blocks) and a window of a few MiB; the receiver reads
// the base block run by block run. Neither holds a file.
//
// Appends: when the result is the base followed by new bytes (a log, a growing archive), the
// receiver's Patcher can leave the base where it is and give out only the new bytes, so that
// the receiver grows the file in place instead of writing it all again (Patcher::defer).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nh::sync::delta {

// Files larger than this go by delta when the receiver has a base (smaller ones travel whole:
// one frame, no round trip).
inline constexpr uint64_t kMinSize = 1u << 20;
// Signatures travel in frames of at most this many.
inline constexpr size_t kSigsPerFrame = 16384;
// Bytes of one signature on the wire: weak u32le, strong u64le.
inline constexpr size_t kSigBytes = 12;

// The block size for a base of this size: a power of two, at least 4 KiB, at least
// sqrt(size), and large enough for at most 4096 blocks (up to 1 MiB blocks).
uint32_t block_size_for(uint64_t base_size);
// The number of blocks of a base.
uint64_t block_count(uint64_t base_size, uint32_t block);

struct BlockSig {
    uint32_t weak = 0;
    uint64_t strong = 0;
};
using Digest = std::array<unsigned char, 16>;  // XXH3-128, canonical (big-endian) form

// rsync's rolling checksum of a block.
uint32_t weak_sum(const unsigned char *p, size_t n);
uint64_t strong_sum(const unsigned char *p, size_t n);
// The signature of one block: both sums.
inline BlockSig block_sig(const unsigned char *p, size_t n) { return {weak_sum(p, n), strong_sum(p, n)}; }

// A whole file's XXH3-128, fed piece by piece.
class FileHash {
public:
    FileHash();
    ~FileHash();
    FileHash(const FileHash &) = delete;
    FileHash &operator=(const FileHash &) = delete;
    void update(const void *p, size_t n);
    // Becomes a copy of `other` (what it has been fed so far).
    void assign(const FileHash &other);
    Digest final();

private:
    void *state_;
};

// The signatures of the first `size` bytes of fd, in batches of at most kSigsPerFrame given to
// `emit`. Reads the file once, in 4 MiB pieces. Returns the number of bytes it could read
// (less than size when the file shrank meanwhile: the blocks after that are not emitted).
// `whole`, if given, is fed those bytes (the hash of the base as read).
uint64_t signatures(int fd, uint64_t size, uint32_t block,
                    const std::function<void(const BlockSig *sigs, size_t n)> &emit, FileHash *whole = nullptr);

// The sender: reads the new content from fd and produces copy and literal instructions.
// The signatures may come in pieces, as they arrive (add()): until all are in, the encoder
// goes only as far as the base's blocks in order take it (a file changed further on, or
// grown, is mostly that), past an edit in place (the base's blocks resuming at their own
// offsets within 4 MiB; what lies between goes as literal), then waits (waiting()); with all
// of them it searches every block at every offset.
class Encoder {
public:
    struct Sink {
        virtual ~Sink() = default;
        virtual void copy(uint64_t first, uint64_t count) = 0;  // blocks [first, first + count)
        virtual void literal(std::string_view data) = 0;         // at most 1 MiB at a time
    };
    Encoder(int fd, uint32_t block, uint64_t base_size);
    Encoder(int fd, uint32_t block, uint64_t base_size, const std::vector<BlockSig> &sigs);
    ~Encoder();
    // The next signatures, in order; base_size as the receiver now says (it only shrinks, when
    // the base shrank while it was read: then what was received is all).
    void add(const BlockSig *sigs, size_t n, uint64_t base_size);
    uint64_t received() const;
    bool complete() const;
    // step() stopped because it needs signatures that are not in yet.
    bool waiting() const;
    uint32_t block() const;
    uint64_t base_size() const;
    // Works through about `budget` bytes of input. False once the whole input is encoded
    // (every instruction given to sink); digest() is then the XXH3-128 of what was read.
    bool step(Sink &sink, size_t budget);
    Digest digest() const { return digest_; }
    uint64_t bytes_read() const { return read_total_; }
    // How far into the input the encoding has come while step() works through it (the bytes
    // before it are encoded), for progress reports.
    uint64_t position() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Digest digest_{};
    uint64_t read_total_ = 0;
};

// The receiver: rebuilds a file from its base (fd, not owned) and the sender's instructions,
// handing the result to `out` piece by piece with each piece's offset in the result, and
// hashing it.
//
// Deferred (after defer()): while the result so far is the base from its start (copies of
// blocks 0, 1, 2... in order, literals equal to the base's bytes there), nothing is given to
// out. Once the result passes the base's end it is in append mode: out gets only the new
// bytes, at their offsets (from base_size on). Any other instruction first gives out the base
// part it had left unwritten and goes on as without defer(). finish() says which it was.
class Patcher {
public:
    using Out = std::function<void(uint64_t offset, std::string_view data)>;
    Patcher(int base_fd, uint64_t base_size, uint32_t block);
    // Defers the base's part of the result; `base` is the hash of the whole base as it was
    // read for its signatures (the caller checks the base has not changed since, e.g. with
    // fstat, before it relies on an append).
    void defer(const FileHash &base);
    // Blocks [first, first + count) of the base. Throws std::out_of_range when they are not
    // all blocks of the base. A base that shrank meanwhile gives fewer bytes, which the digest
    // then tells.
    void copy(uint64_t first, uint64_t count, const Out &out);
    void literal(std::string_view data, const Out &out);
    // After the last instruction. True: the result is the base followed by the bytes given to
    // out (none, perhaps) at offsets from base_size on, and nothing else was given. False: out
    // got the whole result.
    bool finish(const Out &out);
    // In append mode: gives out the base (at offset 0), unhashed, so that what out got is the
    // whole result; finish() is then false.
    void write_base(const Out &out);
    // Whether what was written hashes to `expected`.
    bool verify(const Digest &expected);
    uint64_t written() const { return written_; }
    uint64_t base_size() const { return size_; }

private:
    enum class Mode { Plain, Deferred, Append };
    // Bytes [off, end) of the base to out at out_off, fed to hash if given; returns how many
    // it could read.
    uint64_t emit_base(uint64_t off, uint64_t end, uint64_t out_off, const Out &out, FileHash *hash);
    void materialize(const Out &out);
    bool base_equals(uint64_t off, std::string_view data);

    int fd_;
    uint64_t size_;
    uint32_t block_;
    uint64_t blocks_;
    uint64_t written_ = 0;
    Mode mode_ = Mode::Plain;
    bool base_changed_ = false;  // the base written in append mode was not the one hashed
    FileHash sha_;
    std::unique_ptr<FileHash> base_hash_;
    std::string buf_;
};

}  // namespace nh::sync::delta
