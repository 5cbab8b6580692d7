// nh dev start|end|status|list|pvc|env: dev mode through the C ABI.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

using json = nlohmann::json;

struct Target {
    std::string kind, name;
};

// "deployment/web" (or "deploy/web", "sts/db").
Target parse_target(const std::string &text) {
    auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size())
        throw CLI::ValidationError("KIND/NAME", "expected KIND/NAME, e.g. deployment/web, got '" + text + "'");
    return {text.substr(0, slash), text.substr(slash + 1)};
}

// "5m", "90s", "1h", "500ms", or plain seconds.
long parse_duration_ms(const std::string &text) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(text, &pos);
    } catch (const std::exception &) {
        throw CLI::ValidationError("--timeout", "not a duration: '" + text + "'");
    }
    std::string unit = text.substr(pos);
    double scale = unit.empty() || unit == "s" ? 1000 : unit == "ms" ? 1 : unit == "m" ? 60000 : unit == "h" ? 3600000 : -1;
    if (scale < 0 || v < 0) throw CLI::ValidationError("--timeout", "not a duration: '" + text + "' (use 90s, 5m, 1h)");
    return static_cast<long>(v * scale);
}

// The command that ends the dev mode being started, printed by a second Ctrl-C once the
// cluster holds its session record (phase "record"); "" outside a start.
std::string g_end_command;

int on_event(int type, const char *phase, const char *message, const char *, void *) {
    if (!g_end_command.empty() && std::string(phase) == "record")
        nh_cli::set_interrupt_note("the rollback is incomplete: the workload may be left partly in dev mode; "
                                   "complete it with: " + g_end_command);
    switch (type) {
        case NH_DEV_EVENT_WARNING:
        case NH_DEV_EVENT_INFO:
            nh_cli::progress_done();
            std::fprintf(stderr, "%s: %s\n", type == NH_DEV_EVENT_WARNING ? "warning" : "note", message);
            break;
        default:
            nh_cli::progress(std::string("[") + phase + "] " + message);
    }
    return 0;
}

// Publishes the running sync's status for `nh sync status` (atomically, at
// most every 200 ms unless the state changes).
struct SyncPublisher {
    std::string file;
    std::string local_dir;
    int last_state = -1;
    std::chrono::steady_clock::time_point last_write{};
    std::string last_error;

    void publish(const nh_sync_status &st, bool force) {
        if (file.empty()) return;
        auto now = std::chrono::steady_clock::now();
        if (!force && st.state == last_state && now - last_write < std::chrono::milliseconds(200)) return;
        last_state = st.state;
        last_write = now;
        json j = {{"pid", static_cast<long>(getpid())},
                  {"local_dir", local_dir},
                  {"state", nh_sync_state_name(st.state)},
                  {"files_done", st.files_done},
                  {"files_total", st.files_total},
                  {"bytes_done", st.bytes_done},
                  {"bytes_total", st.bytes_total},
                  {"files_synced", st.files_synced},
                  {"file_errors", st.file_errors},
                  {"conflicts", st.conflicts},
                  {"reconnects", st.reconnects},
                  {"last_error", last_error},
                  {"updated_at", static_cast<long long>(std::time(nullptr))}};
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
        std::string tmp = file + ".tmp";
        if (FILE *f = std::fopen(tmp.c_str(), "w")) {
            std::fputs(j.dump(2).c_str(), f);
            std::fclose(f);
            std::rename(tmp.c_str(), file.c_str());
        }
    }
};
SyncPublisher g_sync_publisher;

void on_sync_event(const nh_sync_event *ev, void *) {
    const nh_sync_status *st = ev->status;
    if (ev->type == NH_SYNC_EVENT_FILE_ERROR) g_sync_publisher.last_error = std::string(ev->path) + ": " + ev->message;
    g_sync_publisher.publish(*st, ev->type != NH_SYNC_EVENT_PROGRESS);
    if (ev->type == NH_SYNC_EVENT_STATE && st->state == NH_SYNC_DISCONNECTED && *ev->message) {
        // Each disconnect: why, and when the next try is.
        char when[16] = "";
        std::time_t now = std::time(nullptr);
        std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
        nh_cli::progress_done();
        std::fprintf(stderr, "%s sync disconnected: %s\n", when, ev->message);
        g_sync_publisher.last_error = ev->message;
        g_sync_publisher.publish(*st, true);
        return;
    }
    switch (ev->type) {
        case NH_SYNC_EVENT_STATE:
        case NH_SYNC_EVENT_PROGRESS:
            if (st->state == NH_SYNC_IDLE)
                nh_cli::progress("[sync] idle: " + std::to_string(st->files_synced) + " files synced");
            else
                nh_cli::progress(std::string("[sync] ") + nh_sync_state_name(st->state) + ": " +
                                 std::to_string(st->files_done) + "/" + std::to_string(st->files_total) + " files, " +
                                 std::to_string(st->bytes_done) + "/" + std::to_string(st->bytes_total) + " bytes");
            break;
        case NH_SYNC_EVENT_FILE_ERROR:
            nh_cli::progress_done();
            std::fprintf(stderr, "sync error: %s: %s\n", ev->path, ev->message);
            break;
        case NH_SYNC_EVENT_CONFLICT:
            nh_cli::progress_done();
            std::fprintf(stderr, "sync conflict: %s (the other version is kept as %s)\n", ev->path, ev->message);
            break;
        case NH_SYNC_EVENT_REMOTE_CHANGE:
            nh_cli::progress_done();
            std::fprintf(stderr, "sync: changed in the container: %s (%s)\n", ev->path, ev->message);
            break;
    }
}

// --mode and --developer of the commands that act on a session.
void add_session_flags(CLI::App *cmd, std::string &mode, std::string &developer) {
    cmd->add_option("--mode", mode, "replace or duplicate (default: whichever session of yours exists)")
        ->check(CLI::IsMember({"replace", "duplicate"}));
    cmd->add_option("--developer", developer, "duplicate mode: whose copy (default: yours, user@host)");
}

using nh_cli::client_or_fail;
using nh_cli::fail_with_last_error;

// nh_cli::pick_session(), freeing the client when it refuses.
nh_cli::SessionPick pick_or_fail(nh_client *c, const nh_cli::Globals &g, const std::string &verb, const Target &t,
                                 const std::string &mode, const std::string &developer) {
    try {
        return nh_cli::pick_session(c, g, verb, t.kind, t.name, mode, developer);
    } catch (...) {
        nh_client_free(c);
        throw;
    }
}

// The session's status object (no request).
json session_status(const nh_session *s) {
    nh_buf b = NH_BUF_INIT;
    nh_session_status(&b, s);
    json j = json::parse(b.ptr ? b.ptr : "{}", nullptr, false);
    nh_buf_dispose(&b);
    return j.is_object() ? j : json::object();
}

