// Hostile and unlucky clients against the real nhsyncd over loopback
// sockets: bad paths, escaping links, writes through symlinked directories,
// oversized and malformed frames, idle connections, cut sessions, unreadable
// directories, forged log lines, random frames. Nothing may be written
// outside the root, and the server keeps serving.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "sync/delta.hpp"
#include "sync/net.hpp"
#include "sync/protocol.hpp"
#include "sync_test_util.hpp"

using namespace nh::synctest;
namespace proto = nh::sync::proto;
using proto::Msg;

namespace {

const std::string kToken = "hostile-test-token";

struct RawClient {
    int fd = -1;
    std::string rbuf;
    explicit RawClient(uint16_t port) {
        fd = nh::sync::net::connect_tcp(nh::sync::net::parse_host_port("127.0.0.1:" + std::to_string(port)), 2000);
    }
    ~RawClient() {
        if (fd >= 0) ::close(fd);
    }
    void send(const std::string &data) {
        try {
            nh::sync::net::send_all(fd, data);
        } catch (...) {
        }
    }
    // Next frame, or type 0 when the connection closed / timed out.
    proto::Frame next(std::string &storage, int timeout_ms = 3000) {
        for (;;) {
            proto::Frame fr{};
            size_t used = proto::parse_frame(rbuf, proto::kMaxFrame, fr);
            if (used) {
                storage = rbuf.substr(0, used);
                rbuf.erase(0, used);
                proto::parse_frame(storage, proto::kMaxFrame, fr);
                return fr;
            }
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, timeout_ms) <= 0) return {static_cast<Msg>(0), {}};
            char buf[65536];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return {static_cast<Msg>(0), {}};
            rbuf.append(buf, static_cast<size_t>(n));
        }
    }
    bool closed(int timeout_ms = 3000) {
        std::string s;
        for (;;) {
            auto fr = next(s, timeout_ms);
            if (static_cast<int>(fr.type) == 0) return true;
            if (fr.type == Msg::Error) continue;
        }
    }
};

std::string hello(const std::string &token) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Hello);
    for (char c : proto::kMagic) w.u8(static_cast<uint8_t>(c));
    w.varint(proto::kVersion);
    w.str(token);
    w.u8(0);
    w.varint(0);
    w.finish();
    return f;
}

std::string file_frame(uint64_t seq, const std::string &path, const std::string &data) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::File);
    w.varint(seq);
    w.str(path);
    w.varint(0644);
    w.svarint(0);
    w.expect({});
    w.u8(0);
    w.varint(data.size());
    w.raw(data);
    w.finish();
    return f;
}

std::string symlink_frame(uint64_t seq, const std::string &path, const std::string &target) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Symlink);
    w.varint(seq);
    w.str(path);
    w.str(target);
    w.expect({});
    w.finish();
    return f;
}

std::string hello_mode(const std::string &token, proto::Mode mode) {
    std::string f = hello(token);
    f[f.size() - 2] = static_cast<char>(mode);  // mode:u8 features:varint(0)
    return f;
}

std::string mkdir_frame(uint64_t seq, const std::string &path, uint32_t mode) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Mkdir);
    w.varint(seq);
    w.str(path);
    w.varint(mode);
    w.expect({});
    w.finish();
    return f;
}

std::string meta_frame(uint64_t seq, const std::string &path, uint32_t mode) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Meta);
    w.varint(seq);
    w.str(path);
    w.varint(mode);
    w.svarint(1'600'000'000'000'000'000);
    w.expect({});
    w.finish();
    return f;
}

std::string rename_frame(uint64_t seq, const std::string &from, const std::string &to) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Rename);
    w.varint(seq);
    w.str(from);
    w.str(to);
    w.expect({});
    w.finish();
    return f;
}

std::string file_begin(uint64_t seq, const std::string &path) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::FileBegin);
    w.varint(seq);
    w.str(path);
    w.varint(0644);
    w.expect({});
    w.finish();
    return f;
}

std::string file_data(uint64_t seq, const std::string &data) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::FileData);
    w.varint(seq);
    w.u8(0);
    w.varint(data.size());
    w.raw(data);
    w.finish();
    return f;
}

std::string file_end(uint64_t seq) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::FileEnd);
    w.varint(seq);
    w.svarint(1'600'000'000'000'000'000);
    w.finish();
    return f;
}

std::string commit(uint64_t seq) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Commit);
    w.varint(seq);
    w.finish();
    return f;
}

struct Reply {
    bool acked = false;
    std::vector<std::string> nacks;  // "path: message"
    std::vector<std::string> notices;
};

// Reads until an ACK covering min_seq (or the connection closes / times out).
Reply until_ack(RawClient &c, int timeout_ms = 10000, uint64_t min_seq = 0) {
    Reply out;
    std::string s;
    for (;;) {
        auto fr = c.next(s, timeout_ms);
        if (static_cast<int>(fr.type) == 0) return out;
        proto::Reader r(fr.payload);
        if (fr.type == Msg::Ack) {
            if (r.varint() < min_seq) continue;  // batches may be acknowledged together
            out.acked = true;
            return out;
        }
        if (fr.type == Msg::Nack) {
            r.varint();
            std::string path(r.str());
            r.svarint();
            out.nacks.push_back(path + ": " + std::string(r.str()));
        } else if (fr.type == Msg::Notice) {
            r.u8();
            out.notices.emplace_back(r.str());
        }
    }
}

std::string joined(const std::vector<std::string> &v) {
    std::string out;
    for (auto &x : v) out += x + "\n";
    return out;
}

uint32_t mode_of(const std::string &path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return 0xffffffff;
    return st.st_mode & 07777;
}

