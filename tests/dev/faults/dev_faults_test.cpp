// Faults of the cluster itself: the API server stopped in the middle of a dev
// start and a dev end and brought back (scripts/test-cluster stop|start
// apiserver), and twenty dev starts at once in one namespace, from one process
// and from twenty. After each, nothing is left half-done: every workload is in
// dev mode or exactly as it was, and no lock is left behind.
#include <algorithm>
#include <atomic>
#include <mutex>

#include "apiserver_outage.hpp"
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Events callback: takes the API server down when the operation reaches `phase`.
struct CutAt {
    std::string phase;
    ApiServerOutage *outage;
    EventLog log;
    static int cb(int type, const char *phase, const char *message, const char *detail, void *payload) {
        auto *self = static_cast<CutAt *>(payload);
        if (type == NH_DEV_EVENT_PHASE && self->phase == phase) self->outage->stop();
        return EventLog::cb(type, phase, message, detail, &self->log);
    }
};

constexpr auto kDown = std::chrono::seconds(8);

class DevFaults : public DevTest {
protected:
    // Leases left in the namespace: a lock nobody holds any more.
    std::vector<std::string> leases() {
        std::vector<std::string> out;
        const json list = kube->get("/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases");
        for (const auto &l : list["items"])
            out.push_back(l["metadata"]["name"]);
        return out;
    }

    // The workload is in dev mode, completely: session active, the dev pod's spec, no lock.
    void expect_in_dev_mode(const std::string &name) {
        json s = kube->get(nh::dev::secret_path(ns, nh::dev::session_object_name(Kind::Deployment, name)));
        EXPECT_EQ(s["metadata"]["annotations"].value(nh::dev::kPhaseAnnotation, ""), "active") << name;
        json d = get(Kind::Deployment, name);
        EXPECT_TRUE(d["metadata"]["annotations"].contains(nh::dev::kSessionAnnotation)) << name;
        EXPECT_FALSE(exists(nh::dev::lease_path(ns, nh::dev::session_object_name(Kind::Deployment, name))))
            << "lock of " << name << " left behind";
    }

    // A start cut by an outage at `phase`, well within its timeout: it waits for the
    // server and completes; the state is whole and an end restores the workload exactly.
    void start_through_an_outage(const char *phase) {
        create(sample_deployment("web", 1));
        wait_ready(Kind::Deployment, "web", 1);
        json original = get(Kind::Deployment, "web");

        ApiServerOutage outage(kDown);
        CutAt cut{phase, &outage, {}};
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.container = "app";
        o.image = "registry.example/dev:1";
        o.timeout_ms = 150000;
        o.events = CutAt::cb;
        o.payload = &cut;
        nh_session *s = nullptr;
        int rc = nh_dev_start(&s, client, "deployment", "web", &o);
        auto done = Clock::now();
        std::string msg = rc == NH_OK ? "" : nh_error_last()->message;
        outage.back();
        ASSERT_TRUE(outage.happened()) << "the API server was not stopped at phase " << phase << "\n" << cut.log.dump();
        ASSERT_TRUE(outage.came_back()) << "the API server did not come back";
        RecordProperty("apiserver_down_s", std::to_string(outage.down_seconds()));
        RecordProperty("start_done_after_back_s", std::to_string(outage.after_back(done)));
        std::fprintf(stderr, "[faults] start cut at %s: down %.1f s, rc %d, done %.1f s after the server listened again\n",
                     phase, outage.down_seconds(), rc, outage.after_back(done));
        EXPECT_EQ(rc, NH_OK) << msg << "\n" << cut.log.dump();
        if (rc == NH_OK) {
            EXPECT_GE(outage.after_back(done), 0.0) << "completed before the server was back?";
            expect_in_dev_mode("web");
            nh_session_free(s);
        } else {
            // Never half-done: a failed start has rolled back.
            expect_restored(Kind::Deployment, "web", original);
        }
        int result = -1;
        ASSERT_EQ(nh_dev_end(&result, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
        expect_restored(Kind::Deployment, "web", original);
    }

    // Twenty Deployments w0..w19, all ready.
    std::vector<std::string> twenty_workloads(json *originals) {
        std::vector<std::string> names;
        for (int i = 0; i < 20; ++i) {
            names.push_back("w" + std::to_string(i));
            json d = sample_deployment(names.back(), 1);
            create(d);
        }
        for (const auto &n : names) wait_ready(Kind::Deployment, n, 1, 120);
        for (const auto &n : names) (*originals)[n] = get(Kind::Deployment, n);
        return names;
    }

    void end_all_and_expect_restored(const std::vector<std::string> &names, const json &originals) {
        std::vector<std::thread> ts;
        std::vector<int> rcs(names.size(), -1);
        std::vector<std::string> errs(names.size());
        for (size_t i = 0; i < names.size(); ++i)
            ts.emplace_back([&, i] {
                int result = -1;
                rcs[i] = nh_dev_end(&result, client, "deployment", names[i].c_str(), nullptr);
                if (rcs[i] != NH_OK) errs[i] = nh_error_last()->message;
            });
        for (auto &t : ts) t.join();
        for (size_t i = 0; i < names.size(); ++i) {
            EXPECT_EQ(rcs[i], NH_OK) << names[i] << ": " << errs[i];
            expect_restored(Kind::Deployment, names[i], originals[names[i]]);
        }
        EXPECT_EQ(leases(), std::vector<std::string>{});
    }
};

}  // namespace

TEST_F(DevFaults, StartRidesOutTheApiServerGoingAwayBeforeTheRecord) { start_through_an_outage("record"); }

TEST_F(DevFaults, StartRidesOutTheApiServerGoingAwayBeforeThePatch) { start_through_an_outage("patch"); }

TEST_F(DevFaults, StartRidesOutTheApiServerGoingAwayWhileWaitingForThePod) { start_through_an_outage("wait"); }

TEST_F(DevFaults, EndCompletesWhenTheApiServerGoesAwayInTheMiddle) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);

    ApiServerOutage outage(kDown);
    CutAt cut{"restore", &outage, {}};
    nh_dev_end_options e = NH_DEV_END_OPTIONS_INIT;
    e.events = CutAt::cb;
    e.payload = &cut;
    int result = -1;
    int rc = nh_dev_end(&result, client, "deployment", "web", &e);
    auto done = Clock::now();
    std::string msg = rc == NH_OK ? "" : nh_error_last()->message;
    outage.back();
    ASSERT_TRUE(outage.happened()) << cut.log.dump();
    ASSERT_TRUE(outage.came_back());
    std::fprintf(stderr, "[faults] end cut at restore: down %.1f s, rc %d, done %.1f s after the server listened again\n",
                 outage.down_seconds(), rc, outage.after_back(done));
    RecordProperty("end_done_after_back_s", std::to_string(outage.after_back(done)));
    EXPECT_EQ(rc, NH_OK) << msg << "\n" << cut.log.dump();
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    expect_restored(Kind::Deployment, "web", original);
}

