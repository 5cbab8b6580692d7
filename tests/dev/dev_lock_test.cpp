// The lock: a second client is refused with the holder's name, an expired
// lease is taken over, and a start that dies after any step is restored
// exactly by an end from a fresh client.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "dev/lease.hpp"
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

// Thrown by the step hook (start_observed()): passes through start() like a killed process, no rollback.
struct SimulatedCrash {
    std::string step;
};

json lease_held_by(const std::string &ns, const std::string &name, const std::string &holder, double renewed_ago,
                   int lease_seconds) {
    using namespace std::chrono;
    auto t = system_clock::now() - duration_cast<system_clock::duration>(duration<double>(renewed_ago));
    std::time_t tt = system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
    return {{"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"spec",
             {{"holderIdentity", holder}, {"leaseDurationSeconds", lease_seconds}, {"acquireTime", buf}, {"renewTime", buf}}}};
}

// Dev mode on container "app" with the dev image registry.example/dev:1.
nh_dev_start_options app_dev_options() {
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.timeout_ms = 60000;
    return o;
}

}  // namespace

TEST_F(DevTest, SecondClientGetsBusyNamingTheOwner) {
    create(sample_deployment("web", 2));
    wait_ready(Kind::Deployment, "web", 2);
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.owner = "alice@laptop/42";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;

    nh_client *bob = open(kubeconfig);
    o.owner = "bob@desk/7";
    nh_session *s2 = nullptr;
    EXPECT_EQ(nh_dev_start(&s2, bob, "deployment", "web", &o), NH_EBUSY);
    EXPECT_NE(std::string(nh_error_last()->message).find("alice@laptop/42"), std::string::npos)
        << nh_error_last()->message;
    EXPECT_EQ(s2, nullptr);
    nh_session_free(s);
    ASSERT_EQ(nh_dev_end(nullptr, bob, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}

TEST_F(DevTest, TwoClientsStartingAtOnceExactlyOneWins) {
    create(sample_deployment("race", 1));
    wait_ready(Kind::Deployment, "race", 1);
    json original = get(Kind::Deployment, "race");
    nh_client *c2 = open(kubeconfig);
    int rc[2] = {1, 1};
    std::string msg[2];
    nh_session *sess[2] = {nullptr, nullptr};
    auto run = [&](int i, nh_client *c, const char *owner) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.container = "app";
        o.image = "registry.example/dev:1";
        o.owner = owner;
        o.timeout_ms = 60000;
        rc[i] = nh_dev_start(&sess[i], c, "deployment", "race", &o);
        msg[i] = nh_error_last()->message;
    };
    std::thread t1(run, 0, client, "one@a/1"), t2(run, 1, c2, "two@b/2");
    t1.join();
    t2.join();
    EXPECT_TRUE((rc[0] == NH_OK) != (rc[1] == NH_OK)) << rc[0] << " " << msg[0] << " / " << rc[1] << " " << msg[1];
    for (int i = 0; i < 2; ++i)
        if (rc[i] != NH_OK) {
            EXPECT_EQ(rc[i], NH_EBUSY) << msg[i];
            EXPECT_NE(msg[i].find(i == 0 ? "two@b/2" : "one@a/1"), std::string::npos) << msg[i];
        }
    nh_session_free(sess[0]);
    nh_session_free(sess[1]);
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "race", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "race", original);
}

TEST_F(DevTest, LiveLeaseRefusesAndExpiredLeaseIsTakenOver) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    std::string obj = nh::dev::session_object_name(Kind::Deployment, "web");
    kube->create(nh::dev::lease_path(ns), lease_held_by(ns, obj, "carol@ci/99", 1, 60));

    nh_dev_start_options o = app_dev_options();
    nh_session *s = nullptr;
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_EBUSY);
    EXPECT_NE(std::string(nh_error_last()->message).find("carol@ci/99"), std::string::npos) << nh_error_last()->message;
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, obj))) << "nothing recorded without the lock";

    // The same lease, expired long ago: taken over.
    kube->remove(nh::dev::lease_path(ns, obj));
    kube->create(nh::dev::lease_path(ns), lease_held_by(ns, obj, "carol@ci/99", 120, 10));
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    EXPECT_FALSE(exists(nh::dev::lease_path(ns, obj))) << "a finished start releases the lock";
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "web", nullptr), NH_OK);
}

// Kill the start after each step (through the test hook), then end from a
// fresh client: the original comes back exactly every time.
TEST_F(DevTest, CrashAfterEveryStepThenEndRestoresExactly) {
    create(sample_deployment("crash", 3));
    kube->create(nh::dev::hpa_path(ns), sample_hpa("crash", "Deployment", 2, 6));
    wait_ready(Kind::Deployment, "crash", 3);
    json original = get(Kind::Deployment, "crash");
    json hpa = kube->get(nh::dev::hpa_path(ns, "crash"));

    for (const char *crash_step : {"lock", "record", "hpa", "patch", "wait", "active"}) {
        SCOPED_TRACE(crash_step);
        auto dying = kube_client(kubeconfig);
        nh::dev::StartOptions o;
        o.kind = Kind::Deployment;
        o.ns = ns;
        o.name = "crash";
        o.container = "app";
        o.image = "registry.example/dev:1";
        o.owner = "doomed@host/1";
        o.lease_duration = std::chrono::seconds(2);
        o.timeout = std::chrono::seconds(60);
        auto crash = [&](const char *step) {
            if (std::string(step) == crash_step) throw SimulatedCrash{step};
        };
        bool crashed = false;
        try {
            nh::dev::start_observed(*dying, o, crash);
        } catch (const SimulatedCrash &) {
            crashed = true;
        }
        ASSERT_TRUE(crashed);

        nh_client *fresh = open(kubeconfig);
        int result = -1;
        ASSERT_EQ(nh_dev_end(&result, fresh, "deployment", "crash", nullptr), NH_OK) << nh_error_last()->message;
        EXPECT_EQ(result, std::string(crash_step) == "lock" ? NH_DEV_END_NOT_IN_DEV_MODE : NH_DEV_END_RESTORED);
        expect_restored(Kind::Deployment, "crash", original, &hpa);
    }
    wait_ready(Kind::Deployment, "crash", 3);
}

