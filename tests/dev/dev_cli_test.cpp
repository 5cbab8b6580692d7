// `nh dev start/status/list/end` as a user runs them: output and exit codes.
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

TEST_F(DevTest, CliStartStatusListEnd) {
    create(sample_deployment("web", 3));
    wait_ready(Kind::Deployment, "web", 3);
    json original = get(Kind::Deployment, "web");

    CliRun r = cli("dev start deployment/web --image registry.example/dev:1 -c app --timeout 60s -e DEBUG=1");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("is in dev mode"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("[wait]"), std::string::npos) << "progress lines: " << r.out;

    r = cli("dev status deployment/web -o json");
    ASSERT_EQ(r.code, 0) << r.out;
    json st = json::parse(r.out);
    EXPECT_EQ(st["dev_mode"], true);
    EXPECT_EQ(st["pod"]["ready"], true);

    r = cli("dev status deployment/web");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("dev mode replace, active"), std::string::npos) << r.out;

    r = cli("dev list");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("deployment/web"), std::string::npos) << r.out;

    r = cli("dev start deployment/web --image x -c app --owner someone-else");
    EXPECT_EQ(r.code, 5) << r.out;  // EXIT_CONFLICT: busy
    EXPECT_NE(r.out.find("already in dev mode"), std::string::npos) << r.out;

    r = cli("dev end deployment/web");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("restored"), std::string::npos) << r.out;
    expect_restored(Kind::Deployment, "web", original);

    r = cli("dev end deployment/web");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("not in dev mode"), std::string::npos) << r.out;

    EXPECT_EQ(cli("dev start deployment/missing --image x").code, 3);  // EXIT_NOT_FOUND
    EXPECT_EQ(cli("dev start web --image x").code, 2);                 // EXIT_USAGE
    EXPECT_EQ(cli("dev start daemonset/x --image x").code, 3);
    EXPECT_EQ(cli("dev list -o json").out, "[]\n");
}
