#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "local_test_util.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {
namespace {

using test::TempDir;

struct FindRecord {
    char type;
    uint64_t size;
    uint32_t mode;
};

// The oracle: GNU find's view of the tree (lstat, no symlinks followed).
std::map<std::string, FindRecord> find_tree(const std::string &root) {
    std::string out = test::run("find " + test::shell_quote(root) +
                                " -mindepth 1 \\( -type f -o -type d -o -type l \\) "
                                "-printf '%P\\t%y\\t%s\\t%m\\0'");
    std::map<std::string, FindRecord> records;
    for (const auto &line : test::split_nul(out)) {
        std::istringstream in(line);
        std::string path, type, size, mode;
        std::getline(in, path, '\t');
        std::getline(in, type, '\t');
        std::getline(in, size, '\t');
        std::getline(in, mode, '\t');
        records[path] = {type[0], std::stoull(size), static_cast<uint32_t>(std::stoul(mode, nullptr, 8))};
    }
    return records;
}

void expect_matches_find(const std::string &root, const std::vector<Entry> &entries) {
    auto expected = find_tree(root);
    ASSERT_EQ(entries.size(), expected.size());
    for (const auto &e : entries) {
        auto it = expected.find(e.path);
        ASSERT_NE(it, expected.end()) << e.path;
        char type = e.type == Entry::Type::File ? 'f' : e.type == Entry::Type::Dir ? 'd' : 'l';
        EXPECT_EQ(type, it->second.type) << e.path;
        if (e.type != Entry::Type::Dir) {
            EXPECT_EQ(e.size, it->second.size) << e.path;
        }
        EXPECT_EQ(e.mode, it->second.mode) << e.path;
    }
}

TEST(LocalScan, GeneratedTreeMatchesFind) {
    std::string gen = test::gen_tree_script();
    if (gen.empty()) GTEST_SKIP() << "gen_tree.py not found (set NH_GEN_TREE)";
    TempDir dir;
    test::run("python3 " + test::shell_quote(gen) + " " + test::shell_quote(dir.path()) +
              " --files 3000 --seed 4 >/dev/null");
    auto entries = scan(dir.path(), IgnoreRules());
    expect_matches_find(dir.path(), entries);
    EXPECT_TRUE(std::is_sorted(entries.begin(), entries.end(),
                               [](const Entry &a, const Entry &b) { return a.path < b.path; }));
    size_t links = 0, empty_dirs = 0, exec = 0, unicode = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        const Entry &e = entries[i];
        if (e.type == Entry::Type::Symlink) {
            ++links;
            EXPECT_TRUE(e.link_target.starts_with("f")) << e.link_target;
            EXPECT_EQ(e.size, e.link_target.size());
        }
        if (e.type == Entry::Type::Dir &&
            (i + 1 == entries.size() || !entries[i + 1].path.starts_with(e.path + "/")))
            ++empty_dirs;
        if (e.type == Entry::Type::File && (e.mode & 0100)) ++exec;
        if (e.path.find("\xc3\xbc") != std::string::npos) ++unicode;
    }
    EXPECT_GT(links, 0u);
    EXPECT_GE(empty_dirs, 10u);
    EXPECT_GT(exec, 0u);
    EXPECT_GT(unicode, 0u);
}

