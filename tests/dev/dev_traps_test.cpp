// No traps after an end or an interrupt: `kubectl rollout undo` after `nh dev end` keeps the
// original; a start killed with SIGKILL leaves nothing that blocks the next start or end; a
// second Ctrl-C prints the command that completes the rollback; a workload whose session
// record is gone ends with --force.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "dev/lease.hpp"
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// `nh <args>` running in the background, its output in a file.
struct Background {
    pid_t pid = -1;
    std::string log;

    Background(const std::string &kubeconfig, const std::string &ns, const std::vector<std::string> &args) {
        log = testing::TempDir() + "nh-bg-" + nh::random_hex(4) + ".log";
        std::vector<std::string> argv = {NH_CLI_PATH, "--kubeconfig", kubeconfig, "-n", ns};
        argv.insert(argv.end(), args.begin(), args.end());
        pid = fork();
        if (pid == 0) {
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 1);
            dup2(fd, 2);
            setenv("CI", "1", 1);
            std::vector<char *> cargv;
            for (auto &a : argv) cargv.push_back(a.data());
            cargv.push_back(nullptr);
            execv(cargv[0], cargv.data());
            _exit(127);
        }
    }
    ~Background() {
        if (pid > 0) {
            kill(pid, SIGKILL);
            wait();
        }
        std::remove(log.c_str());
    }
    int wait() {
        int st = 0;
        if (pid > 0) waitpid(pid, &st, 0);
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    std::string output() const {
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

// The resources of a dev container no node can hold: its start waits (as on a busy cluster).
const char *kUnschedulable = R"({"requests":{"cpu":"100000"}})";

}  // namespace

class DevTrapsTest : public DevTest {
protected:
    CliRun kubectl(const std::string &args) {
        return run_shell("kubectl --kubeconfig '" + kubeconfig + "' -n " + ns + " " + args + " 2>&1");
    }

    // Waits until the start in progress has switched the workload to its dev form.
    bool wait_switched(Kind k, const std::string &name, int seconds = 30) {
        auto until = Clock::now() + std::chrono::seconds(seconds);
        while (Clock::now() < until) {
            json w = get(k, name);
            if (w["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionAnnotation) &&
                w["spec"]["template"]["spec"]["containers"].size() == 3)
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }

    // A Deployment "web" with a history of its own: image 0.9, then 1.0 (the original).
    json deployment_with_history() {
        json d = sample_deployment("web", 2);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/app:0.9";
        create(d);
        wait_ready(Kind::Deployment, "web", 2);
        json cur = get(Kind::Deployment, "web");
        cur["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/app:1.0";
        kube->update(path(Kind::Deployment, "web"), cur);
        wait_ready(Kind::Deployment, "web", 2);
        return get(Kind::Deployment, "web");
    }
};

// The dev-mode ReplicaSets leave the rollout history with the end: undo goes to the user's
// previous revision, never back to dev mode.
TEST_F(DevTrapsTest, RolloutUndoAfterEndNeverReturnsToDevMode) {
    json original = deployment_with_history();
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE("round " + std::to_string(round + 1));
        CliRun r = cli("dev start deployment/web --image registry.example/dev:1 -c app --timeout 60s");
        ASSERT_EQ(r.code, 0) << r.out;
        r = cli("dev end deployment/web");
        ASSERT_EQ(r.code, 0) << r.out;
        EXPECT_NE(r.out.find("rollout history"), std::string::npos) << "the end says what it removed: " << r.out;
        expect_restored(Kind::Deployment, "web", original);
    }
    CliRun undo = kubectl("rollout undo deployment/web");
    ASSERT_EQ(undo.code, 0) << undo.out;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    json now = get(Kind::Deployment, "web");
    EXPECT_FALSE(now["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionAnnotation)) << now.dump();
    const json &containers = now["spec"]["template"]["spec"]["containers"];
    ASSERT_EQ(containers.size(), 2u) << "no sidecar: " << containers.dump();
    EXPECT_EQ(containers[0]["image"], "registry.example/app:0.9") << "undo goes to the user's previous revision";
    CliRun st = cli("dev status deployment/web -o json");
    ASSERT_EQ(st.code, 0) << st.out;
    EXPECT_EQ(json::parse(st.out)["dev_mode"], false);
}

// The state a change of replicas during a rollout can leave: the only active ReplicaSet has the
// Deployment's replica count but the desired-replicas annotation of the rollout before. The
// Deployment controller then never creates the ReplicaSet of a new template; the start sees
// that and lets the rollout go on instead of waiting until its timeout.
TEST_F(DevTrapsTest, AStalledRolloutDoesNotHoldTheStart) {
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    CliRun rs = kubectl("get rs -l app=web -o jsonpath='{.items[0].metadata.name}'");
    ASSERT_EQ(rs.code, 0) << rs.out;
    CliRun ann = kubectl("annotate rs " + rs.out + " --overwrite deployment.kubernetes.io/desired-replicas=2");
    ASSERT_EQ(ann.code, 0) << ann.out;
    auto t0 = Clock::now();
    CliRun r = cli("-v dev start deployment/web --image registry.example/dev:1 -c app --timeout 40s");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_LT(seconds_since(t0), 30) << r.out;
    EXPECT_NE(r.out.find("stalled the rollout"), std::string::npos) << "the start says what it repaired: " << r.out;
    r = cli("dev end deployment/web");
    ASSERT_EQ(r.code, 0) << r.out;
    wait_ready(Kind::Deployment, "web", 1);
}

// Quick start/end cycles, each start right after the end before it (the restore still rolling out).
TEST_F(DevTrapsTest, StartsRightAfterEndsRollOut) {
    create(sample_deployment("web", 2));
    wait_ready(Kind::Deployment, "web", 2);
    for (int round = 1; round <= 10; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        CliRun r = cli("dev start deployment/web --image registry.example/dev:1 -c app --timeout 40s");
        ASSERT_EQ(r.code, 0) << r.out;
        r = cli("dev end deployment/web");
        ASSERT_EQ(r.code, 0) << r.out;
    }
    wait_ready(Kind::Deployment, "web", 2);
}

// The same for a StatefulSet's ControllerRevisions and a parked DaemonSet's.
TEST_F(DevTrapsTest, RolloutUndoAfterEndStatefulSetAndDaemonSet) {
    json sts = sample_statefulset("db", 1);
    sts["spec"]["updateStrategy"] = {{"type", "RollingUpdate"}};
    create(sts);
    wait_ready(Kind::StatefulSet, "db", 1);
    json ds = {{"apiVersion", "apps/v1"},
               {"kind", "DaemonSet"},
               {"metadata", {{"name", "agent"}}},
               {"spec", {{"selector", {{"matchLabels", {{"app", "agent"}}}}}, {"template", simple_template("agent")}}}};
    kube->create(nh::dev::workload_path(Kind::DaemonSet, ns, ""), ds);
    json sts_original = get(Kind::StatefulSet, "db");
    json ds_original = get(Kind::DaemonSet, "agent");

    for (const char *target : {"statefulset/db", "daemonset/agent"}) {
        SCOPED_TRACE(target);
        CliRun r = cli(std::string("dev start ") + target + " --image registry.example/dev:1 -c app --timeout 60s");
        ASSERT_EQ(r.code, 0) << r.out;
        r = cli(std::string("dev end ") + target);
        ASSERT_EQ(r.code, 0) << r.out;
        EXPECT_NE(r.out.find("rollout history"), std::string::npos) << r.out;
        CliRun undo = kubectl(std::string("rollout undo ") + target);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        Kind k = std::string(target).rfind("statefulset", 0) == 0 ? Kind::StatefulSet : Kind::DaemonSet;
        json now = get(k, k == Kind::StatefulSet ? "db" : "agent");
        const json &orig = k == Kind::StatefulSet ? sts_original : ds_original;
        EXPECT_EQ(now["spec"]["template"], orig["spec"]["template"]) << "undo: " << undo.out;
        EXPECT_FALSE(now["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionAnnotation));
    }
}

// A start killed with SIGKILL half-way: the next start on this host takes its lock over at once
// and succeeds, and the end that follows completes within seconds.
TEST_F(DevTrapsTest, KillNineMidStartThenStartAndEndAtOnce) {
    create(sample_deployment("web", 2));
    wait_ready(Kind::Deployment, "web", 2);
    json original = get(Kind::Deployment, "web");
    {
        Background start(kubeconfig, ns,
                         {"dev", "start", "deployment/web", "--image", "registry.example/dev:1", "-c", "app",
                          "--timeout", "120s", "--resources", kUnschedulable});
        ASSERT_TRUE(wait_switched(Kind::Deployment, "web")) << start.output();
        kill(start.pid, SIGKILL);
        start.wait();
    }
    std::string obj = nh::dev::session_object_name(Kind::Deployment, "web");
    ASSERT_TRUE(exists(nh::dev::lease_path(ns, obj))) << "the killed start left its lock";

    CliRun st = cli("dev status deployment/web -o json");
    ASSERT_EQ(st.code, 0) << st.out;
    EXPECT_TRUE(json::parse(st.out)["lock"].is_null()) << "a dead holder holds nothing: " << st.out;
    // Said as it is: the start is gone, and the two ways on.
    st = cli("dev status deployment/web");
    ASSERT_EQ(st.code, 0) << st.out;
    EXPECT_NE(st.out.find("interrupted"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("`nh dev end deployment/web -n " + ns + "` restores"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("nh dev start"), std::string::npos) << st.out;

    auto t0 = Clock::now();
    CliRun r = cli("dev start deployment/web --image registry.example/dev:2 -c app --timeout 60s");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_LT(seconds_since(t0), 15) << r.out;
    EXPECT_NE(r.out.find("no longer runs"), std::string::npos) << "says whose lock it took over: " << r.out;
    EXPECT_EQ(get(Kind::Deployment, "web")["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/dev:2");

    t0 = Clock::now();
    r = cli("dev end deployment/web");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_LT(seconds_since(t0), 5) << r.out;
    expect_restored(Kind::Deployment, "web", original);
}

// A second Ctrl-C during the rollback of an interrupted start leaves at once, printing the
// exact command that completes the rollback; that command then restores the workload at once.
TEST_F(DevTrapsTest, SecondCtrlCPrintsTheCommandThatCompletesTheRollback) {
    create(sample_deployment("web", 2));
    wait_ready(Kind::Deployment, "web", 2);
    json original = get(Kind::Deployment, "web");
    std::string out;
    {
        Background start(kubeconfig, ns,
                         {"dev", "start", "deployment/web", "--image", "registry.example/dev:1", "-c", "app",
                          "--timeout", "120s", "--resources", kUnschedulable});
        ASSERT_TRUE(wait_switched(Kind::Deployment, "web")) << start.output();
        // Two interrupts (two signals, so that neither is merged into the other while pending).
        kill(start.pid, SIGINT);
        kill(start.pid, SIGTERM);
        EXPECT_EQ(start.wait(), 130);
        out = start.output();
    }
    EXPECT_NE(out.find("rollback is incomplete"), std::string::npos) << out;
    std::string want = "nh dev end deployment/web --kubeconfig " + kubeconfig + " -n " + ns;
    auto at = out.find(want);
    ASSERT_NE(at, std::string::npos) << out;

    // The printed command, as pasted (the fixture's binary for "nh").
    std::string line = out.substr(at, out.find('\n', at) - at);
    auto t0 = Clock::now();
    CliRun r = run_shell("CI=1 '" + std::string(NH_CLI_PATH) + "'" + line.substr(2) + " 2>&1");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_LT(seconds_since(t0), 5) << r.out;
    expect_restored(Kind::Deployment, "web", original);
}

// A workload still marked as in dev mode whose session record was deleted by hand: the end is
// refused and names the way out; --force removes every mark of dev mode and says what it could
// not restore.
TEST_F(DevTrapsTest, ForceEndsAWorkloadWhoseRecordIsGone) {
    json original = deployment_with_history();
    CliRun r = cli("dev start deployment/web --image registry.example/dev:1 -c app --timeout 60s");
    ASSERT_EQ(r.code, 0) << r.out;
    std::string obj = nh::dev::session_object_name(Kind::Deployment, "web");
    kube->remove(nh::dev::secret_path(ns, obj));

    r = cli("dev end deployment/web");
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("cannot be restored exactly"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--force"), std::string::npos) << "names the way out: " << r.out;

    r = cli("dev end deployment/web --force");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("could not restore spec.replicas"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rollout history"), std::string::npos) << r.out;

    json now = get(Kind::Deployment, "web");
    EXPECT_EQ(now["metadata"]["uid"], original["metadata"]["uid"]);
    EXPECT_FALSE(now["metadata"].value("annotations", json::object()).contains(nh::dev::kSessionAnnotation));
    EXPECT_EQ(now["spec"]["template"], original["spec"]["template"])
        << json::diff(original["spec"]["template"], now["spec"]["template"]).dump();
    EXPECT_EQ(now["spec"]["replicas"], 1) << "the replica count was recorded only in the deleted record";
    EXPECT_FALSE(exists(nh::dev::lease_path(ns, obj)));

    r = cli("dev end deployment/web");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("not in dev mode"), std::string::npos) << r.out;
    CliRun undo = kubectl("rollout undo deployment/web");
    ASSERT_EQ(undo.code, 0) << undo.out;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(get(Kind::Deployment, "web")["spec"]["template"]["spec"]["containers"].size(), 2u);
}

// Through the C ABI, with what `kubectl apply` recorded: the forced end restores the replica
// count and strategy too, and the workload is back exactly.
TEST_F(DevTrapsTest, ForceThroughTheCAbiUsesTheLastAppliedConfiguration) {
    json d = sample_deployment("api", 3);
    json applied = d;
    d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = applied.dump();
    create(d);
    wait_ready(Kind::Deployment, "api", 3);
    json original = get(Kind::Deployment, "api");
    nh_dev_start_options so = NH_DEV_START_OPTIONS_INIT;
    so.container = "app";
    so.image = "registry.example/dev:1";
    so.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "api", &so), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    kube->remove(nh::dev::secret_path(ns, nh::dev::session_object_name(Kind::Deployment, "api")));

    nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
    int result = -1;
    EXPECT_EQ(nh_dev_end(&result, client, "deployment", "api", &o), NH_ESTATE);
    EventLog log;
    o.force = 1;
    o.events = EventLog::cb;
    o.payload = &log;
    ASSERT_EQ(nh_dev_end(&result, client, "deployment", "api", &o), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    EXPECT_TRUE(log.warnings.empty()) << "everything was recorded somewhere: " << log.dump();
    expect_restored(Kind::Deployment, "api", original);
}
