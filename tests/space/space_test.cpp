// Dev spaces on the test cluster, checked with real requests made with the developer's own
// kubeconfig: what it may do in its space and nowhere else, the quota, share, renew with
// revocation, the missing rights named, an adopted namespace left as it was, and delete
// leaving nothing.
#include <sys/stat.h>

#include <fstream>

#include "dev_fixture.hpp"
#include "error_code.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

json parse(nh_buf &b) {
    json j = json::parse(b.ptr ? b.ptr : "null");
    nh_buf_dispose(&b);
    return j;
}

class SpaceTest : public ::testing::Test {
protected:
    void SetUp() override {
        NH_DEV_REQUIRE_CLUSTER();
        kubeconfig = env_or_empty("NH_TEST_KUBECONFIG");
        kube = kube_client(kubeconfig);
        space = "nh-space-" + nh::random_hex(4);
        ASSERT_GT(nh_init(), 0);
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        o.kubeconfig = kubeconfig.c_str();
        ASSERT_EQ(nh_client_new(&admin, &o), NH_OK) << nh_error_last()->message;
    }

    void TearDown() override {
        for (auto *c : clients) nh_client_free(c);
        if (admin) {
            nh_space_delete(admin, space.c_str(), nullptr);  // whatever a failed test left
            nh_client_free(admin);
            nh_shutdown();
        }
    }

    // Creates the space for `developer`; the access object.
    json create(const std::string &developer, nh_space_options o = NH_SPACE_OPTIONS_INIT) {
        o.developer = developer.c_str();
        nh_buf out = NH_BUF_INIT;
        int rc = nh_space_create(&out, admin, space.c_str(), &o);
        EXPECT_EQ(rc, NH_OK) << nh_error_last()->message;
        return rc == NH_OK ? parse(out) : json();
    }

    // A client from an access object's kubeconfig text, as a developer would use it.
    nh_client *as(const json &access) {
        const std::string text = access.value("kubeconfig", "");
        nh_client *c = nullptr;
        EXPECT_EQ(nh_client_new_from_data(&c, text.c_str(), text.size(), nullptr), NH_OK) << nh_error_last()->message;
        if (c) clients.push_back(c);
        return c;
    }

    // The status of a raw request made with `c`.
    int request(nh_client *c, const char *method, const std::string &path, const std::string &body = "") {
        nh_request_options r = NH_REQUEST_OPTIONS_INIT;
        r.method = method;
        r.path = path.c_str();
        if (!body.empty()) r.body = body.c_str();
        nh_buf out = NH_BUF_INIT;
        int status = 0;
        nh_client_request(&out, &status, c, &r);
        nh_buf_dispose(&out);
        return status;
    }