TEST_F(DevFaults, TwentyStartsAtOnceFromOneProcess) {
    json originals = json::object();
    auto names = twenty_workloads(&originals);
    std::vector<std::thread> ts;
    std::vector<int> rcs(names.size(), -1);
    std::vector<std::string> errs(names.size());
    std::vector<nh_session *> sessions(names.size(), nullptr);
    auto t0 = Clock::now();
    for (size_t i = 0; i < names.size(); ++i)
        ts.emplace_back([&, i] {
            nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
            o.container = "app";
            o.image = "registry.example/dev:1";
            o.timeout_ms = 150000;
            rcs[i] = nh_dev_start(&sessions[i], client, "deployment", names[i].c_str(), &o);
            if (rcs[i] != NH_OK) errs[i] = nh_error_last()->message;
        });
    for (auto &t : ts) t.join();
    double took = seconds_since(t0);
    std::fprintf(stderr, "[faults] 20 dev starts from one process: %.1f s\n", took);
    RecordProperty("twenty_starts_one_process_s", std::to_string(took));
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(rcs[i], NH_OK) << names[i] << ": " << errs[i];
        if (rcs[i] == NH_OK) expect_in_dev_mode(names[i]);
        nh_session_free(sessions[i]);
    }
    EXPECT_EQ(leases(), std::vector<std::string>{});
    end_all_and_expect_restored(names, originals);
}

#ifdef NH_CLI_PATH
TEST_F(DevFaults, TwentyStartsAtOnceFromTwentyProcesses) {
    json originals = json::object();
    auto names = twenty_workloads(&originals);
    std::vector<std::thread> ts;
    std::vector<CliRun> runs(names.size());
    auto t0 = Clock::now();
    for (size_t i = 0; i < names.size(); ++i)
        ts.emplace_back([&, i] {
            runs[i] = cli("dev start deployment/" + names[i] + " --image registry.example/dev:1 -c app --timeout 150s");
        });
    for (auto &t : ts) t.join();
    double took = seconds_since(t0);
    std::fprintf(stderr, "[faults] 20 dev starts from 20 processes: %.1f s\n", took);
    RecordProperty("twenty_starts_twenty_processes_s", std::to_string(took));
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(runs[i].code, 0) << names[i] << ": " << runs[i].out;
        if (runs[i].code == 0) expect_in_dev_mode(names[i]);
    }
    EXPECT_EQ(leases(), std::vector<std::string>{});
    end_all_and_expect_restored(names, originals);
}
#endif
