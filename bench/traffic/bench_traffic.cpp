// R1 / R2 of docs/benchmarks.md on the test cluster's real node, in one run:
//   F   port-forward from here to an echo server in the dev pod (busybox `nc -ll -e cat`)
//   F+R port-forward from here to the pod's reverse listener, whose connections the tunnel
//       carries back to an echo server here: the same forward plus a reverse leg
// R1: MiB/s of N bytes read through one connection (the pod's `head -c N /dev/zero` for F, a
// server here sending N bytes through the tunnel for F+R);
// R2: 1-byte echo round trips x1000 on one connection. The reverse leg's own round trip is
// F+R minus F. Prints a Markdown table of medians.
//
//   source <(scripts/test-cluster env)
//   build/bench/traffic/nh_bench_traffic [--runs N] [--bytes N]
#include <nocalhost.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_net.hpp"
#include "net.hpp"

namespace {

using namespace nh::bench;

// Seconds to read `bytes` from 127.0.0.1:port, whose other end sends them on connecting;
// < 0 on failure.
double read_throughput(int port, size_t bytes) {
    int fd = nh::test::connect_loopback(port);
    if (fd < 0) return -1;
    auto t0 = Clock::now();
    size_t got = 0;
    char buf[1 << 16];
    while (got < bytes) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 30000) <= 0) break;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    ::close(fd);
    return got >= bytes ? s : -1;
}

}  // namespace

int main(int argc, char **argv) {
    int runs = 3;
    size_t bytes = 256u << 20;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
        else if (a == "--bytes" && i + 1 < argc) bytes = std::strtoull(argv[++i], nullptr, 10);
    }
    auto env = cluster_env();
    if (!env) return 2;
    std::string ns = "nh-bench-traffic-" + std::to_string(getpid());
    const std::string kubectl = env->kubectl();
    apply_web(*env, ns, "{name: app, image: " + env->dev_image + ", command: [sleep, '3600']}");

    int rc = 1;
    nh_client *client = nullptr;
    nh_session *session = nullptr;
    nh_reverse *rev = nullptr;
    nh_forward *f_pod = nullptr, *f_rev = nullptr;
    nh_client_options co = NH_CLIENT_OPTIONS_INIT;
    co.kubeconfig = env->kubeconfig.c_str();
    co.namespace_name = ns.c_str();
    nh::test::TcpServer source([&bytes](int fd) {
        std::string chunk(1 << 16, 'z');
        for (size_t sent = 0; sent < bytes; sent += chunk.size())
            if (!send_all(fd, chunk.data(), std::min(chunk.size(), bytes - sent))) return;
    });
    nh::test::TcpServer echo([](int fd) {
        char buf[1 << 16];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
            if (!send_all(fd, buf, static_cast<size_t>(n))) return;
    });
    do {
        if (nh_client_new(&client, &co) != NH_OK) break;
        nh_dev_start_options so = NH_DEV_START_OPTIONS_INIT;
        so.image = env->dev_image.c_str();
        so.syncd_dir = NH_SHARE_DIR;
        so.timeout_ms = 180000;
        if (nh_dev_start(&session, client, "deployment", "web", &so) != NH_OK) break;
        std::string rspec = "9401:" + std::to_string(echo.port()), sspec = "9403:" + std::to_string(source.port());
        const char *rports[] = {rspec.c_str(), sspec.c_str(), nullptr};
        nh_reverse_options ro = NH_REVERSE_OPTIONS_INIT;
        ro.syncd_dir = NH_SHARE_DIR;
        if (nh_reverse_start(&rev, client, "deployment", "web", rports, &ro) != NH_OK) break;
        // The echo server in the dev container: busybox nc, persistent, one `cat` per connection.
        std::string out = sh(kubectl + "-n " + ns + " exec deploy/web -c app -- sh -c "
                             "'setsid nc -ll -p 9400 -e cat </dev/null >/dev/null 2>&1 & "
                             "setsid nc -ll -p 9402 -e head -c " + std::to_string(bytes) +
                             " /dev/zero </dev/null >/dev/null 2>&1 & sleep 1; netstat -ltn' 2>&1");
        if (out.find(":9400") == std::string::npos) {
            std::fprintf(stderr, "the echo server in the pod did not start:\n%s\n", out.c_str());
            break;
        }
        const char *p1[] = {"0:9400", "0:9402", nullptr};
        const char *p2[] = {"0:9401", "0:9403", nullptr};
        if (nh_forward_start(&f_pod, client, "deployment/web", p1, nullptr) != NH_OK) break;
        if (nh_forward_start(&f_rev, client, "deployment/web", p2, nullptr) != NH_OK) break;
        int port_f = 0, port_fr = 0, bulk_f = 0, bulk_fr = 0;
        nh_forward_local_port_v2(&port_f, f_pod, 0);
        nh_forward_local_port_v2(&bulk_f, f_pod, 1);
        nh_forward_local_port_v2(&port_fr, f_rev, 0);
        nh_forward_local_port_v2(&bulk_fr, f_rev, 1);
        std::vector<double> tf, tfr, rf, rfr;
        for (int r = 0; r < runs; ++r) {
            double a = read_throughput(bulk_f, bytes), b = read_throughput(bulk_fr, bytes);
            double c = echo_round_trip("127.0.0.1", port_f, 1000), d = echo_round_trip("127.0.0.1", port_fr, 1000);
            if (a < 0 || b < 0 || c < 0 || d < 0) {
                std::fprintf(stderr, "run %d failed (%.3f %.3f %.3f %.3f)\n", r, a, b, c, d);
                continue;
            }
            tf.push_back(static_cast<double>(bytes) / a / (1 << 20));
            tfr.push_back(static_cast<double>(bytes) / b / (1 << 20));
            rf.push_back(c);
            rfr.push_back(d);
        }
        if (tf.empty()) break;
        double mf = median(tf), mfr = median(tfr), qf = median(rf), qfr = median(rfr);
        std::printf("| figure (median of %zu) | F: forward to the pod | F+R: forward, then reverse back here | F ÷ F+R |\n",
                    tf.size());
        std::printf("|---|---|---|---|\n");
        std::printf("| R1 %zu MiB read through one connection | %.1f MiB/s | %.1f MiB/s | %.2f× |\n", bytes >> 20, mf,
                    mfr, mf / mfr);
        std::printf("| R2 1-byte echo round trip (×1000) | %.3f ms | %.3f ms | reverse leg alone: %.3f ms |\n", qf, qfr,
                    qfr - qf);
        rc = 0;
    } while (false);
    if (rc != 0 && nh_error_last()) std::fprintf(stderr, "error: %s\n", nh_error_last()->message);
    nh_forward_free(f_pod);
    nh_forward_free(f_rev);
    nh_reverse_free(rev);
    if (session) {
        nh_dev_end_options eo = NH_DEV_END_OPTIONS_INIT;
        int flags = 0;
        nh_dev_end(&flags, client, "deployment", "web", &eo);
    }
    nh_session_free(session);
    nh_client_free(client);
    sh(kubectl + "delete namespace " + ns + " --wait=false >/dev/null 2>&1");
    return rc;
}