    // The status once a token is refused: the API server caches a token's authentication
    // for 10 s, so a revoked one works that much longer at most.
    int refused(nh_client *c, const std::string &path) {
        int status = 0;
        for (int i = 0; i < 150 && (status = request(c, "GET", path)) != 401; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return status;
    }

    bool exists(const std::string &path) {
        try {
            kube->get(path);
            return true;
        } catch (const nh::Error &e) {
            if (e.code() == NH_ENOTFOUND) return false;
            throw;
        }
    }

    void wait_namespace_gone(const std::string &name) {
        for (int i = 0; i < 600 && exists("/api/v1/namespaces/" + name); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }

    std::string kubeconfig;
    std::shared_ptr<nh::kube::Client> kube;
    std::string space;
    nh_client *admin = nullptr;
    std::vector<nh_client *> clients;
};

TEST_F(SpaceTest, ADevelopersKubeconfigWorksInTheSpaceAndIsRefusedEverywhereElse) {
    json access = create("alice@example.com");
    ASSERT_FALSE(access.is_null());
    EXPECT_EQ(access["service_account"], "nh-alice-example-com");
    EXPECT_EQ(access["namespace"], space);
    EXPECT_FALSE(access.value("expires", "").empty());
    EXPECT_EQ(access["kubeconfig"].get<std::string>().find(kube->config().client_key_pem.substr(0, 40)),
              std::string::npos)
        << "the admin's credentials leaked into the developer's kubeconfig";

    // What the space is made of, each labelled as the space's.
    json ns = kube->get("/api/v1/namespaces/" + space);
    EXPECT_EQ(ns["metadata"]["labels"]["dev.nocalhost.io/space"], space);
    EXPECT_EQ(ns["metadata"]["annotations"]["dev.nocalhost.io/space-owner"], "alice@example.com");
    json role = kube->get("/apis/rbac.authorization.k8s.io/v1/namespaces/" + space + "/roles/nocalhost-dev");
    EXPECT_EQ(role["metadata"]["labels"]["dev.nocalhost.io/space"], space);

    nh_client *alice = as(access);
    ASSERT_NE(alice, nullptr);
    nh_buf who = NH_BUF_INIT;
    ASSERT_EQ(nh_client_check(&who, alice, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(parse(who)["user"]["username"], "system:serviceaccount:" + space + ":nh-alice-example-com");

    // In the space: dev mode started and ended on the admin's workload with the developer's rights
    // only. The space grants dev mode's rights and not more: a Deployment may be made (duplicate
    // mode's copy is one), a StatefulSet or a Service may not.
    json web = sample_deployment("web", 2);
    kube->create("/apis/apps/v1/namespaces/" + space + "/deployments", web);
    EXPECT_EQ(request(alice, "POST", "/apis/apps/v1/namespaces/" + space + "/statefulsets",
                      sample_statefulset("db", 1).dump()),
              403);
    EXPECT_EQ(request(alice, "POST", "/api/v1/namespaces/" + space + "/services",
                      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}})"),
              403);
    const std::string web_path = "/apis/apps/v1/namespaces/" + space + "/deployments/web";
    for (int i = 0; i < 300; ++i) {
        json w = kube->get(web_path);
        if (w.value("status", json::object()).value("readyReplicas", 0) == 2) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    json original = kube->get(web_path);
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.namespace_name = space.c_str();
    o.container = "app";
    o.image = "registry.example/golang-dev:1.22";
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, alice, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    nh_dev_end_options e = NH_DEV_END_OPTIONS_INIT;
    e.namespace_name = space.c_str();
    int result = 0;
    ASSERT_EQ(nh_dev_end(&result, alice, "deployment", "web", &e), NH_OK) << nh_error_last()->message;
    json restored = kube->get(web_path);
    EXPECT_EQ(nh::dev::clean_object(restored), nh::dev::clean_object(original));

    // Everywhere else: refused by the API server itself.
    EXPECT_EQ(request(alice, "GET", "/api/v1/namespaces/default/pods"), 403);
    EXPECT_EQ(request(alice, "POST", "/apis/apps/v1/namespaces/default/deployments", sample_deployment("x", 1).dump()), 403);
    EXPECT_EQ(request(alice, "GET", "/api/v1/nodes"), 403);
    EXPECT_EQ(request(alice, "GET", "/api/v1/namespaces/" + space + "/resourcequotas"), 403)
        << "a developer must not read (or change) the quota the admin set";
    EXPECT_EQ(request(alice, "DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/" + space + "/roles/nocalhost-dev"), 403);
}

TEST_F(SpaceTest, TheQuotaRefusesAPodThatAsksTooMuchAndGivesDefaultsToOneThatAsksNothing) {
    nh_space_options o = NH_SPACE_OPTIONS_INIT;
    o.cpu = "1";
    o.memory = "1Gi";
    o.pods = 2;
    json access = create("bob", o);
    nh_client *bob = as(access);
    ASSERT_NE(bob, nullptr);
    const std::string pods = "/api/v1/namespaces/" + space + "/pods";
    auto pod = [](const std::string &name, const json &resources) {
        json container = {{"name", "app"}, {"image", "registry.example/app:1.0"}};
        if (!resources.is_null()) container["resources"] = resources;
        return json{{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", name}}},
                    {"spec", {{"containers", json::array({container})}}}};
    };
    json greedy = pod("greedy", {{"requests", {{"cpu", "2"}}}, {"limits", {{"cpu", "2"}}}});
    EXPECT_EQ(request(bob, "POST", pods, greedy.dump()), 403) << "a pod over the space's CPU quota was admitted";

    json modest = pod("modest", nullptr);
    // The quota controller publishes the quota's usage shortly after it is made; until then a
    // pod is refused with "status unknown", as on any cluster.
    int status = 0;
    for (int i = 0; i < 100 && (status = request(bob, "POST", pods, modest.dump())) == 403; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(status, 201);
    json admitted = kube->get(pods + "/modest");
    const json res = admitted["spec"]["containers"][0]["resources"];
    // A quarter of the quota each, so a dev pod's two containers and a second pod fit.
    EXPECT_EQ(res["limits"]["cpu"], "250m");
    EXPECT_EQ(res["requests"]["cpu"], "100m");
    EXPECT_EQ(res["limits"]["memory"], "256Mi");
    EXPECT_EQ(res["requests"]["memory"], "128Mi");
    modest["metadata"]["name"] = "second";
    EXPECT_EQ(request(bob, "POST", pods, modest.dump()), 201);
    modest["metadata"]["name"] = "third";
    EXPECT_EQ(request(bob, "POST", pods, modest.dump()), 403) << "a third pod over the space's pod quota was admitted";
}

TEST_F(SpaceTest, ShareRenewWithRevocationAndRemovingAccess) {
    json alice_access = create("alice");
    nh_client *alice_old = as(alice_access);
    ASSERT_NE(alice_old, nullptr);
    const std::string cms = "/api/v1/namespaces/" + space + "/configmaps";
    ASSERT_EQ(request(alice_old, "GET", cms), 200);

    nh_space_options o = NH_SPACE_OPTIONS_INIT;
    o.developer = "bob";
    nh_buf out = NH_BUF_INIT;
    ASSERT_EQ(nh_space_share(&out, admin, space.c_str(), &o), NH_OK) << nh_error_last()->message;
    nh_client *bob = as(parse(out));
    ASSERT_NE(bob, nullptr);
    EXPECT_EQ(request(bob, "GET", cms), 200);

    nh_buf list = NH_BUF_INIT;
    o.developer = "bob";
    ASSERT_EQ(nh_space_list(&list, admin, &o), NH_OK) << nh_error_last()->message;
    json spaces = parse(list);
    bool found = false;
    for (const auto &s : spaces)
        if (s["name"] == space) {
            found = true;
            EXPECT_EQ(s["owner"], "alice");
            EXPECT_EQ(s["developers"].size(), 2u) << s.dump();
        }
    EXPECT_TRUE(found) << "bob's spaces: " << spaces.dump();

    // Renewed with revocation: the old token is refused at once, the new one works.
    o.developer = "alice";
    o.revoke = 1;
    o.token_seconds = 600;
    ASSERT_EQ(nh_space_renew(&out, admin, space.c_str(), &o), NH_OK) << nh_error_last()->message;
    json renewed = parse(out);
    nh_client *alice_new = as(renewed);
    EXPECT_EQ(request(alice_new, "GET", cms), 200);
    EXPECT_EQ(refused(alice_old, cms), 401) << "a revoked token still works after 15 s";
    EXPECT_EQ(request(bob, "GET", cms), 200) << "renewing alice's access touched bob's";

    // Bob's access removed: his token is refused, alice's is not.
    o = NH_SPACE_OPTIONS_INIT;
    o.developer = "bob";
    ASSERT_EQ(nh_space_delete(admin, space.c_str(), &o), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(refused(bob, cms), 401);
    EXPECT_EQ(request(alice_new, "GET", cms), 200);

    o.developer = "carol";
    EXPECT_EQ(nh_space_renew(&out, admin, space.c_str(), &o), NH_ENOTFOUND);
    EXPECT_NE(std::string(nh_error_last()->message).find("nh space share"), std::string::npos) << nh_error_last()->message;

    // Deleted: the namespace and all in it are gone, and so is the developers' access.
    ASSERT_EQ(nh_space_delete(admin, space.c_str(), nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_FALSE(exists("/api/v1/namespaces/" + space));
    EXPECT_EQ(refused(alice_new, cms), 401);
}

TEST_F(SpaceTest, AnAdoptedNamespaceIsLeftExactlyAsItWas) {
    json ns = kube->create("/api/v1/namespaces", {{"apiVersion", "v1"},
                                                  {"kind", "Namespace"},
                                                  {"metadata",
                                                   {{"name", space},
                                                    {"labels", {{"team", "payments"}}},
                                                    {"annotations", {{"owner", "ops"}}}}}});
    kube->create("/api/v1/namespaces/" + space + "/configmaps",
                 {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "keep"}}}, {"data", {{"k", "v"}}}});
    json before = kube->get("/api/v1/namespaces/" + space);

    nh_space_options o = NH_SPACE_OPTIONS_INIT;
    o.developer = "dana";
    nh_buf out = NH_BUF_INIT;
    EXPECT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_EEXISTS) << "an existing namespace taken without asking";
    EXPECT_NE(std::string(nh_error_last()->message).find("--existing"), std::string::npos) << nh_error_last()->message;
    o.existing_namespace = 1;
    o.cpu = "2";
    ASSERT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_OK) << nh_error_last()->message;
    nh_buf_dispose(&out);
    EXPECT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_EEXISTS);

    ASSERT_EQ(nh_space_delete(admin, space.c_str(), nullptr), NH_OK) << nh_error_last()->message;
    json after = kube->get("/api/v1/namespaces/" + space);
    EXPECT_EQ(after["metadata"].value("labels", json::object()), before["metadata"].value("labels", json::object()));
    EXPECT_EQ(after["metadata"].value("annotations", json::object()),
              before["metadata"].value("annotations", json::object()));
    EXPECT_TRUE(exists("/api/v1/namespaces/" + space + "/configmaps/keep"));
    const std::string sel = "?labelSelector=dev.nocalhost.io%2Fspace";
    for (const std::string &path : {"/api/v1/namespaces/" + space + "/serviceaccounts",
                                   "/api/v1/namespaces/" + space + "/resourcequotas",
                                   "/api/v1/namespaces/" + space + "/limitranges",
                                   "/apis/rbac.authorization.k8s.io/v1/namespaces/" + space + "/roles",
                                   "/apis/rbac.authorization.k8s.io/v1/namespaces/" + space + "/rolebindings"})
        EXPECT_TRUE(kube->get(path + sel)["items"].empty()) << path << " still holds the space's objects";
    kube->remove("/api/v1/namespaces/" + space);
}

TEST_F(SpaceTest, AnOperationWithoutTheRightsNamesEveryMissingOneAndMakesNothing) {
    json access = create("erin");
    nh_client *erin = as(access);
    ASSERT_NE(erin, nullptr);
    const std::string other = space + "-x";
    nh_space_options o = NH_SPACE_OPTIONS_INIT;
    o.developer = "frank";
    o.pods = 3;
    nh_buf out = NH_BUF_INIT;
    EXPECT_EQ(nh_space_create(&out, erin, other.c_str(), &o), NH_EFORBIDDEN);
    const std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("create namespaces (cluster-wide)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("create roles.rbac.authorization.k8s.io in namespace " + other), std::string::npos) << msg;
    EXPECT_NE(msg.find("create resourcequotas in namespace " + other), std::string::npos) << msg;
    EXPECT_FALSE(exists("/api/v1/namespaces/" + other));

    // Sharing her own space is the admin's right too, not hers.
    EXPECT_EQ(nh_space_share(&out, erin, space.c_str(), &o), NH_EFORBIDDEN);
    EXPECT_NE(std::string(nh_error_last()->message).find("create rolebindings.rbac.authorization.k8s.io in namespace " + space),
              std::string::npos)
        << nh_error_last()->message;
    EXPECT_FALSE(exists("/api/v1/namespaces/" + space + "/serviceaccounts/nh-frank"));
}

TEST_F(SpaceTest, BadInputIsRefusedBeforeAnythingIsMade) {
    nh_space_options o = NH_SPACE_OPTIONS_INIT;
    nh_buf out = NH_BUF_INIT;
    o.developer = "gina";
    EXPECT_EQ(nh_space_create(&out, admin, "Not_A_Namespace", &o), NH_EINVAL);
    o.cpu = "lots";
    EXPECT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("'lots'"), std::string::npos) << nh_error_last()->message;
    o.cpu = nullptr;
    o.extra_rules_json = "{not json";
    EXPECT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_EINVAL);
    o.extra_rules_json = nullptr;
    o.developer = "...";
    EXPECT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_EINVAL);
    o.developer = nullptr;
    EXPECT_EQ(nh_space_create(&out, admin, space.c_str(), &o), NH_EINVAL);
    EXPECT_FALSE(exists("/api/v1/namespaces/" + space));
    EXPECT_EQ(nh_space_delete(admin, space.c_str(), nullptr), NH_ENOTFOUND);
    // A rule the API server refuses: the create fails and takes back what it made.
    o.developer = "gina";
    o.extra_rules_json = R"([{"verbs":["get"]}])";
    EXPECT_NE(nh_space_create(&out, admin, space.c_str(), &o), NH_OK);
    wait_namespace_gone(space);
    EXPECT_FALSE(exists("/api/v1/namespaces/" + space)) << "a failed create left its namespace";
}

