// Applications on the test cluster: the bookinfo-style app of fixtures/ installed from
// manifests and from a Kustomize overlay, listed, grouped by the workload tree, developed in
// through its own dev config, upgraded (a workload that left the set is deleted) and
// uninstalled (exactly what it installed goes; a user's own object stays). Errors: a manifest
// that does not parse (file and line), objects that are someone else's, a cluster-wide object,
// missing rights (a space's developer), a half-done install rolled back.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/base64.hpp"
#include "common/random.hpp"
#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

namespace fs = std::filesystem;

const std::string kFixtures = NH_APP_FIXTURES;

json parse(nh_buf &b) {
    json j = json::parse(b.ptr ? b.ptr : "null");
    nh_buf_dispose(&b);
    return j;
}

std::string message() { return nh_error_last()->message; }

class AppTest : public DevTest {
protected:
    void TearDown() override {
        std::error_code ec;
        for (const auto &d : dirs_) fs::remove_all(d, ec);
        DevTest::TearDown();
    }

    std::string tmpdir() {
        char tmpl[] = "/tmp/nh-app-test-XXXXXX";
        dirs_.push_back(::mkdtemp(tmpl));
        return dirs_.back();
    }

    int install(const std::string &name, const std::string &source, json *app = nullptr) {
        nh_buf out = NH_BUF_INIT;
        int rc = nh_app_install(&out, client, name.c_str(), source.c_str(), nullptr);
        json j = parse(out);
        if (app) *app = j;
        return rc;
    }

    json apps() {
        nh_buf out = NH_BUF_INIT;
        EXPECT_EQ(nh_app_list(&out, client, nullptr), NH_OK) << message();
        return parse(out);
    }

    std::string deploy(const std::string &name) { return path(Kind::Deployment, name); }
    std::string service(const std::string &name) { return "/api/v1/namespaces/" + ns + "/services/" + name; }
    std::string configmap(const std::string &name) { return "/api/v1/namespaces/" + ns + "/configmaps/" + name; }
    std::string record(const std::string &app) { return "/api/v1/namespaces/" + ns + "/secrets/dev.nocalhost.application." + app; }

    // Every object of the bookinfo fixture, as paths.
    std::vector<std::string> bookinfo_paths() {
        std::vector<std::string> p;
        for (const char *s : {"productpage", "details", "reviews"}) {
            p.push_back(deploy(s));
            p.push_back(service(s));
        }
        p.push_back(configmap("bookinfo-settings"));
        p.push_back(configmap("dev.nocalhost.config.bookinfo"));
        p.push_back(record("bookinfo"));
        return p;
    }

    // True once nothing of the paths exists (deleting waits for the pods; this is the check).
    void expect_gone(const std::vector<std::string> &paths) {
        for (const auto &p : paths) EXPECT_FALSE(exists(p)) << p << " is left";
        json pods = kube->get("/api/v1/namespaces/" + ns + "/pods")["items"];
        EXPECT_TRUE(pods.empty()) << pods.size() << " pods left, e.g. " << pods[0]["metadata"]["name"];
    }

    // The text of a record's xz-compressed key, decompressed by the xz tool (as nhctl's own
    // reader would), or "<...>" saying why not.
    std::string unxz(const json &rec, const char *key) {
        if (!rec["data"].contains(key)) return std::string("<no key ") + key + ">";
        auto raw = nh::base64::decode(rec["data"][key].get<std::string>());
        if (!raw) return "<not base64>";
        const std::string f = tmpdir() + "/data.xz";
        write_file(f, *raw);
        FILE *p = ::popen(("xz -dc '" + f + "' 2>&1").c_str(), "r");
        std::string out;
        char buf[4096];
        for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        int st = ::pclose(p);
        return st == 0 ? out : "<xz failed: " + out + ">";
    }

    // The "kind/name" of each document of a multi-document YAML text.
    static std::set<std::string> objects_in(const std::string &manifest) {
        std::set<std::string> out;
        for (const auto &d : YAML::LoadAll(manifest))
            if (d.IsMap()) out.insert(d["kind"].as<std::string>() + "/" + d["metadata"]["name"].as<std::string>());
        return out;
    }

    std::vector<std::string> dirs_;
};

