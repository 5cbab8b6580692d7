// nhsyncd: the sync server the dev-mode sidecar runs.
//   nhsyncd --root DIR [--listen ADDR:PORT] [--state-dir DIR] [--token-file FILE] [--no-fsync]
//           [--tunnel-listen ADDR:PORT|off]
// The token comes from --token-file or the environment variable
// NH_SYNC_TOKEN; it is never printed. Listens on 127.0.0.1:NH_DEV_DEFAULT_SYNC_PORT
// by default. Its own state (index, server id) lives outside the root.
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "nocalhost.h"
#include "sync/protocol.hpp"
#include "sync/server.hpp"
#include "tunnel.hpp"

namespace {

void usage(FILE *f) {
    std::fprintf(f,
                 "usage: nhsyncd --root DIR [--listen ADDR:PORT] [--state-dir DIR] [--token-file FILE]\n"
                 "               [--no-fsync] [--tunnel-listen ADDR:PORT|off]\n"
                 "  --root DIR          the directory to sync into (created if missing)\n"
                 "  --listen ADDR:PORT  where to listen (default 127.0.0.1:%d; port 0: any,\n"
                 "                      printed on stderr)\n"
                 "  --state-dir DIR     where nhsyncd keeps its index and id, in DIR/ROOT-HASH\n"
                 "                      (one per root; outside the root); else $NH_SYNCD_STATE_DIR,\n"
                 "                      else $XDG_STATE_HOME/nhsyncd or ~/.local/state/nhsyncd,\n"
                 "                      else /tmp/nhsyncd-UID\n"
                 "  --token-file FILE   the client's secret token (else $NH_SYNC_TOKEN)\n"
                 "  --no-fsync          acknowledge batches without syncfs()\n"
                 "  --tunnel-listen A:P reverse tunnels for the same token (default 127.0.0.1 on\n"
                 "                      the sync port + 1; none when that is 0); off: none\n"
                 "Set NH_LOG=info or NH_LOG=debug for logs on stderr.\n",
                 NH_DEV_DEFAULT_SYNC_PORT);
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}

bool inside(const std::filesystem::path &dir, const std::filesystem::path &root) {
    auto d = dir.lexically_normal().string(), r = root.lexically_normal().string();
    if (!r.empty() && r.back() == '/') r.pop_back();
    return d == r || d.rfind(r + "/", 0) == 0;
}

std::filesystem::path absolute_of(const std::string &p) {
    std::error_code ec;
    auto a = std::filesystem::absolute(p, ec);
    return std::filesystem::weakly_canonical(a, ec);
}

// The state dir of the server of `root`: base/ROOT-HASH (FNV-1a of the root's absolute path),
// so that servers of several roots may share a base. The base: `given`, else the user's state
// home, else /tmp (also when that home is inside the root or cannot be written).
std::string state_dir_of(const std::string &root, std::string base) {
    namespace fs = std::filesystem;
    fs::path abs = absolute_of(root);
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : abs.string()) h = (h ^ ch) * 1099511628211ull;
    char name[17];
    std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(h));
    if (base.empty()) {
        if (const char *x = std::getenv("XDG_STATE_HOME"); x && *x == '/') base = fs::path(x) / "nhsyncd";
        else if (const char *home = std::getenv("HOME"); home && *home == '/' && std::string(home) != "/")
            base = (fs::path(home) / ".local" / "state" / "nhsyncd").string();
        // (A home that is inside the root, or not this user's to write: a server run as another
        // user with the caller's environment.)
        if (!base.empty() && !inside(absolute_of(base), abs)) {
            std::error_code ec;
            fs::path dir = fs::path(base) / name;
            fs::create_directories(dir, ec);
            if (fs::is_directory(dir, ec) && ::access(dir.c_str(), W_OK) == 0) return dir.string();
        }
        base = "/tmp/nhsyncd-" + std::to_string(::getuid());
    }
    return (fs::path(base) / name).string();
}

}  // namespace

int main(int argc, char **argv) {
    nh::sync::ServerOptions opt;
    std::string token_file, tunnel_listen;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const char *name) -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "nhsyncd: %s needs a value\n", name);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--root") {
            opt.root = value("--root");
        } else if (a == "--listen") {
            opt.listen = value("--listen");
        } else if (a == "--state-dir") {
            opt.state_dir = value("--state-dir");
        } else if (a == "--token-file") {
            token_file = value("--token-file");
        } else if (a == "--tunnel-listen") {
            tunnel_listen = value("--tunnel-listen");
        } else if (a == "--no-fsync") {
            opt.durable = false;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else if (a == "--version") {
            std::printf("nhsyncd %s (protocol %u)\n", NH_VERSION_STRING, nh::sync::proto::kVersion);
            return 0;
        } else {
            std::fprintf(stderr, "nhsyncd: unknown argument '%s'\n", a.c_str());
            usage(stderr);
            return 2;
        }
    }
    if (opt.root.empty()) {
        usage(stderr);
        return 2;
    }
    if (!token_file.empty()) {
        std::ifstream f(token_file);
        if (!f) {
            std::fprintf(stderr, "nhsyncd: cannot read token file '%s'\n", token_file.c_str());
            return 2;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        opt.token = trim(ss.str());
    } else if (const char *t = std::getenv("NH_SYNC_TOKEN")) {
        opt.token = trim(t);
    }
    if (opt.token.empty()) {
        std::fprintf(stderr, "nhsyncd: no token (use --token-file FILE or NH_SYNC_TOKEN)\n");
        return 2;
    }
    ::mkdir(opt.root.c_str(), 0755);
    if (opt.state_dir.empty())
        if (const char *d = std::getenv("NH_SYNCD_STATE_DIR"); d && *d) opt.state_dir = d;
    opt.state_dir = state_dir_of(opt.root, opt.state_dir);
    {
        if (inside(absolute_of(opt.state_dir), absolute_of(opt.root))) {
            std::fprintf(stderr, "nhsyncd: the state dir '%s' is inside the root '%s'; give one outside it\n",
                         opt.state_dir.c_str(), opt.root.c_str());
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    try {
        nh::sync::Server server(opt);
        std::fprintf(stderr, "nhsyncd: listening on port %u\n", static_cast<unsigned>(server.port()));
        auto tunnel = nhsyncd::Tunnel::start(tunnel_listen, opt.listen, opt.token);
        if (tunnel) std::fprintf(stderr, "nhsyncd: reverse tunnels on port %d\n", tunnel->port());
        std::thread sig([&server, set] {
            int s = 0;
            sigwait(&set, &s);
            server.stop();
        });
        server.run();
        pthread_kill(sig.native_handle(), SIGTERM);
        sig.join();
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "nhsyncd: %s\n", e.what());
        return 1;
    }
}