// "user@host": the caller, as the library's default owner ("user@host/pid") names it.
std::string local_identity() {
    nh_buf b = NH_BUF_INIT;
    std::string id = nh_dev_default_identity(&b) == NH_OK && b.ptr ? b.ptr : "";
    nh_buf_dispose(&b);
    return id;
}

std::string end_hint(const nh_cli::Globals &g, const std::string &target, const nh_cli::SessionPick &pick,
                     bool force = false);

// After nh_dev_start() failed: when it was refused because the workload is already in dev mode
// by the caller (the same owner, or the caller's own copy) and that session is active, the
// session to carry on with. Otherwise prints the error, with the command that ends the session
// when it is someone else's, frees the client and throws.
nh_session *reattach_own(nh_client *c, const nh_cli::Globals &g, const Target &t, const nh_cli::SessionPick &pick,
                         const std::string &owner) {
    const int code = nh_error_last()->code;
    const std::string message = nh_error_last()->message;
    auto give_up = [&](bool show_end) {
        nh_cli::progress_done();
        std::fprintf(stderr, "error: %s\n", message.c_str());
        if (show_end) std::fprintf(stderr, "  end it with: %s\n", end_hint(g, t.kind + "/" + t.name, pick).c_str());
        nh_client_free(c);
        throw CLI::RuntimeError(nh_cli::exit_code_for(code));
    };
    if (code != NH_EBUSY) give_up(false);
    nh_dev_query_options q = pick.query();
    nh_session *s = nullptr;
    if (nh_dev_attach(&s, c, t.kind.c_str(), t.name.c_str(), &q) != NH_OK) give_up(false);
    json st = session_status(s);
    bool settled = st.value("phase", "") == "active" && !st["lock"].is_object();
    std::string holder = st.value("owner", "");
    bool mine = pick.mode == "duplicate" ||
                (owner.empty() ? holder.substr(0, holder.rfind('/')) == local_identity() : holder == owner);
    if (!settled || !mine) {
        nh_session_free(s);
        give_up(settled);
    }
    return s;
}

// The command that ends a session: "nh dev end deployment/web --mode duplicate -n demo".
std::string end_hint(const nh_cli::Globals &g, const std::string &target, const nh_cli::SessionPick &pick, bool force) {
    return "nh dev end " + target + pick.flags() + (force ? " --force" : "") + nh_cli::global_flags_hint(g);
}

std::string lower_kind(const json &s) {
    std::string k = s.value("kind", "");
    for (auto &ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return k;
}

void print_status(const json &s) {
    std::string target = lower_kind(s) + "/" + s.value("name", "");
    if (!s.value("dev_mode", false)) {
        std::printf("%s (namespace %s): not in dev mode\n", target.c_str(), s.value("namespace", "").c_str());
        if (s.contains("lock") && s["lock"].is_object())
            std::printf("  locked by %s (a start or end in progress)\n", s["lock"].value("holder", "").c_str());
        return;
    }
    // A start nobody holds the lock of any more died half-way.
    const bool interrupted = s.value("phase", "") == "starting" && !(s.contains("lock") && s["lock"].is_object());
    std::printf("%s (namespace %s): dev mode %s, %s\n", target.c_str(), s.value("namespace", "").c_str(),
                s.value("mode", "").c_str(), interrupted ? "starting, interrupted" : s.value("phase", "").c_str());
    if (interrupted) {
        nh_cli::SessionPick pick{s.value("mode", "replace"), s.value("developer", ""), nullptr};
        std::printf("  the start that began it is gone: `nh dev end %s%s -n %s` restores the original, and a new "
                    "`nh dev start` takes it over\n",
                    target.c_str(), pick.flags().c_str(), s.value("namespace", "").c_str());
    }
    if (s.contains("copy") && s["copy"].is_string())
        std::printf("  copy:       deployment/%s (developer %s)\n", s["copy"].get<std::string>().c_str(),
                    s.value("developer", "").c_str());
    if (s.contains("headers") && !s["headers"].empty()) {
        std::string headers;
        for (const auto &h : s["headers"]) headers += (headers.empty() ? "" : ", ") + h.get<std::string>();
        std::printf("  routed:     requests with %s (%s)\n", headers.c_str(), s.value("router", "").c_str());
    }
    std::printf("  owner:      %s since %s\n", s.value("owner", "").c_str(), s.value("since", "").c_str());
    if (s["pod"].is_object())
        std::printf("  pod:        %s (%s%s)\n", s["pod"].value("name", "").c_str(), s["pod"].value("phase", "").c_str(),
                    s["pod"].value("ready", false) ? ", ready" : ", not ready");
    else
        std::printf("  pod:        none running\n");
    if (s.value("local", false)) {
        std::printf("  local mode: the pod runs only the sync sidecar, from %s\n", s.value("image", "").c_str());
        for (const auto &p : s.value("local_ports", json::array()))
            std::printf("  local:      port %d of the pod -> 127.0.0.1:%d on the developer's machine\n",
                        p.value("port", 0), p.value("local", 0));
    } else {
        std::printf("  container:  %s, image %s\n", s.value("container", "").c_str(), s.value("image", "").c_str());
    }
    std::printf("  workdir:    %s\n", s.value("workdir", "").c_str());
    std::printf("  sync:       %s:%d (image %s%s)\n", s.value("sidecar_container", "").c_str(), s.value("sync_port", 0),
                s.value("sidecar_image", "").c_str(), s.value("sidecar_upload", false) ? ", nhsyncd uploaded" : "");
    if (s.contains("lock") && s["lock"].is_object())
        std::printf("  locked by:  %s\n", s["lock"].value("holder", "").c_str());
}

using nh_cli::print_table;

std::string text_or_dash(const json &s, const char *key) {
    return s.contains(key) && s[key].is_string() && !s[key].get<std::string>().empty() ? s[key].get<std::string>() : "-";
}

// nh dev list's table: NAMESPACE (with -A), WORKLOAD, MODE, PHASE, COPY, DEVELOPER, OWNER,
// SINCE, POD; -o wide adds CONTAINER, IMAGE and SYNC PORT.
void print_list(const json &list, bool all_namespaces, bool wide) {
    if (list.empty()) {
        std::printf("no workloads in dev mode\n");
        return;
    }
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"WORKLOAD", "MODE", "PHASE", "COPY", "DEVELOPER", "OWNER", "SINCE", "POD"};
    if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
    if (wide) header.insert(header.end(), {"CONTAINER", "IMAGE", "SYNC PORT"});
    rows.push_back(header);
    for (const auto &s : list) {
        std::string pod = s["pod"].is_object() ? s["pod"].value("name", "") + (s["pod"].value("ready", false) ? "" : " (not ready)")
                                               : "-";
        std::vector<std::string> row = {lower_kind(s) + "/" + s.value("name", ""), text_or_dash(s, "mode"),
                                        text_or_dash(s, "phase"), text_or_dash(s, "copy"), text_or_dash(s, "developer"),
                                        text_or_dash(s, "owner"), text_or_dash(s, "since"), pod};
        if (all_namespaces) row.insert(row.begin(), s.value("namespace", ""));
        if (wide)
            row.insert(row.end(), {text_or_dash(s, "container"), text_or_dash(s, "image"),
                                   std::to_string(s.value("sync_port", 0))});
        rows.push_back(row);
    }
    print_table(rows);
}

