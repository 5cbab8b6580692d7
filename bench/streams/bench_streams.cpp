// P1 / P2 from BENCHMARKS.md on the test cluster, side by side with kubectl:
//   P1  bytes through one port-forward connection (default 1 GiB)
//   P2  1-byte echo round trips x1000 through port-forward; exec round trip
// Prints a Markdown table with medians and ratios (kubectl / ours for times).
//
//   source <(scripts/test-cluster env)
//   build/bench/streams/nh_bench_streams [--runs N] [--bytes N]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nocalhost.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "net.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

bool send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        p += k;
        n -= static_cast<size_t>(k);
    }
    return true;
}

using nh::test::TcpServer;

int connect_local(int port) { return nh::test::connect_loopback(port); }

std::string sh(const std::string &cmd) {
    std::string out;
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

std::string g_kubeconfig, g_ns;

std::string kubectl(const std::string &args) {
    return sh("kubectl --kubeconfig '" + g_kubeconfig + "' " + args + " 2>&1");
}

// `kubectl port-forward` in the background; returns its pid and local port.
pid_t start_kubectl_forward(const std::string &remote, int &port) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO);
        close(pipefd[0]);
        execlp("kubectl", "kubectl", "--kubeconfig", g_kubeconfig.c_str(), "-n", g_ns.c_str(), "port-forward",
               "pod/p1", (":" + remote).c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    close(pipefd[1]);
    std::string line;
    char c;
    while (read(pipefd[0], &c, 1) == 1 && c != '\n') line += c;
    // "Forwarding from 127.0.0.1:PORT -> REMOTE"
    size_t colon = line.find("127.0.0.1:");
    port = colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 10);
    std::thread([fd = pipefd[0]] {
        char b[256];
        while (read(fd, b, sizeof b) > 0) {
        }
        close(fd);
    }).detach();
    return pid;
}

void stop(pid_t pid) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
}

double pull_bytes(int port, uint64_t n) {
    int fd = connect_local(port);
    if (fd < 0) return -1;
    auto t = Clock::now();
    send_all(fd, reinterpret_cast<const char *>(&n), 8);
    std::vector<char> buf(1 << 20);
    uint64_t got = 0;
    ssize_t k;
    while (got < n && (k = recv(fd, buf.data(), std::min<uint64_t>(buf.size(), n - got), 0)) > 0)
        got += static_cast<uint64_t>(k);
    double s = seconds_since(t);
    close(fd);
    return got == n ? s : -1;
}

double echo_round_trips(int port, int count) {
    int fd = connect_local(port);
    if (fd < 0) return -1;
    char c = 'x';
    // One warm-up exchange so connection setup is not counted.
    send_all(fd, &c, 1);
    if (recv(fd, &c, 1, 0) != 1) return -1;
    auto t = Clock::now();
    for (int i = 0; i < count; ++i) {
        send_all(fd, &c, 1);
        if (recv(fd, &c, 1, 0) != 1) {
            close(fd);
            return -1;
        }
    }
    double s = seconds_since(t);
    close(fd);
    return s;
}

}  // namespace

