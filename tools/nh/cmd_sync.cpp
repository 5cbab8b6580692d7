// nh sync run|status: the standalone sync client and the status of a
// running `nh dev start --local-dir`.
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"

extern "C" int nh_cli_sync_run(int argc, char **argv);  // cmd_sync.c

void nh_cli_register_sync(CLI::App &app, nh_cli::Globals &g) {
    auto *sync = app.add_subcommand("sync", "file sync: run a sync client, or show a dev session's sync");
    sync->require_subcommand(1);

    auto *run = sync->add_subcommand(
        "run", "sync DIR to a sync server: run DIR --to HOST:PORT --token-file FILE [--once] [--mode send|two-way] "
               "[--ignore PATTERN]... [--gitignore] [--state-dir DIR] [--compress auto|on|off] [--quiet]");
    run->allow_extras();
    run->prefix_command();
    run->callback([run] {
        std::vector<std::string> args = run->remaining();
        std::vector<char *> argv;
        for (auto &a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        int code = nh_cli_sync_run(static_cast<int>(args.size()), argv.data());
        if (code != 0) throw CLI::RuntimeError(code);
    });

    static std::string target;
    auto *status = sync->add_subcommand("status", "the sync of a workload's dev session run by this machine's nh");
    status->add_option("target", target, "KIND/NAME")->required();
    nh_cli::add_output_flag(status, g, {"json", "yaml"});
    status->callback([&g] {
        auto slash = target.find('/');
        if (slash == std::string::npos) throw CLI::ValidationError("KIND/NAME", "expected KIND/NAME, got '" + target + "'");
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        std::string ns = nh_client_namespace(c);
        nh_client_free(c);
        std::string file = nh_cli::sync_status_file(ns, target.substr(0, slash), target.substr(slash + 1));
        std::ifstream in(file);
        nlohmann::json st = nlohmann::json::parse(in, nullptr, false);
        bool running = st.is_object() && kill(static_cast<pid_t>(st.value("pid", 0L)), 0) == 0;
        if (!running) {
            std::fprintf(stderr, "no sync of %s in namespace %s is running on this machine "
                                 "(start one with: nh dev start %s%s --image IMG --local-dir DIR)\n",
                         target.c_str(), ns.c_str(), target.c_str(), nh_cli::global_flags_hint(g).c_str());
            throw CLI::RuntimeError(nh_cli::EXIT_NOT_FOUND);
        }
        if (!g.output.empty()) {
            nh_cli::print_structured(st, g.output);
            return;
        }
        long age = static_cast<long>(std::time(nullptr)) - st.value("updated_at", 0L);
        std::printf("%s (namespace %s): %s\n", target.c_str(), ns.c_str(), st.value("state", "").c_str());
        std::printf("  local dir:   %s (nh pid %ld)\n", st.value("local_dir", "").c_str(), st.value("pid", 0L));
        std::printf("  this round:  %llu/%llu files, %llu/%llu bytes\n",
                    (unsigned long long)st.value("files_done", 0ULL), (unsigned long long)st.value("files_total", 0ULL),
                    (unsigned long long)st.value("bytes_done", 0ULL), (unsigned long long)st.value("bytes_total", 0ULL));
        std::printf("  since start: %llu files synced, %llu errors, %llu conflicts, %llu reconnects\n",
                    (unsigned long long)st.value("files_synced", 0ULL), (unsigned long long)st.value("file_errors", 0ULL),
                    (unsigned long long)st.value("conflicts", 0ULL), (unsigned long long)st.value("reconnects", 0ULL));
        if (!st.value("last_error", "").empty()) std::printf("  last error:  %s\n", st.value("last_error", "").c_str());
        std::printf("  updated:     %ld s ago\n", age);
    });
}
