// nh app: applications (install, list, upgrade, uninstall).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

using json = nlohmann::json;
using nh_cli::client_or_fail;
using nh_cli::fail_with_last_error;

struct AppFlags {
    std::string name;
    std::string source;
    std::vector<std::string> values;
    std::vector<std::string> set;
    std::string config;
    bool all_namespaces = false;
    // The pointers nh_app_options holds.
    std::vector<const char *> values_ptrs, set_ptrs;
};

nh_app_options options(AppFlags &f) {
    nh_app_options o = NH_APP_OPTIONS_INIT;
    for (const auto &v : f.values) f.values_ptrs.push_back(v.c_str());
    for (const auto &s : f.set) f.set_ptrs.push_back(s.c_str());
    o.values_files = f.values_ptrs.data();
    o.values_files_count = f.values_ptrs.size();
    o.set = f.set_ptrs.data();
    o.set_count = f.set_ptrs.size();
    o.config_path = f.config.empty() ? nullptr : f.config.c_str();
    o.all_namespaces = f.all_namespaces;
    o.cancel = nh_cli::interrupt_token();
    return o;
}

using SourceCall = int (*)(nh_buf *, nh_client *, const char *, const char *, const nh_app_options *);

void print_app(const nh_cli::Globals &g, const json &app, const char *done) {
    if (g.output == "json" || g.output == "yaml") return nh_cli::print_structured(app, g.output);
    std::printf("application %s %s in namespace %s: %zu objects, %zu workloads\n", app.value("name", "").c_str(), done,
                app.value("namespace", "").c_str(), app.value("objects", json::array()).size(),
                app.value("workloads", json::array()).size());
}

void run_source(nh_cli::Globals &g, AppFlags &f, SourceCall call, const char *done) {
    nh_client *c = client_or_fail(g);
    nh_app_options o = options(f);
    nh_buf out = NH_BUF_INIT;
    if (call(&out, c, f.name.c_str(), f.source.c_str(), &o) != NH_OK) fail_with_last_error(c);
    json app = json::parse(out.ptr);
    nh_buf_dispose(&out);
    nh_client_free(c);
    print_app(g, app, done);
}

void run_list(nh_cli::Globals &g, AppFlags &f) {
    nh_client *c = client_or_fail(g);
    nh_app_options o = options(f);
    nh_buf out = NH_BUF_INIT;
    if (nh_app_list(&out, c, &o) != NH_OK) fail_with_last_error(c);
    json list = json::parse(out.ptr);
    nh_buf_dispose(&out);
    nh_client_free(c);
    if (g.output == "json" || g.output == "yaml") return nh_cli::print_structured(list, g.output);
    if (g.output == "name") {
        for (const auto &a : list) std::printf("app/%s\n", a.value("name", "").c_str());
        return;
    }
    if (list.empty()) {
        std::fprintf(stderr, "No applications found.\n");
        return;
    }
    std::vector<std::vector<std::string>> rows{{"NAMESPACE", "NAME", "TYPE", "STATE", "WORKLOADS"}};
    for (const auto &a : list) {
        std::string w;
        for (const auto &x : a.value("workloads", json::array()))
            w += (w.empty() ? "" : ",") + nh_cli::canonical_kind(x.value("kind", "")) + "/" + x.value("name", "");
        rows.push_back({a.value("namespace", ""), a.value("name", ""), a.value("type", ""), a.value("state", ""),
                        w.empty() ? "-" : w});
    }
    nh_cli::print_table(rows);
}

void add_source_flags(CLI::App *cmd, nh_cli::Globals &g, AppFlags &f) {
    cmd->add_option("name", f.name, "the application")->required();
    cmd->add_option("source", f.source, "a directory of manifests, a Kustomize directory or a Helm chart")->required();
    cmd->add_option("-f,--values", f.values, "Helm: a values file (repeatable)");
    cmd->add_option("--set", f.set, "Helm: key=value (repeatable)");
    cmd->add_option("--config", f.config,
                    "the dev config (default: SOURCE/.nocalhost/config.yaml when there is one)");
    nh_cli::add_output_flag(cmd, g, {"json", "yaml"});
}

}  // namespace

void nh_cli_register_app(CLI::App &app, nh_cli::Globals &g) {
    static AppFlags f;
    auto *cmd = app.add_subcommand("app", "applications: install, upgrade and uninstall a set of objects");
    cmd->require_subcommand(1);

    auto *install = cmd->add_subcommand("install", "install an application from manifests, Kustomize or a Helm chart");
    add_source_flags(install, g, f);
    install->callback([&g] { run_source(g, f, nh_app_install, "installed"); });

    auto *upgrade = cmd->add_subcommand("upgrade", "apply an application's new objects and delete those that left it");
    add_source_flags(upgrade, g, f);
    upgrade->callback([&g] { run_source(g, f, nh_app_upgrade, "upgraded"); });

    auto *list = cmd->add_subcommand("list", "list applications with their workloads");
    list->alias("ls");
    list->add_flag("-A,--all-namespaces", f.all_namespaces, "the applications of every namespace");
    nh_cli::add_output_flag(list, g, {"json", "yaml", "name"});
    list->callback([&g] { run_list(g, f); });

    auto *uninstall = cmd->add_subcommand("uninstall", "delete exactly what an application installed");
    uninstall->add_option("name", f.name, "the application")->required();
    uninstall->callback([&g] {
        nh_client *c = client_or_fail(g);
        nh_app_options o = options(f);
        if (nh_app_uninstall(c, f.name.c_str(), &o) != NH_OK) fail_with_last_error(c);
        nh_client_free(c);
        std::printf("application %s uninstalled\n", f.name.c_str());
    });
}