#ifdef NH_CLI_PATH
TEST_F(SpaceTest, TheCliWritesTheKubeconfigForItsOwnerOnlyAndListsAndDeletes) {
    char dir[] = "/tmp/nh-space-cli-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string file = std::string(dir) + "/dev.kubeconfig";
    const std::string nh = std::string("CI=1 '") + NH_CLI_PATH + "' --kubeconfig '" + kubeconfig + "' ";
    CliRun r = run_shell(nh + "space create " + space + " --for hana --cpu 2 --pods 5 --write-kubeconfig " + file + " 2>&1");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("written to " + file), std::string::npos) << r.out;
    struct stat st {};
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    r = run_shell(std::string("CI=1 '") + NH_CLI_PATH + "' --kubeconfig " + file + " get 2>&1");
    EXPECT_EQ(r.code, 0) << "the written kubeconfig does not work: " << r.out;

    r = run_shell(nh + "space create " + space + " --for hana --write-kubeconfig " + file + " 2>&1");
    EXPECT_EQ(r.code, 5) << r.out;  // the space exists

    r = run_shell(nh + "space list --for hana 2>&1");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(space), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cpu=2,pods=5"), std::string::npos) << r.out;

    r = run_shell(nh + "space renew " + space + " --for hana --token-ttl 15m -o kubeconfig 2>/dev/null");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("current-context: " + space), std::string::npos) << r.out;

    r = run_shell(nh + "space delete " + space + " 2>&1");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(exists("/api/v1/namespaces/" + space));
    std::remove(file.c_str());
    rmdir(dir);
}
#endif

}  // namespace
