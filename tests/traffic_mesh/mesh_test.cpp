// Header routing to a developer's copy on the test cluster: the Istio and Gateway API CRDs
// (scripts/mesh-crds) installed, no mesh running, kwok pods. What a duplicate start with
// headers creates (field by field), that the end leaves the routing objects exactly as they
// were (a VirtualService of the Service's own included, minus what the server maintains), two
// developers at once, a crash and a failure mid-start, and the Gateway API.
#include <set>

#include "dev_fixture.hpp"
#include "traffic/routing.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

// The CRDs installed once per test binary (idempotent; left in place for others).
// Empty: installed; otherwise why not.
std::string install_mesh_crds(const std::string &kubeconfig) {
    static std::string why = [&] {
        CliRun dir = run_shell(std::string("'") + NH_SOURCE_DIR + "/scripts/mesh-crds' 2>&1 | tail -1");
        std::string d = dir.out;
        while (!d.empty() && (d.back() == '\n' || d.back() == '\r')) d.pop_back();
        if (dir.code != 0 || d.empty() || d[0] != '/') return "scripts/mesh-crds failed: " + dir.out;
        CliRun apply = run_shell("kubectl --kubeconfig '" + kubeconfig + "' apply --server-side --force-conflicts -f '" + d +
                                 "' >/dev/null 2>&1 && kubectl --kubeconfig '" + kubeconfig +
                                 "' wait --for condition=established --timeout=60s "
                                 "crd/virtualservices.networking.istio.io crd/httproutes.gateway.networking.k8s.io 2>&1");
        if (apply.code != 0) return "installing the CRDs failed: " + apply.out;
        return std::string();
    }();
    return why;
}

std::string vs_path(const std::string &ns, const std::string &name = "") {
    return "/apis/networking.istio.io/v1/namespaces/" + ns + "/virtualservices" + (name.empty() ? "" : "/" + name);
}
std::string hr_path(const std::string &ns, const std::string &name = "") {
    return "/apis/gateway.networking.k8s.io/v1/namespaces/" + ns + "/httproutes" + (name.empty() ? "" : "/" + name);
}

// An object without what the server maintains.
json comparable(json o) {
    for (const char *f : {"resourceVersion", "managedFields", "generation"}) o["metadata"].erase(f);
    return o;
}

}  // namespace

