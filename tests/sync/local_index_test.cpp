#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "local_test_util.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {
namespace {

using test::TempDir;

std::string slurp(const std::string &file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

Index sample_index() {
    Index index;
    Entry dir{"d", Entry::Type::Dir, 0, 1'700'000'000'000'000'001, 0755, {}, 42};
    Entry file{"d/f \xff\n", Entry::Type::File, 123456789012ull, -5, 0644, {}, 43};
    Entry link{"l", Entry::Type::Symlink, 7, 9, 0777, "../t\0x", 44};
    index.put(dir);
    index.put(file, "acked:v1");
    index.put(link, std::string("\0\1\2", 3));
    return index;
}

TEST(LocalIndex, RoundTrip) {
    TempDir dir;
    Index index = sample_index();
    index.save(dir / "index");
    Index loaded = Index::load(dir / "index");
    ASSERT_EQ(loaded.size(), 3u);
    for (const auto &[path, rec] : index.records()) {
        const auto *got = loaded.find(path);
        ASSERT_NE(got, nullptr) << path;
        EXPECT_EQ(got->entry, rec.entry);
        EXPECT_EQ(got->synced_state, rec.synced_state);
    }
    EXPECT_GT(loaded.saved_at_ns(), 0);
    EXPECT_EQ(::access((dir / "index.tmp").c_str(), F_OK), -1) << "temp file left behind";
}

TEST(LocalIndex, MissingFileIsEmpty) {
    TempDir dir;
    EXPECT_TRUE(Index::load(dir / "nope").empty());
}

TEST(LocalIndex, CorruptFilesGiveAnEmptyIndex) {
    TempDir dir;
    sample_index().save(dir / "good");
    std::string good = slurp(dir / "good");
    // Every truncation and every single flipped byte.
    for (size_t len = 0; len < good.size(); ++len) {
        test::write_file(dir / "bad", good.substr(0, len));
        EXPECT_TRUE(Index::load(dir / "bad").empty()) << "truncated to " << len;
    }
    for (size_t i = 0; i < good.size(); ++i) {
        std::string bad = good;
        bad[i] = static_cast<char>(bad[i] ^ 0x20);
        test::write_file(dir / "bad", bad);
        EXPECT_TRUE(Index::load(dir / "bad").empty()) << "byte " << i << " flipped";
    }
    test::write_file(dir / "bad", good + "x");
    EXPECT_TRUE(Index::load(dir / "bad").empty());
    test::write_file(dir / "bad", std::string(4096, '\xff'));
    EXPECT_TRUE(Index::load(dir / "bad").empty());
    test::make_dirs(dir / "a-directory");
    EXPECT_TRUE(Index::load(dir / "a-directory").empty());
}

TEST(LocalIndex, SaveFailsWithIoError) {
    try {
        sample_index().save("/nonexistent-dir/index");
        FAIL() << "no exception";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EIO);
    }
}

TEST(LocalIndex, PutKeepsStateEraseTree) {
    Index index = sample_index();
    Entry f = index.find("d/f \xff\n")->entry;
    f.size = 1;
    index.put(f);
    EXPECT_EQ(index.find(f.path)->synced_state, "acked:v1");
    EXPECT_EQ(index.find(f.path)->entry.size, 1u);
    EXPECT_TRUE(index.set_synced_state("l", "x"));
    EXPECT_FALSE(index.set_synced_state("nope", "x"));
    index.put(Entry{"d0", Entry::Type::File, 0, 0, 0644, {}, 1});
    index.put(Entry{"d b", Entry::Type::File, 0, 0, 0644, {}, 1});
    EXPECT_EQ(index.erase_tree("d"), 2u);
    EXPECT_NE(index.find("d0"), nullptr);
    EXPECT_NE(index.find("d b"), nullptr);
    EXPECT_NE(index.find("l"), nullptr);
}

// A warm restart: scan, save, "restart", rescan, compare by metadata only.
TEST(LocalIndex, WarmRestartFindsExactlyTheChanges) {
    TempDir dir, state;
    std::string gen = test::gen_tree_script();
    if (!gen.empty()) {
        test::run("python3 " + test::shell_quote(gen) + " " + test::shell_quote(dir.path()) +
                  " --files 500 --seed 5 >/dev/null");
    }
    test::make_dirs(dir / "w");
    test::write_file(dir / "w/edit", "0123456789");
    test::write_file(dir / "w/chmod", "c");
    test::write_file(dir / "w/delete", "d");
    test::write_file(dir / "w/replace", "r");
    ASSERT_EQ(::symlink("a", (dir / "w/link").c_str()), 0);
    // Old timestamps, so no entry is "racily clean".
    test::run("find " + test::shell_quote(dir.path()) + " -exec touch -h -d 2020-01-01 {} +");

    Index index;
    for (auto &e : scan(dir.path(), IgnoreRules())) index.put(e, "synced");
    index.save(state / "index");

    Index loaded = Index::load(state / "index");
    auto unchanged = loaded.compare(scan(dir.path(), IgnoreRules()));
    EXPECT_TRUE(unchanged.changed.empty()) << unchanged.changed.front().path;
    EXPECT_TRUE(unchanged.removed.empty());

    // Same size, same second-resolution time, different content: only the
    // nanoseconds and ctime differ; also chmod, delete, create, a replaced
    // file (new inode) and a retargeted link of the same length.
    test::write_file(dir / "w/edit", "abcdefghij");
    test::set_mtime(dir / "w/edit", 1577836800);  // 2020-01-01, the same as before
    ::chmod((dir / "w/chmod").c_str(), 0600);
    ::unlink((dir / "w/delete").c_str());
    test::write_file(dir / "w/new", "n");
    test::write_file(dir / "w/replace.tmp", "R");
    ::rename((dir / "w/replace.tmp").c_str(), (dir / "w/replace").c_str());
    test::set_mtime(dir / "w/replace", 1577836800);
    ::unlink((dir / "w/link").c_str());
    ASSERT_EQ(::symlink("b", (dir / "w/link").c_str()), 0);
    test::set_mtime(dir / "w/link", 1577836800);
    test::set_mtime(dir / "w", 1577836800);

    auto diff = loaded.compare(scan(dir.path(), IgnoreRules()));
    std::vector<std::string> changed;
    for (auto &e : diff.changed) changed.push_back(e.path);
    // w/edit: same size and mtime; ctime is not part of Entry, so this one
    // is invisible to metadata, as it is to rsync's quick check.
    EXPECT_EQ(changed, (std::vector<std::string>{"w/chmod", "w/link", "w/new", "w/replace"}));
    EXPECT_EQ(diff.removed, (std::vector<std::string>{"w/delete"}));
}

TEST(LocalIndex, RecentlyModifiedFilesAreDistrusted) {
    TempDir dir;
    test::write_file(dir / "fresh", "1");
    Index index;
    for (auto &e : scan(dir.path(), IgnoreRules())) index.put(e);
    index.save(dir / ".nocalhost-sync-index");
    Index loaded = Index::load(dir / ".nocalhost-sync-index");
    auto diff = loaded.compare(scan(dir.path(), IgnoreRules()));
    ASSERT_EQ(diff.changed.size(), 1u);
    EXPECT_EQ(diff.changed[0].path, "fresh");
}

// 64-bit nanoseconds end in 1677 and 2262; a file time outside is clamped, never wrapped around
// (2300 became 1715, which ext4 then stored as 1901, and the file went from newest to oldest).
TEST(LocalIndex, FileTimesPastWhatNanosecondsHoldAreClampedNotWrapped) {
    EXPECT_EQ(time_ns({1, 5}), 1'000'000'005);
    EXPECT_EQ(time_ns({-1, 999'999'999}), -1);
    EXPECT_EQ(time_ns({9'223'372'036, 854'775'807}), INT64_MAX);
    EXPECT_EQ(time_ns({9'223'372'036, 854'775'808}), INT64_MAX);
    EXPECT_EQ(time_ns({10'413'792'000, 0}), INT64_MAX);  // 2300-01-01
    EXPECT_EQ(time_ns({-9'223'372'037, 0}), INT64_MIN);
    EXPECT_EQ(time_ns({-10'000'000'000, 0}), INT64_MIN);  // 1653
}

// A file dated ahead of now (a clock that was wrong, an archive, touch -d) cannot have been
// rewritten in the tick its index entry records: a warm restart trusts it, and does not send it
// again at every start. One dated now still is distrusted.
TEST(LocalIndex, FilesDatedAheadOfNowAreTrustedEvenPast2262) {
    TempDir dir;
    test::write_file(dir / "fresh", "1");
    test::write_file(dir / "tomorrow", "2");
    test::write_file(dir / "year2300", "3");
    test::set_mtime(dir / "tomorrow", static_cast<long>(::time(nullptr)) + 86400);
    test::set_mtime(dir / "year2300", 10'413'792'000L);
    struct stat st {};
    ASSERT_EQ(::stat((dir / "year2300").c_str(), &st), 0);
    // What the filesystem kept (ext4 holds 2300; one that cannot clamps it itself), as
    // nanoseconds clamped to what they hold.
    bool beyond = st.st_mtim.tv_sec > 9'223'372'036L ||
                  (st.st_mtim.tv_sec == 9'223'372'036L && st.st_mtim.tv_nsec > 854'775'807L);
    int64_t want = beyond ? INT64_MAX : int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    auto scanned = scan(dir.path(), IgnoreRules());
    Index index;
    for (auto &e : scanned) {
        if (e.path == "year2300") {
            EXPECT_EQ(e.mtime_ns, want);
        }
        index.put(e);
    }
    index.save(dir / ".nocalhost-sync-index");
    Index loaded = Index::load(dir / ".nocalhost-sync-index");
    auto diff = loaded.compare(scan(dir.path(), IgnoreRules()));
    std::vector<std::string> changed;
    for (auto &e : diff.changed) changed.push_back(e.path);
    EXPECT_EQ(changed, std::vector<std::string>{"fresh"});
}

}  // namespace
}  // namespace nh::sync::local
