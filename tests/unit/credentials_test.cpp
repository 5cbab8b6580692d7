#include "kube/credentials.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

using nh::kube::parse_exec_credential;

TEST(ExecCredential, ParsesTokenAndExpiry) {
    auto r = parse_exec_credential(
        R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"abc","expirationTimestamp":"2030-01-02T03:04:05Z"}})",
        "client.authentication.k8s.io/v1", "p");
    EXPECT_EQ(r.credential.bearer_token, "abc");
    ASSERT_TRUE(r.expires);
    EXPECT_EQ(std::chrono::system_clock::to_time_t(*r.expires), 1893553445);
}

TEST(ExecCredential, RejectsWrongApiVersionAndEmptyStatus) {
    EXPECT_THROW(parse_exec_credential(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"a"}})",
                                       "client.authentication.k8s.io/v1", "p"),
                 nh::Error);
    EXPECT_THROW(parse_exec_credential(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
                                       "client.authentication.k8s.io/v1", "p"),
                 nh::Error);
    EXPECT_THROW(parse_exec_credential("not json", "client.authentication.k8s.io/v1", "p"), nh::Error);
}

TEST(ExecCredential, Rfc3339WithOffsetsAndFractions) {
    auto a = nh::kube::parse_rfc3339("2030-01-02T03:04:05.123456Z");
    auto b = nh::kube::parse_rfc3339("2030-01-02T05:04:05+02:00");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_FALSE(nh::kube::parse_rfc3339("yesterday"));
}

TEST(ExecCredential, FailingPluginShowsStderrAndInstallHint) {
    nh::kube::ExecConfig e;
    e.command = "sh";
    e.args = {"-c", "echo 'no login session' >&2; exit 3"};
    e.api_version = "client.authentication.k8s.io/v1";
    e.install_hint = "run: cloud-login";
    try {
        nh::kube::run_exec_plugin(e, "https://x", "");
        FAIL();
    } catch (const nh::Error &err) {
        std::string m = err.what();
        EXPECT_NE(m.find("exit code 3"), std::string::npos) << m;
        EXPECT_NE(m.find("no login session"), std::string::npos) << m;
        EXPECT_NE(m.find("cloud-login"), std::string::npos) << m;
    }
    e.command = "/nonexistent/plugin";
    try {
        nh::kube::run_exec_plugin(e, "https://x", "");
        FAIL();
    } catch (const nh::Error &err) {
        EXPECT_EQ(err.code(), NH_ECONFIG);
    }
}

TEST(ExecCredential, PluginSeesExecInfo) {
    nh::kube::ExecConfig e;
    e.command = "sh";
    e.args = {"-c",
              "case \"$KUBERNETES_EXEC_INFO\" in *'\"server\":\"https://srv\"'*) t=ok;; *) t=missing;; esac; "
              "echo \"{\\\"apiVersion\\\":\\\"client.authentication.k8s.io/v1\\\",\\\"kind\\\":\\\"ExecCredential\\\",\\\"status\\\":{\\\"token\\\":\\\"$t$FOO\\\"}}\""};
    e.env = {{"FOO", "-bar"}};
    e.api_version = "client.authentication.k8s.io/v1";
    e.provide_cluster_info = true;
    auto r = nh::kube::run_exec_plugin(e, "https://srv", "");
    EXPECT_EQ(r.credential.bearer_token, "ok-bar");
}
