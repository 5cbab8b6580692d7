// The pure parts of dev mode: kinds, cleaning, the dev-mode transformation.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "dev/image_check.hpp"
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

TEST(DevSpec, TheImageCheckPodRunsTheDevPodsImagesWhereAndAsTheDevPodWould) {
    json d = sample_deployment("web", 2);
    auto &tpl = d["spec"]["template"]["spec"];
    tpl["nodeSelector"] = {{"disk", "ssd"}};
    tpl["tolerations"] = json::array({{{"key", "dedicated"}, {"operator", "Exists"}}});
    tpl["imagePullSecrets"] = json::array({{{"name", "regcred"}}});
    tpl["serviceAccountName"] = "builder";
    tpl["securityContext"] = {{"runAsNonRoot", true}};
    tpl["containers"][0]["securityContext"] = {{"allowPrivilegeEscalation", false}};
    tpl["containers"][0]["env"] = json::array({{{"name", "PASSWORD"}, {"value", "hunter2"}}});
    DevSpec s;
    s.container = "app";
    s.image = "registry.example/dev:1";
    s.workdir = "/work";
    s.session_id = "abc";
    s.secret_name = "nh-dev-deployment-web";
    s.image_pull_policy = "Always";
    json dev = apply_dev_spec(d, Kind::Deployment, s)["spec"]["template"]["spec"];

    // The dev image also runs the sidecar's bootstrap: one container checks it.
    json pod = image_check_pod(dev, s, "ns1", "deployment/web", 90);
    const json &ps = pod["spec"];
    EXPECT_EQ(pod["metadata"]["namespace"], "ns1");
    EXPECT_EQ(pod["metadata"]["labels"][kRoleLabel], "image-check");
    EXPECT_EQ(ps["restartPolicy"], "Never");
    EXPECT_EQ(ps["activeDeadlineSeconds"], 90);
    EXPECT_EQ(ps["automountServiceAccountToken"], false);
    for (const char *key : {"nodeSelector", "tolerations", "imagePullSecrets", "serviceAccountName", "securityContext"})
        EXPECT_EQ(ps[key], tpl[key]) << key;
    ASSERT_EQ(ps["containers"].size(), 1u) << ps.dump();
    const json &c = ps["containers"][0];
    EXPECT_EQ(c["image"], "registry.example/dev:1");
    EXPECT_EQ(c["command"], json({"/bin/sh", "-c", "exit 0"}));
    EXPECT_EQ(c["imagePullPolicy"], "Always");
    EXPECT_EQ(c["securityContext"], tpl["containers"][0]["securityContext"]);
    // Nothing the check does not need: no env (values may be secrets), no volumes, no ports.
    EXPECT_FALSE(c.contains("env"));
    EXPECT_FALSE(ps.contains("volumes"));
    EXPECT_EQ(pod.dump().find("hunter2"), std::string::npos);

    // A base image for the bootstrap is checked too.
    s.sidecar_base_image = "busybox:1";
    dev = apply_dev_spec(d, Kind::Deployment, s)["spec"]["template"]["spec"];
    pod = image_check_pod(dev, s, "ns1", "deployment/web", 90);
    ASSERT_EQ(pod["spec"]["containers"].size(), 2u);
    EXPECT_EQ(pod["spec"]["containers"][1]["image"], "busybox:1");
    EXPECT_EQ(pod["spec"]["containers"][1]["command"], json({"/bin/sh", "-c", "exit 0"}));

    // A sidecar image must run nhsyncd.
    s.sidecar_base_image.clear();
    s.sidecar_image = "registry.example/nhsyncd:1";
    dev = apply_dev_spec(d, Kind::Deployment, s)["spec"]["template"]["spec"];
    pod = image_check_pod(dev, s, "ns1", "deployment/web", 90);
    ASSERT_EQ(pod["spec"]["containers"].size(), 2u);
    EXPECT_EQ(pod["spec"]["containers"][1]["command"], json({"nhsyncd", "--version"}));
}

TEST(DevSpec, TheImageCheckTellsAPullFailureANoShellAndASidecarWithoutNhsyncd) {
    DevSpec s;
    s.image = "registry.example/dev:1";
    auto status = [](json state) { return json{{"name", "app"}, {"state", std::move(state)}}; };
    for (json fine : {json{{"waiting", {{"reason", "ContainerCreating"}}}}, json{{"running", json::object()}},
                      json{{"terminated", {{"exitCode", 0}}}}}) {
        ImageCheckFailure f = image_check_failure(status(fine), s, false);
        EXPECT_EQ(f.code, NH_OK) << fine.dump();
        EXPECT_EQ(f.message, "") << fine.dump();
    }

    ImageCheckFailure pull_failure = image_check_failure(
        status({{"waiting", {{"reason", "ErrImagePull"}, {"message", "dial tcp: lookup registry.example"}}}}), s, false);
    EXPECT_EQ(pull_failure.code, NH_ERROR);
    const std::string &pull = pull_failure.message;
    EXPECT_NE(pull.find("cannot pull the dev image registry.example/dev:1 (ErrImagePull: dial tcp"), std::string::npos)
        << pull;

    ImageCheckFailure shell_failure = image_check_failure(
        status({{"terminated",
                 {{"exitCode", 128},
                  {"reason", "StartError"},
                  {"message", "exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown"}}}}),
        s, false);
    EXPECT_EQ(shell_failure.code, NH_EINVAL);
    const std::string &shell = shell_failure.message;
    EXPECT_NE(shell.find("the dev image registry.example/dev:1 cannot start: the image has no shell"), std::string::npos)
        << shell;
    EXPECT_NE(shell.find("--sidecar-base-image"), std::string::npos) << shell;

    s.sidecar_image = "registry.example/nhsyncd:1";
    ImageCheckFailure side_failure = image_check_failure(
        status({{"terminated", {{"exitCode", 128}, {"reason", "StartError"}, {"message", "exec: \"nhsyncd\": not found"}}}}),
        s, true);
    EXPECT_EQ(side_failure.code, NH_EINVAL);
    const std::string &side = side_failure.message;
    EXPECT_NE(side.find("the sidecar image registry.example/nhsyncd:1 does not run `nhsyncd --version`"), std::string::npos)
        << side;
    EXPECT_EQ(image_check_failure(status({{"terminated", {{"exitCode", 0}}}}), s, true).code, NH_OK);
}
