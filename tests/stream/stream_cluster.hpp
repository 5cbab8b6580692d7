// The test cluster side of the stream tests: one namespace per test binary
// with a two-container pod, a Deployment, and kwok ClusterExec /
// ClusterPortForward objects that make exec run local commands (in a temp
// dir) and port-forward reach local TCP servers of this process:
//   pod port 8080 -> echo server
//   pod port 8081 -> "source": reads an 8-byte little-endian length N, sends N
//                    bytes of a deterministic stream, then closes
//   pod port 8082 -> sends "bye\n" and closes at once
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nocalhost.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net.hpp"

#include "cluster_env.hpp"
#include "test_support.hpp"

namespace nh::test {

// A deterministic byte stream: block i (64 KiB) is filled from a xorshift seeded by i.
inline void fill_pattern(uint64_t offset, char *out, size_t n) {
    for (size_t done = 0; done < n;) {
        uint64_t pos = offset + done;
        uint64_t word_index = pos / 8;
        uint64_t x = (word_index + 1) * 0x9E3779B97F4A7C15ull;
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 27;
        size_t in_word = pos % 8;
        size_t take = std::min<size_t>(8 - in_word, n - done);
        std::memcpy(out + done, reinterpret_cast<char *>(&x) + in_word, take);
        done += take;
    }
}

// An order-sensitive 64-bit checksum (FNV-1a over bytes, 8 at a time for speed).
struct Checksum {
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t bytes = 0;
    void add(const char *p, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            h ^= static_cast<unsigned char>(p[i]);
            h *= 0x100000001b3ull;
        }
        bytes += n;
    }
};

inline Checksum pattern_checksum(uint64_t n) {
    Checksum c;
    std::vector<char> buf(1 << 20);
    for (uint64_t off = 0; off < n; off += buf.size()) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
        fill_pattern(off, buf.data(), k);
        c.add(buf.data(), k);
    }
    return c;
}

inline bool send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        p += k;
        n -= static_cast<size_t>(k);
    }
    return true;
}

using nh::test::TcpServer;

inline int run_shell(const std::string &cmd, std::string *out = nullptr) {
    int rc = -1;
    std::string s = nh::test::shell(cmd + " 2>&1", &rc);
    if (out) *out = s;
    return rc;
}

class StreamCluster {
public:
    static StreamCluster &get() {
        static StreamCluster c;
        return c;
    }

    // Sets the namespace up once; false (with a message) when the cluster is unusable.
    bool ready(std::string *why) {
        std::call_once(once_, [&] { setup(); });
        if (why) *why = error_;
        return error_.empty();
    }

    std::string kubectl(const std::string &args, const std::string &stdin_text = "", int *rc = nullptr) {
        std::string cmd = "kubectl --kubeconfig '" + kubeconfig + "' --request-timeout=30s " + args;
        std::string out;
        int r;
        if (!stdin_text.empty()) {
            std::string file = dir_->path() + "/stdin-" + std::to_string(counter_++) + ".yaml";
            write_file(file, stdin_text);
            r = run_shell(cmd + " -f '" + file + "'", &out);
        } else {
            r = run_shell(cmd, &out);
        }
        if (rc) *rc = r;
        return out;
    }

    nh_client *client(const std::string &cfg = "") {
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        std::string k = cfg.empty() ? kubeconfig : cfg;
        o.kubeconfig = k.c_str();
        o.namespace_name = ns.c_str();
        nh_client *c = nullptr;
        if (nh_client_new(&c, &o) != NH_OK) return nullptr;
        return c;
    }

    // Waits until `kubectl get pods -l SEL` lists exactly one Running pod other than `not`; returns its name.
    std::string wait_running_pod(const std::string &selector, const std::string &not_this = "", int seconds = 60) {
        for (int i = 0; i < seconds * 5; ++i) {
            std::string out = kubectl("-n " + ns + " get pods -l " + selector +
                                      " -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} "
                                      "{.metadata.deletionTimestamp}{\"\\n\"}{end}'");
            std::string found;
            size_t pos = 0;
            while (pos < out.size()) {
                size_t e = out.find('\n', pos);
                if (e == std::string::npos) e = out.size();
                std::string line = out.substr(pos, e - pos);
                pos = e + 1;
                char name[256] = {}, phase[64] = {}, del[64] = {};
                int k = std::sscanf(line.c_str(), "%255s %63s %63s", name, phase, del);
                if (k == 2 && std::string(phase) == "Running" && name != not_this) found = name;
            }
            if (!found.empty()) return found;
            usleep(200000);
        }
        return "";
    }