struct Hostile : ::testing::Test {
    std::string base, root, outside;
    std::unique_ptr<Daemon> server;
    void SetUp() override {
        base = make_temp_dir("hostile");
        root = base + "/root";
        outside = base + "/outside";
        mkdirs(root);
        mkdirs(outside);
        // What an app in the container could have made: a link out of the root.
        ::symlink(outside.c_str(), (root + "/escape").c_str());
        ::symlink("..", (root + "/up").c_str());
        server = std::make_unique<Daemon>(DaemonOptions{.root = root, .token = kToken, .log_level = "info"});
    }
    void TearDown() override {
        EXPECT_TRUE(server->alive()) << "nhsyncd died:\n" << server->log();
        server.reset();
        remove_tree(base);
    }
    // Authenticates and returns a client past WELCOME.
    std::unique_ptr<RawClient> login() {
        auto c = std::make_unique<RawClient>(server->port());
        c->send(hello(kToken));
        std::string s;
        auto fr = c->next(s);
        EXPECT_EQ(fr.type, Msg::Welcome);
        return c;
    }
    void expect_outside_untouched() {
        EXPECT_TRUE(fingerprint(outside).empty()) << "something was written outside the root";
        EXPECT_TRUE(fingerprint(base + "/root/../outside").empty());
        struct stat st;
        EXPECT_NE(::lstat((base + "/pwned").c_str(), &st), 0);
    }
};

}  // namespace

TEST(SyncProtocol, PathRules) {
    EXPECT_EQ(proto::check_path("a/b c/ü.txt"), "");
    EXPECT_NE(proto::check_path(""), "");
    EXPECT_NE(proto::check_path("/etc/passwd"), "");
    EXPECT_NE(proto::check_path("../x"), "");
    EXPECT_NE(proto::check_path("a/../../x"), "");
    EXPECT_NE(proto::check_path("a/./b"), "");
    EXPECT_NE(proto::check_path("a//b"), "");
    EXPECT_NE(proto::check_path("a/"), "");
    EXPECT_NE(proto::check_path(std::string("a\0b", 3)), "");
    EXPECT_NE(proto::check_path(std::string(256, 'x')), "");
    EXPECT_NE(proto::check_path(".git/config"), "");
    EXPECT_NE(proto::check_path(".nocalhost-sync/server.index"), "");
    EXPECT_EQ(proto::check_link_target("a/b/l", "../x"), "");
    EXPECT_EQ(proto::check_link_target("a/b/l", "../../x/y"), "");
    EXPECT_NE(proto::check_link_target("a/b/l", "../../../x"), "");
    EXPECT_NE(proto::check_link_target("l", "/etc"), "");
    EXPECT_NE(proto::check_link_target("l", "x/../.."), "");
    EXPECT_NE(proto::check_link_target("a/l", "b/../../.."), "");
}