class MeshTest : public DevTest {
protected:
    void SetUp() override {
        DevTest::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        const std::string why = install_mesh_crds(kubeconfig);
        if (!why.empty()) {
            // scripts/test gathers the CRDs before the tests: there, a missing bundle is a failure.
            if (std::getenv("CI")) FAIL() << why;
            GTEST_SKIP() << why << " (scripts/test runs scripts/mesh-crds)";
        }
        create(sample_deployment("web", 1));
        json svc = {{"apiVersion", "v1"},
                    {"kind", "Service"},
                    {"metadata", {{"name", "web"}}},
                    {"spec",
                     {{"selector", {{"app", "web"}}},
                      {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}}, {{"name", "metrics"}, {"port", 9090}}}}}}};
        kube->create(services(), svc);
        // A Service of another workload, and one selecting more than the pods carry: never routed.
        json other = svc;
        other["metadata"]["name"] = "other";
        other["spec"]["selector"] = {{"app", "web"}, {"tier", "frontend"}};
        kube->create(services(), other);
        wait_ready(Kind::Deployment, "web", 1);
        web_svc = kube->get(services() + "/web");
    }

    std::string services() { return "/api/v1/namespaces/" + ns + "/services"; }

    nh_session *start_routed(const char *developer, std::vector<const char *> headers, const char *router = nullptr,
                             int expect = NH_OK) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.container = "app";
        o.image = "registry.example/dev:1";
        o.sidecar_image = "registry.example/nhsyncd:test";
        o.timeout_ms = 60000;
        o.mode = NH_DEV_MODE_DUPLICATE;
        o.developer = developer;
        o.headers = headers.data();
        o.headers_count = headers.size();
        o.router = router;
        nh_session *s = nullptr;
        int rc = nh_dev_start(&s, client, "deployment", "web", &o);
        EXPECT_EQ(rc, expect) << (rc ? nh_error_last()->message : "");
        return s;
    }

    void end_routed(const char *developer, int force = 0) {
        nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
        o.mode = NH_DEV_MODE_DUPLICATE;
        o.developer = developer;
        o.force = force;
        int result = -1;
        EXPECT_EQ(nh_dev_end(&result, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
        EXPECT_EQ(result, NH_DEV_END_RESTORED);
    }

    json status(const char *developer) {
        nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
        q.mode = NH_DEV_MODE_DUPLICATE;
        q.developer = developer;
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_dev_status(&b, client, "deployment", "web", &q), NH_OK) << nh_error_last()->message;
        json j = json::parse(b.ptr ? b.ptr : "null");
        nh_buf_dispose(&b);
        return j;
    }

    // The session id of a developer's routing: from the label on the copy's Service.
    std::string route_session(const std::string &copy) {
        json l = kube->get(services() + "?labelSelector=" + nh::kube::url_escape(nh::traffic::kRouteSessionLabel));
        for (const auto &s : l["items"])
            if (s["spec"]["selector"].value(nh::dev::kGeneratedLabel, "") == nh::dev::label_value(copy))
                return s["metadata"]["labels"][nh::traffic::kRouteSessionLabel];
        return "";
    }

    // The copy's Service: its own selector, the original's ports.
    void expect_copy_service(const std::string &sid, const std::string &copy) {
        json s = kube->get(services() + "/nh-" + sid + "-web");
        EXPECT_EQ(s["metadata"]["labels"], json({{nh::traffic::kRouteSessionLabel, sid}}));
        EXPECT_EQ(s["spec"]["selector"], json({{nh::dev::kGeneratedLabel, nh::dev::label_value(copy)}}));
        ASSERT_EQ(s["spec"]["ports"].size(), 2u);
        EXPECT_EQ(s["spec"]["ports"][0]["name"], "http");
        EXPECT_EQ(s["spec"]["ports"][0]["port"], 80);
        EXPECT_EQ(s["spec"]["ports"][0]["targetPort"], 8080);
        EXPECT_EQ(s["spec"]["ports"][1]["name"], "metrics");
        EXPECT_EQ(s["spec"]["ports"][1]["port"], 9090);
        EXPECT_EQ(s["spec"]["ports"][1]["targetPort"], 9090);
    }

    // The developer's routes in a VirtualService, one per port of Service web.
    static json istio_routes(const std::string &sid, const std::string &header, const std::string &value) {
        json routes = json::array();
        for (int port : {80, 9090})
            routes.push_back({{"name", "nh-" + sid + "-web-" + std::to_string(port)},
                              {"match", {{{"headers", {{header, {{"exact", value}}}}}, {"port", port}}}},
                              {"route", {{{"destination", {{"host", "nh-" + sid + "-web"}, {"port", {{"number", port}}}}}}}}});
        return routes;
    }

    // Nothing of header routing left in the namespace, and Service web as it was.
    void expect_no_routing() {
        json l = kube->get(services() + "?labelSelector=" + nh::kube::url_escape(nh::traffic::kRouteSessionLabel));
        EXPECT_TRUE(l["items"].empty()) << "a copy's Service left behind: " << l["items"].dump();
        EXPECT_TRUE(kube->get(hr_path(ns))["items"].empty()) << "an HTTPRoute left behind";
        EXPECT_EQ(comparable(kube->get(services() + "/web")), comparable(web_svc));
    }

    json web_svc;
};

TEST_F(MeshTest, IstioRoutesTheHeaderToTheCopyAndEndLeavesNoVirtualService) {
    nh_session *s = start_routed("alice@laptop", {"X-Dev=alice"});
    ASSERT_NE(s, nullptr);
    const std::string copy = nh_session_workload(s);
    nh_session_free(s);
    const std::string sid = route_session(copy);
    ASSERT_FALSE(sid.empty()) << "no Service of the copy";
    expect_copy_service(sid, copy);
    EXPECT_FALSE(exists(services() + "/nh-" + sid + "-other")) << "Service other does not select web's pods";

    // No VirtualService for web before: one of the routing's own, the developer's routes first,
    // all other requests to the original.
    json items = kube->get(vs_path(ns))["items"];
    ASSERT_EQ(items.size(), 1u);
    const json &vs = items[0];
    EXPECT_EQ(vs["metadata"]["name"], "nh-web");
    EXPECT_EQ(vs["metadata"]["labels"], json({{nh::traffic::kRouteOwnerLabel, "web"}}));
    json want_http = istio_routes(sid, "x-dev", "alice");
    want_http.push_back({{"name", "nh-default"}, {"route", {{{"destination", {{"host", "web"}}}}}}});
    EXPECT_EQ(vs["spec"], json({{"hosts", {"web"}}, {"http", want_http}})) << vs["spec"].dump(2);

    json st = status("alice@laptop");
    EXPECT_EQ(st["headers"], json({"x-dev=alice"}));
    EXPECT_EQ(st["router"], "istio");

    end_routed("alice@laptop");
    EXPECT_TRUE(kube->get(vs_path(ns))["items"].empty()) << "the routing's own VirtualService left behind";
    expect_no_routing();
    EXPECT_FALSE(exists(nh::dev::workload_path(Kind::Deployment, ns, copy)));
}

