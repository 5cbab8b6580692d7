#include "dev/config_render.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"

namespace nh::dev {

namespace {

constexpr int kMaxIncludeDepth = 16;
constexpr size_t kMaxRenderedSize = 8u << 20;  // an include bomb stops here

bool ident_char(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

std::string dirname_of(const std::string &path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// `rel` resolved against `dir` by its text, as nhctl does (no symlinks followed).
std::string resolve_path(const std::string &dir, const std::string &rel) {
    bool absolute = !rel.empty() && rel[0] == '/';
    std::vector<std::string> parts;
    auto push = [&](const std::string &path) {
        std::stringstream ss(path);
        std::string p;
        while (std::getline(ss, p, '/')) {
            if (p.empty() || p == ".") continue;
            if (p == ".." && !parts.empty() && parts.back() != "..")
                parts.pop_back();
            else if (p != ".." || !(absolute || (!dir.empty() && dir[0] == '/')))
                parts.push_back(p);
        }
    };
    if (!absolute) push(dir);
    push(rel);
    bool rooted = absolute || (!dir.empty() && dir[0] == '/');
    std::string out = rooted ? "/" : "";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    return out.empty() ? "." : out;
}

std::string trim(const std::string &s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Rendered lines with their origins, and the line being built.
struct Output {
    std::vector<std::string> lines;
    std::vector<SourceLine> origin;
    std::string cur;
    SourceLine cur_origin;
    size_t size = 0;

    void finish() {
        size += cur.size() + 1;
        if (size > kMaxRenderedSize)
            throw Error(NH_ECONFIG, cur_origin.file + ":" + std::to_string(cur_origin.line) +
                                        ": the rendered config exceeds 8 MiB (an include repeated too often?)");
        lines.push_back(std::move(cur));
        origin.push_back(cur_origin);
        cur.clear();
    }
};

class Renderer {
public:
    explicit Renderer(const RenderOptions &o) : o_(o) {
        if (!o.path.empty()) stack_.push_back(resolve_path(".", o.path));
    }

    // Renders `text` (the file `file`, at `path`; `dir` is "" for the top file) into `out`.
    void render(const std::string &text, const std::string &file, const std::string &path, const std::string &dir,
                Output &out) {
        int line = 1;
        out.cur_origin = {file, line, dir};
        auto fail = [&](int at, const std::string &construct, const std::string &problem) {
            std::string shown = construct.size() > 80 ? construct.substr(0, 77) + "..." : construct;
            for (auto &ch : shown)
                if (ch == '\n' || ch == '\r') ch = ' ';
            throw Error(NH_ECONFIG, file + ":" + std::to_string(at) + ": " + shown + ": " + problem);
        };
        // Appends a value; its newlines start lines of the same origin, or (advance) of the
        // following source lines, as a default written over several lines does.
        auto put = [&](const std::string &v, int from, bool advance) {
            for (char ch : v) {
                if (ch != '\n') {
                    out.cur += ch;
                    continue;
                }
                out.finish();
                if (advance) ++from;
                out.cur_origin = {file, from, dir};
            }
        };
        const size_t n = text.size();
        size_t i = 0;
        while (i < n) {
            char c = text[i];
            if (c == '\n') {
                out.finish();
                out.cur_origin = {file, ++line, dir};
                ++i;
                continue;
            }
            if (c != '$' || i + 1 >= n) {
                out.cur += c;
                ++i;
                continue;
            }
            char next = text[i + 1];
            if (next == '$') {  // `$$`: a literal `$`
                out.cur += '$';
                i += 2;
                continue;
            }
            if (next != '{') {
                size_t j = i + 1;
                while (j < n && ident_char(text[j])) ++j;
                std::string name = text.substr(i + 1, j - i - 1);
                if (name.empty() || name == "_")
                    out.cur += text.substr(i, j - i);
                else
                    put(value_of(name).value_or(""), line, false);
                i = j;
                continue;
            }
            // `${NAME<op><arg>}`
            const int at = line;
            size_t close = text.find('}', i);
            std::string construct = text.substr(i, close == std::string::npos ? std::string::npos : close + 1 - i);
            if (close == std::string::npos) fail(at, construct, "no closing '}'");
            size_t j = i + 2;
            while (j < close && ident_char(text[j])) ++j;
            std::string name = text.substr(i + 2, j - i - 2);
            if (name.empty()) fail(at, construct, "expected a variable name after '${'");
            std::string op;
            if (j < close && text[j] == ':' && j + 1 < close && std::strchr("-=+", text[j + 1]))
                op = text.substr(j, 2);
            else if (j < close && std::strchr("-=+", text[j]))
                op = text.substr(j, 1);
            else if (j < close)
                fail(at, construct,
                     "not supported (supported: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:+alt}, "
                     "${_INCLUDE_:- path | nindent N})");
            std::string arg = text.substr(j + op.size(), close - j - op.size());
            int lines_in = static_cast<int>(std::count(text.begin() + static_cast<long>(i),
                                                       text.begin() + static_cast<long>(close), '\n'));
            i = close + 1;
            if (name == "_INCLUDE_") {
                include(arg, construct, at, path, out, fail);
                line = at + lines_in;
                out.cur_origin = {file, line, dir};
                continue;
            }
            std::optional<std::string> value = value_of(name);
            bool is_default = false;
            std::string result;
            if (op.empty()) {
                result = value.value_or("");
            } else if (op == ":-" || op == ":=") {
                is_default = !value || value->empty();
            } else if (op == "-" || op == "=") {
                is_default = !value;
            } else {  // "+", ":+": the alternative when set
                is_default = value.has_value();
            }
            if (!op.empty() && !is_default) result = op.back() == '+' ? "" : *value;
            if (is_default) {
                std::string other = arg.size() > 1 && arg[0] == '$' ? arg.substr(1) : "";
                bool is_variable = !other.empty() && std::all_of(other.begin(), other.end(), ident_char);
                if (is_variable)
                    put(value_of(other).value_or(""), at, false);
                else
                    put(arg, at, true);
            } else {
                put(result, at, false);
            }
            line = at + lines_in;
        }
        if (!out.cur.empty()) out.finish();
    }

private:
    template <class Fail>
    void include(const std::string &arg, const std::string &construct, int at, const std::string &path, Output &out,
                 Fail &fail) {
        if (path.empty())
            fail(at, construct,
                 "an include is not allowed in a config read from the cluster (it would read a local file)");
        std::vector<std::string> parts(1);
        for (size_t k = 0; k < arg.size(); ++k) {
            if (arg[k] == '\\' && k + 1 < arg.size() && arg[k + 1] == '|') {
                parts.back() += '|';
                ++k;
            } else if (arg[k] == '|') {
                parts.emplace_back();
            } else {
                parts.back() += arg[k];
            }
        }
        if (parts.size() > 2) fail(at, construct, "more than one '|' (write a '|' of the path as '\\|')");
        std::string file = trim(parts[0]);
        if (file.empty()) fail(at, construct, "no file named (expected ${_INCLUDE_:- path | nindent N})");
        size_t indent = 0;
        if (parts.size() == 2) {
            std::stringstream ss(parts[1]);
            std::vector<std::string> words;
            for (std::string w; ss >> w;) words.push_back(w);
            if (!words.empty()) {
                bool ok = words.size() == 2 && words[0] == "nindent" && words[1].size() <= 4 &&
                          words[1].find_first_not_of("0123456789") == std::string::npos;
                if (!ok) fail(at, construct, "'|" + parts[1] + "' is not supported (only '| nindent N', N >= 0)");
                indent = std::stoul(words[1]);
            }
        }
        const std::string resolved = resolve_path(dirname_of(path), file);
        if (std::find(stack_.begin(), stack_.end(), resolved) != stack_.end()) {
            std::string chain;
            for (const auto &s : stack_) chain += s + " -> ";
            fail(at, construct, "include cycle: " + chain + resolved);
        }
        if (stack_.size() > kMaxIncludeDepth) fail(at, construct, "includes nested deeper than 16 files");
        struct stat st {};
        if (::stat(resolved.c_str(), &st) != 0)
            fail(at, construct, "cannot read '" + resolved + "': " + std::strerror(errno));
        if (!S_ISREG(st.st_mode)) fail(at, construct, "cannot read '" + resolved + "': not a regular file");
        if (static_cast<size_t>(st.st_size) > kMaxRenderedSize)
            fail(at, construct, "'" + resolved + "' is larger than 8 MiB");
        std::ifstream in(resolved, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        if (!in) fail(at, construct, "cannot read '" + resolved + "'");
        Output sub;
        sub.size = out.size;
        stack_.push_back(resolved);
        render(ss.str(), resolved, resolved, dirname_of(resolved), sub);
        stack_.pop_back();
        // As nhctl: the included lines start on a line of their own, indented as asked, and
        // what follows the include on its line comes after them.
        out.finish();
        const std::string pad(indent, ' ');
        for (size_t k = 0; k < sub.lines.size(); ++k) {
            out.cur = sub.lines[k].empty() ? std::string() : pad + sub.lines[k];
            out.cur_origin = sub.origin[k];
            out.finish();
        }
    }

    std::optional<std::string> value_of(const std::string &name) const {
        return o_.lookup ? o_.lookup(name) : std::nullopt;
    }

    const RenderOptions &o_;
    std::vector<std::string> stack_;
};

}  // namespace

std::string RenderedConfig::where(long i) const {
    if (i >= 0 && static_cast<size_t>(i) < origin.size())
        return origin[static_cast<size_t>(i)].file + ":" + std::to_string(origin[static_cast<size_t>(i)].line);
    return origin.empty() ? std::string("?") : origin.back().file + ":" + std::to_string(origin.back().line);
}

RenderedConfig render_nocalhost_template(const std::string &text, const RenderOptions &o) {
    Renderer r(o);
    Output out;
    r.render(text, o.file, o.path, "", out);
    RenderedConfig rc;
    for (size_t k = 0; k < out.lines.size(); ++k) {
        rc.text += out.lines[k];
        rc.text += '\n';
    }
    rc.origin = std::move(out.origin);
    return rc;
}

std::string template_env_file(const std::string &text) {
    std::stringstream ss(text);
    bool in_properties = false;
    for (std::string line; std::getline(ss, line);) {
        std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        if (line[0] != ' ' && line[0] != '\t') {
            in_properties = line.rfind("configProperties:", 0) == 0;
            continue;
        }
        if (in_properties && t.rfind("envFile:", 0) == 0) {
            std::string v = trim(t.substr(8));
            if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'') && v.back() == v[0]) v = v.substr(1, v.size() - 2);
            return v;
        }
    }
    return {};
}

}  // namespace nh::dev
