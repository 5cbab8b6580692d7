// nh dev associate: which workload a local directory belongs to (the store every process of
// the user shares, through the C ABI).
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"

namespace {

using json = nlohmann::json;

json take_json(nh_buf &b) {
    json j = json::parse(b.ptr ? b.ptr : "null");
    nh_buf_dispose(&b);
    return j;
}

std::string or_dash(const json &e, const char *key) {
    std::string v = e.value(key, "");
    return v.empty() ? "-" : v;
}

void print_associations(const json &list) {
    std::vector<std::vector<std::string>> rows = {{"DIRECTORY", "NAMESPACE", "WORKLOAD", "CONTAINER", "CONTEXT"}};
    for (const auto &e : list)
        rows.push_back({e.value("dir", ""), or_dash(e, "namespace"), e.value("kind", "") + "/" + e.value("name", ""),
                        or_dash(e, "container"), or_dash(e, "context")});
    nh_cli::print_table(rows);
}

void print_one(const json &e) {
    std::printf("%s -> %s/%s (namespace %s, container %s, context %s)\n", e.value("dir", "").c_str(),
                e.value("kind", "").c_str(), e.value("name", "").c_str(), or_dash(e, "namespace").c_str(),
                or_dash(e, "container").c_str(), or_dash(e, "context").c_str());
}

[[noreturn]] void fail() { throw CLI::RuntimeError(nh_cli::report_error()); }

// "deployment/web" -> {"deployment", "web"}.
std::pair<std::string, std::string> split_target(const std::string &text) {
    auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size())
        throw CLI::ValidationError("KIND/NAME", "expected KIND/NAME, e.g. deployment/web, got '" + text + "'");
    return {text.substr(0, slash), text.substr(slash + 1)};
}

}  // namespace

namespace nh_cli {

json associated_workload_dir(nh_client *c, const std::string &kind, const std::string &name, const std::string &ns) {
    nh_association_options o = NH_ASSOCIATION_OPTIONS_INIT;
    o.namespace_name = ns.c_str();
    std::string context = nh_client_context(c);
    if (!context.empty()) o.context = context.c_str();
    nh_buf b = NH_BUF_INIT;
    if (nh_association_find(&b, kind.c_str(), name.c_str(), &o) != NH_OK) fail_with_last_error(c);
    json found = take_json(b);
    if (found.empty()) return nullptr;
    if (found.size() > 1) {
        std::string dirs;
        for (const auto &e : found) dirs += "\n  " + e.value("dir", "");
        std::fprintf(stderr, "error: %s/%s is associated with %zu directories; say which to sync with --local-dir:%s\n",
                     kind.c_str(), name.c_str(), found.size(), dirs.c_str());
        nh_client_free(c);
        throw CLI::RuntimeError(EXIT_USAGE);
    }
    return found[0];
}

json associated_here() {
    nh_buf b = NH_BUF_INIT;
    if (nh_association_get(&b, ".", nullptr) != NH_OK) return nullptr;
    return take_json(b);
}

void apply_profile(nh_client *c, const std::string &kind, const std::string &name, const std::string &ns,
                   nh_dev_start_options &o, std::string &image, std::string &container, std::string &workdir) {
    if (!image.empty() && !container.empty() && !workdir.empty()) return;
    nh_dev_profile_options po = NH_DEV_PROFILE_OPTIONS_INIT;
    std::string context = nh_client_context(c);
    po.namespace_name = ns.c_str();
    po.context = context.c_str();
    nh_buf b = NH_BUF_INIT;
    if (nh_dev_profile_get(&b, kind.c_str(), name.c_str(), &po) != NH_OK) return;  // none yet, or unreadable
    json profile = take_json(b);
    // The dev config, where it says, wins over what was remembered.
    json config = json::object();
    if (nh_dev_config_resolve(&b, c, kind.c_str(), name.c_str(), &o) == NH_OK) config = take_json(b);
    else nh_buf_dispose(&b);
    auto from = [&](std::string &field, const char *key, const char *config_key) {
        if (!field.empty() || profile.value(key, "").empty() || !config.value(config_key, "").empty()) return false;
        field = profile.value(key, "");
        return true;
    };
    bool used = from(image, "image", "image");
    used = from(container, "container", "container") || used;
    if (workdir.empty() && !profile.value("workdir", "").empty() && config.value("workDir", NH_DEV_DEFAULT_WORKDIR) == NH_DEV_DEFAULT_WORKDIR) {
        workdir = profile.value("workdir", "");
        used = true;
    }
    if (used)
        std::fprintf(stderr, "using the dev profile of %s/%s: image %s, container %s, work dir %s\n", kind.c_str(),
                     name.c_str(), image.empty() ? "-" : image.c_str(), container.empty() ? "-" : container.c_str(),
                     workdir.empty() ? "-" : workdir.c_str());
}

void remember_profile(nh_client *c, const std::string &kind, const std::string &name, const std::string &ns,
                      const nh_session *s) {
    nh_buf b = NH_BUF_INIT;
    if (nh_session_status(&b, s) != NH_OK) return nh_buf_dispose(&b);
    json status = take_json(b);
    std::string context = nh_client_context(c), image = status.value("image", "");
    nh_dev_profile_options po = NH_DEV_PROFILE_OPTIONS_INIT;
    po.namespace_name = ns.c_str();
    po.context = context.c_str();
    po.image = image.empty() ? nullptr : image.c_str();
    po.container = nh_session_container(s);
    po.workdir = nh_session_workdir(s);
    if (nh_dev_profile_set(nullptr, kind.c_str(), name.c_str(), &po) != NH_OK)
        std::fprintf(stderr, "warning: the dev profile was not saved: %s\n", nh_error_last()->message);
}

}  // namespace nh_cli