    std::string kubeconfig;
    std::string ns;
    std::string workdir;  // where exec'd commands run
    std::string web_pod;  // the Deployment's pod at setup
    std::unique_ptr<TcpServer> echo, source, closer;

private:
    StreamCluster() = default;
    ~StreamCluster() {
        if (!ns.empty() && error_.empty() && std::getenv("NH_TEST_KEEP") == nullptr) {
            kubectl("delete clusterexec,clusterportforward " + ns + " --ignore-not-found --wait=false");
            kubectl("delete namespace " + ns + " --wait=false");
        }
    }

    void setup() {
        kubeconfig = cluster_env("NH_TEST_KUBECONFIG");
        if (kubeconfig.empty()) {
            error_ = "NH_TEST_KUBECONFIG is not set";
            return;
        }
        dir_ = std::make_unique<TempDir>();
        workdir = dir_->path();
        ns = "nh-stream-" + std::to_string(getpid());
        echo = std::make_unique<TcpServer>([](int c) {
            char buf[65536];
            ssize_t n;
            while ((n = recv(c, buf, sizeof buf, 0)) > 0)
                if (!send_all(c, buf, static_cast<size_t>(n))) break;
        });
        source = std::make_unique<TcpServer>([](int c) {
            uint64_t n = 0;
            size_t got = 0;
            while (got < 8) {
                ssize_t k = recv(c, reinterpret_cast<char *>(&n) + got, 8 - got, 0);
                if (k <= 0) return;
                got += static_cast<size_t>(k);
            }
            std::vector<char> buf(1 << 20);
            for (uint64_t off = 0; off < n; off += buf.size()) {
                size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
                fill_pattern(off, buf.data(), k);
                if (!send_all(c, buf.data(), k)) return;
            }
            shutdown(c, SHUT_WR);
            char tmp[256];
            while (recv(c, tmp, sizeof tmp, 0) > 0) {
            }
        });
        closer = std::make_unique<TcpServer>([](int c) { send_all(c, "bye\n", 4); });
        std::string yaml = R"(apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata: {name: ${NS}}
spec:
  selector: {matchNamespaces: [${NS}]}
  execs:
  - local:
      workDir: ${WORKDIR}
      envs: [{name: NH_STREAM_TEST, value: "1"}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata: {name: ${NS}}
spec:
  selector: {matchNamespaces: [${NS}]}
  forwards:
  - ports: [8080]
    target: {address: 127.0.0.1, port: ${ECHO}}
  - ports: [8081]
    target: {address: 127.0.0.1, port: ${SOURCE}}
  - ports: [8082]
    target: {address: 127.0.0.1, port: ${CLOSER}}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: ${NS}, labels: {app: p1}}
spec:
  containers:
  - {name: main, image: busybox}
  - {name: side, image: busybox}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${NS}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: app, image: nginx}
)";
        // ${NAME} placeholders, replaced in one pass: nothing a value brings in (a temporary
        // directory's random name may well hold "NS") is looked at again.
        const std::map<std::string, std::string> values = {
            {"WORKDIR", workdir},
            {"NS", ns},
            {"ECHO", std::to_string(echo->port())},
            {"SOURCE", std::to_string(source->port())},
            {"CLOSER", std::to_string(closer->port())},
        };
        std::string filled;
        for (size_t at = 0;;) {
            size_t open = yaml.find("${", at);
            if (open == std::string::npos) {
                filled.append(yaml, at, std::string::npos);
                break;
            }
            size_t close = yaml.find('}', open);
            filled.append(yaml, at, open - at);
            filled += values.at(yaml.substr(open + 2, close - open - 2));
            at = close + 1;
        }
        yaml = std::move(filled);
        int rc = 0;
        std::string out = kubectl("apply", yaml, &rc);
        if (rc != 0) {
            error_ = "cannot create the test objects: " + out;
            return;
        }
        if (wait_running_pod("app=p1").empty()) {
            error_ = "pod p1 did not become Running";
            return;
        }
        web_pod = wait_running_pod("app=web");
        if (web_pod.empty()) error_ = "the Deployment's pod did not become Running";
    }

    std::once_flag once_;
    std::string error_;
    std::unique_ptr<TempDir> dir_;
    int counter_ = 0;
};

// Starts nh_init() for the test binary and checks the cluster is there.
#define NH_STREAM_CLUSTER(c)                                      \
    NH_REQUIRE_CLUSTER("NH_TEST_KUBECONFIG");                     \
    auto &c = ::nh::test::StreamCluster::get();                   \
    do {                                                          \
        std::string why_;                                         \
        ASSERT_TRUE(c.ready(&why_)) << why_;                      \
    } while (0)

}  // namespace nh::test
