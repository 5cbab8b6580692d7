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
    // The existing volume is shared; the only one added is the sidecar's own.
    ASSERT_EQ(w["spec"]["template"]["spec"]["volumes"].size(), 2u);
    EXPECT_EQ(w["spec"]["template"]["spec"]["volumes"][1]["name"], "nh-sidecar");
    EXPECT_EQ(w["spec"]["template"]["spec"]["containers"][2]["volumeMounts"][0]["name"], "src");
    EXPECT_EQ(nh::kube::workload_selector(w), "app=web");
}

TEST(DevSpec, WithoutASidecarImageTheSidecarRunsTheBootstrapOfTheDevImage) {
    json d = sample_deployment("web", 3);
    DevSpec s;
    s.container = "app";
    s.image = "dev";
    s.workdir = "/home/nocalhost-dev";
    s.session_id = "id";
    s.secret_name = "sec";
    json w = apply_dev_spec(d, Kind::Deployment, s);
    const json &ps = w["spec"]["template"]["spec"];
    const json &side = ps["containers"].back();
    ASSERT_EQ(side["name"], "nh-sync");
    EXPECT_EQ(side["image"], "dev");
    std::vector<std::string> cmd = side["command"];
    ASSERT_GE(cmd.size(), 4u);
    EXPECT_EQ(cmd[0], "/bin/sh");
    EXPECT_EQ(cmd[2], sidecar_bootstrap());
    EXPECT_EQ(std::vector<std::string>(cmd.begin() + 3, cmd.end()),
              (std::vector<std::string>{"nh-sidecar", "--root", "/home/nocalhost-dev", "--listen", "0.0.0.0:7710",
                                        "--state-dir", "/nh-sidecar/state"}));
    // The sidecar's own volume is mounted in the sidecar only.
    EXPECT_EQ(side["volumeMounts"][1], json({{"name", "nh-sidecar"}, {"mountPath", "/nh-sidecar"}}));
    for (const auto &m : ps["containers"][0]["volumeMounts"]) EXPECT_NE(m["name"], "nh-sidecar");
    // A base image with a shell replaces the dev image for the bootstrap only.
    s.sidecar_base_image = "busybox";
    EXPECT_EQ(apply_dev_spec(d, Kind::Deployment, s)["spec"]["template"]["spec"]["containers"].back()["image"], "busybox");
    // What dev mode added goes with its marks.
    json tpl = w["spec"]["template"];
    strip_dev_marks(tpl);
    EXPECT_FALSE(tpl["spec"].contains("volumes")) << tpl.dump();
}

TEST(DevSpec, AMissingShellGetsAHintNamingTheWaysOut) {
    std::string hint = missing_shell_hint(
        "container app: RunContainerError: ... exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown");
    EXPECT_NE(hint.find("--sidecar-image"), std::string::npos) << hint;
    EXPECT_NE(hint.find("--sidecar-base-image"), std::string::npos) << hint;
    EXPECT_EQ(missing_shell_hint("container app: ImagePullBackOff: not found"), "");
}
