// The tree's bookkeeping without a cluster: entries from the sources' objects, what each
// change of a source does to the entries (a pod or a session record changes its workload's
// entry), re-lists after 410 Gone delivering only the difference, label selectors, and
// Nocalhost's application of a workload.
#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "tree/tree.hpp"

using namespace nh;
using json = nlohmann::json;
using tree::ChangeType;

namespace {

json deployment(const std::string &name, int replicas, int ready, const json &labels = json::object()) {
    return {{"kind", "Deployment"},
            {"metadata", {{"name", name}, {"namespace", "n"}, {"labels", labels}, {"creationTimestamp", "2024-01-02T03:04:05Z"}}},
            {"spec",
             {{"replicas", replicas},
              {"template", {{"spec", {{"containers", {{{"name", "app"}, {"image", "registry.example/app:1"}}}}}}}}}},
            {"status", {{"readyReplicas", ready}}}};
}

json pod(const std::string &name, bool owned, const json &annotations = json::object(), const json &labels = json::object()) {
    json p = {{"metadata", {{"name", name}, {"namespace", "n"}, {"annotations", annotations}, {"labels", labels},
                            {"creationTimestamp", "2024-01-02T03:04:05Z"}}},
              {"spec", {{"nodeName", "fake"}, {"containers", {{{"name", "app"}, {"image", "busybox"}}}}}},
              {"status",
               {{"phase", "Running"},
                {"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
                {"containerStatuses", {{{"name", "app"}, {"ready", true}}}}}}};
    if (owned) p["metadata"]["ownerReferences"] = {{{"kind", "ReplicaSet"}, {"name", "x"}, {"controller", true}}};
    return p;
}

// A session record as dev mode writes it (replace mode of deployment/web).
json session_record(const std::string &workload, const std::string &session_id) {
    json spec = {{"container", "app"}, {"image", "registry.example/dev:1"}, {"workdir", "/home/nocalhost-dev"},
                 {"sync_port", 7710}, {"session_id", session_id}, {"mode", "replace"}};
    return {{"metadata",
             {{"name", "nh-dev-deployment-" + workload},
              {"namespace", "n"},
              {"annotations",
               {{dev::kKindAnnotation, "Deployment"},
                {dev::kNameAnnotation, workload},
                {dev::kPhaseAnnotation, "active"},
                {dev::kOwnerAnnotation, "alice@laptop/42"},
                {dev::kSinceAnnotation, "2024-01-02T03:04:05Z"}}}}},
            {"data", {{"spec", base64::encode(spec.dump())}, {"token", base64::encode("secret-token")}}}};
}

struct Fixture {
    tree::Options opts;
    tree::Tree t;
    size_t deploys = 0, pods = 0, sessions = 0;

    Fixture() : opts(make_opts()), t(opts, tree::sources_of(opts, "n")) {
        for (size_t i = 0; i < t.sources().size(); ++i) {
            const auto &s = t.sources()[i];
            if (s.type == tree::Source::Workload && s.kind == dev::Kind::Deployment) deploys = i;
            if (s.type == tree::Source::Pods) pods = i;
            if (s.type == tree::Source::Sessions) sessions = i;
        }
        for (size_t i = 0; i < t.sources().size(); ++i) t.reset(i, json::array());
    }
    static tree::Options make_opts() {
        tree::Options o;
        o.ns = "n";
        return o;
    }
};

json find(const json &entries, const std::string &kind, const std::string &name) {
    for (const auto &e : entries)
        if (e["kind"] == kind && e["name"] == name) return e;
    return nullptr;
}

}  // namespace

TEST(TreeSources, OneCollectionPerKindPlusPodsAndSessionRecords) {
    tree::Options o;
    o.ns = "demo";
    o.label_selector = "app=web";
    auto s = tree::sources_of(o, "default");
    ASSERT_EQ(s.size(), 8u);  // 6 workload kinds + pods + session records
    EXPECT_EQ(s[0].path, "/apis/apps/v1/namespaces/demo/deployments");
    EXPECT_EQ(s[0].label_selector, "app=web");
    EXPECT_EQ(s[4].path, "/apis/batch/v1/namespaces/demo/jobs");
    EXPECT_EQ(s[6].path, "/api/v1/namespaces/demo/pods");
    EXPECT_EQ(s[6].label_selector, "") << "pods are read unfiltered: a dev pod need not match";
    EXPECT_EQ(s[7].label_selector, "dev.nocalhost.io/role=dev-session");
    o.all_namespaces = true;
    EXPECT_EQ(tree::sources_of(o, "default")[0].path, "/apis/apps/v1/deployments");
    o.kinds = {dev::Kind::StatefulSet};
    EXPECT_EQ(tree::sources_of(o, "default").size(), 3u);
}

TEST(TreeEntries, WorkloadsAndBarePodsButNotOwnedPodsNorGeneratedDeployments) {
    Fixture f;
    auto changes = f.t.reset(f.deploys, json::array({deployment("web", 2, 1),
                                                       deployment("web-dup-x", 1, 1, {{dev::kGeneratedLabel, "web"}})}));
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].type, ChangeType::Added);
    f.t.reset(f.pods, json::array({pod("web-abc", true), pod("solo", false)}));
    json all = f.t.entries();
    ASSERT_EQ(all.size(), 2u) << all.dump();
    json web = find(all, "Deployment", "web");
    EXPECT_EQ(web["replicas"], 2);
    EXPECT_EQ(web["ready"], 1);
    EXPECT_EQ(web["application"], "default.application");
    EXPECT_EQ(web["containers"], json::parse(R"([{"name":"app","image":"registry.example/app:1"}])"));
    EXPECT_EQ(web["dev_mode"], false);
    json solo = find(all, "Pod", "solo");
    EXPECT_EQ(solo["ready"], 1);
    EXPECT_EQ(solo["replicas"], 1);
    EXPECT_EQ(solo["phase"], "Running");
}