TEST_F(AppTest, InstallsFromManifestsListsGroupsAndUninstallsExactlyWhatItInstalled) {
    // A user's own objects in the namespace, one of them named like nothing of the app.
    kube->create("/api/v1/namespaces/" + ns + "/configmaps",
                 {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "mine"}}}, {"data", {{"k", "v"}}}});
    create(sample_deployment("web", 1));

    json app;
    ASSERT_EQ(install("bookinfo", kFixtures + "/bookinfo", &app), NH_OK) << message();
    EXPECT_EQ(app["name"], "bookinfo");
    EXPECT_EQ(app["namespace"], ns);
    EXPECT_EQ(app["type"], "rawManifestLocal");
    EXPECT_EQ(app["state"], "INSTALLED");
    EXPECT_EQ(app["objects"].size(), 8u) << app.dump();  // 3 Deployments, 3 Services, 2 ConfigMaps
    EXPECT_EQ(app["workloads"], json::parse(R"([{"kind":"Deployment","name":"details"},
        {"kind":"Deployment","name":"productpage"},{"kind":"Deployment","name":"reviews"}])"));

    // Each object carries Nocalhost's application annotations; the record is nhctl's Secret.
    for (const auto &p : bookinfo_paths()) ASSERT_TRUE(exists(p)) << p;
    json pp = kube->get(deploy("productpage"));
    EXPECT_EQ(pp["metadata"]["annotations"]["dev.nocalhost/application-name"], "bookinfo");
    EXPECT_EQ(pp["metadata"]["annotations"]["dev.nocalhost/application-namespace"], ns);
    EXPECT_EQ(pp["metadata"]["labels"]["app.kubernetes.io/managed-by"], "nocalhost");
    json rec = kube->get(record("bookinfo"));
    EXPECT_EQ(rec["type"], "dev.nocalhost/application.meta");
    EXPECT_EQ(nh::base64::decode(rec["data"]["s"].get<std::string>()).value_or(""), "INSTALLED");
    EXPECT_EQ(nh::base64::decode(rec["data"]["t"].get<std::string>()).value_or(""), "rawManifestLocal");
    // The dev config is the application's ConfigMap, as nhctl keeps it.
    json cfg = kube->get(configmap("dev.nocalhost.config.bookinfo"));
    EXPECT_NE(cfg["data"]["config"].get<std::string>().find("bookinfo-dev:1.0"), std::string::npos);
    // nhctl's own keys: the manifest and the dev config, xz-compressed, and a namespace id.
    const std::set<std::string> want = {"Deployment/productpage", "Deployment/details", "Deployment/reviews",
                                        "Service/productpage",    "Service/details",    "Service/reviews",
                                        "ConfigMap/bookinfo-settings", "ConfigMap/dev.nocalhost.config.bookinfo"};
    EXPECT_EQ(objects_in(unxz(rec, "m")), want) << unxz(rec, "m");
    EXPECT_EQ(unxz(rec, "c"), cfg["data"]["config"].get<std::string>());
    EXPECT_FALSE(nh::base64::decode(rec["data"].value("nid", "")).value_or("").empty()) << rec["data"].dump();

    // Listed with its workloads; the workload tree groups them under the application.
    json list = apps();
    ASSERT_EQ(list.size(), 1u) << list.dump();
    EXPECT_EQ(list[0]["name"], "bookinfo");
    EXPECT_EQ(list[0]["workloads"].size(), 3u);
    nh_buf tb = NH_BUF_INIT;
    ASSERT_EQ(nh_tree_list(&tb, client, nullptr), NH_OK) << message();
    json tree = parse(tb);
    std::map<std::string, std::string> app_of;
    for (const auto &e : tree) app_of[e.value("name", "")] = e.value("application", "");
    EXPECT_EQ(app_of["productpage"], "bookinfo") << tree.dump();
    EXPECT_EQ(app_of["reviews"], "bookinfo");
    EXPECT_EQ(app_of["web"], "default.application");

    // A second install of the same name is refused and changes nothing.
    EXPECT_EQ(install("bookinfo", kFixtures + "/bookinfo"), NH_EEXISTS);
    EXPECT_NE(message().find("already installed"), std::string::npos) << message();

    wait_ready(Kind::Deployment, "productpage", 1);
    ASSERT_EQ(nh_app_uninstall(client, "bookinfo", nullptr), NH_OK) << message();
    for (const auto &p : bookinfo_paths()) EXPECT_FALSE(exists(p)) << p << " is left";
    EXPECT_TRUE(exists(configmap("mine"))) << "the user's own ConfigMap went with the application";
    EXPECT_TRUE(exists(deploy("web"))) << "the user's own Deployment went with the application";
    json pods = kube->get("/api/v1/namespaces/" + ns + "/pods?labelSelector=app%20in%20(productpage,details,reviews)")["items"];
    EXPECT_TRUE(pods.empty()) << "the application's pods are left: " << pods.size();
    EXPECT_TRUE(apps().empty());
    EXPECT_EQ(nh_app_uninstall(client, "bookinfo", nullptr), NH_ENOTFOUND);
}

