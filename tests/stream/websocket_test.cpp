// Stream logic without a cluster: the upgrade against local servers that refuse
// it, the exec status channel, port-forward channel demultiplexing, targets.
#include <gtest/gtest.h>

#include "kube/client.hpp"
#include "loopback_server.hpp"
#include "stream/exec.hpp"
#include "stream/portforward.hpp"
#include "stream/target.hpp"
#include "stream/websocket.hpp"

using namespace nh::test;
using namespace nh::stream;

namespace {

std::unique_ptr<nh::kube::Client> client_for(const LoopbackServer &s) {
    auto cfg = nh::kube::load_from_strings({{"/test/config", plain_kubeconfig(s.url())}}, {});
    nh::kube::ClientOptions o;
    o.timeout = std::chrono::milliseconds(3000);
    return std::make_unique<nh::kube::Client>(cfg, o);
}

int connect_code(nh::kube::Client &c, std::string *msg = nullptr, std::vector<std::string> protocols = {kExecProtocolV5}) {
    ConnectOptions co;
    co.protocols = std::move(protocols);
    try {
        WebSocket::connect(c, "/api/v1/namespaces/ns1/pods/p/exec?command=true&stdout=true", co);
    } catch (const nh::Error &e) {
        if (msg) *msg = e.what();
        return e.code();
    }
    return NH_OK;
}

}  // namespace

TEST(WebSocketUpgrade, AcceptKeyFollowsRfc6455) {
    EXPECT_EQ(websocket_accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketUpgrade, RequestCarriesAuthAndProtocols) {
    auto s = https_loopback([](const HttpRequest &) {
        HttpResponse r;
        r.status = 403;
        r.body = R"({"kind":"Status","status":"Failure","message":"pods \"p\" is forbidden: no","reason":"Forbidden","code":403})";
        return r;
    });
    nh::kube::Client tls(nh::kube::load_from_strings({{"/test/config", tls_kubeconfig(s.url())}}, {}));
    auto *c = &tls;
    std::string msg;
    EXPECT_EQ(connect_code(*c, &msg, {kExecProtocolV5, kExecProtocolV4}), NH_EFORBIDDEN);
    EXPECT_NE(msg.find("pods \"p\" is forbidden: no"), std::string::npos) << msg;
    auto seen = s.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/api/v1/namespaces/ns1/pods/p/exec?command=true&stdout=true");
    EXPECT_EQ(seen[0].headers["authorization"], "Bearer t0k3n");
    EXPECT_EQ(seen[0].headers["upgrade"], "websocket");
    EXPECT_EQ(seen[0].headers["sec-websocket-protocol"], "v5.channel.k8s.io, v4.channel.k8s.io");
    EXPECT_EQ(seen[0].headers["sec-websocket-version"], "13");
}

TEST(WebSocketUpgrade, NoCredentialsOverPlainHttp) {
    LoopbackServer s([](const HttpRequest &) {
        HttpResponse r;
        r.status = 403;
        r.body = R"({"kind":"Status","status":"Failure","message":"no","reason":"Forbidden","code":403})";
        return r;
    });
    for (std::string user : {"{token: t0k3n}", "{username: alice, password: pw}"}) {
        nh::kube::Client c(nh::kube::load_from_strings({{"/test/config", plain_kubeconfig(s.url(), user)}}, {}));
        EXPECT_EQ(connect_code(c), NH_EFORBIDDEN);
    }
    for (auto &r : s.seen()) EXPECT_EQ(r.headers.count("authorization"), 0u) << r.headers["authorization"];
}

TEST(WebSocketUpgrade, RefusalsBecomeTypedErrors) {
    struct Case {
        int status;
        std::string body;
        int code;
    } cases[] = {
        {404, R"({"kind":"Status","message":"pods \"p\" not found","reason":"NotFound","code":404})", NH_ENOTFOUND},
        {400, R"({"kind":"Status","message":"container c is not valid for pod p","reason":"BadRequest","code":400})", NH_EINVALID},
        {500, "upstream connect error", NH_ESERVER},
        // A server (or proxy) that ignores the upgrade and answers like a plain GET.
        {200, R"({"kind":"Pod"})", NH_EUNSUPPORTED},
    };
    for (auto &k : cases) {
        LoopbackServer s([&](const HttpRequest &) {
            HttpResponse r;
            r.status = k.status;
            r.body = k.body;
            return r;
        });
        auto c = client_for(s);
        std::string msg;
        EXPECT_EQ(connect_code(*c, &msg), k.code) << k.status << ": " << msg;
    }
}

