// `nh_dev_env()` against the test cluster's API server: a workload in dev mode is read as it was
// before, a kind with no pod to read gives the template's fields and says what it left out, and
// the errors a user meets. The comparison with a real container is tests/realpods/env_real_test.cpp.
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

json dev_env(nh_client *c, const char *kind, const char *name, const char *container, int *rc = nullptr) {
    nh_dev_env_options o = NH_DEV_ENV_OPTIONS_INIT;
    o.container = container;
    nh_buf b = NH_BUF_INIT;
    int r = nh_dev_env(&b, c, kind, name, &o);
    if (rc) *rc = r;
    json j = r == NH_OK ? json::parse(std::string(b.ptr, b.size)) : json();
    nh_buf_dispose(&b);
    return j;
}

const json *var(const json &resolved, const std::string &name) {
    for (const auto &e : resolved["env"])
        if (e["name"] == name) return &e;
    return nullptr;
}

}  // namespace

TEST_F(DevTest, EnvOfAWorkloadInDevModeIsItsOriginals) {
    json d = sample_deployment("web", 1);
    d["spec"]["template"]["spec"]["containers"][0]["env"].push_back({{"name", "WHERE"}, {"value", "$(MODE)-ns"}});
    create(d);
    wait_ready(Kind::Deployment, "web", 1);

    int rc = 0;
    dev_env(client, "deployment", "web", nullptr, &rc);
    EXPECT_EQ(rc, NH_EINVAL) << "two containers and none chosen";
    EXPECT_NE(std::string(nh_error_last()->message).find("proxy"), std::string::npos) << nh_error_last()->message;

    json before = dev_env(client, "deployment", "web", "app", &rc);
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message;
    ASSERT_NE(var(before, "WHERE"), nullptr) << before.dump();
    EXPECT_EQ((*var(before, "WHERE"))["value"], "prod-ns");

    const char *env[] = {"DEBUG=1", "MODE=dev"};
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.container = "app";
    o.image = "registry.example/dev:1";
    o.env = env;
    o.env_count = 2;
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);

    json during = dev_env(client, "deployment", "web", "app", &rc);
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message;
    EXPECT_EQ(during["env"], before["env"]) << "dev mode's own settings are not the container's: " << during.dump();
    EXPECT_EQ(var(during, "DEBUG"), nullptr);
    EXPECT_NE(during["notes"].dump().find("dev mode"), std::string::npos) << during.dump();
    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}

TEST_F(DevTest, EnvOfAKindWithoutAPodToReadSaysWhatIsLeftOut) {
    json tpl = simple_template("batch");
    tpl["metadata"]["annotations"] = {{"note", "from the template"}};
    tpl["spec"]["restartPolicy"] = "Never";
    tpl["spec"]["containers"][0]["env"] = {
        {{"name", "NS"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
        {{"name", "NOTE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.annotations['note']"}}}}}},
        {{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
        {{"name", "GREETING"}, {"value", "hello $(POD)"}},
        {{"name", "CPU"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "requests.cpu"}, {"divisor", "1m"}}}}}},
        {{"name", "OPT"}, {"valueFrom", {{"configMapKeyRef", {{"name", "absent"}, {"key", "k"}, {"optional", true}}}}}}};
    tpl["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "1500m"}}}};
    create({{"apiVersion", "batch/v1"},
            {"kind", "CronJob"},
            {"metadata", {{"name", "nightly"}}},
            {"spec", {{"schedule", "0 0 1 1 *"}, {"jobTemplate", {{"spec", {{"template", tpl}}}}}}}});
    int rc = 0;
    json j = dev_env(client, "cronjob", "nightly", nullptr, &rc);
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message;
    EXPECT_TRUE(j["pod"].is_null());
    EXPECT_EQ((*var(j, "NS"))["value"], ns);
    EXPECT_EQ((*var(j, "NOTE"))["value"], "from the template");
    EXPECT_FALSE(var(j, "POD")->contains("value"));
    EXPECT_TRUE(var(j, "POD")->contains("unresolved"));
    EXPECT_TRUE(var(j, "GREETING")->contains("unresolved")) << "a value expanded from what is unknown is unknown";
    EXPECT_EQ((*var(j, "CPU"))["value"], "1500") << "the request defaults to the limit";
    EXPECT_EQ(var(j, "OPT"), nullptr);

    // A required ConfigMap that does not exist: the kubelet would not start the container.
    tpl["spec"]["containers"][0]["envFrom"] = {{{"configMapRef", {{"name", "settings"}}}}};
    create({{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", "once"}}}, {"spec", {{"template", tpl}}}});
    dev_env(client, "job", "once", nullptr, &rc);
    EXPECT_EQ(rc, NH_ENOTFOUND);
    EXPECT_NE(std::string(nh_error_last()->message).find("configmap \"settings\""), std::string::npos)
        << nh_error_last()->message;
    dev_env(client, "deployment", "nothing-here", nullptr, &rc);
    EXPECT_EQ(rc, NH_ENOTFOUND);
}