void nh_cli_register_ide(CLI::App &app, nh_cli::Globals &g) {
    CLI::App *dev = app.get_subcommand("dev");
    struct Args {
        std::string dir, target, container;
        bool list = false, remove = false;
    };
    static Args a;
    auto *assoc = dev->add_subcommand(
        "associate", "associate a local directory with a workload (nh dev start syncs it when no --local-dir is given)");
    assoc->add_option("dir", a.dir, "the local directory (with no KIND/NAME: show its association)");
    assoc->add_option("target", a.target, "KIND/NAME, e.g. deployment/web");
    assoc->add_option("-c,--container", a.container, "the container to develop in");
    assoc->add_flag("--list", a.list, "list every association");
    assoc->add_flag("--remove", a.remove, "remove the association of DIR");
    nh_cli::add_output_flag(assoc, g, {"json", "yaml"});
    assoc->callback([&g] {
        if (a.list + a.remove > 1 || (a.list && !a.dir.empty()))
            throw CLI::ValidationError("associate", "give DIR KIND/NAME, DIR, --list, or --remove DIR");
        nh_buf b = NH_BUF_INIT;
        if (a.list) {
            if (nh_association_list(&b, nullptr) != NH_OK) fail();
            json list = take_json(b);
            if (!g.output.empty()) nh_cli::print_structured(list, g.output);
            else print_associations(list);
            return;
        }
        if (a.dir.empty()) throw CLI::ValidationError("DIR", "a directory is required (or --list)");
        if (a.remove) {
            if (!a.target.empty()) throw CLI::ValidationError("--remove", "takes only DIR");
            if (nh_association_remove(a.dir.c_str(), nullptr) != NH_OK) fail();
            std::printf("%s is no longer associated\n", a.dir.c_str());
            return;
        }
        if (a.target.empty()) {
            if (nh_association_get(&b, a.dir.c_str(), nullptr) != NH_OK) fail();
            json e = take_json(b);
            if (!g.output.empty()) nh_cli::print_structured(e, g.output);
            else print_one(e);
            return;
        }
        auto [kind, name] = split_target(a.target);
        // The namespace and context the global flags (or the kubeconfig) give; the kubeconfig as given.
        nh_client *c = nh_cli::client_or_fail(g);
        std::string ns = nh_client_namespace(c), context = nh_client_context(c);
        nh_client_free(c);
        std::string kubeconfig = g.kubeconfig;
        if (kubeconfig.empty() && std::getenv("KUBECONFIG")) kubeconfig = std::getenv("KUBECONFIG");
        nh_association_options o = NH_ASSOCIATION_OPTIONS_INIT;
        o.namespace_name = ns.c_str();
        o.context = context.c_str();
        o.kubeconfig = kubeconfig.c_str();
        if (!a.container.empty()) o.container = a.container.c_str();
        if (nh_association_set(&b, a.dir.c_str(), kind.c_str(), name.c_str(), &o) != NH_OK) fail();
        json e = take_json(b);
        if (!g.output.empty()) nh_cli::print_structured(e, g.output);
        else print_one(e);
    });

    // nh dev rights KIND/NAME [--check]
    struct RightsArgs {
        std::string target, mode = "replace";
        bool check = false;
    };
    static RightsArgs r;
    auto *rights = dev->add_subcommand(
        "rights", "the RBAC rights dev start and end of a workload need (-o yaml: a Role); --check: which this identity lacks");
    rights->add_option("target", r.target, "KIND/NAME")->required();
    rights->add_option("--mode", r.mode, "replace (default) or duplicate")->check(CLI::IsMember({"replace", "duplicate"}));
    rights->add_flag("--check", r.check, "ask the API server which of them this identity lacks (exit 4 when any needed is)");
    nh_cli::add_output_flag(rights, g, {"json", "yaml"});
    rights->callback([&g] {
        auto [kind, name] = split_target(r.target);
        nh_client *c = nh_cli::client_or_fail(g);
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.mode = r.mode == "duplicate" ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE;
        o.cancel = nh_cli::interrupt_token();
        nh_buf b = NH_BUF_INIT;
        int rc = r.check ? nh_dev_access_check(&b, c, kind.c_str(), name.c_str(), &o)
                         : nh_dev_required_rights(&b, c, kind.c_str(), name.c_str(), &o);
        if (rc != NH_OK) nh_cli::fail_with_last_error(c);
        json result = take_json(b);
        nh_client_free(c);
        if (!r.check) {
            json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                         {"kind", "Role"},
                         {"metadata", {{"name", "nocalhost-dev-" + nh_cli::canonical_kind(kind) + "-" + name}}},
                         {"rules", result}};
            if (!g.output.empty()) return nh_cli::print_structured(role, g.output);
            std::vector<std::vector<std::string>> rows = {{"APIGROUP", "RESOURCE", "VERBS"}};
            for (const auto &rule : result) {
                std::string verbs;
                for (const auto &v : rule["verbs"]) verbs += (verbs.empty() ? "" : ",") + v.get<std::string>();
                rows.push_back({rule["apiGroups"][0].get<std::string>().empty() ? "\"\"" : rule["apiGroups"][0].get<std::string>(),
                                rule["resources"][0].get<std::string>(), verbs});
            }
            return nh_cli::print_table(rows);
        }
        if (!g.output.empty()) nh_cli::print_structured(result, g.output);
        bool needed = false;
        for (const auto &m : result["missing"]) needed = needed || m.value("needed", true);
        if (g.output.empty()) {
            if (!result.value("checked", false)) {
                std::printf("cannot tell: %s\n", result.value("reason", "").c_str());
                return;
            }
            if (result["missing"].empty()) std::printf("every right dev mode of %s needs is held\n", r.target.c_str());
            for (const auto &m : result["missing"]) {
                std::string res = m.value("resource", "") + (m.value("subresource", "").empty() ? "" : "/" + m.value("subresource", ""));
                if (!m.value("group", "").empty()) res += "." + m.value("group", "");
                std::printf("missing: %s %s (%s)%s\n", m.value("verb", "").c_str(), res.c_str(), m.value("why", "").c_str(),
                            m.value("needed", true) ? "" : " [dev mode does without]");
            }
        }
        if (needed) throw CLI::RuntimeError(nh_cli::EXIT_DENIED);
    });

    // nh dev config get|set KIND/NAME
    struct ConfigArgs {
        std::string target, file, app, resource_version;
    };
    static ConfigArgs ca;
    auto *config = dev->add_subcommand("config", "the dev config kept in the cluster: get, set (write it back)");
    config->require_subcommand(1);
    auto *cget = config->add_subcommand("get", "print the dev config of a workload (its annotation, or --app's ConfigMap)");
    cget->add_option("target", ca.target, "KIND/NAME")->required();
    cget->add_option("--app", ca.app, "the application whose ConfigMap dev.nocalhost.config.APP holds it");
    nh_cli::add_output_flag(cget, g, {"json", "yaml"});
    cget->callback([&g] {
        auto [kind, name] = split_target(ca.target);
        nh_client *c = nh_cli::client_or_fail(g);
        nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
        if (!ca.app.empty()) o.app_name = ca.app.c_str();
        o.cancel = nh_cli::interrupt_token();
        nh_buf b = NH_BUF_INIT;
        if (nh_dev_config_read(&b, c, kind.c_str(), name.c_str(), &o) != NH_OK) nh_cli::fail_with_last_error(c);
        nh_client_free(c);
        json result = take_json(b);
        if (!g.output.empty()) return nh_cli::print_structured(result, g.output);
        if (result["config"].is_null()) {
            std::fprintf(stderr, "no dev config in the %s\n", result.value("source", "").c_str());
            throw CLI::RuntimeError(nh_cli::EXIT_NOT_FOUND);
        }
        std::fputs(result["config"].get<std::string>().c_str(), stdout);
    });
    auto *cset = config->add_subcommand(
        "set", "write a dev config back (validated; only over --resource-version, or where there is none yet)");
    cset->add_option("target", ca.target, "KIND/NAME")->required();
    cset->add_option("file", ca.file, "the config (YAML), or - for stdin")->required();
    cset->add_option("--app", ca.app, "write to the ConfigMap dev.nocalhost.config.APP instead of the annotation");
    cset->add_option("--resource-version", ca.resource_version,
                     "the resource_version read (nh dev config get -o json); refused if the config changed since");
    nh_cli::add_output_flag(cset, g, {"json", "yaml"});
    cset->callback([&g] {
        auto [kind, name] = split_target(ca.target);
        std::string text;
        {
            FILE *f = ca.file == "-" ? stdin : std::fopen(ca.file.c_str(), "rb");
            if (!f) throw CLI::ValidationError("file", "cannot read " + ca.file);
            char chunk[4096];
            for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0;) text.append(chunk, n);
            if (f != stdin) std::fclose(f);
        }
        nh_client *c = nh_cli::client_or_fail(g);
        nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
        if (!ca.app.empty()) o.app_name = ca.app.c_str();
        if (!ca.resource_version.empty()) o.resource_version = ca.resource_version.c_str();
        o.cancel = nh_cli::interrupt_token();
        nh_buf b = NH_BUF_INIT;
        if (nh_dev_config_write(&b, c, kind.c_str(), name.c_str(), text.c_str(), &o) != NH_OK)
            nh_cli::fail_with_last_error(c);
        nh_client_free(c);
        json result = take_json(b);
        if (!g.output.empty()) return nh_cli::print_structured(result, g.output);
        std::printf("wrote the dev config of %s to the %s (version %s)\n", ca.target.c_str(),
                    result.value("source", "").c_str(), result.value("resource_version", "").c_str());
    });
}
