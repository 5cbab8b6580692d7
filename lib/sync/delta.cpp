#include "sync/delta.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <new>
#include <unordered_map>

namespace nh::sync::delta {

namespace {

constexpr size_t kReadPiece = 4u << 20;   // a multiple of every block size
constexpr size_t kEmitEvery = 16u << 20;  // signatures go out at least this often (bytes of base read)
constexpr size_t kLiteralMax = 1u << 20;  // a literal instruction's largest piece
constexpr unsigned kFilterBits = 20;      // the sender's filter of weak sums: 2^20 bits
constexpr int kChainMax = 256;            // candidates looked at per weak sum
constexpr size_t kAheadSpan = 4u << 20;   // how far an edit in place is looked past before every signature is in

size_t read_full(int fd, char *p, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<size_t>(r);
    }
    return got;
}

uint32_t filter_slot(uint32_t weak) { return (weak * 0x9E3779B1u) >> (32 - kFilterBits); }

}  // namespace

uint32_t block_size_for(uint64_t base_size) {
    uint64_t want = std::max<uint64_t>({4096, static_cast<uint64_t>(std::sqrt(static_cast<double>(base_size))),
                                        (base_size + 4095) / 4096});
    return static_cast<uint32_t>(std::min<uint64_t>(std::bit_ceil(want), 1u << 20));
}

uint64_t block_count(uint64_t base_size, uint32_t block) { return block ? (base_size + block - 1) / block : 0; }

// a = the sum of the bytes, b = the sum of a after each byte (of which the low 16 bits of
// each are kept). With SSE2, 16 bytes a step: over a 16-byte piece x, b grows by 16·a (a as
// before the piece) plus the sum of (16 - j)·x[j], and a by the sum of x; the same sums, about
// twenty times faster than byte by byte.
uint32_t weak_sum(const unsigned char *p, size_t n) {
    uint32_t a = 0, b = 0;
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i zero = _mm_setzero_si128();
        const __m128i w_lo = _mm_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9);
        const __m128i w_hi = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
        __m128i s1 = zero, ps = zero, s2 = zero;  // a; the sum of a before each piece; the weighted sums
        for (; i + 16 <= n; i += 16) {
            __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i));
            ps = _mm_add_epi64(ps, s1);
            s1 = _mm_add_epi64(s1, _mm_sad_epu8(x, zero));
            s2 = _mm_add_epi32(s2, _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(x, zero), w_lo),
                                                 _mm_madd_epi16(_mm_unpackhi_epi8(x, zero), w_hi)));
        }
        alignas(16) uint64_t l1[2], lp[2];
        alignas(16) uint32_t l2[4];
        _mm_store_si128(reinterpret_cast<__m128i *>(l1), s1);
        _mm_store_si128(reinterpret_cast<__m128i *>(lp), ps);
        _mm_store_si128(reinterpret_cast<__m128i *>(l2), s2);
        a = static_cast<uint32_t>(l1[0] + l1[1]);
        b = 16 * static_cast<uint32_t>(lp[0] + lp[1]) + l2[0] + l2[1] + l2[2] + l2[3];
    }
#endif
    for (; i < n; ++i) {
        a += p[i];
        b += a;
    }
    return (a & 0xffff) | (b << 16);
}

uint64_t strong_sum(const unsigned char *p, size_t n) { return XXH3_64bits(p, n); }

FileHash::FileHash() : state_(XXH3_createState()) {
    if (!state_ || XXH3_128bits_reset(static_cast<XXH3_state_t *>(state_)) != XXH_OK)
        throw std::bad_alloc();
}
FileHash::~FileHash() { XXH3_freeState(static_cast<XXH3_state_t *>(state_)); }
void FileHash::update(const void *p, size_t n) {
    if (n) XXH3_128bits_update(static_cast<XXH3_state_t *>(state_), p, n);
}
void FileHash::assign(const FileHash &other) {
    XXH3_copyState(static_cast<XXH3_state_t *>(state_), static_cast<const XXH3_state_t *>(other.state_));
}
Digest FileHash::final() {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(static_cast<XXH3_state_t *>(state_)));
    Digest d{};
    std::copy(std::begin(c.digest), std::end(c.digest), d.begin());
    return d;
}

