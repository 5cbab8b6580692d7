// The local tree layer's figures on a directory: scan time (vs find and an
// rsync dry run over the same tree, in the same run), index save/load/compare,
// watcher setup, write-to-read() latency and memory.
// usage: nh_bench_local_scan DIR [--runs N] [--edits N]
//        nh_bench_local_scan DIR --idle SECONDS   (S5: memory and idle CPU while watching)
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "sync/local/tree.hpp"

using namespace nh::sync::local;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double time_command(const std::string &cmd) {
    auto t0 = Clock::now();
    int rc = std::system(cmd.c_str());
    double ms = ms_since(t0);
    return rc == 0 ? ms : -1;
}

long status_kb(const char *field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(field)) return std::atol(line.c_str() + std::strlen(field));
    return -1;
}

std::string quote(const std::string &s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

double cpu_seconds() {
    struct rusage ru;
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// S5: what a client holds while watching (index + watcher), then idle.
int watch_cost(const std::string &root, int idle_seconds) {
    IgnoreRules rules;
    auto t0 = Clock::now();
    Index index;
    for (auto &e : scan(root, rules)) index.put(e, "acked");
    double scan_ms = ms_since(t0);
    t0 = Clock::now();
    Watcher w(root, rules);
    double watch_ms = ms_since(t0);
    long rss = status_kb("VmRSS:");
    double cpu0 = cpu_seconds();
    auto idle_start = Clock::now();
    while (ms_since(idle_start) < idle_seconds * 1000.0) {
        struct pollfd p{w.fd(), POLLIN, 0};
        if (::poll(&p, 1, 1000) > 0) w.read();
    }
    double cpu = cpu_seconds() - cpu0;
    std::printf("| S5 watch cost | entries | dirs watched | scan+index ms | watch setup ms | RSS kB | VmHWM kB | idle CPU %% |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    std::printf("| ours | %zu | %zu | %.0f | %.0f | %ld | %ld | %.3f |\n", index.size(), w.watch_count(),
                scan_ms, watch_ms, rss, status_kb("VmHWM:"),
                idle_seconds > 0 ? 100.0 * cpu / idle_seconds : 0.0);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DIR [--runs N] [--edits N]\n", argv[0]);
        return 2;
    }
    std::string root = argv[1];
    int runs = 7, edits = 200, idle = -1;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--edits")) edits = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--idle")) idle = std::atoi(argv[i + 1]);
    }
    if (idle >= 0) return watch_cost(root, idle);
    IgnoreRules rules;
    std::vector<double> ours, find_ms, rsync_ms;
    size_t entries = 0;
    for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        entries = scan(root, rules).size();
        ours.push_back(ms_since(t0));
        find_ms.push_back(time_command("find " + quote(root) + " -printf '%s %T@ %m %i\\n' >/dev/null"));
        rsync_ms.push_back(time_command("rsync -a -n " + quote(root + "/") + " " + quote(root + "/") +
                                        " >/dev/null 2>&1"));
    }
    std::printf("tree: %s, %zu entries, median of %d warm runs\n\n", root.c_str(), entries, runs);
    std::printf("| task | ours ms | find -printf ms | rsync -an (self) ms | ours/find | ours/rsync |\n");
    std::printf("|---|---|---|---|---|---|\n");
    std::printf("| scan (lstat walk) | %.1f | %.1f | %.1f | %.2f | %.2f |\n\n", median(ours),
                median(find_ms), median(rsync_ms), median(ours) / median(find_ms),
                median(ours) / median(rsync_ms));

    auto tree = scan(root, rules);
    Index index;
    for (auto &e : tree) index.put(e, "acked");
    char tmpl[] = "/tmp/nh-bench-index-XXXXXX";
    int tfd = ::mkstemp(tmpl);
    ::close(tfd);
    std::vector<double> save_ms, load_ms, cmp_ms, restart_ms;
    for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        index.save(tmpl);
        save_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        Index loaded = Index::load(tmpl);
        load_ms.push_back(ms_since(t0));
        auto fresh = scan(root, rules);
        t0 = Clock::now();
        auto diff = loaded.compare(fresh);
        cmp_ms.push_back(ms_since(t0));
        t0 = Clock::now();
        Index again = Index::load(tmpl);
        auto d2 = again.compare(scan(root, rules));
        restart_ms.push_back(ms_since(t0));
        if (r == 0)
            std::printf("index: %zu records; warm diff: %zu changed (racy window included), %zu removed\n",
                        loaded.size(), diff.changed.size(), diff.removed.size());
    }
    ::unlink(tmpl);
    std::printf("| index | save (fsync) | load | compare | warm restart = load+scan+compare |\n");
    std::printf("|---|---|---|---|---|\n");
    std::printf("| ms | %.1f | %.1f | %.1f | %.1f |\n\n", median(save_ms), median(load_ms),
                median(cmp_ms), median(restart_ms));

    long rss_before = status_kb("VmRSS:");
    tree.clear();
    tree.shrink_to_fit();
    index.clear();
    long rss_base = status_kb("VmRSS:");
    auto t0 = Clock::now();
    Watcher w(root, rules);
    double setup = ms_since(t0);
    long rss_watch = status_kb("VmRSS:");
    std::printf("watcher: %zu directories watched in %.1f ms; RSS %ld kB before (with scan+index %ld kB), "
                "+%ld kB for the watcher\n",
                w.watch_count(), setup, rss_base, rss_before, rss_watch - rss_base);

    // Edit-to-read() latency: write 100 bytes, wait for the fd, read().
    std::string target;
    for (auto &e : scan(root, rules))
        if (e.type == Entry::Type::Dir) target = e.path;  // a deep-ish directory
    std::string file = root + "/" + (target.empty() ? "" : target + "/") + "nh-bench-latency";
    std::string rel = (target.empty() ? "" : target + "/") + "nh-bench-latency";
    std::vector<double> lat, notify;
    std::string payload(100, 'x');
    while (!w.read().empty()) {
    }
    for (int i = 0; i < edits; ++i) {
        auto start = Clock::now();
        std::FILE *f = std::fopen(file.c_str(), "wb");
        std::fwrite(payload.data(), 1, payload.size(), f);
        std::fclose(f);
        auto written = Clock::now();
        bool seen = false;
        while (!seen) {
            struct pollfd p{w.fd(), POLLIN, 0};
            if (::poll(&p, 1, 1000) <= 0) break;
            for (auto &c : w.read()) seen = seen || c.path == rel;
        }
        auto now = Clock::now();
        lat.push_back(std::chrono::duration<double, std::micro>(now - start).count());
        notify.push_back(std::chrono::duration<double, std::micro>(now - written).count());
        // Drain the close event so the next edit starts clean.
        struct pollfd p{w.fd(), POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) w.read();
    }
    ::unlink(file.c_str());
    std::printf("| edit-to-read() latency, %d edits of 100 bytes | p50 us | p90 us | max us |\n", edits);
    std::printf("|---|---|---|---|\n");
    std::printf("| open+write+close -> poll -> read() | %.0f | %.0f | %.0f |\n", percentile(lat, 0.5),
                percentile(lat, 0.9), percentile(lat, 1.0));
    std::printf("| after close: poll -> read() has it | %.0f | %.0f | %.0f |\n\n", percentile(notify, 0.5),
                percentile(notify, 0.9), percentile(notify, 1.0));
    struct rusage ru;
    ::getrusage(RUSAGE_SELF, &ru);
    std::printf("peak RSS (VmHWM) %ld kB, CPU user %.2f s sys %.2f s\n", status_kb("VmHWM:"),
                static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6,
                static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6);
    return 0;
}