TEST_F(AppTest, AnApplicationNhctlInstalledIsListedWithItsObjectsAndUninstalled) {
    // nhctl's record: state, type and the manifest, xz-compressed (by the xz tool), with the
    // objects it installed carrying the application's annotation; nothing of ours in it.
    json objs = json::array();
    for (const char *n : {"api", "worker"}) {
        json d = sample_deployment(n, 1);
        d["metadata"]["annotations"]["dev.nocalhost/application-name"] = "shop";
        objs.push_back(d);
    }
    json svc = {{"apiVersion", "v1"}, {"kind", "Service"},
                {"metadata", {{"name", "api"}, {"annotations", {{"dev.nocalhost/application-name", "shop"}}}}},
                {"spec", {{"ports", {{{"port", 80}}}}}}};
    objs.push_back(svc);
    std::string manifest;
    for (const auto &o : objs) manifest += "---\n" + o.dump() + "\n";
    manifest += "---\napiVersion: v1\nkind: ClusterRole\nmetadata: {name: not-namespaced}\n";
    for (const auto &o : objs)
        if (o["kind"] == "Service") kube->create("/api/v1/namespaces/" + ns + "/services", o);
        else create(o);
    const std::string dir = tmpdir();
    write_file(dir + "/m", manifest);
    ASSERT_EQ(::system(("xz -z '" + dir + "/m'").c_str()), 0);
    std::ifstream in(dir + "/m.xz", std::ios::binary);
    std::string xz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    kube->create("/api/v1/namespaces/" + ns + "/secrets",
                 {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "dev.nocalhost/application.meta"},
                  {"metadata", {{"name", "dev.nocalhost.application.shop"}}},
                  {"data", {{"s", nh::base64::encode("INSTALLED")}, {"t", nh::base64::encode("rawManifest")},
                            {"m", nh::base64::encode(xz)}, {"v", nh::base64::encode("{}\n")}}}});

    json list = apps();
    ASSERT_EQ(list.size(), 1u) << list.dump();
    EXPECT_EQ(list[0]["name"], "shop");
    EXPECT_EQ(list[0]["objects"].size(), 4u) << list[0].dump();
    EXPECT_EQ(list[0]["workloads"], json::parse(R"([{"kind":"Deployment","name":"api"},{"kind":"Deployment","name":"worker"}])"));

    // A record whose manifest is not xz lists no objects, and says nothing wrong.
    kube->create("/api/v1/namespaces/" + ns + "/secrets",
                 {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "dev.nocalhost/application.meta"},
                  {"metadata", {{"name", "dev.nocalhost.application.broken"}}},
                  {"data", {{"s", nh::base64::encode("INSTALLED")}, {"m", nh::base64::encode(xz.substr(0, xz.size() / 2))}}}});
    list = apps();
    ASSERT_EQ(list.size(), 2u) << list.dump();
    for (const auto &a : list) {
        if (a["name"] == "broken") {
            EXPECT_TRUE(a["objects"].empty()) << a.dump();
        }
    }

    ASSERT_EQ(nh_app_uninstall(client, "shop", nullptr), NH_OK) << message();
    EXPECT_FALSE(exists(deploy("api")));
    EXPECT_FALSE(exists(deploy("worker")));
    EXPECT_FALSE(exists(service("api")));
    EXPECT_FALSE(exists(record("shop")));
    ASSERT_EQ(nh_app_uninstall(client, "broken", nullptr), NH_OK) << message();
}

