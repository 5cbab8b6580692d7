// The fixture of the end-to-end dev-loop tests: a namespace with a Deployment, kwok
// ClusterExec / ClusterPortForward objects that send the pod's execs and ports to
// this machine, and the sync sidecar (nhsyncd) started locally as a kubelet would.
#pragma once

#include <gtest/gtest.h>
#include <nocalhost.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster_env.hpp"
#include "net.hpp"
#include "test_support.hpp"

namespace nh::test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string sh(const std::string &cmd, int *rc = nullptr) { return nh::test::shell(cmd + " 2>&1", rc); }

class Loop : public ::testing::Test {
protected:
    void SetUp() override {
        NH_REQUIRE_CLUSTER("NH_TEST_KUBECONFIG");
        kubeconfig_ = nh::test::cluster_env("NH_TEST_KUBECONFIG");
        ASSERT_GE(nh_init(), 1);
        static int counter = 0;
        ns_ = "nh-loop-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
        int fd = nh::test::listen_loopback(&sync_port_);
        close(fd);  // nhsyncd takes the port over
        // Pod port 8080 (the app's) answers with an echo server of this process.
        echo_ = std::make_unique<nh::test::TcpServer>([](int c) {
            char buf[4096];
            ssize_t n;
            while ((n = read(c, buf, sizeof buf)) > 0)
                if (write(c, buf, static_cast<size_t>(n)) != n) break;
        });
        echo_port_ = echo_->port();
        remote_ = fs::path(local_.path()) / "remote";
        src_ = fs::path(local_.path()) / "src";
        fs::create_directories(remote_);
        fs::create_directories(src_ / "sub" / "deep");
        std::ofstream(src_ / "hello.txt") << "hello v1\n";
        std::ofstream(src_ / "sub" / "deep" / "a b ü.txt") << "nested\n";
        std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns_ + "}\n---\n"
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterExec\nmetadata: {name: " + ns_ + "}\n"
            "spec:\n  selector: {matchNamespaces: [" + ns_ + "]}\n  execs:\n  - local:\n      workDir: " +
            remote_.string() + "\n---\n"
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterPortForward\nmetadata: {name: " + ns_ + "}\n"
            "spec:\n  selector: {matchNamespaces: [" + ns_ + "]}\n  forwards:\n  - ports: [7710]\n"
            "    target: {address: 127.0.0.1, port: " + std::to_string(sync_port_) + "}\n"
            "  - ports: [8080]\n    target: {address: 127.0.0.1, port: " + std::to_string(echo_port_) + "}\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + ns_ + "}\n"
            "spec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n"
            "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n"
            "      - {name: app, image: 'registry.example/web:1.0', ports: [{containerPort: 80}]}\n";
        nh::test::write_file(local_ / "objects.yaml", yaml);
        int rc = 0;
        std::string out = kubectl("apply -f '" + local_ / "objects.yaml" + "'", &rc);
        ASSERT_EQ(rc, 0) << out;
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        o.kubeconfig = kubeconfig_.c_str();
        o.namespace_name = ns_.c_str();
        ASSERT_EQ(nh_client_new(&client_, &o), NH_OK) << nh_error_last()->message;
    }

    void TearDown() override {
        echo_.reset();
        if (syncd_ > 0) {
            kill(syncd_, SIGTERM);
            waitpid(syncd_, nullptr, 0);
        }
        nh_client_free(client_);
        if (!ns_.empty() && !kubeconfig_.empty()) {
            kubectl("delete clusterexec,clusterportforward " + ns_ + " --ignore-not-found --wait=false");
            kubectl("delete namespace " + ns_ + " --wait=false");
        }
        nh_shutdown();
    }

    std::string kubectl(const std::string &args, int *rc = nullptr) {
        return sh("kubectl --kubeconfig '" + kubeconfig_ + "' --request-timeout=30s " + args, rc);
    }

    // Plays the kubelet for the sync sidecar once the dev spec is in place:
    // runs nhsyncd with the pod spec's command, a local root and port, and the
    // token from the Secret the spec's env refers to.
    void start_sidecar_when_ready() {
        json sidecar;
        for (int i = 0; i < 300 && sidecar.is_null(); ++i) {
            auto d = json::parse(kubectl("-n " + ns_ + " get deployment web -o json"), nullptr, false);
            if (d.is_object())
                for (auto &c : d["spec"]["template"]["spec"]["containers"])
                    if (c.value("name", "") == "nh-sync") sidecar = c;
            if (sidecar.is_null()) std::this_thread::sleep_for(100ms);
        }
        ASSERT_FALSE(sidecar.is_null()) << "the dev spec never got its sync sidecar";
        std::vector<std::string> argv = sidecar["command"].get<std::vector<std::string>>();
        for (auto &a : sidecar.value("args", json::array())) argv.push_back(a.get<std::string>());
        ASSERT_EQ(argv.at(0), "nhsyncd");
        argv[0] = NHSYNCD_PATH;
        for (size_t i = 1; i + 1 < argv.size(); ++i) {
            if (argv[i] == "--root") argv[i + 1] = remote_.string();  // the shared volume
            if (argv[i] == "--listen") argv[i + 1] = "127.0.0.1:" + std::to_string(sync_port_);
        }
        std::vector<std::string> env;
        for (auto &e : sidecar["env"]) {
            auto ref = e["valueFrom"]["secretKeyRef"];
            ASSERT_TRUE(ref.is_object()) << e.dump();
            std::string value = sh("kubectl --kubeconfig '" + kubeconfig_ + "' -n " + ns_ + " get secret " +
                                   ref["name"].get<std::string>() + " -o jsonpath='{.data." +
                                   ref["key"].get<std::string>() + "}' | base64 -d");
            ASSERT_FALSE(value.empty());
            env.push_back(e["name"].get<std::string>() + "=" + value);
        }
        syncd_ = fork();
        if (syncd_ == 0) {
            for (auto &e : env) putenv(const_cast<char *>(e.c_str()));
            std::vector<char *> args;
            for (auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
        ASSERT_GT(syncd_, 0);
    }

    std::string exec_cat(const std::string &path) {
        const char *argv[] = {"cat", path.c_str(), nullptr};
        nh_buf out = NH_BUF_INIT, err = NH_BUF_INIT;
        int code = -1;
        int rc = nh_exec_run(&out, &err, &code, client_, "deployment/web", argv, nullptr, 0, nullptr);
        std::string s = rc == NH_OK && code == 0 ? std::string(out.ptr, out.size)
                                                 : "<exec failed: " + std::string(nh_error_last()->message) +
                                                       (err.ptr ? err.ptr : "") + ">";
        nh_buf_dispose(&out);
        nh_buf_dispose(&err);
        return s;
    }

    nh::test::TempDir local_;
    fs::path remote_, src_;
    std::string kubeconfig_, ns_;
    int sync_port_ = 0;
    int echo_port_ = 0;
    std::unique_ptr<nh::test::TcpServer> echo_;
    pid_t syncd_ = -1;
    nh_client *client_ = nullptr;
};

struct Phases {
    std::vector<std::string> seen;
};
inline int on_dev_event(int type, const char *phase, const char *, const char *, void *payload) {
    if (type == NH_DEV_EVENT_PHASE) static_cast<Phases *>(payload)->seen.push_back(phase);
    return 0;
}

}  // namespace nh::test

