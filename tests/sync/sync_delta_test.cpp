// Delta transfer of large files: the codec (lib/sync/delta) on its own, then our client against
// the real nhsyncd over loopback sockets, with the bytes on the wire counted by a relay.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "sync/delta.hpp"
#include "sync/sig_cache.hpp"
#include "sync_test_util.hpp"

using namespace nh::synctest;
namespace ns = nh::sync;
namespace nd = nh::sync::delta;

namespace {

const std::string kToken = "delta-test-token-0123456789";

std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rng();
        for (size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>(v >> (8 * k));
    }
    return s;
}

struct Result {
    std::string rebuilt;
    uint64_t literal = 0;  // bytes sent as literals
    uint64_t copies = 0;   // copy instructions
    bool verified = false;
    bool appended = false;          // deferred: the receiver would grow the base in place
    uint64_t out_bytes = 0;         // bytes the patcher gave out (what the receiver writes)
    uint64_t first_out = UINT64_MAX;  // the lowest offset it gave out
};

// Encodes `target` against the signatures of `base` and rebuilds it from `base`, as the two
// ends of a connection do, through real files. With `defer`, as nhsyncd does for a base with
// one link: an append gives out only the new bytes.
// With `piece`, the encoder gets the signatures that many at a time and works between them
// as far as it can, as the client does while they arrive.
// The two ends' files: the base and the target written to a temporary directory and open for
// reading, and the base's signatures as the server makes them.
struct CodecFiles {
    std::string dir = make_temp_dir("delta-codec");
    int bfd = -1, tfd = -1;
    uint32_t block;
    std::vector<nd::BlockSig> sigs;
    nd::FileHash whole;
    CodecFiles(const std::string &base, const std::string &target) : block(nd::block_size_for(base.size())) {
        write_file(dir + "/base", base);
        write_file(dir + "/target", target);
        bfd = ::open((dir + "/base").c_str(), O_RDONLY | O_CLOEXEC);
        tfd = ::open((dir + "/target").c_str(), O_RDONLY | O_CLOEXEC);
        uint64_t covered = nd::signatures(
            bfd, base.size(), block, [&](const nd::BlockSig *s, size_t n) { sigs.insert(sigs.end(), s, s + n); }, &whole);
        EXPECT_EQ(covered, base.size());
        EXPECT_EQ(sigs.size(), nd::block_count(base.size(), block));
    }
    ~CodecFiles() {
        ::close(bfd);
        ::close(tfd);
        remove_tree(dir);
    }
};

Result round_trip(const std::string &base, const std::string &target, bool defer = false, size_t piece = 0) {
    CodecFiles files(base, target);
    const int bfd = files.bfd, tfd = files.tfd;
    const uint32_t block = files.block;
    const auto &sigs = files.sigs;
    const auto &whole = files.whole;
    nd::Encoder enc(tfd, block, base.size(), piece ? std::vector<nd::BlockSig>{} : sigs);
    nd::Patcher patch(bfd, base.size(), block);
    if (defer) patch.defer(whole);
    Result r;
    auto out = [&r](uint64_t off, std::string_view d) {
        if (r.rebuilt.size() < off + d.size()) r.rebuilt.resize(off + d.size());
        r.rebuilt.replace(off, d.size(), d);
        r.out_bytes += d.size();
        r.first_out = std::min<uint64_t>(r.first_out, off);
    };
    struct Sink : nd::Encoder::Sink {
        nd::Patcher &p;
        Result &r;
        const nd::Patcher::Out &out;
        Sink(nd::Patcher &pp, Result &rr, const nd::Patcher::Out &o) : p(pp), r(rr), out(o) {}
        void copy(uint64_t first, uint64_t count) override {
            ++r.copies;
            p.copy(first, count, out);
        }
        void literal(std::string_view data) override {
            EXPECT_LE(data.size(), 1u << 20);
            r.literal += data.size();
            p.literal(data, out);
        }
    };
    nd::Patcher::Out o = out;
    Sink sink(patch, r, o);
    for (size_t i = 0; piece && i < sigs.size(); i += piece) {
        while (enc.step(sink, 1u << 20) && !enc.waiting()) {
        }
        EXPECT_TRUE(enc.waiting()) << "finished before every signature was in";
        enc.add(sigs.data() + i, std::min(piece, sigs.size() - i), base.size());
    }
    while (enc.step(sink, 1u << 20)) {
        EXPECT_FALSE(enc.waiting());
    }
    r.appended = patch.finish(o);
    if (r.appended) {  // what the receiver grows the base with
        EXPECT_TRUE(r.out_bytes == 0 || r.first_out >= base.size()) << "a byte of the base was written again";
        if (r.rebuilt.size() < base.size()) r.rebuilt.resize(base.size());
        r.rebuilt.replace(0, base.size(), base);
        EXPECT_EQ(patch.written(), target.size());
    }
    r.verified = patch.verify(enc.digest());
    return r;
}

}  // namespace

