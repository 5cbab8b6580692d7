// Base64 through OpenSSL's EVP block codec.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nh::base64 {

std::string encode(std::string_view data);
// Whitespace is skipped; nullopt when the text is not valid base64.
std::optional<std::string> decode(std::string_view text);

}  // namespace nh::base64