TEST(SyncProtocol, FrameParserRejectsOversizedAndEmpty) {
    proto::Frame fr;
    std::string big("\x7f\xff\xff\xff\x01", 5);
    EXPECT_THROW(proto::parse_frame(big, proto::kMaxFrame, fr), proto::ProtocolError);
    std::string empty("\0\0\0\0", 4);
    EXPECT_THROW(proto::parse_frame(empty, proto::kMaxFrame, fr), proto::ProtocolError);
    std::string partial("\0\0\0\x05\x01", 5);
    EXPECT_EQ(proto::parse_frame(partial, proto::kMaxFrame, fr), 0u);
    proto::Reader r(std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
    EXPECT_THROW(r.varint(), proto::ProtocolError);
}

TEST_F(Hostile, WrongTokenGetsErrorAndClose) {
    RawClient c(server->port());
    c.send(hello("not-the-token"));
    std::string s;
    auto fr = c.next(s);
    ASSERT_EQ(fr.type, Msg::Error);
    proto::Reader r(fr.payload);
    EXPECT_EQ(r.svarint(), NH_EUNAUTHORIZED);
    EXPECT_TRUE(c.closed());
}

TEST_F(Hostile, OperationsBeforeHelloAreRefused) {
    RawClient c(server->port());
    c.send(file_frame(1, "pre-auth", "x"));
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(read_file(root + "/pre-auth"), "<missing>");
}

TEST_F(Hostile, OversizedFramesCloseTheConnection) {
    {
        RawClient c(server->port());
        c.send(std::string("\x00\x10\x00\x00\x01", 5));  // 1 MiB hello
        EXPECT_TRUE(c.closed());
    }
    auto c = login();
    c->send(std::string("\x7f\x00\x00\x00\x12", 5));
    EXPECT_TRUE(c->closed());
    auto again = login();  // still serving
}

TEST_F(Hostile, BadPathsAndLinksAreRefusedAndNothingLeavesTheRoot) {
    auto c = login();
    uint64_t seq = 0;
    const char *paths[] = {"../pwned", "/tmp/pwned-abs", "a/../../pwned", "escape/pwned", "up/pwned",
                           "escape/sub/pwned", ".nocalhost-sync/server.index", ".git/hooks/pre-commit", "a//b", "./x"};
    for (auto *p : paths) c->send(file_frame(++seq, p, "evil"));
    c->send(file_frame(++seq, std::string("nul\0byte", 8), "evil"));
    c->send(symlink_frame(++seq, "l1", "/etc/passwd"));
    c->send(symlink_frame(++seq, "l2", "../outside"));
    c->send(symlink_frame(++seq, "d/l3", "x/../../.."));
    c->send(symlink_frame(++seq, "escape/l4", "x"));
    {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Delete);
        w.varint(++seq);
        w.str("../outside");
        w.u8(1);
        w.expect({});
        w.finish();
        c->send(f);
        f.clear();
        w.begin(Msg::Rename);
        w.varint(++seq);
        w.str("up");
        w.str("../moved");
        w.expect({});
        w.finish();
        c->send(f);
    }
    c->send(file_frame(++seq, "fine/ok.txt", "ok"));
    c->send(commit(seq));
    int nacks = 0;
    bool acked = false;
    std::string s;
    while (!acked) {
        auto fr = c->next(s);
        if (static_cast<int>(fr.type) == 0) break;
        if (fr.type == Msg::Nack) ++nacks;
        if (fr.type == Msg::Ack) acked = true;
    }
    EXPECT_TRUE(acked);
    EXPECT_EQ(nacks, static_cast<int>(seq) - 1);
    EXPECT_EQ(read_file(root + "/fine/ok.txt"), "ok");
    expect_outside_untouched();
    struct stat st;
    EXPECT_EQ(::lstat((root + "/escape").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(Hostile, MalformedFramesCloseTheSessionOnly) {
    const std::string bad[] = {
        std::string("\0\0\0\x01\x12", 5),                       // FILE with no payload
        std::string("\0\0\0\x03\x12\x01\xff", 7),              // truncated string
        std::string("\0\0\0\x02\x7e\x00", 6),                  // unknown type
        std::string("\0\0\0\x02\x15\x01", 6),                  // FILE_END outside a stream
        std::string("\0\0\0\x04\x14\x01\x01\x05", 8),          // FILE_DATA outside a stream
    };
    for (auto &b : bad) {
        auto c = login();
        c->send(b);
        EXPECT_TRUE(c->closed());
    }
    auto c = login();
    c->send(file_frame(1, "after.txt", "still works"));
    c->send(commit(1));
    std::string s;
    proto::Frame fr;
    do fr = c->next(s);
    while (static_cast<int>(fr.type) != 0 && fr.type != Msg::Ack);
    EXPECT_EQ(fr.type, Msg::Ack);
    EXPECT_EQ(read_file(root + "/after.txt"), "still works");
    expect_outside_untouched();
}

TEST_F(Hostile, CompressionBombIsRefused) {
    auto c = login();  // no zstd negotiated: a zstd block is a protocol error
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::File);
    w.varint(1);
    w.str("bomb");
    w.varint(0644);
    w.svarint(0);
    w.expect({});
    w.u8(1);
    w.varint(1ull << 40);
    w.raw("xx");
    w.finish();
    c->send(f);
    EXPECT_TRUE(c->closed());
    EXPECT_EQ(read_file(root + "/bomb"), "<missing>");
}

// The zstd stream (kFeatureZstdStream) is used only when the client asked for it, so a client
// that knows only per-block zstd is served as before; a stream block that decodes to more
// than it claims ends the session and writes nothing.
TEST_F(Hostile, ZstdStreamOnlyWhenNegotiatedAndNoMoreThanItClaims) {
    auto login_with = [&](uint8_t features, uint64_t &welcomed_features) {
        auto c = std::make_unique<RawClient>(server->port());
        std::string h = hello(kToken);
        h[h.size() - 1] = static_cast<char>(features);  // features:varint, one byte
        c->send(h);
        std::string s;
        auto fr = c->next(s);
        EXPECT_EQ(fr.type, Msg::Welcome);
        proto::Reader r(fr.payload);
        r.varint();
        r.str();
        r.u64le();
        r.varint();
        welcomed_features = r.varint();
        return c;
    };
    auto stream_block = [](ZSTD_CCtx *z, const std::string &data) {
        std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
        ZSTD_inBuffer in{data.data(), data.size(), 0};
        ZSTD_outBuffer o{out.data(), out.size(), 0};
        while (ZSTD_compressStream2(z, &o, &in, ZSTD_e_flush) != 0) {
        }
        out.resize(o.pos);
        return out;
    };
    auto file_with = [](uint64_t seq, const std::string &path, uint8_t enc, uint64_t raw_len, const std::string &bytes) {
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::File);
        w.varint(seq);
        w.str(path);
        w.varint(0644);
        w.svarint(0);
        w.expect({});
        w.u8(enc);
        w.varint(raw_len);
        w.raw(bytes);
        w.finish();
        return f;
    };
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ASSERT_NE(z, nullptr);
    uint64_t features = 0;
    {
        // An older client: zstd blocks, no stream. The server does not offer it, and refuses it.
        auto c = login_with(proto::kFeatureZstd, features);
        EXPECT_EQ(features, uint64_t{proto::kFeatureZstd});
        c->send(file_with(1, "old", 2, 5, stream_block(z, "hello")));
        EXPECT_TRUE(c->closed());
        EXPECT_EQ(read_file(root + "/old"), "<missing>");
    }
    ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
    {
        auto c = login_with(proto::kFeatureZstd | proto::kFeatureZstdStream, features);
        EXPECT_EQ(features, uint64_t{proto::kFeatureZstd | proto::kFeatureZstdStream});
        std::string a(100000, 'a'), b = a + "b";  // b compresses against a: a few bytes
        std::string za = stream_block(z, a), zb = stream_block(z, b);
        EXPECT_LT(zb.size(), 200u);
        c->send(file_with(1, "a", 2, a.size(), za));
        c->send(file_with(2, "b", 2, b.size(), zb));
        std::string f;
        proto::Writer w(f);
        w.begin(Msg::Commit);
        w.varint(2);
        w.finish();
        c->send(f);
        std::string s;
        auto fr = c->next(s, 10000);
        EXPECT_EQ(fr.type, Msg::Ack);
        EXPECT_EQ(read_file(root + "/a"), a);
        EXPECT_EQ(read_file(root + "/b"), b);
        // 1 MiB of zeros claimed as 10 bytes.
        c->send(file_with(3, "bomb", 2, 10, stream_block(z, std::string(1 << 20, '\0'))));
        EXPECT_TRUE(c->closed());
        EXPECT_EQ(read_file(root + "/bomb"), "<missing>");
    }
    ZSTD_freeCCtx(z);
}

// ---- unauthenticated connections ----

namespace {

using Ms = std::chrono::milliseconds;

long long ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0).count();
}

