// The reverse tunnel's frames and multiplexer over real loopback sockets: the pod side's
// tunnel server (as nhsyncd runs it) and the laptop side's end, or a raw peer that writes
// frames by hand to break the rules.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "net.hpp"
#include "platform/wakeup.hpp"
#include "tunnel/client.hpp"
#include "tunnel/frame.hpp"
#include "tunnel/mux.hpp"
#include "tunnel/server.hpp"

using namespace std::chrono_literals;
namespace t = nh::tunnel;

namespace {

const std::string kToken = "tunnel-test-token-0123456789";

template <class F>
bool eventually(F f, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return f();
}

int free_port() {
    int port = 0;
    int fd = nh::test::listen_loopback(&port);
    ::close(fd);
    return port;
}

void write_all(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) throw std::runtime_error("write failed");
        off += static_cast<size_t>(n);
    }
}

// Reads until EOF (or an error, whose errno lands in *err) within `limit`.
std::string read_to_end(int fd, std::chrono::milliseconds limit = 20s, int *err = nullptr) {
    std::string got;
    char buf[65536];
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && err) *err = errno;
        if (n <= 0) return got;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

// The pod side: a tunnel server on a thread.
struct PodSide {
    t::Server server;
    std::thread thread;
    explicit PodSide(t::ServerOptions o) : server(std::move(o)), thread([this] { server.run(); }) {}
    ~PodSide() {
        server.stop();
        thread.join();
    }
};

t::ServerOptions pod_options() {
    t::ServerOptions o;
    o.token = kToken;
    o.hello_timeout = 3000ms;
    return o;
}

// The laptop side: one tunnel running on a thread.
struct LaptopSide {
    std::unique_ptr<t::Mux> mux;
    nh::platform::Wakeup stop;
    std::thread thread;
    std::atomic<bool> ended{false};
    std::string end_error;
    std::mutex mu;
    std::vector<std::pair<t::StreamEvent, std::string>> events;

    LaptopSide(int server_port, std::vector<t::Mapping> ports, std::string token = kToken) {
        t::ClientOptions co;
        co.token = std::move(token);
        co.ports = std::move(ports);
        co.on_event = [this](t::StreamEvent e, const t::Mapping &, const std::string &m) {
            std::lock_guard l(mu);
            events.emplace_back(e, m);
        };
        mux = t::open_tunnel(nh::test::connect_loopback(server_port), co);
        thread = std::thread([this] {
            try {
                mux->run(stop.fd());
            } catch (const std::exception &e) {
                end_error = e.what();
            }
            ended = true;
        });
    }
    ~LaptopSide() {
        stop.signal();
        thread.join();
    }
    size_t count(t::StreamEvent e) {
        std::lock_guard l(mu);
        size_t n = 0;
        for (auto &ev : events) n += ev.first == e;
        return n;
    }
};

// An echo server on this machine: every connection gets its bytes back, then EOF after EOF.
struct Echo {
    nh::test::TcpServer server{[](int fd) {
        char buf[65536];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
            for (ssize_t off = 0, w = 0; off < n; off += w)
                if ((w = ::send(fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL)) <= 0) return;
        ::shutdown(fd, SHUT_WR);
    }};
    int port() const { return server.port(); }
};

// A raw laptop-side peer: HELLO and LISTEN written by hand.
struct RawPeer {
    int fd;
    t::FrameReader reader;
    explicit RawPeer(int server_port) : fd(nh::test::connect_loopback(server_port)) {}
    ~RawPeer() { ::close(fd); }
    void send(t::Type type, uint32_t stream, const std::string &payload = {}) {
        std::string out;
        t::append_frame(out, type, stream, payload);
        write_all(fd, out);
    }
    void hello(const std::string &token = kToken) {
        std::string p(t::kMagic);
        p.push_back(static_cast<char>(t::kVersion));
        p += token;
        send(t::Type::Hello, 0, p);
    }
    // The next frame within `limit`, or nullopt (EOF or time out: *eof says which).
    std::optional<t::Frame> next(std::chrono::milliseconds limit = 5s, bool *eof = nullptr) {
        char buf[65536];
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (auto f = reader.next()) return f;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                if (eof) *eof = true;
                return std::nullopt;
            }
            reader.feed(buf, static_cast<size_t>(n));
        }
    }
    // LISTEN on `port` and expect the pod's LISTENING.
    void listen(int port) {
        std::string p;
        t::put_u16(p, static_cast<uint16_t>(port));
        p += "127.0.0.1";
        send(t::Type::Listen, 1, p);
        auto f = next();
        ASSERT_TRUE(f && f->type == t::Type::Listening);
        size_t at = 0;
        ASSERT_EQ(t::get_u16(f->payload, at), port);
        reader.set_limit(t::kMaxPayload);
    }
};

}  // namespace