TEST_F(MeshTest, TwoDevelopersInAnExistingVirtualServiceThatIsRestoredExactly) {
    json mine = {{"apiVersion", "networking.istio.io/v1"},
                 {"kind", "VirtualService"},
                 {"metadata", {{"name", "web-routes"}, {"labels", {{"team", "payments"}}}, {"annotations", {{"note", "keep"}}}}},
                 {"spec",
                  {{"hosts", {"web." + ns + ".svc.cluster.local"}},
                   {"http",
                    {{{"name", "beta"},
                      {"match", {{{"uri", {{"prefix", "/beta"}}}}}},
                      {"route", {{{"destination", {{"host", "web"}, {"port", {{"number", 80}}}}}, {"weight", 100}}}},
                      {"timeout", "5s"}},
                     {{"name", "primary"}, {"route", {{{"destination", {{"host", "web"}}}}}}, {"retries", {{"attempts", 3}}}}}}}}};
    kube->create(vs_path(ns), mine);
    const json before = kube->get(vs_path(ns, "web-routes"));

    nh_session *a = start_routed("alice@laptop", {"x-dev=alice", "x-tenant=t1"});
    nh_session *b = start_routed("bob@desk", {"x-dev=bob"}, "istio");
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    const std::string sa = route_session(nh_session_workload(a)), sb = route_session(nh_session_workload(b));
    nh_session_free(a);
    nh_session_free(b);
    ASSERT_FALSE(sa.empty());
    ASSERT_FALSE(sb.empty());
    ASSERT_NE(sa, sb);

    // Changed in place, each developer's routes before the ones that were there; no other VirtualService.
    ASSERT_EQ(kube->get(vs_path(ns))["items"].size(), 1u) << "a second VirtualService for the host";
    json vs = kube->get(vs_path(ns, "web-routes"));
    json alice = istio_routes(sa, "x-dev", "alice");
    for (auto &r : alice) r["match"][0]["headers"]["x-tenant"] = {{"exact", "t1"}};
    json want = istio_routes(sb, "x-dev", "bob");
    for (const auto &r : alice) want.push_back(r);
    for (const auto &r : before["spec"]["http"]) want.push_back(r);
    EXPECT_EQ(vs["spec"]["http"], want) << vs["spec"]["http"].dump(2);
    EXPECT_EQ(vs["spec"]["hosts"], before["spec"]["hosts"]);
    EXPECT_EQ(vs["metadata"]["labels"], before["metadata"]["labels"]);

    // Someone else changes the VirtualService meanwhile: kept.
    json changed = vs;
    changed["spec"]["http"].push_back({{"name", "late"}, {"match", {{{"uri", {{"prefix", "/late"}}}}}},
                                       {"route", {{{"destination", {{"host", "web"}}}}}}});
    changed["metadata"]["annotations"]["added"] = "meanwhile";
    kube->update(vs_path(ns, "web-routes"), changed);

    end_routed("alice@laptop");
    vs = kube->get(vs_path(ns, "web-routes"));
    json after_alice = istio_routes(sb, "x-dev", "bob");
    for (const auto &r : before["spec"]["http"]) after_alice.push_back(r);
    after_alice.push_back(changed["spec"]["http"].back());
    EXPECT_EQ(vs["spec"]["http"], after_alice) << "ending alice leaves bob's route and the others' change";
    EXPECT_EQ(status("bob@desk")["headers"], json({"x-dev=bob"}));

    end_routed("bob@desk");
    json expected = before;
    expected["spec"]["http"].push_back(changed["spec"]["http"].back());
    expected["metadata"]["annotations"]["added"] = "meanwhile";
    EXPECT_EQ(comparable(kube->get(vs_path(ns, "web-routes"))), comparable(expected));
    EXPECT_EQ(kube->get(vs_path(ns))["items"].size(), 1u);
    expect_no_routing();
}