TEST(DeltaCodec, RandomEditsSendOnlyTheEditedBlocks) {
    std::string base = random_bytes(8u << 20, 1), target = base;
    std::mt19937 rng(2);
    for (int k = 0; k < 6; ++k) {
        size_t at = rng() % (target.size() - 5000);
        for (size_t i = 0; i < 5000; ++i) target[at + i] = static_cast<char>(rng());
    }
    for (size_t piece : {0, 1, 300}) {
        auto r = round_trip(base, target, false, piece);
        EXPECT_TRUE(r.rebuilt == target);
        EXPECT_TRUE(r.verified);
        uint32_t block = nd::block_size_for(base.size());
        EXPECT_LE(r.literal, 6 * (5000 + 2 * uint64_t{block})) << "more than the edited blocks went as literals";
    }
}

// A large file edited in place (a database page, an image's bytes): while the signatures are
// still coming, the encoder goes on past each edit, so the client reads and matches the file
// while the server is still reading its copy, instead of after.
TEST(DeltaCodec, AnEditInPlaceIsPassedBeforeEverySignatureIsIn) {
    std::string base = random_bytes(8u << 20, 11), target = base;
    const size_t edits[] = {1u << 20, 5u << 20};
    std::mt19937 rng(12);
    for (size_t at : edits)
        for (size_t i = 0; i < 5000; ++i) target[at + i] = static_cast<char>(rng());
    CodecFiles files(base, target);
    const uint32_t block = files.block;
    const auto &sigs = files.sigs;
    struct Sink : nd::Encoder::Sink {
        uint64_t copied_to = 0, literal_bytes = 0;  // the end of the last block copied; literal bytes
        void copy(uint64_t first, uint64_t count) override { copied_to = std::max(copied_to, first + count); }
        void literal(std::string_view data) override { literal_bytes += data.size(); }
    } sink;
    nd::Encoder enc(files.tfd, block, base.size());
    // All but the last 16 signatures: the server has read 8 MiB minus 16 blocks of its copy.
    size_t held = 16;
    enc.add(sigs.data(), sigs.size() - held, base.size());
    while (enc.step(sink, 1u << 20) && !enc.waiting()) {
    }
    ASSERT_TRUE(enc.waiting());
    // Both edits went out as literals, and the blocks before the second were copied (a run of
    // copies goes out when what follows it does).
    EXPECT_GE(sink.literal_bytes, 2 * 5000u) << "the edits did not go out before the last signatures";
    EXPECT_EQ(sink.copied_to, edits[1] / block) << "the edits start at blocks " << edits[0] / block << " and "
                                                << edits[1] / block;
    enc.add(sigs.data() + sigs.size() - held, held, base.size());
    while (enc.step(sink, 1u << 20)) {
    }
    EXPECT_EQ(sink.copied_to, sigs.size());
    EXPECT_LE(sink.literal_bytes, 2 * (5000 + 2 * uint64_t{block}));
    // The rebuilt file, through the same codec with the signatures in pieces.
    auto r = round_trip(base, target, false, 64);
    EXPECT_TRUE(r.rebuilt == target);
    EXPECT_TRUE(r.verified);
    EXPECT_LE(r.literal, 2 * (5000 + 2 * uint64_t{block}));
}

