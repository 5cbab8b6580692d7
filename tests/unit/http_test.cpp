// The REST client against a loopback HTTP server: retries, typed errors,
// credentials, cancellation and watches.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "kube/client.hpp"
#include "loopback_server.hpp"
#include "error_code.hpp"
#include "test_support.hpp"

using namespace nh::test;
using nh::kube::Client;
using nh::kube::Request;

namespace {

std::unique_ptr<Client> client_for(const LoopbackServer &s, int retries = 3,
                                   const std::string &user = "{token: t0k3n}") {
    auto cfg = nh::kube::load_from_strings({{"/test/config", plain_kubeconfig(s.url(), user)}}, {});
    nh::kube::ClientOptions o;
    o.max_retries = retries;
    o.timeout = std::chrono::milliseconds(3000);
    return std::make_unique<Client>(cfg, o);
}

LoopbackServer https_server(LoopbackServer::Handler h) { return https_loopback(std::move(h)); }

std::unique_ptr<Client> tls_client_for(const LoopbackServer &s, const std::string &user = "{token: t0k3n}",
                                       int retries = 3) {
    auto cfg = nh::kube::load_from_strings(
        {{"/test/config", tls_kubeconfig(s.url(), loopback_cert_dir() + "/server.crt", user)}}, {});
    nh::kube::ClientOptions o;
    o.max_retries = retries;
    o.timeout = std::chrono::milliseconds(3000);
    return std::make_unique<Client>(cfg, o);
}

std::string auth_of(const HttpRequest &r) {
    auto it = r.headers.find("authorization");
    return it == r.headers.end() ? "(none)" : it->second;
}

HttpResponse echo_auth(const HttpRequest &r) {
    HttpResponse resp;
    resp.body = nlohmann::json{{"auth", auth_of(r)}}.dump();
    return resp;
}

std::string status_json(int code, const std::string &reason, const std::string &message) {
    return R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":")" + message +
           R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

using nh::test::code_of;

}  // namespace

TEST(Http, SendsBearerTokenAndJson) {
    auto s = https_server([](const HttpRequest &r) {
        HttpResponse resp;
        resp.body = R"({"ok":true,"auth":")" + r.headers.at("authorization") + R"(","ct":")" +
                    (r.headers.count("content-type") ? r.headers.at("content-type") : "") + "\"}";
        return resp;
    });
    auto c = tls_client_for(s);
    auto j = c->patch("/api/v1/x", nh::kube::PatchType::StrategicMerge, "{}");
    EXPECT_EQ(j["auth"], "Bearer t0k3n");
    EXPECT_EQ(j["ct"], "application/strategic-merge-patch+json");
}

TEST(Http, StatusObjectsBecomeTypedErrors) {
    struct Case {
        int status;
        const char *reason;
        int code;
    } cases[] = {{404, "NotFound", NH_ENOTFOUND},       {409, "AlreadyExists", NH_EEXISTS},
                 {409, "Conflict", NH_ECONFLICT},       {403, "Forbidden", NH_EFORBIDDEN},
                 {401, "Unauthorized", NH_EUNAUTHORIZED}, {422, "Invalid", NH_EINVALID},
                 {410, "Expired", NH_EGONE},            {400, "BadRequest", NH_EINVALID}};
    for (auto &k : cases) {
        LoopbackServer s([&](const HttpRequest &) {
            HttpResponse r;
            r.status = k.status;
            r.body = status_json(k.status, k.reason, "configmaps \\\"x\\\" is special");
            return r;
        });
        auto c = client_for(s);
        try {
            c->get("/api/v1/namespaces/ns1/configmaps/x");
            ADD_FAILURE() << "no error for " << k.reason;
        } catch (const nh::Error &e) {
            EXPECT_EQ(e.code(), k.code) << k.reason;
            EXPECT_EQ(e.http_status(), k.status);
            EXPECT_EQ(e.reason(), k.reason);
            EXPECT_NE(std::string(e.what()).find("configmaps \"x\" is special"), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find("t0k3n"), std::string::npos) << "token leaked";
        }
    }
}

