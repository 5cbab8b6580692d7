// Ignore rules: gitignore semantics (see gitignore(5)) for Nocalhost's
// ignoreFilePattern list, .gitignore files and .git/info/exclude, plus
// Nocalhost's filePattern include list.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "common/error.hpp"
#include "sync/local/tree.hpp"
#include "sync/local/wildmatch.hpp"

namespace nh::sync::local {
namespace {

struct Pattern {
    std::string glob;  // without '!', the leading '/' and the trailing '/'
    bool negated = false;
    bool dir_only = false;
    bool basename_only = false;  // no '/' in the pattern: matches the last component
};

// The patterns of one source, relative to `base` ("" for the root, else
// "dir/" with a trailing slash).
struct PatternList {
    std::string base;
    std::vector<Pattern> patterns;
};

enum class Verdict { None, Excluded, Included };

// gitignore(5): trailing spaces are dropped unless escaped with '\'.
std::string_view trim_trailing_spaces(std::string_view line) {
    size_t keep = line.size();
    size_t end_of_text = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            end_of_text = i + 1;
        } else if (line[i] != ' ') {
            end_of_text = i + 1;
        }
    }
    keep = end_of_text;
    return line.substr(0, keep);
}

void add_pattern(PatternList &list, std::string_view line) {
    if (line.empty() || line[0] == '#') return;
    line = trim_trailing_spaces(line);
    Pattern p;
    if (!line.empty() && line[0] == '!') {
        p.negated = true;
        line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
        p.dir_only = true;
        line.remove_suffix(1);
    }
    p.basename_only = line.find('/') == std::string_view::npos;
    if (!line.empty() && line[0] == '/') line.remove_prefix(1);
    if (line.empty()) return;
    p.glob.assign(line);
    list.patterns.push_back(std::move(p));
}

