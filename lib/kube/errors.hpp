// Typed errors from the API's Status objects (apimachinery's errors.go, in spirit).
#pragma once

#include <initializer_list>
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

// `url` with its userinfo ("user:password@") replaced by "***@", for messages and logs.
// Works on URLs with or without a scheme ("host:port", "user@host").
std::string redact_url(std::string_view url);

// The "user:password" part of a URL ("" if it has none).
std::string url_userinfo(std::string_view url);

// `text` with every occurrence of each non-empty secret replaced by "***".
std::string scrub(std::string text, std::initializer_list<std::string_view> secrets);

}  // namespace nh::kube
