// The per-user agent (nh-agent, docs/agent.md) as its users see it: a real agent process
// started on demand by the library, real Unix sockets and, for syncs and forwards, the test
// cluster's real node with a real sync sidecar. The processes that detach and then die are
// real processes (this binary re-executed in a helper mode, and the nh CLI), killed with
// SIGKILL.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "../realpods/realpods_fixture.hpp"

using namespace nh::test;

namespace {

std::string g_self;  // this test binary, re-executed as a helper process

std::string take(nh_buf &b) {
    std::string s = b.ptr ? std::string(b.ptr, b.size) : "";
    nh_buf_dispose(&b);
    return s;
}

bool pid_alive(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0; }

// An agent directory of the test's own (0700, from mkdtemp), so that tests running at the same
// time (as the same user) never share an agent.
struct AgentDir {
    TempDir tmp;
    nh_agent_options opts = NH_AGENT_OPTIONS_INIT;
    AgentDir() {
        opts.dir = tmp.path().c_str();
        // Short grace, so that the agent's exit when it holds nothing is seen quickly.
        ::setenv("NH_AGENT_GRACE_MS", "1500", 1);
    }
    ~AgentDir() {
        // Whatever a failed test left: stop the agent.
        json i = info();
        if (i.value("running", false)) ::kill(static_cast<pid_t>(i.value("pid", 0L)), SIGKILL);
    }
    json info() {
        nh_buf b = NH_BUF_INIT;
        if (nh_agent_info(&b, &opts) != NH_OK) return json{{"error", nh_error_last()->message}};
        return json::parse(take(b), nullptr, false);
    }
    json list() {
        nh_buf b = NH_BUF_INIT;
        if (nh_agent_list(&b, &opts) != NH_OK) return json{{"error", nh_error_last()->message}};
        return json::parse(take(b), nullptr, false);
    }
    json status(const std::string &id) {
        nh_buf b = NH_BUF_INIT;
        if (nh_agent_status(&b, id.c_str(), &opts) != NH_OK) return json{{"error", nh_error_last()->message}};
        return json::parse(take(b), nullptr, false);
    }
    std::string log() {
        std::ifstream f(tmp / "agent.log");
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
    std::string env() const { return "NH_AGENT_DIR=" + tmp.path() + " NH_AGENT_GRACE_MS=1500 "; }
};

// connect() to a Unix socket with nothing but system calls (for a forked child): the
// descriptor, or -errno.
int raw_connect(const std::string &path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

// A kubeconfig whose server refuses connections: enough for calls that fail at the cluster.
std::string dead_kubeconfig(const TempDir &dir) {
    std::string path = dir / "dead.kubeconfig";
    nh::test::write_file(path, "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "
                               "'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n"
                               "  context: {cluster: c, user: u, namespace: default}\ncurrent-context: x\n");
    return path;
}

// Runs this binary as a helper with `args`; its stdout's first line, once it printed it. The
// helper stays alive (it sleeps) until killed.
struct Helper {
    pid_t pid = -1;
    int out = -1;
    Helper(const std::vector<std::string> &args) {
        int p[2];
        if (::pipe(p) != 0) return;
        pid = ::fork();
        if (pid == 0) {
            ::dup2(p[1], 1);
            ::close(p[0]);
            std::vector<char *> argv{const_cast<char *>(g_self.c_str())};
            for (auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(g_self.c_str(), argv.data());
            ::_exit(127);
        }
        ::close(p[1]);
        out = p[0];
    }
    std::string first_line() {
        std::string line;
        char c;
        while (::read(out, &c, 1) == 1 && c != '\n') line += c;
        return line;
    }
    void kill9() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        pid = -1;
    }
    ~Helper() {
        kill9();
        if (out >= 0) ::close(out);
    }
};

}  // namespace

// ---- without a cluster ----

TEST(Agent, ALocalPortBelow1024IsRefusedBeforeAnythingStarts) {
    AgentDir a;
    TempDir t;
    std::string kc = dead_kubeconfig(t);
    ASSERT_GE(nh_init(), 1);
    nh_client_options co = NH_CLIENT_OPTIONS_INIT;
    co.kubeconfig = kc.c_str();
    nh_client *c = nullptr;
    ASSERT_EQ(nh_client_new(&c, &co), NH_OK) << nh_error_last()->message;
    for (const char *spec : {"80:8080", "443", "1023:80"}) {
        const char *ports[] = {"18080:80", spec, nullptr};
        nh_buf id = NH_BUF_INIT;
        EXPECT_EQ(nh_agent_forward_start(&id, c, "deployment/web", ports, &a.opts), NH_EINVAL) << spec;
        std::string msg = nh_error_last()->message;
        EXPECT_NE(msg.find("below 1024"), std::string::npos) << msg;
        EXPECT_NE(msg.find(spec), std::string::npos) << msg;
        nh_buf_dispose(&id);
    }
    // Nothing was started for it.
    EXPECT_FALSE(a.info().value("running", true));
    nh_client_free(c);
    nh_shutdown();
}

TEST(Agent, TwoProcessesStartingItAtOnceGetOneAgentWhichExitsWhenItHoldsNothing) {
    AgentDir a;
    TempDir t;
    std::string kc = dead_kubeconfig(t);
    // Two processes at once ask the agent for a forward (which fails at the dead server; the
    // agent is started for it all the same).
    {
        Helper one({"--helper-forward", kc, a.tmp.path()}), two({"--helper-forward", kc, a.tmp.path()});
        // Both got an answer from an agent: the forward's failure at the dead server.
        for (Helper *h : {&one, &two}) {
            std::string line = h->first_line();
            EXPECT_EQ(line.rfind("rc " + std::to_string(NH_ECONNECT), 0), 0u) << line << "\n" << a.log();
        }
    }
    std::string log = a.log();
    std::regex listening("listening on");
    EXPECT_EQ(std::distance(std::sregex_iterator(log.begin(), log.end(), listening), std::sregex_iterator()), 1) << log;
    json i = a.info();
    ASSERT_TRUE(i.value("running", false)) << i.dump() << log;
    long pid = i.value("pid", 0L);
    EXPECT_EQ(i.value("items", -1), 0);
    EXPECT_EQ(a.list(), json::array());
    // It holds nothing: it exits after its grace (1.5 s here), and takes its socket along.
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually([&] { return !pid_alive(pid); }, 10s)) << a.log();
    RecordProperty("exit_after_ms",
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()));
    EXPECT_FALSE(fs::exists(a.tmp / "agent.sock"));
    EXPECT_NE(a.log().find("holding nothing; exiting"), std::string::npos) << a.log();
}

