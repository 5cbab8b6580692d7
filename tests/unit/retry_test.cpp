#include "kube/retry.hpp"

#include <gtest/gtest.h>

using nh::kube::Attempt;
using nh::kube::RetryPolicy;
using namespace std::chrono_literals;

TEST(Retry, IdempotentMethodsRetryOn5xxAndResets) {
    RetryPolicy p(3, 100ms, 1s);
    Attempt a{"GET", 503, false, true, {}};
    EXPECT_TRUE(p.next(1, a).has_value());
    a.method = "POST";
    EXPECT_FALSE(p.next(1, a).has_value());
    Attempt reset{"DELETE", 0, true, true, {}};
    EXPECT_TRUE(p.next(1, reset).has_value());
    reset.method = "PATCH";
    EXPECT_FALSE(p.next(1, reset).has_value());
    reset.request_sent = false;  // never left: safe for any method
    EXPECT_TRUE(p.next(1, reset).has_value());
}

TEST(Retry, TooManyRequestsHonoursRetryAfterForAnyMethod) {
    RetryPolicy p(3, 100ms, 1s);
    Attempt a{"POST", 429, false, true, 7};
    EXPECT_EQ(p.next(1, a), std::optional<std::chrono::milliseconds>(7000ms));
    a.retry_after_s = 1000;  // capped
    EXPECT_EQ(p.next(1, a), std::optional<std::chrono::milliseconds>(60000ms));
}

TEST(Retry, BackoffGrowsAndIsCapped) {
    RetryPolicy p(10, 100ms, 800ms);
    Attempt a{"GET", 500, false, true, {}};
    for (int i = 1; i <= 10; ++i) {
        auto d = p.next(i, a);
        ASSERT_TRUE(d);
        long long expected_max = std::min(100LL << (i - 1), 800LL);
        EXPECT_LE(d->count(), expected_max);
        EXPECT_GE(d->count(), expected_max / 2);
    }
    EXPECT_FALSE(p.next(11, a).has_value());
}

TEST(Retry, ClientErrorsAreNeverRetried) {
    RetryPolicy p;
    for (int s : {400, 401, 403, 404, 409, 422, 501}) {
        Attempt a{"GET", s, false, true, {}};
        EXPECT_FALSE(p.next(1, a).has_value()) << s;
    }
}

TEST(Retry, ParseRetryAfter) {
    EXPECT_EQ(nh::kube::parse_retry_after(" 3\r\n"), 3);
    EXPECT_FALSE(nh::kube::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
    EXPECT_FALSE(nh::kube::parse_retry_after("-1").has_value());
}

TEST(Retry, ARestartingServerIsWaitedForBeyondTheRetryCount) {
    RetryPolicy p(2, 100ms, 8s, 30s);
    Attempt refused{"POST", 0, true, false, {}};
    refused.server_answered_before = true;
    refused.unreachable_for = 10s;
    for (int retry : {1, 3, 50}) {
        auto d = p.next(retry, refused);
        ASSERT_TRUE(d) << retry;
        EXPECT_LE(d->count(), 1000) << "looks again at least every second while riding out";
    }
    refused.unreachable_for = 30s;  // waited long enough
    EXPECT_FALSE(p.next(3, refused).has_value());
    refused.unreachable_for = 1s;
    refused.server_answered_before = false;  // never reached: the count applies
    EXPECT_FALSE(p.next(3, refused).has_value());
    refused.server_answered_before = true;
    refused.request_sent = true;  // may have reached it: not repeated blindly
    EXPECT_FALSE(p.next(3, refused).has_value());
    EXPECT_FALSE(RetryPolicy(0).next(1, Attempt{"GET", 0, true, false, {}, true, 1s}).has_value())
        << "no retries means none";
}