// How long a fresh client takes from connect to WELCOME.
long long login_ms(uint16_t port, bool &welcomed) {
    auto t0 = std::chrono::steady_clock::now();
    RawClient c(port);
    c.send(hello(kToken));
    std::string s;
    welcomed = c.next(s, 60000).type == Msg::Welcome;
    return ms_since(t0);
}

}  // namespace

TEST_F(Hostile, IdleConnectionsNeitherStallTheServerNorKeepClientsOut) {
    auto live = login();
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < 200; ++i) idle.push_back(std::make_unique<RawClient>(server->port()));
    // The live session keeps working while they sit there.
    auto t0 = std::chrono::steady_clock::now();
    live->send(file_frame(1, "during-flood.txt", "x"));
    live->send(commit(1));
    auto reply = until_ack(*live);
    auto live_ms = ms_since(t0);
    EXPECT_TRUE(reply.acked);
    EXPECT_LT(live_ms, 1000) << "the live session stalled behind idle connections";
    bool welcomed = false;
    auto new_ms = login_ms(server->port(), welcomed);
    EXPECT_TRUE(welcomed);
    EXPECT_LT(new_ms, 1000) << "a new client was kept out by idle connections";
    std::printf("with 200 idle connections: live batch acknowledged in %lld ms, new login in %lld ms\n", live_ms,
                new_ms);
    // No more than the cap of them is kept: the oldest are closed at once.
    std::this_thread::sleep_for(Ms(100));
    int closed = 0;
    for (auto &c : idle) {
        char byte;
        ssize_t n = ::recv(c->fd, &byte, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) ++closed;
    }
    EXPECT_GE(closed, 200 - 64);
    EXPECT_LT(closed, 200) << "the newest idle connections should still be waiting for their HELLO";
}

TEST_F(Hostile, AnUnauthenticatedConnectionIsClosedAfterTheHandshakeTime) {
    RawClient c(server->port());
    c.send(std::string("\0\0", 2));  // half a frame header, then nothing
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.closed(15000));
    auto ms = ms_since(t0);
    EXPECT_LT(ms, 5000 + 1500);
    EXPECT_GT(ms, 2000);
}

// ---- file streams and sessions ----

TEST_F(Hostile, ASessionEndingInsideARefusedStreamDoesNotStopTheNextOne) {
    {
        auto c = login();
        c->send(file_begin(1, "escape/x"));  // refused: a symlinked parent
        std::string s;
        auto fr = c->next(s);
        EXPECT_EQ(fr.type, Msg::Nack);
    }  // gone before FILE_END
    {
        auto c = login();
        c->send(file_begin(1, "big/first.bin"));
        c->send(file_data(1, std::string(1000, 'a')));
    }  // gone inside an open stream
    auto c = login();
    c->send(file_frame(1, "after.txt", "synced"));
    c->send(commit(1));
    auto reply = until_ack(*c);
    EXPECT_TRUE(reply.acked) << "the next session was refused";
    EXPECT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
    EXPECT_EQ(read_file(root + "/after.txt"), "synced");
    EXPECT_EQ(read_file(root + "/big/first.bin"), "<missing>");
}

TEST_F(Hostile, ACommitInsideAStreamKeepsTheStreamIntact) {
    auto c = login();
    std::string chunk(proto::kChunk, 'q');
    c->send(file_begin(1, "sub/dir/big.bin"));
    c->send(file_data(1, chunk));
    c->send(commit(1));  // closes a batch in the middle of the stream
    c->send(file_data(1, chunk));
    c->send(file_end(1));
    c->send(commit(2));
    auto reply = until_ack(*c, 10000, 2);
    EXPECT_TRUE(reply.acked);
    EXPECT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
    auto got = read_file(root + "/sub/dir/big.bin");
    EXPECT_EQ(got.size(), 2 * chunk.size());
    EXPECT_TRUE(got == chunk + chunk) << "the file's content differs";
    for (auto &[p, v] : fingerprint(root + "/sub/dir")) EXPECT_EQ(p, "big.bin");
}

TEST_F(Hostile, ARenameAfterTheDescriptorCacheFillsMovesTheRightFile) {
    {
        auto c = login();
        c->send(file_frame(1, "b/c/d/x", "bystander"));
        c->send(commit(1));
        ASSERT_TRUE(until_ack(*c).acked);
    }
    auto c = login();
    uint64_t seq = 0;
    c->send(file_frame(++seq, "a/x", "moved"));
    // Enough directories to fill the server's directory-descriptor cache
    // without a COMMIT (which empties it).
    std::string batch;
    for (int i = 0; i < 4094; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "d%04d/f", i);
        batch += file_frame(++seq, name, "");
    }
    c->send(batch);
    c->send(rename_frame(++seq, "a/x", "b/c/d/y"));
    c->send(commit(seq));
    auto reply = until_ack(*c, 60000);
    ASSERT_TRUE(reply.acked);
    EXPECT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
    EXPECT_EQ(read_file(root + "/b/c/d/y"), "moved");
    EXPECT_EQ(read_file(root + "/b/c/d/x"), "bystander");
    EXPECT_EQ(read_file(root + "/a/x"), "<missing>");
}