int main(int argc, char **argv) {
    int runs = 3;
    uint64_t bytes = 1ull << 30;
    int echoes = 1000, execs = 10;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
        else if (a == "--bytes" && i + 1 < argc) bytes = std::strtoull(argv[++i], nullptr, 10);
    }
    const char *kc = std::getenv("NH_TEST_KUBECONFIG");
    if (!kc) {
        std::fprintf(stderr, "NH_TEST_KUBECONFIG is not set: source <(scripts/test-cluster env)\n");
        return 2;
    }
    g_kubeconfig = kc;
    g_ns = "nh-bench-" + std::to_string(getpid());
    signal(SIGPIPE, SIG_IGN);

    TcpServer echo([](int c) {
        char buf[65536];
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0)
            if (!send_all(c, buf, static_cast<size_t>(n))) break;
    });
    TcpServer source([](int c) {
        uint64_t n = 0;
        if (recv(c, &n, 8, MSG_WAITALL) != 8) return;
        std::vector<char> buf(1 << 20, 'z');
        for (uint64_t off = 0; off < n; off += buf.size())
            if (!send_all(c, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off)))) return;
        char tmp[64];
        while (recv(c, tmp, sizeof tmp, 0) > 0) {
        }
    });
    std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + g_ns +
                       "}\n---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterExec\nmetadata: {name: " + g_ns +
                       "}\nspec:\n  selector: {matchNamespaces: [" + g_ns +
                       "]}\n  execs:\n  - local: {workDir: /tmp}\n---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: "
                       "ClusterPortForward\nmetadata: {name: " + g_ns + "}\nspec:\n  selector: {matchNamespaces: [" +
                       g_ns + "]}\n  forwards:\n  - ports: [8080]\n    target: {address: 127.0.0.1, port: " +
                       std::to_string(echo.port()) + "}\n  - ports: [8081]\n    target: {address: 127.0.0.1, port: " +
                       std::to_string(source.port()) + "}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: " +
                       g_ns + "}\nspec:\n  containers:\n  - {name: main, image: busybox}\n";
    std::string file = "/tmp/" + g_ns + ".yaml";
    FILE *f = std::fopen(file.c_str(), "w");
    std::fputs(yaml.c_str(), f);
    std::fclose(f);
    std::fprintf(stderr, "%s", kubectl("apply -f " + file).c_str());
    kubectl("-n " + g_ns + " wait --for=condition=Ready pod/p1 --timeout=60s");

    nh_init();
    nh_client_options co = NH_CLIENT_OPTIONS_INIT;
    co.kubeconfig = kc;
    co.namespace_name = g_ns.c_str();
    nh_client *client = nullptr;
    if (nh_client_new(&client, &co) != NH_OK) {
        std::fprintf(stderr, "%s\n", nh_error_last()->message);
        return 1;
    }
    const char *ports[] = {"0:8080", "0:8081", nullptr};
    nh_forward *fwd = nullptr;
    if (nh_forward_start(&fwd, client, "pod/p1", ports, nullptr) != NH_OK) {
        std::fprintf(stderr, "%s\n", nh_error_last()->message);
        return 1;
    }
    int our_echo = nh_forward_local_port(fwd, 0), our_source = nh_forward_local_port(fwd, 1);

    std::vector<double> p1_ours, p1_kubectl, p2_ours, p2_kubectl, ex_ours, ex_nh, ex_kubectl;
    for (int r = 0; r < runs; ++r) {
        std::fprintf(stderr, "run %d/%d\n", r + 1, runs);
        // P1: alternate who goes first.
        int kport = 0;
        pid_t kp = start_kubectl_forward("8081", kport);
        double k = pull_bytes(kport, bytes), o = pull_bytes(our_source, bytes);
        stop(kp);
        p1_kubectl.push_back(k);
        p1_ours.push_back(o);
        kp = start_kubectl_forward("8080", kport);
        p2_kubectl.push_back(echo_round_trips(kport, echoes));
        stop(kp);
        p2_ours.push_back(echo_round_trips(our_echo, echoes));
        // Exec round trip: `true`, one request each, as a library call, as the nh CLI and as kubectl.
        const char *argv_true[] = {"true", nullptr};
        auto t = Clock::now();
        for (int i = 0; i < execs; ++i) nh_exec_run(nullptr, nullptr, nullptr, client, "pod/p1", argv_true, nullptr, 0, nullptr);
        ex_ours.push_back(seconds_since(t) / execs);
        std::string nh_bin = std::string(NH_CLI_PATH);
        t = Clock::now();
        for (int i = 0; i < execs; ++i)
            sh("'" + nh_bin + "' --kubeconfig '" + g_kubeconfig + "' -n " + g_ns + " exec pod/p1 -- true");
        ex_nh.push_back(seconds_since(t) / execs);
        t = Clock::now();
        for (int i = 0; i < execs; ++i) kubectl("-n " + g_ns + " exec p1 -- true");
        ex_kubectl.push_back(seconds_since(t) / execs);
    }
    nh_forward_free(fwd);
    nh_client_free(client);
    nh_shutdown();
    kubectl("delete namespace " + g_ns + " --wait=false");
    kubectl("delete clusterexec,clusterportforward " + g_ns + " --wait=false");
    std::remove(file.c_str());

    double mb = static_cast<double>(bytes) / 1e6;
    auto row = [](const char *name, double ours, double theirs, const char *unit, bool higher_better) {
        double ratio = higher_better ? ours / theirs : theirs / ours;
        std::printf("| %s | %.3g %s | %.3g %s | %.2f× |\n", name, ours, unit, theirs, unit, ratio);
    };
    std::printf("\n| figure (median of %d) | libnocalhost | kubectl 1.32 | ours vs kubectl (>1: we are better) |\n", runs);
    std::printf("|---|---|---|---|\n");
    row("P1 port-forward throughput, 1 connection", mb / median(p1_ours), mb / median(p1_kubectl), "MB/s", true);
    row("P2 port-forward 1-byte echo round trip", median(p2_ours) / echoes * 1e3, median(p2_kubectl) / echoes * 1e3, "ms", false);
    row("P2 exec `true` round trip (library call)", median(ex_ours) * 1e3, median(ex_kubectl) * 1e3, "ms", false);
    row("P2 exec `true` round trip (`nh exec` process)", median(ex_nh) * 1e3, median(ex_kubectl) * 1e3, "ms", false);
    std::printf("\nP1 moved %.0f MB per run; P2 echo: %d round trips per run; exec: %d per run.\n", mb, echoes, execs);
    return 0;
}
