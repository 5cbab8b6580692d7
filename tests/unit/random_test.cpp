// Random tokens: what sessions, sync tokens and server ids are made of. Also runs in the Windows
// cross-build (scripts/windows-check), where the bytes come from another system call.
#include "common/random.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

TEST(Random, HexOfTheAskedLength) {
    for (size_t n : {0u, 1u, 16u, 255u, 256u, 257u, 1000u}) {
        std::string s = nh::random_hex(n);
        EXPECT_EQ(s.size(), 2 * n);
        EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos) << s;
    }
}

TEST(Random, TokensDoNotRepeat) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(nh::random_hex(16)).second);
    // A long request is filled to its end, not only its first block: no run of zero bytes.
    std::string big = nh::random_hex(4096);
    EXPECT_EQ(big.find("0000000000000000"), std::string::npos);
}