// ---- links moved to a shallower place ----

TEST_F(Hostile, ARenameNeverMakesALinkPointOutsideTheRoot) {
    auto c = login();
    uint64_t seq = 0;
    c->send(symlink_frame(++seq, "a/b/l", "../x"));        // a/x: inside at depth 2
    c->send(symlink_frame(++seq, "p/q/r/l", "../../../y"));  // y
    c->send(symlink_frame(++seq, "m/n/l", "../../z"));     // z
    c->send(commit(seq));
    auto reply = until_ack(*c);
    ASSERT_TRUE(reply.acked);
    ASSERT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
    c->send(rename_frame(++seq, "a/b/l", "l"));     // the link itself to depth 0
    c->send(rename_frame(++seq, "p/q", "q"));       // a directory holding one, one level up
    c->send(rename_frame(++seq, "m", "deeper/m"));  // deeper: still inside
    c->send(commit(seq));
    reply = until_ack(*c);
    ASSERT_TRUE(reply.acked);
    EXPECT_EQ(reply.nacks.size(), 2u) << joined(reply.nacks);
    struct stat st;
    EXPECT_NE(::lstat((root + "/l").c_str(), &st), 0) << "a link to ../x was moved to the top of the root";
    EXPECT_NE(::lstat((root + "/q/r/l").c_str(), &st), 0) << "a link to ../../../y was moved to depth 2";
    EXPECT_EQ(::lstat((root + "/a/b/l").c_str(), &st), 0);
    EXPECT_EQ(::lstat((root + "/p/q/r/l").c_str(), &st), 0);
    EXPECT_EQ(::lstat((root + "/deeper/m/n/l").c_str(), &st), 0);
    expect_outside_untouched();
}

TEST_F(Hostile, ARenameOverItsOwnParentOrIntoItselfLosesNothing) {
    auto c = login();
    uint64_t seq = 0;
    c->send(file_frame(++seq, "a/b/f", "kept"));
    c->send(rename_frame(++seq, "a/b", "a"));    // over its parent
    c->send(rename_frame(++seq, "a", "a/b/c"));  // into itself
    c->send(commit(seq));
    auto reply = until_ack(*c);
    ASSERT_TRUE(reply.acked);
    EXPECT_EQ(reply.nacks.size(), 2u) << joined(reply.nacks);
    EXPECT_EQ(read_file(root + "/a/b/f"), "kept");
}

// ---- special permission bits ----

TEST_F(Hostile, SetuidSetgidAndStickyBitsAreNeverSet) {
    auto c = login();
    uint64_t seq = 0;
    c->send(mkdir_frame(++seq, "sdir", 07777));
    c->send(file_frame(++seq, "sfile", "x"));
    c->send(meta_frame(++seq, "sfile", 06755));
    c->send(mkdir_frame(++seq, "tdir", 0755));
    c->send(meta_frame(++seq, "tdir", 01777));
    c->send(commit(seq));
    auto reply = until_ack(*c);
    ASSERT_TRUE(reply.acked);
    EXPECT_EQ(mode_of(root + "/sdir"), 0777u);
    EXPECT_EQ(mode_of(root + "/sfile"), 0755u);
    EXPECT_EQ(mode_of(root + "/tdir"), 0777u);
}

// ---- logs ----

TEST_F(Hostile, ClientPathsCannotForgeLogLines) {
    auto c = login();
    c->send(file_frame(1, "escape/x\nnocalhost error: FORGED by a client\r", "evil"));
    c->send(commit(1));
    auto reply = until_ack(*c);
    ASSERT_TRUE(reply.acked);
    ASSERT_EQ(reply.nacks.size(), 1u);
    std::this_thread::sleep_for(Ms(100));
    std::string log = server->log();
    EXPECT_NE(log.find("FORGED"), std::string::npos) << "the refusal was not logged";
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        std::string line = log.substr(start, end - start);
        EXPECT_FALSE(line.starts_with("nocalhost error: FORGED")) << log;
        EXPECT_EQ(line.find('\r'), std::string::npos) << line;
        start = end + 1;
    }
}

// ---- what the server cannot read ----

TEST(HostileUnreadable, ADirectoryTheServerCannotReadIsSkippedAndReported) {
    std::string base = make_temp_dir("unreadable");
    std::string root = base + "/root";
    mkdirs(root + "/locked/inner");
    write_file(root + "/locked/inner/secret.txt", "not for the server");
    write_file(root + "/readable.txt", "fine");
    // As root, the server runs as nobody (root reads every directory).
    uid_t as = ::geteuid() == 0 ? 65534 : 0;
    if (as) {
        ::chmod(base.c_str(), 0755);
        for (auto &[p, v] : fingerprint(root)) ASSERT_EQ(::lchown((root + "/" + p).c_str(), as, as), 0);
        ASSERT_EQ(::chown(root.c_str(), as, as), 0);
    }
    ::chmod((root + "/locked").c_str(), 0);
    {
        Daemon d({.root = root, .token = kToken, .log_level = "info", .run_as = as});
        for (auto mode : {proto::Mode::Send, proto::Mode::TwoWay}) {
            RawClient c(d.port());
            c.send(hello_mode(kToken, mode));
            std::string s;
            auto fr = c.next(s);
            ASSERT_EQ(fr.type, Msg::Welcome) << "mode " << int(mode) << "; log:\n" << d.log();
            // Reported: a NOTICE naming the directory follows the WELCOME.
            fr = c.next(s);
            ASSERT_EQ(fr.type, Msg::Notice);
            proto::Reader r(fr.payload);
            EXPECT_EQ(r.u8(), static_cast<uint8_t>(proto::NoticeKind::Unreadable));
            EXPECT_EQ(r.str(), "locked");
            // The rest is served.
            c.send(file_frame(1, "new.txt", "written"));
            c.send(commit(1));
            auto reply = until_ack(c);
            EXPECT_TRUE(reply.acked);
            EXPECT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
        }
        EXPECT_EQ(read_file(root + "/new.txt"), "written");
        EXPECT_NE(d.log().find("locked"), std::string::npos) << d.log();
        EXPECT_TRUE(d.alive());
    }
    ::chmod((root + "/locked").c_str(), 0755);
    remove_tree(base);
}

