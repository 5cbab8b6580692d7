// The whole dev loop end to end on the real test cluster: dev start with a
// local directory (forward to the sidecar, first full sync), an edit shows
// up in the dev container through `exec cat`, and dev end stops the sync
// and restores the workload. kwok runs no containers, so the test plays the
// kubelet's part for the sidecar: it starts nhsyncd locally with the command
// and environment the library put into the pod spec, a temp dir standing for
// the shared volume, and kwok ClusterPortForward / ClusterExec objects that
// send the pod's sync port and execs to it.
#include "loop_fixture.hpp"

using namespace nh::test;

TEST_F(Loop, DevStartWithALocalDirSyncsAndEditsReachTheContainer) {
    Phases phases;
    nh_session *session = nullptr;
    int rc = NH_ERROR;
    std::string err;
    std::string src = src_.string();
    std::thread starter([&] {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = "registry.example/dev:latest";
        o.local_dir = src.c_str();
        o.timeout_ms = 120000;
        o.events = on_dev_event;
        o.payload = &phases;
        rc = nh_dev_start(&session, client_, "deployment", "web", &o);
        if (rc != NH_OK) err = nh_error_last()->message;
    });
    start_sidecar_when_ready();
    starter.join();
    ASSERT_EQ(rc, NH_OK) << err;
    ASSERT_NE(session, nullptr);
    // The start reported the whole loop and returned only after the first full sync.
    auto has = [&](const char *p) { return std::find(phases.seen.begin(), phases.seen.end(), p) != phases.seen.end(); };
    EXPECT_TRUE(has("ready") && has("forward") && has("sync") && has("synced"));
    EXPECT_EQ(nh::test::read_file(remote_ / "hello.txt"), "hello v1\n");
    EXPECT_EQ(nh::test::read_file(remote_ / "sub" / "deep" / "a b ü.txt"), "nested\n");

    // Seen from the dev container through the API server.
    EXPECT_EQ(exec_cat("hello.txt"), "hello v1\n");

    // A live edit arrives in the container.
    nh_sync *sync = nh_session_sync(session);
    ASSERT_NE(sync, nullptr);
    auto t0 = std::chrono::steady_clock::now();
    std::ofstream(src_ / "hello.txt") << "hello v2, edited\n";
    std::string seen;
    while (std::chrono::steady_clock::now() - t0 < 10s) {
        seen = nh::test::read_file(remote_ / "hello.txt");
        if (seen == "hello v2, edited\n") break;
        std::this_thread::sleep_for(2ms);
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(seen, "hello v2, edited\n");
    RecordProperty("edit_to_visible_ms", std::to_string(ms));
    EXPECT_EQ(nh_sync_flush(sync, 10000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(exec_cat("hello.txt"), "hello v2, edited\n");

    // A delete arrives too.
    fs::remove(src_ / "sub" / "deep" / "a b ü.txt");
    EXPECT_EQ(nh_sync_flush(sync, 10000, nullptr), NH_OK);
    EXPECT_FALSE(fs::exists(remote_ / "sub" / "deep" / "a b ü.txt"));

    // Ending dev mode stops the sync first, then restores the workload.
    int result = -1;
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(result, NH_DEV_END_RESTORED);
    nh_sync_status st = NH_SYNC_STATUS_INIT;
    ASSERT_EQ(nh_sync_status_get(&st, sync), NH_OK);
    EXPECT_EQ(st.state, NH_SYNC_STOPPED);
    std::ofstream(src_ / "after-end.txt") << "not synced\n";
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(fs::exists(remote_ / "after-end.txt"));
    auto d = json::parse(kubectl("-n " + ns_ + " get deployment web -o json"));
    EXPECT_EQ(d["spec"]["replicas"], 3);
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"].size(), 1u);
    nh_session_free(session);
}

TEST_F(Loop, AnUnreachableSidecarFailsTheStartAndRollsBack) {
    // No sync server ever answers on the forwarded port: the start must fail clearly
    // and leave the workload as it was.
    std::string before = kubectl("-n " + ns_ + " get deployment web -o jsonpath='{.metadata.uid} {.spec.replicas}'");
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:latest";
    std::string src = src_.string();
    o.local_dir = src.c_str();
    o.timeout_ms = 4000;
    nh_session *session = nullptr;
    int rc = nh_dev_start(&session, client_, "deployment", "web", &o);
    EXPECT_NE(rc, NH_OK);
    EXPECT_EQ(session, nullptr);
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("first sync"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rolled back"), std::string::npos) << msg;
    std::string after;
    for (int i = 0; i < 50; ++i) {
        after = kubectl("-n " + ns_ + " get deployment web -o jsonpath='{.metadata.uid} {.spec.replicas}'");
        if (after == before) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(after, before);
    std::string status;
    nh_buf buf = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&buf, client_, "deployment", "web", nullptr), NH_OK);
    status = buf.ptr;
    nh_buf_dispose(&buf);
    EXPECT_EQ(status.find("\"in_dev_mode\":true"), std::string::npos) << status;
}

namespace {

// A free local port (nothing listens on it when this returns).
int free_port() {
    int port = 0;
    close(nh::test::listen_loopback(&port));
    return port;
}

// Sends `text` to 127.0.0.1:port and returns what comes back (up to its length), "" on failure.
std::string echo_through(int port, const std::string &text) {
    int fd = nh::test::connect_loopback(port);
    if (fd < 0) return "";
    std::string got;
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())) {
        char buf[256];
        ssize_t n;
        while (got.size() < text.size() && (n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return got;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < limit) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return f();
}

}  // namespace

TEST_F(Loop, TheNocalhostConfigDrivesTheSyncThePortForwardsAndTheCommands) {
    // A project set up for Nocalhost: two-way sync with ignore patterns and delete
    // protection, an app port forwarded with the session, build and debug commands.
    int app_port = free_port(), debug_port = free_port();
    fs::path project = fs::path(local_.path()) / "project";
    fs::create_directories(project / ".nocalhost");
    std::string config =
        "name: web\nserviceType: deployment\ncontainers:\n- name: app\n  dev:\n"
        "    image: registry.example/dev:latest\n"
        "    workDir: " + remote_.string() + "\n"
        "    shell: echo shell-from-config\n"
        "    sync:\n      type: sendReceive\n      mode: pattern\n"
        "      filePattern: [\".\"]\n      ignoreFilePattern: [\"*.log\", \"./build\"]\n      deleteProtection: true\n"
        "    portForward: [\"" + std::to_string(app_port) + ":8080\"]\n"
        "    command:\n"
        "      build: [\"sh\", \"-c\", \"echo built > built.txt && echo build-ok\"]\n"
        "      debug: [\"python3\", \"-c\", \"import socket,sys; s=socket.create_connection(('127.0.0.1', "
        "int(sys.argv[1]))); s.sendall(b'ping'); print('debug-echo:', s.recv(4).decode())\", \"" +
        std::to_string(debug_port) + "\"]\n"
        "    debug:\n      remoteDebugPort: 8080\n";
    nh::test::write_file(project / ".nocalhost" / "config.yaml", config);
    std::ofstream(src_ / "app.log") << "log lines\n";
    fs::create_directories(src_ / "build");
    std::ofstream(src_ / "build" / "out.o") << "object\n";

    std::vector<std::string> messages;
    nh_session *session = nullptr;
    int rc = NH_ERROR;
    std::string err;
    std::string src = src_.string(), cfg = project.string();
    std::thread starter([&] {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;  // no image: the config has it
        o.config_path = cfg.c_str();
        o.local_dir = src.c_str();
        o.timeout_ms = 120000;
        o.events = [](int, const char *phase, const char *message, const char *, void *p) {
            static_cast<std::vector<std::string> *>(p)->push_back(std::string(phase) + ": " + message);
            return 0;
        };
        o.payload = &messages;
        rc = nh_dev_start(&session, client_, "deployment", "web", &o);
        if (rc != NH_OK) err = nh_error_last()->message;
    });
    start_sidecar_when_ready();
    starter.join();
    ASSERT_EQ(rc, NH_OK) << err;
    std::string all;
    for (auto &m : messages) all += m + "\n";
    EXPECT_NE(all.find("from the Nocalhost config: two-way, 2 ignore patterns, delete protection"), std::string::npos)
        << all;

    // sync.ignoreFilePattern: ignored files stay local.
    EXPECT_EQ(nh::test::read_file(remote_ / "hello.txt"), "hello v1\n");
    EXPECT_FALSE(fs::exists(remote_ / "app.log"));
    EXPECT_FALSE(fs::exists(remote_ / "build" / "out.o"));

    // portForward: started with the session, reported in its status, reaching the pod's port.
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_session_status(&b, session), NH_OK);
    json st = json::parse(b.ptr);
    nh_buf_dispose(&b);
    ASSERT_EQ(st["port_forwards"].size(), 1u) << st.dump();
    EXPECT_EQ(st["port_forwards"][0]["local_port"], app_port);
    EXPECT_EQ(st["port_forwards"][0]["remote_port"], 8080);
    EXPECT_EQ(echo_through(app_port, "hello app"), "hello app");

    // sync.type sendReceive: a file made in the container comes back.
    std::ofstream(remote_ / "generated.txt") << "from the container\n";
    EXPECT_TRUE(eventually([&] { return nh::test::read_file(src_ / "generated.txt") == "from the container\n"; }))
        << "a file made in the container never reached the local dir";

    // sync.deleteProtection: deleting in the container does not delete the local file,
    // which is sent back.
    fs::remove(remote_ / "hello.txt");
    EXPECT_TRUE(eventually([&] { return fs::exists(remote_ / "hello.txt"); }))
        << "the local copy was not sent back after a delete in the container";
    EXPECT_EQ(nh::test::read_file(src_ / "hello.txt"), "hello v1\n");

    // nh dev run build: the config's command, in the work dir of the dev container.
    std::string nh = std::string(NH_CLI_PATH) + " --kubeconfig '" + kubeconfig_ + "' -n " + ns_ + " ";
    int code = -1;
    std::string out = sh(nh + "dev run build deployment/web </dev/null", &code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("build-ok"), std::string::npos) << out;
    EXPECT_EQ(nh::test::read_file(remote_ / "built.txt"), "built\n");

    // nh dev run debug: the debug port is forwarded while the command runs.
    out = sh(nh + "dev run debug deployment/web --local-port " + std::to_string(debug_port) + " </dev/null", &code);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("debugger: attach to 127.0.0.1:" + std::to_string(debug_port)), std::string::npos) << out;
    EXPECT_NE(out.find("debug-echo: ping"), std::string::npos) << out;

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
    EXPECT_EQ(echo_through(app_port, "x"), "");
    nh_session_free(session);
}
