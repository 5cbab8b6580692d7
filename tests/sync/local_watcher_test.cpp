#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "local_test_util.hpp"
#include "platform/dir_watch.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {
namespace {

using test::TempDir;
using Kind = Change::Kind;

// Reads changes until `done` holds for everything read so far, or 5 s pass.
std::vector<Change> read_until(Watcher &w, const std::function<bool(const std::vector<Change> &)> &done) {
    std::vector<Change> all;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done(all) && std::chrono::steady_clock::now() < deadline) {
        struct pollfd p{w.fd(), POLLIN, 0};
        ::poll(&p, 1, 50);
        for (auto &c : w.read()) all.push_back(std::move(c));
    }
    return all;
}

// Reads whatever arrives within a short quiet period.
std::vector<Change> read_settled(Watcher &w) {
    std::vector<Change> all;
    for (;;) {
        struct pollfd p{w.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) return all;
        for (auto &c : w.read()) all.push_back(std::move(c));
    }
}

bool has(const std::vector<Change> &changes, const std::string &path, Kind kind) {
    for (auto &c : changes)
        if (c.path == path && c.kind == kind) return true;
    return false;
}

auto has_all(std::vector<Change> wanted) {
    return [wanted](const std::vector<Change> &got) {
        for (auto &c : wanted)
            if (!has(got, c.path, c.kind)) return false;
        return true;
    };
}

std::string dump(const std::vector<Change> &changes) {
    std::string s;
    for (auto &c : changes)
        s += (c.kind == Kind::Modified ? "M " : c.kind == Kind::Removed ? "R " : "O ") + c.path + "\n";
    return s;
}

TEST(LocalWatcher, FileCreateModifyRenameDelete) {
    TempDir dir;
    Watcher w(dir.path(), IgnoreRules());
    EXPECT_TRUE(w.read().empty());
    test::write_file(dir / "a", "1");
    auto c = read_until(w, has_all({{"a", Kind::Modified}}));
    ASSERT_TRUE(has(c, "a", Kind::Modified)) << dump(c);

    test::append_file(dir / "a", "2");
    c = read_until(w, has_all({{"a", Kind::Modified}}));
    EXPECT_TRUE(has(c, "a", Kind::Modified)) << dump(c);

    ::chmod((dir / "a").c_str(), 0600);
    c = read_until(w, has_all({{"a", Kind::Modified}}));
    EXPECT_TRUE(has(c, "a", Kind::Modified)) << dump(c);

    ASSERT_EQ(::rename((dir / "a").c_str(), (dir / "b").c_str()), 0);
    c = read_until(w, has_all({{"a", Kind::Removed}, {"b", Kind::Modified}}));
    EXPECT_EQ(c, (std::vector<Change>{{"a", Kind::Removed}, {"b", Kind::Modified}})) << dump(c);

    ASSERT_EQ(::symlink("b", (dir / "l").c_str()), 0);
    ::unlink((dir / "b").c_str());
    c = read_until(w, has_all({{"l", Kind::Modified}, {"b", Kind::Removed}}));
    EXPECT_EQ(c, (std::vector<Change>{{"l", Kind::Modified}, {"b", Kind::Removed}})) << dump(c);
}

TEST(LocalWatcher, NewDirectoryFilledImmediatelyIsComplete) {
    TempDir dir;
    Watcher w(dir.path(), IgnoreRules());
    std::vector<Change> wanted;
    std::string path;
    // Nested directories and files created as fast as possible, before the
    // watcher had any chance to watch the new directories.
    for (const char *d : {"n1", "n2", "n3", "n4"}) {
        path += (path.empty() ? "" : "/") + std::string(d);
        ASSERT_EQ(::mkdir((dir / path).c_str(), 0755), 0);
        wanted.push_back({path, Kind::Modified});
        for (int i = 0; i < 20; ++i) {
            std::string f = path + "/f" + std::to_string(i);
            test::write_file(dir / f, "x");
            wanted.push_back({f, Kind::Modified});
        }
    }
    auto c = read_until(w, has_all(wanted));
    EXPECT_TRUE(has_all(wanted)(c)) << dump(c);
    EXPECT_EQ(w.watch_count(), 5u);
    // The deepest new directory is watched.
    test::write_file(dir / "n1/n2/n3/n4/later", "y");
    c = read_until(w, has_all({{"n1/n2/n3/n4/later", Kind::Modified}}));
    EXPECT_TRUE(has(c, "n1/n2/n3/n4/later", Kind::Modified)) << dump(c);
}

