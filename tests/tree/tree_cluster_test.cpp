// The workload tree on the test cluster through the C ABI: a namespace with every workload
// kind, an application annotation, a Helm release, a workload in our dev mode and one in
// nhctl's; the watch reporting a workload added, scaled, put into dev mode, taken out and
// deleted; `nh get` as a user reads it.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;
using namespace std::chrono_literals;

namespace {

json find(const json &entries, const std::string &kind, const std::string &name) {
    for (const auto &e : entries)
        if (e["kind"] == kind && e["name"] == name) return e;
    return nullptr;
}

json simple(const std::string &kind, const std::string &name) {
    json tpl = simple_template(name);
    json sel = {{"matchLabels", {{"app", name}}}};
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet") {
        json w = {{"apiVersion", "apps/v1"}, {"kind", kind}, {"metadata", {{"name", name}}},
                  {"spec", {{"replicas", 1}, {"selector", sel}, {"template", tpl}}}};
        if (kind == "StatefulSet") w["spec"]["serviceName"] = name;
        return w;
    }
    if (kind == "DaemonSet")
        return {{"apiVersion", "apps/v1"}, {"kind", kind}, {"metadata", {{"name", name}}},
                {"spec", {{"selector", sel}, {"template", tpl}}}};
    tpl["spec"]["restartPolicy"] = "Never";
    if (kind == "Job")
        return {{"apiVersion", "batch/v1"}, {"kind", kind}, {"metadata", {{"name", name}}},
                {"spec", {{"suspend", true}, {"template", tpl}}}};
    if (kind == "CronJob")
        return {{"apiVersion", "batch/v1"}, {"kind", kind}, {"metadata", {{"name", name}}},
                {"spec", {{"schedule", "0 0 1 1 *"}, {"jobTemplate", {{"spec", {{"template", tpl}}}}}}}};
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
            {"spec", tpl["spec"]}};
}

// Events of nh_tree_watch, collected on its thread.
struct Events {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<int, json>> items;
    bool synced = false;

    static int cb(int type, const char *entry, size_t len, void *payload) {
        auto *self = static_cast<Events *>(payload);
        std::lock_guard<std::mutex> l(self->mu);
        if (type == NH_TREE_SYNCED) self->synced = true;
        self->items.emplace_back(type, json::parse(std::string(entry, len)));
        self->cv.notify_all();
        return 0;
    }

    // Waits for an event of `type` about KIND/NAME for which `pred` holds; consumes events up to it.
    json wait(int type, const std::string &kind, const std::string &name, const std::function<bool(const json &)> &pred,
              std::chrono::seconds limit = 60s) {
        std::unique_lock<std::mutex> l(mu);
        auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            while (!items.empty()) {
                auto [t, e] = items.front();
                items.pop_front();
                if (t == type && e.is_object() && e["kind"] == kind && e["name"] == name && pred(e)) return e;
            }
            if (cv.wait_until(l, until) == std::cv_status::timeout && items.empty()) return nullptr;
        }
    }
};

}  // namespace

class TreeTest : public DevTest {
protected:
    json tree(const nh_tree_options *o = nullptr) {
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_tree_list(&b, client, o), NH_OK) << nh_error_last()->message;
        json j = json::parse(b.ptr ? b.ptr : "null");
        nh_buf_dispose(&b);
        return j;
    }

    void scale(Kind k, const std::string &name, int replicas) {
        kube->patch(path(k, name), nh::kube::PatchType::Merge, json{{"spec", {{"replicas", replicas}}}}.dump());
    }

    nh_session *start(const char *kind, const char *name) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = "registry.example/dev:1";
        o.sidecar_image = "registry.example/nhsyncd:test";
        o.container = "app";
        o.owner = "tree-test@host/1";
        o.timeout_ms = 90000;
        nh_session *s = nullptr;
        EXPECT_EQ(nh_dev_start(&s, client, kind, name, &o), NH_OK) << nh_error_last()->message;
        return s;
    }

    void end(const char *kind, const char *name) {
        int result = 0;
        EXPECT_EQ(nh_dev_end(&result, client, kind, name, nullptr), NH_OK) << nh_error_last()->message;
    }
};