TEST(Http, RetriesServerErrorsOnGetButNotOnPost) {
    std::atomic<int> n{0};
    LoopbackServer s([&](const HttpRequest &) {
        HttpResponse r;
        if (n++ < 2) {
            r.status = 503;
            r.body = status_json(503, "ServiceUnavailable", "busy");
        } else {
            r.body = "{}";
        }
        return r;
    });
    auto c = client_for(s);
    EXPECT_NO_THROW(c->get("/x"));
    EXPECT_EQ(n.load(), 3);
    n = 0;
    EXPECT_EQ(code_of([&] { c->create("/x", {}); }), NH_ESERVER);
    EXPECT_EQ(n.load(), 1);
}

TEST(Http, HonoursRetryAfterOn429ForAnyMethod) {
    std::atomic<int> n{0};
    std::chrono::steady_clock::time_point first, second;
    LoopbackServer s([&](const HttpRequest &) {
        HttpResponse r;
        if (n++ == 0) {
            first = std::chrono::steady_clock::now();
            r.status = 429;
            r.headers.push_back({"Retry-After", "1"});
            r.body = status_json(429, "TooManyRequests", "slow down");
        } else {
            second = std::chrono::steady_clock::now();
            r.status = 201;
            r.body = "{}";
        }
        return r;
    });
    auto c = client_for(s);
    EXPECT_NO_THROW(c->create("/x", {{"a", 1}}));
    EXPECT_EQ(n.load(), 2);
    EXPECT_GE(std::chrono::duration_cast<std::chrono::milliseconds>(second - first).count(), 900);
}

TEST(Http, GivesUpAfterMaxRetries) {
    std::atomic<int> n{0};
    LoopbackServer s([&](const HttpRequest &) {
        ++n;
        HttpResponse r;
        r.status = 500;
        r.body = status_json(500, "InternalError", "boom");
        return r;
    });
    auto c = client_for(s, 2);
    std::string msg;
    EXPECT_EQ(code_of([&] { c->get("/x"); }, &msg), NH_ESERVER);
    EXPECT_EQ(n.load(), 3);
    EXPECT_NE(msg.find("boom"), std::string::npos);
}

TEST(Http, RetriesResetConnectionsOnIdempotentRequests) {
    std::atomic<int> n{0};
    LoopbackServer s([&](const HttpRequest &) {
        HttpResponse r;
        if (n++ == 0) r.drop = true;
        r.body = "{}";
        return r;
    });
    auto c = client_for(s);
    EXPECT_NO_THROW(c->update("/x", {}));
    EXPECT_EQ(n.load(), 2);
}

TEST(Http, AnErrorStatusWithACutBodyIsTheStatusButACutSuccessIsNot) {
    // As a server that answers before reading the whole request, then resets the stream.
    std::atomic<int> status{403};
    LoopbackServer s([&](const HttpRequest &) {
        HttpResponse r;
        r.status = status;
        r.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"forbidden: no","code":403})";
        r.cut = true;
        return r;
    });
    auto c = client_for(s, 1);
    EXPECT_EQ(code_of([&] { c->create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {}); }), NH_EFORBIDDEN);
    status = 200;
    EXPECT_EQ(code_of([&] { c->create("/x", {}); }), NH_ECONNECT) << "half an object is not an answer";
}

TEST(Http, UnreachableServerIsAConnectError) {
    int port;
    {
        LoopbackServer s([](const HttpRequest &) { return HttpResponse{}; });
        port = s.port();
    }
    auto cfg = nh::kube::load_from_strings(
        {{"/c", plain_kubeconfig("http://127.0.0.1:" + std::to_string(port))}}, {});
    nh::kube::ClientOptions o;
    o.max_retries = 1;
    Client c(cfg, o);
    std::string msg;
    EXPECT_EQ(code_of([&] { c.get("/version"); }, &msg), NH_ECONNECT);
    EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
}