TEST(DeltaCodec, InsertsThatShiftTheRestStillMatch) {
    std::string base = random_bytes(4u << 20, 3), target = base;
    target.insert(1000003, "inserted bytes shift everything after them by an odd amount");
    target.erase(3000001, 777);
    for (size_t piece : {0, 7}) {  // all signatures at once, or as they come
        auto r = round_trip(base, target, false, piece);
        EXPECT_TRUE(r.rebuilt == target);
        EXPECT_TRUE(r.verified);
        EXPECT_LE(r.literal, 4 * uint64_t{nd::block_size_for(base.size())});
    }
}

TEST(DeltaCodec, AnAppendSendsTheNewTailOnly) {
    std::string base = random_bytes(16u << 20, 4), target = base + random_bytes(65536, 5);
    auto r = round_trip(base, target);
    EXPECT_TRUE(r.rebuilt == target);
    EXPECT_EQ(r.literal, 65536u);
    EXPECT_EQ(r.copies, 1u) << "the whole base is one run of blocks";
}

// nhsyncd defers the base's part of the result (Patcher::defer): an append gives out the new
// bytes only; anything else gives out the whole result, as without deferring.
TEST(DeltaCodec, AnAppendGivesOutOnlyTheNewBytesAndAnythingElseTheWholeFile) {
    std::string base = random_bytes(4u << 20, 12), odd = random_bytes((3u << 20) + 12345, 13);
    std::string tail = random_bytes(70000, 14);
    uint32_t block = nd::block_size_for(base.size());
    struct Case {
        const char *what;
        const std::string &base;
        std::string target;
        bool appended;
        uint64_t out;  // bytes given out, when appended
    };
    std::string middle = base;
    middle[2u << 20] ^= 1;
    std::vector<Case> cases = {
        {"an append", base, base + tail, true, tail.size()},
        {"an append to a short last block", odd, odd + tail, true, tail.size()},
        {"the same content", base, base, true, 0},
        {"an edit in the middle", base, middle + tail, false, 0},
        {"a truncation", base, base.substr(0, (2u << 20) + 7), false, 0},
        {"an append, then a block of the base again", base, base + tail + base.substr(block, block), false, 0},
        {"the last byte changed, then an append", odd, odd.substr(0, odd.size() - 1) + "!" + tail, false, 0},
    };
    for (auto &c : cases) {
        SCOPED_TRACE(c.what);
        auto r = round_trip(c.base, c.target, /*defer=*/true, /*piece=*/64);
        EXPECT_TRUE(r.rebuilt == c.target);
        EXPECT_TRUE(r.verified);
        EXPECT_EQ(r.appended, c.appended);
        if (c.appended) EXPECT_EQ(r.out_bytes, c.out);
        else EXPECT_EQ(r.out_bytes, c.target.size());
    }
}

TEST(DeltaCodec, TruncationAndAShortLastBlock) {
    std::string base = random_bytes((3u << 20) + 12345, 6);
    auto r = round_trip(base, base.substr(0, (2u << 20) + 999));
    EXPECT_TRUE(r.rebuilt == base.substr(0, (2u << 20) + 999));
    EXPECT_LE(r.literal, uint64_t{nd::block_size_for(base.size())});
    // The base's short last block is found where the target ends with it.
    std::string target = base.substr(0, 1u << 20) + base.substr(base.size() - 12345 - 8192);
    r = round_trip(base, target);
    EXPECT_TRUE(r.rebuilt == target);
    EXPECT_LE(r.literal, uint64_t{nd::block_size_for(base.size())});
}

TEST(DeltaCodec, AnEmptyBaseSendsEverythingAndAnIdenticalOneNothing) {
    std::string target = random_bytes((5u << 20) + 1, 7);
    auto r = round_trip("", target);
    EXPECT_TRUE(r.rebuilt == target);
    EXPECT_EQ(r.literal, target.size());
    EXPECT_TRUE(r.verified);
    r = round_trip(target, target);
    EXPECT_TRUE(r.rebuilt == target);
    EXPECT_EQ(r.literal, 0u);
    EXPECT_EQ(r.copies, 1u);
    r = round_trip(target, "");
    EXPECT_EQ(r.rebuilt, "");
    EXPECT_TRUE(r.verified);
}