// ---- random frames ----

namespace {

// A plausible operation frame of a random type with fields drawn from paths
// and targets that exercise the server's checks, sometimes corrupted.
std::string random_frame(std::mt19937_64 &rng, uint64_t seq) {
    static const std::vector<std::string> paths = {
        "a", "a/b", "a/b/c", "f", "d/e/f", "escape/x", "up/x", "../x", "a/../../x", "/abs", "", "a//b",
        ".git/x", ".nocalhost-sync/server.index", "x\ny", std::string(300, 'n'), "l", "a/b/l", "big", "sub/big"};
    static const std::vector<std::string> targets = {"../x", "/etc", "a", "../../..", "", "b/../..", "f", "../../a/f"};
    auto pick = [&](const std::vector<std::string> &v) { return v[rng() % v.size()]; };
    static const Msg types[] = {Msg::Mkdir, Msg::File, Msg::FileBegin, Msg::FileData, Msg::FileEnd, Msg::Symlink,
                                Msg::Delete, Msg::Rename, Msg::Meta, Msg::Commit, Msg::Fetch, Msg::ManifestReq, Msg::Hello,
                                static_cast<Msg>(rng() & 0xff)};
    Msg type = types[rng() % std::size(types)];
    std::string f;
    proto::Writer w(f);
    w.begin(type);
    auto data = [&] {
        std::string d(rng() % 3 == 0 ? rng() % 70000 : rng() % 64, static_cast<char>('a' + rng() % 26));
        w.u8(0);
        w.varint(d.size());
        w.raw(d);
    };
    switch (type) {
    case Msg::Mkdir: w.varint(seq); w.str(pick(paths)); w.varint(rng() & 07777); w.expect({}); break;
    case Msg::File: w.varint(seq); w.str(pick(paths)); w.varint(rng() & 07777); w.svarint(static_cast<int64_t>(rng())); w.expect({}); data(); break;
    case Msg::FileBegin: w.varint(seq); w.str(pick(paths)); w.varint(0644); w.expect({}); break;
    case Msg::FileData: w.varint(rng() % 4 ? seq - 1 : seq); data(); break;
    case Msg::FileEnd: w.varint(rng() % 4 ? seq - 1 : seq); w.svarint(0); break;
    case Msg::Symlink: w.varint(seq); w.str(pick(paths)); w.str(pick(targets)); w.expect({}); break;
    case Msg::Delete: w.varint(seq); w.str(pick(paths)); w.u8(rng() & 1); w.expect({}); break;
    case Msg::Rename: w.varint(seq); w.str(pick(paths)); w.str(pick(paths)); w.expect({}); break;
    case Msg::Meta: w.varint(seq); w.str(pick(paths)); w.varint(rng() & 07777); w.svarint(0); w.expect({}); break;
    case Msg::Commit: w.varint(seq); break;
    case Msg::Fetch: w.str(pick(paths)); break;
    case Msg::ManifestReq: break;
    default:
        for (size_t i = rng() % 40; i > 0; --i) w.u8(static_cast<uint8_t>(rng()));
    }
    w.finish();
    switch (rng() % 10) {
    case 0:  // flip bytes
        for (int i = 0; i < 3; ++i) f[rng() % f.size()] = static_cast<char>(rng());
        break;
    case 1:  // cut short
        f.resize(rng() % f.size());
        break;
    case 2:  // claim another length
        f[static_cast<size_t>(rng() % 4)] = static_cast<char>(rng());
        break;
    default:
        break;
    }
    return f;
}

void drain(RawClient &c, int quiet_ms) {
    std::string s;
    while (static_cast<int>(c.next(s, quiet_ms).type) != 0) {
    }
}

}  // namespace

