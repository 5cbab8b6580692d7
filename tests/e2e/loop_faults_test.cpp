// The dev loop while the API server goes away and comes back: the sync runs
// through a port-forward over the API server to the sidecar, so every byte of
// it stops with the server. Edits made meanwhile must arrive once it is back,
// without the caller doing anything, and dev end must then restore exactly.
#include "apiserver_outage.hpp"
#include "dev/session.hpp"
#include "dev/workload.hpp"
#include "loop_fixture.hpp"

using namespace nh::test;

TEST_F(Loop, TheSyncReconnectsAfterTheApiServerCameBackAndLosesNoEdit) {
    std::string original = kubectl("-n " + ns_ + " get deployment web -o json");
    nh_session *session = nullptr;
    int rc = NH_ERROR;
    std::string err;
    std::string src = src_.string();
    std::thread starter([&] {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = "registry.example/dev:latest";
        o.local_dir = src.c_str();
        o.timeout_ms = 120000;
        rc = nh_dev_start(&session, client_, "deployment", "web", &o);
        if (rc != NH_OK) err = nh_error_last()->message;
    });
    start_sidecar_when_ready();
    starter.join();
    ASSERT_EQ(rc, NH_OK) << err;
    nh_sync *sync = nh_session_sync(session);
    ASSERT_NE(sync, nullptr);
    ASSERT_EQ(nh::test::read_file(remote_ / "hello.txt"), "hello v1\n");

    {
        ApiServerOutage outage;
        outage.stop();
        ASSERT_TRUE(outage.happened());
        // Edits while the server is away: a change, a new file, a delete.
        std::ofstream(src_ / "hello.txt") << "hello v2, written while the API server was down\n";
        std::ofstream(src_ / "new while down.txt") << "new\n";
        fs::remove(src_ / "sub" / "deep" / "a b ü.txt");
        std::this_thread::sleep_for(3s);
        EXPECT_EQ(nh::test::read_file(remote_ / "hello.txt"), "hello v1\n") << "synced without the API server?";
        outage.back();
        ASSERT_TRUE(outage.came_back());

        auto arrived = [&] {
            return nh::test::read_file(remote_ / "hello.txt") == "hello v2, written while the API server was down\n" &&
                   fs::exists(remote_ / "new while down.txt") && !fs::exists(remote_ / "sub" / "deep" / "a b ü.txt");
        };
        auto limit = std::chrono::steady_clock::now() + 90s;
        while (!arrived() && std::chrono::steady_clock::now() < limit) std::this_thread::sleep_for(50ms);
        double took = outage.after_back(std::chrono::steady_clock::now());
        std::fprintf(stderr, "[faults] sync: down %.1f s; edits arrived %.1f s after the server listened again\n",
                     outage.down_seconds(), took);
        RecordProperty("sync_caught_up_after_back_s", std::to_string(took));
        ASSERT_TRUE(arrived()) << "the edits made while the API server was down never arrived";
    }
    // And the loop keeps working: a later edit arrives and a flush confirms it.
    std::ofstream(src_ / "hello.txt") << "hello v3\n";
    EXPECT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(nh::test::read_file(remote_ / "hello.txt"), "hello v3\n");
    nh_sync_status st = NH_SYNC_STATUS_INIT;
    ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
    EXPECT_GE(st.reconnects, 1u);
    EXPECT_EQ(st.file_errors, 0u);

    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_session_free(session);
    // Exactly as it was (the dev tests' check: same object, same content, no record, no lock).
    json before = json::parse(original), after = json::parse(kubectl("-n " + ns_ + " get deployment web -o json"));
    EXPECT_EQ(after["metadata"]["uid"], before["metadata"]["uid"]);
    EXPECT_EQ(nh::dev::clean_object(after), nh::dev::clean_object(before))
        << json::diff(nh::dev::clean_object(before), nh::dev::clean_object(after)).dump();
    std::string object = nh::dev::session_object_name(nh::dev::Kind::Deployment, "web");
    EXPECT_EQ(kubectl("-n " + ns_ + " get secret,lease " + object + " --ignore-not-found -o name"), "");
}