TEST(DeltaCodec, RepetitiveContentAndOutOfRangeBlocks) {
    std::string base(6u << 20, '\0'), target = base;
    target.replace(4u << 20, 100, std::string(100, 'x'));
    auto r = round_trip(base, target);
    EXPECT_TRUE(r.rebuilt == target);
    EXPECT_LE(r.literal, 2 * uint64_t{nd::block_size_for(base.size())});
    nd::Patcher p(-1, 10u << 20, 1u << 16);
    auto sink = [](uint64_t, std::string_view) {};
    EXPECT_THROW(p.copy(160, 1, sink), std::out_of_range);
    EXPECT_THROW(p.copy(0, 161, sink), std::out_of_range);
    EXPECT_THROW(p.copy(1, UINT64_MAX, sink), std::out_of_range);
    EXPECT_THROW(p.copy(3, 0, sink), std::out_of_range);
}

namespace {

struct DeltaSync : ::testing::Test {
    std::string src, dst, state;
    void SetUp() override {
        src = make_temp_dir("dsrc");
        dst = make_temp_dir("ddst");
        state = make_temp_dir("dstate");
    }
    void TearDown() override {
        remove_tree(src);
        remove_tree(dst);
        remove_tree(state);
    }
    ns::ClientOptions options(const std::string &addr) {
        ns::ClientOptions o;
        o.local_dir = src;
        o.address = addr;
        o.token = kToken;
        o.state_dir = state;
        o.max_backoff_ms = 200;
        o.compression = ns::Compression::Off;  // the bytes counted are the delta's alone
        return o;
    }
    // Syncs once through a counting relay; returns the bytes both ways.
    uint64_t sync_once(uint16_t server_port, bool client_delta = true) {
        CuttingProxy proxy(server_port, 0, 0, 1);
        auto o = options(proxy.address());
        o.delta = client_delta;
        ns::Client client(o);
        EXPECT_EQ(client.flush(60000), NH_OK);
        EXPECT_EQ(diff_trees(src, dst), "");
        return proxy.upstream_bytes() + proxy.downstream_bytes();
    }
};

// A large file edited in two places and grown at the end: a few blocks move, not the file.
void edit_big(const std::string &path) {
    static uint32_t seed = 11;
    std::string s = read_file(path);
    s.replace(s.size() / 8 + 1, 4096, random_bytes(4096, seed++));
    s.replace(s.size() * 3 / 4 + 3, 4096, random_bytes(4096, seed++));
    s += random_bytes(20000, seed++);
    write_file(path, s);
}

}  // namespace

TEST_F(DeltaSync, AChangedLargeFileSendsOnlyWhatChangedToTheRealServer) {
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    write_file(src + "/big.bin", random_bytes(8u << 20, 10));
    write_file(src + "/small.txt", "small files travel whole\n");
    uint64_t first = sync_once(server.port());
    EXPECT_GE(first, 8u << 20);
    edit_big(src + "/big.bin");
    uint64_t second = sync_once(server.port());
    std::printf("8 MiB file, 28 KiB changed: %llu bytes on the wire (first sync %llu)\n",
                static_cast<unsigned long long>(second), static_cast<unsigned long long>(first));
    // 4 KiB blocks: two edits (two blocks each), the 20 KB tail, 2048 signatures of 12 bytes.
    EXPECT_LT(second, 200000u) << "the whole file went again";
}

TEST_F(DeltaSync, AnOlderServerOrClientGetsWholeFiles) {
    write_file(src + "/big.bin", random_bytes(4u << 20, 20));
    {
        InProcessServer old_server(dst, kToken, true, /*delta=*/false);
        sync_once(old_server.port());
        edit_big(src + "/big.bin");
        EXPECT_GE(sync_once(old_server.port()), 4u << 20) << "a server without the feature got a delta";
    }
    InProcessServer server(dst, kToken);
    edit_big(src + "/big.bin");
    EXPECT_GE(sync_once(server.port(), /*client_delta=*/false), 4u << 20) << "a client without the feature sent a delta";
    edit_big(src + "/big.bin");
    EXPECT_LT(sync_once(server.port()), 1u << 20) << "both with the feature and still whole";
}

