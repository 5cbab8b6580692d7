// Shared pieces of the nh CLI: global flags, the client, error reporting,
// exit codes, Ctrl-C handling and progress lines. Only the C ABI is used.
#pragma once

#include <nocalhost.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nh_cli {

// Exit codes (documented in docs/cli.md).
enum Exit {
    EXIT_OK = 0,
    EXIT_ERROR = 1,        // any other failure
    EXIT_USAGE = 2,        // bad flags or arguments
    EXIT_NOT_FOUND = 3,    // the workload, pod or object does not exist
    EXIT_DENIED = 4,       // unauthorized or forbidden
    EXIT_CONFLICT = 5,     // conflict, already exists, or busy (held by someone else)
    EXIT_TIMEOUT = 6,      // timed out
    EXIT_UNREACHABLE = 7,  // connection or TLS failure
    EXIT_CONFIG = 8,       // unusable kubeconfig or configuration
    EXIT_CANCELLED = 130   // interrupted (Ctrl-C)
};

struct Globals {
    std::string kubeconfig;
    std::string context;
    std::string ns;
    std::string output;  // "" or "json"
    int verbosity = 0;
};

// Opens a client from the global flags; prints the error and returns NULL on failure.
nh_client *open_client(const Globals &g);

// Prints "error: <message>" for the last error and returns the matching exit code.
int report_error(const char *context = nullptr);

// The exit code for an nh_error_code.
int exit_code_for(int rc);

// The Nocalhost dev config recorded with a session (the "config" of its status), or {}.
nlohmann::json session_config(const nh_session *s);

// Runs a command in `target` (KIND/NAME or a pod) with stdin pumped to it; with a TTY the
// local terminal is raw and window-size changes are forwarded. Returns the command's exit
// code, or nh's for an error (printed).
int exec_interactive(nh_client *c, const std::string &target, const std::string &container,
                     const std::vector<std::string> &command, bool tty);
// The same without stdin: output is streamed as it comes.
int exec_streaming(nh_client *c, const std::string &target, const std::string &container,
                   const std::vector<std::string> &command);

// A cancel token triggered by SIGINT/SIGTERM (installed on first use).
nh_cancel *interrupt_token();

// What a second Ctrl-C (which leaves at once) prints before leaving, e.g. that a rollback is
// incomplete and the command that completes it; "" for nothing.
void set_interrupt_note(const std::string &note);

// "deploy", "Deployments", ... -> "deployment": one spelling per kind for file names.
std::string canonical_kind(std::string kind);

// Where a running `nh dev start --local-dir` publishes its sync status for
// `nh sync status` ($XDG_STATE_HOME/nocalhost or ~/.local/state/nocalhost).
std::string sync_status_file(const std::string &ns, const std::string &kind, const std::string &name);

// True when stderr is a terminal (live progress lines) and NO_COLOR is unset.
bool interactive();

// Prints a progress line: rewritten in place on a terminal, one line each otherwise.
void progress(const std::string &line);
void progress_done();

}  // namespace nh_cli
