#include "cli.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace nh_cli {

nh_client *open_client(const Globals &g) {
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    if (!g.kubeconfig.empty()) o.kubeconfig = g.kubeconfig.c_str();
    if (!g.context.empty()) o.context = g.context.c_str();
    if (!g.ns.empty()) o.namespace_name = g.ns.c_str();
    nh_client *c = nullptr;
    if (nh_client_new(&c, &o) != NH_OK) return nullptr;
    return c;
}

int exit_code_for(int rc) {
    switch (rc) {
        case NH_OK:
            return EXIT_OK;
        case NH_EINVAL:
            return EXIT_USAGE;
        case NH_ENOTFOUND:
            return EXIT_NOT_FOUND;
        case NH_EUNAUTHORIZED:
        case NH_EFORBIDDEN:
            return EXIT_DENIED;
        case NH_ECONFLICT:
        case NH_EEXISTS:
        case NH_EBUSY:
            return EXIT_CONFLICT;
        case NH_ETIMEOUT:
            return EXIT_TIMEOUT;
        case NH_ECONNECT:
        case NH_ETLS:
            return EXIT_UNREACHABLE;
        case NH_ECONFIG:
            return EXIT_CONFIG;
        case NH_ECANCELLED:
            return EXIT_CANCELLED;
        default:
            return EXIT_ERROR;
    }
}

int report_error(const char *context) {
    progress_done();
    const nh_error *e = nh_error_last();
    if (context)
        std::fprintf(stderr, "error: %s: %s\n", context, e->message);
    else
        std::fprintf(stderr, "error: %s\n", e->message);
    return exit_code_for(e->code);
}

namespace {
std::mutex g_note_mu;
std::string g_note;
}  // namespace

void set_interrupt_note(const std::string &note) {
    std::lock_guard lock(g_note_mu);
    g_note = note;
}

nh_cancel *interrupt_token() {
    static nh_cancel *token = [] {
        nh_cancel *t = nullptr;
        nh_cancel_new(&t);
        // Block the signals in every thread and wait for them on one of our own,
        // since nh_cancel_trigger() is not async-signal-safe.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        std::thread([t, set] {
            int sig = 0;
            int count = 0;
            while (sigwait(&set, &sig) == 0) {
                if (++count > 1) {  // a second Ctrl-C: leave now
                    std::lock_guard lock(g_note_mu);
                    if (!g_note.empty()) std::fprintf(stderr, "\n%s\n", g_note.c_str());
                    _exit(EXIT_CANCELLED);
                }
                std::fprintf(stderr, "\ninterrupted, stopping (press Ctrl-C again to quit at once)\n");
                nh_cancel_trigger(t);
            }
        }).detach();
        return t;
    }();
    return token;
}

std::string canonical_kind(std::string kind) {
    for (auto &c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const std::pair<const char *, const char *> aliases[] = {
        {"deploy", "deployment"}, {"deployments", "deployment"}, {"sts", "statefulset"},
        {"statefulsets", "statefulset"}, {"ds", "daemonset"}, {"daemonsets", "daemonset"},
        {"rs", "replicaset"}, {"replicasets", "replicaset"}, {"jobs", "job"}, {"cj", "cronjob"},
        {"cronjobs", "cronjob"}, {"po", "pod"}, {"pods", "pod"}};
    for (auto &[a, k] : aliases)
        if (kind == a) return k;
    return kind;
}

std::string sync_status_file(const std::string &ns, const std::string &kind, const std::string &name) {
    std::string dir;
    if (const char *x = std::getenv("XDG_STATE_HOME"); x && *x)
        dir = std::string(x) + "/nocalhost";
    else if (const char *h = std::getenv("HOME"); h && *h)
        dir = std::string(h) + "/.local/state/nocalhost";
    else
        dir = "/tmp/nocalhost-" + std::to_string(getuid());
    return dir + "/sync-" + ns + "-" + canonical_kind(kind) + "-" + name + ".json";
}

bool interactive() { return isatty(STDERR_FILENO) && !std::getenv("CI"); }

namespace {
std::mutex g_progress_mu;
bool g_progress_open = false;
}  // namespace

void progress(const std::string &line) {
    std::lock_guard lock(g_progress_mu);
    if (interactive()) {
        std::fprintf(stderr, "\r\033[2K%s", line.c_str());
        g_progress_open = true;
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
}

void progress_done() {
    std::lock_guard lock(g_progress_mu);
    if (g_progress_open) std::fprintf(stderr, "\n");
    g_progress_open = false;
}

nlohmann::json session_config(const nh_session *s) {
    nh_buf b = NH_BUF_INIT;
    nh_session_status(&b, s);
    auto j = nlohmann::json::parse(b.ptr ? b.ptr : "{}", nullptr, false);
    nh_buf_dispose(&b);
    if (!j.is_object() || !j.contains("config") || !j["config"].is_object()) return nlohmann::json::object();
    return j["config"];
}

}  // namespace nh_cli
