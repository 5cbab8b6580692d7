// nh completion bash|zsh|fish: shell completion scripts, as kubectl prints them. The scripts
// ask nh itself what fits (the hidden `nh __complete WORD... CURRENT`, kubectl's way), so they
// complete every command and flag nh has, and workload and namespace names from the cluster.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

// What `nh __complete` prints last, as ":N": how the shell treats the candidates (the values
// kubectl's completion uses, so the scripts read alike).
enum Directive { DIRECTIVE_DEFAULT = 0, DIRECTIVE_NO_SPACE = 2, DIRECTIVE_NO_FILES = 4 };

const char *kBash = R"BASH(# bash completion for nh: source <(nh completion bash)
__nh_complete() {
    local line=${COMP_LINE:0:COMP_POINT} out directive word cur=${COMP_WORDS[COMP_CWORD]}
    local -a words cands
    read -ra words <<<"$line"
    [[ $line == *[[:space:]] ]] && words+=("")
    ((${#words[@]} > 1)) || words+=("")
    word=${words[-1]}
    out=$("${words[0]}" __complete "${words[@]:1}" 2>/dev/null) || return 0
    directive=${out##*:}
    out=${out%:*}
    mapfile -t cands < <(printf '%s' "$out" | cut -f1)
    # bash splits "--namespace=x" at '='; its current word is then only the tail of ours.
    local strip=$((${#word} - ${#cur}))
    ((strip > 0)) && [[ $word == *"$cur" ]] || strip=0
    COMPREPLY=()
    local c
    for c in "${cands[@]}"; do [[ -n $c ]] && COMPREPLY+=("${c:strip}"); done
    ((directive & 2)) && compopt -o nospace 2>/dev/null
    ((directive & 4)) && compopt +o default 2>/dev/null
    return 0
}
complete -o default -F __nh_complete nh
)BASH";

const char *kZsh = R"ZSH(#compdef nh
# zsh completion for nh: source <(nh completion zsh), or save it as _nh in a directory of $fpath
_nh() {
    local -a out cands
    local directive line name desc
    out=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)}")
    directive=${out[-1]#:}
    [[ $directive == <-> ]] || return 1
    for line in "${(@)out[1,-2]}"; do
        [[ -n $line ]] || continue
        name=${line%%$'\t'*} desc=
        [[ $line == *$'\t'* ]] && desc=${line#*$'\t'}
        cands+=("${name//:/\\:}${desc:+:$desc}")
    done
    if ((${#cands})); then
        if ((directive & 2)); then _describe -t nh nh cands -S ''; else _describe -t nh nh cands; fi
    elif ! ((directive & 4)); then
        _files
    fi
}
if [[ $funcstack[1] == _nh ]]; then _nh "$@"; else compdef _nh nh; fi
)ZSH";

const char *kFish = R"FISH(# fish completion for nh: nh completion fish | source
function __nh_complete
    set -l args (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($args[1] __complete $args[2..-1] $cur 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    string match -qr '^[0-9]+$' -- $directive
    or return
    set -e out[-1]
    if test (count $out) -gt 0
        printf '%s\n' $out
    else if test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path $cur
    end
end
complete -c nh -f -a '(__nh_complete)'
)FISH";

bool starts_with(const std::string &s, const std::string &prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Flags (-v, --force, --help) expect no value; options expect at least one.
bool takes_value(const CLI::Option *o) { return o->get_items_expected_max() > 0; }

bool hidden(const CLI::App *a) { return a->get_group().empty(); }

// The values an option or argument is checked against (CLI::IsMember, which CLI11 shows in its
// type name as "TYPE:{a,b,c}"), or none.
std::vector<std::string> choices(const CLI::Option *o) {
    std::string t = o->get_type_name();
    auto open = t.find(":{"), close = t.rfind('}');
    std::vector<std::string> values;
    if (open == std::string::npos || close == std::string::npos || close < open) return values;
    std::string list = t.substr(open + 2, close - open - 2);
    for (size_t at = 0; at <= list.size();) {
        auto comma = std::min(list.find(',', at), list.size());
        std::string v = list.substr(at, comma - at);
        if (!v.empty() && v.find("->") == std::string::npos) values.push_back(v);
        at = comma + 1;
    }
    return values;
}

// The workload kinds a command's KIND/NAME takes: dev mode's for `nh dev ...`, the streams'
// otherwise (include/nocalhost.h).
std::vector<std::string> kinds_for(const std::vector<std::string> &path) {
    if (!path.empty() && path[0] == "dev")
        return {"deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob", "pod"};
    return {"deployment", "statefulset", "daemonset", "replicaset", "pod"};
}

std::string list_path(const std::string &kind, const std::string &ns) {
    std::string base = kind == "pod" ? "/api/v1"
                       : kind == "job" || kind == "cronjob" ? "/apis/batch/v1"
                                                            : "/apis/apps/v1";
    return base + "/namespaces/" + ns + "/" + kind + "s";
}

// The names of the objects at `path` (a list), or none when the cluster cannot be asked.
std::vector<std::string> list_names(nh_client *c, const std::string &path) {
    nh_request_options r = NH_REQUEST_OPTIONS_INIT;
    r.path = path.c_str();
    nh_buf out = NH_BUF_INIT;
    int status = 0;
    std::vector<std::string> names;
    if (nh_client_request(&out, &status, c, &r) == NH_OK && status == 200) {
        auto j = nlohmann::json::parse(std::string(out.ptr, out.size), nullptr, false);
        if (j.is_object() && j["items"].is_array())
            for (const auto &item : j["items"])
                if (item.contains("metadata")) names.push_back(item["metadata"].value("name", ""));
    }
    nh_buf_dispose(&out);
    return names;
}

nh_client *completion_client(const nh_cli::Globals &g) {
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    if (!g.kubeconfig.empty()) o.kubeconfig = g.kubeconfig.c_str();
    if (!g.context.empty()) o.context = g.context.c_str();
    if (!g.ns.empty()) o.namespace_name = g.ns.c_str();
    o.timeout_ms = 5000;  // a shell waits on it: an unreachable cluster completes nothing, soon
    o.max_retries = 0;
    nh_client *c = nullptr;
    if (nh_client_new(&c, &o) != NH_OK) return nullptr;
    return c;
}

// `nh __complete WORD... CURRENT`: the candidates for CURRENT after the words before it, one a
// line ("candidate<TAB>description"), then ":DIRECTIVE".
void complete(CLI::App &root, const std::vector<std::string> &args) {
    std::vector<std::string> words(args.begin(), args.end());
    std::string cur = words.empty() ? "" : words.back();
    if (!words.empty()) words.pop_back();

    CLI::App *app = &root;
    std::vector<std::string> path;  // the subcommands walked, e.g. {"dev", "start"}
    nh_cli::Globals g;              // the cluster flags given so far
    size_t positionals = 0;
    const CLI::Option *pending = nullptr;  // an option whose value CURRENT is
    bool dashdash = false;
    auto remember = [&g](const CLI::Option *o, const std::string &value) {
        if (o->check_name("--kubeconfig")) g.kubeconfig = value;
        if (o->check_name("--context")) g.context = value;
        if (o->check_name("--namespace")) g.ns = value;
    };
    for (const auto &w : words) {
        if (pending) {
            remember(pending, w);
            pending = nullptr;
        } else if (dashdash || app->get_prefix_command()) {
            ++positionals;
        } else if (w == "--") {
            dashdash = true;
        } else if (w.size() > 1 && w[0] == '-') {
            auto eq = w.find('=');
            const CLI::Option *o = app->get_option_no_throw(w.substr(0, eq));
            if (o && eq != std::string::npos) remember(o, w.substr(eq + 1));
            else if (o && takes_value(o)) pending = o;
        } else {
            CLI::App *sub = nullptr;
            if (positionals == 0)
                for (CLI::App *s : app->get_subcommands({}))
                    if (s->check_name(w)) sub = s;
            if (sub) {
                app = sub;
                path.push_back(sub->get_name());
            } else {
                ++positionals;
            }
        }
    }

    // CURRENT as "--flag=VALUE": the value is completed, each candidate with "--flag=" before it.
    std::string prefix;
    if (!pending && !dashdash && !app->get_prefix_command() && starts_with(cur, "-")) {
        auto eq = cur.find('=');
        if (eq != std::string::npos) {
            if (const CLI::Option *o = app->get_option_no_throw(cur.substr(0, eq)); o && takes_value(o)) {
                pending = o;
                prefix = cur.substr(0, eq + 1);
            }
        }
    }

    std::vector<std::string> cands;
    int directive = DIRECTIVE_NO_FILES;
    auto add = [&](const std::string &c, const std::string &desc = "") {
        std::string full = prefix + c;
        if (starts_with(full, cur)) cands.push_back(desc.empty() ? full : full + "\t" + desc);
    };
    if (pending) {
        auto values = choices(pending);
        if (pending->check_name("--namespace")) {
            if (nh_client *c = completion_client(g)) {
                for (const auto &n : list_names(c, "/api/v1/namespaces")) add(n);
                nh_client_free(c);
            }
        } else if (!values.empty()) {
            for (const auto &v : values) add(v);
        } else {
            directive = DIRECTIVE_DEFAULT;  // a file, a directory, or anything: the shell's own
        }
    } else if (app->get_prefix_command()) {
        directive = DIRECTIVE_DEFAULT;  // `nh sync run` parses its own arguments
    } else if (!dashdash && starts_with(cur, "-")) {
        for (const CLI::Option *o : app->get_options({})) {
            if (o->get_group().empty()) continue;
            for (const auto &l : o->get_lnames()) add("--" + l, o->get_description());
            if (cur.size() < 2 || cur[1] != '-')
                for (const auto &s : o->get_snames()) add("-" + s, o->get_description());
        }
    } else {
        if (positionals == 0 && !dashdash)
            for (const CLI::App *s : app->get_subcommands({}))
                if (!hidden(s)) add(s->get_name(), s->get_description());
        // The positional CURRENT is: the last one that takes many values stays the one.
        const CLI::Option *pos = nullptr;
        size_t i = 0;
        for (const CLI::Option *o : app->get_options({}))
            if (o->get_positional() && !o->nonpositional()) {
                if (i == positionals || (i < positionals && o->get_items_expected_max() > 1)) pos = o;
                ++i;
            }
        if (pos && pos->get_name() == "target") {
            auto slash = cur.find('/');
            if (slash == std::string::npos) {
                for (const auto &k : kinds_for(path)) add(k + "/");
                directive |= DIRECTIVE_NO_SPACE;
            } else if (nh_client *c = completion_client(g)) {
                std::string kind = nh_cli::canonical_kind(cur.substr(0, slash));
                auto kinds = kinds_for(path);
                if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end())
                    for (const auto &n : list_names(c, list_path(kind, nh_client_namespace(c))))
                        add(cur.substr(0, slash + 1) + n);
                nh_client_free(c);
            }
        } else if (pos && !choices(pos).empty()) {
            for (const auto &v : choices(pos)) add(v);
        } else if (pos) {
            directive = DIRECTIVE_DEFAULT;
        }
    }
    for (const auto &c : cands) std::printf("%s\n", c.c_str());
    std::printf(":%d\n", directive);
}

}  // namespace

void nh_cli_register_completion(CLI::App &app, nh_cli::Globals &) {
    static std::string shell;
    auto *completion = app.add_subcommand("completion", "print the shell completion script: bash, zsh or fish");
    completion->add_option("shell", shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
    completion->footer(
        "Load it in the current shell:\n"
        "  bash:  source <(nh completion bash)\n"
        "  zsh:   source <(nh completion zsh)\n"
        "  fish:  nh completion fish | source\n"
        "or for every new shell:\n"
        "  bash:  nh completion bash > ~/.local/share/bash-completion/completions/nh\n"
        "  zsh:   nh completion zsh > \"${fpath[1]}/_nh\"\n"
        "  fish:  nh completion fish > ~/.config/fish/completions/nh.fish");
    completion->callback([] {
        std::fputs(shell == "bash" ? kBash : shell == "zsh" ? kZsh : kFish, stdout);
    });

    // Hidden (no group): what the scripts call. Takes every word as it is, flags included.
    auto *helper = app.add_subcommand("__complete", "the candidates for the last word of a command line");
    helper->group("");
    helper->allow_extras();
    helper->prefix_command();
    helper->callback([helper, &app] { complete(app, helper->remaining()); });
}
