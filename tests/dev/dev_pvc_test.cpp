// persistentVolumeDirs as PersistentVolumeClaims on the test cluster: binding to a
// PersistentVolume we create (kwok has no provisioner), reuse on the next start, `nh dev pvc
// list|delete`, and the error when no PersistentVolume binds.
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

class DevPvcTest : public DevTest {
protected:
    void TearDown() override {
        for (const auto &pv : pvs) {
            try {
                kube->remove("/api/v1/persistentvolumes/" + pv);
            } catch (const std::exception &) {
            }
        }
        DevTest::TearDown();
    }

    // A hostPath PersistentVolume of its own storage class, for one claim to bind.
    void create_pv(const std::string &name, const std::string &storage_class) {
        kube->create("/api/v1/persistentvolumes",
                     {{"apiVersion", "v1"},
                      {"kind", "PersistentVolume"},
                      {"metadata", {{"name", name}, {"labels", {{"nh-test", "pvc"}}}}},
                      {"spec",
                       {{"capacity", {{"storage", "1Gi"}}},
                        {"accessModes", {"ReadWriteOnce"}},
                        {"persistentVolumeReclaimPolicy", "Retain"},
                        {"storageClassName", storage_class},
                        {"hostPath", {{"path", "/tmp/" + name}}}}}});
        pvs.push_back(name);
    }

    json list_claims() {
        CliRun r = cli("dev pvc list -o json");
        EXPECT_EQ(r.code, 0) << r.out;
        json j = json::parse(r.out, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << r.out;
        return j.is_discarded() ? json::array() : j;
    }

    std::vector<std::string> pvs;
};

TEST_F(DevPvcTest, ClaimBindsOutlivesDevModeAndIsDeletedByCli) {
    const std::string cls = "nh-test-pvc-" + nh::random_hex(3);
    create_pv(cls + "-pv", cls);
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");

    std::string dirs = R"([{"path":"/root/.cache","capacity":"1Gi","storageClass":")" + cls + R"("}])";
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:1";
    o.container = "app";
    o.timeout_ms = 90000;
    o.persistent_dirs_json = dirs.c_str();
    EventLog log;
    o.events = EventLog::cb;
    o.payload = &log;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message << log.dump();
    nh_session_free(s);
    EXPECT_TRUE(log.has_phase("pvc")) << log.dump();

    // The dev pod mounts the claim at the dir.
    json tpl = get(Kind::Deployment, "web")["spec"]["template"]["spec"];
    json claims = json::array();
    for (const auto &v : tpl.value("volumes", json::array()))
        if (v.contains("persistentVolumeClaim")) claims.push_back(v["persistentVolumeClaim"]["claimName"]);
    ASSERT_EQ(claims.size(), 1u) << tpl.dump();
    const std::string claim = claims[0];

    json l = list_claims();
    ASSERT_EQ(l.size(), 1u) << l.dump();
    EXPECT_EQ(l[0]["name"], claim);
    EXPECT_EQ(l[0]["namespace"], ns);
    EXPECT_EQ(l[0]["path"], "/root/.cache");
    EXPECT_EQ(l[0]["capacity"], "1Gi");
    EXPECT_EQ(l[0]["storage_class"], cls);
    EXPECT_EQ(l[0]["phase"], "Bound");
    EXPECT_EQ(l[0]["workload"], "Deployment/web");

    CliRun r = cli("dev pvc list deployment/web");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(claim), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/root/.cache"), std::string::npos) << r.out;
    r = cli("dev pvc list deployment/other -o json");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(json::parse(r.out, nullptr, false), json::array()) << r.out;

    // Ending dev mode restores the workload and keeps the claim; the next start reuses it.
    int res = -1;
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "web", original);
    ASSERT_EQ(list_claims().size(), 1u);

    EventLog again;
    o.events = EventLog::cb;
    o.payload = &again;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message << again.dump();
    nh_session_free(s);
    EXPECT_NE(again.dump().find("reusing PersistentVolumeClaim " + claim), std::string::npos) << again.dump();
    json l2 = list_claims();
    ASSERT_EQ(l2.size(), 1u) << l2.dump();
    EXPECT_EQ(l2[0]["name"], claim);
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "web", original);

    // Deleting: an unknown claim is an error naming it; a known one goes.
    r = cli("dev pvc delete no-such-claim");
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("no-such-claim"), std::string::npos) << r.out;
    r = cli("dev pvc delete");
    EXPECT_NE(r.code, 0) << r.out;
    r = cli("dev pvc delete " + claim);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("persistentvolumeclaim/" + claim + " deleted"), std::string::npos) << r.out;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (exists("/api/v1/namespaces/" + ns + "/persistentvolumeclaims/" + claim) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_FALSE(exists("/api/v1/namespaces/" + ns + "/persistentvolumeclaims/" + claim));
    EXPECT_EQ(list_claims(), json::array());
}