// A start that died half-way is completed by the next start once its lease expired,
// from the recorded original (not from the half-changed workload).
TEST_F(DevTest, NextStartTakesOverADeadStart) {
    create(sample_deployment("takeover", 2));
    wait_ready(Kind::Deployment, "takeover", 2);
    json original = get(Kind::Deployment, "takeover");
    auto dying = kube_client(kubeconfig);
    nh::dev::StartOptions o;
    o.kind = Kind::Deployment;
    o.ns = ns;
    o.name = "takeover";
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.owner = "doomed@host/1";
    o.lease_duration = std::chrono::seconds(1);
    auto crash = [](const char *step) {
        if (std::string(step) == "patch") throw SimulatedCrash{step};
    };
    EXPECT_THROW(nh::dev::start_observed(*dying, o, crash), SimulatedCrash);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));

    EventLog log;
    nh_dev_start_options so = NH_DEV_START_OPTIONS_INIT;
    so.container = "app";
    so.image = "registry.example/dev:2";
    so.timeout_ms = 60000;
    so.events = EventLog::cb;
    so.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "takeover", &so), NH_OK) << nh_error_last()->message;
    bool told = false;
    for (const auto &l : log.all) told |= l.find("doomed@host/1") != std::string::npos;
    EXPECT_TRUE(told) << log.dump();
    json dev = get(Kind::Deployment, "takeover");
    EXPECT_EQ(dev["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/dev:2");
    EXPECT_EQ(dev["spec"]["template"]["spec"]["containers"].size(), 3u) << "one sidecar, not two";
    nh_session_free(s);
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "takeover", nullptr), NH_OK);
    expect_restored(Kind::Deployment, "takeover", original);
}

// A lock held by a process that runs on another host: the end waits for it, telling who holds
// it and when it expires as it counts down, then takes it over.
TEST_F(DevTest, EndShowsTheHolderAndTheCountdownOfALiveLock) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    nh_dev_start_options so = app_dev_options();
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &so), NH_OK) << nh_error_last()->message;
    nh_session_free(s);

    std::string obj = nh::dev::session_object_name(Kind::Deployment, "web");
    json lease = lease_held_by(ns, obj, "carol@elsewhere/99", 0, 4);
    lease["metadata"]["annotations"][nh::dev::kHolderProcessAnnotation] =
        json{{"host", "elsewhere"}, {"boot", "0a0b0c0d-another-kernel"}, {"pidns", "pid:[1]"}, {"pid", 99}, {"start", "7"}}
            .dump();
    kube->create(nh::dev::lease_path(ns), lease);

    EventLog log;
    nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
    o.events = EventLog::cb;
    o.payload = &log;
    o.timeout_ms = 30000;
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    std::set<std::string> countdown;
    for (const auto &l : log.all)
        if (l.rfind("lock: ", 0) == 0 && l.find("carol@elsewhere/99") != std::string::npos) {
            auto at = l.find("expires in ");
            if (at != std::string::npos) countdown.insert(l.substr(at, l.find('s', at + 11) - at));
        }
    EXPECT_GE(countdown.size(), 2u) << "a countdown naming the holder: " << log.dump();
    expect_restored(Kind::Deployment, "web", original);
}

// A lock held by a live process of this host is respected; once that process is gone, the next
// start takes the lock over at once instead of waiting for it to expire.
TEST_F(DevTest, LockOfADeadProcessOnThisHostIsTakenOverAtOnce) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    ASSERT_GT(child, 0);
    // The child's process facts, as it would have written them itself.
    json me = json::parse(nh::dev::this_process());
    std::string stat;
    {
        std::ifstream in("/proc/" + std::to_string(child) + "/stat");
        std::getline(in, stat);
    }
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string f;
    for (int i = 3; i <= 22 && fields >> f; ++i) me["start"] = f;
    me["pid"] = child;
    std::string obj = nh::dev::session_object_name(Kind::Deployment, "web");
    json lease = lease_held_by(ns, obj, "dave@here/" + std::to_string(child), 0, 600);
    lease["metadata"]["annotations"][nh::dev::kHolderProcessAnnotation] = me.dump();
    kube->create(nh::dev::lease_path(ns), lease);

    nh_dev_start_options o = app_dev_options();
    nh_session *s = nullptr;
    EXPECT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_EBUSY);
    EXPECT_NE(std::string(nh_error_last()->message).find("dave@here"), std::string::npos) << nh_error_last()->message;

    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    nh_session_free(s);
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}
