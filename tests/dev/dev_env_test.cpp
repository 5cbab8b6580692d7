// The pure parts of `nh dev env`: the kubelet's $(VAR) expansion, quantities, and the dotenv
// form. The resolution against a real kubelet is tests/realpods/env_real_test.cpp.
#include <gtest/gtest.h>

#include <map>

#include "dev/env.hpp"

using nh::dev::expand_env;
using nh::dev::json;

namespace {

std::string expand(const std::string &in) {
    static const std::map<std::string, std::string> vars = {{"VAR_A", "A"}, {"VAR_B", "B"}, {"VAR_C", "C"},
                                                            {"VAR_REF", "$(VAR_A)"}, {"VAR_EMPTY", ""}};
    return expand_env(in, [](const std::string &n) -> std::optional<std::string> {
        auto it = vars.find(n);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    });
}

}  // namespace

TEST(DevEnv, ExpansionFollowsTheKubeletsRules) {
    EXPECT_EQ(expand("$(VAR_A)"), "A");
    EXPECT_EQ(expand("___$(VAR_B)___"), "___B___");
    EXPECT_EQ(expand("$(VAR_A)-$(VAR_B)-$(VAR_C)"), "A-B-C");
    EXPECT_EQ(expand("$(VAR_A)$(VAR_B)"), "AB");
    EXPECT_EQ(expand("$(VAR_REF)"), "$(VAR_A)");  // one pass: values are not expanded again
    EXPECT_EQ(expand("$(VAR_EMPTY)x"), "x");
    EXPECT_EQ(expand("$(UNKNOWN)"), "$(UNKNOWN)");
    EXPECT_EQ(expand("$$(VAR_A)"), "$(VAR_A)");  // $$ escapes
    EXPECT_EQ(expand("$$$(VAR_A)"), "$A");
    EXPECT_EQ(expand("$$$$(VAR_A)"), "$$(VAR_A)");
    EXPECT_EQ(expand("$VAR_A"), "$VAR_A");  // a $ not followed by ( or $ stays
    EXPECT_EQ(expand("foo$"), "foo$");      // a trailing $ stays
    EXPECT_EQ(expand("$(VAR_A"), "$(VAR_A");  // no closing parenthesis
    EXPECT_EQ(expand("$()"), "$()");
    EXPECT_EQ(expand("$(VAR_A)$"), "A$");
    EXPECT_EQ(expand("(VAR_A)"), "(VAR_A)");
    EXPECT_EQ(expand("$((VAR_A))"), "$((VAR_A))");  // the name "(VAR_A" is unknown
}

TEST(DevEnv, QuantitiesAsTheApiWritesThem) {
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("500m")), 0.5);
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("2")), 2);
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("1.5")), 1.5);
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("64Mi")), 67108864);
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("1G")), 1e9);
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("129e6")), 129e6);
    EXPECT_DOUBLE_EQ(static_cast<double>(*nh::dev::parse_quantity("1E3")), 1000);
    EXPECT_FALSE(nh::dev::parse_quantity("abc"));
    EXPECT_FALSE(nh::dev::parse_quantity("1Xi"));
    EXPECT_FALSE(nh::dev::parse_quantity(""));
    EXPECT_FALSE(nh::dev::parse_quantity("."));
}

TEST(DevEnv, DotenvQuotesEveryValueAndNamesWhatIsLeftOut) {
    json resolved = {{"notes", {"a note"}},
                     {"env",
                      {{{"name", "PLAIN"}, {"value", "a b $x \"q\""}},
                       {{"name", "EMPTY"}, {"value", ""}},
                       {{"name", "QUOTE"}, {"value", "it's\nline2\t\\"}},
                       {{"name", "PW"}, {"withheld", "from secret \"s\" key \"k\""}},
                       {{"name", "IP"}, {"unresolved", "needs a pod"}}}}};
    EXPECT_EQ(nh::dev::env_dotenv(resolved),
              "# a note\n"
              "PLAIN='a b $x \"q\"'\n"
              "EMPTY=''\n"
              "QUOTE=\"it's\\nline2\\t\\\\\"\n"
              "# PW left out (withheld): from secret \"s\" key \"k\"\n"
              "# IP left out (unresolved): needs a pod\n");
}