TEST(WebSocketUpgrade, WrongAcceptOrProtocolIsRefused) {
    for (int variant = 0; variant < 2; ++variant) {
        LoopbackServer s([&](const HttpRequest &req) {
            HttpResponse r;
            r.status = 101;
            r.headers = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}};
            std::string key = req.headers.count("sec-websocket-key") ? req.headers.at("sec-websocket-key") : "";
            if (variant == 0) {
                r.headers.push_back({"Sec-WebSocket-Accept", "bogus"});
                r.headers.push_back({"Sec-WebSocket-Protocol", "v5.channel.k8s.io"});
            } else {
                r.headers.push_back({"Sec-WebSocket-Accept", websocket_accept_for(key)});
                r.headers.push_back({"Sec-WebSocket-Protocol", "v9.channel.k8s.io"});
            }
            r.drop = false;
            return r;
        });
        auto c = client_for(s);
        std::string msg;
        EXPECT_EQ(connect_code(*c, &msg), variant == 0 ? NH_EPROTOCOL : NH_EUNSUPPORTED) << msg;
    }
}

TEST(WebSocketUpgrade, UnreachableServer) {
    auto cfg = nh::kube::load_from_strings({{"/test/config", plain_kubeconfig("http://127.0.0.1:1")}}, {});
    nh::kube::Client c(cfg);
    EXPECT_EQ(connect_code(c), NH_ECONNECT);
}

TEST(WebSocketUpgrade, CancelledBeforeConnecting) {
    auto cfg = nh::kube::load_from_strings({{"/test/config", plain_kubeconfig("http://127.0.0.1:1")}}, {});
    nh::kube::Client c(cfg);
    nh::CancelToken t;
    t.trigger();
    ConnectOptions co;
    co.cancel = &t;
    try {
        WebSocket::connect(c, "/x", co);
        ADD_FAILURE();
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_ECANCELLED);
    }
}

