// nh exec, nh terminal, nh port-forward: streams into a workload's pod.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"

namespace {

struct StreamFlags {
    std::string target;
    std::string container;
    bool stdin_ = false;
    bool tty = false;
    std::string shell;
    std::vector<std::string> command;
    std::vector<std::string> ports;
    std::string address = "127.0.0.1";
    std::string mode, developer;  // which dev session of a workload
};

// Where a command on a workload goes: in dev mode on a copy of the caller's (duplicate mode),
// that copy; otherwise the target as given (in replace mode the workload's pods are the dev pod).
// Frees the client when the session is ambiguous.
std::string session_target(nh_client *c, const nh_cli::Globals &g, const std::string &verb, const StreamFlags &f,
                           nh_cli::SessionPick *pick) {
    auto slash = f.target.find('/');
    if (slash == std::string::npos) return f.target;
    std::string kind = nh_cli::canonical_kind(f.target.substr(0, slash));
    if (kind == "pod") return f.target;
    try {
        *pick = nh_cli::pick_session(c, g, verb, f.target.substr(0, slash), f.target.substr(slash + 1), f.mode, f.developer);
    } catch (...) {
        nh_client_free(c);
        throw;
    }
    const auto &st = pick->status;
    if (!st.is_object() || !st.value("dev_mode", false)) return f.target;
    // In dev mode: where the library says streams to the dev pod go (the copy, or the
    // Deployment dev mode runs the dev pod from).
    nh_dev_query_options q = pick->query();
    nh_session *s = nullptr;
    if (nh_dev_attach(&s, c, f.target.substr(0, slash).c_str(), f.target.substr(slash + 1).c_str(), &q) != NH_OK)
        return f.target;
    std::string target = nh_session_target(s);
    nh_session_free(s);
    return target.empty() ? f.target : target;
}

void add_session_flags(CLI::App *cmd, StreamFlags &f) {
    cmd->add_option("--mode", f.mode, "replace or duplicate: which dev session (default: whichever of yours exists)")
        ->check(CLI::IsMember({"replace", "duplicate"}));
    cmd->add_option("--developer", f.developer, "duplicate mode: whose copy (default: yours, user@host)");
}

int write_out(int stream, const char *data, size_t len, void *) {
    FILE *f = stream == NH_EXEC_STDERR ? stderr : stdout;
    std::fwrite(data, 1, len, f);
    std::fflush(f);
    return 0;
}

// Puts the local terminal into raw mode for the lifetime of the object.
class RawTerminal {
public:
    RawTerminal() {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios raw = saved_;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }

private:
    termios saved_{};
    bool active_ = false;
};

volatile sig_atomic_t g_window_changed = 0;

bool window_size(unsigned &w, unsigned &h) {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return false;
    w = ws.ws_col;
    h = ws.ws_row;
    return true;
}

}  // namespace

int nh_cli::exec_interactive(nh_client *c, const std::string &target, const std::string &container,
                             const std::vector<std::string> &command, bool tty) {
    std::vector<const char *> argv;
    for (auto &a : command) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    nh_cancel *cancel = nh_cli::interrupt_token();
    nh_exec_options o = NH_EXEC_OPTIONS_INIT;
    if (!container.empty()) o.container = container.c_str();
    o.tty = tty;
    o.stdin_enabled = 1;
    o.cancel = cancel;
    o.output = write_out;
    nh_exec *x = nullptr;
    if (nh_exec_start(&x, c, target.c_str(), argv.data(), &o) != NH_OK) return nh_cli::report_error();

    // SIGWINCH may arrive on any thread (the library's and the interrupt thread
    // do not block it), so its handler only raises a flag that a thread of ours
    // turns into a resize.
    std::atomic<bool> done{false};
    std::thread winch;
    struct sigaction previous {};
    if (tty) {
        unsigned w, h;
        if (window_size(w, h)) nh_exec_resize(x, w, h);
        struct sigaction on_winch {};
        on_winch.sa_handler = [](int) { g_window_changed = 1; };
        sigemptyset(&on_winch.sa_mask);
        on_winch.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &on_winch, &previous);
        winch = std::thread([x, &done] {
            while (!done.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                if (g_window_changed) {
                    g_window_changed = 0;
                    unsigned w2, h2;
                    if (window_size(w2, h2)) nh_exec_resize(x, w2, h2);
                }
            }
        });
    }
    std::thread input([x, &done] {
        char buf[16384];
        while (!done.load()) {
            pollfd p{STDIN_FILENO, POLLIN, 0};
            if (poll(&p, 1, 200) <= 0) continue;
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                nh_exec_close_stdin(x);  // EOF; NH_EUNSUPPORTED on old servers is fine
                return;
            }
            if (nh_exec_write(x, buf, static_cast<size_t>(n)) != NH_OK) return;
        }
    });
    int code = 0;
    int rc;
    {
        std::unique_ptr<RawTerminal> raw;
        if (tty) raw = std::make_unique<RawTerminal>();
        rc = nh_exec_wait(&code, x, -1);
    }
    done = true;
    input.join();
    if (winch.joinable()) {
        winch.join();
        sigaction(SIGWINCH, &previous, nullptr);
    }
    int result = rc == NH_OK ? code : nh_cli::report_error();
    nh_exec_free(x);
    return result;
}

