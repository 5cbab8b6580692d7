// Requests for objects that may not exist: a GET that answers nothing for NotFound, a DELETE
// for which NotFound means done.
#pragma once

#include <optional>
#include <string>

#include "common/error.hpp"
#include "kube/client.hpp"

namespace nh::kube {

inline std::optional<json> get_optional(Client &c, const std::string &path, CancelToken *cancel) {
    try {
        return c.get(path, cancel);
    } catch (const Error &e) {
        if (e.code() == NH_ENOTFOUND) return std::nullopt;
        throw;
    }
}

inline void remove_optional(Client &c, const std::string &path, CancelToken *cancel) {
    try {
        c.remove(path, cancel);
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND) throw;
    }
}

}  // namespace nh::kube