std::string url_encode(const std::string &text) {
    std::string out;
    for (unsigned char ch : text) {
        if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out += static_cast<char>(ch);
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", ch);
            out += hex;
        }
    }
    return out;
}

// -l SELECTOR: the sessions whose workload's labels match, asking the API server (so the
// selector means what it means to kubectl). Custom kinds are not matched.
json filter_by_selector(nh_client *c, const json &list, const std::string &selector) {
    // Kind -> {API group path, resource}.
    static const std::map<std::string, std::pair<const char *, const char *>> apis = {
        {"Deployment", {"/apis/apps/v1", "deployments"}}, {"StatefulSet", {"/apis/apps/v1", "statefulsets"}},
        {"DaemonSet", {"/apis/apps/v1", "daemonsets"}},   {"ReplicaSet", {"/apis/apps/v1", "replicasets"}},
        {"Job", {"/apis/batch/v1", "jobs"}},              {"CronJob", {"/apis/batch/v1", "cronjobs"}},
        {"Pod", {"/api/v1", "pods"}}};
    std::map<std::string, std::set<std::string>> matching;  // "namespace/Kind" -> names
    json out = json::array();
    for (const auto &s : list) {
        std::string ns = s.value("namespace", ""), kind = s.value("kind", "");
        std::string key = ns + "/" + kind;
        if (!matching.count(key)) {
            auto &names = matching[key];
            if (auto api = apis.find(kind); api != apis.end()) {
                std::string full = std::string(api->second.first) + "/namespaces/" + ns + "/" + api->second.second +
                                   "?labelSelector=" + url_encode(selector);
                nh_request_options r = NH_REQUEST_OPTIONS_INIT;
                r.path = full.c_str();
                r.cancel = nh_cli::interrupt_token();
                nh_buf b = NH_BUF_INIT;
                int status = 0;
                if (nh_client_request(&b, &status, c, &r) != NH_OK) {
                    nh_buf_dispose(&b);
                    fail_with_last_error(c);
                }
                json answer = json::parse(b.ptr ? b.ptr : "{}", nullptr, false);
                nh_buf_dispose(&b);
                if (answer.is_object())
                    for (const auto &item : answer.value("items", json::array()))
                        names.insert(item["metadata"].value("name", ""));
            }
        }
        if (matching[key].count(s.value("name", ""))) out.push_back(s);
    }
    return out;
}

// -A, -l and -o of the commands that list sessions.
void add_list_flags(CLI::App *cmd, nh_cli::Globals &g, bool &all_namespaces, std::string &selector, bool wide = false) {
    cmd->add_flag("-A,--all-namespaces", all_namespaces, "every namespace");
    cmd->add_option("-l,--selector", selector, "only workloads whose labels match, e.g. app=web,tier!=db");
    if (wide)
        nh_cli::add_output_flag(cmd, g, {"json", "yaml", "name", "wide"});
    else
        nh_cli::add_output_flag(cmd, g, {"json", "yaml", "name"});
}

// The sessions of the namespace (or of all), those of workloads matching `selector` if any.
json list_sessions(nh_client *c, bool all_namespaces, const std::string &selector) {
    nh_buf b = NH_BUF_INIT;
    nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
    q.all_namespaces = all_namespaces ? 1 : 0;
    q.cancel = nh_cli::interrupt_token();
    if (nh_dev_list(&b, c, &q) != NH_OK) fail_with_last_error(c);
    json j = json::parse(b.ptr ? b.ptr : "[]", nullptr, false);
    nh_buf_dispose(&b);
    if (!j.is_array()) j = json::array();
    return selector.empty() ? j : filter_by_selector(c, j, selector);
}

// -o name: "deployment/web", one a line.
void print_names(const json &list) {
    for (const auto &s : list) std::printf("%s/%s\n", lower_kind(s).c_str(), s.value("name", "").c_str());
}

// Nocalhost's name of a command: "hot-reload-run" -> "hotReloadRun".
std::string config_command_name(const std::string &which) {
    if (which == "hot-reload-run") return "hotReloadRun";
    if (which == "hot-reload-debug") return "hotReloadDebug";
    return which;
}