TEST(LocalScan, StrangeNamesAndLinksAreNotFollowed) {
    TempDir dir, outside;
    test::write_file(outside / "secret", "s");
    test::make_dirs(outside / "d/e");
    const std::string names[] = {
        "with space", " leading", "trailing ", "new\nline", "back\\slash", "-dash", "\xff\xfe-not-utf8",
        "ünïcødé", "#hash", "!bang", "[br]acket", "*star", std::string(255, 'L')};
    for (const auto &n : names) test::write_file(dir / n, n);
    // A deep path longer than PATH_MAX in total.
    std::string deep;
    for (int i = 0; i < 24; ++i) deep += (deep.empty() ? "" : "/") + std::string(200, char('a' + i % 26));
    ASSERT_EQ(::mkdir(dir.path().c_str(), 0755) == 0 || errno == EEXIST, true);
    {
        // mkdir/create relative to a chdir'ed cwd to get past PATH_MAX.
        std::string cwd = std::filesystem::current_path().string();
        ASSERT_EQ(::chdir(dir.path().c_str()), 0);
        for (size_t pos = 0; pos != std::string::npos;) {
            size_t slash = deep.find('/', pos);
            std::string part = deep.substr(pos, slash == std::string::npos ? slash : slash - pos);
            ASSERT_EQ(::mkdir(part.c_str(), 0755), 0);
            ASSERT_EQ(::chdir(part.c_str()), 0);
            pos = slash == std::string::npos ? slash : slash + 1;
        }
        test::write_file("leaf", "x");
        ASSERT_EQ(::chdir(cwd.c_str()), 0);
    }
    ASSERT_EQ(::symlink((outside.path() + "/d").c_str(), (dir / "to-outside-dir").c_str()), 0);
    ASSERT_EQ(::symlink("nowhere", (dir / "dangling").c_str()), 0);
    ASSERT_EQ(::symlink("loop", (dir / "loop").c_str()), 0);
    ASSERT_EQ(::symlink(".", (dir / "self").c_str()), 0);
    ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
    test::make_dirs(dir / "empty/nested-empty");

    auto entries = scan(dir.path(), IgnoreRules());
    std::map<std::string, Entry> by_path;
    for (auto &e : entries) by_path[e.path] = e;
    for (const auto &n : names) {
        ASSERT_TRUE(by_path.count(n)) << n;
        EXPECT_EQ(by_path[n].size, n.size());
    }
    EXPECT_EQ(by_path["to-outside-dir"].type, Entry::Type::Symlink);
    EXPECT_EQ(by_path["to-outside-dir"].link_target, outside.path() + "/d");
    EXPECT_FALSE(by_path.count("to-outside-dir/e"));
    EXPECT_EQ(by_path["dangling"].link_target, "nowhere");
    EXPECT_EQ(by_path["loop"].type, Entry::Type::Symlink);
    EXPECT_EQ(by_path["self"].link_target, ".");
    EXPECT_FALSE(by_path.count("fifo"));
    EXPECT_EQ(by_path["empty/nested-empty"].type, Entry::Type::Dir);
    ASSERT_TRUE(by_path.count(deep + "/leaf"));
    EXPECT_EQ(by_path[deep + "/leaf"].size, 1u);
    EXPECT_GT(deep.size(), 4096u);
}

TEST(LocalScan, IgnoredDirectoriesAreNotEntered) {
    TempDir dir;
    test::make_dirs(dir / "node_modules/pkg");
    test::write_file(dir / "node_modules/pkg/index.js", "x");
    test::make_dirs(dir / ".git/objects");
    test::write_file(dir / ".git/HEAD", "ref");
    test::make_dirs(dir / ".nocalhost-sync");
    test::write_file(dir / ".nocalhost-sync/index", "i");
    test::write_file(dir / ".nocalhost-sync.tmp.123", "t");
    test::make_dirs(dir / "src/.git");  // a submodule's
    test::write_file(dir / "src/main.go", "package main");
    test::write_file(dir / "src/debug.log", "log");
    IgnoreOptions opts;
    opts.patterns = {"node_modules", "*.log"};
    auto rules = IgnoreRules::build(dir.path(), opts);
    std::vector<std::string> paths;
    for (auto &e : scan(dir.path(), rules)) paths.push_back(e.path);
    EXPECT_EQ(paths, (std::vector<std::string>{"src", "src/main.go"}));
}

TEST(LocalScan, UnreadableRootIsAnIoError) {
    try {
        scan("/nonexistent/nh-sync-root", IgnoreRules());
        FAIL() << "no exception";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EIO);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/nh-sync-root"), std::string::npos);
    }
}

}  // namespace
}  // namespace nh::sync::local
