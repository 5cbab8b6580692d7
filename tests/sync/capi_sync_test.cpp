// The sync section of the C ABI, through the shared library only (the
// server runs in-process from the core).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "nocalhost.h"
#include "sync_test_util.hpp"

using namespace nh::synctest;

namespace {
const char *kToken = "capi-sync-token";

struct Events {
    std::atomic<int> states{0}, progress{0}, file_errors{0};
    std::atomic<int> last_state{-1};
};

void on_event(const nh_sync_event *ev, void *payload) {
    auto *e = static_cast<Events *>(payload);
    ASSERT_NE(ev->path, nullptr);
    ASSERT_NE(ev->message, nullptr);
    if (ev->type == NH_SYNC_EVENT_STATE) {
        e->states++;
        e->last_state = ev->status->state;
    }
    if (ev->type == NH_SYNC_EVENT_PROGRESS) e->progress++;
    if (ev->type == NH_SYNC_EVENT_FILE_ERROR) e->file_errors++;
}
}  // namespace

TEST(CapiSync, StartFlushStatusPauseStop) {
    std::string src = make_temp_dir("capi-src"), dst = make_temp_dir("capi-dst"), state = make_temp_dir("capi-state");
    for (int i = 0; i < 200; ++i) write_file(src + "/d/f" + std::to_string(i), std::string(1000, 'x'));
    write_file(src + "/skip.log", "ignored");
    {
        InProcessServer server(dst, kToken);
        Events events;
        const char *ignores[] = {"*.log"};
        nh_sync_options opts;
        ASSERT_EQ(nh_sync_options_init(&opts, NH_SYNC_OPTIONS_VERSION), NH_OK);
        opts.ignore_patterns = ignores;
        opts.ignore_patterns_count = 1;
        opts.state_dir = state.c_str();
        opts.callback = on_event;
        opts.payload = &events;
        nh_sync *sync = nullptr;
        ASSERT_EQ(nh_sync_start(&sync, src.c_str(), server.address().c_str(), kToken, &opts), NH_OK);
        ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
        EXPECT_EQ(diff_trees(src + "/d", dst + "/d"), "");
        EXPECT_EQ(read_file(dst + "/skip.log"), "<missing>");

        nh_sync_status st = NH_SYNC_STATUS_INIT;
        ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
        EXPECT_EQ(st.state, NH_SYNC_IDLE);
        EXPECT_EQ(st.files_synced, 200u);
        EXPECT_STREQ(nh_sync_state_name(st.state), "idle");
        EXPECT_GT(events.states.load(), 0);

        ASSERT_EQ(nh_sync_pause(sync), NH_OK);
        write_file(src + "/d/late", "late");
        EXPECT_EQ(nh_sync_flush(sync, 200, nullptr), NH_ETIMEOUT);
        nh_cancel *cancel = nullptr;
        ASSERT_EQ(nh_cancel_new(&cancel), NH_OK);
        std::thread t([cancel] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            nh_cancel_trigger(cancel);
        });
        EXPECT_EQ(nh_sync_flush(sync, -1, cancel), NH_ECANCELLED);
        t.join();
        nh_cancel_free(cancel);
        ASSERT_EQ(nh_sync_resume(sync), NH_OK);
        ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK);
        EXPECT_EQ(read_file(dst + "/d/late"), "late");
        ASSERT_EQ(nh_sync_stop(sync), NH_OK);
        EXPECT_EQ(nh_sync_flush(sync, 1000, nullptr), NH_ESTATE);
        nh_sync_free(sync);
    }
    remove_tree(src);
    remove_tree(dst);
    remove_tree(state);
}

