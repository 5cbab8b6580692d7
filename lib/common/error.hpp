// The one exception type of the core. Its code is an nh_error_code; the
// C ABI turns it into a return value and nh_error_last().
#pragma once

#include <stdexcept>
#include <string>

#include "nocalhost.h"

namespace nh {

class Error : public std::runtime_error {
public:
    Error(int code, const std::string &message, int http_status = 0, std::string reason = {})
        : std::runtime_error(message), code_(code), http_status_(http_status),
          reason_(std::move(reason)) {}

    int code() const noexcept { return code_; }
    int http_status() const noexcept { return http_status_; }
    const std::string &reason() const noexcept { return reason_; }

private:
    int code_;
    int http_status_;
    std::string reason_;
};

[[noreturn]] inline void fail(int code, const std::string &message) { throw Error(code, message); }

}  // namespace nh
