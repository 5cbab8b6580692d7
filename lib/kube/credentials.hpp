// Credentials resolved per request, in client-go's order: a token file (re-read
// at most once a minute and after a 401; the static token stands in when the
// file cannot be read) or a static token; else basic auth; else, unless a
// client certificate is configured, an exec plugin whose ExecCredential is
// cached until it expires (and dropped when the server answers 401).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "kube/kubeconfig.hpp"

namespace nh::kube {

struct Credential {
    std::string bearer_token;     // may be empty
    std::string basic_username;   // basic auth, when there is no bearer token
    std::string basic_password;
    std::string client_cert_pem;  // from an exec plugin, overrides the kubeconfig's
    std::string client_key_pem;
};

// The result of running an exec plugin's output through the ExecCredential rules.
struct ExecResult {
    Credential credential;
    std::optional<std::chrono::system_clock::time_point> expires;
};

// Parses an ExecCredential JSON document. Throws nh::Error(NH_ECONFIG) naming the plugin.
ExecResult parse_exec_credential(const std::string &json, const std::string &expected_api_version,
                                 const std::string &plugin);

// Runs the plugin and parses its output. Throws with the plugin's stderr and install hint.
ExecResult run_exec_plugin(const ExecConfig &exec, const std::string &server,
                           const std::string &ca_pem);

// Parses an RFC 3339 timestamp such as 2026-11-27T12:00:00Z.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string &s);

class CredentialSource {
public:
    explicit CredentialSource(const RestConfig &cfg) : cfg_(cfg) {}

    // The credential to use now (runs the exec plugin when the cache is empty or expired).
    Credential get();

    // The server said 401: forget cached plugin output so the next get() runs it again.
    // Returns true if retrying could help.
    bool invalidate();

private:
    const RestConfig &cfg_;
    std::mutex mu_;
    std::optional<ExecResult> exec_cache_;
    std::string file_token_;
    std::chrono::steady_clock::time_point file_read_at_{};
};

}  // namespace nh::kube
