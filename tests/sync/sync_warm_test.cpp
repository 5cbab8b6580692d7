// Warm restarts: the client reads its saved index on another thread while it connects, and
// scans its tree in the same walk that sets up its watches, before the server has answered.
// Whatever changed while nothing ran, or changes between that walk and the server's answer,
// must still be found; the index of the right server must be the base; a restart with nothing
// changed sends nothing; and a damaged index costs a full comparison, never a lost or wrong
// change. Real nhsyncd processes over loopback sockets.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "sync/protocol.hpp"
#include "sync_test_util.hpp"

using namespace nh::synctest;
namespace ns = nh::sync;

namespace {

const std::string kToken = "warm-restart-token-0123456789abcdef";

struct WarmFixture : ::testing::Test {
    std::string src, dst, state, server_state;
    void SetUp() override {
        src = make_temp_dir("warm-src");
        dst = make_temp_dir("warm-dst");
        state = make_temp_dir("warm-state");
        server_state = make_temp_dir("warm-server-state");
        for (int i = 0; i < 300; ++i)
            write_file(src + "/d" + std::to_string(i % 10) + "/f" + std::to_string(i), "content " + std::to_string(i));
    }
    void TearDown() override {
        remove_tree(src);
        remove_tree(dst);
        remove_tree(state);
        remove_tree(server_state);
    }
    ns::ClientOptions options(const std::string &addr) {
        ns::ClientOptions o;
        o.local_dir = src;
        o.address = addr;
        o.token = kToken;
        o.state_dir = state;
        o.max_backoff_ms = 200;
        return o;
    }
    // One client run against a fresh nhsyncd serving root: connects, syncs, stops.
    uint64_t run_once(const std::string &root) {
        Daemon d({.root = root, .token = kToken, .extra_args = {"--state-dir", server_state}});
        EXPECT_GT(d.port(), 0);
        ns::Client client(options(d.address()));
        EXPECT_EQ(client.flush(30000), NH_OK);
        return client.status().files_synced;
    }
    // The client's saved indexes (one per server).
    std::vector<std::string> client_indexes() { return indexes_in(state); }
    // nhsyncd's: DIR/ROOT-HASH/server.index, one per root served.
    std::vector<std::string> server_indexes() {
        std::vector<std::string> out;
        for (auto &sub : entries_of(server_state))
            for (auto &f : indexes_in(sub)) out.push_back(f);
        return out;
    }
    static std::vector<std::string> entries_of(const std::string &dir) {
        std::vector<std::string> out;
        DIR *d = ::opendir(dir.c_str());
        if (!d) return out;
        while (auto *e = ::readdir(d))
            if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
        ::closedir(d);
        return out;
    }
    static std::vector<std::string> indexes_in(const std::string &dir) {
        std::vector<std::string> out;
        for (auto &p : entries_of(dir))
            if (p.ends_with(".index")) out.push_back(p);
        return out;
    }
};

struct timespec mtime_of(const std::string &p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mtim;
}

void set_mtime(const std::string &p, struct timespec t) {
    struct timespec ts[2] = {t, t};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
}

struct LogCapture {
    std::mutex mu;
    std::vector<std::string> lines;
    explicit LogCapture(int level = NH_LOG_WARN) {
        nh::log::set_sink(
            [](int, const char *msg, void *self) {
                auto *c = static_cast<LogCapture *>(self);
                std::lock_guard l(c->mu);
                c->lines.emplace_back(msg);
            },
            level, this);
    }
    ~LogCapture() { nh::log::set_sink(nullptr, -1, nullptr); }
    bool saw(const std::string &needle) {
        std::lock_guard l(mu);
        for (auto &s : lines)
            if (s.find(needle) != std::string::npos) return true;
        return false;
    }
};

// Takes one connection on a loopback port and passes it on to the server only when release()
// is called: until then the client waits for WELCOME.
class HoldingProxy {
public:
    explicit HoldingProxy(uint16_t target) : target_(target) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(listen_fd_, 4) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len) != 0)
            throw std::runtime_error("cannot listen");
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { relay(); });
    }
    ~HoldingProxy() {
        release();
        ::shutdown(listen_fd_, SHUT_RDWR);
        thread_.join();
        ::close(listen_fd_);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    void release() {
        std::lock_guard l(mu_);
        released_ = true;
        cv_.notify_all();
    }

private:
    void relay() {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        {
            std::unique_lock l(mu_);
            cv_.wait(l, [this] { return released_; });
        }
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(target_);
        if (::connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) {
            pollfd fds[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
            char buf[65536];
            for (bool open = true; open && ::poll(fds, 2, 10000) > 0;) {
                for (int k = 0; k < 2 && open; ++k) {
                    if (!fds[k].revents) continue;
                    ssize_t n = ::recv(fds[k].fd, buf, sizeof buf, 0);
                    open = n > 0 && ::send(fds[1 - k].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) == n;
                }
            }
        }
        ::close(s);
        ::close(c);
    }
    uint16_t target_, port_ = 0;
    int listen_fd_ = -1;
    std::mutex mu_;
    std::condition_variable cv_;
    bool released_ = false;
    std::thread thread_;
};

}  // namespace