TEST_F(Hostile, SurvivesBoundedFuzzing) {
    const char *env = std::getenv("NH_SYNC_FUZZ_SECONDS");
    int seconds = env ? std::atoi(env) : 10;
    uint64_t seed = std::getenv("NH_SYNC_FUZZ_SEED") ? std::strtoull(std::getenv("NH_SYNC_FUZZ_SEED"), nullptr, 10)
                                                     : static_cast<uint64_t>(::time(nullptr));
    std::printf("fuzzing nhsyncd for %d s, seed %llu (NH_SYNC_FUZZ_SEED to repeat)\n", seconds,
                static_cast<unsigned long long>(seed));
    std::mt19937_64 rng(seed);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int sessions = 0;
    uint64_t frames = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        ++sessions;
        RawClient c(server->port());
        switch (rng() % 5) {
        case 0: {  // garbage instead of a HELLO
            std::string junk(rng() % 200, '\0');
            for (auto &ch : junk) ch = static_cast<char>(rng());
            c.send(junk);
            drain(c, 50);
            continue;
        }
        case 1: {  // a corrupted HELLO
            std::string h = hello_mode(kToken, static_cast<proto::Mode>(rng() % 3));
            h[rng() % h.size()] = static_cast<char>(rng());
            c.send(h);
            break;
        }
        default:
            c.send(hello_mode(kToken, static_cast<proto::Mode>(rng() % 2)));
        }
        uint64_t seq = 0;
        std::string batch;
        for (int n = static_cast<int>(rng() % 200); n > 0; --n) {
            batch += random_frame(rng, ++seq);
            ++frames;
            if (batch.size() > (256u << 10)) {
                c.send(batch);
                batch.clear();
                drain(c, 0);
            }
        }
        c.send(batch);
        if (rng() % 2) c.send(commit(seq));
        drain(c, rng() % 4 ? 5 : 100);  // often gone before the answers
        ASSERT_TRUE(server->alive()) << "nhsyncd died (seed " << seed << "):\n" << server->log();
    }
    std::printf("%d sessions, %llu frames\n", sessions, static_cast<unsigned long long>(frames));
    // Still serving, and nothing escaped the root.
    auto c = login();
    c->send(file_frame(1, "after-fuzzing.txt", "ok"));
    c->send(commit(1));
    auto reply = until_ack(*c);
    EXPECT_TRUE(reply.acked) << "seed " << seed;
    EXPECT_EQ(read_file(root + "/after-fuzzing.txt"), "ok");
    expect_outside_untouched();
}

namespace {

// Delta frames (kFeatureDelta).
std::string delta_begin(uint64_t seq, const std::string &path) {
    std::string f = file_begin(seq, path);
    f[4] = static_cast<char>(Msg::DeltaBegin);
    return f;
}

std::string delta_copy(uint64_t seq, uint64_t first, uint64_t count) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::DeltaCopy);
    w.varint(seq);
    w.varint(first);
    w.varint(count);
    w.finish();
    return f;
}

std::string delta_end(uint64_t seq, std::string_view digest) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::DeltaEnd);
    w.varint(seq);
    w.svarint(1'600'000'000'000'000'000);
    w.raw(digest);
    w.finish();
    return f;
}

std::string digest_of(const std::string &data) {
    nh::sync::delta::FileHash h;
    h.update(data.data(), data.size());
    auto d = h.final();
    return std::string(reinterpret_cast<const char *>(d.data()), d.size());
}

// Overwrites a file from its start without replacing it, as an app writing it in place does.
void write_file_in_place(const std::string &path, const std::string &data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ::close(fd);
}

struct HostileDelta : Hostile {
    std::string original;
    void SetUp() override {
        Hostile::SetUp();
        original.resize(3u << 20);
        std::mt19937 rng(5);
        for (auto &c : original) c = static_cast<char>(rng());
        write_file(root + "/big.bin", original);
    }
    std::unique_ptr<RawClient> login_delta() {
        auto c = std::make_unique<RawClient>(server->port());
        std::string h = hello(kToken);
        h[h.size() - 1] = static_cast<char>(proto::kFeatureDelta);
        c->send(h);
        std::string s;
        auto fr = c->next(s);
        EXPECT_EQ(fr.type, Msg::Welcome);
        return c;
    }
    // Sends DELTA_BEGIN for big.bin and reads the signatures: the number of blocks.
    uint64_t begin(RawClient &c, uint64_t seq = 1) {
        c.send(delta_begin(seq, "big.bin"));
        std::string s;
        uint64_t got = 0;
        for (;;) {
            auto fr = c.next(s);
            EXPECT_EQ(fr.type, Msg::Signatures);
            if (fr.type != Msg::Signatures) return got;
            proto::Reader r(fr.payload);
            r.varint();
            uint64_t block = r.varint(), size = r.varint(), first = r.varint(), n = r.varint();
            EXPECT_EQ(first, got);
            got += n;
            if (got == nh::sync::delta::block_count(size, static_cast<uint32_t>(block))) return got;
        }
    }
    void expect_target_untouched() {
        EXPECT_TRUE(read_file(root + "/big.bin") == original) << "the target changed";
        for (auto &[p, v] : fingerprint(root)) EXPECT_TRUE(p == "big.bin" || p == "escape" || p == "up") << "left behind: " << p;
    }
};

}  // namespace

// A malformed delta ends the session with a clear error; the target stays as it was and no
// temporary file is left.
TEST_F(HostileDelta, MalformedDeltasEndTheSessionAndLeaveTheTarget) {
    struct Case {
        const char *what;
        std::function<std::string(uint64_t blocks)> frames;
    };
    std::vector<Case> cases = {
        {"a block out of range", [](uint64_t n) { return delta_copy(1, n, 1); }},
        {"a run past the end", [](uint64_t n) { return delta_copy(1, 1, n); }},
        {"an empty run", [](uint64_t) { return delta_copy(1, 0, 0); }},
        {"a literal over 1 MiB", [](uint64_t) { return file_data(1, std::string((1u << 20) + 1, 'x')); }},
        {"a literal shorter than it says",
         [](uint64_t) {
             std::string f = file_data(1, std::string(100, 'x'));
             f[7] = 99;  // raw_len: 100 bytes follow
             return f;
         }},
        {"a truncated DELTA_END", [](uint64_t) { return delta_end(1, "short"); }},
        {"FILE_END closing a delta", [](uint64_t) { return file_end(1); }},
    };
    for (auto &k : cases) {
        SCOPED_TRACE(k.what);
        auto c = login_delta();
        uint64_t n = begin(*c);
        EXPECT_EQ(n, nh::sync::delta::block_count(original.size(), nh::sync::delta::block_size_for(original.size())));
        c->send(delta_copy(1, 0, 2));
        c->send(k.frames(n));
        std::string s;
        auto fr = c->next(s);
        EXPECT_EQ(fr.type, Msg::Error);
        EXPECT_TRUE(c->closed());
        expect_target_untouched();
    }
    {
        auto c = login();  // without the feature
        c->send(delta_begin(1, "big.bin"));
        std::string s;
        EXPECT_EQ(c->next(s).type, Msg::Error);
        EXPECT_TRUE(c->closed());
    }
    {
        auto c = login_delta();  // cut in the middle of a delta
        begin(*c);
        c->send(delta_copy(1, 0, 1));
    }
    auto c = login_delta();
    c->send(file_frame(1, "after.txt", "synced"));
    c->send(commit(1));
    EXPECT_TRUE(until_ack(*c).acked) << "the next session was refused";
    EXPECT_EQ(read_file(root + "/after.txt"), "synced");
    std::remove((root + "/after.txt").c_str());
    expect_target_untouched();
}