void add_patterns_from_buffer(PatternList &list, std::string_view buf) {
    while (!buf.empty()) {
        size_t nl = buf.find('\n');
        std::string_view line = buf.substr(0, nl);
        if (nl != std::string_view::npos && !line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        add_pattern(list, line);
        if (nl == std::string_view::npos) break;
        buf.remove_prefix(nl + 1);
    }
}

// Nocalhost accepted "." for everything and "./x" for a root-relative path.
std::string adapt_nocalhost(const std::string &p) {
    if (p == ".") return "**";
    if (p.starts_with("./")) return p.substr(1);
    return p;
}

bool pattern_matches(const PatternList &list, const Pattern &p, std::string_view path,
                     std::string_view basename, bool is_dir) {
    if (p.dir_only && !is_dir) return false;
    if (p.basename_only) return wildmatch(p.glob, basename);
    if (!path.starts_with(list.base)) return false;
    return wildmatch(p.glob, path.substr(list.base.size()));
}

// The last matching pattern decides, as in git.
Verdict match_list(const PatternList &list, std::string_view path, std::string_view basename,
                   bool is_dir) {
    if (!path.starts_with(list.base)) return Verdict::None;
    for (auto it = list.patterns.rbegin(); it != list.patterns.rend(); ++it) {
        if (pattern_matches(list, *it, path, basename, is_dir))
            return it->negated ? Verdict::Included : Verdict::Excluded;
    }
    return Verdict::None;
}

std::string_view basename_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view parent_of(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

// Reads a whole file without following a symlink (git does not follow
// .gitignore symlinks either). Missing or unreadable: nullopt-like false.
bool read_rule_file(const std::string &file, std::string &out) {
    int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    out.clear();
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return true;
}

}  // namespace

struct IgnoreRules::Impl {
    std::string root;
    PatternList command_line;  // ignoreFilePattern: highest precedence
    PatternList includes;      // filePattern
    PatternList info_exclude;  // .git/info/exclude: lowest precedence
    bool use_gitignore = false;

    // dir ("" for root) -> the .gitignore lists that apply inside it,
    // deepest first. Filled lazily.
    mutable std::mutex mutex;
    mutable std::unordered_map<std::string, std::shared_ptr<const std::vector<PatternList>>> chains;

    std::shared_ptr<const std::vector<PatternList>> chain_for(std::string_view dir) const {
        std::lock_guard lock(mutex);
        return chain_locked(dir);
    }

    std::shared_ptr<const std::vector<PatternList>> chain_locked(std::string_view dir) const {
        std::string key(dir);
        if (auto it = chains.find(key); it != chains.end()) return it->second;
        auto chain = std::make_shared<std::vector<PatternList>>();
        PatternList own;
        own.base = dir.empty() ? std::string() : key + "/";
        std::string text;
        std::string file = root + "/" + own.base + ".gitignore";
        if (read_rule_file(file, text)) add_patterns_from_buffer(own, text);
        if (!own.patterns.empty()) chain->push_back(std::move(own));
        if (!dir.empty()) {
            auto parent = chain_locked(parent_of(dir));
            chain->insert(chain->end(), parent->begin(), parent->end());
        }
        std::shared_ptr<const std::vector<PatternList>> result = std::move(chain);
        chains.emplace(std::move(key), result);
        return result;
    }

    bool excluded_here(std::string_view path, bool is_dir) const {
        std::string_view base = basename_of(path);
        if (is_always_ignored_name(base)) return true;
        Verdict v = match_list(command_line, path, base, is_dir);
        if (v == Verdict::None && use_gitignore) {
            auto chain = chain_for(parent_of(path));
            for (const auto &list : *chain) {
                v = match_list(list, path, base, is_dir);
                if (v != Verdict::None) break;
            }
            if (v == Verdict::None) v = match_list(info_exclude, path, base, is_dir);
        }
        if (v == Verdict::Excluded) return true;
        if (includes.patterns.empty() || is_dir) return false;
        // Included if the path or one of its directories is (deepest decides).
        Verdict inc = match_list(includes, path, base, false);
        for (std::string_view dir = parent_of(path); inc == Verdict::None && !dir.empty();
             dir = parent_of(dir))
            inc = match_list(includes, dir, basename_of(dir), true);
        return inc != Verdict::Excluded;  // "Excluded" = matched by the include list
    }
};

bool is_always_ignored_name(std::string_view name) {
    return name == ".git" || name.starts_with(kStatePrefix);
}

IgnoreRules::IgnoreRules() : impl_(std::make_shared<Impl>()) {}

IgnoreRules IgnoreRules::build(const std::string &root, const IgnoreOptions &options) {
    auto impl = std::make_shared<Impl>();
    impl->root = root;
    while (impl->root.size() > 1 && impl->root.back() == '/') impl->root.pop_back();
    for (const auto &p : options.patterns) {
        if (p.find('\0') != std::string::npos) fail(NH_EINVAL, "ignore pattern contains a NUL byte");
        add_pattern(impl->command_line, adapt_nocalhost(p));
    }
    for (const auto &p : options.include_patterns) {
        if (p.find('\0') != std::string::npos) fail(NH_EINVAL, "file pattern contains a NUL byte");
        add_pattern(impl->includes, adapt_nocalhost(p));
    }
    impl->use_gitignore = options.use_gitignore;
    if (options.use_gitignore) {
        std::string text;
        if (read_rule_file(impl->root + "/.git/info/exclude", text))
            add_patterns_from_buffer(impl->info_exclude, text);
    }
    IgnoreRules rules;
    rules.impl_ = std::move(impl);
    return rules;
}

bool IgnoreRules::ignored_in_parent(std::string_view rel_path, bool is_dir) const {
    return impl_->excluded_here(rel_path, is_dir);
}

bool IgnoreRules::ignored(std::string_view rel_path, bool is_dir) const {
    for (size_t slash = rel_path.find('/'); slash != std::string_view::npos;
         slash = rel_path.find('/', slash + 1)) {
        if (impl_->excluded_here(rel_path.substr(0, slash), true)) return true;
    }
    return impl_->excluded_here(rel_path, is_dir);
}

bool IgnoreRules::is_rule_file(std::string_view rel_path) const {
    return impl_->use_gitignore &&
           (basename_of(rel_path) == ".gitignore" || rel_path == ".git/info/exclude");
}

const std::string &IgnoreRules::root() const { return impl_->root; }

}  // namespace nh::sync::local
