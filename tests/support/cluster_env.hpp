// Access to the test cluster for integration tests. A missing cluster is a
// failure, not a skip, unless NH_SKIP_CLUSTER_TESTS=1 says so explicitly.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace nh::test {

inline std::string cluster_env(const char *name) {
    const char *v = std::getenv(name);
    return v ? v : "";
}

#define NH_REQUIRE_CLUSTER(var)                                                                  \
    do {                                                                                         \
        if (::nh::test::cluster_env("NH_SKIP_CLUSTER_TESTS") == "1")                             \
            GTEST_SKIP() << "NH_SKIP_CLUSTER_TESTS=1";                                           \
        ASSERT_FALSE(::nh::test::cluster_env(var).empty())                                       \
            << var << " is not set: start the test cluster with scripts/test-cluster up and "   \
            << "source <(scripts/test-cluster env), or set NH_SKIP_CLUSTER_TESTS=1";            \
    } while (0)

}  // namespace nh::test
