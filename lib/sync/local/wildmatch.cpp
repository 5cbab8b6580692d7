#include "sync/local/wildmatch.hpp"

#include <cctype>
#include <cstring>

namespace nh::sync::local {
namespace {

enum Result { kMatch, kNoMatch, kAbortAll, kAbortToStarStar };

bool in_class(std::string_view name, unsigned char c) {
    if (name == "alnum") return std::isalnum(c);
    if (name == "alpha") return std::isalpha(c);
    if (name == "blank") return c == ' ' || c == '\t';
    if (name == "cntrl") return std::iscntrl(c);
    if (name == "digit") return std::isdigit(c);
    if (name == "graph") return std::isgraph(c);
    if (name == "lower") return std::islower(c);
    if (name == "print") return std::isprint(c);
    if (name == "punct") return std::ispunct(c);
    if (name == "space") return std::isspace(c);
    if (name == "upper") return std::isupper(c);
    if (name == "xdigit") return std::isxdigit(c);
    return false;
}

// Matches a bracket expression starting just after '['. On success sets
// `end` to the index after the closing ']'. Returns -1 for a malformed
// expression (no closing bracket), which makes the whole match fail as git does.
int match_bracket(std::string_view p, size_t &i, unsigned char c) {
    bool negated = false;
    if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
        negated = true;
        ++i;
    }
    bool matched = false;
    unsigned char prev = 0;
    bool first = true;
    for (;; first = false) {
        if (i >= p.size()) return -1;
        unsigned char pc = static_cast<unsigned char>(p[i]);
        if (pc == ']' && !first) {
            ++i;
            break;
        }
        if (pc == '\\') {
            if (++i >= p.size()) return -1;
            pc = static_cast<unsigned char>(p[i]);
            if (pc == c) matched = true;
            prev = pc;
            ++i;
        } else if (pc == '-' && prev && i + 1 < p.size() && p[i + 1] != ']') {
            ++i;
            unsigned char hi = static_cast<unsigned char>(p[i]);
            if (hi == '\\') {
                if (++i >= p.size()) return -1;
                hi = static_cast<unsigned char>(p[i]);
            }
            if (prev <= c && c <= hi) matched = true;
            prev = 0;
            ++i;
        } else if (pc == '[' && i + 1 < p.size() && p[i + 1] == ':') {
            size_t close = p.find(']', i + 2);
            if (close == std::string_view::npos) return -1;
            if (close == i + 2 || p[close - 1] != ':') {
                // Not a class: a literal '['.
                if (pc == c) matched = true;
                prev = pc;
                ++i;
                continue;
            }
            std::string_view name = p.substr(i + 2, close - 1 - (i + 2));
            static constexpr std::string_view kClasses[] = {
                "alnum", "alpha", "blank", "cntrl", "digit", "graph",
                "lower", "print", "punct", "space", "upper", "xdigit"};
            bool known = false;
            for (auto k : kClasses) known = known || k == name;
            if (!known) return -1;  // git: a malformed class never matches
            if (in_class(name, c)) matched = true;
            prev = 0;
            i = close + 1;
        } else {
            if (pc == c) matched = true;
            prev = pc;
            ++i;
        }
    }
    return matched != negated ? 1 : 0;
}

Result do_match(std::string_view p, std::string_view t) {
    size_t i = 0, j = 0;
    for (; i < p.size(); ++i, ++j) {
        char pc = p[i];
        if (j >= t.size() && pc != '*') return kAbortAll;
        switch (pc) {
        case '\\':
            if (++i >= p.size()) return kAbortAll;  // trailing backslash never matches
            if (t[j] != p[i]) return kNoMatch;
            break;
        case '?':
            if (t[j] == '/') return kNoMatch;
            break;
        case '[': {
            ++i;
            int r = match_bracket(p, i, static_cast<unsigned char>(t[j]));
            if (r < 0) return kAbortAll;
            if (r == 0 || t[j] == '/') return kNoMatch;
            --i;  // the loop increments
            break;
        }
        case '*': {
            size_t star_begin = i;
            bool match_slash = false;
            if (i + 1 < p.size() && p[i + 1] == '*') {
                while (i + 1 < p.size() && p[i + 1] == '*') ++i;
                bool at_start = star_begin == 0 || p[star_begin - 1] == '/';
                bool at_end = i + 1 == p.size() || p[i + 1] == '/';
                if (at_start && at_end) {
                    match_slash = true;
                    // "**/" may match no directory at all.
                    if (i + 1 < p.size() && p[i + 1] == '/') {
                        Result r = do_match(p.substr(i + 2), t.substr(j));
                        if (r == kMatch) return kMatch;
                    }
                }
            }
            ++i;
            if (i == p.size()) {
                // Trailing star: matches the rest unless it holds a '/'.
                if (!match_slash && t.substr(j).find('/') != std::string_view::npos)
                    return kNoMatch;
                return kMatch;
            }
            if (!match_slash && p[i] == '/') {
                size_t slash = t.find('/', j);
                if (slash == std::string_view::npos) return kNoMatch;
                j = slash;
                break;  // the loop steps over the '/' in both
            }
            for (;; ++j) {
                Result r = do_match(p.substr(i), t.substr(j));
                if (r != kNoMatch) {
                    if (!match_slash || r != kAbortToStarStar) return r;
                }
                if (j >= t.size()) return kAbortAll;
                if (!match_slash && t[j] == '/') return kAbortToStarStar;
            }
        }
        default:
            if (t[j] != pc) return kNoMatch;
            break;
        }
    }
    return j == t.size() ? kMatch : kNoMatch;
}

}  // namespace

bool wildmatch(std::string_view pattern, std::string_view text) {
    return do_match(pattern, text) == kMatch;
}

}  // namespace nh::sync::local