TEST(CapiSync, ArgumentsAndWrongToken) {
    nh_sync *sync = reinterpret_cast<nh_sync *>(1);
    EXPECT_EQ(nh_sync_start(&sync, nullptr, "127.0.0.1:1", "t", nullptr), NH_EINVAL);
    EXPECT_EQ(sync, nullptr);
    EXPECT_EQ(nh_sync_start(&sync, "/", "no-port", "t", nullptr), NH_EINVAL);
    EXPECT_EQ(nh_sync_start(&sync, "/nonexistent/dir", "127.0.0.1:1", "t", nullptr), NH_EIO);
    nh_sync_options bad = NH_SYNC_OPTIONS_INIT;
    bad.version = 99;
    EXPECT_EQ(nh_sync_start(&sync, "/tmp", "127.0.0.1:1", "t", &bad), NH_EINVAL);
    nh_sync_free(nullptr);

    std::string src = make_temp_dir("capi-src"), dst = make_temp_dir("capi-dst"), state = make_temp_dir("capi-state");
    {
        InProcessServer server(dst, kToken);
        nh_sync_options opts = NH_SYNC_OPTIONS_INIT;
        opts.state_dir = state.c_str();
        ASSERT_EQ(nh_sync_start(&sync, src.c_str(), server.address().c_str(), "wrong", &opts), NH_OK);
        EXPECT_EQ(nh_sync_flush(sync, 10000, nullptr), NH_EUNAUTHORIZED);
        EXPECT_EQ(std::strstr(nh_error_last()->message, "wrong\""), nullptr);
        nh_sync_status st = NH_SYNC_STATUS_INIT;
        ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
        EXPECT_EQ(st.state, NH_SYNC_ERROR);
        EXPECT_EQ(st.error_code, NH_EUNAUTHORIZED);
        nh_buf msg = NH_BUF_INIT;
        ASSERT_EQ(nh_sync_last_error(&msg, sync), NH_OK);
        EXPECT_NE(std::strstr(msg.ptr, "authentication failed"), nullptr);
        nh_buf_dispose(&msg);
        nh_sync_free(sync);
    }
    remove_tree(src);
    remove_tree(dst);
    remove_tree(state);
}

namespace {
// The inodes of every directory an inotify descriptor of this process watches (from
// /proc/self/fdinfo: "inotify wd:N ino:HEX sdev:..."), whichever part of the process set it.
std::set<unsigned long> watched_inodes() {
    std::set<unsigned long> inos;
    for (const auto &fd : std::filesystem::directory_iterator("/proc/self/fdinfo")) {
        std::ifstream in(fd.path());
        std::string line;
        while (std::getline(in, line)) {
            auto at = line.find(" ino:");
            if (line.rfind("inotify wd:", 0) == 0 && at != std::string::npos)
                inos.insert(std::stoul(line.substr(at + 5), nullptr, 16));
        }
    }
    return inos;
}

unsigned long inode_of(const std::string &path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<unsigned long>(st.st_ino);
}
}  // namespace

// nh_sync_options.once: the tree is synced as it is, and no directory of it is ever watched (a
// one-shot sync sets up no inotify watch, so it has none to release when it ends); without it
// every directory is watched while the sync runs.
TEST(CapiSync, AOneShotSyncSendsTheTreeAndWatchesNothing) {
    std::string src = make_temp_dir("capi-once-src"), dst = make_temp_dir("capi-once-dst");
    for (int i = 0; i < 50; ++i) write_file(src + "/d/e/f" + std::to_string(i), "content " + std::to_string(i));
    const std::set<unsigned long> dirs{inode_of(src), inode_of(src + "/d"), inode_of(src + "/d/e")};
    auto watched_dirs = [&] {
        std::set<unsigned long> both, all = watched_inodes();
        for (auto ino : dirs)
            if (all.count(ino)) both.insert(ino);
        return both.size();
    };
    InProcessServer server(dst, kToken);
    for (int once : {0, 1}) {
        std::string state = make_temp_dir("capi-once-state");
        nh_sync_options opts;
        ASSERT_EQ(nh_sync_options_init(&opts, NH_SYNC_OPTIONS_VERSION), NH_OK);
        opts.state_dir = state.c_str();
        opts.once = once;
        nh_sync *sync = nullptr;
        ASSERT_EQ(nh_sync_start(&sync, src.c_str(), server.address().c_str(), kToken, &opts), NH_OK);
        ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
        EXPECT_EQ(diff_trees(src, dst), "") << "once=" << once;
        EXPECT_EQ(watched_dirs(), once ? 0u : dirs.size()) << "once=" << once;
        nh_sync_status st = NH_SYNC_STATUS_INIT;
        ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
        EXPECT_EQ(st.state, NH_SYNC_IDLE);
        ASSERT_EQ(nh_sync_stop(sync), NH_OK);
        nh_sync_free(sync);
        write_file(src + "/d/e/f0", "changed before the next start");
    }
}