TEST(TreeEntries, RelistAfterGoneDeliversOnlyTheDifference) {
    Fixture f;
    f.t.reset(f.deploys, json::array({deployment("web", 2, 2), deployment("api", 1, 1), deployment("old", 1, 1)}));
    json relisted = {{"items", json::array({deployment("web", 3, 2), deployment("api", 1, 1), deployment("new", 1, 0)})}};
    auto changes = f.t.apply(f.deploys, kube::WatchEvent::Relisted, relisted);
    ASSERT_EQ(changes.size(), 3u);
    std::map<std::string, ChangeType> by_name;
    for (auto &c : changes) by_name[c.entry["name"]] = c.type;
    EXPECT_EQ(by_name["web"], ChangeType::Modified);
    EXPECT_EQ(by_name["new"], ChangeType::Added);
    EXPECT_EQ(by_name["old"], ChangeType::Deleted);
    EXPECT_EQ(by_name.count("api"), 0u) << "unchanged entries are not reported";
}

TEST(TreeEntries, SessionRecordAndDevPodChangeTheWorkloadsEntry) {
    Fixture f;
    f.t.reset(f.deploys, json::array({deployment("web", 1, 1)}));
    auto c = f.t.apply(f.sessions, kube::WatchEvent::Added, session_record("web", "s1"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].type, ChangeType::Modified);
    json dev = c[0].entry["dev"];
    ASSERT_EQ(dev.size(), 1u);
    EXPECT_EQ(dev[0]["tool"], "libnocalhost");
    EXPECT_EQ(dev[0]["mode"], "replace");
    EXPECT_EQ(dev[0]["owner"], "alice@laptop/42");
    EXPECT_EQ(dev[0]["pod"], nullptr);
    EXPECT_EQ(c[0].entry.dump().find("secret-token"), std::string::npos) << "the sync token never shows";

    c = f.t.apply(f.pods, kube::WatchEvent::Added, pod("web-dev", true, {{dev::kSessionIdAnnotation, "s1"}}));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].entry["dev"][0]["pod"]["name"], "web-dev");
    EXPECT_EQ(c[0].entry["dev"][0]["pod"]["phase"], "Running");
    EXPECT_EQ(c[0].entry["dev"][0]["pod"]["ready"], true);

    c = f.t.apply(f.pods, kube::WatchEvent::Added, pod("other", true, {{dev::kSessionIdAnnotation, "s2"}}));
    EXPECT_TRUE(c.empty()) << "a pod of another session changes nothing";

    c = f.t.apply(f.pods, kube::WatchEvent::Deleted, pod("web-dev", true, {{dev::kSessionIdAnnotation, "s1"}}));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].entry["dev"][0]["pod"], nullptr);

    c = f.t.apply(f.sessions, kube::WatchEvent::Deleted, session_record("web", "s1"));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].entry["dev_mode"], false);
}

TEST(TreeEntries, NhctlDevModeShows) {
    Fixture f;
    json d = deployment("legacy", 1, 1);
    d["metadata"]["annotations"][dev::kNhctlOriginAnnotation] = "{}";
    d["spec"]["template"]["spec"]["containers"][0] = {{"name", "nocalhost-dev"}, {"image", "golang:1.22"}};
    auto c = f.t.apply(f.deploys, kube::WatchEvent::Added, d);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].entry["dev_mode"], true);
    EXPECT_EQ(c[0].entry["dev"][0]["tool"], "nhctl");
    EXPECT_EQ(c[0].entry["dev"][0]["image"], "golang:1.22");
}

TEST(TreeApplication, NocalhostAnnotationThenLabelThenHelmThenDefault) {
    json o = {{"metadata", {{"annotations", {{"meta.helm.sh/release-name", "rel"}}}}}};
    EXPECT_EQ(tree::application_of(o), "rel");
    o["metadata"]["labels"]["dev.nocalhost/application-name"] = "by-label";
    EXPECT_EQ(tree::application_of(o), "by-label");
    o["metadata"]["annotations"]["dev.nocalhost/application-name"] = "bookinfo";
    EXPECT_EQ(tree::application_of(o), "bookinfo");
    EXPECT_EQ(tree::application_of(json::object()), "default.application");
}

TEST(TreeLabelSelector, MatchesAsTheApiServer) {
    json o = {{"metadata", {{"labels", {{"app", "web"}, {"tier", "a"}}}}}};
    EXPECT_TRUE(tree::LabelSelector("").matches(o));
    EXPECT_TRUE(tree::LabelSelector("app=web").matches(o));
    EXPECT_TRUE(tree::LabelSelector("app==web, tier in (a,b),!legacy").matches(o));
    EXPECT_FALSE(tree::LabelSelector("app!=web").matches(o));
    EXPECT_FALSE(tree::LabelSelector("tier notin (a)").matches(o));
    EXPECT_TRUE(tree::LabelSelector("tier").matches(o));
    EXPECT_FALSE(tree::LabelSelector("legacy").matches(o));
    EXPECT_FALSE(tree::LabelSelector("app=api").matches(o));
    for (const char *bad : {"app in web", "tier in (a", ",", "a b c"}) {
        try {
            tree::LabelSelector s(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error &e) {
            EXPECT_EQ(e.code(), NH_EINVAL) << bad;
        }
    }
}