TEST(TunnelFrames, RoundTripAcrossArbitrarySplits) {
    std::string wire;
    t::append_frame(wire, t::Type::Data, 7, std::string(1000, 'x'));
    t::append_frame(wire, t::Type::Close, 7);
    std::string w;
    t::put_u32(w, 12345);
    t::append_frame(wire, t::Type::Window, 9, w);
    t::FrameReader r;
    r.set_limit(t::kMaxPayload);
    std::vector<t::Frame> got;
    for (char c : wire) {  // one byte at a time
        r.feed(&c, 1);
        while (auto f = r.next()) got.push_back(*f);
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].type, t::Type::Data);
    EXPECT_EQ(got[0].stream, 7u);
    EXPECT_EQ(got[0].payload, std::string(1000, 'x'));
    EXPECT_EQ(got[1].type, t::Type::Close);
    size_t at = 0;
    EXPECT_EQ(t::get_u32(got[2].payload, at), 12345u);
}

TEST(TunnelFrames, MalformedFramesAreRejected) {
    {
        t::FrameReader r;
        std::string wire;
        t::append_frame(wire, static_cast<t::Type>(0x7f), 1, "x");
        r.feed(wire.data(), wire.size());
        EXPECT_THROW(r.next(), nh::Error);
    }
    {
        // Longer than the limit: rejected from the header alone, before the payload arrives.
        t::FrameReader r;
        r.set_limit(t::kMaxPayload);
        std::string wire;
        t::put_u32(wire, t::kMaxPayload + 1);
        wire.push_back(static_cast<char>(t::Type::Data));
        t::put_u32(wire, 1);
        r.feed(wire.data(), wire.size());
        EXPECT_THROW(r.next(), nh::Error);
    }
    {
        // Before authentication only a small frame is accepted.
        t::FrameReader r;
        std::string wire;
        t::append_frame(wire, t::Type::Hello, 0, std::string(t::kMaxHelloPayload + 1, 'a'));
        r.feed(wire.data(), wire.size());
        EXPECT_THROW(r.next(), nh::Error);
    }
    std::string p = "ab";
    size_t at = 0;
    EXPECT_THROW(t::get_u32(p, at), nh::Error);
}

TEST(TunnelFrames, MappingsParse) {
    auto m = t::parse_mapping("5005:15005");
    EXPECT_EQ(m.remote, 5005);
    EXPECT_EQ(m.local, 15005);
    m = t::parse_mapping("8080");
    EXPECT_EQ(m.remote, 8080);
    EXPECT_EQ(m.local, 8080);
    for (const char *bad : {"", "0", "70000", "a:1", "1:", ":1", "1:2:3", "-1"})
        EXPECT_THROW(t::parse_mapping(bad), nh::Error) << bad;
}

TEST(TunnelMux, BytesBothWaysAndManyConcurrentConnections) {
    PodSide pod(pod_options());
    Echo echo;
    int remote = free_port();
    LaptopSide laptop(pod.server.port(), {{remote, echo.port()}});
    constexpr int kConns = 100;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < kConns; ++i)
        threads.emplace_back([&, i] {
            int fd = nh::test::connect_loopback(remote);
            if (fd < 0) return;
            std::string msg = "connection " + std::to_string(i) + ":" + std::string(static_cast<size_t>(i) * 1000, 'a' + i % 26);
            write_all(fd, msg);
            ::shutdown(fd, SHUT_WR);
            if (read_to_end(fd) == msg) ++ok;
            ::close(fd);
        });
    for (auto &th : threads) th.join();
    EXPECT_EQ(ok.load(), kConns);
    EXPECT_TRUE(eventually([&] { return laptop.count(t::StreamEvent::Closed) == kConns; }, 5s));
    EXPECT_EQ(laptop.count(t::StreamEvent::Opened), static_cast<size_t>(kConns));
    EXPECT_FALSE(laptop.ended.load());
}

TEST(TunnelMux, LargeTransferArrivesByteForByte) {
    PodSide pod(pod_options());
    Echo echo;
    int remote = free_port();
    LaptopSide laptop(pod.server.port(), {{remote, echo.port()}});
    std::string data(64u << 20, '\0');
    std::mt19937 rng(17);
    for (auto &c : data) c = static_cast<char>(rng());
    int fd = nh::test::connect_loopback(remote);
    ASSERT_GE(fd, 0);
    std::thread writer([&] {
        write_all(fd, data);
        ::shutdown(fd, SHUT_WR);
    });
    std::string back = read_to_end(fd, 120s);
    writer.join();
    ::close(fd);
    ASSERT_EQ(back.size(), data.size());
    EXPECT_TRUE(back == data);
}