// A file dated 2300 reaches the server still dated in the future (before, its time wrapped
// around to 1715, which ext4 stored as 1901), and the next one-shot sync sends nothing again:
// neither it nor a file dated tomorrow.
TEST(CapiSync, AFileDatedPast2262ArrivesInTheFutureAndIsNotSentAgain) {
    std::string src = make_temp_dir("capi-future-src"), dst = make_temp_dir("capi-future-dst");
    std::string state = make_temp_dir("capi-future-state");
    write_file(src + "/year2300", "far ahead");
    write_file(src + "/tomorrow", "a day ahead");
    write_file(src + "/today", "now");
    const struct timespec far[2] = {{10'413'792'000L, 0}, {10'413'792'000L, 0}};
    const long day = static_cast<long>(::time(nullptr)) + 86400;
    const struct timespec tomorrow[2] = {{day, 0}, {day, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (src + "/year2300").c_str(), far, 0), 0);
    ASSERT_EQ(::utimensat(AT_FDCWD, (src + "/tomorrow").c_str(), tomorrow, 0), 0);
    InProcessServer server(dst, kToken);
    uint64_t sent[2] = {0, 0};
    for (int run : {0, 1}) {
        nh_sync_options opts;
        ASSERT_EQ(nh_sync_options_init(&opts, NH_SYNC_OPTIONS_VERSION), NH_OK);
        opts.state_dir = state.c_str();
        opts.once = 1;
        nh_sync *sync = nullptr;
        ASSERT_EQ(nh_sync_start(&sync, src.c_str(), server.address().c_str(), kToken, &opts), NH_OK);
        ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
        nh_sync_status st = NH_SYNC_STATUS_INIT;
        ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
        sent[run] = st.files_synced;
        ASSERT_EQ(nh_sync_stop(sync), NH_OK);
        nh_sync_free(sync);
    }
    EXPECT_EQ(sent[0], 3u);
    EXPECT_EQ(sent[1], 0u) << "the second one-shot sync sent files again";
    struct stat s {}, d {};
    ASSERT_EQ(::stat((src + "/year2300").c_str(), &s), 0);
    ASSERT_EQ(::stat((dst + "/year2300").c_str(), &d), 0);
    if (s.st_mtim.tv_sec > 9'223'372'036L) {
        // Past what 64-bit nanoseconds hold: the latest time they do, 2262-04-11.
        EXPECT_EQ(d.st_mtim.tv_sec, 9'223'372'036L);
        EXPECT_EQ(d.st_mtim.tv_nsec, 854'775'807L);
    } else {
        EXPECT_EQ(d.st_mtim.tv_sec, s.st_mtim.tv_sec);  // the filesystem clamped it already
    }
    ASSERT_EQ(::stat((dst + "/tomorrow").c_str(), &d), 0);
    EXPECT_EQ(d.st_mtim.tv_sec, day);
}

// A dev session's sync must keep watching: `once` there is a clear error before anything is
// asked of the cluster (the kubeconfig's server does not exist).
TEST(CapiSync, OnceIsRefusedForADevSessionsSync) {
    std::string kubeconfig =
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
    nh_client *client = nullptr;
    ASSERT_EQ(nh_client_new_from_data(&client, kubeconfig.c_str(), static_cast<size_t>(-1), nullptr), NH_OK)
        << nh_error_last()->message;
    std::string src = make_temp_dir("capi-once-session");
    nh_sync_options sync_opts;
    ASSERT_EQ(nh_sync_options_init(&sync_opts, NH_SYNC_OPTIONS_VERSION), NH_OK);
    sync_opts.once = 1;
    nh_dev_start_options o;
    ASSERT_EQ(nh_dev_start_options_init(&o, NH_DEV_START_OPTIONS_VERSION), NH_OK);
    o.image = "busybox";
    o.local_dir = src.c_str();
    o.sync_options = &sync_opts;
    nh_session *session = nullptr;
    EXPECT_EQ(nh_dev_start(&session, client, "deployment", "web", &o), NH_EINVAL);
    EXPECT_EQ(session, nullptr);
    EXPECT_NE(std::string(nh_error_last()->message).find("nh_sync_options.once"), std::string::npos)
        << nh_error_last()->message;
    nh_client_free(client);
}
