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

// A whole file's XXH3-128, fed piece by piece.
class FileHash {
public:
    FileHash();
    ~FileHash();
    FileHash(const FileHash &) = delete;
    FileHash &operator=(const FileHash &) = delete;
    void update(const void *p, size_t n);
    Digest final();

private:
    void *state_;
};

// The signatures of the first `size` bytes of fd, in batches of at most kSigsPerFrame given to
// `emit`. Reads the file once, in 4 MiB pieces. Returns the number of bytes it could read
// (less than size when the file shrank meanwhile: the blocks after that are not emitted).
uint64_t signatures(int fd, uint64_t size, uint32_t block,
                    const std::function<void(const BlockSig *sigs, size_t n)> &emit);

// The sender: reads the new content from fd and produces copy and literal instructions.
class Encoder {
public:
    struct Sink {
        virtual ~Sink() = default;
        virtual void copy(uint64_t first, uint64_t count) = 0;  // blocks [first, first + count)
        virtual void literal(std::string_view data) = 0;         // at most 1 MiB at a time
    };
    Encoder(int fd, uint32_t block, uint64_t base_size, std::vector<BlockSig> sigs);
    ~Encoder();
    // Works through about `budget` bytes of input. False once the whole input is encoded
    // (every instruction given to sink); digest() is then the XXH3-128 of what was read.
    bool step(Sink &sink, size_t budget);
    Digest digest() const { return digest_; }
    uint64_t bytes_read() const { return read_total_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Digest digest_{};
    uint64_t read_total_ = 0;
};

// The receiver: rebuilds a file from its base (fd, not owned) and the sender's instructions,
// handing the result to `out` in order and hashing it.
class Patcher {
public:
    using Out = std::function<void(std::string_view)>;
    Patcher(int base_fd, uint64_t base_size, uint32_t block);
    // Blocks [first, first + count) of the base. Throws std::out_of_range when they are not
    // all blocks of the base. A base that shrank meanwhile gives fewer bytes, which the digest
    // then tells.
    void copy(uint64_t first, uint64_t count, const Out &out);
    void literal(std::string_view data, const Out &out);
    // Whether what was written hashes to `expected`.
    bool verify(const Digest &expected);
    uint64_t written() const { return written_; }

private:
    int fd_;
    uint64_t size_;
    uint32_t block_;
    uint64_t blocks_;
    uint64_t written_ = 0;
    FileHash sha_;
    std::string buf_;
};

}  // namespace nh::sync::delta
