// Hostile clients against the server: bad paths, escaping links, writes
// through symlinked directories, oversized and malformed frames. Nothing may
// be written outside the root, and the server keeps serving.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/error.hpp"
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

std::string commit(uint64_t seq) {
    std::string f;
    proto::Writer w(f);
    w.begin(Msg::Commit);
    w.varint(seq);
    w.finish();
    return f;
}

struct Hostile : ::testing::Test {
    std::string base, root, outside;
    std::unique_ptr<InProcessServer> server;
    void SetUp() override {
        base = make_temp_dir("hostile");
        root = base + "/root";
        outside = base + "/outside";
        mkdirs(root);
        mkdirs(outside);
        // What an app in the container could have made: a link out of the root.
        ::symlink(outside.c_str(), (root + "/escape").c_str());
        ::symlink("..", (root + "/up").c_str());
        server = std::make_unique<InProcessServer>(root, kToken);
    }
    void TearDown() override {
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