TEST_F(AppTest, DevStartOnAnApplicationsWorkloadUsesItsDevConfig) {
    ASSERT_EQ(install("bookinfo", kFixtures + "/bookinfo"), NH_OK) << message();
    wait_ready(Kind::Deployment, "productpage", 1);
    json original = get(Kind::Deployment, "productpage");

    // No image, no --config: the application's config gives them.
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.sidecar_image = "registry.example/nhsyncd:test";
    o.timeout_ms = 60000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client, "deployment", "productpage", &o), NH_OK) << message();
    nh_session_free(s);
    json dev = get(Kind::Deployment, "productpage");
    const json *c = nullptr;
    for (const auto &ct : dev["spec"]["template"]["spec"]["containers"])
        if (ct["name"] == "productpage") c = &ct;
    ASSERT_NE(c, nullptr) << dev.dump();
    EXPECT_EQ((*c)["image"], "registry.example/bookinfo-dev:1.0");
    EXPECT_EQ((*c)["workingDir"], "/home/bookinfo");
    bool env = false;
    for (const auto &e : (*c).value("env", json::array())) env = env || (e["name"] == "BOOKINFO_MODE" && e["value"] == "dev");
    EXPECT_TRUE(env) << c->dump();

    // The config as dev start resolves it names the application's ConfigMap.
    nh_buf st = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_status(&st, client, "deployment", "productpage", nullptr), NH_OK) << message();
    json status = parse(st);
    EXPECT_NE(status.dump().find("\"bash\""), std::string::npos) << "the config's shell is not recorded: " << status.dump();

    ASSERT_EQ(nh_dev_end(nullptr, client, "deployment", "productpage", nullptr), NH_OK) << message();
    expect_restored(Kind::Deployment, "productpage", original);
    ASSERT_EQ(nh_app_uninstall(client, "bookinfo", nullptr), NH_OK) << message();
}

TEST_F(AppTest, UpgradeAppliesTheNewSetAndDeletesWhatLeftIt) {
    // A user's Service named like nothing of the app stays through it all.
    kube->create("/api/v1/namespaces/" + ns + "/services",
                 {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "mine"}}},
                  {"spec", {{"ports", {{{"port", 80}}}}}}});
    ASSERT_EQ(install("bookinfo", kFixtures + "/bookinfo"), NH_OK) << message();
    const std::string details_uid = kube->get(deploy("details"))["metadata"]["uid"];

    nh_buf out = NH_BUF_INIT;
    ASSERT_EQ(nh_app_upgrade(&out, client, "bookinfo", (kFixtures + "/bookinfo-v2").c_str(), nullptr), NH_OK) << message();
    json app = parse(out);
    EXPECT_EQ(app["state"], "INSTALLED");
    EXPECT_EQ(app["workloads"], json::parse(R"([{"kind":"Deployment","name":"details"},{"kind":"Deployment","name":"productpage"}])"));
    // reviews left the set: its Deployment, pods and Service are gone.
    EXPECT_FALSE(exists(deploy("reviews")));
    EXPECT_FALSE(exists(service("reviews")));
    json pods = kube->get("/api/v1/namespaces/" + ns + "/pods?labelSelector=app%3Dreviews")["items"];
    EXPECT_TRUE(pods.empty());
    // details changed in place.
    json details = kube->get(deploy("details"));
    EXPECT_EQ(details["metadata"]["uid"], details_uid);
    EXPECT_EQ(details["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/bookinfo-details:2.0");
    EXPECT_TRUE(exists(service("mine")));

    // Upgrading an application that is not installed says so.
    out = NH_BUF_INIT;
    EXPECT_EQ(nh_app_upgrade(&out, client, "nosuch", (kFixtures + "/bookinfo").c_str(), nullptr), NH_ENOTFOUND);
    nh_buf_dispose(&out);

    ASSERT_EQ(nh_app_uninstall(client, "bookinfo", nullptr), NH_OK) << message();
    expect_gone({deploy("productpage"), deploy("details"), service("details"), record("bookinfo")});
    EXPECT_TRUE(exists(service("mine")));
}

