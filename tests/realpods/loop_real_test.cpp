// The dev loop's own behaviour on real containers, beyond the whole-loop test
// of realpods_test.cpp: the phases a start reports, nested and non-ASCII paths,
// deletes, a sidecar that never answers, the Nocalhost dev config driving the
// sync, the port-forwards and the commands, and the sync across an outage of the
// API server. The real node's kubelet runs the dev container and the real sync
// sidecar with a real emptyDir between them; nothing of the kubelet is played.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "apiserver_outage.hpp"
#include "dev/workload.hpp"
#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

struct Phases {
    std::vector<std::string> seen, messages;
    static int cb(int type, const char *phase, const char *message, const char *, void *p) {
        auto *self = static_cast<Phases *>(p);
        if (type == NH_DEV_EVENT_PHASE) self->seen.push_back(phase);
        self->messages.push_back(std::string(phase) + ": " + message);
        return 0;
    }
    // The position of the first `phase` seen, or -1.
    long at(const std::string &phase) const {
        auto it = std::find(seen.begin(), seen.end(), phase);
        return it == seen.end() ? -1 : it - seen.begin();
    }
    std::string all() const {
        std::string s;
        for (auto &m : messages) s += m + "\n";
        return s;
    }
};

// Everything 127.0.0.1:port sends until it closes (at most 10 s of silence), "" when nothing answers.
std::string read_from(int port) {
    int fd = nh::test::connect_loopback(port);
    if (fd < 0) return "";
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string got;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    close(fd);
    return got;
}

}  // namespace

class RealLoop : public RealPods {
protected:
    // The workload as the API server has it, for an exact comparison after dev mode.
    json deployment(const std::string &name) {
        return json::parse(kubectl("-n " + ns_ + " get deployment " + name + " -o json"), nullptr, false);
    }
    // Same object, same content, and no session record or lock left behind.
    void expect_restored_exactly(const std::string &name, const json &before) {
        json after = deployment(name);
        EXPECT_EQ(after["metadata"]["uid"], before["metadata"]["uid"]);
        EXPECT_EQ(nh::dev::clean_object(after), nh::dev::clean_object(before))
            << json::diff(nh::dev::clean_object(before), nh::dev::clean_object(after)).dump();
        std::string object = nh::dev::session_object_name(nh::dev::Kind::Deployment, name);
        EXPECT_EQ(kubectl("-n " + ns_ + " get secret,lease " + object + " --ignore-not-found -o name"), "");
    }
    // Exit code of `argv` in the dev container (-1 when it could not run).
    int exec_code(std::vector<const char *> argv) { return exec("deployment/web", std::move(argv)).first; }
};

TEST_F(RealLoop, DevStartReportsThePhasesAndSyncsNestedPathsEditsAndDeletes) {
    apply(workload_yaml("deployment", "web", 2));
    fs::create_directories(src_ / "sub" / "deep");
    std::ofstream(src_ / "sub" / "deep" / "a b ü.txt") << "nested\n";

    Phases phases;
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = dev_image_.c_str();
    o.sidecar_image = sidecar_image_.c_str();
    std::string src = src_.string();
    o.local_dir = src.c_str();
    o.timeout_ms = 180000;
    o.events = Phases::cb;
    o.payload = &phases;
    nh_session *session = nullptr;
    ASSERT_EQ(nh_dev_start(&session, client_, "deployment", "web", &o), NH_OK)
        << nh_error_last()->message << "\n" << kubectl("-n " + ns_ + " get pods -o wide");
    // The start reported the whole loop, in order, and returned only after the first full sync.
    EXPECT_GE(phases.at("ready"), 0) << phases.all();
    EXPECT_GT(phases.at("forward"), phases.at("ready")) << phases.all();
    EXPECT_GT(phases.at("sync"), phases.at("forward")) << phases.all();
    EXPECT_GT(phases.at("synced"), phases.at("sync")) << phases.all();
    EXPECT_EQ(exec_cat("deployment/web", "sub/deep/a b ü.txt"), "nested\n");
    EXPECT_EQ(exec_cat("deployment/web", "hello.txt"), "hello v1\n");

    // A live edit shows up in the dev container without anyone flushing.
    nh_sync *sync = nh_session_sync(session);
    ASSERT_NE(sync, nullptr);
    auto t0 = std::chrono::steady_clock::now();
    std::ofstream(src_ / "hello.txt") << "hello v2, edited\n";
    EXPECT_TRUE(eventually([&] { return exec_cat("deployment/web", "hello.txt") == "hello v2, edited\n"; }, 20s))
        << exec_cat("deployment/web", "hello.txt");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    RecordProperty("edit_to_visible_in_container_ms", std::to_string(ms));

    // A delete, of a nested non-ASCII path, arrives too; its siblings stay.
    fs::remove(src_ / "sub" / "deep" / "a b ü.txt");
    ASSERT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(exec_code({"test", "-e", "sub/deep/a b ü.txt"}), 1);
    EXPECT_EQ(exec_code({"test", "-d", "sub/deep"}), 0);
    EXPECT_EQ(exec_cat("deployment/web", "sub/page.html"), "<p>synced page</p>\n");

    // Ending dev mode stops the sync, then restores the workload.
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_sync_status st = NH_SYNC_STATUS_INIT;
    ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
    EXPECT_EQ(st.state, NH_SYNC_STOPPED);
    nh_session_free(session);
    json d = deployment("web");
    EXPECT_EQ(d["spec"]["replicas"], 2);
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"].size(), 1u);
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], app_image_);
}

