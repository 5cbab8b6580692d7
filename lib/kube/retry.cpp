#include "kube/retry.hpp"

#include <algorithm>
#include <charconv>
#include <random>

namespace nh::kube {

bool RetryPolicy::idempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS";
}

std::optional<std::chrono::milliseconds> RetryPolicy::next(int retry, const Attempt &a) const {
    // Riding out an outage: connections refused by a server that answered before.
    const bool outage = max_retries_ > 0 && a.transport_error && !a.request_sent && a.server_answered_before &&
                        a.unreachable_for < outage_;
    if (retry > max_retries_ && !outage) return std::nullopt;
    bool retryable = false;
    if (a.transport_error) {
        // A request that never left can always be sent again; one that may have reached
        // the server only when repeating it is harmless.
        retryable = !a.request_sent || idempotent(a.method);
    } else if (a.http_status == 429) {
        retryable = true;  // the server refused it before doing anything
    } else if (a.http_status >= 500 && a.http_status != 501) {
        retryable = idempotent(a.method) || a.retry_after_s.has_value();
    }
    if (!retryable) return std::nullopt;
    if (a.retry_after_s) {
        int s = *a.retry_after_s;
        if (s < 0) s = 0;
        if (s > 60) s = 60;
        return std::chrono::milliseconds(s * 1000LL);
    }
    // Exponential backoff with full jitter in [d/2, d].
    // While riding out an outage, look again at least every second: the server is
    // back as soon as it listens.
    const long long cap = outage ? std::min<long long>(cap_.count(), 1000) : cap_.count();
    long long d = base_.count();
    for (int i = 1; i < retry && d < cap; ++i) d *= 2;
    if (d > cap) d = cap;
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<long long> dist(d / 2, d);
    return std::chrono::milliseconds(dist(rng));
}

std::optional<int> parse_retry_after(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
    int s = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (ec != std::errc() || p != v.data() + v.size() || s < 0) return std::nullopt;
    return s;
}

}  // namespace nh::kube