uint64_t signatures(int fd, uint64_t size, uint32_t block, const std::function<void(const BlockSig *, size_t)> &emit,
                    FileHash *whole) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::string buf(kReadPiece, '\0');
    std::vector<BlockSig> batch;
    batch.reserve(kSigsPerFrame);
    uint64_t off = 0;
    while (off < size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(kReadPiece, size - off));
        size_t got = read_full(fd, buf.data(), want, off);
        auto *p = reinterpret_cast<const unsigned char *>(buf.data());
        // Only whole blocks, and the base's last (short) block when the file ends there.
        size_t usable = got == want && off + got == size ? got : got - got % block;
        for (size_t k = 0; k < usable; k += block) {
            size_t n = std::min<size_t>(block, usable - k);
            batch.push_back(block_sig(p + k, n));
            if (batch.size() == kSigsPerFrame) {
                emit(batch.data(), batch.size());
                batch.clear();
            }
        }
        if (whole) whole->update(p, usable);
        // A frame at least every 16 MiB read, so that the sender can start on the blocks it
        // has (and not so often that frames cost bytes: 64 frames for 1 GiB).
        if (!batch.empty() && (batch.size() >= 256 || (off + usable) % kEmitEvery == 0)) {
            emit(batch.data(), batch.size());
            batch.clear();
        }
        off += usable;
        if (got < want) break;
    }
    if (!batch.empty()) emit(batch.data(), batch.size());
    return off;
}

struct Encoder::Impl {
    int fd;
    uint32_t block;
    uint64_t base_size, nblocks;
    std::vector<BlockSig> sigs;
    std::unordered_map<uint32_t, uint32_t> head;  // weak sum -> first block with it
    std::vector<uint32_t> next;                   // -> the next block with the same weak sum
    std::vector<uint64_t> filter;
    std::string buf;
    size_t pos = 0, lit = 0;  // the window's start; the start of the pending literal
    uint64_t read_off = 0;
    bool eof = false;
    FileHash sha;
    bool have_sum = false;
    uint32_t a = 0, b = 0;
    uint64_t run_first = 0, run_count = 0;
    uint64_t expect_next = 0;  // the base block tried first at the window (in order)
    bool complete = false;     // every signature is in (and the lookup built)
    bool waiting = false;      // step() stopped for more signatures
    // Where (in the file) skip_ahead() last found nothing, and with how many signatures in.
    uint64_t ahead_pos = UINT64_MAX;
    uint64_t ahead_sigs = 0;

    void refill() {
        if (lit) {
            buf.erase(0, lit);
            pos -= lit;
            lit = 0;
        }
        size_t old = buf.size();
        buf.resize(old + kReadPiece);
        size_t got = read_full(fd, buf.data() + old, kReadPiece, read_off);
        buf.resize(old + got);
        read_off += got;
        sha.update(buf.data() + old, got);
        if (got < kReadPiece) eof = true;
    }

    void flush_run(Sink &sink) {
        if (run_count) sink.copy(run_first, run_count);
        run_count = 0;
    }

    void flush_literal(Sink &sink, size_t end) {
        if (end <= lit) return;
        flush_run(sink);
        for (size_t k = lit; k < end; k += kLiteralMax)
            sink.literal(std::string_view(buf).substr(k, std::min(kLiteralMax, end - k)));
        lit = end;
    }

    void add_copy(Sink &sink, uint64_t m) {
        if (run_count && m == run_first + run_count) {
            ++run_count;
            return;
        }
        flush_run(sink);
        run_first = m;
        run_count = 1;
    }

