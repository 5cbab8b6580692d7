// A branch switch against the real nhsyncd over loopback sockets: most of the tree goes and
// another comes, directories become files and the other way round. The server sets each
// deleted directory aside with one rename and deletes it on a thread of its own, so the new
// files are written meanwhile; the tests check what that must not change (the trees end
// equal, nothing is left behind in the root) and what a server that died while deleting
// left aside is deleted when the next one starts.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sync_test_util.hpp"

using namespace nh::synctest;
namespace ns = nh::sync;

namespace {

const std::string kToken = "switch-test-token-0123456789";

// Names in root the server set aside and has not deleted yet.
std::vector<std::string> set_aside(const std::string &root) {
    std::vector<std::string> out;
    if (DIR *d = ::opendir(root.c_str())) {
        while (auto *de = ::readdir(d))
            if (std::string_view(de->d_name).starts_with(".nocalhost-sync-trash")) out.emplace_back(de->d_name);
        ::closedir(d);
    }
    return out;
}

// Waits (up to 20 s) until the server has deleted everything it set aside.
bool aside_gone(const std::string &root) {
    for (int i = 0; i < 2000; ++i) {
        if (set_aside(root).empty()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

void branch(const std::string &root, const std::string &name, int dirs, int files) {
    for (int i = 0; i < files; ++i)
        write_file(root + "/" + name + std::to_string(i % dirs) + "/sub" + std::to_string(i % 3) + "/f" + std::to_string(i) +
                       ".txt",
                   name + " content " + std::to_string(i) + std::string(static_cast<size_t>(i % 700), 'x'));
}

struct BranchSwitch : ::testing::Test {
    std::string src, dst, state;
    void SetUp() override {
        src = make_temp_dir("swsrc");
        dst = make_temp_dir("swdst");
        state = make_temp_dir("swstate");
    }
    void TearDown() override {
        remove_tree(src);
        remove_tree(dst);
        remove_tree(state);
    }
    // One `nh sync run --once`: connects with the saved state, sends what differs, returns.
    void sync_once(const Daemon &server) {
        ns::ClientOptions o;
        o.local_dir = src;
        o.address = server.address();
        o.token = kToken;
        o.state_dir = state;
        o.max_backoff_ms = 200;
        ns::Client client(o);
        ASSERT_EQ(client.flush(60000), NH_OK);
    }
};

}  // namespace

TEST_F(BranchSwitch, EveryDirectoryReplacedTypesSwappedTreesEqualNothingLeftAside) {
    branch(src, "main", 12, 600);
    write_file(src + "/kept/same.txt", "on both branches");
    write_file(src + "/becomes-dir", "a file on main");
    write_file(src + "/link-becomes-dir", "");
    ::unlink((src + "/link-becomes-dir").c_str());
    ASSERT_EQ(::symlink("kept/same.txt", (src + "/link-becomes-dir").c_str()), 0);
    branch(src, "becomes-file", 1, 40);
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    sync_once(server);
    ASSERT_EQ(diff_trees(src, dst), "");

    // The switch: every directory of main goes, the other branch's come; a file and a symlink
    // become directories and a directory a file, at the same paths.
    for (int d = 0; d < 12; ++d) remove_tree(src + "/main" + std::to_string(d));
    remove_tree(src + "/becomes-file0");
    write_file(src + "/becomes-file0", "a file on other");
    ::unlink((src + "/becomes-dir").c_str());
    write_file(src + "/becomes-dir/inside.txt", "a directory on other");
    ::unlink((src + "/link-becomes-dir").c_str());
    write_file(src + "/link-becomes-dir/inside.txt", "was a symlink");
    branch(src, "other", 9, 500);
    sync_once(server);
    EXPECT_EQ(diff_trees(src, dst), "");
    EXPECT_TRUE(aside_gone(dst)) << "left in the server's root: " << set_aside(dst).size() << " trees set aside";

    // And back: the directories that went come again, at once after they were set aside.
    for (int d = 0; d < 9; ++d) remove_tree(src + "/other" + std::to_string(d));
    branch(src, "main", 12, 600);
    sync_once(server);
    EXPECT_EQ(diff_trees(src, dst), "");
    EXPECT_TRUE(aside_gone(dst));
    EXPECT_TRUE(server.log().find("cannot delete") == std::string::npos) << server.log();
}

TEST_F(BranchSwitch, WhatAnInterruptedServerSetAsideIsDeletedAtTheNextStart) {
    write_file(src + "/a.txt", "a");
    // As a server killed in the middle of deleting leaves it: a tree under an aside name.
    std::string aside = dst + "/.nocalhost-sync-trash.4242.7";
    branch(aside, "old", 3, 200);
    write_file(dst + "/.nocalhost-sync-trash.4242.9", "a file set aside");
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    sync_once(server);
    EXPECT_EQ(diff_trees(src, dst), "");
    EXPECT_TRUE(aside_gone(dst)) << "still there: " << set_aside(dst).size() << " entries set aside";
    // The server's own state and the user's files next to it are untouched.
    EXPECT_EQ(read_file(dst + "/a.txt"), "a");
}

TEST_F(BranchSwitch, AMovedDirectoryLosesOnTheServerWhatWasRemovedFromIt) {
    write_file(src + "/a/kept.txt", "moved along");
    write_file(src + "/a/gone.txt", "deleted after the move");
    write_file(src + "/a/deep/gone-too.txt", "deleted with its directory");
    write_file(src + "/a/changed.txt", "before");
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    sync_once(server);
    // While nothing ran: the directory moved (same inode), then part of it went.
    ASSERT_EQ(::rename((src + "/a").c_str(), (src + "/b").c_str()), 0);
    ::unlink((src + "/b/gone.txt").c_str());
    remove_tree(src + "/b/deep");
    write_file(src + "/b/changed.txt", "after, and longer");
    sync_once(server);
    EXPECT_EQ(diff_trees(src, dst), "");
}

TEST_F(BranchSwitch, AMovedDirectoryKeepsWhatOnlyTheServerHadInIt) {
    write_file(src + "/a/kept.txt", "moved along");
    write_file(dst + "/a/built.o", "made in the container");
    Daemon server(DaemonOptions{.root = dst, .token = kToken});
    sync_once(server);
    ASSERT_EQ(::rename((src + "/a").c_str(), (src + "/b").c_str()), 0);
    sync_once(server);
    EXPECT_EQ(read_file(dst + "/b/kept.txt"), "moved along");
    EXPECT_EQ(read_file(dst + "/b/built.o"), "made in the container") << "the server's own file went";
    EXPECT_FALSE(std::filesystem::exists(dst + "/a"));
}
