#include "cli.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
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

void add_global_flags(CLI::App &app, Globals &g) {
    // `nh sync run` parses its own arguments.
    if (app.get_prefix_command()) return;
    const char *group = "Global Flags";
    app.add_option("--kubeconfig", g.kubeconfig, "kubeconfig file(s), ':'-separated (default: $KUBECONFIG, ~/.kube/config)")
        ->group(group);
    app.add_option("--context", g.context, "kubeconfig context to use")->group(group);
    app.add_option("-n,--namespace", g.ns, "namespace (default: the context's)")->group(group);
    app.add_flag("-v,--verbose", g.verbosity, "more log output (repeat for more)")->group(group);
    for (CLI::App *sub : app.get_subcommands({})) add_global_flags(*sub, g);
}

CLI::Option *add_output_flag(CLI::App *app, Globals &g, const std::vector<std::string> &formats) {
    std::string names;
    for (const auto &f : formats) names += (names.empty() ? "" : "|") + f;
    return app->add_option("-o,--output", g.output, "output format: " + names)
        ->type_name("FORMAT")
        // kubectl takes "-o=json" as well as "-o json" and "--output=json".
        ->transform([](const std::string &v) { return v.starts_with('=') ? v.substr(1) : v; }, "", "")
        ->check(CLI::IsMember(formats));
}

namespace {

bool yaml_plain_ok(const std::string &s) {
    if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
    static const std::string first_bad = "-?:,[]{}#&*!|>'\"%@`";
    if (first_bad.find(s.front()) != std::string::npos) return false;
    for (char ch : s)
        if (static_cast<unsigned char>(ch) < 0x20 || ch == '#' || ch == ':' || ch == '"' || ch == '\\') return false;
    // Words YAML 1.1 and 1.2 read as something else than a string.
    std::string lower = s;
    for (auto &ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const char *w : {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "nan", ".nan", ".inf", "-.inf"})
        if (lower == w) return false;
    // Anything that starts like a number (1, 1.5, 0x1f, 1e3, 2024-01-01...) is quoted.
    if (std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '.' || s.front() == '+') return false;
    return true;
}

std::string yaml_scalar(const nlohmann::json &j) {
    if (j.is_string()) {
        const auto &s = j.get_ref<const std::string &>();
        return yaml_plain_ok(s) ? s : j.dump();  // a JSON string is a YAML double-quoted scalar
    }
    return j.dump();
}

bool yaml_inline(const nlohmann::json &j) { return !j.is_structured() || j.empty(); }

void yaml_emit(const nlohmann::json &j, int indent, std::string &out);

// The value after "key:" or "- ": inline for scalars and empty collections, else on the next lines.
void yaml_value(const nlohmann::json &j, int indent, std::string &out) {
    if (yaml_inline(j)) {
        out += " " + (j.is_structured() ? j.dump() : yaml_scalar(j)) + "\n";
    } else {
        out += "\n";
        yaml_emit(j, indent, out);
    }
}

void yaml_emit(const nlohmann::json &j, int indent, std::string &out) {
    std::string pad(static_cast<size_t>(indent), ' ');
    if (j.is_object()) {
        for (const auto &[k, v] : j.items()) {
            out += pad + yaml_scalar(nlohmann::json(k)) + ":";
            // Sequences under a key are not indented further (kubectl's style).
            yaml_value(v, v.is_array() ? indent : indent + 2, out);
        }
    } else if (j.is_array()) {
        for (const auto &v : j) {
            if (v.is_object() && !v.empty()) {
                // The first key goes on the "- " line, the rest line up under it.
                std::string item;
                yaml_emit(v, indent + 2, item);
                out += pad + "- " + item.substr(static_cast<size_t>(indent) + 2);
            } else {
                out += pad + "-";
                yaml_value(v, indent + 2, out);
            }
        }
    } else {
        out += pad + yaml_scalar(j) + "\n";
    }
}

}  // namespace

std::string to_yaml(const nlohmann::json &j) {
    if (yaml_inline(j)) return (j.is_structured() ? j.dump() : yaml_scalar(j)) + "\n";
    std::string out;
    yaml_emit(j, 0, out);
    return out;
}