    // The base block the window [p, p + n) equals, or -1.
    int64_t match(const unsigned char *p, size_t n, uint32_t weak) {
        if (!(filter[filter_slot(weak) >> 6] & (uint64_t{1} << (filter_slot(weak) & 63)))) return -1;
        uint64_t s = strong_sum(p, n);
        if (expect_next < nblocks && sigs[expect_next].weak == weak && sigs[expect_next].strong == s &&
            block_len(expect_next) == n)
            return static_cast<int64_t>(expect_next);
        auto it = head.find(weak);
        if (it == head.end()) return -1;
        int looked = 0;
        for (uint32_t i = it->second; i != UINT32_MAX && looked < kChainMax; i = next[i], ++looked)
            if (sigs[i].strong == s && block_len(i) == n) return i;
        return -1;
    }

    // Before every signature is in, with the window at a block that is not the base's next
    // one: an edit in place, where the base's blocks resume at their own offsets a few blocks
    // on. Looks for the first of the next blocks (up to kAheadSpan bytes on, as far as the
    // signatures in go) that is where the base has it, and if one is, sends what lies before
    // it as literal and goes on from there. Those bytes could equal a block whose signature
    // is not in yet (content moved, not edited): then they cost up to kAheadSpan more bytes
    // on the wire than the search over every block would, never a wrong result. Returns the
    // bytes it moved the window by (0: nothing found; the caller waits for signatures).
    size_t skip_ahead(Sink &sink) {
        const uint64_t here = read_off - (buf.size() - pos);
        if (here == ahead_pos && sigs.size() == ahead_sigs) return 0;
        const uint64_t span = std::max<uint64_t>(1, kAheadSpan / block);
        for (uint64_t k = 1; k <= span && expect_next + k < sigs.size(); ++k) {
            uint64_t i = expect_next + k;
            if (block_len(i) != block) break;  // the short last block: the search at the end finds it
            while (!eof && buf.size() - pos < (k + 1) * block) refill();
            if (buf.size() - pos < (k + 1) * block) break;
            auto *at = reinterpret_cast<const unsigned char *>(buf.data()) + pos + k * block;
            if (strong_sum(at, block) != sigs[i].strong) continue;
            size_t moved = k * block + block;
            flush_literal(sink, pos + k * block);
            add_copy(sink, i);
            expect_next = i + 1;
            pos += moved;
            lit = pos;
            return moved;
        }
        ahead_pos = here;
        ahead_sigs = sigs.size();
        return 0;
    }

    size_t block_len(uint64_t i) const {
        return i + 1 < nblocks ? block : static_cast<size_t>(base_size - (nblocks - 1) * uint64_t{block});
    }
};

Encoder::Encoder(int fd, uint32_t block, uint64_t base_size) : impl_(std::make_unique<Impl>()) {
    auto &m = *impl_;
    m.fd = fd;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    m.block = block ? block : 1;
    add(nullptr, 0, base_size);
}

Encoder::Encoder(int fd, uint32_t block, uint64_t base_size, const std::vector<BlockSig> &sigs) : Encoder(fd, block, base_size) {
    add(sigs.data(), sigs.size(), base_size);
}

void Encoder::add(const BlockSig *sigs, size_t n, uint64_t base_size) {
    auto &m = *impl_;
    if (m.complete) return;
    m.sigs.insert(m.sigs.end(), sigs, sigs + n);
    m.base_size = base_size;
    m.nblocks = block_count(base_size, m.block);
    m.waiting = false;
    if (m.sigs.size() < m.nblocks) return;
    m.sigs.resize(m.nblocks);
    m.complete = true;
    m.next.assign(m.nblocks, UINT32_MAX);
    m.filter.assign((size_t{1} << kFilterBits) / 64, 0);
    m.head.reserve(m.nblocks);
    for (size_t i = m.nblocks; i-- > 0;) {
        uint32_t w = m.sigs[i].weak;
        auto [it, fresh] = m.head.try_emplace(w, static_cast<uint32_t>(i));
        if (!fresh) {
            m.next[i] = it->second;
            it->second = static_cast<uint32_t>(i);
        }
        uint32_t slot = filter_slot(w);
        m.filter[slot >> 6] |= uint64_t{1} << (slot & 63);
    }
}

