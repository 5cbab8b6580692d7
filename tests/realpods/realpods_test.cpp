// The whole dev loop on real containers: the test cluster's real node (a
// kubelet and containerd, scripts/test-cluster up --real-node) runs the app,
// the dev container and the real sync sidecar (a static nhsyncd image) with a
// real emptyDir between them. Nothing of the kubelet is played here: exec,
// port-forward, probes, restarts and the shared volume are the kubelet's.
// The tests reach the cluster through the C ABI and the nh CLI only, plus
// kubectl to look, and containerd's ctr to kill a container as a crash would.
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

// Runs `nh terminal` under a pseudo-terminal of `rows` x `cols`.
class PtyTerminal {
public:
    PtyTerminal(const std::string &cmdline, unsigned short rows, unsigned short cols) {
        winsize ws{rows, cols, 0, 0};
        pid_ = forkpty(&master_, nullptr, nullptr, &ws);
        if (pid_ == 0) {
            execl("/bin/sh", "sh", "-c", cmdline.c_str(), static_cast<char *>(nullptr));
            _exit(127);
        }
    }
    ~PtyTerminal() {
        if (pid_ > 0 && !exited_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (master_ >= 0) close(master_);
    }
    bool ok() const { return pid_ > 0 && master_ >= 0; }
    void send(const std::string &s) { ASSERT_EQ(write(master_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
    // Reads until `want` appears in the output since the last call, or the time is up.
    bool expect(const std::string &want, std::chrono::seconds limit = 30s) {
        auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < limit) {
            if (seen_.find(want) != std::string::npos) {
                seen_.erase(0, seen_.find(want) + want.size());
                return true;
            }
            fd_set r;
            FD_ZERO(&r);
            FD_SET(master_, &r);
            timeval tv{0, 200000};
            if (select(master_ + 1, &r, nullptr, nullptr, &tv) > 0) {
                char buf[1024];
                ssize_t n = read(master_, buf, sizeof buf);
                if (n <= 0) break;
                seen_.append(buf, static_cast<size_t>(n));
                all_.append(buf, static_cast<size_t>(n));
            }
        }
        return false;
    }
    void resize(unsigned short rows, unsigned short cols) {
        winsize ws{rows, cols, 0, 0};
        ioctl(master_, TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the foreground group
    }
    int wait_exit(std::chrono::seconds limit = 30s) {
        auto t0 = std::chrono::steady_clock::now();
        int status = 0;
        while (std::chrono::steady_clock::now() - t0 < limit) {
            drain();  // so the child never blocks on a full pty
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                drain();
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(50ms);
        }
        return -1;
    }
    const std::string &output() const { return all_; }

private:
    void drain() {
        char buf[1024];
        while (true) {
            fd_set r;
            FD_ZERO(&r);
            FD_SET(master_, &r);
            timeval tv{0, 0};
            if (select(master_ + 1, &r, nullptr, nullptr, &tv) <= 0) return;
            ssize_t n = read(master_, buf, sizeof buf);
            if (n <= 0) return;
            all_.append(buf, static_cast<size_t>(n));
        }
    }

    pid_t pid_ = -1;
    int master_ = -1;
    bool exited_ = false;
    std::string seen_, all_;
};

}  // namespace

TEST_F(RealPods, TheWholeDevLoopOnRealContainers) {
    // The app: 3 replicas behind a Service, Ready through their readiness probe.
    apply(workload_yaml("deployment", "web", 3) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: " +
          ns_ + "}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n");
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 3); }, 120s)) << kubectl("-n " + ns_ + " get pods -o wide");
    auto ready_endpoints = [&] {
        auto j = json::parse(kubectl("-n " + ns_ + " get endpointslices -l kubernetes.io/service-name=web -o json"),
                             nullptr, false);
        int n = 0;
        if (j.is_object())
            for (auto &s : j["items"])
                for (auto &e : s.value("endpoints", json::array()))
                    if (e["conditions"].value("ready", false)) ++n;
        return n;
    };
    EXPECT_TRUE(eventually([&] { return ready_endpoints() == 3; }, 30s));
    {
        Forward app(client_, "deployment/web", ":8080");
        ASSERT_GT(app.port, 0) << nh_error_last()->message;
        EXPECT_EQ(http_get(app.port, "/"), "<h1>the app image</h1>\n");
    }
    std::string uid = kubectl("-n " + ns_ + " get deployment web -o jsonpath='{.metadata.uid}'");

    // dev start with a local dir: the real sidecar syncs into the emptyDir the dev container shares.
    nh_session *session = dev_start("deployment", "web");
    ASSERT_NE(session, nullptr);
    json pod = dev_pod();
    ASSERT_TRUE(pod.is_object());
    EXPECT_EQ(pod["spec"]["nodeName"], node_);
    EXPECT_EQ(exec_cat("deployment/web", "hello.txt"), "hello v1\n");
    EXPECT_EQ(exec_cat("deployment/web", "sub/page.html"), "<p>synced page</p>\n");
    // The sidecar sees the same files: its volume is the same emptyDir.
    nh_sync *sync = nh_session_sync(session);
    ASSERT_NE(sync, nullptr);

    // A local edit, read back in the dev container.
    std::ofstream(src_ / "hello.txt") << "hello v2, edited\n";
    ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(exec_cat("deployment/web", "hello.txt"), "hello v2, edited\n");

    // A server started in the dev container from the synced files, through a port-forward.
    auto start_server = [&] {
        auto [code, out] = exec("deployment/web", {"httpd", "-p", "8080", "-h", "/home/nocalhost-dev"});
        EXPECT_EQ(code, 0) << out;
    };
    start_server();
    Forward web(client_, "deployment/web", ":8080");
    ASSERT_GT(web.port, 0) << nh_error_last()->message;
    EXPECT_TRUE(eventually([&] { return http_get(web.port, "/hello.txt") == "hello v2, edited\n"; }, 20s));
    EXPECT_EQ(http_get(web.port, "/sub/page.html"), "<p>synced page</p>\n");

    // exec: exit codes come back, through the C ABI and the CLI.
    EXPECT_EQ(exec("deployment/web", {"sh", "-c", "exit 3"}).first, 3);
    EXPECT_EQ(exec("deployment/web", {"false"}).first, 1);
    int rc = -1;
    std::string out = sh(nh_cli() + "exec deployment/web -- sh -c 'echo out; exit 7' </dev/null", &rc);
    EXPECT_EQ(rc, 7) << out;
    EXPECT_NE(out.find("out"), std::string::npos) << out;
    // stdin EOF reaches the command: cat and wc end when their input does.
    auto [wc_code, wc_out] = exec("deployment/web", {"wc", "-c"}, "twelve bytes");
    EXPECT_EQ(wc_code, 0);
    EXPECT_EQ(trim(wc_out), "12");
    out = sh("printf 'piped in' | timeout 60 " + nh_cli() + "exec -i deployment/web -- cat", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "piped in");

    // nh terminal under a pty: the shell sees the terminal's size, and a resize.
    {
        PtyTerminal term(nh_cli() + "terminal deployment/web --shell sh", 24, 80);
        ASSERT_TRUE(term.ok());
        term.send("stty size; echo $((6*7))-ready\n");
        EXPECT_TRUE(term.expect("24 80")) << term.output();
        EXPECT_TRUE(term.expect("42-ready")) << term.output();
        term.resize(50, 132);
        std::this_thread::sleep_for(500ms);
        term.send("stty size; echo $((6*7))-resized\n");
        EXPECT_TRUE(term.expect("50 132")) << term.output();
        EXPECT_TRUE(term.expect("42-resized")) << term.output();
        term.send("pwd; exit 5\n");
        EXPECT_EQ(term.wait_exit(), 5) << term.output();
        EXPECT_NE(term.output().find("/home/nocalhost-dev"), std::string::npos) << term.output();
    }

    // The dev container killed: the kubelet restarts it in the same pod, the
    // synced files are still there (the emptyDir outlives the container), the
    // sync goes on, and the port-forward reaches the restarted server.
    int restarts = container_status(pod, "app").value("restartCount", 0);
    kill_container(pod, "app");
    ASSERT_TRUE(eventually(
        [&] {
            json p = dev_pod();
            json c = container_status(p, "app");
            return p.is_object() && p["metadata"]["uid"] == pod["metadata"]["uid"] &&
                   c.value("restartCount", 0) > restarts && c.value("ready", false);
        },
        60s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    EXPECT_EQ(exec_cat("deployment/web", "hello.txt"), "hello v2, edited\n");
    std::ofstream(src_ / "hello.txt") << "hello v3, after the dev container's restart\n";
    ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(exec_cat("deployment/web", "hello.txt"), "hello v3, after the dev container's restart\n");
    start_server();
    EXPECT_TRUE(eventually(
        [&] { return http_get(web.port, "/hello.txt") == "hello v3, after the dev container's restart\n"; }, 30s));

    // The sidecar killed: restarted by the kubelet, the sync reconnects and goes on.
    pod = dev_pod();
    restarts = container_status(pod, "nh-sync").value("restartCount", 0);
    kill_container(pod, "nh-sync");
    ASSERT_TRUE(eventually(
        [&] { return container_status(dev_pod(), "nh-sync").value("restartCount", 0) > restarts; }, 60s));
    std::ofstream(src_ / "hello.txt") << "hello v4, after the sidecar's restart\n";
    EXPECT_TRUE(eventually(
        [&] { return exec_cat("deployment/web", "hello.txt") == "hello v4, after the sidecar's restart\n"; }, 90s))
        << exec_cat("deployment/web", "hello.txt");

    // The dev pod deleted: a new pod with a new, empty volume; the loop finds it and syncs everything again.
    std::string old_pod = pod["metadata"]["name"];
    kubectl("-n " + ns_ + " delete pod " + old_pod + " --wait=false");
    ASSERT_TRUE(eventually(
        [&] {
            json p = dev_pod();
            return p.is_object() && p["metadata"]["name"] != old_pod && pods_ready("app=web", 1);
        },
        120s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    EXPECT_TRUE(eventually(
        [&] { return exec_cat("deployment/web", "sub/page.html") == "<p>synced page</p>\n"; }, 90s))
        << exec_cat("deployment/web", "sub/page.html");
    std::ofstream(src_ / "hello.txt") << "hello v5, in the new pod\n";
    EXPECT_TRUE(eventually(
        [&] { return exec_cat("deployment/web", "hello.txt") == "hello v5, in the new pod\n"; }, 60s));

    // dev end: the original back in place, same UID, 3 replicas Running and Ready behind the Service.
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_session_free(session);
    EXPECT_TRUE(eventually([&] { return pods_ready("app=web", 3); }, 120s)) << kubectl("-n " + ns_ + " get pods -o wide");
    EXPECT_EQ(kubectl("-n " + ns_ + " get deployment web -o jsonpath='{.metadata.uid}'"), uid);
    EXPECT_EQ(kubectl("-n " + ns_ + " get deployment web -o jsonpath='{.spec.template.spec.containers[*].image}'"),
              app_image_);
    EXPECT_TRUE(eventually([&] { return ready_endpoints() == 3; }, 30s));
    Forward app(client_, "deployment/web", ":8080");
    ASSERT_GT(app.port, 0) << nh_error_last()->message;
    EXPECT_EQ(http_get(app.port, "/"), "<h1>the app image</h1>\n");
}

// Every workload kind, and duplicate mode, on real pods: dev start with the
// real sidecar, a synced file read in the dev container, dev end restoring
// the workload's own pods Running and Ready.
class RealPodsKinds : public RealPods, public ::testing::WithParamInterface<std::string> {};

TEST_P(RealPodsKinds, DevStartSyncsAndDevEndRestores) {
    std::string param = GetParam();
    bool duplicate = param == "deployment-duplicate";
    std::string kind = duplicate ? "deployment" : param;
    std::string name = "w" + kind.substr(0, 3);
    int replicas = kind == "deployment" || kind == "statefulset" || kind == "replicaset" ? 2 : 1;
    apply(workload_yaml(kind, name, replicas));
    size_t before_n = kind == "cronjob" ? 0 : static_cast<size_t>(replicas);
    ASSERT_TRUE(eventually([&] { return kind == "cronjob" || pods_ready("app=" + name, before_n); }, 120s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    std::string uid = kubectl("-n " + ns_ + " get " + kind + " " + name + " -o jsonpath='{.metadata.uid}'");
    std::vector<std::string> pod_uids;
    for (auto &p : pods("app=" + name)) pod_uids.push_back(p["metadata"]["uid"]);

    nh_session *session = dev_start(kind, name, duplicate ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE);
    ASSERT_NE(session, nullptr);
    json pod = dev_pod();
    ASSERT_TRUE(pod.is_object());
    EXPECT_EQ(pod["spec"]["nodeName"], node_);
    // The dev pod itself, by name: the target's pods may include the originals in duplicate mode.
    std::string target = "pod/" + pod["metadata"]["name"].get<std::string>();
    EXPECT_EQ(exec_cat(target, "hello.txt"), "hello v1\n");
    std::ofstream(src_ / "hello.txt") << "hello " << param << "\n";
    ASSERT_EQ(nh_sync_flush(nh_session_sync(session), 30000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(exec_cat(target, "hello.txt"), "hello " + param + "\n");
    if (duplicate) {
        // The original keeps serving, untouched: the same pods, still Ready.
        std::vector<std::string> now;
        for (auto &p : pods("app=" + name)) now.push_back(p["metadata"]["uid"]);
        EXPECT_EQ(now, pod_uids);
        EXPECT_TRUE(pods_ready("app=" + name, before_n));
    }

    nh_dev_end_options eo = NH_DEV_END_OPTIONS_INIT;
    eo.mode = duplicate ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE;
    eo.developer = "real@test";
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, kind.c_str(), name.c_str(), &eo), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_session_free(session);
    EXPECT_TRUE(eventually([&] { return !dev_pod().is_object(); }, 60s)) << kubectl("-n " + ns_ + " get pods -o wide");
    if (kind != "cronjob") {
        EXPECT_TRUE(eventually([&] { return pods_ready("app=" + name, before_n); }, 120s))
            << kubectl("-n " + ns_ + " get pods -o wide");
    }
    if (kind == "pod") {
        // A bare Pod comes back as a new pod of the same definition.
        EXPECT_EQ(kubectl("-n " + ns_ + " get pod " + name + " -o jsonpath='{.spec.containers[0].image}'"), app_image_);
    } else {
        EXPECT_EQ(kubectl("-n " + ns_ + " get " + kind + " " + name + " -o jsonpath='{.metadata.uid}'"), uid);
    }
    if (duplicate) {
        std::vector<std::string> now;
        for (auto &p : pods("app=" + name)) now.push_back(p["metadata"]["uid"]);
        EXPECT_EQ(now, pod_uids);
    }
}

INSTANTIATE_TEST_SUITE_P(Kinds, RealPodsKinds,
                         ::testing::Values("deployment-duplicate", "statefulset", "replicaset", "daemonset", "job",
                                           "cronjob", "pod"),
                         [](const ::testing::TestParamInfo<std::string> &p) {
                             std::string s = p.param;
                             for (auto &c : s)
                                 if (c == '-') c = '_';
                             return s;
                         });