// The base changes between its signatures and the delta: the result's hash does not match,
// the server keeps what is there and asks for the whole file (RESEND).
TEST_F(HostileDelta, ABaseChangedUnderTheDeltaIsAskedForWhole) {
    auto c = login_delta();
    uint64_t n = begin(*c);
    std::string theirs = original;
    for (size_t i = 0; i < theirs.size(); i += 100000) theirs[i] = static_cast<char>(~theirs[i]);
    write_file_in_place(root + "/big.bin", theirs);  // the server's open base changes
    c->send(delta_copy(1, 0, n));
    c->send(delta_end(1, digest_of(original)));
    c->send(commit(1));
    std::string s;
    auto fr = c->next(s);
    ASSERT_EQ(fr.type, Msg::Resend);
    proto::Reader r(fr.payload);
    EXPECT_EQ(r.varint(), 1u);
    EXPECT_EQ(r.str(), "big.bin");
    EXPECT_TRUE(until_ack(*c).acked);
    EXPECT_TRUE(read_file(root + "/big.bin") == theirs) << "a mismatched result replaced the file";
    // A delta that matches is applied.
    original = theirs.substr(0, 1u << 20) + "new middle" + theirs.substr(1u << 20);
    n = begin(*c, 2);
    uint32_t block = nh::sync::delta::block_size_for(theirs.size());
    c->send(delta_copy(2, 0, (1u << 20) / block));
    c->send(file_data(2, "new middle"));
    c->send(delta_copy(2, (1u << 20) / block, n - (1u << 20) / block));
    c->send(delta_end(2, digest_of(original)));
    c->send(commit(2));
    auto reply = until_ack(*c, 10000, 2);
    EXPECT_TRUE(reply.acked);
    EXPECT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
    expect_target_untouched();
}

// A delta that is the target followed by new bytes grows the target in place (same inode),
// and only once the whole delta has arrived and its hash is right: a session cut in the middle
// or a wrong hash leaves the target as it was, mtime included, and a target the container
// changed after its signatures were read is asked for whole, not appended to.
TEST_F(HostileDelta, AnAppendGrowsTheTargetOnlyWhenWholeAndChecked) {
    struct stat before;
    ASSERT_EQ(::stat((root + "/big.bin").c_str(), &before), 0);
    auto unchanged = [&] {
        expect_target_untouched();
        struct stat now;
        ASSERT_EQ(::stat((root + "/big.bin").c_str(), &now), 0);
        EXPECT_EQ(now.st_ino, before.st_ino);
        EXPECT_EQ(now.st_mtim.tv_sec, before.st_mtim.tv_sec);
        EXPECT_EQ(now.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    };
    std::string tail(200000, 'T');
    {
        auto c = login_delta();  // cut after the new bytes, before DELTA_END
        uint64_t n = begin(*c);
        c->send(delta_copy(1, 0, n));
        c->send(file_data(1, tail));
    }
    auto c = login_delta();
    uint64_t n = begin(*c, 1);
    unchanged();
    c->send(delta_copy(1, 0, n));
    c->send(file_data(1, tail));
    c->send(delta_end(1, digest_of(original + "not what was sent")));
    c->send(commit(1));
    std::string s;
    auto fr = c->next(s);
    EXPECT_EQ(fr.type, Msg::Resend);
    EXPECT_TRUE(until_ack(*c).acked);
    unchanged();

    // The container grows the file after the signatures were read: the append is not made
    // on top of it.
    n = begin(*c, 2);
    std::string theirs = original + "written by the app";
    write_file_in_place(root + "/big.bin", theirs);
    c->send(delta_copy(2, 0, n));
    c->send(file_data(2, tail));
    c->send(delta_end(2, digest_of(original + tail)));
    c->send(commit(2));
    fr = c->next(s);
    EXPECT_EQ(fr.type, Msg::Resend);
    EXPECT_TRUE(until_ack(*c, 10000, 2).acked);
    EXPECT_TRUE(read_file(root + "/big.bin") == theirs) << "appended to a file that changed";
    write_file_in_place(root + "/big.bin", original);
    ::truncate((root + "/big.bin").c_str(), static_cast<off_t>(original.size()));

    n = begin(*c, 3);
    c->send(delta_copy(3, 0, n));
    c->send(file_data(3, tail));
    c->send(delta_end(3, digest_of(original + tail)));
    c->send(commit(3));
    auto reply = until_ack(*c, 10000, 3);
    EXPECT_TRUE(reply.acked);
    EXPECT_TRUE(reply.nacks.empty()) << joined(reply.nacks);
    struct stat after;
    ASSERT_EQ(::stat((root + "/big.bin").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino) << "replaced, not grown in place";
    EXPECT_EQ(after.st_mtim.tv_sec, 1'600'000'000);
    original += tail;
    expect_target_untouched();
}