uint64_t Encoder::received() const { return impl_->sigs.size(); }
bool Encoder::complete() const { return impl_->complete; }
bool Encoder::waiting() const { return impl_->waiting; }
uint32_t Encoder::block() const { return impl_->block; }
uint64_t Encoder::base_size() const { return impl_->base_size; }
uint64_t Encoder::position() const {
    const Impl &m = *impl_;
    return m.buf.empty() ? m.read_off : m.read_off - (m.buf.size() - m.lit);
}

Encoder::~Encoder() = default;

bool Encoder::step(Sink &sink, size_t budget) {
    auto &m = *impl_;
    if (!m.nblocks && m.eof && m.pos == m.buf.size()) return false;
    const size_t block = m.block;
    size_t done = 0;
    while (done < budget) {
        if (!m.eof && m.buf.size() - m.pos < block + 1) {
            m.refill();
            continue;
        }
        size_t avail = m.buf.size() - m.pos;
        auto *w = reinterpret_cast<const unsigned char *>(m.buf.data()) + m.pos;
        // Right after a match the next block is most likely the base's next one: its strong
        // hash (faster than the rolling sum from scratch) settles it without the weak sum.
        // Until every signature is in, that is all that can be tried.
        if (!m.have_sum && avail >= block && m.expect_next < m.sigs.size() && m.block_len(m.expect_next) == block &&
            strong_sum(w, block) == m.sigs[m.expect_next].strong) {
            m.flush_literal(sink, m.pos);
            m.add_copy(sink, m.expect_next);
            ++m.expect_next;
            m.pos += block;
            m.lit = m.pos;
            done += block;
            continue;
        }
        if (!m.complete) {
            if (size_t moved = m.skip_ahead(sink)) {
                done += moved;
                continue;
            }
            m.waiting = true;
            return true;
        }
        if (!m.nblocks && !m.eof) {  // nothing to match against: all of it is literal
            m.pos = m.buf.size();
            m.flush_literal(sink, m.pos);
            done += avail;
            continue;
        }
        if (avail < block || !m.nblocks) {
            // The end: the base's short last block, if it is what is left; else literal.
            auto *p = reinterpret_cast<const unsigned char *>(m.buf.data()) + m.pos;
            int64_t hit = avail && m.nblocks ? m.match(p, avail, weak_sum(p, avail)) : -1;
            if (hit >= 0) {
                m.flush_literal(sink, m.pos);
                m.add_copy(sink, static_cast<uint64_t>(hit));
                m.pos += avail;
                m.lit = m.pos;
            }
            m.pos = m.buf.size();
            m.flush_literal(sink, m.pos);
            m.flush_run(sink);
            read_total_ = m.read_off;
            digest_ = m.sha.final();
            m.nblocks = 0;
            m.sigs.clear();
            m.buf.clear();
            m.buf.shrink_to_fit();
            m.pos = m.lit = 0;
            return false;
        }
        if (!m.have_sum) {
            m.a = m.b = 0;
            for (size_t i = 0; i < block; ++i) {
                m.a += w[i];
                m.b += m.a;
            }
            m.have_sum = true;
        }
        int64_t hit = m.match(w, block, (m.a & 0xffff) | (m.b << 16));
        if (hit >= 0) {
            m.flush_literal(sink, m.pos);
            m.add_copy(sink, static_cast<uint64_t>(hit));
            m.expect_next = static_cast<uint64_t>(hit) + 1;
            m.pos += block;
            m.lit = m.pos;
            m.have_sum = false;
            done += block;
            continue;
        }
        if (avail > block) {
            uint32_t out = w[0], in = w[block];
            m.a += in - out;
            m.b += m.a - static_cast<uint32_t>(block) * out;
        } else {
            m.have_sum = false;
        }
        ++m.pos;
        ++done;
        if (m.pos - m.lit >= kLiteralMax) m.flush_literal(sink, m.pos);
    }
    return true;
}