TEST_F(RealLoop, ASidecarImageWithoutNhsyncdFailsTheStartBeforeAnythingChanges) {
    // The sidecar image given is the dev image: it has no nhsyncd, so the sidecar container
    // would never run and nothing would ever listen on the sync port. The image check finds it
    // before the workload changes.
    apply(workload_yaml("deployment", "web", 1));
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    json original = deployment("web");

    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = dev_image_.c_str();
    o.sidecar_image = dev_image_.c_str();
    std::string src = src_.string();
    o.local_dir = src.c_str();
    o.timeout_ms = 180000;
    nh_session *session = nullptr;
    auto t0 = std::chrono::steady_clock::now();
    int rc = nh_dev_start(&session, client_, "deployment", "web", &o);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(rc, NH_OK);
    EXPECT_EQ(session, nullptr);
    std::string msg = nh_error_last()->message;
    // Clear: it names the sidecar image, what it could not run and the ways out, and says the
    // workload was not touched.
    EXPECT_EQ(rc, NH_EINVAL) << msg;
    EXPECT_NE(msg.find("the sidecar image " + dev_image_ + " does not run `nhsyncd --version`"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("nh sidecar image"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was changed"), std::string::npos) << msg;
    // And it says so as soon as the kubelet reports the failure, not at the timeout.
    EXPECT_LT(took, 90.0) << msg;
    RecordProperty("failed_start_s", std::to_string(took));

    expect_restored_exactly("web", original);
    nh_buf buf = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&buf, client_, "deployment", "web", nullptr), NH_OK);
    std::string status = buf.ptr;
    nh_buf_dispose(&buf);
    EXPECT_EQ(status.find("\"in_dev_mode\":true"), std::string::npos) << status;
    // The app serves again.
    EXPECT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    Forward app(client_, "deployment/web", ":8080");
    ASSERT_GT(app.port, 0) << nh_error_last()->message;
    EXPECT_EQ(http_get(app.port, "/"), "<h1>the app image</h1>\n");
}

TEST_F(RealLoop, TheNocalhostConfigDrivesTheSyncThePortForwardsAndTheCommands) {
    // A project set up for Nocalhost: the dev and sidecar images, a work dir of its
    // own, two-way sync with ignore patterns and delete protection, the app port
    // forwarded with the session, run, build and debug commands, a shell.
    apply(workload_yaml("deployment", "web", 1));
    int app_port = 0, debug_port = 0;
    close(nh::test::listen_loopback(&app_port));
    close(nh::test::listen_loopback(&debug_port));
    fs::path project = fs::path(local_.path()) / "project";
    fs::create_directories(project / ".nocalhost");
    std::string config =
        "name: web\nserviceType: deployment\ncontainers:\n- name: app\n  dev:\n"
        "    image: " + dev_image_ + "\n"
        "    sidecarImage: " + sidecar_image_ + "\n"
        "    workDir: /srv/app\n"
        "    shell: echo shell-from-config\n"
        "    sync:\n      type: sendReceive\n      mode: pattern\n"
        "      filePattern: [\".\"]\n      ignoreFilePattern: [\"*.log\", \"./build\"]\n      deleteProtection: true\n"
        "    portForward: [\"" + std::to_string(app_port) + ":8080\"]\n"
        "    command:\n"
        "      run: [\"httpd\", \"-p\", \"8080\", \"-h\", \".\"]\n"
        "      build: [\"sh\", \"-c\", \"echo built > built.txt && echo build-ok\"]\n"
        "      debug: [\"nc\", \"-l\", \"-p\", \"5005\", \"-e\", \"echo\", \"debugger attached\"]\n"
        "    debug:\n      remoteDebugPort: 5005\n";
    nh::test::write_file(project / ".nocalhost" / "config.yaml", config);
    std::ofstream(src_ / "app.log") << "log lines\n";
    fs::create_directories(src_ / "build");
    std::ofstream(src_ / "build" / "out.o") << "object\n";

    Phases phases;
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;  // no images: the config has them
    std::string src = src_.string(), cfg = project.string();
    o.config_path = cfg.c_str();
    o.local_dir = src.c_str();
    o.timeout_ms = 180000;
    o.events = Phases::cb;
    o.payload = &phases;
    nh_session *session = nullptr;
    ASSERT_EQ(nh_dev_start(&session, client_, "deployment", "web", &o), NH_OK)
        << nh_error_last()->message << "\n" << kubectl("-n " + ns_ + " get pods -o wide");
    EXPECT_NE(phases.all().find("from the Nocalhost config: two-way, 2 ignore patterns, delete protection"),
              std::string::npos)
        << phases.all();
    json pod = dev_pod();
    ASSERT_TRUE(pod.is_object());
    // The spec names the config's image; the status may name another tag of the same content
    // (the node reports an image by its ID), so the spec is what shows the config was used.
    std::string sidecar_spec_image;
    for (const auto &c : pod["spec"]["containers"])
        if (c.value("name", "") == "nh-sync") sidecar_spec_image = c.value("image", "");
    EXPECT_EQ(sidecar_spec_image, sidecar_image_) << pod["spec"].dump();
    EXPECT_TRUE(container_status(pod, "nh-sync").value("ready", false)) << pod["status"].dump();

    // The work dir is the config's; ignored files stay local.
    EXPECT_EQ(exec_cat("deployment/web", "/srv/app/hello.txt"), "hello v1\n");
    EXPECT_EQ(exec_code({"test", "-e", "/srv/app/app.log"}), 1);
    EXPECT_EQ(exec_code({"test", "-e", "/srv/app/build/out.o"}), 1);

    // command.run starts a server from the synced files; the config's portForward,
    // started with the session and reported in its status, reaches it.
    std::string nh = nh_cli();
    int code = -1;
    std::string out = sh(nh + "dev run run deployment/web </dev/null", &code);
    EXPECT_EQ(code, 0) << out;
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_session_status(&b, session), NH_OK);
    json st = json::parse(b.ptr);
    nh_buf_dispose(&b);
    ASSERT_EQ(st["port_forwards"].size(), 1u) << st.dump();
    EXPECT_EQ(st["port_forwards"][0]["local_port"], app_port);
    EXPECT_EQ(st["port_forwards"][0]["remote_port"], 8080);
    EXPECT_TRUE(eventually([&] { return http_get(app_port, "/hello.txt") == "hello v1\n"; }, 20s));
    EXPECT_EQ(http_get(app_port, "/app.log"), "") << "an ignored file is served by the dev container";
    std::ofstream(src_ / "hello.txt") << "hello v2, served\n";
    EXPECT_TRUE(eventually([&] { return http_get(app_port, "/hello.txt") == "hello v2, served\n"; }, 20s))
        << http_get(app_port, "/hello.txt");

    // command.build runs in the work dir; sync type sendReceive brings what it made back.
    out = sh(nh + "dev run build deployment/web </dev/null", &code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("build-ok"), std::string::npos) << out;
    EXPECT_TRUE(eventually([&] { return nh::test::read_file(src_ / "built.txt") == "built\n"; }, 20s))
        << "a file made in the container never reached the local dir";

    // sync.deleteProtection: a delete in the container does not delete the local
    // file, which is sent back.
    EXPECT_EQ(exec_code({"rm", "/srv/app/hello.txt"}), 0);
    EXPECT_TRUE(eventually(
        [&] { return exec_cat("deployment/web", "/srv/app/hello.txt") == "hello v2, served\n"; }, 20s))
        << "the local copy was not sent back after a delete in the container";
    EXPECT_EQ(nh::test::read_file(src_ / "hello.txt"), "hello v2, served\n");

    // command.debug: debug.remoteDebugPort is forwarded while the command runs; a
    // debugger attaching there reaches the command in the dev container.
    std::string debug_out;
    int debug_code = -1;
    std::thread debug([&] {
        // Bounded: when nothing ever attaches, nc in the dev container would wait for ever.
        debug_out = sh("timeout 60 " + nh + "dev run debug deployment/web --local-port " + std::to_string(debug_port) +
                           " </dev/null",
                       &debug_code);
    });
    std::string attached;
    eventually([&] { return (attached = read_from(debug_port)) == "debugger attached\n"; }, 30s);
    debug.join();
    EXPECT_EQ(attached, "debugger attached\n") << debug_out;
    EXPECT_EQ(debug_code, 0) << debug_out;
    EXPECT_NE(debug_out.find("debugger: attach to 127.0.0.1:" + std::to_string(debug_port)), std::string::npos)
        << debug_out;

    // nh terminal opens the config's dev.shell.
    out = sh(nh + "terminal deployment/web </dev/null", &code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("shell-from-config"), std::string::npos) << out;

    // A command the config lacks is a clear error.
    out = sh(nh + "dev run hot-reload-run deployment/web </dev/null", &code);
    EXPECT_NE(code, 0) << out;
    EXPECT_NE(out.find("no command.hotReloadRun"), std::string::npos) << out;

    // Ending dev mode stops the sync and the port-forwards.
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_session_free(session);
    int fd = nh::test::connect_loopback(app_port);
    EXPECT_LT(fd, 0) << "the config's port-forward outlived dev mode";
    if (fd >= 0) close(fd);
}