// The server's copy is not what the client last sent (changed in the container): the delta is
// made against what the server really has, and the result is the client's file.
TEST_F(DeltaSync, ABaseChangedOnTheServerStillGivesTheClientsFile) {
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    write_file(src + "/big.bin", random_bytes(6u << 20, 30));
    sync_once(server.port());
    std::string theirs = read_file(dst + "/big.bin");
    theirs.replace(100, 300000, random_bytes(300000, 31));
    theirs.resize(5u << 20);
    write_file(dst + "/big.bin", theirs);
    edit_big(src + "/big.bin");
    uint64_t bytes = sync_once(server.port());
    EXPECT_LT(bytes, 2u << 20);
}

// The server's copy changes while the client's delta is applied to it (an app in the container
// writes it in place): the server finds the result's hash wrong, keeps the file, asks for it
// whole, and the client's file is what ends up there. The upload is slowed so that the change
// lands between the signatures and the blocks copied at the end.
TEST_F(DeltaSync, ABaseChangedDuringTheDeltaEndsAsTheClientsFile) {
    Daemon server(DaemonOptions{.root = dst, .token = kToken, .log_level = "info"});
    std::string mine = random_bytes(3u << 20, 40);
    write_file(src + "/big.bin", mine);
    sync_once(server.port());
    mine.replace(0, 1536u << 10, random_bytes(1536u << 10, 41));  // 1.5 MiB literal first
    write_file(src + "/big.bin", mine);
    CuttingProxy proxy(server.port(), 0, 0, 1, 512u << 10);
    ns::Client client(options(proxy.address()));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    {
        int fd = ::open((dst + "/big.bin").c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        std::string tail(4096, 'Z');
        ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), (3u << 20) - 4096), 4096);
        ::close(fd);
    }
    ASSERT_EQ(client.flush(60000), NH_OK);
    EXPECT_EQ(diff_trees(src, dst), "");
    EXPECT_NE(server.log().find("asking for it whole"), std::string::npos)
        << "the change did not land during the delta (a slow start?):\n" << server.log();
}

