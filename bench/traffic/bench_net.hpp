// What the traffic benchmarks share: medians, whole sends, a shell's output, and the two
// round trips they time (1-byte echoes on one connection; a request on a new connection each).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace nh::bench {

using Clock = std::chrono::steady_clock;

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
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

inline std::string sh(const std::string &cmd) {
    std::string out;
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

// A connection to host:port (an IPv4 address) with TCP_NODELAY, or -1.
inline int connect_to(const std::string &host, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// Waits for one byte on fd; false on a timeout, an error or the end.
inline bool recv_byte(int fd, char &c) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 10000) > 0 && ::recv(fd, &c, 1, 0) == 1;
}

// Median milliseconds of `n` 1-byte echo round trips on one connection; < 0 on failure.
inline double echo_round_trip(const std::string &host, int port, int n) {
    int fd = connect_to(host, port);
    if (fd < 0) return -1;
    std::vector<double> ms;
    char c = 'x';
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        if (!send_all(fd, &c, 1) || !recv_byte(fd, c)) break;
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    ::close(fd);
    return static_cast<int>(ms.size()) == n ? median(ms) : -1;
}

// Median milliseconds of `n` requests, each on a connection of its own: connect, send one
// byte, wait for its echo, close (what a client without keep-alive does per request).
inline double request_round_trip(const std::string &host, int port, int n) {
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        int fd = connect_to(host, port);
        if (fd < 0) break;
        char c = 'x';
        bool ok = send_all(fd, &c, 1) && recv_byte(fd, c);
        ::close(fd);
        if (!ok) break;
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return static_cast<int>(ms.size()) == n ? median(ms) : -1;
}

// The test cluster's environment (scripts/test-cluster env), or nullopt with a message.
struct ClusterEnv {
    std::string kubeconfig, taint, dev_image;
    std::string kubectl() const { return "kubectl --kubeconfig '" + kubeconfig + "' "; }
};

inline std::optional<ClusterEnv> cluster_env() {
    const char *kc = std::getenv("NH_TEST_KUBECONFIG");
    const char *taint = std::getenv("NH_TEST_REAL_TAINT");
    const char *dev_image = std::getenv("NH_TEST_IMAGE_DEV");
    if (!kc || !taint || !dev_image) {
        std::fprintf(stderr, "the test cluster's environment is not set: source <(scripts/test-cluster env)\n");
        return std::nullopt;
    }
    return ClusterEnv{kc, taint, dev_image};
}

// Makes namespace `ns` with a Deployment "web" (label app=web, one pod on the real node)
// whose only container is `container` (a YAML flow mapping).
inline void apply_web(const ClusterEnv &env, const std::string &ns, const std::string &container) {
    std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n---\n"
                       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + ns + "}\n"
                       "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
                       "    metadata: {labels: {app: web}}\n    spec:\n"
                       "      nodeSelector: {" + env.taint + ": \"true\"}\n"
                       "      tolerations: [{key: " + env.taint + ", operator: Exists, effect: NoSchedule}]\n"
                       "      terminationGracePeriodSeconds: 1\n"
                       "      containers: [" + container + "]\n";
    FILE *apply = popen((env.kubectl() + "apply -f - >/dev/null").c_str(), "w");
    if (!apply) return;
    fwrite(yaml.data(), 1, yaml.size(), apply);
    pclose(apply);
}

}  // namespace nh::bench