TEST_F(DevPvcTest, DeleteAllOfAWorkloadThroughCApi) {
    const std::string cls = "nh-test-pvc-" + nh::random_hex(3);
    create_pv(cls + "-a", cls);
    create_pv(cls + "-b", cls);
    create(sample_deployment("api", 1));
    wait_ready(Kind::Deployment, "api", 1);
    json original = get(Kind::Deployment, "api");
    std::string dirs = R"([{"path":"/a","capacity":"1Gi","storageClass":")" + cls + R"("},{"path":"/b","capacity":"1Gi","storageClass":")" +
                       cls + R"("}])";
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:1";
    o.container = "app";
    o.timeout_ms = 90000;
    o.persistent_dirs_json = dirs.c_str();
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "api", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    int res = -1;
    ASSERT_EQ(nh_dev_end(&res, client, "deployment", "api", nullptr), NH_OK) << nh_error_last()->message;
    expect_restored(Kind::Deployment, "api", original);

    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_pvc_list(&b, client, "deployment", "api", nullptr), NH_OK) << nh_error_last()->message;
    json l = json::parse(b.ptr);
    nh_buf_dispose(&b);
    ASSERT_EQ(l.size(), 2u) << l.dump();
    // By dir, then the rest.
    ASSERT_EQ(nh_dev_pvc_delete(&b, client, "deployment", "api", "/a", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(json::parse(b.ptr).size(), 1u) << b.ptr;
    nh_buf_dispose(&b);
    EXPECT_EQ(nh_dev_pvc_delete(&b, client, "deployment", "api", "/nope", nullptr), NH_ENOTFOUND);
    CliRun r = cli("dev pvc delete --workload deployment/api");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(" deleted"), std::string::npos) << r.out;
}

TEST_F(DevPvcTest, NoPersistentVolumeBindsIsAClearErrorAndRollsBack) {
    const std::string cls = "nh-test-nopv-" + nh::random_hex(3);
    create(sample_deployment("web", 1));
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    std::string dirs = R"([{"path":"/data","capacity":"1Gi","storageClass":")" + cls + R"("}])";
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:1";
    o.container = "app";
    o.timeout_ms = 6000;
    o.persistent_dirs_json = dirs.c_str();
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "web", &o), NH_ETIMEOUT) << nh_error_last()->message;
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("/data"), std::string::npos) << msg;
    EXPECT_NE(msg.find(cls), std::string::npos) << msg;
    EXPECT_NE(msg.find("no PersistentVolume binds"), std::string::npos) << msg;
    expect_restored(Kind::Deployment, "web", original);
}

TEST_F(DevPvcTest, CustomKindClaimsAreListedAndDeletedByNameAndByDir) {
    const std::string cls = "nh-test-pvc-" + nh::random_hex(3);
    create_pv(cls + "-a", cls);
    create_pv(cls + "-b", cls);
    nh::dev::WorkloadKind k = rollout_kind();
    json original = create_rollout("canary", 2);
    std::string dirs = R"([{"path":"/cache","capacity":"1Gi","storageClass":")" + cls +
                       R"("},{"path":"/data","capacity":"1Gi","storageClass":")" + cls + R"("}])";
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.image = "registry.example/dev:1";
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 90000;
    o.persistent_dirs_json = dirs.c_str();
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "rollouts.argoproj.io", "canary", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    int res = -1;
    ASSERT_EQ(nh_dev_end(&res, client, "rollouts.argoproj.io", "canary", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(nh::dev::clean_object(kube->get(nh::dev::workload_path(k, ns, "canary"))), nh::dev::clean_object(original));

    // Listed with a workload the CLI and the C API take back as a kind.
    json l = list_claims();
    ASSERT_EQ(l.size(), 2u) << l.dump();
    std::string by_name, by_dir;
    for (const auto &c : l) {
        EXPECT_EQ(c["workload"], "rollouts.argoproj.io/canary") << c.dump();
        (c["path"] == "/cache" ? by_name : by_dir) = c["name"];
    }
    ASSERT_FALSE(by_name.empty());
    ASSERT_FALSE(by_dir.empty());
    CliRun r = cli("dev pvc list rollouts.argoproj.io/canary -o json");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(json::parse(r.out, nullptr, false).size(), 2u) << r.out;

    // By name, the workload found from the listing.
    r = cli("dev pvc delete " + by_name);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("persistentvolumeclaim/" + by_name + " deleted"), std::string::npos) << r.out;
    // By dir, through the C API.
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_pvc_delete(&b, client, "rollouts.argoproj.io", "canary", "/data", nullptr), NH_OK)
        << nh_error_last()->message;
    EXPECT_EQ(json::parse(b.ptr), json::array({by_dir})) << b.ptr;
    nh_buf_dispose(&b);
    for (const auto &claim : {by_name, by_dir}) {
        const std::string p = "/api/v1/namespaces/" + ns + "/persistentvolumeclaims/" + claim;
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (exists(p) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        EXPECT_FALSE(exists(p)) << claim;
    }
    EXPECT_EQ(list_claims(), json::array());
}

}  // namespace