Patcher::Patcher(int base_fd, uint64_t base_size, uint32_t block)
    : fd_(base_fd), size_(base_size), block_(block ? block : 1), blocks_(block_count(base_size, block_)) {}

void Patcher::defer(const FileHash &base) {
    if (written_ || mode_ != Mode::Plain || !size_) return;
    base_hash_ = std::make_unique<FileHash>();
    base_hash_->assign(base);
    mode_ = Mode::Deferred;
}

uint64_t Patcher::emit_base(uint64_t off, uint64_t end, uint64_t out_off, const Out &out, FileHash *hash) {
    buf_.resize(kLiteralMax);
    uint64_t start = off;
    while (off < end) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(kLiteralMax, end - off));
        size_t got = read_full(fd_, buf_.data(), want, off);
        if (!got) break;  // the base shrank: the digest will not match
        std::string_view piece(buf_.data(), got);
        if (hash) hash->update(piece.data(), piece.size());
        out(out_off + (off - start), piece);
        off += got;
        if (got < want) break;
    }
    return off - start;
}

// Gives out the base part of the result that deferring left unwritten; from then on every
// instruction goes to out.
void Patcher::materialize(const Out &out) {
    if (mode_ == Mode::Plain) return;
    Mode was = mode_;
    mode_ = Mode::Plain;
    uint64_t end = std::min(written_, size_);
    if (was == Mode::Deferred) {  // the result so far is base[0, written_), not hashed yet
        written_ = emit_base(0, end, 0, out, &sha_);
        return;
    }
    // Append: the hash covers the base as it was read for the signatures, and the new bytes
    // after it were written. What is written now must be that same base.
    FileHash now;
    if (emit_base(0, end, 0, out, &now) != size_ || now.final() != base_hash_->final()) base_changed_ = true;
}

bool Patcher::base_equals(uint64_t off, std::string_view data) {
    buf_.resize(kLiteralMax);
    while (!data.empty()) {
        size_t want = std::min(kLiteralMax, data.size());
        if (read_full(fd_, buf_.data(), want, off) != want || std::memcmp(buf_.data(), data.data(), want) != 0) return false;
        data.remove_prefix(want);
        off += want;
    }
    return true;
}

void Patcher::copy(uint64_t first, uint64_t count, const Out &out) {
    if (count == 0 || first >= blocks_ || count > blocks_ - first)
        throw std::out_of_range("blocks " + std::to_string(first) + "+" + std::to_string(count) + " of a base of " +
                                std::to_string(blocks_));
    uint64_t off = first * block_, end = std::min(size_, (first + count) * block_);
    if (mode_ == Mode::Deferred && off == written_) {
        written_ = end;  // still the base from its start
        return;
    }
    materialize(out);
    written_ += emit_base(off, end, written_, out, &sha_);
}

void Patcher::literal(std::string_view data, const Out &out) {
    if (mode_ == Mode::Deferred) {
        // Bytes before the base's end (its short last block, say) may be the base's own.
        size_t same = static_cast<size_t>(std::min<uint64_t>(data.size(), size_ - written_));
        if (same && !base_equals(written_, data.substr(0, same))) {
            materialize(out);
        } else {
            written_ += same;
            data.remove_prefix(same);
            if (data.empty()) return;
            sha_.assign(*base_hash_);  // the result so far is the whole base
            mode_ = Mode::Append;
        }
    }
    sha_.update(data.data(), data.size());
    out(written_, data);
    written_ += data.size();
}

bool Patcher::finish(const Out &out) {
    if (mode_ == Mode::Deferred) {
        if (written_ == size_) {
            sha_.assign(*base_hash_);
            mode_ = Mode::Append;  // the base itself: nothing to append
        } else {
            materialize(out);  // a prefix of the base: the file shrinks, which is no append
        }
    }
    return mode_ == Mode::Append;
}

void Patcher::write_base(const Out &out) {
    if (mode_ == Mode::Append) materialize(out);
}

bool Patcher::verify(const Digest &expected) { return sha_.final() == expected && !base_changed_; }

}  // namespace nh::sync::delta
