#include <sys/stat.h>

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "local_test_util.hpp"
#include "sync/local/tree.hpp"

namespace nh::sync::local {
namespace {

using test::TempDir;

TEST(LocalIgnore, GitignoreRules) {
    TempDir dir;
    test::make_dirs(dir / "sub/deeper");
    test::write_file(dir / ".gitignore",
                     "# comment\n*.log\n!keep.log\n/root-only\nbuild/\ndoc/**/*.pdf\n\\#hash\n"
                     "trailing   \nescaped\\ \nexcluded-dir/\n!excluded-dir/back.txt\n");
    test::write_file(dir / "sub/.gitignore", "!*.log\nlocal\n/anchored\n");
    IgnoreOptions opts;
    opts.use_gitignore = true;
    auto r = IgnoreRules::build(dir.path(), opts);
    EXPECT_TRUE(r.ignored("a.log", false));
    EXPECT_FALSE(r.ignored("keep.log", false));
    EXPECT_FALSE(r.ignored("sub/a.log", false)) << "deeper .gitignore re-includes";
    EXPECT_TRUE(r.ignored("root-only", false));
    EXPECT_FALSE(r.ignored("sub/root-only", false));
    EXPECT_TRUE(r.ignored("build", true));
    EXPECT_FALSE(r.ignored("build", false)) << "dir-only pattern, file";
    EXPECT_TRUE(r.ignored("sub/build/x.c", false)) << "inside an ignored dir";
    EXPECT_TRUE(r.ignored("doc/a/b/x.pdf", false));
    EXPECT_TRUE(r.ignored("doc/x.pdf", false));
    EXPECT_FALSE(r.ignored("x.pdf", false));
    EXPECT_TRUE(r.ignored("#hash", false));
    EXPECT_TRUE(r.ignored("trailing", false));
    EXPECT_TRUE(r.ignored("escaped ", false));
    EXPECT_FALSE(r.ignored("escaped", false));
    EXPECT_TRUE(r.ignored("excluded-dir/back.txt", false)) << "cannot re-include under an excluded dir";
    EXPECT_TRUE(r.ignored("sub/local", false));
    EXPECT_FALSE(r.ignored("local", false));
    EXPECT_TRUE(r.ignored("sub/anchored", false));
    EXPECT_FALSE(r.ignored("sub/deeper/anchored", false));
    EXPECT_TRUE(r.ignored(".git", true));
    EXPECT_TRUE(r.ignored(".git/config", false));
    EXPECT_TRUE(r.is_rule_file("sub/.gitignore"));
    EXPECT_FALSE(r.is_rule_file("sub/gitignore"));
}

TEST(LocalIgnore, InfoExcludeHasLowestPrecedence) {
    TempDir dir;
    test::make_dirs(dir / ".git/info");
    test::write_file(dir / ".git/info/exclude", "*.tmp\nsecret\n");
    test::write_file(dir / ".gitignore", "!keep.tmp\n");
    IgnoreOptions opts;
    opts.use_gitignore = true;
    auto r = IgnoreRules::build(dir.path(), opts);
    EXPECT_TRUE(r.ignored("a.tmp", false));
    EXPECT_FALSE(r.ignored("keep.tmp", false));
    EXPECT_TRUE(r.ignored("x/secret", false));
    opts.use_gitignore = false;
    EXPECT_FALSE(IgnoreRules::build(dir.path(), opts).ignored("a.tmp", false));
}

// Nocalhost's semantics (the .nhignore it generates for syncthing):
// ignoreFilePattern first (wins), then each filePattern as "!pattern", then
// "**"; an empty filePattern means everything; "." means everything and
// "./x" means the root-relative "/x".
TEST(LocalIgnore, NocalhostFilePatterns) {
    TempDir dir;
    IgnoreOptions opts;
    opts.patterns = {"./build", "*.log", "node_modules"};
    opts.include_patterns = {"./src", "*.go", "docs/"};
    auto r = IgnoreRules::build(dir.path(), opts);
    EXPECT_FALSE(r.ignored("src/a/b.py", false));
    EXPECT_FALSE(r.ignored("x/y/main.go", false));
    EXPECT_FALSE(r.ignored("docs/readme.md", false));
    EXPECT_TRUE(r.ignored("x/readme.md", false));
    EXPECT_TRUE(r.ignored("sub/src/a.py", false)) << "./src is anchored";
    EXPECT_FALSE(r.ignored("x", true)) << "directories are kept: they may hold included files";
    EXPECT_TRUE(r.ignored("src/debug.log", false)) << "ignore wins over include";
    EXPECT_TRUE(r.ignored("src/node_modules/m.go", false));
    EXPECT_TRUE(r.ignored("build", true));
    EXPECT_FALSE(r.ignored("a/build", true));

    opts = {};
    opts.include_patterns = {"."};
    EXPECT_FALSE(IgnoreRules::build(dir.path(), opts).ignored("any/thing", false));
    opts = {};
    opts.patterns = {"."};
    EXPECT_TRUE(IgnoreRules::build(dir.path(), opts).ignored("any", false));
}

// The oracle: git check-ignore on random trees with random .gitignore files.
class GitOracle : public ::testing::TestWithParam<int> {};

TEST_P(GitOracle, MatchesGitCheckIgnore) {
    std::mt19937 rng(static_cast<unsigned>(GetParam()));
    auto pick = [&](const auto &v) { return v[rng() % std::size(v)]; };
    static const std::string names[] = {"a", "b", "c", "ab", "d", "x.log", "y.txt", "c1", "#x",
                                        "!n", "foo ", "a b", "[ab]", "e.o", "build", "A", "\\z"};
    static const std::string patterns[] = {
        "*.log", "a", "/a", "a/", "b/**", "**/c", "a/**/c", "!*.txt", "!a", "c?", "[ab]", "[!a]*",
        "\\#x", "*", "!b/", "foo\\ ", "foo ", "d/e", "**", "a*/", "!/c", "\\!n", "!**/d", "build/",
        "!build/y.txt", "*/x.log", "**/b/*", "\\[ab]", "[a-c]1", "!c1", "e.*", "/*/", "!*/",
        "a b", "?", "**/", "A", "!*.log", "[[:upper:]]", "\\\\z", "ab/**/", "# c", "  ", "b/a/"};
    TempDir dir;
    std::vector<std::pair<std::string, bool>> all;  // path, is_dir
    std::vector<std::string> dirs{""};
    for (int i = 0; i < 40; ++i) {
        std::string parent = pick(dirs);
        if (std::count(parent.begin(), parent.end(), '/') >= 3) continue;
        std::string path = parent.empty() ? pick(names) : parent + "/" + pick(names);
        struct stat st;
        if (::lstat((dir / path).c_str(), &st) == 0) continue;
        bool is_dir = rng() % 3 != 0;
        if (is_dir) {
            ::mkdir((dir / path).c_str(), 0755);
            dirs.push_back(path);
        } else {
            test::write_file(dir / path, "x");
        }
        all.emplace_back(path, is_dir);
    }
    std::string rules_text;
    for (const auto &d : dirs) {
        if (rng() % 2) continue;
        std::string text;
        for (int n = 1 + rng() % 5; n > 0; --n) text += pick(patterns) + "\n";
        test::write_file(dir / (d.empty() ? ".gitignore" : d + "/.gitignore"), text);
        all.emplace_back(d.empty() ? ".gitignore" : d + "/.gitignore", false);
        rules_text += "--- " + (d.empty() ? "." : d) + "/.gitignore\n" + text;
    }
    std::string env = "cd " + test::shell_quote(dir.path()) +
                      " && HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null ";
    test::run(env + "git init -q . && " + env + "git config core.excludesFile /dev/null");
    test::make_dirs(dir / ".git/info");
    std::string exclude_line = pick(patterns);
    test::write_file(dir / ".git/info/exclude", exclude_line + "\n");
    rules_text += "--- .git/info/exclude\n" + exclude_line + "\n";

    std::string input;
    for (auto &[p, d] : all) input += p + '\0';
    test::write_file(dir / ".git/nh-paths", input);
    auto git_ignored_list = test::split_nul(
        test::run(env + "git check-ignore --no-index -z --stdin < .git/nh-paths", 1));
    std::set<std::string> git_ignored(git_ignored_list.begin(), git_ignored_list.end());

    IgnoreOptions opts;
    opts.use_gitignore = true;
    auto rules = IgnoreRules::build(dir.path(), opts);
    for (auto &[p, is_dir] : all) {
        EXPECT_EQ(rules.ignored(p, is_dir), git_ignored.count(p) == 1)
            << "path '" << p << "'" << (is_dir ? " (dir)" : "") << "\n" << rules_text;
    }

    // And the scan agrees with git's list of untracked, not ignored files.
    auto git_files = test::split_nul(test::run(env + "git ls-files -z -o --exclude-standard"));
    std::set<std::string> expected(git_files.begin(), git_files.end());
    std::set<std::string> scanned;
    for (auto &e : scan(dir.path(), rules))
        if (e.type != Entry::Type::Dir) scanned.insert(e.path);
    EXPECT_EQ(scanned, expected) << rules_text;
}

INSTANTIATE_TEST_SUITE_P(RandomTrees, GitOracle, ::testing::Range(1, 61));

}  // namespace
}  // namespace nh::sync::local