// Every kind of change made while neither end ran, each with the file's and its directory's
// mtimes put back as they were: the restart compares every entry's own metadata, so none of
// them hides behind an unchanged directory.
TEST_F(WarmFixture, RestartFindsWhatChangedWhileNothingRan) {
    ASSERT_EQ(run_once(dst), 300u);
    auto keep_dir_mtime = [&](const std::string &dir, auto change) {
        auto t = mtime_of(dir);
        change();
        set_mtime(dir, t);
    };
    // Rewritten with another size, the file's mtime restored.
    keep_dir_mtime(src + "/d1", [&] {
        auto t = mtime_of(src + "/d1/f1");
        write_file(src + "/d1/f1", "rewritten with another size, old mtime");
        set_mtime(src + "/d1/f1", t);
    });
    // Added with an old mtime.
    keep_dir_mtime(src + "/d2", [&] {
        write_file(src + "/d2/added", "added while down");
        set_mtime(src + "/d2/added", mtime_of(src + "/d2/f2"));
    });
    // Deleted.
    keep_dir_mtime(src + "/d3", [&] { ASSERT_EQ(::unlink((src + "/d3/f3").c_str()), 0); });
    // Renamed across directories (both directories' mtimes restored).
    keep_dir_mtime(src + "/d4", [&] {
        keep_dir_mtime(src + "/d5", [&] { ASSERT_EQ(::rename((src + "/d4/f4").c_str(), (src + "/d5/moved").c_str()), 0); });
    });
    // Mode changed only.
    ASSERT_EQ(::chmod((src + "/d6/f6").c_str(), 0755), 0);
    // A new directory with a file in it.
    write_file(src + "/newdir/inner", "x");

    EXPECT_GE(run_once(dst), 4u);
    EXPECT_EQ(diff_trees(src, dst), "");
    // And once more with nothing changed: nothing is sent.
    EXPECT_EQ(run_once(dst), 0u);
    EXPECT_EQ(diff_trees(src, dst), "");
}

// Changes in place while nothing ran: the same paths, as many entries, and the server's tree
// unchanged (its digest agrees with the client's index), so only each entry's own metadata
// tells. A restart must not take "same digest, same paths" for "nothing to do".
TEST_F(WarmFixture, RestartFindsChangesInPlaceWhenTheServerIsUnchanged) {
    ASSERT_EQ(run_once(dst), 300u);
    auto t = mtime_of(src + "/d1/f1");
    write_file(src + "/d1/f1", "rewritten in place with another size, old mtime");
    set_mtime(src + "/d1/f1", t);
    ASSERT_EQ(::chmod((src + "/d2/f2").c_str(), 0600), 0);
    ASSERT_EQ(::chmod((src + "/d3").c_str(), 0700), 0);
    EXPECT_GE(run_once(dst), 1u);
    EXPECT_EQ(diff_trees(src, dst), "");
}