TEST(ExecStatus, SuccessNonZeroAndFailures) {
    auto ok = parse_exec_status(R"({"metadata":{},"status":"Success"})");
    ASSERT_TRUE(ok.exit_code);
    EXPECT_EQ(*ok.exit_code, 0);
    // What a kubelet sends for `exit 3` (remotecommand's NonZeroExitCode).
    auto three = parse_exec_status(
        R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3",)"
        R"("reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
    ASSERT_TRUE(three.exit_code);
    EXPECT_EQ(*three.exit_code, 3);
    // What kwok sends instead: an InternalError without the code.
    auto kwok = parse_exec_status(
        R"({"metadata":{},"status":"Failure","message":"Internal error occurred: cmd wait: exit status 3",)"
        R"("reason":"InternalError","details":{"causes":[{"message":"cmd wait: exit status 3"}]},"code":500})");
    EXPECT_FALSE(kwok.exit_code);
    ASSERT_TRUE(kwok.error);
    EXPECT_EQ(kwok.error->code(), NH_ESERVER);
    EXPECT_NE(std::string(kwok.error->what()).find("exit status 3"), std::string::npos);
    auto junk = parse_exec_status("not json");
    ASSERT_TRUE(junk.error);
    EXPECT_EQ(junk.error->code(), NH_EPROTOCOL);
}

TEST(ExecPath, QueryCarriesCommandAndFlags) {
    ExecRequest r;
    r.ns = "ns 1";
    r.pod = "p";
    r.container = "c";
    r.command = {"sh", "-c", "echo a&b=c"};
    EXPECT_EQ(exec_path(r),
              "/api/v1/namespaces/ns%201/pods/p/exec?container=c&command=sh&command=-c&command=echo%20a%26b%3Dc&"
              "stdin=false&stdout=true&stderr=true&tty=false");
    r.tty = true;
    r.stdin_ = true;
    EXPECT_NE(exec_path(r).find("stdin=true&stdout=true&tty=true"), std::string::npos);
    EXPECT_EQ(exec_path(r).find("stderr"), std::string::npos);
}

TEST(PortForwardChannels, PortPrefixDataAndErrors) {
    PortForwardChannels ch;
    const uint8_t data_prefix[] = {0, 0x90, 0x1f};
    EXPECT_TRUE(ch.on_message(data_prefix, sizeof data_prefix).empty());
    EXPECT_EQ(ch.port_seen(), 8080);
    const uint8_t err_prefix[] = {1, 0x90, 0x1f};
    EXPECT_TRUE(ch.on_message(err_prefix, sizeof err_prefix).empty());
    const uint8_t data[] = {0, 'h', 'i'};
    EXPECT_EQ(ch.on_message(data, sizeof data), "hi");
    // A data prefix glued to data in one message.
    PortForwardChannels ch2;
    const uint8_t glued[] = {0, 0x50, 0x00, 'o', 'k'};
    EXPECT_EQ(ch2.on_message(glued, sizeof glued), "ok");
    EXPECT_EQ(ch2.port_seen(), 80);
    const uint8_t e1[] = {1, 0x50, 0x00, 'b', 'o', 'o', 'm'};
    EXPECT_TRUE(ch2.on_message(e1, sizeof e1).empty());
    EXPECT_EQ(ch2.error_text(), "boom");
    const uint8_t bad[] = {7, 1};
    EXPECT_THROW(ch2.on_message(bad, sizeof bad), nh::Error);
}

TEST(ForwardPorts, Parsing) {
    EXPECT_EQ(parse_forward_port("8080:80").local, 8080);
    EXPECT_EQ(parse_forward_port("8080:80").remote, 80);
    EXPECT_EQ(parse_forward_port(":80").local, 0);
    EXPECT_EQ(parse_forward_port("0:80").local, 0);
    EXPECT_EQ(parse_forward_port("5432").local, 5432);
    EXPECT_EQ(parse_forward_port("5432").remote, 5432);
    for (const char *bad : {"", "x", "80:", "80:0", "70000:80", "1:2:3", "-1:80"})
        EXPECT_THROW(parse_forward_port(bad), nh::Error) << bad;
}

TEST(Targets, ParsingAndSelection) {
    EXPECT_EQ(parse_target("web").kind, "Pod");
    EXPECT_EQ(parse_target("deploy/web").kind, "Deployment");
    EXPECT_EQ(parse_target("Deployment/web").kind, "Deployment");
    EXPECT_EQ(parse_target("sts/db").kind, "StatefulSet");
    EXPECT_EQ(parse_target("ds/agent").kind, "DaemonSet");
    EXPECT_EQ(parse_target("replicasets.apps/x").kind, "ReplicaSet");
    EXPECT_EQ(parse_target("po/x").name, "x");
    for (const char *bad : {"", "cronjob/x", "deploy/", "a/b/c"}) EXPECT_THROW(parse_target(bad), nh::Error) << bad;

    auto pods = nh::kube::json::parse(R"([
      {"metadata":{"name":"old-ready","creationTimestamp":"2026-01-01T00:00:00Z"},
       "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"new-ready","creationTimestamp":"2026-01-02T00:00:00Z"},
       "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"newest-unready","creationTimestamp":"2026-01-03T00:00:00Z"},
       "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}},
      {"metadata":{"name":"terminating","creationTimestamp":"2026-01-04T00:00:00Z","deletionTimestamp":"2026-01-05T00:00:00Z"},
       "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}},
      {"metadata":{"name":"pending","creationTimestamp":"2026-01-05T00:00:00Z"},"status":{"phase":"Pending"}}])");
    EXPECT_EQ(pick_pod(pods), 1);
    pods.erase(1);
    pods.erase(0);
    EXPECT_EQ(pods[static_cast<size_t>(pick_pod(pods))]["metadata"]["name"], "newest-unready");
    EXPECT_EQ(pick_pod(nh::kube::json::array()), -1);

    auto pod = nh::kube::json::parse(R"({"metadata":{"name":"p","namespace":"n","uid":"u",
        "annotations":{"kubectl.kubernetes.io/default-container":"app"}},
        "spec":{"containers":[{"name":"sidecar"},{"name":"app"}]}})");
    auto d = describe_pod(pod);
    EXPECT_EQ(d.default_container, "app");
    EXPECT_EQ(d.containers.size(), 2u);
}