TEST_F(MeshTest, EndAfterNoOtherChangeRestoresTheVirtualServiceFieldByField) {
    json mine = {{"apiVersion", "networking.istio.io/v1"},
                 {"kind", "VirtualService"},
                 {"metadata", {{"name", "web"}}},
                 {"spec", {{"hosts", {"web"}}, {"http", {{{"route", {{{"destination", {{"host", "web"}}}}}}}}}}}};
    kube->create(vs_path(ns), mine);
    const json before = kube->get(vs_path(ns, "web"));
    nh_session *s = start_routed("carol@host", {"x-dev=carol"});
    ASSERT_NE(s, nullptr);
    nh_session_free(s);
    EXPECT_EQ(kube->get(vs_path(ns, "web"))["spec"]["http"].size(), 3u);
    end_routed("carol@host");
    EXPECT_EQ(comparable(kube->get(vs_path(ns, "web"))), comparable(before));
    expect_no_routing();
}

// Thrown by the step hook: passes through the start like a killed process (no rollback).
struct SimulatedCrash {};

TEST_F(MeshTest, ACrashOrFailureMidStartLeavesNothingAfterEndOrRollback) {
    json mine = {{"apiVersion", "networking.istio.io/v1"},
                 {"kind", "VirtualService"},
                 {"metadata", {{"name", "web"}}},
                 {"spec", {{"hosts", {"web"}}, {"http", {{{"name", "all"}, {"route", {{{"destination", {{"host", "web"}}}}}}}}}}}};
    kube->create(vs_path(ns), mine);
    const json before = kube->get(vs_path(ns, "web"));
    nh::dev::StartOptions so;
    so.kind = Kind::Deployment;
    so.ns = ns;
    so.name = "web";
    so.container = "app";
    so.image = "registry.example/dev:1";
    so.sidecar_image = "registry.example/nhsyncd:test";
    so.timeout = std::chrono::milliseconds(60000);
    so.mode = nh::dev::Mode::Duplicate;
    so.developer = "dave@host";
    so.lease_duration = std::chrono::seconds(1);
    so.headers = {"x-dev=dave"};

    // Killed after the record (nothing routed yet) and after the routes: `nh dev end` removes
    // exactly what the record names.
    for (const char *crash_step : {"record", "wait", "route"}) {
        SCOPED_TRACE(crash_step);
        auto dying = kube_client(kubeconfig);
        bool crashed = false;
        try {
            nh::dev::start_observed(*dying, so, [&](const char *step) {
                if (std::string(step) == crash_step) throw SimulatedCrash{};
            });
        } catch (const SimulatedCrash &) {
            crashed = true;
        }
        ASSERT_TRUE(crashed);
        if (std::string(crash_step) == "route") {
            EXPECT_EQ(kube->get(vs_path(ns, "web"))["spec"]["http"].size(), 3u) << "the routes were in place";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the dead start's lease expires
        end_routed("dave@host");
        EXPECT_EQ(comparable(kube->get(vs_path(ns, "web"))), comparable(before));
        expect_no_routing();
    }

    // A start failing after its routes rolls them back.
    auto failing = kube_client(kubeconfig);
    try {
        nh::dev::start_observed(*failing, so, [](const char *step) {
            if (std::string(step) == "route") throw nh::Error(NH_ECANCELLED, "cancelled");
        });
        ADD_FAILURE() << "the start did not fail";
    } catch (const nh::Error &e) {
        EXPECT_NE(std::string(e.what()).find("rolled back"), std::string::npos) << e.what();
    }
    EXPECT_EQ(comparable(kube->get(vs_path(ns, "web"))), comparable(before));
    expect_no_routing();
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, nh::dev::session_object_name(Kind::Deployment, "web",
                                                                               nh::dev::Mode::Duplicate, "dave@host"))));
}

