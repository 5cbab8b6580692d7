// nh: the command-line face of libnocalhost, built on its C ABI alone.
#include <cstdio>

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
    CLI::App app{"nh: put Kubernetes workloads into dev mode and bring them back exactly"};
    app.require_subcommand(1);
    nh_cli::Globals g;
    app.add_option("--kubeconfig", g.kubeconfig, "kubeconfig file(s), ':'-separated (default: $KUBECONFIG, ~/.kube/config)");
    app.add_option("--context", g.context, "kubeconfig context to use");
    app.add_option("-n,--namespace", g.ns, "namespace (default: the context's)");
    app.add_flag("-v,--verbose", g.verbosity, "more log output (repeat for more)");
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

    if (nh_init() < 0) return nh_cli::report_error();
    int code = 0;
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError &e) {
        code = e.get_exit_code();
    } catch (const CLI::ParseError &e) {
        code = app.exit(e);
        if (code != 0) code = nh_cli::EXIT_USAGE;
    }
    nh_shutdown();
    return code;
}
