// Warm restarts: the client reads its saved index on another thread while it connects and
// scans right after its watches exist. Whatever changed while nothing ran must still be
// found, the index of the right server must be the base, and a damaged index costs a full
// comparison, never a lost or wrong change. Real nhsyncd processes over loopback sockets.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/log.hpp"
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
    LogCapture() {
        nh::log::set_sink(
            [](int, const char *msg, void *self) {
                auto *c = static_cast<LogCapture *>(self);
                std::lock_guard l(c->mu);
                c->lines.emplace_back(msg);
            },
            NH_LOG_WARN, this);
    }
    ~LogCapture() { nh::log::set_sink(nullptr, -1, nullptr); }
    bool saw(const std::string &needle) {
        std::lock_guard l(mu);
        for (auto &s : lines)
            if (s.find(needle) != std::string::npos) return true;
        return false;
    }
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