int nh_cli::exec_streaming(nh_client *c, const std::string &target, const std::string &container,
                           const std::vector<std::string> &command) {
    std::vector<const char *> argv;
    for (auto &a : command) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    nh_exec_options o = NH_EXEC_OPTIONS_INIT;
    if (!container.empty()) o.container = container.c_str();
    o.cancel = nh_cli::interrupt_token();
    o.output = write_out;
    nh_exec *x = nullptr;
    if (nh_exec_start(&x, c, target.c_str(), argv.data(), &o) != NH_OK) return nh_cli::report_error();
    int exit_code = 0;
    int code = nh_exec_wait(&exit_code, x, -1) == NH_OK ? exit_code : nh_cli::report_error();
    nh_exec_free(x);
    return code;
}

namespace {

int interactive(nh_client *c, const std::string &target, const StreamFlags &f, const std::vector<std::string> &command,
                bool tty) {
    return nh_cli::exec_interactive(c, target, f.container, command, tty);
}

// dev.shell of the Nocalhost dev config recorded when a workload went into dev mode, or "".
std::string dev_config_shell(nh_client *c, const std::string &target, const nh_cli::SessionPick &pick) {
    auto slash = target.find('/');
    if (slash == std::string::npos) return "";
    std::string kind = target.substr(0, slash), name = target.substr(slash + 1);
    if (nh_cli::canonical_kind(kind) == "pod") return "";
    nh_dev_query_options q = pick.query();
    nh_session *s = nullptr;
    if (nh_dev_attach(&s, c, kind.c_str(), name.c_str(), &q) != NH_OK) return "";  // not in dev mode
    auto shell = nh_cli::session_config(s).value("shell", nlohmann::json());
    nh_session_free(s);
    return shell.is_string() ? shell.get<std::string>() : "";
}

// The shell Nocalhost would pick: the given one, the dev config's dev.shell, else zsh, bash,
// sh, probed with `which`.
std::string pick_shell(nh_client *c, const std::string &target, const StreamFlags &f, const nh_cli::SessionPick &pick) {
    if (!f.shell.empty()) return f.shell;
    if (std::string configured = dev_config_shell(c, f.target, pick); !configured.empty()) return configured;
    nh_exec_options o = NH_EXEC_OPTIONS_INIT;
    if (!f.container.empty()) o.container = f.container.c_str();
    o.cancel = nh_cli::interrupt_token();
    for (const char *sh : {"zsh", "bash", "sh"}) {
        const char *argv[] = {"which", sh, nullptr};
        nh_buf out = NH_BUF_INIT;
        int code = -1;
        int rc = nh_exec_run(&out, nullptr, &code, c, target.c_str(), argv, nullptr, 0, &o);
        std::string path = out.ptr ? out.ptr : "";
        nh_buf_dispose(&out);
        while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
        if (rc == NH_OK && code == 0 && !path.empty()) return path;
        // A missing `which` or a failing probe (kwok reports non-zero exits as errors): try the next.
        if (rc == NH_ENOTFOUND || rc == NH_EFORBIDDEN || rc == NH_ECANCELLED || rc == NH_EUNAUTHORIZED) return "";
    }
    return "sh";
}

}  // namespace

