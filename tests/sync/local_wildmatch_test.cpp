// Git's wildmatch, on its own: it has no file system or platform calls, so this test also runs
// in the Windows cross-build (scripts/windows-check).
#include <gtest/gtest.h>

#include "sync/local/wildmatch.hpp"

namespace nh::sync::local {
namespace {

TEST(LocalWildmatch, GitSemantics) {
    struct Case {
        const char *pattern, *text;
        bool match;
    } cases[] = {
        {"foo", "foo", true},          {"foo", "bar", false},        {"*", "foo", true},
        {"*", "foo/bar", false},       {"f*", "foo", true},          {"*o", "foo", true},
        {"???", "foo", true},          {"??", "foo", false},         {"?", "/", false},
        {"*/bar", "foo/bar", true},    {"*/bar", "a/b/bar", false},  {"**/bar", "bar", true},
        {"**/bar", "a/b/bar", true},   {"a/**/b", "a/b", true},      {"a/**/b", "a/x/y/b", true},
        {"a/**", "a/x/y", true},       {"a/**", "a", false},         {"a**b", "axb", true},
        {"a**b", "a/b", false},        {"**", "a/b/c", true},        {"[abc]", "b", true},
        {"[!abc]", "b", false},        {"[^abc]", "d", true},        {"[a-c]", "b", true},
        {"[]]", "]", true},            {"[!]]", "a", true},          {"[[:digit:]]", "7", true},
        {"[[:alpha:]x]", "x", true},   {"[[:bogus:]]", "b", false},  {"\\*", "*", true},
        {"\\*", "a", false},           {"foo\\", "foo", false},      {"[a-]", "-", true},
        {"[/]", "/", false},           {"a[", "a[", false},          {"*.txt", "a.txt", true},
        {"x/*/z", "x/y/z", true},      {"x/*/z", "x/y/w/z", false},  {"**/", "a/", true},
    };
    for (const auto &c : cases)
        EXPECT_EQ(wildmatch(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
}

}  // namespace
}  // namespace nh::sync::local
