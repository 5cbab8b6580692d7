// The Kubernetes vocabulary of lib/kube/objects: label selectors as a query
// takes them, conditions, and when a pod counts as Running and as Ready.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "common/random.hpp"
#include "kube/objects.hpp"

using nh::kube::json;

TEST(Objects, SelectorTextHasEveryOperatorAndRefusesAnUnknownOne) {
    auto sel = json::parse(R"({"matchLabels":{"app":"web","tier":"backend"},"matchExpressions":[
        {"key":"zone","operator":"In","values":["a","b"]},{"key":"env","operator":"NotIn","values":["prod"]},
        {"key":"canary","operator":"Exists"},{"key":"legacy","operator":"DoesNotExist"}]})");
    EXPECT_EQ(nh::kube::selector_text(sel), "app=web,tier=backend,zone in (a,b),env notin (prod),canary,!legacy");
    EXPECT_EQ(nh::kube::selector_text(json::object()), "");
    EXPECT_EQ(nh::kube::selector_text(json()), "");
    auto bad = json::parse(R"({"matchExpressions":[{"key":"x","operator":"Gt","values":["1"]}]})");
    try {
        nh::kube::selector_text(bad);
        FAIL() << "an unknown operator must be refused";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EINVAL);
        EXPECT_NE(std::string(e.what()).find("'Gt'"), std::string::npos) << e.what();
    }
}

TEST(Objects, WorkloadSelectorReadsSpecSelector) {
    auto d = json::parse(R"({"spec":{"selector":{"matchLabels":{"app":"web"}}}})");
    EXPECT_EQ(nh::kube::workload_selector(d), "app=web");
    EXPECT_EQ(nh::kube::workload_selector(json::parse(R"({"spec":{}})")), "");
}

TEST(Objects, RunningAndReadyFollowClientGo) {
    auto pod = [](const char *phase, const char *ready, bool deleting) {
        json p = {{"metadata", {{"name", "p"}}}, {"status", {{"phase", phase}}}};
        if (ready) p["status"]["conditions"] = json::array({{{"type", "PodScheduled"}, {"status", "True"}},
                                                             {{"type", "Ready"}, {"status", ready}}});
        if (deleting) p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
        return p;
    };
    EXPECT_TRUE(nh::kube::pod_running(pod("Running", "True", false)));
    EXPECT_TRUE(nh::kube::pod_ready(pod("Running", "True", false)));
    EXPECT_FALSE(nh::kube::pod_running(pod("Running", "True", true))) << "a pod being deleted is not used";
    EXPECT_FALSE(nh::kube::pod_running(pod("Pending", nullptr, false)));
    EXPECT_FALSE(nh::kube::pod_ready(pod("Running", "False", false)));
    EXPECT_FALSE(nh::kube::pod_ready(pod("Running", nullptr, false))) << "no Ready condition: not ready";
    EXPECT_FALSE(nh::kube::pod_running(json("not an object")));
    const json running = pod("Running", "True", false);
    const json *c = nh::kube::condition(running, "PodScheduled");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ((*c)["status"], "True");
    const json pending = pod("Pending", nullptr, false);
    EXPECT_EQ(nh::kube::condition(pending, "Ready"), nullptr);
}

TEST(Random, HexTokensHaveTheirLengthAndDiffer) {
    std::string a = nh::random_hex(16), b = nh::random_hex(16);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
    EXPECT_NE(a, b);
    EXPECT_EQ(nh::random_hex(0), "");
}