TEST_F(AppTest, InstallsAKustomizeOverlayThroughKubectlKustomize) {
    const std::string dir = tmpdir();
    fs::copy(kFixtures + "/kustomize", dir, fs::copy_options::recursive);
    for (const char *f : {"productpage", "details", "reviews"})
        fs::copy_file(kFixtures + "/bookinfo/services/" + f + ".yaml", dir + "/base/" + f + ".yaml");
    fs::copy_file(kFixtures + "/bookinfo/settings.yaml", dir + "/base/settings.yaml");

    json app;
    ASSERT_EQ(install("shop", dir + "/overlay", &app), NH_OK) << message();
    EXPECT_EQ(app["type"], "kustomizeLocal");
    EXPECT_EQ(app["workloads"].size(), 3u);
    json reviews = kube->get(deploy("reviews"));
    EXPECT_EQ(reviews["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/bookinfo-reviews:2.0");
    EXPECT_EQ(reviews["metadata"]["labels"]["tier"], "bookinfo-overlay");
    EXPECT_EQ(kube->get(configmap("bookinfo-settings"))["metadata"]["labels"]["tier"], "bookinfo-overlay");
    EXPECT_EQ(reviews["metadata"]["annotations"]["dev.nocalhost/application-name"], "shop");
    ASSERT_EQ(nh_app_uninstall(client, "shop", nullptr), NH_OK) << message();
    expect_gone({deploy("reviews"), deploy("details"), deploy("productpage"), configmap("bookinfo-settings"), record("shop")});
}

// The helm the test scripts built (scripts/helm), else one on PATH; "" when there is none.
std::string helm_dir() {
    CliRun r = run_shell("command -v helm 2>/dev/null || { d=\"${NH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/libnocalhost}\"/helm; "
                         "ls -1d \"$d\"/*/helm 2>/dev/null | tail -1; }");
    std::string path = r.out.substr(0, r.out.find('\n'));
    return path.empty() ? "" : fs::path(path).parent_path().string();
}

TEST_F(AppTest, InstallsAHelmChartWithValuesAndLeavesItsHooksOut) {
    const std::string dir = helm_dir();
    if (dir.empty()) {
        // scripts/test builds Helm before the tests: there, a missing helm is a failure.
        if (getenv("CI")) FAIL() << "no helm: scripts/helm builds it";
        GTEST_SKIP() << "no helm: scripts/helm builds it (scripts/test does)";
    }
    const std::string path = std::string(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", (dir + ":" + path).c_str(), 1);
    const std::string values = kFixtures + "/chart-values.yaml";
    const char *files[] = {values.c_str()};
    const char *sets[] = {"image.tag=3.0"};
    nh_app_options o = NH_APP_OPTIONS_INIT;
    o.values_files = files;
    o.values_files_count = 1;
    o.set = sets;
    o.set_count = 1;
    nh_buf out = NH_BUF_INIT;
    int rc = nh_app_install(&out, client, "bi", (kFixtures + "/chart").c_str(), &o);
    setenv("PATH", path.c_str(), 1);
    ASSERT_EQ(rc, NH_OK) << message();
    json app = parse(out);
    EXPECT_EQ(app["type"], "helmLocal");
    EXPECT_EQ(app["objects"].size(), 2u) << "the test hook is not one of the objects: " << app.dump();
    json d = kube->get(deploy("bi-ratings"));
    EXPECT_EQ(d["spec"]["replicas"], 2) << "the values file";
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/bookinfo-ratings:3.0") << "--set";
    EXPECT_EQ(d["metadata"]["annotations"]["dev.nocalhost/application-name"], "bi");
    EXPECT_FALSE(exists("/api/v1/namespaces/" + ns + "/pods/bi-ratings-test"));
    ASSERT_EQ(nh_app_uninstall(client, "bi", nullptr), NH_OK) << message();
    expect_gone({deploy("bi-ratings"), service("bi-ratings"), record("bi")});
}

TEST_F(AppTest, BadInputIsAClearErrorAndChangesNothing) {
    // A document that is not YAML: its file and line.
    EXPECT_EQ(install("broken", kFixtures + "/broken"), NH_EINVAL);
    EXPECT_NE(message().find("broken/bad.yaml:12: not YAML"), std::string::npos) << message();
    EXPECT_FALSE(exists(configmap("fine")));
    EXPECT_FALSE(exists(record("broken")));

    // A cluster-wide object, an object of another namespace.
    const std::string dir = tmpdir();
    std::ofstream(dir + "/ns.yaml") << "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                                       "apiVersion: v1\nkind: Namespace\nmetadata: {name: elsewhere}\n";
    EXPECT_EQ(install("wide", dir), NH_EINVAL);
    EXPECT_NE(message().find("ns.yaml:5: Namespace/elsewhere is cluster-wide"), std::string::npos) << message();
    std::ofstream(dir + "/ns.yaml") << "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kube-system}\n";
    EXPECT_EQ(install("other", dir), NH_EINVAL);
    EXPECT_NE(message().find("names namespace kube-system"), std::string::npos) << message();
    std::ofstream(dir + "/ns.yaml") << "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n";
    EXPECT_EQ(install("noname", dir), NH_EINVAL);
    EXPECT_NE(message().find("ns.yaml:1: the ConfigMap has no metadata.name"), std::string::npos) << message();
    EXPECT_EQ(install("Bad_Name", kFixtures + "/bookinfo"), NH_EINVAL);
    EXPECT_EQ(install("missing", dir + "/nosuch"), NH_ENOTFOUND);

    // Objects that exist and are someone else's are not taken over.
    create(sample_deployment("reviews", 1));
    EXPECT_EQ(install("bookinfo", kFixtures + "/bookinfo"), NH_EEXISTS);
    EXPECT_NE(message().find("not part of it: Deployment/reviews"), std::string::npos) << message();
    EXPECT_FALSE(exists(deploy("productpage")));
    EXPECT_FALSE(exists(record("bookinfo")));
    EXPECT_TRUE(apps().empty());
}

TEST_F(AppTest, AnInstallTheApiServerRefusesHalfwayIsRolledBack) {
    const std::string dir = tmpdir();
    std::ofstream(dir + "/a.yaml") << "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\ndata: {a: b}\n";
    fs::copy_file(kFixtures + "/bookinfo/services/details.yaml", dir + "/b.yaml");
    // Valid YAML the API server refuses: a port out of range.
    std::ofstream(dir + "/c.yaml") << "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\n"
                                      "spec: {ports: [{port: 70000}]}\n";
    EXPECT_EQ(install("half", dir), NH_EINVALID) << message();
    EXPECT_NE(message().find("rolled back"), std::string::npos) << message();
    expect_gone({configmap("first"), deploy("details"), service("details"), service("bad"), record("half")});
}

TEST_F(AppTest, ADeveloperWithoutTheRightsIsToldWhichAreMissing) {
    // A space's developer may develop in it but not install applications: the install names what is missing.
    const std::string space = "nh-app-space-" + nh::random_hex(3);
    nh_space_options so = NH_SPACE_OPTIONS_INIT;
    so.developer = "dana";
    nh_buf out = NH_BUF_INIT;
    ASSERT_EQ(nh_space_create(&out, client, space.c_str(), &so), NH_OK) << message();
    json access = parse(out);
    const std::string text = access["kubeconfig"];
    nh_client *dev = nullptr;
    ASSERT_EQ(nh_client_new_from_data(&dev, text.c_str(), text.size(), nullptr), NH_OK) << message();
    out = NH_BUF_INIT;
    int rc = nh_app_install(&out, dev, "bookinfo", (kFixtures + "/bookinfo").c_str(), nullptr);
    nh_buf_dispose(&out);
    const std::string msg = message();
    EXPECT_EQ(rc, NH_EFORBIDDEN) << msg;
    EXPECT_NE(msg.find("cannot install application bookinfo: missing rights:"), std::string::npos) << msg;
    // The Role lets dev mode make Deployments (duplicate mode), not Services nor the record's update.
    EXPECT_NE(msg.find("create services in namespace " + space), std::string::npos) << msg;
    EXPECT_NE(msg.find("update secrets in namespace " + space), std::string::npos) << msg;
    EXPECT_EQ(msg.find("deployments"), std::string::npos) << msg;
    // The developer can list (nothing) and nothing was made.
    out = NH_BUF_INIT;
    EXPECT_EQ(nh_app_list(&out, dev, nullptr), NH_OK) << message();
    EXPECT_EQ(parse(out), json::array());
    nh_client_free(dev);
    EXPECT_EQ(nh_space_delete(client, space.c_str(), nullptr), NH_OK) << message();
}

#ifdef NH_CLI_PATH
TEST_F(AppTest, TheCliInstallsListsUpgradesAndUninstalls) {
    CliRun r = cli("app install bookinfo '" + kFixtures + "/bookinfo'");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("application bookinfo installed in namespace " + ns + ": 8 objects, 3 workloads"),
              std::string::npos) << r.out;
    r = cli("app list");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("deployment/details,deployment/productpage,deployment/reviews"), std::string::npos) << r.out;
    r = cli("app list -o json");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(json::parse(r.out)[0]["name"], "bookinfo");
    r = cli("app upgrade bookinfo '" + kFixtures + "/bookinfo-v2'");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_FALSE(exists(deploy("reviews")));
    r = cli("app install again '" + kFixtures + "/broken'");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("bad.yaml:12: not YAML"), std::string::npos) << r.out;
    r = cli("app install h '" + kFixtures + "/bookinfo' --set a=b");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("--values and --set are for Helm charts"), std::string::npos) << r.out;
    r = cli("app uninstall bookinfo");
    ASSERT_EQ(r.code, 0) << r.out;
    expect_gone({deploy("productpage"), deploy("details"), record("bookinfo")});
    r = cli("app list");
    EXPECT_NE(r.out.find("No applications found."), std::string::npos) << r.out;
}
#endif

}  // namespace
