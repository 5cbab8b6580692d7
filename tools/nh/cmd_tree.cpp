// nh get: the workload tree with its dev-mode overlay (and -w, its watch); nh logs: a pod's logs.
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

using json = nlohmann::json;

struct GetFlags {
    std::string kinds;  // "", "all", or a comma-separated list as kubectl takes it
    bool all_namespaces = false;
    std::string selector;
    bool watch = false;
};

struct LogsFlags {
    std::string target;
    std::string container;
    bool follow = false;
    long tail = -1;
    std::string since;
    bool previous = false;
    bool timestamps = false;
    std::string mode, developer;  // which dev session of a workload
};

using nh_cli::age;
using nh_cli::client_or_fail;
using nh_cli::parse_duration;
using nh_cli::fail_with_last_error;

std::vector<std::string> split_kinds(const std::string &text) {
    std::vector<std::string> out;
    if (text.empty() || text == "all") return out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        if (comma == std::string::npos) comma = text.size();
        if (comma > pos) out.push_back(text.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return out;
}

std::string lower(std::string s) {
    for (auto &ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string entry_ref(const json &e) { return lower(e.value("kind", "")) + "/" + e.value("name", ""); }

std::string ready(const json &e) {
    const std::string kind = e.value("kind", "");
    auto n = [](const json &v) { return v.is_number_integer() ? std::to_string(v.get<long>()) : std::string("-"); };
    if (kind == "CronJob") return e.value("suspended", false) ? "suspended" : std::to_string(e.value("active", 0L)) + " active";
    if (kind == "Job") return std::to_string(e.value("succeeded", 0L)) + "/" + n(e["replicas"]) + " done";
    return n(e["ready"]) + "/" + n(e["replicas"]);
}

// "replace by alice@host/123", "duplicate of bob@host", "nhctl"; "-" when not in dev mode.
std::string dev_text(const json &e) {
    std::string out;
    for (const auto &d : e.value("dev", json::array())) {
        std::string one = d.value("tool", "") == "nhctl" ? std::string("nhctl")
                          : d.value("mode", "") == "duplicate"
                              ? "duplicate of " + d.value("developer", "")
                              : "replace by " + d.value("owner", "");
        if (d.value("phase", "") == "starting") one += " (starting)";
        out += (out.empty() ? "" : ", ") + one;
    }
    return out.empty() ? "-" : out;
}

std::vector<std::string> row(const json &e, bool with_ns, bool with_kind, bool wide) {
    std::vector<std::string> r;
    if (with_ns) r.push_back(e.value("namespace", ""));
    r.push_back(with_kind ? entry_ref(e) : e.value("name", ""));
    r.insert(r.end(), {ready(e), e.value("application", ""), dev_text(e), age(e["created"])});
    if (wide) {
        std::string names, images, pods;
        for (const auto &c : e.value("containers", json::array())) {
            names += (names.empty() ? "" : ",") + c.value("name", "");
            images += (images.empty() ? "" : ",") + c.value("image", "");
        }
        for (const auto &d : e.value("dev", json::array()))
            if (d["pod"].is_object())
                pods += (pods.empty() ? "" : ",") + d["pod"].value("name", "") + "(" + d["pod"].value("phase", "") + ")";
        r.insert(r.end(), {names.empty() ? "-" : names, images.empty() ? "-" : images, pods.empty() ? "-" : pods});
    }
    return r;
}

std::vector<std::string> header(bool with_ns, bool wide) {
    std::vector<std::string> h;
    if (with_ns) h.push_back("NAMESPACE");
    h.insert(h.end(), {"NAME", "READY", "APPLICATION", "DEV", "AGE"});
    if (wide) h.insert(h.end(), {"CONTAINERS", "IMAGES", "DEV POD"});
    return h;
}

struct WatchPrint {
    const nh_cli::Globals *g;
    bool with_ns, with_kind;
};

int print_event(int type, const char *entry, size_t len, void *payload) {
    auto *w = static_cast<WatchPrint *>(payload);
    if (type == NH_TREE_SYNCED) return 0;
    json e = json::parse(std::string(entry, len), nullptr, false);
    const char *names[] = {"", "ADDED", "MODIFIED", "DELETED"};
    const std::string &fmt = w->g->output;
    if (fmt == "json") {
        std::printf("%s\n", json{{"type", names[type]}, {"object", e}}.dump().c_str());
    } else if (fmt == "name") {
        std::printf("%s\n", entry_ref(e).c_str());
    } else {
        auto r = row(e, w->with_ns, w->with_kind, fmt == "wide");
        std::string line = names[type];
        for (const auto &cell : r) line += "   " + cell;
        std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
    return 0;
}

void run_get(const nh_cli::Globals &g, const GetFlags &f) {
    std::vector<std::string> kinds = split_kinds(f.kinds);
    std::vector<const char *> kind_ptrs;
    for (const auto &k : kinds) kind_ptrs.push_back(k.c_str());
    nh_client *c = client_or_fail(g);
    nh_tree_options o = NH_TREE_OPTIONS_INIT;
    o.all_namespaces = f.all_namespaces ? 1 : 0;
    o.kinds = kind_ptrs.empty() ? nullptr : kind_ptrs.data();
    o.kinds_count = kind_ptrs.size();
    if (!f.selector.empty()) o.label_selector = f.selector.c_str();
    o.cancel = nh_cli::interrupt_token();
    const bool with_kind = kinds.size() != 1;
    if (f.watch) {
        WatchPrint w{&g, f.all_namespaces, with_kind};
        if (g.output.empty() || g.output == "wide") {
            auto h = header(f.all_namespaces, g.output == "wide");
            std::string line = "EVENT";
            for (const auto &cell : h) line += "   " + cell;
            std::printf("%s\n", line.c_str());
        }
        o.callback = print_event;
        o.payload = &w;
        // Ctrl-C ends a watch, as kubectl's: not an error.
        if (nh_tree_watch(c, &o) != NH_OK && !(nh_error_last()->code == NH_ECANCELLED && nh_cancel_is_triggered(o.cancel)))
            fail_with_last_error(c);
        nh_client_free(c);
        return;
    }
    nh_buf b = NH_BUF_INIT;
    if (nh_tree_list(&b, c, &o) != NH_OK) fail_with_last_error(c);
    json list = json::parse(b.ptr ? b.ptr : "[]", nullptr, false);
    nh_buf_dispose(&b);
    const std::string ns = nh_client_namespace(c);
    nh_client_free(c);
    if (g.output == "json" || g.output == "yaml") return nh_cli::print_structured(list, g.output);
    if (g.output == "name") {
        for (const auto &e : list) std::printf("%s\n", entry_ref(e).c_str());
        return;
    }
    if (list.empty()) {
        // kubectl's words, on stderr.
        std::fprintf(stderr, "No resources found%s.\n", f.all_namespaces ? "" : (" in " + ns + " namespace").c_str());
        return;
    }
    std::vector<std::vector<std::string>> rows{header(f.all_namespaces, g.output == "wide")};
    for (const auto &e : list) rows.push_back(row(e, f.all_namespaces, with_kind, g.output == "wide"));
    nh_cli::print_table(rows);
}

int print_line(const char *line, size_t len, void *) {
    std::fwrite(line, 1, len, stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return 0;
}

void run_logs(const nh_cli::Globals &g, const LogsFlags &f) {
    nh_pod_logs_options o = NH_POD_LOGS_OPTIONS_INIT;
    if (!f.since.empty()) {
        o.since_seconds = parse_duration(f.since);
        if (o.since_seconds <= 0) {
            std::fprintf(stderr, "error: --since %s: use a duration such as 30s, 5m, 2h or 1h30m\n", f.since.c_str());
            throw CLI::RuntimeError(nh_cli::EXIT_USAGE);
        }
    }
    if (!f.container.empty()) o.container = f.container.c_str();
    o.follow = f.follow ? 1 : 0;
    o.tail_lines = f.tail;
    o.previous = f.previous ? 1 : 0;
    o.timestamps = f.timestamps ? 1 : 0;
    o.cancel = nh_cli::interrupt_token();
    o.callback = print_line;
    nh_client *c = client_or_fail(g);
    // A workload developed on a copy of the caller's (duplicate mode): the copy's dev pod, as exec.
    std::string target = f.target;
    auto slash = target.find('/');
    if (slash != std::string::npos && nh_cli::canonical_kind(target.substr(0, slash)) != "pod") {
        nh_cli::SessionPick pick;
        try {
            pick = nh_cli::pick_session(c, g, "logs", target.substr(0, slash), target.substr(slash + 1), f.mode, f.developer);
        } catch (...) {
            nh_client_free(c);
            throw;
        }
        const json &st = pick.status;
        if (pick.mode == "duplicate" && st.is_object() && st.value("dev_mode", false) && st["copy"].is_string())
            target = "deployment/" + st["copy"].get<std::string>();
    }
    nh_buf b = NH_BUF_INIT;
    if (nh_pod_logs_resolve(&b, c, target.c_str(), &o) != NH_OK) fail_with_last_error(c);
    json pick = json::parse(b.ptr ? b.ptr : "{}", nullptr, false);
    nh_buf_dispose(&b);
    // As kubectl: which pod of several, and which container of several when none was named.
    if (pick.value("pods", 0) > 1)
        std::fprintf(stderr, "Found %d pods, using pod/%s\n", pick.value("pods", 0), pick.value("pod", "").c_str());
    if (f.container.empty() && pick.value("containers", json::array()).size() > 1) {
        std::string all;
        for (const auto &n : pick["containers"]) all += (all.empty() ? "" : ", ") + n.get<std::string>();
        std::fprintf(stderr, "Defaulted container \"%s\" out of: %s\n", pick.value("container", "").c_str(), all.c_str());
    }
    std::string pod_target = "pod/" + pick.value("pod", "");
    if (nh_pod_logs(nullptr, c, pod_target.c_str(), &o) != NH_OK) {
        if (nh_error_last()->code == NH_ECANCELLED && nh_cancel_is_triggered(o.cancel)) {  // Ctrl-C, as kubectl
            nh_client_free(c);
            return;
        }
        fail_with_last_error(c);
    }
    nh_client_free(c);
}

}  // namespace

void nh_cli_register_tree(CLI::App &app, nh_cli::Globals &g) {
    static GetFlags gf;
    auto *get = app.add_subcommand("get", "list workloads with their application and dev mode (nh get deploy -A)");
    get->add_option("kind", gf.kinds,
                    "deployments, statefulsets, daemonsets, replicasets, jobs, cronjobs, pods (comma-separated), "
                    "or all (the default)");
    get->add_flag("-A,--all-namespaces", gf.all_namespaces, "every namespace");
    get->add_option("-l,--selector", gf.selector, "only workloads whose labels match, e.g. app=web,tier!=db");
    get->add_flag("-w,--watch", gf.watch, "list, then print each change as it happens (Ctrl-C stops)");
    nh_cli::add_output_flag(get, g, {"json", "yaml", "name", "wide"});
    get->callback([&g] { run_get(g, gf); });

    static LogsFlags lf;
    auto *logs = app.add_subcommand("logs", "print the logs of a pod, or of a workload's pod (nh logs -f deploy/web)");
    logs->add_option("target", lf.target, "KIND/NAME (deployment/web) or a pod name")->required();
    logs->add_flag("-f,--follow", lf.follow, "keep printing new lines until the container ends");
    logs->add_option("--tail", lf.tail, "only the last N lines (default: all)");
    logs->add_option("--since", lf.since, "only lines newer than a duration: 30s, 5m, 2h");
    logs->add_option("-c,--container", lf.container, "the container (default: the pod's default, else its first)");
    logs->add_flag("-p,--previous", lf.previous, "the previous instance of the container");
    logs->add_flag("--timestamps", lf.timestamps, "each line starts with its timestamp");
    logs->add_option("--mode", lf.mode, "replace or duplicate: which dev session (default: whichever of yours exists; "
                                        "a copy of yours is logged instead of the original)")
        ->check(CLI::IsMember({"replace", "duplicate"}));
    logs->add_option("--developer", lf.developer, "duplicate mode: whose copy (default: yours, user@host)");
    logs->callback([&g] { run_logs(g, lf); });
}