TEST_F(TreeTest, EveryKindWithApplicationsAndBothDevModes) {
    json web = simple("Deployment", "web");
    web["metadata"]["annotations"]["dev.nocalhost/application-name"] = "shop";
    web["spec"]["replicas"] = 2;
    create(web);
    json db = simple("StatefulSet", "db");
    db["metadata"]["annotations"]["meta.helm.sh/release-name"] = "data";
    create(db);
    for (const char *k : {"DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}) create(simple(k, std::string("x-") + nh::dev::kind_info(nh::dev::parse_kind(k)).lower));
    // nhctl's replace dev mode: its record of the original, and the dev container it renames.
    json legacy = simple("Deployment", "legacy");
    legacy["metadata"]["annotations"][nh::dev::kNhctlOriginAnnotation] = simple("Deployment", "legacy").dump();
    legacy["spec"]["template"]["spec"]["containers"][0]["name"] = "nocalhost-dev";
    legacy["spec"]["template"]["spec"]["containers"][0]["image"] = "nocalhost-docker.pkg.coding.net/nocalhost/dev-images/golang:latest";
    create(legacy);
    wait_ready(Kind::Deployment, "web", 2);
    nh_session *s = start("deployment", "web");
    ASSERT_NE(s, nullptr);
    // A Pod in dev mode is deleted while its dev pod runs: it stays in the tree.
    nh_session *ps = start("pod", "x-pod");
    ASSERT_NE(ps, nullptr);

    json all = tree();
    ASSERT_TRUE(all.is_array());
    json e = find(all, "Deployment", "web");
    ASSERT_TRUE(e.is_object()) << all.dump(2);
    EXPECT_EQ(e["application"], "shop");
    EXPECT_EQ(e["replicas"], 1) << "dev mode runs one replica";
    EXPECT_EQ(e["dev_mode"], true);
    ASSERT_EQ(e["dev"].size(), 1u);
    const json &d = e["dev"][0];
    EXPECT_EQ(d["tool"], "libnocalhost");
    EXPECT_EQ(d["mode"], "replace");
    EXPECT_EQ(d["owner"], "tree-test@host/1");
    EXPECT_EQ(d["phase"], "active");
    EXPECT_EQ(d["image"], "registry.example/dev:1");
    ASSERT_TRUE(d["pod"].is_object()) << e.dump(2);
    EXPECT_EQ(d["pod"]["name"], nh_session_pod_name(s));
    EXPECT_EQ(d["pod"]["phase"], "Running");
    EXPECT_EQ(d["sync"]["port"], 7710);
    EXPECT_EQ(e.dump().find(nh_session_token(s)), std::string::npos) << "the sync token never shows";

    EXPECT_EQ(find(all, "StatefulSet", "db")["application"], "data");
    for (const char *k : {"DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}) {
        std::string name = std::string("x-") + nh::dev::kind_info(nh::dev::parse_kind(k)).lower;
        json x = find(all, k, name);
        ASSERT_TRUE(x.is_object()) << k << " missing: " << all.dump(2);
        EXPECT_EQ(x["application"], "default.application");
        EXPECT_EQ(x["containers"][0]["image"], "registry.example/app:1.0") << x.dump();
    }
    EXPECT_EQ(find(all, "Job", "x-job")["suspended"], true);
    EXPECT_EQ(find(all, "CronJob", "x-cronjob")["schedule"], "0 0 1 1 *");
    json pod = find(all, "Pod", "x-pod");
    EXPECT_EQ(pod["dev_mode"], true);
    ASSERT_TRUE(pod["dev"][0]["pod"].is_object()) << pod.dump(2);
    EXPECT_EQ(pod["dev"][0]["generated_deployment"], nh_session_workload(ps));
    json lg = find(all, "Deployment", "legacy");
    EXPECT_EQ(lg["dev_mode"], true);
    EXPECT_EQ(lg["dev"][0]["tool"], "nhctl");
    // Owned pods and replica sets and dev mode's generated Deployment are not entries.
    for (const auto &x : all) {
        EXPECT_NE(x["name"], nh_session_workload(ps)) << "generated Deployment listed";
        if (x["kind"] == "Pod") {
            EXPECT_EQ(x["name"], "x-pod");
        }
        if (x["kind"] == "ReplicaSet") {
            EXPECT_EQ(x["name"], "x-replicaset");
        }
    }
    EXPECT_EQ(all.size(), 8u) << all.dump(2);

    // Kinds and a label selector narrow it, as kubectl's.
    nh_tree_options o = NH_TREE_OPTIONS_INIT;
    const char *kinds[] = {"deploy", "po"};
    o.kinds = kinds;
    o.kinds_count = 2;
    o.label_selector = "app in (web,x-pod)";
    json some = tree(&o);
    ASSERT_EQ(some.size(), 1u) << some.dump(2) << " (workload labels are matched; web has none: only x-pod's pod)";
    EXPECT_EQ(some[0]["name"], "x-pod");
    const char *bad[] = {"service"};
    o.kinds = bad;
    o.kinds_count = 1;
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_tree_list(&b, client, &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("service"), std::string::npos) << nh_error_last()->message;
    nh_buf_dispose(&b);

#ifdef NH_CLI_PATH
    CliRun r = cli("get deploy");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("NAME"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("replace by tree-test@host/1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("shop"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nhctl"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("x-pod"), std::string::npos) << r.out;
    r = cli("get -o name");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("cronjob/x-cronjob\n"), std::string::npos) << r.out;
    r = cli("get -o json pods");
    json cj = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(cj.is_array()) << r.out;
    EXPECT_EQ(cj.size(), 1u);
    r = cli("get services");
    EXPECT_EQ(r.code, 2) << r.out;
#endif

    nh_session_free(s);
    nh_session_free(ps);
    end("deployment", "web");
    end("pod", "x-pod");
    json after = tree();
    EXPECT_EQ(find(after, "Deployment", "web")["dev_mode"], false);
    EXPECT_EQ(find(after, "Pod", "x-pod")["dev_mode"], false);
}

TEST_F(TreeTest, WatchReportsAddScaleDevModeAndDelete) {
    create(simple("Deployment", "before"));
    Events ev;
    nh_cancel *cancel = nullptr;
    ASSERT_EQ(nh_cancel_new(&cancel), NH_OK);
    int watch_rc = 1;
    std::thread watcher([&] {
        nh_tree_options o = NH_TREE_OPTIONS_INIT;
        o.cancel = cancel;
        o.callback = Events::cb;
        o.payload = &ev;
        watch_rc = nh_tree_watch(client, &o);
    });
    auto any = [](const json &) { return true; };
    EXPECT_TRUE(ev.wait(NH_TREE_ADDED, "Deployment", "before", any).is_object()) << "the first list comes as added";
    {
        std::unique_lock<std::mutex> l(ev.mu);
        ASSERT_TRUE(ev.cv.wait_for(l, 30s, [&] { return ev.synced; }));
    }

    create(simple("Deployment", "late"));
    EXPECT_TRUE(ev.wait(NH_TREE_ADDED, "Deployment", "late", any).is_object());
    scale(Kind::Deployment, "late", 3);
    json scaled = ev.wait(NH_TREE_MODIFIED, "Deployment", "late", [](const json &e) { return e["replicas"] == 3; });
    EXPECT_TRUE(scaled.is_object()) << "no event for the scale";
    wait_ready(Kind::Deployment, "late", 3);
    EXPECT_TRUE(ev.wait(NH_TREE_MODIFIED, "Deployment", "late", [](const json &e) { return e["ready"] == 3; }).is_object());

    nh_session *s = start("deployment", "late");
    ASSERT_NE(s, nullptr);
    const std::string dev_pod = nh_session_pod_name(s);
    json in_dev = ev.wait(NH_TREE_MODIFIED, "Deployment", "late", [&](const json &e) {
        return e["dev_mode"] == true && e["dev"][0]["phase"] == "active" && e["dev"][0]["pod"].is_object() &&
               e["dev"][0]["pod"]["name"] == dev_pod && e["dev"][0]["pod"]["ready"] == true;
    });
    EXPECT_TRUE(in_dev.is_object()) << "no event for dev mode with its dev pod";
    nh_session_free(s);
    end("deployment", "late");
    EXPECT_TRUE(ev.wait(NH_TREE_MODIFIED, "Deployment", "late", [](const json &e) { return e["dev_mode"] == false; }).is_object())
        << "no event for the end of dev mode";

    kube->remove(path(Kind::Deployment, "late"));
    json gone = ev.wait(NH_TREE_DELETED, "Deployment", "late", any);
    EXPECT_TRUE(gone.is_object()) << "no event for the delete";

    auto t0 = std::chrono::steady_clock::now();
    nh_cancel_trigger(cancel);
    watcher.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "cancel is prompt";
    EXPECT_EQ(watch_rc, NH_ECANCELLED);
    nh_cancel_free(cancel);
}

TEST_F(TreeTest, WatchStopsWhenItsCallbackSaysSo) {
    create(simple("Deployment", "one"));
    nh_tree_options o = NH_TREE_OPTIONS_INIT;
    int calls = 0;
    o.callback = [](int, const char *, size_t, void *p) { return ++*static_cast<int *>(p) >= 1 ? 1 : 0; };
    o.payload = &calls;
    EXPECT_EQ(nh_tree_watch(client, &o), NH_ECANCELLED);
    EXPECT_EQ(calls, 1);
    o.callback = nullptr;
    EXPECT_EQ(nh_tree_watch(client, &o), NH_EINVAL);
}

// A kubeconfig held in memory opens a client as its file would; the check says whether the
// cluster answers and who we are.
TEST_F(TreeTest, KubeconfigFromMemoryAndTheClusterCheck) {
    const std::string text = nh::test::read_file(kubeconfig);
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.namespace_name = ns.c_str();
    nh_client *mem = nullptr;
    ASSERT_EQ(nh_client_new_from_data(&mem, text.data(), text.size(), &o), NH_OK) << nh_error_last()->message;
    create(simple("Deployment", "from-memory"));
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_tree_list(&b, mem, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_TRUE(find(json::parse(b.ptr), "Deployment", "from-memory").is_object()) << b.ptr;
    EXPECT_STREQ(nh_client_namespace(mem), ns.c_str());

    ASSERT_EQ(nh_client_check(&b, mem, nullptr), NH_OK) << nh_error_last()->message;
    json check = json::parse(b.ptr);
    EXPECT_EQ(check["authenticated"], true) << check.dump();
    EXPECT_EQ(check["error"], nullptr) << check.dump();
    EXPECT_NE(check["version"].value("gitVersion", ""), "") << check.dump();
    ASSERT_TRUE(check["user"].is_object()) << "the test cluster serves SelfSubjectReview: " << check.dump();
    const std::string admin = check["user"].value("username", "");
    EXPECT_NE(admin, "") << check.dump();
    EXPECT_NE(check["user"]["groups"].dump().find("system:authenticated"), std::string::npos) << check.dump();
    nh_client_free(mem);

    // Another identity, and a token the server refuses: both answers.
    std::string nobody = nh::test::read_file(env_or_empty("NH_TEST_NOBODY_TOKEN_KUBECONFIG"));
    ASSERT_EQ(nh_client_new_from_data(&mem, nobody.c_str(), static_cast<size_t>(-1), nullptr), NH_OK)
        << nh_error_last()->message;
    ASSERT_EQ(nh_client_check(&b, mem, nullptr), NH_OK) << nh_error_last()->message;
    check = json::parse(b.ptr);
    EXPECT_EQ(check["authenticated"], true);
    EXPECT_NE(check["user"].value("username", ""), "") << check.dump();
    EXPECT_NE(check["user"].value("username", ""), admin) << check.dump();
    nh_client_free(mem);
    auto at = nobody.find("token: ");
    ASSERT_NE(at, std::string::npos);
    std::string bad = nobody.substr(0, at) + "token: not-a-valid-token\n" + nobody.substr(nobody.find('\n', at) + 1);
    ASSERT_EQ(nh_client_new_from_data(&mem, bad.c_str(), static_cast<size_t>(-1), nullptr), NH_OK);
    ASSERT_EQ(nh_client_check(&b, mem, nullptr), NH_OK) << nh_error_last()->message;
    check = json::parse(b.ptr);
    EXPECT_EQ(check["authenticated"], false) << check.dump();
    EXPECT_EQ(check["error"]["code"], NH_EUNAUTHORIZED) << check.dump();
    EXPECT_EQ(check.dump().find("not-a-valid-token"), std::string::npos) << "the token never shows";
    nh_client_free(mem);
    nh_buf_dispose(&b);

    // A server that does not answer is the check's error.
    std::string gone = text;
    auto server = gone.find("server: ");
    ASSERT_NE(server, std::string::npos);
    gone = gone.substr(0, server) + "server: https://127.0.0.1:1\n" + gone.substr(gone.find('\n', server) + 1);
    ASSERT_EQ(nh_client_new_from_data(&mem, gone.c_str(), static_cast<size_t>(-1), nullptr), NH_OK);
    EXPECT_EQ(nh_client_check(&b, mem, nullptr), NH_ECONNECT);
    EXPECT_NE(std::string(nh_error_last()->message).find("127.0.0.1:1"), std::string::npos) << nh_error_last()->message;
    nh_client_free(mem);

    // Bad text names where; a path and data at once is refused.
    const char *broken = "apiVersion: v1\nclusters: [\n";
    EXPECT_EQ(nh_client_new_from_data(&mem, broken, static_cast<size_t>(-1), nullptr), NH_ECONFIG);
    EXPECT_NE(std::string(nh_error_last()->message).find("kubeconfig data:"), std::string::npos) << nh_error_last()->message;
    o.kubeconfig = kubeconfig.c_str();
    EXPECT_EQ(nh_client_new_from_data(&mem, text.c_str(), text.size(), &o), NH_EINVAL);
    EXPECT_EQ(nh_client_new_from_data(&mem, nullptr, 0, nullptr), NH_EINVAL);
    EXPECT_EQ(mem, nullptr);
}