// The dev loop while the API server goes away and comes back (scripts/test-cluster
// stop|start apiserver: every client of the cluster sees it, so it runs alone).
// The sync runs through a port-forward over the API server to the sidecar, so
// every byte of it stops with the server; edits made meanwhile must arrive once
// it is back, without the caller doing anything, and dev end must then restore
// exactly. The dev container is read from the node, through containerd, while the
// API server cannot be asked.
TEST_F(RealLoop, TheSyncReconnectsAfterTheApiServerCameBackAndLosesNoEdit) {
    apply(workload_yaml("deployment", "web", 1));
    fs::create_directories(src_ / "sub" / "deep");
    std::ofstream(src_ / "sub" / "deep" / "a b ü.txt") << "nested\n";
    json original = deployment("web");
    nh_session *session = dev_start("deployment", "web");
    ASSERT_NE(session, nullptr);
    nh_sync *sync = nh_session_sync(session);
    ASSERT_NE(sync, nullptr);
    json pod = dev_pod();
    std::string id = container_status(pod, "app").value("containerID", "");
    ASSERT_EQ(id.rfind("containerd://", 0), 0u) << pod.dump();
    id = id.substr(strlen("containerd://"));
    // A file of the work dir as the dev container sees it, asked of containerd on the node.
    auto on_node = [&](const std::string &path) {
        static std::atomic<int> n{0};
        int rc = 0;
        std::string exec_id = "nh-look-" + std::to_string(getpid()) + "-" + std::to_string(++n);
        std::string out = nh::test::shell("ctr --address '" + containerd_ + "' -n k8s.io tasks exec --exec-id " +
                                              exec_id + " " + id + " cat '/home/nocalhost-dev/" + path +
                                              "' 2>/dev/null",
                                          &rc);
        return rc == 0 ? out : std::string("<missing>");
    };
    ASSERT_EQ(on_node("hello.txt"), "hello v1\n");
    ASSERT_EQ(on_node("sub/deep/a b ü.txt"), "nested\n");

    {
        ApiServerOutage outage;
        outage.stop();
        ASSERT_TRUE(outage.happened());
        // Edits while the server is away: a change, a new file, a delete.
        std::ofstream(src_ / "hello.txt") << "hello v2, written while the API server was down\n";
        std::ofstream(src_ / "new while down.txt") << "new\n";
        fs::remove(src_ / "sub" / "deep" / "a b ü.txt");
        std::this_thread::sleep_for(2s);
        EXPECT_EQ(on_node("hello.txt"), "hello v1\n") << "synced without the API server?";
        outage.back();
        ASSERT_TRUE(outage.came_back());

        auto arrived = [&] {
            return on_node("hello.txt") == "hello v2, written while the API server was down\n" &&
                   on_node("new while down.txt") == "new\n" && on_node("sub/deep/a b ü.txt") == "<missing>";
        };
        auto limit = std::chrono::steady_clock::now() + 90s;
        while (!arrived() && std::chrono::steady_clock::now() < limit) std::this_thread::sleep_for(100ms);
        double took = outage.after_back(std::chrono::steady_clock::now());
        std::fprintf(stderr,
                     "[faults] sync on real pods: down %.1f s; edits arrived %.1f s after the server "
                     "listened again\n",
                     outage.down_seconds(), took);
        RecordProperty("sync_caught_up_after_back_s", std::to_string(took));
        ASSERT_TRUE(arrived()) << "the edits made while the API server was down never arrived";
    }
    // And the loop keeps working: a later edit arrives, a flush confirms it, and the
    // dev container shows it through the API server again.
    std::ofstream(src_ / "hello.txt") << "hello v3\n";
    EXPECT_EQ(nh_sync_flush(sync, 30000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_TRUE(eventually([&] { return exec_cat("deployment/web", "hello.txt") == "hello v3\n"; }, 30s))
        << exec_cat("deployment/web", "hello.txt");
    nh_sync_status st = NH_SYNC_STATUS_INIT;
    ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
    EXPECT_GE(st.reconnects, 1u);
    EXPECT_EQ(st.file_errors, 0u);

    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_session_free(session);
    expect_restored_exactly("web", original);
    // The node came through the outage too: the original pod runs and is Ready again.
    EXPECT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s))
        << kubectl("-n " + ns_ + " get pods -o wide");
}