// A child of this process that becomes uid `uid` (nobody) and talks to `socket` the raw way:
// what connect() said, and the answer when it got one.
static std::string as_other_user(const std::string &socket, uid_t uid) {
    int p[2];
    if (::pipe(p) != 0) return "pipe";
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        std::string res;
        if (::setgid(uid) != 0 || ::setuid(uid) != 0) {
            res = "setuid failed";
        } else {
            int fd = raw_connect(socket);
            if (fd < 0) {
                res = std::string("connect: ") + std::strerror(-fd);
            } else {
                // The agent answers a stranger before reading anything.
                char buf[512] = {};
                ssize_t n = ::read(fd, buf, sizeof buf - 1);
                res = "answer: " + std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
            }
        }
        (void)!::write(p[1], res.data(), res.size());
        ::_exit(0);
    }
    ::close(p[1]);
    std::string got;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    ::waitpid(pid, nullptr, 0);
    return got;
}

TEST(Agent, TheSocketIsRefusedToAnotherUser) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
    AgentDir a;
    ::setenv("NH_AGENT_GRACE_MS", "20000", 1);
    // Start the agent itself, as the library would, and wait for its socket.
    pid_t agent = ::fork();
    if (agent == 0) {
        int log = ::open((a.tmp / "agent.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        ::dup2(log, 2);
        ::execl(NH_AGENT_EXE, NH_AGENT_EXE, "--dir", a.tmp.path().c_str(), nullptr);
        ::_exit(127);
    }
    ASSERT_TRUE(eventually([&] { return a.info().value("running", false); }, 10s)) << a.log();
    const std::string sock = a.tmp / "agent.sock";
    struct stat st {};
    ASSERT_EQ(::stat(a.tmp.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    // The directory keeps everyone else out.
    std::string got = as_other_user(sock, 65534);
    EXPECT_EQ(got, "connect: Permission denied");
    // And with the directory and socket opened up by mistake, the agent refuses the peer's uid.
    ASSERT_EQ(::chmod(a.tmp.path().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(sock.c_str(), 0666), 0);
    got = as_other_user(sock, 65534);
    EXPECT_NE(got.find("\"ok\":false"), std::string::npos) << got;
    EXPECT_NE(got.find("not uid 65534"), std::string::npos) << got;
    EXPECT_NE(a.log().find("refused a connection of uid 65534"), std::string::npos) << a.log();
    // The library refuses a directory open to others before talking to anything in it.
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_agent_list(&b, &a.opts), NH_EFORBIDDEN);
    EXPECT_NE(std::string(nh_error_last()->message).find("open to other users"), std::string::npos)
        << nh_error_last()->message;
    nh_buf_dispose(&b);
    ::chmod(a.tmp.path().c_str(), 0700);
    ::kill(agent, SIGTERM);
    ::waitpid(agent, nullptr, 0);
}

// ---- on the test cluster's real node ----

class AgentReal : public RealPods {
protected:
    void SetUp() override {
        RealPods::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        // Enough files that a full re-send and a resume from the saved index differ clearly.
        for (int i = 0; i < 40; ++i) std::ofstream(src_ / ("f" + std::to_string(i) + ".txt")) << "file " << i << "\n";
        apply(workload_yaml("deployment", "web"));
    }
    std::string kubeconfig_flag() const { return "--kubeconfig '" + kubeconfig_ + "' -n " + ns_; }
    AgentDir agent_;
};

// The helper a test kills: starts dev mode with a sync, hands the sync to the agent, prints
// the id and sleeps until killed.
static int helper_detach(const std::string &kubeconfig, const std::string &ns, const std::string &src,
                         const std::string &dev_image, const std::string &sidecar_image) {
    nh_init();
    nh_client_options co = NH_CLIENT_OPTIONS_INIT;
    co.kubeconfig = kubeconfig.c_str();
    co.namespace_name = ns.c_str();
    nh_client *c = nullptr;
    if (nh_client_new(&c, &co) != NH_OK) return std::printf("error: %s\n", nh_error_last()->message), 1;
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = dev_image.c_str();
    o.sidecar_image = sidecar_image.c_str();
    o.local_dir = src.c_str();
    o.timeout_ms = 180000;
    nh_session *s = nullptr;
    if (nh_dev_start(&s, c, "deployment", "web", &o) != NH_OK) return std::printf("error: %s\n", nh_error_last()->message), 1;
    nh_buf id = NH_BUF_INIT;
    if (nh_agent_detach(&id, s, c, nullptr) != NH_OK) return std::printf("error: %s\n", nh_error_last()->message), 1;
    std::printf("%s\n", id.ptr);
    std::fflush(stdout);
    for (;;) ::pause();
}

TEST_F(AgentReal, ASyncDetachedByAKilledProcessKeepsSyncingAndIsStoppedFromAnother) {
    ::setenv("NH_AGENT_DIR", agent_.tmp.path().c_str(), 1);  // the helper inherits it
    Helper h({"--helper-detach", kubeconfig_, ns_, src_.string(), dev_image_, sidecar_image_});
    ::unsetenv("NH_AGENT_DIR");
    std::string id = h.first_line();
    ASSERT_EQ(id.rfind("s-", 0), 0u) << id << "\n" << agent_.log();
    h.kill9();  // the process that detached dies abruptly

    json st = agent_.status(id);
    EXPECT_EQ(st.value("type", ""), "sync") << st.dump();
    EXPECT_EQ(st.value("kind", ""), "deployment");
    EXPECT_EQ(st.value("name", ""), "web");
    EXPECT_EQ(st.value("local_dir", ""), src_.string());
    EXPECT_TRUE(st["last_sync"].is_string()) << st.dump();
    EXPECT_TRUE(eventually([&] { return agent_.status(id).value("state", "") == "idle"; }, 30s)) << agent_.status(id).dump();
    // The agent's sync carries on: an edit made after the death arrives.
    std::ofstream(src_ / "after-kill.txt") << "still syncing\n";
    EXPECT_TRUE(eventually([&] { return exec_cat("deployment/web", "after-kill.txt") == "still syncing\n"; }, 30s))
        << exec_cat("deployment/web", "after-kill.txt") << agent_.status(id).dump();
    st = agent_.status(id);
    for (const char *k : {"files_done", "files_total", "bytes_done", "bytes_total", "out_of_sync", "conflicts", "message"})
        EXPECT_TRUE(st.contains(k)) << k << " " << st.dump();

    // Another process (the CLI) reads it and stops it.
    int rc = 0;
    std::string out = sh(agent_.env() + NH_CLI_PATH + " agent status " + id + " -o json", &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_EQ(json::parse(out, nullptr, false).value("id", ""), id) << out;
    out = sh(agent_.env() + NH_CLI_PATH + " agent list", &rc);
    EXPECT_NE(out.find(id), std::string::npos) << out;
    out = sh(agent_.env() + NH_CLI_PATH + " agent stop " + id, &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_EQ(agent_.list(), json::array());
    std::ofstream(src_ / "after-stop.txt") << "not synced\n";
    std::this_thread::sleep_for(2s);
    EXPECT_NE(exec_cat("deployment/web", "after-stop.txt"), "not synced\n");
    // Dev mode stays on until ended.
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&b, client_, "deployment", "web", nullptr), NH_OK);
    EXPECT_TRUE(json::parse(take(b)).value("dev_mode", false));
    ASSERT_EQ(nh_dev_end(nullptr, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}

TEST_F(AgentReal, AForwardSurvivesItsStarterAndIsStoppedById) {
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s)) << kubectl("-n " + ns_ + " get pods -o wide");
    int rc = 0;
    // The starter is the CLI, which returns at once and is gone when the forward is used.
    std::string out = sh(agent_.env() + NH_CLI_PATH + " " + kubeconfig_flag() + " port-forward deployment/web 0:8080 --detach", &rc);
    ASSERT_EQ(rc, 0) << out << agent_.log();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("127\\.0\\.0\\.1:([0-9]+) -> 8080 \\(in your agent as (f-[0-9a-f]+)\\)"))) << out;
    int port = std::stoi(m[1]);
    std::string id = m[2];
    EXPECT_GE(port, 1024);
    EXPECT_FALSE(http_get(port, "/healthz").empty() && http_get(port, "/").empty()) << agent_.status(id).dump();
    json st = agent_.status(id);
    EXPECT_EQ(st.value("state", ""), "forwarding") << st.dump();
    EXPECT_EQ(st["ports"][0].value("local_port", 0), port);
    EXPECT_FALSE(st.value("pod", "").empty());
    EXPECT_TRUE(st.contains("last_error"));

    // Its pod replaced: the forward follows, and says why it waited.
    std::string pod = st.value("pod", "");
    kubectl("-n " + ns_ + " delete pod " + pod + " --wait=false");
    // (A connection attempt makes the forward look for the pod.)
    EXPECT_TRUE(eventually(
        [&] {
            (void)http_get(port, "/healthz");
            return agent_.status(id).value("last_error", "") != "";
        },
        90s))
        << agent_.status(id).dump();
    EXPECT_TRUE(eventually([&] { return pods_ready("app=web", 1) && !http_get(port, "/healthz").empty(); }, 120s))
        << agent_.status(id).dump();

    out = sh(agent_.env() + NH_CLI_PATH + " agent stop " + id, &rc);
    ASSERT_EQ(rc, 0) << out;
    int fd = nh::test::connect_loopback(port);
    EXPECT_LT(fd, 0) << "port " << port << " still open";
    if (fd >= 0) ::close(fd);
    EXPECT_NE(agent_.status(id).value("error", "").find("no item " + id), std::string::npos) << agent_.status(id).dump();
}

TEST_F(AgentReal, AnAgentKilledWithSigkillResumesFromTheSavedIndexAndReattachTakesTheSyncBack) {
    nh_session *s = dev_start("deployment", "web");
    ASSERT_NE(s, nullptr);
    nh_sync_status st0 = NH_SYNC_STATUS_INIT;
    ASSERT_EQ(nh_sync_status_get(&st0, nh_session_sync(s)), NH_OK);
    ASSERT_GE(st0.files_synced, 40u);  // the first full sync sent everything
    nh_buf idb = NH_BUF_INIT;
    ASSERT_EQ(nh_agent_detach(&idb, s, client_, &agent_.opts), NH_OK) << nh_error_last()->message << agent_.log();
    std::string id = take(idb);
    EXPECT_EQ(nh_session_sync(s), nullptr);  // the sync left this process
    nh_session_free(s);
    // The agent's sync resumed from the index this process saved: nothing to send again.
    json st = agent_.status(id);
    EXPECT_LE(st.value("files_synced", 999), 2) << st.dump();

    long pid = agent_.info().value("pid", 0L);
    ASSERT_TRUE(pid_alive(pid));
    std::ofstream(src_ / "before-kill.txt") << "b\n";
    ASSERT_TRUE(eventually([&] { return exec_cat("deployment/web", "before-kill.txt") == "b\n"; }, 30s));
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return !pid_alive(pid); }, 5s));
    std::ofstream(src_ / "while-dead.txt") << "d\n";

    // Any call starts a new agent, which resumes the sync it finds saved.
    json list = agent_.list();
    ASSERT_EQ(list.size(), 1u) << list.dump() << agent_.log();
    EXPECT_EQ(list[0].value("id", ""), id);
    long pid2 = agent_.info().value("pid", 0L);
    EXPECT_NE(pid2, pid);
    EXPECT_TRUE(eventually([&] { return exec_cat("deployment/web", "while-dead.txt") == "d\n"; }, 60s))
        << agent_.status(id).dump() << agent_.log();
    st = agent_.status(id);
    EXPECT_EQ(st.value("state", ""), "idle") << st.dump();
    EXPECT_LE(st.value("files_synced", 999), 3) << "re-sent everything instead of resuming: " << st.dump();

    // Re-attach: the sync comes back into this process, from the index the agent saved.
    std::ofstream(src_ / "reattached.txt") << "r\n";
    nh_session *back = nullptr;
    ASSERT_EQ(nh_agent_reattach(&back, client_, id.c_str(), nullptr, &agent_.opts), NH_OK) << nh_error_last()->message;
    ASSERT_NE(nh_session_sync(back), nullptr);
    ASSERT_EQ(nh_sync_flush(nh_session_sync(back), 60000, nullptr), NH_OK) << nh_error_last()->message;
    nh_sync_status st2 = NH_SYNC_STATUS_INIT;
    ASSERT_EQ(nh_sync_status_get(&st2, nh_session_sync(back)), NH_OK);
    EXPECT_LE(st2.files_synced, 3u);
    EXPECT_EQ(exec_cat("deployment/web", "reattached.txt"), "r\n");
    EXPECT_EQ(agent_.list(), json::array());
    // Holding nothing, the agent exits.
    EXPECT_TRUE(eventually([&] { return !pid_alive(pid2); }, 10s)) << agent_.log();
    nh_session_free(back);
    ASSERT_EQ(nh_dev_end(nullptr, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}

TEST_F(AgentReal, ASyncWhoseDevModeIsEndedByAnotherProcessStopsAndSaysSo) {
    ::setenv("NH_AGENT_CHECK_MS", "1000", 1);  // the agent started below inherits it
    nh_session *s = dev_start("deployment", "web");
    ASSERT_NE(s, nullptr);
    nh_buf idb = NH_BUF_INIT;
    int rc = nh_agent_detach(&idb, s, client_, &agent_.opts);
    ::unsetenv("NH_AGENT_CHECK_MS");
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message << agent_.log();
    std::string id = take(idb);
    nh_session_free(s);
    EXPECT_TRUE(eventually([&] { return agent_.status(id).value("state", "") == "idle"; }, 30s)) << agent_.status(id).dump();

    // Another process (the CLI) ends dev mode under the agent's sync.
    std::string out = sh(std::string(NH_CLI_PATH) + " " + kubeconfig_flag() + " dev end deployment/web", &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_TRUE(eventually([&] { return agent_.status(id).value("state", "") == "ended"; }, 60s))
        << agent_.status(id).dump() << agent_.log();
    json st = agent_.status(id);
    const std::string msg = st.value("message", "");
    EXPECT_NE(msg.find("dev mode of deployment/web in " + ns_ + " was ended elsewhere"), std::string::npos) << st.dump();
    EXPECT_NE(msg.find("sync stopped"), std::string::npos) << st.dump();
    // It stays ended: no reconnecting to a dev pod that will not come back.
    std::this_thread::sleep_for(4s);
    EXPECT_EQ(agent_.status(id).value("state", ""), "ended") << agent_.status(id).dump();
    const std::string log = agent_.log();
    EXPECT_NE(log.find(id + ": dev mode of deployment/web"), std::string::npos) << log;
    // Nothing to take back; stopping it forgets it, and the agent, holding nothing, exits.
    nh_session *back = nullptr;
    EXPECT_EQ(nh_agent_reattach(&back, client_, id.c_str(), nullptr, &agent_.opts), NH_ESTATE);
    EXPECT_NE(std::string(nh_error_last()->message).find("ended elsewhere"), std::string::npos) << nh_error_last()->message;
    EXPECT_EQ(back, nullptr);
    long pid = agent_.info().value("pid", 0L);
    ASSERT_EQ(nh_agent_stop(id.c_str(), &agent_.opts), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(agent_.list(), json::array());
    EXPECT_TRUE(eventually([&] { return !pid_alive(pid); }, 10s)) << agent_.log();
}

// The helper of the start race: asks the agent in `dir` for a forward through a dead server.
static int helper_forward(const std::string &kubeconfig, const std::string &dir) {
    nh_init();
    nh_client_options co = NH_CLIENT_OPTIONS_INIT;
    co.kubeconfig = kubeconfig.c_str();
    nh_client *c = nullptr;
    if (nh_client_new(&c, &co) != NH_OK) return std::printf("error: %s\n", nh_error_last()->message), 1;
    nh_agent_options ao = NH_AGENT_OPTIONS_INIT;
    ao.dir = dir.c_str();
    const char *ports[] = {"18081:80", nullptr};
    nh_buf id = NH_BUF_INIT;
    int rc = nh_agent_forward_start(&id, c, "pod/x", ports, &ao);
    std::printf("rc %d %s\n", rc, rc ? nh_error_last()->message : id.ptr);
    std::fflush(stdout);
    for (;;) ::pause();
}

int main(int argc, char **argv) {
    g_self = argv[0];
    if (argc == 4 && std::string(argv[1]) == "--helper-forward") return helper_forward(argv[2], argv[3]);
    if (argc == 7 && std::string(argv[1]) == "--helper-detach") return helper_detach(argv[2], argv[3], argv[4], argv[5], argv[6]);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