TEST(Http, SlowServerTimesOut) {
    LoopbackServer s([](const HttpRequest &) {
        HttpResponse r;
        r.delay = std::chrono::milliseconds(1500);
        return r;
    });
    auto c = client_for(s, 0);
    Request req;
    req.path = "/slow";
    req.timeout = std::chrono::milliseconds(300);
    EXPECT_EQ(code_of([&] { c->request(req); }), NH_ETIMEOUT);
}

TEST(Http, CancelStopsABlockedRequestPromptly) {
    LoopbackServer s([](const HttpRequest &) {
        HttpResponse r;
        r.delay = std::chrono::milliseconds(2500);
        return r;
    });
    auto c = client_for(s, 0);
    nh::CancelToken cancel;
    Request req;
    req.path = "/slow";
    req.cancel = &cancel;
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cancel.trigger();
    });
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(code_of([&] { c->request(req); }), NH_ECANCELLED);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(ms, 1000);
    t.join();
}

TEST(Http, ExecPluginRunsOnceAndAgainAfter401) {
    TempDir dir;
    std::string counter = dir / "count";
    write_file(dir / "plugin.sh", "#!/bin/sh\necho x >> '" + counter + "'\n"
               "n=$(wc -l < '" + counter + "')\n"
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
               "\"status\":{\"token\":\"plugin-token-'$n'\"}}'\n");
    chmod((dir / "plugin.sh").c_str(), 0755);
    std::atomic<int> unauthorized{0};
    auto s = https_server([&](const HttpRequest &r) {
        HttpResponse resp;
        // The first token the plugin hands out is "revoked" after two requests.
        if (r.headers.at("authorization") == "Bearer plugin-token-1" && unauthorized++ >= 2) {
            resp.status = 401;
            resp.body = status_json(401, "Unauthorized", "Unauthorized");
            return resp;
        }
        resp.body = R"({"auth":")" + r.headers.at("authorization") + "\"}";
        return resp;
    });
    auto c = tls_client_for(s, "{exec: {apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never, command: '" +
                                   dir / "plugin.sh" + "'}}",
                            1);
    EXPECT_EQ(c->get("/a")["auth"], "Bearer plugin-token-1");
    EXPECT_EQ(c->get("/b")["auth"], "Bearer plugin-token-1");
    EXPECT_EQ(c->get("/c")["auth"], "Bearer plugin-token-2");
    EXPECT_EQ(read_file(counter), "x\nx\n");
}

TEST(Http, WatchDeliversEventsAndResumesFromLastResourceVersion) {
    std::atomic<int> watches{0};
    std::vector<std::string> targets;
    std::mutex mu;
    LoopbackServer s([&](const HttpRequest &r) {
        {
            std::lock_guard lock(mu);
            targets.push_back(r.target);
        }
        HttpResponse resp;
        if (r.target.find("watch=1") == std::string::npos) {
            resp.body = R"({"kind":"ConfigMapList","metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"a","resourceVersion":"9"}}]})";
            return resp;
        }
        int w = watches++;
        if (w == 0) {
            resp.chunks = {R"({"type":"ADDED","object":{"metadata":{"name":"b","resourceVersion":"11"}}})" "\n",
                           R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}})" "\n"};
        } else if (w == 1) {
            // Too old: the client must list again.
            resp.chunks = {R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})" "\n"};
        } else {
            resp.chunks = {R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"13"}}})" "\n"};
        }
        return resp;
    });
    auto c = client_for(s);
    std::vector<std::pair<int, std::string>> events;
    nh::kube::WatchParams p;
    p.path = "/api/v1/namespaces/ns1/configmaps";
    c->watch(p, [&](nh::kube::WatchEvent t, const nlohmann::json &o) {
        events.emplace_back(static_cast<int>(t), o.contains("metadata") ? o["metadata"].value("name", "") : "");
        return events.size() < 4;
    });
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0], std::make_pair(1, std::string("a")));  // initial list
    EXPECT_EQ(events[1], std::make_pair(1, std::string("b")));  // ADDED
    EXPECT_EQ(events[2].first, 4);                               // RELISTED after 410
    EXPECT_EQ(events[3], std::make_pair(3, std::string("a")));  // DELETED
    std::lock_guard lock(mu);
    // The second watch resumed from the bookmark's resourceVersion.
    ASSERT_GE(targets.size(), 3u);
    EXPECT_NE(targets[2].find("resourceVersion=12"), std::string::npos) << targets[2];
}

