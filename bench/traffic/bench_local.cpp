// L1 / L2 of docs/benchmarks.md on the test cluster's real node, in one run: what a client in
// the cluster sees of a workload's port when the workload is in local mode (the sidecar's
// listener in the pod, the tunnel through the API server, an echo server on this machine)
// against the original pod serving it (busybox `nc -ll -e cat` in the container).
//   L1: a request on a connection of its own (connect, 1 byte, its echo, close) x200;
//   L2: 1-byte echo round trips on one connection x1000.
// The client is this process, calling the pod's IP on the node's bridge as a pod there would
// (the Service's endpoint: the test cluster has no kube-proxy). Prints a Markdown table of
// medians.
//
//   source <(scripts/test-cluster env)
//   build/bench/traffic/nh_bench_local [--runs N]
#include <nocalhost.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_net.hpp"
#include "net.hpp"

namespace {

using namespace nh::bench;

// The IP of the workload's pod that is not being deleted, once it is Ready; "" after 180 s.
std::string ready_pod_ip(const std::string &kubectl, const std::string &ns) {
    for (int i = 0; i < 360; ++i) {
        std::istringstream lines(sh(kubectl + "-n " + ns +
                                    " get pods -l app=web -o jsonpath='{range .items[*]}{.status.podIP} "
                                    "{.metadata.deletionTimestamp} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}'"));
        std::string line;
        while (std::getline(lines, line)) {
            std::istringstream f(line);
            std::vector<std::string> w;
            for (std::string t; f >> t;) w.push_back(t);
            if (w.size() == 2 && w[1] == "True") return w[0];  // no deletionTimestamp
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return "";
}

struct Figures {
    std::vector<double> request, echo;
};

bool measure(const std::string &ip, int runs, Figures &f) {
    for (int r = 0; r < runs; ++r) {
        double a = request_round_trip(ip, 8080, 200), b = echo_round_trip(ip, 8080, 1000);
        if (a < 0 || b < 0) {
            std::fprintf(stderr, "run %d against %s:8080 failed (%.3f %.3f)\n", r, ip.c_str(), a, b);
            return false;
        }
        f.request.push_back(a);
        f.echo.push_back(b);
    }
    return true;
}

}  // namespace

int main(int argc, char **argv) {
    int runs = 3;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    }
    auto env = cluster_env();
    if (!env) return 2;
    std::string ns = "nh-bench-local-" + std::to_string(getpid());
    const std::string kubectl = env->kubectl();
    apply_web(*env, ns, "{name: app, image: " + env->dev_image + ", command: [nc, -ll, -p, '8080', -e, cat], ports: [{name: http, containerPort: 8080}]}");

    int rc = 1;
    nh_client *client = nullptr;
    nh_session *session = nullptr;
    nh_client_options co = NH_CLIENT_OPTIONS_INIT;
    co.kubeconfig = env->kubeconfig.c_str();
    co.namespace_name = ns.c_str();
    nh::test::TcpServer echo([](int fd) {
        char buf[1 << 16];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
            if (!send_all(fd, buf, static_cast<size_t>(n))) return;
    });
    Figures original, local;
    do {
        std::string ip = ready_pod_ip(kubectl, ns);
        if (ip.empty()) {
            std::fprintf(stderr, "the workload's pod did not become ready\n");
            break;
        }
        if (!measure(ip, runs, original)) break;
        if (nh_client_new(&client, &co) != NH_OK) break;
        std::string port = "8080:" + std::to_string(echo.port());
        const char *ports[] = {port.c_str()};
        nh_dev_start_options so = NH_DEV_START_OPTIONS_INIT;
        so.local = 1;
        so.local_ports = ports;
        so.local_ports_count = 1;
        so.syncd_dir = NH_SHARE_DIR;
        so.timeout_ms = 180000;
        if (nh_dev_start(&session, client, "deployment", "web", &so) != NH_OK) break;
        ip = ready_pod_ip(kubectl, ns);
        if (ip.empty() || !measure(ip, runs, local)) break;
        std::printf("| figure (median of %d runs) | the original pod | local mode: the pod's sidecar, the tunnel, "
                    "this machine | local ÷ original |\n|---|---|---|---|\n",
                    runs);
        double a = median(original.request), b = median(local.request);
        std::printf("| L1 request on a connection of its own (×200) | %.3f ms | %.3f ms | %.2f× |\n", a, b, b / a);
        a = median(original.echo), b = median(local.echo);
        std::printf("| L2 1-byte echo round trip on one connection (×1000) | %.3f ms | %.3f ms | %.2f× |\n", a, b, b / a);
        rc = 0;
    } while (false);
    if (rc != 0 && nh_error_last()) std::fprintf(stderr, "error: %s\n", nh_error_last()->message);
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