TEST_F(MeshTest, GatewayApiRoutesTheServiceThroughHttpRoutes) {
    nh_session *s = start_routed("erin@host", {"x-dev=erin"}, "gateway-api");
    ASSERT_NE(s, nullptr);
    const std::string copy = nh_session_workload(s);
    nh_session_free(s);
    const std::string sid = route_session(copy);
    ASSERT_FALSE(sid.empty());
    expect_copy_service(sid, copy);
    EXPECT_TRUE(kube->get(vs_path(ns))["items"].empty()) << "gateway-api touches no VirtualService";
    json routes = kube->get(hr_path(ns))["items"];
    ASSERT_EQ(routes.size(), 2u) << "one HTTPRoute per port of Service web";
    std::set<std::string> names;
    for (const auto &r : routes) names.insert(r["metadata"]["name"]);
    EXPECT_EQ(names, (std::set<std::string>{"nh-" + sid + "-web-80", "nh-" + sid + "-web-9090"}));
    json r80 = kube->get(hr_path(ns, "nh-" + sid + "-web-80"));
    EXPECT_EQ(r80["metadata"]["labels"], json({{nh::traffic::kRouteSessionLabel, sid}}));
    json want_spec = {
        {"parentRefs", {{{"group", ""}, {"kind", "Service"}, {"name", "web"}, {"port", 80}}}},
        {"rules",
         {{{"matches", {{{"headers", {{{"type", "Exact"}, {"name", "x-dev"}, {"value", "erin"}}}}}}},
           {"backendRefs", {{{"name", "nh-" + sid + "-web"}, {"port", 80}}}}},
          {{"backendRefs", {{{"name", "web"}, {"port", 80}}}}}}}};
    // The server adds its defaults (path matches, weights, kind/group of backends): ours are all there.
    json got = r80["spec"];
    EXPECT_EQ(got["parentRefs"], want_spec["parentRefs"]);
    ASSERT_EQ(got["rules"].size(), 2u);
    EXPECT_EQ(got["rules"][0]["matches"][0]["headers"], want_spec["rules"][0]["matches"][0]["headers"]);
    EXPECT_EQ(got["rules"][0]["backendRefs"][0]["name"], "nh-" + sid + "-web");
    EXPECT_EQ(got["rules"][0]["backendRefs"][0]["port"], 80);
    EXPECT_EQ(got["rules"][1]["backendRefs"][0]["name"], "web");
    EXPECT_EQ(got["rules"][1]["backendRefs"][0]["port"], 80);
    EXPECT_EQ(status("erin@host")["router"], "gateway-api");

    end_routed("erin@host");
    expect_no_routing();
}

TEST_F(MeshTest, NoServiceOfTheWorkloadIsRefusedBeforeAnythingChanges) {
    kube->remove(services() + "/web");
    kube->remove(services() + "/other");
    nh_session *s = start_routed("frank@host", {"x-dev=frank"}, nullptr, NH_ESTATE);
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(nh_error_last()->message).find("no Service in namespace"), std::string::npos)
        << nh_error_last()->message;
    EXPECT_FALSE(exists(nh::dev::workload_path(Kind::Deployment, ns, nh::dev::duplicate_copy_name("web", "frank@host"))));
    EXPECT_TRUE(kube->get(vs_path(ns))["items"].empty());
}

TEST_F(MeshTest, AccessCheckListsTheRoutingRights) {
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    o.mode = NH_DEV_MODE_DUPLICATE;
    o.image = "registry.example/dev:1";
    const char *headers[] = {"x-dev=g"};
    o.headers = headers;
    o.headers_count = 1;
    for (const char *router : {"istio", "gateway-api"}) {
        o.router = router;
        nh_buf b = NH_BUF_INIT;
        ASSERT_EQ(nh_dev_required_rights(&b, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
        const std::string rules = b.ptr;
        nh_buf_dispose(&b);
        const std::string resource = std::string(router) == "istio" ? "virtualservices" : "httproutes";
        EXPECT_NE(rules.find("\"" + resource + "\""), std::string::npos) << rules;
        EXPECT_NE(rules.find("\"services\""), std::string::npos) << rules;
    }
    o.headers = nullptr;
    o.headers_count = 0;
    o.router = nullptr;
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_required_rights(&b, client, "deployment", "web", &o), NH_OK);
    EXPECT_EQ(std::string(b.ptr).find("virtualservices"), std::string::npos) << "no routing, no routing rights";
    nh_buf_dispose(&b);
}

#ifdef NH_CLI_PATH
TEST_F(MeshTest, CliStartsWithHeadersShowsThemAndEnds) {
    CliRun r = cli("dev start deployment/web --mode duplicate --developer gina@host -c app --image registry.example/dev:1 "
                   "--sidecar-image registry.example/nhsyncd:test --header x-dev=gina --router istio");
    ASSERT_EQ(r.code, 0) << r.out;
    r = cli("dev status deployment/web --mode duplicate --developer gina@host");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("routed:     requests with x-dev=gina (istio)"), std::string::npos) << r.out;
    r = cli("dev start deployment/web --mode duplicate --developer hal@host -c app --image registry.example/dev:1 "
            "--header 'x dev=hal'");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("HTTP token"), std::string::npos) << r.out;
    r = cli("dev end deployment/web --mode duplicate --developer gina@host");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(kube->get(vs_path(ns))["items"].empty());
    expect_no_routing();
}
#endif