TEST(TunnelMux, NothingListeningLocallyResetsThatConnectionAndTheTunnelStaysUp) {
    PodSide pod(pod_options());
    int remote = free_port();
    int dead_local = free_port();  // nothing listens there
    LaptopSide laptop(pod.server.port(), {{remote, dead_local}});
    for (int i = 0; i < 3; ++i) {
        int fd = nh::test::connect_loopback(remote);
        ASSERT_GE(fd, 0);
        // (The reset may come before the write: then the write sees it.)
        ssize_t w = ::send(fd, "hello", 5, MSG_NOSIGNAL);
        int write_err = w < 0 ? errno : 0;
        int err = 0;
        EXPECT_EQ(read_to_end(fd, 5s, &err), "");
        EXPECT_TRUE(err == ECONNRESET || write_err == ECONNRESET || write_err == EPIPE)
            << "the pod's connection is reset, not ended: " << err << " " << write_err;
        ::close(fd);
    }
    ASSERT_TRUE(eventually([&] { return laptop.count(t::StreamEvent::Failed) == 3; }, 5s));
    {
        std::lock_guard l(laptop.mu);
        EXPECT_NE(laptop.events[0].second.find("nothing listens on 127.0.0.1:" + std::to_string(dead_local)),
                  std::string::npos)
            << laptop.events[0].second;
    }
    EXPECT_FALSE(laptop.ended.load());
    // A second listener of the same tunnel to a live port still works.
    Echo echo;
    int remote2 = free_port();
    LaptopSide laptop2(pod.server.port(), {{remote2, echo.port()}});  // (replaces the first tunnel)
    int fd = nh::test::connect_loopback(remote2);
    ASSERT_GE(fd, 0);
    write_all(fd, "ping");
    ::shutdown(fd, SHUT_WR);
    EXPECT_EQ(read_to_end(fd), "ping");
    ::close(fd);
    EXPECT_TRUE(eventually([&] { return laptop.ended.load(); }, 5s)) << "the older tunnel was replaced";
}

TEST(TunnelAuth, WrongOrMissingTokenIsRefusedAndNothingListens) {
    PodSide pod(pod_options());
    int remote = free_port();
    for (std::string token : {std::string("wrong-token"), std::string()}) {
        try {
            LaptopSide laptop(pod.server.port(), {{remote, 1}}, token);
            ADD_FAILURE() << "a tunnel opened with token '" << token << "'";
        } catch (const nh::Error &e) {
            EXPECT_EQ(e.code(), NH_EUNAUTHORIZED);
            EXPECT_NE(std::string(e.what()).find("wrong token"), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find(kToken), std::string::npos);
        }
        EXPECT_LT(nh::test::connect_loopback(remote), 0) << "no listener was opened";
    }
    // Frames before HELLO are refused too: LISTEN straight away.
    RawPeer raw(pod.server.port());
    std::string p;
    t::put_u16(p, static_cast<uint16_t>(remote));
    raw.send(t::Type::Listen, 1, p);
    auto f = raw.next();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->type, t::Type::Fail);
    EXPECT_LT(nh::test::connect_loopback(remote), 0);
}

TEST(TunnelMux, ThePodSendsNoMoreThanTheWindowUntilGranted) {
    PodSide pod(pod_options());
    RawPeer raw(pod.server.port());
    raw.hello();
    auto w = raw.next();
    ASSERT_TRUE(w && w->type == t::Type::Welcome);
    int remote = free_port();
    raw.listen(remote);
    int app = nh::test::connect_loopback(remote);
    ASSERT_GE(app, 0);
    std::thread writer([app] {
        try {
            write_all(app, std::string(8u << 20, 'z'));
        } catch (...) {
        }
    });
    auto open = raw.next();
    ASSERT_TRUE(open && open->type == t::Type::Open);
    uint32_t id = open->stream;
    size_t got = 0;
    while (auto f = raw.next(1500ms)) {
        ASSERT_EQ(f->type, t::Type::Data);
        got += f->payload.size();
    }
    EXPECT_EQ(got, t::kInitialWindow) << "exactly one window, then it waits";
    std::string credit;
    t::put_u32(credit, 100000);
    raw.send(t::Type::Window, id, credit);
    size_t more = 0;
    while (auto f = raw.next(1500ms)) more += f->payload.size();
    EXPECT_EQ(more, 100000u);
    raw.send(t::Type::Reset, id, "test over");
    writer.join();
    ::close(app);
}

TEST(TunnelMux, APeerOverrunningItsWindowOrSendingGarbageLosesTheTunnel) {
    PodSide pod(pod_options());
    for (int round = 0; round < 2; ++round) {
        RawPeer raw(pod.server.port());
        raw.hello();
        ASSERT_TRUE(raw.next());
        int remote = free_port();
        raw.listen(remote);
        // An app in the pod that reads nothing, with a small receive buffer: the pod's writes
        // to it block soon, so it cannot grant more.
        int app = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int small = 4096;
        ::setsockopt(app, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(remote));
        ASSERT_EQ(::connect(app, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
        auto open = raw.next();
        ASSERT_TRUE(open && open->type == t::Type::Open);
        try {
            if (round == 0) {
                // Far more than the window without waiting for a grant.
                std::string chunk(t::kMaxPayload, 'q');
                for (uint32_t sent = 0; sent < (32u << 20); sent += t::kMaxPayload)
                    raw.send(t::Type::Data, open->stream, chunk);
            } else {
                raw.send(static_cast<t::Type>(0x7f), open->stream, "junk");
            }
        } catch (const std::runtime_error &) {
            // The pod closed the tunnel while we wrote.
        }
        bool eof = false;
        while (raw.next(5s, &eof)) {
        }
        EXPECT_TRUE(eof) << "round " << round << ": the pod closed the tunnel";
        ::close(app);
        EXPECT_LT(nh::test::connect_loopback(remote), 0) << "its listener is gone";
    }
}