TEST(Http, WatchForbiddenFailsFast) {
    LoopbackServer s([](const HttpRequest &) {
        HttpResponse r;
        r.status = 403;
        r.body = status_json(403, "Forbidden", "configmaps is forbidden: User \\\"x\\\" cannot watch");
        return r;
    });
    auto c = client_for(s);
    nh::kube::WatchParams p;
    p.path = "/api/v1/configmaps";
    p.resource_version = "1";
    std::string msg;
    EXPECT_EQ(code_of([&] { c->watch(p, [](auto, auto &) { return true; }); }, &msg), NH_EFORBIDDEN);
    EXPECT_NE(msg.find("cannot watch"), std::string::npos);
}

// --- credentials travel only over TLS (as client-go sends them) -------------------------

TEST(HttpAuth, NoCredentialOfAnyKindGoesOverPlainHttp) {
    TempDir dir;
    write_file(dir / "tok", "file-token\n");
    std::string ran = dir / "plugin-ran";
    write_file(dir / "plugin.sh", "#!/bin/sh\ntouch '" + ran + "'\n"
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
               "\"status\":{\"token\":\"plugin-token\"}}'\n");
    chmod((dir / "plugin.sh").c_str(), 0755);
    LoopbackServer s(echo_auth);
    for (const std::string &user : std::vector<std::string>{"{token: t0k3n}", "{tokenFile: '" + dir / "tok" + "'}", "{username: alice, password: pw}",
                             "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '" + dir / "plugin.sh" + "'}}"}) {
        auto c = client_for(s, 0, user);
        EXPECT_EQ(c->get("/api")["auth"], "(none)") << user;
    }
    EXPECT_FALSE(std::filesystem::exists(ran)) << "the exec plugin ran for a plain-http server";
    // Credentials embedded in an http:// server URL are not sent either.
    auto cfg = nh::kube::load_from_strings(
        {{"/c", plain_kubeconfig("http://alice:pw@127.0.0.1:" + std::to_string(s.port()), "{}")}}, {});
    Client c(cfg);
    EXPECT_EQ(c.get("/api")["auth"], "(none)");
}

TEST(HttpAuth, AHandBuiltConfigStillSendsNothingOverPlainHttp) {
    // Even a RestConfig that was not made by the loader (and so kept its token) is safe.
    LoopbackServer s(echo_auth);
    nh::kube::RestConfig cfg;
    cfg.server = s.url();
    cfg.token = "t0k3n";
    Client c(cfg);
    EXPECT_EQ(c.get("/api")["auth"], "(none)");
    cfg.token.clear();
    cfg.username = "alice";
    cfg.password = "pw";
    Client b(cfg);
    EXPECT_EQ(b.get("/api")["auth"], "(none)");
}

TEST(HttpAuth, EachKindOfCredentialGoesOverTls) {
    auto s = https_server(echo_auth);
    EXPECT_EQ(tls_client_for(s)->get("/api")["auth"], "Bearer t0k3n");
    EXPECT_EQ(tls_client_for(s, "{username: alice, password: pw}")->get("/api")["auth"],
              "Basic " + nh::base64::encode("alice:pw"));
    // The URL's user and password are basic auth when the user has no credential of its own.
    std::string server = "https://alice:pw@127.0.0.1:" + std::to_string(s.port());
    auto cfg = nh::kube::load_from_strings(
        {{"/c", tls_kubeconfig(server, loopback_cert_dir() + "/server.crt", "{}")}}, {});
    Client c(cfg);
    EXPECT_EQ(c.get("/api")["auth"], "Basic " + nh::base64::encode("alice:pw"));
}

