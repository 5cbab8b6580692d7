// nhsyncd: the sync server the dev-mode sidecar runs.
//   nhsyncd --root DIR [--listen ADDR:PORT] [--token-file FILE] [--no-fsync]
// The token comes from --token-file or the environment variable
// NH_SYNC_TOKEN; it is never printed. Listens on 127.0.0.1:7070 by default.
#include <pthread.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "nocalhost.h"
#include "sync/protocol.hpp"
#include "sync/server.hpp"

namespace {

void usage(FILE *f) {
    std::fprintf(f,
                 "usage: nhsyncd --root DIR [--listen ADDR:PORT] [--token-file FILE] [--no-fsync]\n"
                 "  --root DIR          the directory to sync into (created if missing)\n"
                 "  --listen ADDR:PORT  where to listen (default 127.0.0.1:7070; port 0: any,\n"
                 "                      printed on stderr)\n"
                 "  --token-file FILE   the client's secret token (else $NH_SYNC_TOKEN)\n"
                 "  --no-fsync          acknowledge batches without syncfs()\n"
                 "Set NH_LOG=info or NH_LOG=debug for logs on stderr.\n");
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}

}  // namespace

int main(int argc, char **argv) {
    nh::sync::ServerOptions opt;
    std::string token_file;
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
        } else if (a == "--token-file") {
            token_file = value("--token-file");
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
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    try {
        nh::sync::Server server(opt);
        std::fprintf(stderr, "nhsyncd: listening on port %u\n", static_cast<unsigned>(server.port()));
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
