// Nocalhost's config templates, rendered before the YAML is read, as nhctl renders them:
//
//  - `$NAME`, `${NAME}`: the variable's value ("" when unset); `$$` is a literal `$`;
//  - `${NAME:-default}` / `${NAME:=default}`: the default when NAME is unset or empty,
//    `${NAME-default}` / `${NAME=default}`: when it is unset, `${NAME:+alt}` / `${NAME+alt}`:
//    alt when it is set; a default of the form `$OTHER` is that variable's value;
//  - `${_INCLUDE_:- path | nindent N}`: the rendered text of another file, on lines of its own,
//    each indented by N spaces (`| nindent N` may be left out; `\|` is a `|` in the path).
//    A relative path is resolved against the directory of the file holding the include.
//
// Anything else inside `${...}` is an error naming the file, the line and the construct.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nh::dev {

// Where a line of the rendered text came from.
struct SourceLine {
    std::string file;  // as named in errors: the top file's name, or an included file's path
    int line = 0;      // 1-based
    std::string dir;   // the directory of an included file; "" for the top file
};

struct RenderedConfig {
    std::string text;
    std::vector<SourceLine> origin;  // origin[i]: line i (0-based) of text

    // "file:line" of 0-based line `i` of text.
    std::string where(long i) const;
};

// A variable's value, or nullopt when it is unset.
using VariableLookup = std::function<std::optional<std::string>(const std::string &name)>;

struct RenderOptions {
    std::string file;  // the text's name in errors
    // The text's own path, against whose directory relative includes are resolved; "": the text
    // was read from the cluster, and an include is an error (it would name a file of whoever runs
    // the start, chosen by whoever can write the workload).
    std::string path;
    VariableLookup lookup;  // null: every variable is unset
};

// Throws NH_ECONFIG naming the file, the line and the construct.
RenderedConfig render_nocalhost_template(const std::string &text, const RenderOptions &o);

// configProperties.envFile of a config text as nhctl finds it before rendering (an indented
// `envFile:` line under a top-level `configProperties:`), or "".
std::string template_env_file(const std::string &text);

}  // namespace nh::dev
