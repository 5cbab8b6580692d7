// nh space: dev spaces (create, list, share, renew, delete).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"

namespace {

using json = nlohmann::json;
using nh_cli::client_or_fail;
using nh_cli::fail_with_last_error;

struct SpaceFlags {
    std::string name;
    std::string developer;
    bool existing = false;
    std::string cpu, memory, storage;
    int pods = 0;
    std::string rules;  // JSON, or @FILE
    std::string ttl;
    bool revoke = false;
    std::string write;  // --write-kubeconfig FILE
    bool overwrite = false;
};

[[noreturn]] void usage_error(const std::string &message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    throw CLI::RuntimeError(nh_cli::EXIT_USAGE);
}

nh_space_options options(const SpaceFlags &f) {
    nh_space_options o = NH_SPACE_OPTIONS_INIT;
    o.developer = f.developer.empty() ? nullptr : f.developer.c_str();
    o.existing_namespace = f.existing;
    o.cpu = f.cpu.empty() ? nullptr : f.cpu.c_str();
    o.memory = f.memory.empty() ? nullptr : f.memory.c_str();
    o.storage = f.storage.empty() ? nullptr : f.storage.c_str();
    o.pods = f.pods;
    o.revoke = f.revoke;
    if (!f.ttl.empty()) {
        o.token_seconds = nh_cli::parse_duration(f.ttl);
        if (o.token_seconds <= 0) usage_error("--token-ttl " + f.ttl + ": use a duration such as 12h or 90m");
    }
    o.cancel = nh_cli::interrupt_token();
    return o;
}

// The rules as JSON text: given inline or, as @FILE, read from a file.
std::string rules_text(const std::string &flag) {
    if (flag.empty() || flag[0] != '@') return flag;
    std::ifstream in(flag.substr(1));
    if (!in) usage_error("--rules " + flag + ": cannot read " + flag.substr(1) + ": " + std::strerror(errno));
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes the kubeconfig readable by its owner only; an existing file is kept unless overwriting.
void write_kubeconfig(const std::string &path, const std::string &text, bool overwrite) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL), 0600);
    if (fd < 0) {
        if (errno == EEXIST) usage_error(path + " exists; pass --overwrite to replace it");
        std::fprintf(stderr, "error: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
        throw CLI::RuntimeError(nh_cli::EXIT_ERROR);
    }
    (void)::fchmod(fd, 0600);
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::fprintf(stderr, "error: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
            ::close(fd);
            throw CLI::RuntimeError(nh_cli::EXIT_ERROR);
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
}

using AccessCall = int (*)(nh_buf *, nh_client *, const char *, const nh_space_options *);

// Runs create, share or renew and hands the developer's access out as -o and --write-kubeconfig ask.
void run_access(nh_cli::Globals &g, const SpaceFlags &f, AccessCall call, const char *done) {
    if (f.developer.empty()) usage_error("name the developer: --for NAME");
    nh_client *c = client_or_fail(g);
    nh_space_options o = options(f);
    std::string rules = rules_text(f.rules);
    if (!rules.empty()) o.extra_rules_json = rules.c_str();
    nh_buf out = NH_BUF_INIT;
    if (call(&out, c, f.name.c_str(), &o) != NH_OK) fail_with_last_error(c);
    json access = json::parse(out.ptr);
    nh_buf_dispose(&out);
    nh_client_free(c);
    const std::string kubeconfig = access.value("kubeconfig", "");
    if (g.output == "kubeconfig") {
        std::fputs(kubeconfig.c_str(), stdout);
        return;
    }
    std::string file = f.write;
    if (file.empty() && g.output.empty())
        file = f.name + "-" + access.value("service_account", "developer") + ".kubeconfig";
    if (!file.empty()) write_kubeconfig(file, kubeconfig, f.overwrite);
    if (g.output == "json" || g.output == "yaml") {
        if (!file.empty()) access["kubeconfig"] = "written to " + file;
        nh_cli::print_structured(access, g.output);
        return;
    }
    std::printf("space %s %s for %s; kubeconfig written to %s (token expires %s)\n", f.name.c_str(), done,
                f.developer.c_str(), file.c_str(), access.value("expires", "").c_str());
}

std::string quota_text(const json &q) {
    if (!q.is_object() || q.empty()) return "-";
    std::string out;
    for (const char *key : {"requests.cpu", "requests.memory", "pods", "requests.storage"}) {
        if (!q.contains(key)) continue;
        std::string label = key;
        if (label.rfind("requests.", 0) == 0) label = label.substr(9);
        out += (out.empty() ? "" : ",") + label + "=" + q[key].get<std::string>();
    }
    return out.empty() ? "-" : out;
}

void run_list(nh_cli::Globals &g, const SpaceFlags &f) {
    nh_client *c = client_or_fail(g);
    nh_space_options o = options(f);
    nh_buf out = NH_BUF_INIT;
    if (nh_space_list(&out, c, &o) != NH_OK) fail_with_last_error(c);
    json list = json::parse(out.ptr);
    nh_buf_dispose(&out);
    nh_client_free(c);
    if (g.output == "json" || g.output == "yaml") return nh_cli::print_structured(list, g.output);
    if (g.output == "name") {
        for (const auto &s : list) std::printf("space/%s\n", s.value("name", "").c_str());
        return;
    }
    if (list.empty()) {
        std::fprintf(stderr, "No spaces found.\n");
        return;
    }
    std::vector<std::vector<std::string>> rows{{"NAME", "OWNER", "DEVELOPERS", "QUOTA", "NAMESPACE", "AGE"}};
    for (const auto &s : list) {
        std::string devs;
        for (const auto &d : s.value("developers", json::array()))
            devs += (devs.empty() ? "" : ",") + d.value("developer", "");
        rows.push_back({s.value("name", ""), s.value("owner", ""), devs.empty() ? "-" : devs,
                        quota_text(s.value("quota", json())), s.value("namespace", ""), nh_cli::age(s.value("since", json()))});
    }
    nh_cli::print_table(rows);
}

void run_delete(nh_cli::Globals &g, const SpaceFlags &f) {
    nh_client *c = client_or_fail(g);
    nh_space_options o = options(f);
    if (nh_space_delete(c, f.name.c_str(), &o) != NH_OK) fail_with_last_error(c);
    nh_client_free(c);
    if (f.developer.empty()) std::printf("space %s deleted\n", f.name.c_str());
    else std::printf("%s's access to space %s removed\n", f.developer.c_str(), f.name.c_str());
}

void add_access_flags(CLI::App *cmd, nh_cli::Globals &g, SpaceFlags &f) {
    cmd->add_option("--token-ttl", f.ttl, "the token's lifetime, e.g. 12h (default 24h; at least 10m)");
    cmd->add_option("--write-kubeconfig", f.write,
                    "write the developer's kubeconfig to FILE (default without -o: ./SPACE-nh-DEVELOPER.kubeconfig)");
    cmd->add_flag("--overwrite", f.overwrite, "replace the kubeconfig file if it exists");
    nh_cli::add_output_flag(cmd, g, {"kubeconfig", "json", "yaml"});
}

}  // namespace

