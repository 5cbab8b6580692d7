#include "common/base64.hpp"

#include <openssl/evp.h>

#include <cctype>

namespace nh::base64 {

std::string encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(data.data()),
                            static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> decode(std::string_view text) {
    std::string clean;
    clean.reserve(text.size());
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
    if (clean.empty()) return std::string();
    if (clean.size() % 4 != 0) return std::nullopt;
    std::string out(clean.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(clean.data()),
                            static_cast<int>(clean.size()));
    if (n < 0) return std::nullopt;
    size_t pad = (clean.back() == '=') + (clean[clean.size() - 2] == '=');
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

}  // namespace nh::base64
