// The fixture of the real-pod tests: a namespace of their own, workloads whose
// pods land on the test cluster's real node (scripts/test-cluster up --real-node:
// a kubelet and containerd) with the test images, and the ways a test looks at
// them: exec through the C ABI, port-forwards, kubectl, and containerd's ctr to
// kill a container as a crash would.
#pragma once

#include <gtest/gtest.h>
#include <nocalhost.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster_env.hpp"
#include "net.hpp"
#include "test_support.hpp"

namespace nh::test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string sh(const std::string &cmd, int *rc = nullptr) { return nh::test::shell(cmd + " 2>&1", rc); }

inline std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && s[i] == ' ') ++i;
    return s.substr(i);
}

template <class F>
bool eventually(F f, std::chrono::milliseconds limit) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < limit) {
        if (f()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return f();
}

// GET `path` from 127.0.0.1:port with HTTP/1.0; the body, or "" on any failure.
inline std::string http_get(int port, const std::string &path) {
    int fd = nh::test::connect_loopback(port);
    if (fd < 0) return "";
    timeval tv{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    std::string got;
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    if (got.rfind("HTTP/1.", 0) != 0 || got.find(" 200 ") == std::string::npos) return "";
    auto body = got.find("\r\n\r\n");
    return body == std::string::npos ? "" : got.substr(body + 4);
}

#define NH_REQUIRE_REAL_NODE()                                                                     \
    do {                                                                                           \
        NH_REQUIRE_CLUSTER("NH_TEST_KUBECONFIG");                                                  \
        ASSERT_FALSE(::nh::test::cluster_env("NH_TEST_REAL_NODE").empty())                         \
            << "NH_TEST_REAL_NODE is not set: start the cluster with scripts/test-cluster up "     \
               "--real-node and source <(scripts/test-cluster env), or set NH_SKIP_CLUSTER_TESTS=1"; \
    } while (0)

class RealPods : public ::testing::Test {
protected:
    void SetUp() override {
        NH_REQUIRE_REAL_NODE();
        kubeconfig_ = nh::test::cluster_env("NH_TEST_KUBECONFIG");
        node_ = nh::test::cluster_env("NH_TEST_REAL_NODE");
        taint_ = nh::test::cluster_env("NH_TEST_REAL_TAINT");
        app_image_ = nh::test::cluster_env("NH_TEST_IMAGE_APP");
        dev_image_ = nh::test::cluster_env("NH_TEST_IMAGE_DEV");
        sidecar_image_ = nh::test::cluster_env("NH_TEST_IMAGE_SIDECAR");
        containerd_ = nh::test::cluster_env("NH_TEST_CONTAINERD_ADDRESS");
        ASSERT_FALSE(app_image_.empty() || dev_image_.empty() || sidecar_image_.empty() || containerd_.empty());
        ASSERT_GE(nh_init(), 1);
        static int counter = 0;
        ns_ = "nh-real-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
        src_ = fs::path(local_.path()) / "src";
        fs::create_directories(src_ / "sub");
        std::ofstream(src_ / "hello.txt") << "hello v1\n";
        std::ofstream(src_ / "sub" / "page.html") << "<p>synced page</p>\n";
        apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns_ + "}\n");
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        o.kubeconfig = kubeconfig_.c_str();
        o.namespace_name = ns_.c_str();
        ASSERT_EQ(nh_client_new(&client_, &o), NH_OK) << nh_error_last()->message;
    }

    void TearDown() override {
        nh_client_free(client_);
        if (!ns_.empty() && !kubeconfig_.empty()) kubectl("delete namespace " + ns_ + " --wait=false");
        nh_shutdown();
    }

    std::string kubectl(const std::string &args, int *rc = nullptr) {
        return sh("kubectl --kubeconfig '" + kubeconfig_ + "' --request-timeout=30s " + args, rc);
    }
    std::string nh_cli() const {
        return std::string(NH_CLI_PATH) + " --kubeconfig '" + kubeconfig_ + "' -n " + ns_ + " ";
    }

    void apply(const std::string &yaml) {
        static int n = 0;
        std::string file = local_ / ("objects-" + std::to_string(++n) + ".yaml");
        nh::test::write_file(file, yaml);
        int rc = 0;
        std::string out = kubectl("apply -f '" + file + "'", &rc);
        ASSERT_EQ(rc, 0) << out;
    }

    // A pod spec that lands on the real node only, running the app image:
    // busybox httpd on :8080, Ready when /healthz answers.
    std::string pod_spec(const std::string &indent, const std::string &restart = "Always") const {
        const std::string &i = indent;
        return i + "nodeSelector: {" + taint_ + ": \"true\"}\n" +
               i + "tolerations: [{key: " + taint_ + ", operator: Exists, effect: NoSchedule}]\n" +
               i + "terminationGracePeriodSeconds: 1\n" + i + "restartPolicy: " + restart + "\n" +
               i + "containers:\n" + i + "- name: app\n" + i + "  image: " + app_image_ + "\n" +
               i + "  ports: [{containerPort: 8080}]\n" +
               i + "  readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}\n";
    }

    std::string workload_yaml(const std::string &kind, const std::string &name, int replicas = 1) const {
        std::string md = "metadata: {name: " + name + ", namespace: " + ns_ + "}\n";
        std::string tpl = "    metadata: {labels: {app: " + name + "}}\n    spec:\n";
        std::string sel = "  selector: {matchLabels: {app: " + name + "}}\n";
        if (kind == "deployment")
            return "apiVersion: apps/v1\nkind: Deployment\n" + md + "spec:\n  replicas: " + std::to_string(replicas) +
                   "\n" + sel + "  template:\n" + tpl + pod_spec("      ");
        if (kind == "statefulset")
            return "apiVersion: apps/v1\nkind: StatefulSet\n" + md + "spec:\n  serviceName: " + name +
                   "\n  replicas: " + std::to_string(replicas) + "\n" + sel + "  template:\n" + tpl + pod_spec("      ");
        if (kind == "replicaset")
            return "apiVersion: apps/v1\nkind: ReplicaSet\n" + md + "spec:\n  replicas: " + std::to_string(replicas) +
                   "\n" + sel + "  template:\n" + tpl + pod_spec("      ");
        if (kind == "daemonset")
            return "apiVersion: apps/v1\nkind: DaemonSet\n" + md + "spec:\n" + sel + "  template:\n" + tpl +
                   pod_spec("      ");
        if (kind == "job")
            return "apiVersion: batch/v1\nkind: Job\n" + md + "spec:\n  backoffLimit: 0\n  template:\n" + tpl +
                   pod_spec("      ", "Never");
        if (kind == "cronjob")
            return "apiVersion: batch/v1\nkind: CronJob\n" + md +
                   "spec:\n  schedule: '0 0 1 1 *'\n  jobTemplate:\n    spec:\n      template:\n"
                   "        metadata: {labels: {app: " + name + "}}\n        spec:\n" +
                   pod_spec("          ", "Never");
        if (kind == "pod")
            return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns_ +
                   ", labels: {app: " + name + "}}\nspec:\n" + pod_spec("  ");
        ADD_FAILURE() << "unknown kind " << kind;
        return "";
    }

    // The pods matching `selector` (all when empty) that have not ended, as JSON items.
    json pods(const std::string &selector) {
        auto j = json::parse(kubectl("-n " + ns_ + " get pods " + (selector.empty() ? "" : "-l '" + selector + "' ") +
                                     "-o json"),
                             nullptr, false);
        json live = json::array();
        if (j.is_object())
            for (auto &p : j["items"])
                if (p["status"].value("phase", "") != "Succeeded" && p["status"].value("phase", "") != "Failed")
                    live.push_back(p);
        return live;
    }

    // `n` pods matching `selector`, all Running and Ready on the real node, none terminating.
    bool pods_ready(const std::string &selector, size_t n) {
        json items = pods(selector);
        size_t ready = 0;
        for (auto &p : items) {
            if (p["metadata"].contains("deletionTimestamp")) return false;
            if (p["spec"].value("nodeName", "") != node_ || p["status"].value("phase", "") != "Running") continue;
            for (auto &c : p["status"].value("conditions", json::array()))
                if (c.value("type", "") == "Ready" && c.value("status", "") == "True") ++ready;
        }
        return items.size() == n && ready == n;
    }

    // The dev pod: the one pod (not terminating) with the sync sidecar.
    json dev_pod() {
        json found;
        for (auto &p : pods("")) {
            if (p["metadata"].contains("deletionTimestamp")) continue;
            for (auto &c : p["spec"]["containers"])
                if (c.value("name", "") == "nh-sync") found = p;
        }
        return found;
    }

    static json container_status(const json &pod, const std::string &name) {
        for (auto &c : pod["status"].value("containerStatuses", json::array()))
            if (c.value("name", "") == name) return c;
        return json();
    }

    // Kill a container's process the way a crash would (SIGKILL from the node).
    void kill_container(const json &pod, const std::string &name) {
        std::string id = container_status(pod, name).value("containerID", "");
        ASSERT_EQ(id.rfind("containerd://", 0), 0u) << id;
        int rc = 0;
        std::string out = sh("ctr --address '" + containerd_ + "' -n k8s.io tasks kill -s SIGKILL " +
                                 id.substr(strlen("containerd://")),
                             &rc);
        ASSERT_EQ(rc, 0) << out;
    }

    // `argv` in the target's container through the C ABI: {exit code, stdout}; code -1 when it could not run.
    std::pair<int, std::string> exec(const std::string &target, std::vector<const char *> argv,
                                     const std::string &stdin_data = "", const char *container = nullptr) {
        argv.push_back(nullptr);
        nh_buf out = NH_BUF_INIT, err = NH_BUF_INIT;
        int code = -1;
        nh_exec_options o = NH_EXEC_OPTIONS_INIT;
        o.container = container;
        int rc = nh_exec_run(&out, &err, &code, client_, target.c_str(), argv.data(),
                             stdin_data.empty() ? nullptr : stdin_data.data(), stdin_data.size(), &o);
        std::string s = out.ptr ? std::string(out.ptr, out.size) : "";
        if (rc != NH_OK) {
            s = std::string("<exec failed: ") + nh_error_last()->message + ">";
            code = -1;
        }
        nh_buf_dispose(&out);
        nh_buf_dispose(&err);
        return {code, s};
    }
    std::string exec_cat(const std::string &target, const std::string &path) {
        auto [code, out] = exec(target, {"cat", path.c_str()});
        return code == 0 ? out : "<exit " + std::to_string(code) + ": " + out + ">";
    }

    nh_session *dev_start(const std::string &kind, const std::string &name, int mode = NH_DEV_MODE_REPLACE) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = dev_image_.c_str();
        o.sidecar_image = sidecar_image_.c_str();
        std::string src = src_.string();
        o.local_dir = src.c_str();
        o.mode = mode;
        o.developer = "real@test";
        o.timeout_ms = 180000;
        nh_session *s = nullptr;
        int rc = nh_dev_start(&s, client_, kind.c_str(), name.c_str(), &o);
        EXPECT_EQ(rc, NH_OK) << nh_error_last()->message << "\n"
                             << kubectl("-n " + ns_ + " get pods -o wide") << kubectl("-n " + ns_ + " get events");
        return rc == NH_OK ? s : nullptr;
    }

    nh::test::TempDir local_;
    fs::path src_;
    std::string kubeconfig_, ns_, node_, taint_, app_image_, dev_image_, sidecar_image_, containerd_;
    nh_client *client_ = nullptr;
};

// A forward of one port of `target`, freed with the object.
struct Forward {
    nh_forward *fwd = nullptr;
    int port = 0;
    Forward(nh_client *c, const std::string &target, const std::string &spec) {
        const char *ports[] = {spec.c_str(), nullptr};
        if (nh_forward_start(&fwd, c, target.c_str(), ports, nullptr) == NH_OK) port = nh_forward_local_port(fwd, 0);
    }
    ~Forward() { nh_forward_free(fwd); }
    Forward(const Forward &) = delete;
    Forward &operator=(const Forward &) = delete;
};

}  // namespace nh::test