// An appended large file (a log, say) grows in place on the real server: the same inode, so a
// reader following it (tail -f) goes on reading, and only the new bytes are written. A file
// with a second link is replaced instead, as every other changed file is, and the other link
// keeps the old content.
TEST_F(DeltaSync, AnAppendedLargeFileGrowsInPlaceOnTheRealServer) {
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    std::string log = random_bytes((6u << 20) + 777, 50);
    write_file(src + "/app.log", log);
    sync_once(server.port());
    struct stat before, after;
    ASSERT_EQ(::stat((dst + "/app.log").c_str(), &before), 0);
    log += random_bytes(30000, 51);
    write_file(src + "/app.log", log);
    uint64_t bytes = sync_once(server.port());
    EXPECT_LT(bytes, 100000u);
    ASSERT_EQ(::stat((dst + "/app.log").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino) << "replaced, not grown in place";

    std::string other = dst + "-second-link";
    ASSERT_EQ(::link((dst + "/app.log").c_str(), other.c_str()), 0);
    std::string old = log;
    log += random_bytes(30000, 52);
    write_file(src + "/app.log", log);
    sync_once(server.port());
    ASSERT_EQ(::stat((dst + "/app.log").c_str(), &after), 0);
    EXPECT_NE(after.st_ino, before.st_ino) << "a file with two links was changed in place";
    EXPECT_TRUE(read_file(other) == old) << "the other link changed";
    std::remove(other.c_str());
}

// The rolling checksum 16 bytes a step gives what rsync's byte-by-byte loop gives (it is on the
// wire), at every length and alignment, for bytes that overflow 16-bit sums too.
TEST(DeltaCodec, TheWeakSumIsRsyncsAtEveryLength) {
    auto bytewise = [](const unsigned char *p, size_t n) {
        uint32_t a = 0, b = 0;
        for (size_t i = 0; i < n; ++i) {
            a += p[i];
            b += a;
        }
        return (a & 0xffff) | (b << 16);
    };
    std::string s = random_bytes((1u << 20) + 64, 90);
    std::string ff(70000, '\xff');
    auto *p = reinterpret_cast<const unsigned char *>(s.data());
    for (size_t n = 0; n <= 300; ++n)
        for (size_t off : {0, 1, 7, 15}) ASSERT_EQ(nd::weak_sum(p + off, n), bytewise(p + off, n)) << n << "@" << off;
    for (size_t n : {4096u, 65535u, 65536u, 1u << 20})
        EXPECT_EQ(nd::weak_sum(p + 3, n), bytewise(p + 3, n)) << n;
    auto *q = reinterpret_cast<const unsigned char *>(ff.data());
    EXPECT_EQ(nd::weak_sum(q, ff.size()), bytewise(q, ff.size()));
}

// Signatures taken from the bytes as they pass, in pieces of any size, are the ones read from
// the file; bytes out of order, or a final size whose block size is another, keep nothing.
TEST(DeltaCodec, SignaturesTakenAsWrittenAreTheOnesReadBack) {
    std::string data = random_bytes((3u << 20) + 1234, 91);
    uint32_t block = nd::block_size_for(data.size());
    std::string path = make_temp_dir("sigb") + "/f";
    write_file(path, data);
    int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    std::vector<nd::BlockSig> read;
    nd::FileHash whole;
    nd::signatures(fd, data.size(), block, [&](const nd::BlockSig *s, size_t n) { read.insert(read.end(), s, s + n); }, &whole);
    ::close(fd);
    remove_tree(path.substr(0, path.rfind('/')));

    ns::SigBuilder b(block);
    std::mt19937 rng(92);
    for (size_t off = 0; off < data.size();) {
        size_t n = std::min<size_t>(data.size() - off, rng() % (block * 3));
        b.feed(off, std::string_view(data).substr(off, n));
        off += n;
    }
    ns::SigCache::Entry e;
    ASSERT_TRUE(b.finish(data.size(), e));
    ASSERT_EQ(e.sigs.size(), read.size());
    for (size_t i = 0; i < read.size(); ++i) {
        EXPECT_EQ(e.sigs[i].weak, read[i].weak) << i;
        EXPECT_EQ(e.sigs[i].strong, read[i].strong) << i;
    }
    EXPECT_TRUE(e.whole->final() == whole.final());

    ns::SigBuilder gap(block);
    gap.feed(0, std::string_view(data).substr(0, 1000));
    gap.feed(2000, std::string_view(data).substr(2000));
    EXPECT_FALSE(gap.finish(data.size(), e));
    ns::SigBuilder other(block / 2);
    other.feed(0, data);
    EXPECT_FALSE(other.finish(data.size(), e));
}

// The kept entries: a file whose stat changed is a miss (and dropped), a path's whole subtree
// goes with it, and the total stays under the cap, the least recently used going first.
TEST(DeltaCodec, KeptSignaturesHoldForTheSameFileOnly) {
    auto entry = [](const struct stat &st, size_t sigs) {
        ns::SigCache::Entry e;
        e.key = ns::SigCache::key_of(st);
        e.sigs.resize(sigs);
        e.whole = std::make_unique<nd::FileHash>();
        return e;
    };
    struct stat st {};
    st.st_mode = S_IFREG | 0644;
    st.st_dev = 1;
    st.st_ino = 2;
    st.st_size = 5u << 20;
    st.st_mtim = {100, 5};
    st.st_ctim = {100, 6};
    ns::SigCache c(200u << 10);
    c.put("d/a", entry(st, 1000));
    ASSERT_NE(c.find("d/a", st), nullptr);
    struct stat touched = st;
    touched.st_ctim.tv_nsec = 7;
    EXPECT_EQ(c.find("d/a", touched), nullptr);
    EXPECT_EQ(c.find("d/a", st), nullptr) << "a stale entry was kept";
    c.put("d/a", entry(st, 1000));
    c.put("d/b/c", entry(st, 1000));
    c.put("d-x", entry(st, 1000));
    c.erase_tree("d");
    EXPECT_EQ(c.find("d/a", st), nullptr);
    EXPECT_EQ(c.find("d/b/c", st), nullptr);
    EXPECT_NE(c.find("d-x", st), nullptr);
    for (int i = 0; i < 40; ++i) {
        c.put("f" + std::to_string(i), entry(st, 1000));
        ASSERT_NE(c.find("d-x", st), nullptr);  // used, so kept
    }
    EXPECT_LE(c.bytes(), 200u << 10);
    EXPECT_NE(c.find("f39", st), nullptr);
    EXPECT_EQ(c.find("f0", st), nullptr);
}

namespace {

size_t count_of(const std::string &hay, const std::string &needle) {
    size_t n = 0;
    for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
}

const std::string kKept = "as kept since it was written";
const std::string kRead = "read from it";

}  // namespace

// The server wrote the file (whole, then as a delta's result) and nothing changed it since:
// the next delta against it gets the signatures it kept, without reading the file for them,
// and the result is the client's file, byte for byte.
TEST_F(DeltaSync, TheServerAnswersADeltaWithTheSignaturesItKeptWhenItWroteTheFile) {
    Daemon server(DaemonOptions{.root = dst, .token = kToken, .log_level = "debug"});
    write_file(src + "/big.bin", random_bytes(8u << 20, 60));
    sync_once(server.port());
    for (int round = 0; round < 2; ++round) {
        edit_big(src + "/big.bin");
        EXPECT_LT(sync_once(server.port()), 200000u);
        EXPECT_TRUE(read_file(dst + "/big.bin") == read_file(src + "/big.bin"));
    }
    std::string log = server.log();
    EXPECT_EQ(count_of(log, kKept), 2u) << log;
    EXPECT_EQ(count_of(log, kRead), 0u) << log;
}

// The server's copy rewritten behind its back with the same size and its mtime put back: what
// it kept no longer holds (the ctime tells), the file is read, and the result is the client's.
TEST_F(DeltaSync, AFileChangedBehindTheServersBackWithItsMtimePutBackIsReadAgain) {
    Daemon server(DaemonOptions{.root = dst, .token = kToken, .log_level = "debug"});
    write_file(src + "/big.bin", random_bytes(6u << 20, 70));
    sync_once(server.port());
    struct stat before;
    ASSERT_EQ(::stat((dst + "/big.bin").c_str(), &before), 0);
    {
        int fd = ::open((dst + "/big.bin").c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        std::string theirs = random_bytes(1u << 20, 71);
        ASSERT_EQ(::pwrite(fd, theirs.data(), theirs.size(), 2u << 20), static_cast<ssize_t>(theirs.size()));
        struct timespec ts[2] = {before.st_atim, before.st_mtim};
        ASSERT_EQ(::futimens(fd, ts), 0);
        ::close(fd);
    }
    edit_big(src + "/big.bin");
    sync_once(server.port());
    EXPECT_TRUE(read_file(dst + "/big.bin") == read_file(src + "/big.bin"));
    std::string log = server.log();
    EXPECT_EQ(count_of(log, kKept), 0u) << log;
    EXPECT_EQ(count_of(log, kRead), 1u) << log;
}

// A new server process knows nothing of the files the last one wrote: it reads the file, as
// before, and keeps what the delta's result gives for the next one.
TEST_F(DeltaSync, AfterARestartTheServerReadsTheFileAgain) {
    write_file(src + "/big.bin", random_bytes(6u << 20, 80));
    {
        Daemon first(DaemonOptions{.root = dst, .token = kToken});
        sync_once(first.port());
    }
    Daemon server(DaemonOptions{.root = dst, .token = kToken, .log_level = "debug"});
    for (int round = 0; round < 2; ++round) {
        edit_big(src + "/big.bin");
        sync_once(server.port());
        EXPECT_TRUE(read_file(dst + "/big.bin") == read_file(src + "/big.bin"));
    }
    std::string log = server.log();
    EXPECT_EQ(count_of(log, kRead), 1u) << log;
    EXPECT_EQ(count_of(log, kKept), 1u) << log;
}