TEST(LocalWatcher, DirectoryMovedInOutAndWithin) {
    TempDir dir, outside;
    test::make_dirs(outside / "m/sub");
    test::write_file(outside / "m/sub/f", "f");
    test::write_file(outside / "m/g", "g");
    Watcher w(dir.path(), IgnoreRules());

    ASSERT_EQ(::rename((outside / "m").c_str(), (dir / "m").c_str()), 0);
    std::vector<Change> in{{"m", Kind::Modified}, {"m/g", Kind::Modified}, {"m/sub", Kind::Modified},
                           {"m/sub/f", Kind::Modified}};
    auto c = read_until(w, has_all(in));
    EXPECT_TRUE(has_all(in)(c)) << dump(c);
    EXPECT_EQ(w.watch_count(), 3u);

    ASSERT_EQ(::rename((dir / "m").c_str(), (dir / "r").c_str()), 0);
    test::write_file(dir / "r/sub/f", "changed");
    c = read_until(w, has_all({{"m", Kind::Removed}, {"r/sub/f", Kind::Modified}}));
    EXPECT_TRUE(has(c, "m", Kind::Removed)) << dump(c);
    EXPECT_TRUE(has(c, "r/sub", Kind::Modified)) << dump(c);
    EXPECT_TRUE(has(c, "r/sub/f", Kind::Modified)) << dump(c);
    for (auto &ch : c) EXPECT_FALSE(ch.path.starts_with("m/") && ch.kind == Kind::Modified) << dump(c);

    ASSERT_EQ(::rename((dir / "r").c_str(), (outside / "gone").c_str()), 0);
    c = read_until(w, has_all({{"r", Kind::Removed}}));
    EXPECT_EQ(c, (std::vector<Change>{{"r", Kind::Removed}})) << dump(c);
    EXPECT_EQ(w.watch_count(), 1u);
    // Its old watches are gone: writing there is not reported.
    test::write_file(outside / "gone/sub/f", "elsewhere");
    c = read_settled(w);
    EXPECT_TRUE(c.empty()) << dump(c);
}

TEST(LocalWatcher, DeleteTreeAndRecreateKeepsOrder) {
    TempDir dir;
    test::make_dirs(dir / "d/e");
    test::write_file(dir / "d/e/x", "1");
    Watcher w(dir.path(), IgnoreRules());
    test::write_file(dir / "d/e/x", "2");
    test::remove_tree(dir / "d");
    test::make_dirs(dir / "d/e");
    test::write_file(dir / "d/e/x", "3");
    auto c = read_until(w, [](const std::vector<Change> &got) {
        // The last word about d/e/x must be Modified, after d was removed.
        size_t removed = got.size(), modified = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            if (got[i].path == "d" && got[i].kind == Kind::Removed) removed = i;
            if (got[i].path == "d/e/x" && got[i].kind == Kind::Modified) modified = i;
        }
        return removed < got.size() && modified > removed;
    });
    size_t removed_at = c.size(), modified_at = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        if (c[i] == Change{"d", Kind::Removed}) removed_at = i;
        if (c[i] == Change{"d/e/x", Kind::Modified}) modified_at = i;
    }
    ASSERT_LT(removed_at, c.size()) << dump(c);
    EXPECT_GT(modified_at, removed_at) << dump(c);
    EXPECT_EQ(w.watch_count(), 3u);
}

TEST(LocalWatcher, IgnoredDirectoriesAreNotWatched) {
    TempDir dir;
    for (int i = 0; i < 50; ++i) test::make_dirs(dir / ("node_modules/p" + std::to_string(i) + "/lib"));
    test::make_dirs(dir / "src");
    test::make_dirs(dir / ".git/objects");
    IgnoreOptions opts;
    opts.patterns = {"node_modules/", "*.tmp"};
    Watcher w(dir.path(), IgnoreRules::build(dir.path(), opts));
    EXPECT_EQ(w.watch_count(), 2u);  // the root and src
    test::write_file(dir / "node_modules/p1/lib/x.js", "x");
    test::write_file(dir / ".git/index", "x");
    test::write_file(dir / "src/a.tmp", "x");
    test::make_dirs(dir / "src/node_modules/q");
    test::write_file(dir / "src/ok", "x");
    auto c = read_until(w, has_all({{"src/ok", Kind::Modified}}));
    EXPECT_EQ(c, (std::vector<Change>{{"src/ok", Kind::Modified}})) << dump(c);
    EXPECT_EQ(w.watch_count(), 2u);
}

