// The pure parts of dev mode: kinds, cleaning, the dev-mode transformation.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "dev/session.hpp"
#include "dev/workload.hpp"
#include "kube/objects.hpp"
#include "dev_fixture.hpp"

using namespace nh::dev;
using nh::test::sample_deployment;

TEST(DevSpec, ParsesKinds) {
    EXPECT_EQ(parse_kind("deploy"), Kind::Deployment);
    EXPECT_EQ(parse_kind("Deployments.apps"), Kind::Deployment);
    EXPECT_EQ(parse_kind("sts"), Kind::StatefulSet);
    EXPECT_EQ(parse_kind("cj"), Kind::CronJob);
    EXPECT_EQ(parse_kind("jobs.batch"), Kind::Job);
    EXPECT_EQ(parse_kind("ds"), Kind::DaemonSet);
    EXPECT_EQ(parse_kind("rs"), Kind::ReplicaSet);
    EXPECT_EQ(parse_kind("po"), Kind::Pod);
    EXPECT_EQ(parse_kind("rollouts.argoproj.io"), Kind::Custom);
    auto k = nh::dev::parse_workload_kind("rollouts.argoproj.io");
    EXPECT_EQ(k.resource, "rollouts");
    EXPECT_EQ(k.template_path, "/spec/template");
    EXPECT_EQ(nh::dev::parse_workload_kind("cronjob").template_path, "/spec/jobTemplate/spec/template");
    try {
        parse_kind("gizmo");
        FAIL();
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EINVAL);
    }
}

TEST(DevSpec, CleanDropsServerFields) {
    json d = sample_deployment("web", 3);
    d["metadata"]["uid"] = "u";
    d["metadata"]["resourceVersion"] = "5";
    d["metadata"]["generation"] = 2;
    d["metadata"]["managedFields"] = json::array();
    d["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z";
    d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3";
    d["status"] = {{"replicas", 3}};
    json c = clean_object(d);
    EXPECT_EQ(c, sample_deployment("web", 3));
}

TEST(DevSpec, LongNamesGetAHashedSessionName) {
    std::string n(250, 'a');
    std::string s = session_object_name(Kind::Deployment, n);
    EXPECT_LE(s.size(), 253u);
    EXPECT_NE(s, session_object_name(Kind::Deployment, n + "b"));
    EXPECT_EQ(session_object_name(Kind::StatefulSet, "db"), "nh-dev-statefulset-db");
}

TEST(DevSpec, ReusesAnExistingMountAtTheWorkDir) {
    json d = sample_deployment("web", 3);
    d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = {{{"name", "src"}, {"mountPath", "/src"}}};
    d["spec"]["template"]["spec"]["volumes"] = {{{"name", "src"}, {"emptyDir", json::object()}}};
    DevSpec s;
    s.container = "app";
    s.image = "dev";
    s.workdir = "/src";
    s.sidecar_image = "side";
    s.session_id = "id";
    s.secret_name = "sec";
    json w = apply_dev_spec(d, Kind::Deployment, s);
    EXPECT_EQ(w["spec"]["template"]["spec"]["volumes"].size(), 1u);
    EXPECT_EQ(w["spec"]["template"]["spec"]["containers"][2]["volumeMounts"][0]["name"], "src");
    EXPECT_EQ(nh::kube::workload_selector(w), "app=web");
}