void nh_cli_register_space(CLI::App &app, nh_cli::Globals &g) {
    static SpaceFlags f;
    auto *space = app.add_subcommand("space", "dev spaces: a namespace, its rights and quota, for developers");
    space->require_subcommand(1);

    auto *create = space->add_subcommand("create", "create a space for a developer and write their kubeconfig");
    create->add_option("name", f.name, "the space (its namespace)")->required();
    create->add_option("--for", f.developer, "the developer it is for")->required();
    create->add_flag("--existing", f.existing, "make a space of a namespace that exists");
    create->add_option("--cpu", f.cpu, "CPU quota, e.g. 2 or 500m");
    create->add_option("--memory", f.memory, "memory quota, e.g. 4Gi");
    create->add_option("--pods", f.pods, "at most this many pods");
    create->add_option("--storage", f.storage, "storage quota of claims, e.g. 10Gi");
    create->add_option("--rules", f.rules, "more rights for the Role: PolicyRules as JSON, or @FILE");
    add_access_flags(create, g, f);
    create->callback([&g] { run_access(g, f, nh_space_create, "created"); });

    auto *share = space->add_subcommand("share", "give another developer access to a space");
    share->add_option("name", f.name, "the space")->required();
    share->add_option("--with", f.developer, "the developer")->required();
    add_access_flags(share, g, f);
    share->callback([&g] { run_access(g, f, nh_space_share, "shared"); });

    auto *renew = space->add_subcommand("renew", "a new token for a developer's access to a space");
    renew->add_option("name", f.name, "the space")->required();
    renew->add_option("--for", f.developer, "the developer")->required();
    renew->add_flag("--revoke", f.revoke, "every token issued before stops working");
    add_access_flags(renew, g, f);
    renew->callback([&g] { run_access(g, f, nh_space_renew, "renewed"); });

    auto *list = space->add_subcommand("list", "list spaces (nh space list --for alice)");
    list->alias("ls");
    list->add_option("--for", f.developer, "only the spaces this developer can use");
    nh_cli::add_output_flag(list, g, {"json", "yaml", "name"});
    list->callback([&g] { run_list(g, f); });

    auto *del = space->add_subcommand("delete", "delete a space: everything it made, nothing else");
    del->add_option("name", f.name, "the space")->required();
    del->add_option("--for", f.developer, "only remove this developer's access");
    del->callback([&g] { run_delete(g, f); });
}