TEST(LocalWatcher, QueueOverflowAsksForARescanAndKeepsWatching) {
    std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
    long limit = 0;
    limit_file >> limit;
    if (limit <= 0 || limit > 200000) GTEST_SKIP() << "max_queued_events " << limit;
    TempDir dir;
    Watcher w(dir.path(), IgnoreRules());
    // Alternating writes are not merged by the kernel: one event each.
    int fds[2] = {::open((dir / "p").c_str(), O_WRONLY | O_CREAT, 0644),
                  ::open((dir / "q").c_str(), O_WRONLY | O_CREAT, 0644)};
    for (long i = 0; i < limit + 100; ++i) ASSERT_EQ(::write(fds[i % 2], "x", 1), 1);
    ::close(fds[0]);
    ::close(fds[1]);
    auto c = w.read();
    EXPECT_EQ(c, (std::vector<Change>{{"", Kind::Overflow}}));
    // Directories created after the overflow are still picked up.
    test::make_dirs(dir / "after");
    test::write_file(dir / "after/f", "f");
    c = read_until(w, has_all({{"after/f", Kind::Modified}}));
    EXPECT_TRUE(has(c, "after/f", Kind::Modified)) << dump(c);
}

TEST(LocalWatcher, RootRemovedAsksForARescan) {
    TempDir parent;
    test::make_dirs(parent / "root");
    Watcher w(parent / "root", IgnoreRules());
    ::rmdir((parent / "root").c_str());
    auto c = read_until(w, has_all({{"", Kind::Overflow}}));
    EXPECT_TRUE(has(c, "", Kind::Overflow)) << dump(c);
}

TEST(LocalWatcher, WatchLimitMessageNamesTheSysctl) {
    std::string m = platform::DirWatch::error_message(ENOSPC, "/src/app");
    EXPECT_NE(m.find("fs.inotify.max_user_watches"), std::string::npos) << m;
    EXPECT_NE(m.find("sysctl"), std::string::npos) << m;
    EXPECT_NE(m.find("/src/app"), std::string::npos) << m;
    EXPECT_EQ(m.find("No space left"), std::string::npos) << m;
}

int fail_with_enospc(int, const char *, uint32_t) {
    errno = ENOSPC;
    return -1;
}

TEST(LocalWatcher, WatchLimitIsAClearError) {
    TempDir dir;
    test::make_dirs(dir / "sub");
    struct Restore {
        ~Restore() { platform::set_add_watch_for_testing(nullptr); }
    } restore;
    platform::set_add_watch_for_testing(fail_with_enospc);
    try {
        Watcher w(dir.path(), IgnoreRules());
        FAIL() << "no exception";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EIO);
        EXPECT_NE(std::string(e.what()).find("fs.inotify.max_user_watches"), std::string::npos);
    }
    // The same when the limit is hit for a directory created later.
    platform::set_add_watch_for_testing(nullptr);
    Watcher w(dir.path(), IgnoreRules());
    platform::set_add_watch_for_testing(fail_with_enospc);
    test::make_dirs(dir / "new");
    struct pollfd p{w.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    EXPECT_THROW(w.read(), nh::Error);
}

