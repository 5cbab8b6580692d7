// Local mode's dev pod spec and the parsing of its options (unit; the real-node tests are in
// local_real_test.cpp).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "dev/session.hpp"
#include "dev/workload.hpp"
#include "loop/traffic.hpp"

using namespace nh::dev;
using nh::loop::parse_service_forward;
using nh::loop::service_env_prefix;

namespace {

json web() {
    return json::parse(R"({
      "apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "namespace": "ns"},
      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
          "spec": {
            "initContainers": [{"name": "migrate", "image": "app:1"}],
            "containers": [
              {"name": "app", "image": "app:1", "ports": [{"name": "http", "containerPort": 8080},
                                                           {"containerPort": 9090, "protocol": "TCP"}],
               "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}}},
              {"name": "metrics", "image": "exporter:1", "ports": [{"name": "metrics", "containerPort": 9100}]}]}}}})");
}

DevSpec local_spec() {
    DevSpec s;
    s.container = "app";
    s.image = "app:1";
    s.workdir = "/home/nocalhost-dev";
    s.session_id = "abc";
    s.secret_name = "nh-dev-deployment-web";
    s.local = true;
    return s;
}

}  // namespace

TEST(LocalModeSpec, ThePodRunsOnlyTheSidecarWhichDeclaresEveryPortWithItsNameAndKeepsTheLabels) {
    json dev = apply_dev_spec(web(), Kind::Deployment, local_spec());
    const json &tpl = dev["spec"]["template"];
    EXPECT_EQ(tpl["metadata"]["labels"], web()["spec"]["template"]["metadata"]["labels"]);
    EXPECT_FALSE(tpl["spec"].contains("initContainers"));
    ASSERT_EQ(tpl["spec"]["containers"].size(), 1u);
    const json &sc = tpl["spec"]["containers"][0];
    EXPECT_EQ(sc["name"], kSidecarName);
    EXPECT_EQ(sc["image"], "app:1");  // the bootstrap runs from the given image
    EXPECT_FALSE(sc.contains("readinessProbe"));
    EXPECT_EQ(sc["ports"], json::parse(R"([
      {"name": "nh-sync", "containerPort": 7710, "protocol": "TCP"},
      {"name": "http", "containerPort": 8080, "protocol": "TCP"},
      {"containerPort": 9090, "protocol": "TCP"},
      {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}])"));
    EXPECT_EQ(dev["spec"]["replicas"], 1);
}

TEST(LocalModeSpec, AnAppPortOnTheSidecarsTunnelPortIsRefused) {
    json w = web();
    w["spec"]["template"]["spec"]["containers"][0]["ports"][1]["containerPort"] = 7711;
    try {
        apply_dev_spec(w, Kind::Deployment, local_spec());
        FAIL() << "no error";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EINVAL);
        EXPECT_NE(std::string(e.what()).find("7711"), std::string::npos) << e.what();
    }
}

TEST(LocalModeOptions, PortsAndServiceForwardsParseOrFailClearly) {
    EXPECT_EQ(parse_local_port("8080").port, 8080);
    EXPECT_EQ(parse_local_port("8080").local, 8080);
    EXPECT_EQ(parse_local_port("8080:3000").local, 3000);
    for (const char *bad : {"", "x", "0", "8080:", ":3000", "70000", "8080:3000:1"})
        EXPECT_THROW(parse_local_port(bad), nh::Error) << bad;

    auto f = parse_service_forward("svc/my-db:5432");
    EXPECT_EQ(f.service, "my-db");
    EXPECT_EQ(f.port, 5432);
    EXPECT_EQ(f.local, 5432);
    EXPECT_EQ(parse_service_forward("service/cache:6379:16379").local, 16379);
    EXPECT_EQ(parse_service_forward("svc/cache:6379:0").local, 0);
    for (const char *bad : {"db:5432", "deploy/db:5432", "svc/db", "svc/:80", "svc/db:0", "svc/db:x"})
        EXPECT_THROW(parse_service_forward(bad), nh::Error) << bad;
    EXPECT_EQ(service_env_prefix("my-db"), "MY_DB");
}