TEST(HttpAuth, TokenFileWinsOverTokenAndIsReadAgainWhenRejected) {
    TempDir dir;
    write_file(dir / "tok", "from-file\n");
    auto s = https_server([&](const HttpRequest &r) {
        if (auth_of(r) == "Bearer from-file" && r.target == "/revoked") {
            HttpResponse resp;
            resp.status = 401;
            resp.body = status_json(401, "Unauthorized", "Unauthorized");
            return resp;
        }
        return echo_auth(r);
    });
    auto c = tls_client_for(s, "{token: static-token, tokenFile: '" + dir / "tok" + "'}");
    EXPECT_EQ(c->get("/api")["auth"], "Bearer from-file");
    write_file(dir / "tok", "rotated\n");
    EXPECT_EQ(c->get("/revoked")["auth"], "Bearer rotated");
    EXPECT_EQ(c->get("/api")["auth"], "Bearer rotated");
}

TEST(HttpAuth, ATokenTakesPrecedenceOverAnExecPlugin) {
    TempDir dir;
    std::string ran = dir / "plugin-ran";
    write_file(dir / "plugin.sh", "#!/bin/sh\ntouch '" + ran + "'\n"
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
               "\"status\":{\"token\":\"plugin-token\"}}'\n");
    chmod((dir / "plugin.sh").c_str(), 0755);
    auto s = https_server(echo_auth);
    auto c = tls_client_for(s, "{token: t0k3n, exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: '" +
                                   dir / "plugin.sh" + "'}}");
    EXPECT_EQ(c->get("/api")["auth"], "Bearer t0k3n");
    EXPECT_FALSE(std::filesystem::exists(ran));
}

TEST(HttpAuth, AServerWithoutSchemeIsReachedOverPlainHttpWithoutCredentials) {
    LoopbackServer s(echo_auth);
    auto cfg = nh::kube::load_from_strings(
        {{"/c", plain_kubeconfig("127.0.0.1:" + std::to_string(s.port()))}}, {});
    Client c(cfg);
    EXPECT_EQ(c.get("/api")["auth"], "(none)");
    EXPECT_EQ(s.requests(), 1);
}

// --- URL credentials never appear in messages -------------------------------------------

TEST(HttpAuth, UrlCredentialsAreNotInTransportErrors) {
    int port;
    {
        LoopbackServer gone([](const HttpRequest &) { return HttpResponse{}; });
        port = gone.port();
    }
    nh::kube::ClientOptions o;
    o.max_retries = 0;
    o.timeout = std::chrono::milliseconds(2000);
    for (const std::string &server : std::vector<std::string>{"https://alice:s3cretpw@127.0.0.1:" + std::to_string(port),
                               "http://alice:s3cretpw@127.0.0.1:" + std::to_string(port)}) {
        auto cfg = nh::kube::load_from_strings({{"/c", plain_kubeconfig(server, "{}")}}, {});
        EXPECT_EQ(cfg.server.find("s3cretpw"), std::string::npos) << cfg.server;
        Client c(cfg, o);
        std::string msg;
        EXPECT_EQ(code_of([&] { c.get("/version"); }, &msg), NH_ECONNECT);
        EXPECT_EQ(msg.find("s3cretpw"), std::string::npos) << msg;
        EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
    }
    // Nor the proxy's.
    auto cfg = nh::kube::load_from_strings(
        {{"/c", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', proxy-url: 'http://pu:pr0xypw@127.0.0.1:" +
                    std::to_string(port) + "'}\nusers:\n- name: u\n  user: {token: t0k3n}\n"}},
        {});
    Client c(cfg, o);
    std::string msg;
    EXPECT_NE(code_of([&] { c.get("/version"); }, &msg), NH_OK);
    EXPECT_EQ(msg.find("pr0xypw"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("t0k3n"), std::string::npos) << msg;
}
