// The dev config's loop settings as the session record keeps them (dev/settings.hpp) and how
// the loop lets them fill the caller's sync options (loop::apply_config).
#include <gtest/gtest.h>

#include "dev/settings.hpp"
#include "loop/loop.hpp"

using nlohmann::json;

namespace {

// A record's config exactly as apply_nocalhost_config() has written it into session Secrets.
const json kRecorded = json::parse(R"({
  "shell": "bash",
  "portForward": ["8080:80", "9229"],
  "sync": {"type": "sendReceive", "mode": "pattern", "filePattern": ["./src", "lib"],
           "ignoreFilePattern": ["./build", ".git", ""], "deleteProtection": false}
})");

}  // namespace

TEST(LoopSettings, ReadFromTheRecordAsWritten) {
    auto s = nh::dev::loop_settings(kRecorded);
    ASSERT_TRUE(s.sync);
    EXPECT_TRUE(s.sync->two_way);
    EXPECT_FALSE(s.sync->gitignore);
    EXPECT_EQ(s.sync->ignore, (std::vector<std::string>{"/build", ".git"}));
    EXPECT_EQ(s.sync->include, (std::vector<std::string>{"/src", "lib"}));
    EXPECT_FALSE(s.sync->delete_protection);
    EXPECT_EQ(s.port_forwards, (std::vector<std::string>{"8080:80", "9229"}));
}

TEST(LoopSettings, DefaultsOfNocalhost) {
    auto s = nh::dev::loop_settings(json::parse(R"({"sync": {"filePattern": ["."]}, "portForward": [3000]})"));
    ASSERT_TRUE(s.sync);
    EXPECT_FALSE(s.sync->two_way);
    EXPECT_TRUE(s.sync->include.empty()) << "\".\" is the whole tree";
    EXPECT_TRUE(s.sync->delete_protection) << "on unless the config turns it off";
    EXPECT_EQ(s.port_forwards, (std::vector<std::string>{"3000"}));
    auto git = nh::dev::loop_settings(json::parse(R"({"sync": {"mode": "gitIgnore", "filePattern": ["src"]}})"));
    ASSERT_TRUE(git.sync);
    EXPECT_TRUE(git.sync->gitignore);
    EXPECT_TRUE(git.sync->include.empty()) << "filePattern applies in pattern mode only";
    EXPECT_FALSE(nh::dev::loop_settings(json()).sync);
    EXPECT_FALSE(nh::dev::loop_settings(json::object()).sync);
}

TEST(LoopSettings, FillOnlyWhatTheCallerLeftAtItsDefaults) {
    nh::sync::ClientOptions o;
    EXPECT_EQ(nh::loop::apply_config(kRecorded, o), "two-way, 2 ignore patterns, only 2 file patterns");
    EXPECT_EQ(o.mode, nh::sync::SyncMode::TwoWay);
    EXPECT_EQ(o.ignore.patterns, (std::vector<std::string>{"/build", ".git"}));
    EXPECT_EQ(o.ignore.include_patterns, (std::vector<std::string>{"/src", "lib"}));
    EXPECT_FALSE(o.delete_protection);

    nh::sync::ClientOptions given;
    given.ignore.patterns = {"*.o"};
    given.delete_protection = true;
    EXPECT_EQ(nh::loop::apply_config(kRecorded, given), "two-way, only 2 file patterns");
    EXPECT_EQ(given.ignore.patterns, (std::vector<std::string>{"*.o"}));
    EXPECT_TRUE(given.delete_protection) << "switched on, never off";

    nh::sync::ClientOptions none;
    EXPECT_EQ(nh::loop::apply_config(json::parse(R"({"shell":"sh"})"), none), "");
    EXPECT_EQ(none.mode, nh::sync::SyncMode::Send);
    EXPECT_FALSE(none.delete_protection);
}

TEST(LoopSettings, DeleteProtectionIsSaidOnlyBothWays) {
    nh::sync::ClientOptions o;
    EXPECT_EQ(nh::loop::apply_config(json::parse(R"({"sync": {"type": "send"}})"), o), "");
    EXPECT_TRUE(o.delete_protection);
    nh::sync::ClientOptions two;
    two.mode = nh::sync::SyncMode::TwoWay;
    EXPECT_EQ(nh::loop::apply_config(json::parse(R"({"sync": {"type": "send"}})"), two), "delete protection");
}