void nh_cli_register_stream(CLI::App &app, nh_cli::Globals &g) {
    auto f = std::make_shared<StreamFlags>();

    auto *exec = app.add_subcommand("exec", "run a command in a workload's pod (the dev pod in dev mode)");
    exec->add_option("target", f->target, "KIND/NAME (deployment/web, statefulset/db, pod/x) or a pod name")->required();
    exec->add_option("-c,--container", f->container, "container (default: the pod's default container)");
    exec->add_flag("-i,--stdin", f->stdin_, "pass stdin to the command");
    exec->add_flag("-t,--tty", f->tty, "allocate a terminal");
    exec->add_option("command", f->command, "the command and its arguments (after --)")->required();
    add_session_flags(exec, *f);
    exec->callback([f, &g] {
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        nh_cli::SessionPick pick;
        std::string target = session_target(c, g, "exec", *f, &pick);
        int code;
        if (f->stdin_ || f->tty) {
            code = interactive(c, target, *f, f->command, f->tty);
        } else {
            code = nh_cli::exec_streaming(c, target, f->container, f->command);
        }
        nh_client_free(c);
        if (code != 0) throw CLI::RuntimeError(code);
    });

    auto *term = app.add_subcommand("terminal", "open an interactive shell in a workload's pod");
    term->add_option("target", f->target, "KIND/NAME or a pod name")->required();
    term->add_option("-c,--container", f->container, "container (default: the pod's default container)");
    term->add_option("--shell", f->shell, "shell to run (default: the dev config's dev.shell, else zsh, bash or sh, whichever exists)");
    add_session_flags(term, *f);
    term->callback([f, &g] {
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        nh_cli::SessionPick pick;
        std::string target = session_target(c, g, "terminal", *f, &pick);
        std::string shell = pick_shell(c, target, *f, pick);
        int code;
        if (shell.empty()) {
            code = nh_cli::report_error();
        } else {
            // A configured shell may carry arguments ("bash -l").
            std::vector<std::string> words;
            std::istringstream in(shell);
            for (std::string w; in >> w;) words.push_back(w);
            code = interactive(c, target, *f, words, isatty(STDIN_FILENO) != 0);
        }
        nh_client_free(c);
        if (code != 0) throw CLI::RuntimeError(code);
    });

    auto *pf = app.add_subcommand("port-forward", "forward local ports to a workload's pod until interrupted");
    pf->add_option("target", f->target, "KIND/NAME or a pod name")->required();
    pf->add_option("ports", f->ports, "LOCAL:REMOTE, :REMOTE (pick a local port) or PORT")->required();
    pf->add_option("--address", f->address, "local IPv4 address to listen on");
    static bool detach = false;
    pf->add_flag("--detach", detach,
                 "let your agent forward (local ports 1024 and up) and return; it keeps forwarding after nh exits "
                 "(nh agent list|status|stop)");
    add_session_flags(pf, *f);
    pf->callback([f, &g] {
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        nh_cli::SessionPick pick;
        std::string target = session_target(c, g, "port-forward", *f, &pick);
        std::vector<const char *> ports;
        for (auto &p : f->ports) ports.push_back(p.c_str());
        ports.push_back(nullptr);
        if (detach) {
            if (f->address != "127.0.0.1") {
                nh_client_free(c);
                throw CLI::ValidationError("--address", "a detached port-forward listens on 127.0.0.1 only");
            }
            nh_buf id = NH_BUF_INIT, st = NH_BUF_INIT;
            if (nh_agent_forward_start(&id, c, target.c_str(), ports.data(), nullptr) != NH_OK) nh_cli::fail_with_last_error(c);
            if (nh_agent_status(&st, id.ptr, nullptr) == NH_OK) {
                auto j = nlohmann::json::parse(std::string(st.ptr, st.size), nullptr, false);
                for (auto &p : j.value("ports", nlohmann::json::array()))
                    std::printf("Forwarding from 127.0.0.1:%d -> %d (in your agent as %s)\n", p.value("local_port", 0),
                                p.value("remote_port", 0), id.ptr);
            }
            std::fprintf(stderr, "nh agent status %s shows it; nh agent stop %s stops it\n", id.ptr, id.ptr);
            nh_buf_dispose(&id);
            nh_buf_dispose(&st);
            nh_client_free(c);
            return;
        }
        nh_forward_options o = NH_FORWARD_OPTIONS_INIT;
        o.address = f->address.c_str();
        o.cancel = nh_cli::interrupt_token();
        o.on_event = [](int type, const char *pod, int local, int remote, const char *message, void *) {
            switch (type) {
                case NH_FORWARD_CONNECTED:
                    std::fprintf(stderr, "Handling connection for %d -> %s:%d\n", local, pod, remote);
                    break;
                case NH_FORWARD_ERROR:
                    std::fprintf(stderr, "error: %s\n", message);
                    break;
                case NH_FORWARD_POD_LOST:
                    std::fprintf(stderr, "%s; waiting for its replacement\n", message);
                    break;
                case NH_FORWARD_RECONNECTED:
                    std::fprintf(stderr, "now %s\n", message);
                    break;
                default:
                    break;
            }
        };
        nh_forward *fwd = nullptr;
        int code = 0;
        if (nh_forward_start(&fwd, c, target.c_str(), ports.data(), &o) != NH_OK) {
            code = nh_cli::report_error();
        } else {
            nh_buf pod = NH_BUF_INIT;
            nh_forward_pod(&pod, fwd);
            for (size_t i = 0; i < f->ports.size(); ++i) {
                std::string spec = f->ports[i];
                std::string remote = spec.substr(spec.find(':') == std::string::npos ? 0 : spec.find(':') + 1);
                int local = 0;
                nh_forward_local_port_v2(&local, fwd, i);
                std::printf("Forwarding from %s:%d -> %s (pod %s)\n", f->address.c_str(), local, remote.c_str(),
                            pod.ptr ? pod.ptr : "");
            }
            std::fflush(stdout);
            nh_buf_dispose(&pod);
            int rc = nh_forward_wait(fwd, -1);
            // Ctrl-C is how a port-forward normally ends.
            if (rc != NH_OK && rc != NH_ECANCELLED) code = nh_cli::report_error();
            nh_forward_free(fwd);
        }
        nh_client_free(c);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}
