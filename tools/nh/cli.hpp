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
    std::string output;  // -o: "" (text), "json", "yaml", "name" or "wide"
    int verbosity = 0;
};

// Adds the global flags (--kubeconfig, --context, -n, -v) to `app` and every subcommand below
// it, under "Global Flags", so they work anywhere on the command line and every help lists them.
void add_global_flags(CLI::App &app, Globals &g);

// Adds -o/--output taking one of `formats` ("-o json", "-o=json", "--output=json").
CLI::Option *add_output_flag(CLI::App *app, Globals &g, const std::vector<std::string> &formats);

// Prints `j` to stdout as the -o format asks: "json" (indented by 2, always) or "yaml".
void print_structured(const nlohmann::json &j, const std::string &format);

// `j` as YAML (block style; strings quoted when YAML would read them as something else).
std::string to_yaml(const nlohmann::json &j);

// Reports a parse error and returns the exit code: help and version are printed (0); an
// unknown subcommand is named kubectl's way with the nearest names ("unknown command "stat"
// for "nh dev""); anything else is "error: ..." and where to see the usage (EXIT_USAGE).
int report_parse_error(CLI::App &app, const CLI::ParseError &e);

// Opens a client from the global flags; prints the error and returns NULL on failure.
nh_client *open_client(const Globals &g);

// Prints "error: <message>" for the last error and returns the matching exit code.
int report_error(const char *context = nullptr);

// The exit code for an nh_error_code.
int exit_code_for(int rc);

// Which dev session of a workload a command means.
struct SessionPick {
    std::string mode;       // "replace" or "duplicate"
    std::string developer;  // duplicate mode: as given ("": the caller's copy)
    nlohmann::json status;  // its nh_dev_status() object when looked up, else null

    int mode_code() const { return mode == "duplicate" ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE; }
    // " --mode duplicate --developer D" as needed to name this session in a command.
    std::string flags() const;
    // Query options naming this session (valid while the pick lives), cancelled by Ctrl-C.
    nh_dev_query_options query() const;
};

// The session of KIND/NAME a command means: with --mode (or --developer) given, that one;
// otherwise whichever of the workload's replace session and the caller's copy is in dev mode.
// When both are, prints an error naming each with the command (`nh <verb> KIND/NAME ...`)
// that picks it and throws CLI::RuntimeError(EXIT_USAGE). A failing look-up picks replace and
// leaves the error to the command.
SessionPick pick_session(nh_client *c, const Globals &g, const std::string &verb, const std::string &kind,
                         const std::string &name, const std::string &mode_flag, const std::string &developer_flag);

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

// The global flags as given (--kubeconfig, --context, -n), to append to a hint: "" or
// " -n demo --context kind-x", each value quoted for sh when it needs to be.
std::string global_flags_hint(const Globals &g);

// Single-quoted for sh when it holds anything but [A-Za-z0-9@%+=:,./_-].
std::string sh_quote(const std::string &s);

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

// Rows under a header, each column as wide as its widest cell plus 3 (kubectl's tables).
void print_table(const std::vector<std::vector<std::string>> &rows);

// Prints the last error, frees `c` and leaves the command with the error's exit code.
[[noreturn]] void fail_with_last_error(nh_client *c);

// The directory associated with KIND/NAME in `ns` and the client's context (`nh dev associate`),
// as its association object, or null when none is; several: prints them and leaves the command
// (EXIT_USAGE).
nlohmann::json associated_workload_dir(nh_client *c, const std::string &kind, const std::string &name,
                                       const std::string &ns);
// The association of the current directory (or its nearest associated ancestor), or null.
nlohmann::json associated_here();
// Fills the dev image, container and work dir that neither the flags nor the dev config give
// from the dev profile of KIND/NAME (what the last start used), saying so on stderr.
void apply_profile(nh_client *c, const std::string &kind, const std::string &name, const std::string &ns,
                   nh_dev_start_options &o, std::string &image, std::string &container, std::string &workdir);
// Remembers in the dev profile what the session `s` of KIND/NAME uses.
void remember_profile(nh_client *c, const std::string &kind, const std::string &name, const std::string &ns,
                      const nh_session *s);

// open_client(), or leaves the command with the error's exit code.
nh_client *client_or_fail(const Globals &g);

// kubectl's age of an RFC 3339 time: 42s, 5m, 3h, 12d (and 2y); "<unknown>" without one.
std::string age(const nlohmann::json &created);

// "30s", "5m", "2h", "1h30m" (kubectl's durations) as seconds; -1 when unreadable.
long parse_duration(const std::string &text);

}  // namespace nh_cli
