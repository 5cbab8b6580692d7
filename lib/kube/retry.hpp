// When to retry a request and how long to wait (client-go's with_retry.go, in spirit).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace nh::kube {

struct Attempt {
    std::string_view method;
    int http_status = 0;         // 0: no answer
    bool transport_error = false;
    bool request_sent = false;   // false: the connection failed before anything was sent
    std::optional<int> retry_after_s;
    // For a request that never left: the server has answered this client before
    // (so it exists and is likely restarting), and how long this request has been
    // unable to reach it.
    bool server_answered_before = false;
    std::chrono::milliseconds unreachable_for{0};
};

class RetryPolicy {
public:
    // `outage`: how long a server that answered before may refuse connections (an API
    // server restarting, a control plane failing over) before a request gives up; the
    // count of retries does not bound that wait, so that a restart taking longer than
    // the backoff of `max_retries` attempts does not fail a multi-step operation
    // half-way. A server never reached fails after `max_retries` as before.
    explicit RetryPolicy(int max_retries = 5,
                         std::chrono::milliseconds base = std::chrono::milliseconds(200),
                         std::chrono::milliseconds cap = std::chrono::seconds(8),
                         std::chrono::milliseconds outage = std::chrono::seconds(60))
        : max_retries_(max_retries), base_(base), cap_(cap), outage_(outage) {}

    static bool idempotent(std::string_view method);

    // The delay before retry number `retry` (1-based) after `a`, or nullopt not to retry.
    std::optional<std::chrono::milliseconds> next(int retry, const Attempt &a) const;

    int max_retries() const { return max_retries_; }

private:
    int max_retries_;
    std::chrono::milliseconds base_;
    std::chrono::milliseconds cap_;
    std::chrono::milliseconds outage_;
};

// Parses a Retry-After header value given in seconds; HTTP dates are not used by the API server.
std::optional<int> parse_retry_after(std::string_view value);

}  // namespace nh::kube