// nh dev run: the command comes from the config recorded with the session (or, when it
// recorded none, from --config / --app), runs in the dev container in the work dir; `debug`
// forwards the debug port from 127.0.0.1 while it runs.
void run_dev_command(const nh_cli::Globals &g, const std::string &which, const std::string &target_text,
                     const std::string &mode, const std::string &developer, const std::string &config_path,
                     const std::string &app, int local_port, const std::vector<std::string> &extra) {
    Target t = parse_target(target_text);
    nh_client *c = client_or_fail(g);
    nh_cli::SessionPick pick = pick_or_fail(c, g, "dev run " + which, t, mode, developer);
    nh_dev_query_options q = pick.query();
    nh_session *s = nullptr;
    if (nh_dev_attach(&s, c, t.kind.c_str(), t.name.c_str(), &q) != NH_OK) fail_with_last_error(c);
    json config = nh_cli::session_config(s);
    std::string source = "the dev config recorded when dev mode started";
    if (!config_path.empty() || !app.empty()) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        if (!config_path.empty()) o.config_path = config_path.c_str();
        if (!app.empty()) o.app_name = app.c_str();
        o.container = nh_session_container(s);
        o.cancel = nh_cli::interrupt_token();
        nh_buf b = NH_BUF_INIT;
        if (nh_dev_config_resolve(&b, c, t.kind.c_str(), t.name.c_str(), &o) != NH_OK) {
            nh_session_free(s);
            fail_with_last_error(c);
        }
        json resolved = json::parse(b.ptr ? b.ptr : "{}", nullptr, false);
        nh_buf_dispose(&b);
        if (resolved.contains("command") || resolved.contains("debug")) {
            config = resolved;
            source = resolved.value("sources", json::array()).dump();
        }
    }
    const std::string key = config_command_name(which);
    json cmd = config.value("command", json::object()).value(key, json::array());
    if (!cmd.is_array() || cmd.empty()) {
        std::fprintf(stderr, "error: %s/%s has no command.%s in %s; add it under containers[].dev.command%s\n",
                     t.kind.c_str(), t.name.c_str(), key.c_str(), source.c_str(),
                     config_path.empty() ? ", or give the config with --config" : "");
        nh_session_free(s);
        nh_client_free(c);
        throw CLI::RuntimeError(nh_cli::exit_code_for(NH_ECONFIG));
    }
    // sh -c 'cd WORKDIR && exec "$@"' with the command as positional arguments: no quoting
    // of the command's own words is needed.
    std::vector<std::string> argv = {"sh", "-c", "cd " + nh_cli::sh_quote(nh_session_workdir(s)) + " && exec \"$@\"", "nh-dev-run"};
    for (const auto &a : cmd) argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
    for (const auto &a : extra) argv.push_back(a);
    std::string pod = std::string("pod/") + nh_session_pod_name(s);
    if (pod == "pod/") {
        std::fprintf(stderr, "error: %s/%s has no dev pod running right now (see: nh dev status %s/%s%s%s)\n",
                     t.kind.c_str(), t.name.c_str(), t.kind.c_str(), t.name.c_str(), pick.flags().c_str(),
                     nh_cli::global_flags_hint(g).c_str());
        nh_session_free(s);
        nh_client_free(c);
        throw CLI::RuntimeError(nh_cli::exit_code_for(NH_ESTATE));
    }
    nh_forward *fwd = nullptr;
    if (which == "debug" || which == "hot-reload-debug") {
        int remote = config.value("debug", json::object()).value("remoteDebugPort", 0);
        if (remote > 0) {
            std::string spec = std::to_string(local_port > 0 ? local_port : remote) + ":" + std::to_string(remote);
            const char *ports[] = {spec.c_str(), nullptr};
            nh_forward_options fo = NH_FORWARD_OPTIONS_INIT;
            fo.namespace_name = nh_session_namespace(s);
            fo.cancel = nh_cli::interrupt_token();
            if (nh_forward_start(&fwd, c, pod.c_str(), ports, &fo) != NH_OK) {
                nh_session_free(s);
                fail_with_last_error(c);
            }
            int local = 0;
            nh_forward_local_port_v2(&local, fwd, 0);
            std::fprintf(stderr, "debugger: attach to 127.0.0.1:%d (port %d of %s)\n", local, remote,
                         nh_session_pod_name(s));
        } else {
            std::fprintf(stderr, "note: no debug.remoteDebugPort in the dev config; no port is forwarded\n");
        }
    }
    std::fprintf(stderr, "running command.%s in %s (container %s, %s)\n", key.c_str(), pod.c_str(),
                 nh_session_container(s), nh_session_workdir(s));
    std::string container = nh_session_container(s);
    nh_session_free(s);
    int code = isatty(STDIN_FILENO) ? nh_cli::exec_interactive(c, pod, container, argv, true)
                                    : nh_cli::exec_streaming(c, pod, container, argv);
    nh_forward_free(fwd);
    nh_client_free(c);
    if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace

void nh_cli_register_dev(CLI::App &app, nh_cli::Globals &g) {
    auto *dev = app.add_subcommand("dev", "dev mode: start, end, status, list, run, pvc");
    dev->require_subcommand(1);

    // nh dev start
    struct StartArgs {
        std::string target, image, container, workdir, sidecar_image, sidecar_base_image, syncd_dir, timeout = "5m",
            owner, resources;
        std::vector<std::string> env;
        int sync_port = 0;
        bool no_rollback = false;
        // The whole loop: sync a local directory into the work dir.
        std::string local_dir, sync_mode = "send", sync_compress = "auto";
        std::vector<std::string> ignore;
        bool gitignore = false, detach = false;
        std::string mode = "replace", developer, config, app;
        // Local mode and the Service forwards (docs/traffic.md).
        bool local = false;
        std::vector<std::string> ports, forwards;
        std::vector<std::string> headers;
        std::string router;
    };
    static StartArgs sa;
    auto *start = dev->add_subcommand("start", "put a workload into dev mode and wait for its dev pod");
    start->add_option("target", sa.target,
                      "KIND/NAME, e.g. deployment/web or statefulset/db (default: the workload the current directory "
                      "is associated with, see nh dev associate)");
    start->add_option("--image", sa.image, "the dev image (compilers, tools); required unless the dev config has one");
    start->add_option("-c,--container", sa.container, "the container to develop in (default: the only one)");
    start->add_option("--workdir", sa.workdir, "work dir shared with the sync sidecar (default " NH_DEV_DEFAULT_WORKDIR ")");
    start->add_option("--sidecar-image", sa.sidecar_image,
                      "image of the sync sidecar, running nhsyncd (default: none; the sidecar runs the dev image's "
                      "shell and nhsyncd is uploaded into it; see nh sidecar image)");
    start->add_option("--sidecar-base-image", sa.sidecar_base_image,
                      "image with /bin/sh for the sidecar's bootstrap when the dev image has no shell (default: the dev image)");
    start->add_option("--syncd-dir", sa.syncd_dir,
                      "directory of the nhsyncd-linux-ARCH binaries to upload (default: $NH_SYNCD_DIR, else "
                      "share/nocalhost of the library's installation)");
    start->add_option("--sync-port", sa.sync_port, "port of the sync sidecar (default " + std::to_string(NH_DEV_DEFAULT_SYNC_PORT) + ")");
    start->add_option("-e,--env", sa.env, "extra environment of the dev container, NAME=VALUE (repeatable)")
        ->allow_extra_args(false);
    start->add_option("--resources", sa.resources, "resources of the dev container as JSON, e.g. '{\"limits\":{\"memory\":\"2Gi\"}}'");
    start->add_option("--timeout", sa.timeout, "how long to wait for the dev pod (default 5m)");
    start->add_option("--owner", sa.owner, "owner recorded for the session (default user@host/pid)");
    start->add_flag("--no-rollback", sa.no_rollback, "leave a failed start as it is instead of restoring the workload");
    start->add_option("--mode", sa.mode,
                      "replace (default), duplicate (a private copy; the original keeps serving) or local (replace, "
                      "and a process on this machine serves the workload's --port)")
        ->check(CLI::IsMember({"replace", "duplicate", "local"}));
    start->add_flag("--local", sa.local,
                    "local mode (also with --mode duplicate): the dev pod runs only the sync sidecar, and connections "
                    "to each --port of the pod come to this machine until Ctrl-C (dev mode stays on)");
    start->add_option("--port", sa.ports,
                      "local mode: PORT[:LOCAL], a port of the workload's pods served from 127.0.0.1:LOCAL here "
                      "(default LOCAL = PORT; repeatable)")
        ->allow_extra_args(false);
    start->add_option("--forward", sa.forwards,
                      "svc/NAME:PORT[:LOCAL]: the Service's port on 127.0.0.1:LOCAL here until Ctrl-C, named in a "
                      "generated hosts file and env file (repeatable; any mode)")
        ->allow_extra_args(false);
    start->add_option("--developer", sa.developer, "duplicate mode: whose copy (default user@host)");
    start->add_option("--header", sa.headers,
                      "duplicate mode: requests to the workload's Services carrying this header, NAME=VALUE, go to "
                      "the copy, all others to the original (repeatable: every one must match)")
        ->allow_extra_args(false);
    start->add_option("--router", sa.router,
                      "what routes --header: auto (default: Istio where its API is served, else the Gateway API), "
                      "istio or gateway-api")
        ->check(CLI::IsMember({"auto", "istio", "gateway-api"}));
    start->add_option("--config", sa.config, "Nocalhost dev config: a .nocalhost/config.yaml or the directory holding .nocalhost/");
    start->add_option("--app", sa.app, "Nocalhost application whose dev.nocalhost.config.<app> ConfigMap is read");
    start->add_option("--local-dir", sa.local_dir,
                      "sync this local directory into the work dir and keep syncing until Ctrl-C (dev mode stays on)")
        ->check(CLI::ExistingDirectory);
    start->add_option("--sync-mode", sa.sync_mode, "send (local wins, default) or two-way")
        ->check(CLI::IsMember({"send", "two-way"}));
    start->add_option("--sync-compress", sa.sync_compress,
                      "auto (default: compress while the link to the sidecar is measured slow), on or off")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    start->add_option("--ignore", sa.ignore, "gitignore-syntax pattern not to sync (repeatable)")->allow_extra_args(false);
    start->add_flag("--gitignore", sa.gitignore, "honour .gitignore files while syncing");
    start->add_flag("--detach", sa.detach,
                    "with --local-dir: once synced, hand the sync to your agent and return; it keeps syncing "
                    "(nh agent list|status|stop)");
    start->callback([&g] {
        // No KIND/NAME: the workload the current directory is associated with, reached as associated.
        json here = sa.target.empty() ? nh_cli::associated_here() : json();
        if (sa.target.empty()) {
            if (here.is_null())
                throw CLI::ValidationError("KIND/NAME", "give KIND/NAME, or associate this directory with a workload "
                                                         "(nh dev associate . KIND/NAME)");
            sa.target = here.value("kind", "") + "/" + here.value("name", "");
            if (g.ns.empty()) g.ns = here.value("namespace", "");
            if (g.context.empty()) g.context = here.value("context", "");
            if (g.kubeconfig.empty() && !std::getenv("KUBECONFIG")) g.kubeconfig = here.value("kubeconfig", "");
        }
        if (sa.mode == "local") {
            sa.local = true;
            sa.mode = "replace";
        }
        if (sa.local && sa.ports.empty())
            throw CLI::ValidationError("--port", "local mode needs at least one --port PORT[:LOCAL]");
        if (!sa.local && !sa.ports.empty()) throw CLI::ValidationError("--port", "--port is for local mode (--mode local)");
        const bool serving = sa.local || !sa.forwards.empty();
        if (serving && sa.detach)
            throw CLI::ValidationError("--detach", "local mode and --forward run in this process until Ctrl-C; drop --detach");
        Target t = parse_target(sa.target);
        long timeout_ms = parse_duration_ms(sa.timeout);
        nh_client *c = client_or_fail(g);
        // No --local-dir: the directory associated with the workload, and its container.
        if (sa.local_dir.empty()) {
            json assoc = here.is_null() ? nh_cli::associated_workload_dir(c, t.kind, t.name, nh_client_namespace(c)) : here;
            if (!assoc.is_null()) {
                sa.local_dir = assoc.value("dir", "");
                if (!std::filesystem::is_directory(sa.local_dir)) {
                    std::fprintf(stderr, "error: the directory associated with %s, %s, does not exist (nh dev associate "
                                         "--remove %s)\n", sa.target.c_str(), sa.local_dir.c_str(), sa.local_dir.c_str());
                    nh_client_free(c);
                    throw CLI::RuntimeError(nh_cli::EXIT_NOT_FOUND);
                }
                if (sa.container.empty()) sa.container = assoc.value("container", "");
                std::fprintf(stderr, "syncing %s, associated with %s\n", sa.local_dir.c_str(), sa.target.c_str());
            }
        }
        std::vector<const char *> env;
        for (const auto &e : sa.env) env.push_back(e.c_str());
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        if (!sa.image.empty()) o.image = sa.image.c_str();
        o.mode = sa.mode == "duplicate" ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE;
        if (!sa.developer.empty()) o.developer = sa.developer.c_str();
        if (!sa.config.empty()) o.config_path = sa.config.c_str();
        if (!sa.app.empty()) o.app_name = sa.app.c_str();
        if (!sa.container.empty()) o.container = sa.container.c_str();
        if (!sa.workdir.empty()) o.workdir = sa.workdir.c_str();
        if (!sa.sidecar_image.empty()) o.sidecar_image = sa.sidecar_image.c_str();
        if (!sa.sidecar_base_image.empty()) o.sidecar_base_image = sa.sidecar_base_image.c_str();
        if (!sa.syncd_dir.empty()) o.syncd_dir = sa.syncd_dir.c_str();
        if (!sa.resources.empty()) o.resources_json = sa.resources.c_str();
        if (!sa.owner.empty()) o.owner = sa.owner.c_str();
        o.env = env.empty() ? nullptr : env.data();
        o.env_count = env.size();
        std::vector<const char *> ports, forwards;
        for (const auto &p : sa.ports) ports.push_back(p.c_str());
        for (const auto &f : sa.forwards) forwards.push_back(f.c_str());
        o.local = sa.local ? 1 : 0;
        o.local_ports = ports.empty() ? nullptr : ports.data();
        o.local_ports_count = ports.size();
        o.forwards = forwards.empty() ? nullptr : forwards.data();
        o.forwards_count = forwards.size();
        std::vector<const char *> headers;
        for (const auto &h : sa.headers) headers.push_back(h.c_str());
        o.headers = headers.empty() ? nullptr : headers.data();
        o.headers_count = headers.size();
        if (!sa.router.empty()) o.router = sa.router.c_str();
        o.sync_port = sa.sync_port;
        o.timeout_ms = timeout_ms;
        o.rollback_on_failure = sa.no_rollback ? 0 : 1;
        o.events = on_event;
        o.cancel = nh_cli::interrupt_token();
        std::vector<const char *> ignore;
        for (const auto &p : sa.ignore) ignore.push_back(p.c_str());
        nh_sync_options so = NH_SYNC_OPTIONS_INIT;
        so.mode = sa.sync_mode == "two-way" ? NH_SYNC_MODE_TWO_WAY : NH_SYNC_MODE_SEND;
        so.ignore_patterns = ignore.empty() ? nullptr : ignore.data();
        so.ignore_patterns_count = ignore.size();
        so.use_gitignore = sa.gitignore ? 1 : 0;
        so.compression = sa.sync_compress == "on"    ? NH_SYNC_COMPRESS_ON
                         : sa.sync_compress == "off" ? NH_SYNC_COMPRESS_OFF
                                                     : NH_SYNC_COMPRESS_AUTO;
        so.callback = on_sync_event;
        if (!sa.local_dir.empty()) {
            o.local_dir = sa.local_dir.c_str();
            o.sync_options = &so;
            std::string ns = o.namespace_name ? o.namespace_name : nh_client_namespace(c);
            g_sync_publisher.file = nh_cli::sync_status_file(ns, t.kind, t.name);
            g_sync_publisher.local_dir = std::filesystem::absolute(sa.local_dir).string();
        }
        // What neither the flags nor the dev config say: what the last start used (the dev profile).
        nh_cli::apply_profile(c, t.kind, t.name, nh_client_namespace(c), o, sa.image, sa.container, sa.workdir);
        o.image = sa.image.empty() ? nullptr : sa.image.c_str();
        o.container = sa.container.empty() ? nullptr : sa.container.c_str();
        o.workdir = sa.workdir.empty() ? nullptr : sa.workdir.c_str();
        const nh_cli::SessionPick pick{sa.mode, sa.developer, nullptr};
        nh_session *s = nullptr;
        bool attached = false;
        g_end_command = end_hint(g, t.kind + "/" + t.name, pick);
        int rc = nh_dev_start(&s, c, t.kind.c_str(), t.name.c_str(), &o);
        nh_cli::set_interrupt_note("");
        g_end_command.clear();
        if (rc != NH_OK) {
            s = reattach_own(c, g, t, pick, sa.owner);
            attached = true;
            nh_session_sync_options sso = NH_SESSION_SYNC_OPTIONS_INIT;
            sso.sync_options = &so;
            sso.timeout_ms = timeout_ms;
            sso.cancel = o.cancel;
            sso.events = on_event;
            if (!sa.local_dir.empty() && nh_session_sync_start_v2(s, c, o.local_dir, &sso) != NH_OK) {
                nh_session_free(s);
                fail_with_last_error(c);
            }
        }
        nh_cli::progress_done();
        nh_cli::remember_profile(c, t.kind, t.name, nh_client_namespace(c), s);
        if (g.output == "json" || g.output == "yaml") {
            nh_cli::print_structured(session_status(s), g.output);
        } else if (g.output == "name") {
            std::printf("%s/%s\n", nh_cli::canonical_kind(t.kind).c_str(), t.name.c_str());
        } else {
            if (attached)
                std::printf("%s/%s was already in dev mode (yours, since %s); attached to it\n", t.kind.c_str(),
                            t.name.c_str(), nh_session_since(s));
            else
                std::printf("%s/%s is in dev mode\n", t.kind.c_str(), t.name.c_str());
            std::printf("  pod:        %s\n", nh_session_pod_name(s));
            std::printf("  container:  %s (work dir %s)\n", nh_session_container(s), nh_session_workdir(s));
            std::printf("  sync:       %s:%d\n", nh_session_sidecar_container(s), nh_session_sync_port(s));
            if (!sa.local_dir.empty())
                std::printf("  syncing:    %s -> %s\n", sa.local_dir.c_str(), nh_session_workdir(s));
            if (pick.mode == "duplicate" && *nh_session_workload(s))
                std::printf("  copy:       deployment/%s (the original keeps serving)\n", nh_session_workload(s));
            const json st = session_status(s);
            for (const auto &f : st.value("port_forwards", json::array()))
                std::printf("  forwarding: 127.0.0.1:%d -> %d\n", f.value("local_port", 0), f.value("remote_port", 0));
            for (const auto &p : st.value("local_ports", json::array()))
                std::printf("  local:      port %d of the pod -> 127.0.0.1:%d here\n", p.value("port", 0),
                            p.value("local", 0));
            for (const auto &f : st.value("service_forwards", json::array()))
                std::printf("  service:    127.0.0.1:%d -> svc/%s:%d\n", f.value("local_port", 0),
                            f.value("service", "").c_str(), f.value("port", 0));
            if (st.contains("hosts_file"))
                std::printf("  names:      %s (hosts), %s (env)\n", st.value("hosts_file", "").c_str(),
                            st.value("env_file", "").c_str());
            std::printf("end it with: %s\n", end_hint(g, sa.target, pick).c_str());
        }
        std::fflush(stdout);
        if (!sa.local_dir.empty() && sa.detach) {
            nh_buf id = NH_BUF_INIT;
            int detached = nh_agent_detach(&id, s, c, nullptr);
            std::remove(g_sync_publisher.file.c_str());
            if (detached != NH_OK) {
                nh_session_free(s);
                fail_with_last_error(c);
            }
            std::fprintf(stderr, "the sync runs in your agent as %s: nh agent status %s; nh agent stop %s stops it\n",
                         id.ptr, id.ptr, id.ptr);
            nh_buf_dispose(&id);
        } else if (!sa.local_dir.empty()) {
            // Keep syncing until interrupted; the sync reports itself through on_sync_event.
            std::fprintf(stderr, "syncing; press Ctrl-C to stop syncing (dev mode stays on)\n");
            nh_sync_flush(nh_session_sync(s), -1, nh_cli::interrupt_token());
            while (!nh_cancel_is_triggered(nh_cli::interrupt_token())) {
                nh_sync_status st = NH_SYNC_STATUS_INIT;
                if (nh_sync_status_get(&st, nh_session_sync(s)) != NH_OK || st.state == NH_SYNC_ERROR) break;
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, nullptr);
            }
            nh_session_sync_stop(s);
            std::remove(g_sync_publisher.file.c_str());
            nh_cli::progress_done();
            std::fprintf(stderr, "sync stopped; %s/%s stays in dev mode\n", t.kind.c_str(), t.name.c_str());
        } else if (serving) {
            std::fprintf(stderr, "serving; press Ctrl-C to stop (dev mode stays on)\n");
            while (!nh_cancel_is_triggered(nh_cli::interrupt_token())) {
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, nullptr);
            }
            std::fprintf(stderr, "stopped; %s/%s stays in dev mode\n", t.kind.c_str(), t.name.c_str());
        }
        nh_session_free(s);
        nh_client_free(c);
    });
    nh_cli::add_output_flag(start, g, {"json", "yaml", "name"});

    // nh dev end
    static std::string end_target, end_timeout = "60s", end_mode, end_developer;
    auto *end = dev->add_subcommand("end", "end dev mode: restore the original workload in place");
    end->add_option("target", end_target, "KIND/NAME")->required();
    end->add_option("--timeout", end_timeout, "how long to wait for another client's start or end (default 60s)");
    add_session_flags(end, end_mode, end_developer);
    static bool end_force = false;
    end->add_flag("--force", end_force,
                  "when the session record is gone, remove every mark of dev mode anyway and say what could not be restored");
    end->callback([&g] {
        Target t = parse_target(end_target);
        long timeout_ms = parse_duration_ms(end_timeout);
        nh_client *c = client_or_fail(g);
        nh_cli::SessionPick pick = pick_or_fail(c, g, "dev end", t, end_mode, end_developer);
        nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
        o.timeout_ms = timeout_ms;
        o.events = on_event;
        o.cancel = nh_cli::interrupt_token();
        o.mode = pick.mode_code();
        if (!pick.developer.empty()) o.developer = pick.developer.c_str();
        o.force = end_force ? 1 : 0;
        int result = 0;
        nh_cli::set_interrupt_note("the end is incomplete: the workload may be left partly in dev mode; complete it with: " +
                                   end_hint(g, t.kind + "/" + t.name, pick, end_force));
        int rc = nh_dev_end(&result, c, t.kind.c_str(), t.name.c_str(), &o);
        nh_cli::set_interrupt_note("");
        if (rc != NH_OK) fail_with_last_error(c);
        nh_cli::progress_done();
        const char *what = result == NH_DEV_END_RESTORED              ? "restored"
                           : result == NH_DEV_END_RESTORED_OVERWRITING ? "restored (a change made in dev mode was overwritten)"
                           : result == NH_DEV_END_WORKLOAD_GONE        ? "no longer exists; cleaned up what dev mode left"
                                                                       : "was not in dev mode; nothing to do";
        if (pick.mode == "duplicate" && result != NH_DEV_END_NOT_IN_DEV_MODE)
            std::printf("%s/%s: %s ended; the original was not touched\n", t.kind.c_str(), t.name.c_str(),
                        pick.developer.empty() ? "your copy" : ("the copy of " + pick.developer).c_str());
        else
            std::printf("%s/%s %s\n", t.kind.c_str(), t.name.c_str(), what);
        nh_client_free(c);
    });

    // nh dev status
    static std::string status_target, status_mode, status_developer, status_selector;
    static bool status_all = false;
    auto *status = dev->add_subcommand("status", "dev-mode status of a workload (or of all in the namespace)");
    status->add_option("target", status_target, "KIND/NAME (default: every workload in dev mode)");
    add_session_flags(status, status_mode, status_developer);
    add_list_flags(status, g, status_all, status_selector);
    status->callback([&g] {
        if (!status_target.empty() && (status_all || !status_selector.empty()))
            throw CLI::ValidationError("target", "-A and -l list workloads; give no KIND/NAME with them");
        Target t = status_target.empty() ? Target{} : parse_target(status_target);
        nh_client *c = client_or_fail(g);
        json j;
        if (!status_target.empty()) {
            nh_cli::SessionPick pick = pick_or_fail(c, g, "dev status", t, status_mode, status_developer);
            if (pick.status.is_object()) {
                j = pick.status;
            } else {
                nh_dev_query_options q = pick.query();
                nh_buf b = NH_BUF_INIT;
                if (nh_dev_status(&b, c, t.kind.c_str(), t.name.c_str(), &q) != NH_OK) fail_with_last_error(c);
                j = json::parse(b.ptr ? b.ptr : "{}", nullptr, false);
                nh_buf_dispose(&b);
            }
        } else {
            j = list_sessions(c, status_all, status_selector);
        }
        if (g.output == "json" || g.output == "yaml") {
            nh_cli::print_structured(j, g.output);
        } else if (g.output == "name") {
            print_names(j.is_array() ? j : json::array({j}));
        } else if (j.is_object()) {
            print_status(j);
        } else if (j.empty()) {
            std::printf("no workloads in dev mode\n");
        } else {
            for (const auto &s : j) print_status(s);
        }
        nh_client_free(c);
    });

    // nh dev pvc list|delete
    auto *pvc = dev->add_subcommand("pvc", "PersistentVolumeClaims of persistentVolumeDirs (they outlive dev mode)");
    pvc->require_subcommand(1);
    static std::string pvc_list_target;
    auto *pvc_list = pvc->add_subcommand("list", "claims made for persistent dirs, of one workload or of the namespace");
    pvc_list->add_option("target", pvc_list_target, "KIND/NAME (default: every workload in the namespace)");
    nh_cli::add_output_flag(pvc_list, g, {"json", "yaml", "name"});
    pvc_list->callback([&g] {
        nh_client *c = client_or_fail(g);
        nh_buf b = NH_BUF_INIT;
        nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
        q.cancel = nh_cli::interrupt_token();
        int rc;
        if (pvc_list_target.empty()) {
            rc = nh_dev_pvc_list(&b, c, nullptr, nullptr, &q);
        } else {
            Target t = parse_target(pvc_list_target);
            rc = nh_dev_pvc_list(&b, c, t.kind.c_str(), t.name.c_str(), &q);
        }
        if (rc != NH_OK) fail_with_last_error(c);
        json j = json::parse(b.ptr ? b.ptr : "[]", nullptr, false);
        nh_buf_dispose(&b);
        if (g.output == "json" || g.output == "yaml") {
            nh_cli::print_structured(j, g.output);
        } else if (g.output == "name") {
            for (const auto &p : j) std::printf("persistentvolumeclaim/%s\n", p.value("name", "").c_str());
        } else if (j.empty()) {
            std::printf("no PersistentVolumeClaims of dev mode\n");
        } else {
            std::printf("%-32s %-28s %-28s %-10s %-14s %s\n", "NAME", "WORKLOAD", "PATH", "CAPACITY", "STORAGECLASS", "PHASE");
            for (const auto &p : j)
                std::printf("%-32s %-28s %-28s %-10s %-14s %s\n", p.value("name", "").c_str(), p.value("workload", "").c_str(),
                            p.value("path", "").c_str(), p.value("capacity", "").c_str(),
                            p.value("storage_class", "").empty() ? "(default)" : p.value("storage_class", "").c_str(),
                            p.value("phase", "").c_str());
        }
        nh_client_free(c);
    });
    static std::vector<std::string> pvc_delete_names;
    static std::string pvc_delete_workload;
    auto *pvc_delete = pvc->add_subcommand("delete", "delete claims made for persistent dirs (their data is lost)");
    pvc_delete->add_option("names", pvc_delete_names, "claim names (see nh dev pvc list)");
    pvc_delete->add_option("--workload", pvc_delete_workload,
                           "KIND/NAME: only that workload's claims (all of them when no names are given)");
    pvc_delete->callback([&g] {
        if (pvc_delete_names.empty() && pvc_delete_workload.empty())
            throw CLI::ValidationError("names", "give claim names, or --workload KIND/NAME to delete all its claims");
        nh_client *c = client_or_fail(g);
        nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
        q.cancel = nh_cli::interrupt_token();
        auto delete_of = [&](const std::string &kind, const std::string &name, const char *claim) {
            nh_buf b = NH_BUF_INIT;
            if (nh_dev_pvc_delete(&b, c, kind.c_str(), name.c_str(), claim, &q) != NH_OK) fail_with_last_error(c);
            json names = json::parse(b.ptr ? b.ptr : "[]", nullptr, false);
            nh_buf_dispose(&b);
            for (const auto &n : names) std::printf("persistentvolumeclaim/%s deleted\n", n.get<std::string>().c_str());
        };
        if (!pvc_delete_workload.empty()) {
            Target t = parse_target(pvc_delete_workload);
            if (pvc_delete_names.empty()) delete_of(t.kind, t.name, nullptr);
            for (const auto &n : pvc_delete_names) delete_of(t.kind, t.name, n.c_str());
        } else {
            // Each claim records its workload: find it, then delete through that workload.
            nh_buf b = NH_BUF_INIT;
            if (nh_dev_pvc_list(&b, c, nullptr, nullptr, &q) != NH_OK) fail_with_last_error(c);
            json all = json::parse(b.ptr ? b.ptr : "[]", nullptr, false);
            nh_buf_dispose(&b);
            std::vector<std::pair<std::string, Target>> todo;
            for (const auto &n : pvc_delete_names) {
                const json *found = nullptr;
                for (const auto &p : all)
                    if (p.value("name", "") == n) found = &p;
                if (!found) {
                    std::fprintf(stderr, "error: no PersistentVolumeClaim '%s' of dev mode in namespace %s\n", n.c_str(),
                                 nh_client_namespace(c));
                    nh_client_free(c);
                    throw CLI::RuntimeError(nh_cli::exit_code_for(NH_ENOTFOUND));
                }
                todo.emplace_back(n, parse_target(found->value("workload", "")));
            }
            for (const auto &[n, t] : todo) delete_of(t.kind, t.name, n.c_str());
        }
        nh_client_free(c);
    });

    // nh dev run build|run|debug|hot-reload-run|hot-reload-debug
    struct RunArgs {
        std::string which, target, mode, developer, config, app;
        int local_port = 0;
        std::vector<std::string> args;
    };
    static RunArgs ra;
    auto *run = dev->add_subcommand(
        "run", "run the dev config's build, run or debug command in the dev container, in its work dir");
    run->add_option("command", ra.which, "build, run, debug, hot-reload-run or hot-reload-debug")
        ->required()
        ->check(CLI::IsMember({"build", "run", "debug", "hot-reload-run", "hot-reload-debug"}));
    run->add_option("target", ra.target, "KIND/NAME of the workload in dev mode")->required();
    run->add_option("args", ra.args, "more arguments for the command (after --)");
    add_session_flags(run, ra.mode, ra.developer);
    run->add_option("--config", ra.config,
                    "Nocalhost dev config to take the command from when the session recorded none");
    run->add_option("--app", ra.app, "Nocalhost application whose ConfigMap is read (with --config)");
    run->add_option("--local-port", ra.local_port,
                    "debug: the local port for the debugger (default: the same as debug.remoteDebugPort)")
        ->check(CLI::Range(1, 65535));
    run->callback([&g] { run_dev_command(g, ra.which, ra.target, ra.mode, ra.developer, ra.config, ra.app,
                                         ra.local_port, ra.args); });

    // nh dev env
    struct EnvArgs {
        std::string target, container, format = "dotenv";
        bool secrets = false;
    };
    static EnvArgs ea;
    auto *env = dev->add_subcommand(
        "env", "the container's environment as the kubelet resolves it (ConfigMaps, Secrets, Downward API), "
               "for a local process");
    env->add_option("target", ea.target, "KIND/NAME of the workload")->required();
    env->add_option("-c,--container", ea.container, "the container (default: the only one)");
    env->add_option("--format", ea.format, "dotenv (NAME='value' lines) or json")
        ->check(CLI::IsMember({"dotenv", "json"}));
    env->add_flag("--secrets", ea.secrets, "include the values that come from Secrets (left out otherwise)");
    env->callback([&g] {
        Target t = parse_target(ea.target);
        nh_client *c = client_or_fail(g);
        nh_dev_env_options o = NH_DEV_ENV_OPTIONS_INIT;
        o.container = ea.container.empty() ? nullptr : ea.container.c_str();
        o.include_secrets = ea.secrets ? 1 : 0;
        o.format = ea.format == "json" ? NH_DEV_ENV_JSON : NH_DEV_ENV_DOTENV;
        o.cancel = nh_cli::interrupt_token();
        nh_buf b = NH_BUF_INIT;
        if (nh_dev_env(&b, c, t.kind.c_str(), t.name.c_str(), &o) != NH_OK) fail_with_last_error(c);
        std::string text(b.ptr ? b.ptr : "", b.size);
        nh_buf_dispose(&b);
        size_t withheld = 0;
        if (ea.format == "json") {
            json j = json::parse(text, nullptr, false);
            for (const auto &e : j.value("env", json::array())) withheld += e.contains("withheld") ? 1 : 0;
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            for (size_t at = 0; (at = text.find(" left out (withheld)", at)) != std::string::npos; ++at) ++withheld;
            std::fwrite(text.data(), 1, text.size(), stdout);
        }
        if (withheld)
            std::fprintf(stderr, "%zu value(s) from Secrets left out; pass --secrets to include them\n", withheld);
        nh_client_free(c);
    });

    // nh dev list
    static bool list_all = false;
    static std::string list_selector;
    auto *list = dev->add_subcommand("list", "workloads in dev mode in the namespace");
    add_list_flags(list, g, list_all, list_selector, true);
    list->callback([&g] {
        nh_client *c = client_or_fail(g);
        json j = list_sessions(c, list_all, list_selector);
        if (g.output == "json" || g.output == "yaml")
            nh_cli::print_structured(j, g.output);
        else if (g.output == "name")
            print_names(j);
        else
            print_list(j, list_all, g.output == "wide");
        nh_client_free(c);
    });
}