void print_structured(const nlohmann::json &j, const std::string &format) {
    if (format == "yaml")
        std::fputs(to_yaml(j).c_str(), stdout);
    else
        std::printf("%s\n", j.dump(2).c_str());
}

namespace {

size_t edit_distance(const std::string &a, const std::string &b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t i = 0; i <= b.size(); ++i) row[i] = i;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t k = 1; k <= b.size(); ++k) {
            size_t up = row[k];
            row[k] = std::min({row[k] + 1, row[k - 1] + 1, diag + (a[i - 1] == b[k - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string command_path(const CLI::App *app) {
    std::string path = app->get_name();
    for (const CLI::App *p = app->get_parent(); p; p = p->get_parent()) path = p->get_name() + " " + path;
    return path;
}

// The deepest command given ("nh dev status").
const CLI::App *deepest_command(const CLI::App &root) {
    const CLI::App *app = &root;
    for (bool deeper = true; deeper;) {
        deeper = false;
        for (const CLI::App *sub : app->get_subcommands([](const CLI::App *a) { return a->parsed(); })) {
            app = sub;
            deeper = true;
            break;
        }
    }
    return app;
}

// Reports an unknown subcommand kubectl's way when `e` is one ("unknown command "stat" for
// "nh dev"", with the nearest names); returns false when `e` is another parse error.
bool report_unknown_command(const CLI::App &root, const CLI::ParseError &e) {
    // The deepest command given, and the first word it did not expect.
    const CLI::App *app = deepest_command(root);
    auto subs = app->get_subcommands([](const CLI::App *a) { return !a->get_disabled(); });
    // Both "not expected" and "a subcommand is required" can be what a mistyped command gives.
    if (subs.empty() || (e.get_name() != "ExtrasError" && e.get_name() != "RequiredError")) return false;
    std::string word;
    for (const auto &w : root.remaining(true))
        if (!w.empty() && w[0] != '-') {
            word = w;
            break;
        }
    if (word.empty()) return false;
    std::vector<std::string> near;
    for (const CLI::App *s : subs) {
        const std::string &n = s->get_name();
        if (edit_distance(word, n) <= 2 || n.rfind(word, 0) == 0) near.push_back(n);
    }
    progress_done();
    std::string path = command_path(app);
    std::fprintf(stderr, "error: unknown command \"%s\" for \"%s\"\n", word.c_str(), path.c_str());
    if (!near.empty()) {
        std::fprintf(stderr, "\nDid you mean this?\n");
        for (const auto &n : near) std::fprintf(stderr, "\t%s\n", n.c_str());
    }
    std::fprintf(stderr, "\nRun '%s --help' for usage.\n", path.c_str());
    return true;
}

}  // namespace

int report_parse_error(CLI::App &root, const CLI::ParseError &e) {
    if (e.get_exit_code() == 0) return root.exit(e);  // --help, --version
    if (report_unknown_command(root, e)) return EXIT_USAGE;
    progress_done();
    std::fprintf(stderr, "error: %s\nSee '%s --help' for usage.\n", e.what(), command_path(deepest_command(root)).c_str());
    return EXIT_USAGE;
}

std::string sh_quote(const std::string &s) {
    bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || std::string("@%+=:,./_-").find(ch) != std::string::npos;
    });
    if (plain) return s;
    std::string out = "'";
    for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

std::string global_flags_hint(const Globals &g) {
    std::string out;
    if (!g.kubeconfig.empty()) out += " --kubeconfig " + sh_quote(g.kubeconfig);
    if (!g.context.empty()) out += " --context " + sh_quote(g.context);
    if (!g.ns.empty()) out += " -n " + sh_quote(g.ns);
    return out;
}

std::string SessionPick::flags() const {
    if (mode != "duplicate") return "";
    return " --mode duplicate" + (developer.empty() ? std::string() : " --developer " + sh_quote(developer));
}

nh_dev_query_options SessionPick::query() const {
    nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
    q.cancel = interrupt_token();
    q.mode = mode_code();
    if (!developer.empty()) q.developer = developer.c_str();
    return q;
}

SessionPick pick_session(nh_client *c, const Globals &g, const std::string &verb, const std::string &kind,
                         const std::string &name, const std::string &mode_flag, const std::string &developer_flag) {
    auto status_of = [&](int mode) {
        nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
        q.cancel = interrupt_token();
        q.mode = mode;
        if (!developer_flag.empty()) q.developer = developer_flag.c_str();
        nh_buf b = NH_BUF_INIT;
        nlohmann::json j;
        if (nh_dev_status(&b, c, kind.c_str(), name.c_str(), &q) == NH_OK)
            j = nlohmann::json::parse(b.ptr ? b.ptr : "", nullptr, false);
        nh_buf_dispose(&b);
        return j.is_object() ? j : nlohmann::json();
    };
    if (!mode_flag.empty() || !developer_flag.empty()) {
        SessionPick pick{mode_flag.empty() ? "duplicate" : mode_flag, developer_flag, nullptr};
        pick.status = status_of(pick.mode_code());
        return pick;
    }
    SessionPick replace{"replace", "", status_of(NH_DEV_MODE_REPLACE)};
    SessionPick copy{"duplicate", "", status_of(NH_DEV_MODE_DUPLICATE)};
    bool in_replace = replace.status.is_object() && replace.status.value("dev_mode", false);
    bool in_copy = copy.status.is_object() && copy.status.value("dev_mode", false);
    if (in_replace && in_copy) {
        progress_done();
        std::string base = "nh " + verb + " " + kind + "/" + name;
        std::fprintf(stderr, "error: %s/%s has two dev sessions of yours; pick one with --mode:\n", kind.c_str(), name.c_str());
        std::fprintf(stderr, "  %s --mode replace%s\t(the workload itself, owner %s)\n", base.c_str(),
                     global_flags_hint(g).c_str(), replace.status.value("owner", "").c_str());
        std::fprintf(stderr, "  %s --mode duplicate%s\t(your copy %s)\n", base.c_str(), global_flags_hint(g).c_str(),
                     copy.status.value("copy", "").c_str());
        throw CLI::RuntimeError(EXIT_USAGE);
    }
    return in_copy ? copy : replace;
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
    if (const char *k = nh_kind_name(kind.c_str())) return k;
    for (auto &c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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

// Rows under a header, each column as wide as its widest cell plus 3 (kubectl's tables).
void print_table(const std::vector<std::vector<std::string>> &rows) {
    std::vector<size_t> width;
    for (const auto &r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    for (const auto &r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i)
            line += i + 1 == r.size() ? r[i] : r[i] + std::string(width[i] + 3 - r[i].size(), ' ');
        std::printf("%s\n", line.c_str());
    }
}

void fail_with_last_error(nh_client *c) {
    int code = report_error();
    nh_client_free(c);
    throw CLI::RuntimeError(code);
}

nh_client *client_or_fail(const Globals &g) {
    nh_client *c = open_client(g);
    if (!c) throw CLI::RuntimeError(report_error());
    return c;
}

// kubectl's age: 42s, 5m, 3h, 12d (and 2y), "<unknown>" without a time.
std::string age(const nlohmann::json &created) {
    if (!created.is_string()) return "<unknown>";
    std::tm tm{};
    if (!strptime(created.get<std::string>().c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "<unknown>";
    long s = static_cast<long>(std::difftime(std::time(nullptr), timegm(&tm)));
    if (s < 0) s = 0;
    if (s < 120) return std::to_string(s) + "s";
    if (s < 3600 * 2) return std::to_string(s / 60) + "m";
    if (s < 86400 * 2) return std::to_string(s / 3600) + "h";
    if (s < 86400 * 365 * 2) return std::to_string(s / 86400) + "d";
    return std::to_string(s / (86400 * 365)) + "y";
}

// "30s", "5m", "2h", "1h30m" (kubectl's --since) as seconds; -1 when unreadable.
long parse_duration(const std::string &text) {
    long total = 0;
    size_t i = 0;
    if (text.empty()) return -1;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        if (start == i || i == text.size()) return -1;
        long n = std::stol(text.substr(start, i - start));
        char unit = text[i++];
        if (unit == 's') total += n;
        else if (unit == 'm') total += n * 60;
        else if (unit == 'h') total += n * 3600;
        else return -1;
    }
    return total;
}

}  // namespace nh_cli
