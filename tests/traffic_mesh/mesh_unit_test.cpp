// Header routing without a cluster: the header and router rules, and the error of a cluster
// that serves no mesh API, asked of a loopback API server before anything changes.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "common/error.hpp"
#include "dev/session.hpp"
#include "kube/kubeconfig.hpp"
#include "loopback_server.hpp"
#include "traffic/routing.hpp"

using nh::test::HttpRequest;
using nh::test::HttpResponse;
using nh::test::LoopbackServer;
using nh::traffic::parse_headers;

namespace {

int code_of(const std::function<void()> &f, std::string *message = nullptr) {
    try {
        f();
    } catch (const nh::Error &e) {
        if (message) *message = e.what();
        return e.code();
    }
    return NH_OK;
}

}  // namespace

TEST(MeshHeaders, NamesAreTokensLowerCasedAndValuesVisibleAscii) {
    auto h = parse_headers({"X-Dev=alice", "x-tenant=a b\tc", "baggage=k=v"});
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(h[0].name, "x-dev");
    EXPECT_EQ(h[0].value, "alice");
    EXPECT_EQ(h[1].value, "a b\tc");
    EXPECT_EQ(h[2].name, "baggage") << "the first '=' splits";
    EXPECT_EQ(h[2].value, "k=v");
    EXPECT_EQ(parse_headers({"!#$%&'*+-.^_`|~09az=1"})[0].name, "!#$%&'*+-.^_`|~09az");
}

TEST(MeshHeaders, BadEntriesAreRefusedSayingWhy) {
    struct Case {
        std::string entry, says;
    };
    const std::vector<Case> cases = {
        {"x-dev", "expected NAME=VALUE"},
        {"=alice", "the name is empty"},
        {"x dev=alice", "HTTP token"},
        {"x:dev=alice", "HTTP token"},
        {":authority=a", "HTTP token"},
        {"x-dév=alice", "HTTP token"},
        {"x-dev=", "the value is empty"},
        {"x-dev=al\nice", "visible ASCII"},
        {"x-dev=al\x7fice", "visible ASCII"},
        {"x-dev=caf\xc3\xa9", "visible ASCII"},
        {"x-dev= alice", "whitespace"},
        {"x-dev=alice\t", "whitespace"},
        {"x-dev=" + std::string(257, 'a'), "longer than 256"},
        {std::string(257, 'h') + "=a", "longer than 256"},
    };
    for (const auto &c : cases) {
        std::string msg;
        EXPECT_EQ(code_of([&] { parse_headers({c.entry}); }, &msg), NH_EINVAL) << c.entry;
        EXPECT_NE(msg.find(c.says), std::string::npos) << c.entry << ": " << msg;
    }
    std::string msg;
    EXPECT_EQ(code_of([&] { parse_headers({"X-Dev=a", "x-dev=b"}); }, &msg), NH_EINVAL);
    EXPECT_NE(msg.find("given twice"), std::string::npos) << msg;
}

TEST(MeshRouter, UnknownChoiceListsTheValidOnes) {
    std::string msg;
    EXPECT_EQ(code_of([&] { nh::traffic::check_router_choice("linkerd"); }, &msg), NH_EINVAL);
    EXPECT_NE(msg.find("auto, istio, gateway-api"), std::string::npos) << msg;
    for (const char *ok : {"", "auto", "istio", "gateway-api"}) EXPECT_EQ(code_of([&] { nh::traffic::check_router_choice(ok); }), NH_OK);
}

// An API server that serves the core API only (no networking.istio.io, no
// gateway.networking.k8s.io), recording every request.
class NoMeshServer {
public:
    NoMeshServer()
        : server_([this](const HttpRequest &r) {
              {
                  std::lock_guard<std::mutex> l(m_);
                  requests_.push_back(r.method + " " + r.target);
              }
              // Nothing is served (the mesh groups included): no request may get further.
              HttpResponse resp;
              resp.status = 404;
              resp.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})";
              return resp;
          }) {}

    std::unique_ptr<nh::kube::Client> client() {
        auto cfg = nh::kube::load_from_strings({{"/test/config", nh::test::plain_kubeconfig(server_.url())}}, {});
        cfg.ns = "demo";
        nh::kube::ClientOptions o;
        o.max_retries = 0;
        o.timeout = std::chrono::milliseconds(3000);
        return std::make_unique<nh::kube::Client>(cfg, o);
    }
    std::vector<std::string> requests() {
        std::lock_guard<std::mutex> l(m_);
        return requests_;
    }

private:
    std::mutex m_;
    std::vector<std::string> requests_;
    LoopbackServer server_;
};

TEST(MeshRouter, NoMeshApiIsAClearErrorBeforeAnythingChanges) {
    NoMeshServer api;
    auto c = api.client();
    for (const char *choice : {"", "auto", "istio", "gateway-api"}) {
        std::string msg;
        EXPECT_EQ(code_of([&] { nh::traffic::resolve_router(*c, choice, nullptr); }, &msg), NH_ESTATE) << choice;
        const std::string choice_s = choice;
        if (choice_s != "gateway-api") {
            EXPECT_NE(msg.find("networking.istio.io/v1 VirtualService"), std::string::npos) << msg;
        }
        if (choice_s != "istio") {
            EXPECT_NE(msg.find("gateway.networking.k8s.io/v1 HTTPRoute"), std::string::npos) << msg;
        }
    }

    // A duplicate start with headers fails the same way, having only asked.
    nh::dev::StartOptions o;
    o.name = "web";
    o.image = "registry.example/dev:1";
    o.mode = nh::dev::Mode::Duplicate;
    o.developer = "alice@laptop";
    o.headers = {"x-dev=alice"};
    std::string msg;
    EXPECT_EQ(code_of([&] { nh::dev::start(*c, o); }, &msg), NH_ESTATE);
    EXPECT_NE(msg.find("needs a service mesh"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was changed"), std::string::npos) << msg;
    for (const auto &r : api.requests()) EXPECT_EQ(r.rfind("GET ", 0), 0u) << "a request that changes something: " << r;
}

TEST(MeshRouter, HeadersNeedDuplicateModeAndARouterNeedsHeaders) {
    NoMeshServer api;
    auto c = api.client();
    nh::dev::StartOptions o;
    o.name = "web";
    o.image = "registry.example/dev:1";
    o.headers = {"x-dev=alice"};
    std::string msg;
    EXPECT_EQ(code_of([&] { nh::dev::start(*c, o); }, &msg), NH_EINVAL);
    EXPECT_NE(msg.find("needs duplicate mode"), std::string::npos) << msg;
    o.mode = nh::dev::Mode::Duplicate;
    o.headers.clear();
    o.router = "istio";
    EXPECT_EQ(code_of([&] { nh::dev::start(*c, o); }, &msg), NH_EINVAL);
    EXPECT_NE(msg.find("no header to route"), std::string::npos) << msg;
    o.headers = {"x dev=alice"};
    EXPECT_EQ(code_of([&] { nh::dev::start(*c, o); }, &msg), NH_EINVAL);
    EXPECT_TRUE(api.requests().empty()) << "refused before any request";
}