// The watches and the scan in one walk: the scan is scan()'s, every directory scan() enters is
// watched (ignored ones are not), a change right after it is reported, and the watch limit is
// the same clear error.
TEST(LocalWatcher, ScanInTheSameWalkIsTheScanAndEveryDirectoryIsWatched) {
    TempDir dir;
    for (int i = 0; i < 40; ++i) {
        std::string sub = "d" + std::to_string(i % 4) + "/e" + std::to_string(i % 3);
        test::make_dirs(dir / sub);
        test::write_file(dir / (sub + "/f" + std::to_string(i)), "x");
    }
    test::make_dirs(dir / "vendor/lib");
    test::write_file(dir / "vendor/lib/v", "v");
    test::write_file(dir / "top", "t");
    ASSERT_EQ(::symlink("top", (dir / "link").c_str()), 0);
    IgnoreOptions opts;
    opts.patterns = {"vendor"};
    auto rules = IgnoreRules::build(dir.path(), opts);
    std::optional<std::vector<Entry>> scanned;
    Watcher w(dir.path(), rules, scanned);
    ASSERT_TRUE(scanned.has_value());
    EXPECT_EQ(*scanned, scan(dir.path(), rules));
    size_t dirs = 0;
    for (auto &e : *scanned) dirs += e.type == Entry::Type::Dir;
    EXPECT_EQ(dirs, 16u);
    EXPECT_EQ(w.watch_count(), dirs + 1);  // and the root
    test::write_file(dir / "d3/e2/late", "late");
    auto c = read_until(w, has_all({{"d3/e2/late", Kind::Modified}}));
    EXPECT_TRUE(has(c, "d3/e2/late", Kind::Modified)) << dump(c);

    struct Restore {
        ~Restore() { platform::set_add_watch_for_testing(nullptr); }
    } restore;
    platform::set_add_watch_for_testing(fail_with_enospc);
    try {
        Watcher limited(dir.path(), rules, scanned);
        FAIL() << "no exception";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EIO);
        EXPECT_NE(std::string(e.what()).find("fs.inotify.max_user_watches"), std::string::npos);
    }
}

// A wide and deep tree, walked on two threads where there are two CPUs (a walker hands a
// directory to the other whenever that one is idle): the scan is what a plain scan() finds,
// every directory is watched, whichever walker listed it, and a change in each one is
// reported.
TEST(LocalWatcher, WalkOverTwoThreadsWatchesEveryDirectory) {
    TempDir dir;
    std::vector<std::string> dirs;
    for (int i = 0; i < 12; ++i)
        for (int j = 0; j < 6; ++j)
            for (int k = 0; k < 3; ++k) {
                std::string sub = "a" + std::to_string(i) + "/b" + std::to_string(j) + "/c" + std::to_string(k);
                test::make_dirs(dir / sub);
                for (int f = 0; f < 4; ++f) test::write_file(dir / (sub + "/f" + std::to_string(f)), "x");
                dirs.push_back(sub);
            }
    IgnoreRules rules;
    std::optional<std::vector<Entry>> scanned;
    Watcher w(dir.path(), rules, scanned);
    ASSERT_TRUE(scanned.has_value());
    EXPECT_EQ(*scanned, scan(dir.path(), rules));
    EXPECT_EQ(scanned->size(), 12u + 12u * 6 + dirs.size() * 5);
    EXPECT_EQ(w.watch_count(), 1u + 12u + 12u * 6 + dirs.size());
    std::vector<Change> wanted;
    for (auto &d : dirs) {
        test::write_file(dir / (d + "/late"), "late");
        wanted.push_back({d + "/late", Kind::Modified});
    }
    auto c = read_until(w, has_all(wanted));
    for (auto &want : wanted) EXPECT_TRUE(has(c, want.path, Kind::Modified)) << want.path;
}

TEST(LocalWatcher, SetRulesDropsAndAddsWatches) {
    TempDir dir;
    test::make_dirs(dir / "keep");
    test::make_dirs(dir / "vendor/a/b");
    Watcher w(dir.path(), IgnoreRules());
    EXPECT_EQ(w.watch_count(), 5u);
    IgnoreOptions opts;
    opts.patterns = {"vendor"};
    w.set_rules(IgnoreRules::build(dir.path(), opts));
    EXPECT_EQ(w.watch_count(), 2u);
    w.set_rules(IgnoreRules());
    EXPECT_EQ(w.watch_count(), 5u);
    test::write_file(dir / "vendor/a/b/f", "f");
    auto c = read_until(w, has_all({{"vendor/a/b/f", Kind::Modified}}));
    EXPECT_TRUE(has(c, "vendor/a/b/f", Kind::Modified)) << dump(c);
}

}  // namespace
}  // namespace nh::sync::local
