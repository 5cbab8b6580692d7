// The .xz codec of application records: what it writes the xz tool reads, what the xz tool
// writes it reads, and what is not a whole stream within the limit is refused.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "app/xz.hpp"
#include "common/random.hpp"
#include "test_support.hpp"

namespace {

// Runs `cmd` on `input` (a file) and returns its stdout, or "<exit N>".
std::string tool(const std::string &cmd, const std::string &input) {
    nh::test::TempDir d;
    const std::string in = d.path() + "/in", out = d.path() + "/out";
    nh::test::write_file(in, input);
    int st = std::system((cmd + " < '" + in + "' > '" + out + "'").c_str());
    if (st != 0) return "<exit " + std::to_string(st) + ">";
    std::ifstream f(out, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string sample() {
    std::string s;
    for (int i = 0; i < 2000; i++) s += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-" + std::to_string(i) + "}\n";
    return s + nh::random_hex(4096);
}

}  // namespace

TEST(Xz, WhatItWritesTheXzToolReadsAndTheOtherWayRound) {
    const std::string text = sample();
    const std::string packed = nh::app::xz_compress(text);
    EXPECT_LT(packed.size(), text.size() / 4);
    EXPECT_TRUE(tool("xz -dc", packed) == text) << "the xz tool does not read it back";
    for (const char *preset : {"-0", "-6", "-9e"})
        EXPECT_TRUE(nh::app::xz_decompress(tool(std::string("xz -zc ") + preset, text), 1 << 20) == text) << "xz " << preset;
    EXPECT_EQ(nh::app::xz_decompress(nh::app::xz_compress(""), 16).value_or("<none>"), "");
    EXPECT_EQ(nh::app::xz_decompress("", 16).value_or("<none>"), "");
}

TEST(Xz, RefusesWhatIsNotOneWholeStreamWithinTheLimit) {
    const std::string text = sample();
    const std::string packed = nh::app::xz_compress(text);
    EXPECT_FALSE(nh::app::xz_decompress(packed.substr(0, packed.size() - 1), 1 << 20)) << "truncated";
    EXPECT_FALSE(nh::app::xz_decompress(packed + "junk", 1 << 20)) << "trailing bytes";
    std::string flipped = packed;
    flipped[flipped.size() / 2] ^= 0x55;
    EXPECT_FALSE(nh::app::xz_decompress(flipped, 1 << 20)) << "corrupt";
    EXPECT_FALSE(nh::app::xz_decompress("not xz at all", 1 << 20));
    EXPECT_FALSE(nh::app::xz_decompress(packed, text.size() - 1)) << "one byte over the limit";
    EXPECT_TRUE(nh::app::xz_decompress(packed, text.size()));
    // A bomb: 64 MiB of zeros in a few KiB, refused at a 1 MiB limit without holding it all.
    const std::string bomb = tool("(head -c 67108864 /dev/zero | xz -zc)", "");
    ASSERT_LT(bomb.size(), 64u * 1024);
    EXPECT_FALSE(nh::app::xz_decompress(bomb, 1 << 20));
}
