// Typed errors from the API's Status objects (apimachinery's errors.go, in spirit).
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace nh::kube {

// The nh_error_code for a Kubernetes Status reason and HTTP status.
int code_for_status(std::string_view reason, int http_status);

// The error for a non-2xx answer: the server's message, reason and status, and
// what was asked ("GET /api/v1/..."), never credentials.
Error status_error(int http_status, const std::string &body, const std::string &method,
                   const std::string &path);

}  // namespace nh::kube
