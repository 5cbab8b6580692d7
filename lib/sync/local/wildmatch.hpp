// Glob matching with git's wildmatch semantics for '/'-separated paths:
// '*' and '?' and '[...]' never match '/', '**' between slashes (or at an
// end) matches any number of directories, '\' escapes the next character.
#pragma once

#include <string_view>

namespace nh::sync::local {

bool wildmatch(std::string_view pattern, std::string_view text);

}  // namespace nh::sync::local
