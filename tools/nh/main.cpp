// nh: the command-line face of libnocalhost, built on its C ABI alone.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"

#define NH_CLI_COMMAND(area) void nh_cli_register_##area(CLI::App &app, nh_cli::Globals &g);
#include "commands.inc"
#undef NH_CLI_COMMAND

namespace {

const char *kLevels[] = {"error", "warn", "info", "debug", "trace"};

void log_to_stderr(int level, const char *message, void *) {
    nh_cli::progress_done();
    std::fprintf(stderr, "%s: %s\n", level >= 0 && level <= 4 ? kLevels[level] : "log", message);
}

}  // namespace

int main(int argc, char **argv) {
    // Named "nh" in help and messages whatever path it was run by.
    CLI::App app{"nh: put Kubernetes workloads into dev mode and bring them back exactly", "nh"};
    app.require_subcommand(1);
    app.set_version_flag("--version", [] {
        return std::string("nh ") + nh_version(nullptr, nullptr, nullptr) + " (libnocalhost ABI " + std::to_string(NH_ABI) + ")";
    });
    nh_cli::Globals g;
    app.parse_complete_callback([&] {
        if (g.verbosity > 0) nh_log_set_callback(log_to_stderr, NH_LOG_INFO + g.verbosity - 1, nullptr);
    });

    auto *version = app.add_subcommand("version", "print the library and server versions");
    version->callback([&] {
        std::printf("nh %s (libnocalhost ABI %d)\n", nh_version(nullptr, nullptr, nullptr), NH_ABI);
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        nh_buf v = NH_BUF_INIT;
        int rc = nh_client_server_version(&v, c, nh_cli::interrupt_token());
        if (rc == NH_OK) std::printf("server: %s\n", v.ptr);
        nh_buf_dispose(&v);
        nh_client_free(c);
        if (rc != NH_OK) throw CLI::RuntimeError(nh_cli::report_error());
    });

    auto *api = app.add_subcommand("api", "send a raw request to the API server and print the answer");
    std::string method = "GET", path, body, content_type;
    api->add_option("method", method, "GET, POST, PUT, PATCH or DELETE")->required();
    api->add_option("path", path, "path and query, e.g. /api/v1/namespaces")->required();
    api->add_option("-d,--data", body, "request body");
    api->add_option("--content-type", content_type, "body content type (default application/json)");
    api->callback([&] {
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        nh_request_options r = NH_REQUEST_OPTIONS_INIT;
        r.method = method.c_str();
        r.path = path.c_str();
        if (!body.empty()) r.body = body.c_str();
        if (!content_type.empty()) r.content_type = content_type.c_str();
        r.cancel = nh_cli::interrupt_token();
        nh_buf out = NH_BUF_INIT;
        int status = 0;
        int rc = nh_client_request(&out, &status, c, &r);
        if (out.ptr) std::printf("%s\n", out.ptr);
        nh_buf_dispose(&out);
        nh_client_free(c);
        if (rc != NH_OK) throw CLI::RuntimeError(nh_cli::report_error());
    });

#define NH_CLI_COMMAND(area) nh_cli_register_##area(app, g);
#include "commands.inc"
#undef NH_CLI_COMMAND

    // nh help [COMMAND...]: the help of nh or of a command, as `nh COMMAND... --help` prints it.
    auto *help = app.add_subcommand("help", "help about any command: nh help dev start");
    static std::vector<std::string> help_path;
    help->add_option("command", help_path, "the command, e.g. dev start");
    help->callback([&app] {
        CLI::App *target = &app;
        std::string parents;  // "nh dev" for `nh help dev start`, as its Usage line shows them
        for (const auto &word : help_path) {
            CLI::App *next = nullptr;
            for (CLI::App *sub : target->get_subcommands({}))
                if (sub->check_name(word)) next = sub;
            if (!next) {
                std::fprintf(stderr, "error: unknown command \"%s\" for \"nh help\"\n", word.c_str());
                throw CLI::RuntimeError(nh_cli::EXIT_USAGE);
            }
            parents += (parents.empty() ? "" : " ") + target->get_name();
            target = next;
        }
        std::fputs(target->help(parents).c_str(), stdout);
    });

    // Last, so that every command (help included) has them.
    nh_cli::add_global_flags(app, g);

    if (nh_init() < 0) return nh_cli::report_error();
    int code = 0;
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError &e) {
        code = e.get_exit_code();
    } catch (const CLI::ParseError &e) {
        code = nh_cli::report_parse_error(app, e);
    }
    nh_shutdown();
    return code;
}