// A change made while the client is starting (after its index was read ahead, before or
// during its scan) reaches the server.
TEST_F(WarmFixture, ChangeMadeAsTheClientStartsArrives) {
    ASSERT_EQ(run_once(dst), 300u);
    Daemon d({.root = dst, .token = kToken, .extra_args = {"--state-dir", server_state}});
    ASSERT_GT(d.port(), 0);
    ns::Client client(options(d.address()));
    for (int i = 0; i < 20; ++i) write_file(src + "/d7/during-start-" + std::to_string(i), std::to_string(i));
    ASSERT_EQ(client.flush(30000), NH_OK);
    EXPECT_EQ(diff_trees(src, dst), "");
}

// The client's scan is made with its watches, before the server answers; what changes after
// that walk and before WELCOME (every kind of change, mtimes put back) is reported by the
// watches and reaches the server. The server is held back until the walk is done.
TEST_F(WarmFixture, ChangeMadeBeforeTheServerAnswersArrives) {
    ASSERT_EQ(run_once(dst), 300u);
    Daemon d({.root = dst, .token = kToken, .extra_args = {"--state-dir", server_state}});
    ASSERT_GT(d.port(), 0);
    HoldingProxy proxy(d.port());
    LogCapture logs(NH_LOG_DEBUG);
    ns::Client client(options(proxy.address()));
    for (int i = 0; i < 3000 && !logs.saw("sync: watching"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(logs.saw("sync: watching")) << "the client did not set up its watches";
    auto t = mtime_of(src + "/d1/f1");
    write_file(src + "/d1/f1", "rewritten before the server answered");
    set_mtime(src + "/d1/f1", t);
    ASSERT_EQ(::unlink((src + "/d3/f3").c_str()), 0);
    ASSERT_EQ(::rename((src + "/d4/f4").c_str(), (src + "/d5/moved").c_str()), 0);
    ASSERT_EQ(::chmod((src + "/d6/f6").c_str(), 0700), 0);
    write_file(src + "/d2/added", "added before the server answered");
    write_file(src + "/newdir/inner", "x");
    proxy.release();
    ASSERT_EQ(client.flush(30000), NH_OK);
    EXPECT_EQ(diff_trees(src, dst), "");
}

// The tree digest is on the wire (WELCOME) and in both ends' saved indexes, so it must not
// change: each entry's hash is FNV-1a of one record (path, NUL, type, then size, mtime and
// permissions for a file, permissions for a directory, the target for a symlink; numbers as
// 8 bytes in the machine's order), finalised with murmur3's fmix64. Built here as one record.
TEST(WarmDigest, EntryHashIsTheHashOfOneRecord) {
    auto by_record = [](const ns::local::Entry &e) {
        std::string rec = e.path;
        rec.push_back('\0');
        rec.push_back(static_cast<char>(e.type));
        auto num = [&](uint64_t v) { rec.append(reinterpret_cast<const char *>(&v), sizeof v); };
        if (e.type == ns::local::Entry::Type::File) {
            num(e.size);
            num(static_cast<uint64_t>(e.mtime_ns));
            num(e.mode & 0777);
        } else if (e.type == ns::local::Entry::Type::Dir) {
            num(e.mode & 0777);
        } else {
            rec.append(e.link_target);
        }
        uint64_t h = ns::proto::fnv1a(rec);
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        return h;
    };
    using T = ns::local::Entry::Type;
    auto entry = [](std::string path, T type, uint64_t size, int64_t mtime, uint32_t mode, std::string target = {}) {
        ns::local::Entry e;
        e.path = std::move(path);
        e.type = type;
        e.size = size;
        e.mtime_ns = mtime;
        e.mode = mode;
        e.ino = 7;
        e.link_target = std::move(target);
        return e;
    };
    std::vector<ns::local::Entry> entries = {
        entry("src/main.cpp", T::File, 1234, 1'700'000'000'123'456'789, 0100644),
        entry("a dir/\xc3\xa9t\xc3\xa9", T::Dir, 0, 5, 040755),
        entry("link", T::Symlink, 9, 5, 0777, "../target"),
        entry("empty", T::File, 0, 0, 0),
    };
    for (auto &e : entries) EXPECT_EQ(ns::proto::entry_hash(e), by_record(e)) << e.path;
}

// A file deleted and made again while its first send is still queued (a branch switched in
// the middle of a sync does this to many files; a scan made early, before the server answers,
// makes it likelier) arrives in its new version: the delete queued between the two must not
// swallow the second send. 24 MiB of incompressible data through a 4 MiB/s link keep the
// queue long enough.
TEST_F(WarmFixture, FileDeletedAndMadeAgainWhileQueuedArrives) {
    std::mt19937 rng(5);
    for (int i = 0; i < 384; ++i) {
        std::string data(64 << 10, '\0');
        for (auto &c : data) c = static_cast<char>(rng());
        write_file(src + "/big/b" + std::to_string(i), data);
    }
    write_file(src + "/zz-last", "first version");
    Daemon d({.root = dst, .token = kToken, .extra_args = {"--state-dir", server_state}});
    ASSERT_GT(d.port(), 0);
    CuttingProxy slow(d.port(), 0, 0, 1, 4u << 20);
    ns::Client client(options(slow.address()));
    for (int i = 0; i < 2000 && client.status().files_total == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GT(client.status().files_total, 0u) << "the sync did not start";
    ASSERT_EQ(::unlink((src + "/zz-last").c_str()), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    write_file(src + "/zz-last", "second version, made again");
    ASSERT_EQ(client.flush(60000), NH_OK);
    EXPECT_EQ(diff_trees(src, dst), "");
}

// The index read ahead is the newest one saved for this directory; when the server turns out
// to be another one, that server's own index is the base. Told apart by a delete: a file
// deleted here while down is deleted on a server whose index (the base) had it, and kept as
// the server's own if the base did not know it.
TEST_F(WarmFixture, RestartAgainstAnotherServerUsesThatServersIndex) {
    std::string other = make_temp_dir("warm-other");
    write_file(src + "/gone-while-down", "y");
    ASSERT_EQ(run_once(dst), 301u);
    ASSERT_EQ(::unlink((src + "/gone-while-down").c_str()), 0);
    ASSERT_EQ(run_once(other), 300u);  // the newest index now is the other server's, without the file
    ASSERT_EQ(client_indexes().size(), 2u);

    run_once(dst);
    EXPECT_EQ(::access((dst + "/gone-while-down").c_str(), F_OK), -1) << "the delete did not reach the server";
    EXPECT_EQ(diff_trees(src, dst), "");
    remove_tree(other);
}

// A truncated or corrupted saved index (the client's or the server's) is ignored with a
// warning: the restart compares the whole trees and ends equal, sending what changed and
// nothing that is already there. (What such a restart cannot know is a delete made while
// down: without the base, a file only on the server is kept as the server's own.)
TEST_F(WarmFixture, DamagedIndexIsIgnoredWithAWarning) {
    ASSERT_EQ(run_once(dst), 300u);
    auto idx = client_indexes();
    ASSERT_EQ(idx.size(), 1u);
    struct stat st {};
    ASSERT_EQ(::stat(idx[0].c_str(), &st), 0);
    ASSERT_EQ(::truncate(idx[0].c_str(), st.st_size / 2), 0);
    write_file(src + "/d8/after-truncation", "z");
    {
        LogCapture logs;
        EXPECT_EQ(run_once(dst), 1u);
        EXPECT_TRUE(logs.saw("ignored")) << "no warning about the truncated index";
    }
    EXPECT_EQ(diff_trees(src, dst), "");

    // One byte flipped in the middle of the client's index, and the server's index cut short.
    idx = client_indexes();
    ASSERT_EQ(idx.size(), 1u);
    std::string data = read_file(idx[0]);
    ASSERT_GT(data.size(), 100u);
    data[data.size() / 2] = static_cast<char>(data[data.size() / 2] ^ 0x5a);
    write_file(idx[0], data, 0600);
    auto server_index = server_indexes();
    ASSERT_EQ(server_index.size(), 1u) << "the server keeps its index in its state dir";
    ASSERT_EQ(::truncate(server_index[0].c_str(), 10), 0);
    write_file(src + "/d9/f9", "changed with both indexes damaged");
    {
        LogCapture logs;
        EXPECT_EQ(run_once(dst), 1u);
        EXPECT_TRUE(logs.saw("checksum mismatch")) << "no warning about the corrupted index";
    }
    EXPECT_EQ(diff_trees(src, dst), "");
}

// A server that keeps running between sessions keeps its index current from its watches
// instead of reading its whole tree at each HELLO. What changed in its tree while no client
// was connected, or during a send session (which does not look at the server's tree), must
// still be seen by the next session and put right: rewritten, deleted, a mode changed, and a
// directory deleted and made again with fewer files (what went with it must leave the index).
TEST_F(WarmFixture, ServerKeptRunningSeesWhatChangedInItsTreeBetweenSessions) {
    Daemon d({.root = dst, .token = kToken, .extra_args = {"--state-dir", server_state}});
    ASSERT_GT(d.port(), 0);
    auto once = [&] {
        ns::Client client(options(d.address()));
        EXPECT_EQ(client.flush(30000), NH_OK);
        return client.status().files_synced;
    };
    ASSERT_EQ(once(), 300u);
    ASSERT_EQ(once(), 0u);

    write_file(dst + "/d1/f1", "changed on the server, another size");
    ASSERT_EQ(::unlink((dst + "/d2/f2").c_str()), 0);
    ASSERT_EQ(::chmod((dst + "/d5/f5").c_str(), 0600), 0);
    remove_tree(dst + "/d3");
    write_file(dst + "/d3/f3", "content 3");
    EXPECT_GE(once(), 32u);  // f1, f2, f5 and the 29 other files of d3
    EXPECT_EQ(diff_trees(src, dst), "");

    {
        ns::Client client(options(d.address()));
        ASSERT_EQ(client.flush(30000), NH_OK);
        write_file(dst + "/d6/f6", "changed on the server during a session");
        remove_tree(dst + "/d7");
        write_file(dst + "/d7/f7", "content 7");
    }
    EXPECT_GE(once(), 31u);
    EXPECT_EQ(diff_trees(src, dst), "");
    EXPECT_EQ(once(), 0u);
}

// A send session that writes more than the kernel's event queue holds (fs.inotify.
// max_queued_events, 16384 by default; each file written is several events) overflows the
// queue of the server's watcher, which is not read during the session. A change made in the
// server's tree after that is lost from the queue, so the next HELLO must read the whole tree.
TEST_F(WarmFixture, ServerWhoseWatchQueueOverflowedReadsItsWholeTree) {
    Daemon d({.root = dst, .token = kToken, .extra_args = {"--state-dir", server_state}});
    ASSERT_GT(d.port(), 0);
    {
        ns::Client client(options(d.address()));
        ASSERT_EQ(client.flush(30000), NH_OK);
    }
    // Written into directories the server watches already.
    int max_events = std::stoi(read_file("/proc/sys/fs/inotify/max_queued_events"));
    int files = max_events / 3 + 1000;
    for (int i = 0; i < files; ++i) write_file(src + "/d" + std::to_string(i % 10) + "/m" + std::to_string(i), "m");
    {
        ns::Client client(options(d.address()));
        ASSERT_EQ(client.flush(60000), NH_OK);
        write_file(dst + "/d1/f1", "changed on the server after the queue was full");
    }
    ns::Client client(options(d.address()));
    ASSERT_EQ(client.flush(60000), NH_OK);
    EXPECT_EQ(diff_trees(src, dst), "");
}
