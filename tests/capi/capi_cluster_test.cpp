// The C ABI against the real test cluster's API server.
#include <nocalhost.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster_env.hpp"
#include "connect_proxy.hpp"

namespace {

struct Answer {
    int rc = 0;
    int status = 0;
    std::string body;
};

class Cluster : public ::testing::Test {
protected:
    void SetUp() override {
        NH_REQUIRE_CLUSTER("NH_TEST_KUBECONFIG");
        ASSERT_GE(nh_init(), 1);
        client_ = open(nh::test::cluster_env("NH_TEST_KUBECONFIG"));
        ASSERT_NE(client_, nullptr) << nh_error_last()->message;
        ns_ = "nh-capi-" + std::to_string(getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 100000);
        Answer a = call("POST", "/api/v1/namespaces", R"({"metadata":{"name":")" + ns_ + R"("}})");
        ASSERT_EQ(a.rc, NH_OK) << a.body;
    }
    void TearDown() override {
        if (client_) {
            call("DELETE", "/api/v1/namespaces/" + ns_);
            nh_client_free(client_);
            nh_shutdown();
        }
    }
    static nh_client *open(const std::string &kubeconfig, const char *ns = nullptr) {
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        o.kubeconfig = kubeconfig.c_str();
        o.namespace_name = ns;
        o.timeout_ms = 15000;
        nh_client *c = nullptr;
        if (nh_client_new(&c, &o) != NH_OK) return nullptr;
        return c;
    }
    Answer call(const std::string &method, const std::string &path, const std::string &body = "",
                const char *content_type = nullptr, nh_client *via = nullptr) {
        nh_request_options r = NH_REQUEST_OPTIONS_INIT;
        r.method = method.c_str();
        r.path = path.c_str();
        if (!body.empty()) r.body = body.c_str();
        r.content_type = content_type;
        nh_buf out = NH_BUF_INIT;
        Answer a;
        a.rc = nh_client_request(&out, &a.status, via ? via : client_, &r);
        if (out.ptr) a.body.assign(out.ptr, out.size);
        nh_buf_dispose(&out);
        return a;
    }
    std::string cm_path(const std::string &name = "") {
        return "/api/v1/namespaces/" + ns_ + "/configmaps" + (name.empty() ? "" : "/" + name);
    }
    static std::string field(const std::string &json, const std::string &key) {
        // Tests stay on the C ABI; a tiny extractor is enough for flat string fields.
        std::string k = "\"" + key + "\":\"";
        size_t p = json.find(k);
        if (p == std::string::npos) return "";
        p += k.size();
        return json.substr(p, json.find('"', p) - p);
    }

    nh_client *client_ = nullptr;
    std::string ns_;
};

}  // namespace

TEST_F(Cluster, ServerVersion) {
    nh_buf v = NH_BUF_INIT;
    ASSERT_EQ(nh_client_server_version(&v, client_, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(field(v.ptr, "gitVersion"), "v1.36.3");
    nh_buf_dispose(&v);
    EXPECT_EQ(std::string(nh_client_server(client_)).rfind("https://127.0.0.1:", 0), 0u);
}

TEST_F(Cluster, ConfigMapLifecycleWithEveryPatchType) {
    Answer a = call("POST", cm_path(), R"({"metadata":{"name":"demo"},"data":{"a":"1"}})");
    ASSERT_EQ(a.rc, NH_OK) << a.body;
    EXPECT_EQ(a.status, 201);
    std::string rv1 = field(a.body, "resourceVersion");

    a = call("PATCH", cm_path("demo"), R"({"data":{"b":"2"}})", "application/merge-patch+json");
    ASSERT_EQ(a.rc, NH_OK) << a.body;
    a = call("PATCH", cm_path("demo"), R"({"data":{"c":"3"}})", "application/strategic-merge-patch+json");
    ASSERT_EQ(a.rc, NH_OK) << a.body;
    a = call("PATCH", cm_path("demo"), R"([{"op":"replace","path":"/data/a","value":"one"}])",
             "application/json-patch+json");
    ASSERT_EQ(a.rc, NH_OK) << a.body;
    a = call("PATCH", cm_path("demo") + "?fieldManager=nh-test&force=true",
             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  d: \"4\"\n",
             "application/apply-patch+yaml");
    ASSERT_EQ(a.rc, NH_OK) << a.body;

    a = call("GET", cm_path("demo"));
    ASSERT_EQ(a.rc, NH_OK);
    EXPECT_NE(a.body.find(R"("a":"one")"), std::string::npos) << a.body;
    EXPECT_NE(a.body.find(R"("b":"2")"), std::string::npos);
    EXPECT_NE(a.body.find(R"("c":"3")"), std::string::npos);
    EXPECT_NE(a.body.find(R"("d":"4")"), std::string::npos);

    // A write based on a stale resourceVersion is a Conflict.
    a = call("PUT", cm_path("demo"),
             R"({"metadata":{"name":"demo","resourceVersion":")" + rv1 + R"("},"data":{}})");
    EXPECT_EQ(a.rc, NH_ECONFLICT) << a.body;
    EXPECT_EQ(a.status, 409);
    EXPECT_STREQ(nh_error_last()->reason, "Conflict");
    EXPECT_EQ(nh_error_last()->http_status, 409);

    a = call("POST", cm_path(), R"({"metadata":{"name":"demo"}})");
    EXPECT_EQ(a.rc, NH_EEXISTS);
    EXPECT_STREQ(nh_error_last()->reason, "AlreadyExists");

    a = call("DELETE", cm_path("demo"));
    EXPECT_EQ(a.rc, NH_OK);
    a = call("GET", cm_path("demo"));
    EXPECT_EQ(a.rc, NH_ENOTFOUND);
    EXPECT_EQ(a.status, 404);
    EXPECT_NE(std::string(nh_error_last()->message).find("\"demo\" not found"), std::string::npos)
        << nh_error_last()->message;
}

TEST_F(Cluster, InvalidObjectIsRejectedWithTheServersReason) {
    Answer a = call("POST", cm_path(), R"({"metadata":{"name":"Not_A_Valid_Name"}})");
    EXPECT_EQ(a.rc, NH_EINVALID);
    EXPECT_STREQ(nh_error_last()->reason, "Invalid");
    EXPECT_NE(std::string(nh_error_last()->message).find("Not_A_Valid_Name"), std::string::npos);
}

TEST_F(Cluster, NoRbacRightsIsForbiddenForTokenAndCertificate) {
    for (const char *var : {"NH_TEST_NOBODY_TOKEN_KUBECONFIG", "NH_TEST_NOBODY_CERT_KUBECONFIG"}) {
        NH_REQUIRE_CLUSTER(var);
        nh_client *nobody = open(nh::test::cluster_env(var));
        ASSERT_NE(nobody, nullptr) << nh_error_last()->message;
        Answer a = call("GET", cm_path(), "", nullptr, nobody);
        EXPECT_EQ(a.rc, NH_EFORBIDDEN) << var;
        EXPECT_EQ(nh_error_last()->http_status, 403);
        EXPECT_STREQ(nh_error_last()->reason, "Forbidden");
        std::string msg = nh_error_last()->message;
        EXPECT_NE(msg.find("cannot list resource \"configmaps\""), std::string::npos) << msg;
        EXPECT_NE(msg.find("nh-nobody"), std::string::npos) << msg;
        nh_client_free(nobody);
    }
}

TEST_F(Cluster, WrongTokenIsUnauthorizedAndNeverShown) {
    std::string bogus = "bogus-token-that-must-not-leak";
    std::string path = "/tmp/nh-badtoken-" + std::to_string(getpid());
    std::ofstream(path) << "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                           "clusters:\n- name: c\n  cluster: {server: '"
                        << nh::test::cluster_env("NH_TEST_SERVER") << "', certificate-authority: '"
                        << nh::test::cluster_env("NH_TEST_CA_FILE") << "'}\nusers:\n- name: u\n  user: {token: "
                        << bogus << "}\n";
    nh_client *c = open(path);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    Answer a = call("GET", "/api/v1/namespaces", "", nullptr, c);
    EXPECT_EQ(a.rc, NH_EUNAUTHORIZED);
    EXPECT_EQ(nh_error_last()->http_status, 401);
    std::string msg = nh_error_last()->message;
    EXPECT_EQ(msg.find(bogus), std::string::npos) << msg;
    EXPECT_NE(msg.find("rejected the credentials"), std::string::npos) << msg;
    nh_client_free(c);
    unlink(path.c_str());
}

TEST_F(Cluster, UntrustedServerCertificateIsATlsError) {
    std::string kc = nh::test::cluster_env("NH_TEST_KUBECONFIG");
    char dir[] = "/tmp/nh-tls-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string d = dir;
    ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout " + d +
                           "/k -out " + d + "/ca.crt >/dev/null 2>&1")
                              .c_str()),
              0);
    std::string server = nh::test::cluster_env("NH_TEST_SERVER");
    ASSERT_FALSE(server.empty());
    std::ofstream(d + "/config") << "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                                    "clusters:\n- name: c\n  cluster: {server: '"
                                 << server << "', certificate-authority: ca.crt}\nusers:\n- name: u\n  user: {token: t}\n";
    nh_client *c = open(d + "/config");
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    Answer a = call("GET", "/version", "", nullptr, c);
    EXPECT_EQ(a.rc, NH_ETLS) << nh_error_last()->message;
    EXPECT_NE(std::string(nh_error_last()->message).find("certificate"), std::string::npos);
    nh_client_free(c);
    std::system(("rm -rf " + d).c_str());
}

TEST_F(Cluster, ExecPluginCredentialsAreCached) {
    NH_REQUIRE_CLUSTER("NH_TEST_EXEC_KUBECONFIG");
    std::string counter = nh::test::cluster_env("NH_TEST_EXEC_COUNTER");
    auto runs = [&] {
        std::ifstream in(counter);
        int n = 0;
        std::string line;
        while (std::getline(in, line)) ++n;
        return n;
    };
    int before = runs();
    nh_client *c = open(nh::test::cluster_env("NH_TEST_EXEC_KUBECONFIG"));
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    for (int i = 0; i < 3; ++i) {
        Answer a = call("GET", cm_path(), "", nullptr, c);
        EXPECT_EQ(a.rc, NH_OK) << nh_error_last()->message;
    }
    EXPECT_EQ(runs() - before, 1) << "the plugin should run once and be cached";
    nh_client_free(c);
}

namespace {
struct WatchState {
    std::vector<std::pair<int, std::string>> events;
    int stop_after = 0;
};
int on_event(int type, const char *object, size_t, void *payload) {
    auto *s = static_cast<WatchState *>(payload);
    std::string o = object;
    size_t p = o.find("\"name\":\"");
    std::string name = p == std::string::npos ? "" : o.substr(p + 8, o.find('"', p + 8) - p - 8);
    s->events.emplace_back(type, name);
    return static_cast<int>(s->events.size()) >= s->stop_after;
}
}  // namespace

TEST_F(Cluster, WatchSeesChangesAndStops) {
    ASSERT_EQ(call("POST", cm_path(), R"({"metadata":{"name":"before"}})").rc, NH_OK);
    WatchState st;
    st.stop_after = 3;  // ADDED before (initial list), ADDED w1, MODIFIED w1
    std::string path = cm_path();
    std::atomic<int> rc{1};
    std::thread watcher([&] {
        nh_watch_options w = NH_WATCH_OPTIONS_INIT;
        w.path = path.c_str();
        w.field_selector = "metadata.name!=kube-root-ca.crt";
        w.callback = on_event;
        w.payload = &st;
        w.duration_ms = 20000;
        rc = nh_client_watch(client_, &w);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(call("POST", cm_path(), R"({"metadata":{"name":"w1"},"data":{"k":"v"}})").rc, NH_OK);
    ASSERT_EQ(call("PATCH", cm_path("w1"), R"({"data":{"k":"v2"}})", "application/merge-patch+json").rc, NH_OK);
    watcher.join();
    EXPECT_EQ(rc.load(), NH_ECANCELLED);  // stopped by the callback
    ASSERT_EQ(st.events.size(), 3u);
    EXPECT_EQ(st.events[0], std::make_pair(int(NH_WATCH_ADDED), std::string("before")));
    EXPECT_EQ(st.events[1], std::make_pair(int(NH_WATCH_ADDED), std::string("w1")));
    EXPECT_EQ(st.events[2], std::make_pair(int(NH_WATCH_MODIFIED), std::string("w1")));
}

TEST_F(Cluster, WatchCanBeCancelledFromAnotherThread) {
    nh_cancel *cancel = nullptr;
    ASSERT_EQ(nh_cancel_new(&cancel), NH_OK);
    WatchState st;
    st.stop_after = 1000;
    std::string path = cm_path();
    nh_watch_options w = NH_WATCH_OPTIONS_INIT;
    w.path = path.c_str();
    w.callback = on_event;
    w.payload = &st;
    w.cancel = cancel;
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        nh_cancel_trigger(cancel);
    });
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(nh_client_watch(client_, &w), NH_ECANCELLED);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    t.join();
    nh_cancel_free(cancel);
}

TEST_F(Cluster, UnreachableServerIsAConnectErrorNamingIt) {
    std::string d = "/tmp/nh-unreach-" + std::to_string(getpid());
    std::ofstream(d) << "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\n";
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.kubeconfig = d.c_str();
    o.max_retries = 0;
    nh_client *c = nullptr;
    ASSERT_EQ(nh_client_new(&c, &o), NH_OK);
    Answer a = call("GET", "/version", "", nullptr, c);
    EXPECT_EQ(a.rc, NH_ECONNECT);
    EXPECT_NE(std::string(nh_error_last()->message).find("https://127.0.0.1:1"), std::string::npos);
    nh_client_free(c);
    unlink(d.c_str());
}

namespace {
// A kubeconfig for the test cluster's admin token identity (the exec fixture's token),
// with extra cluster fields.
std::string write_kubeconfig(const std::string &name, const std::string &cluster_extra,
                             const std::string &user_yaml,
                             const std::string &server = nh::test::cluster_env("NH_TEST_SERVER")) {
    std::string path = "/tmp/nh-kc-" + name + "-" + std::to_string(getpid());
    std::ofstream(path) << "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                           "clusters:\n- name: c\n  cluster: {server: '"
                        << server << "', certificate-authority: '"
                        << nh::test::cluster_env("NH_TEST_CA_FILE") << "'" << cluster_extra
                        << "}\nusers:\n- name: u\n  user: " << user_yaml << "\n";
    return path;
}
std::string admin_token() {
    // The exec fixture hands out the nh-admin service account's token.
    std::string kc = nh::test::cluster_env("NH_TEST_EXEC_KUBECONFIG");
    std::string dir = kc.substr(0, kc.rfind('/'));
    std::ifstream in(dir + "/nh-admin.token");
    std::string t;
    std::getline(in, t);
    return t;
}
}  // namespace

TEST_F(Cluster, TlsServerNameIsUsedForVerification) {
    std::string token_file = "/tmp/nh-admin-token-" + std::to_string(getpid());
    std::ofstream(token_file) << admin_token() << "\n";
    std::string user = "{tokenFile: '" + token_file + "'}";
    std::string good = write_kubeconfig("sni-good", ", tls-server-name: kubernetes.default", user);
    std::string bad = write_kubeconfig("sni-bad", ", tls-server-name: not-the-apiserver.example", user);
    nh_client *c = open(good);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    EXPECT_EQ(call("GET", "/version", "", nullptr, c).rc, NH_OK) << nh_error_last()->message;
    EXPECT_EQ(call("GET", cm_path(), "", nullptr, c).rc, NH_OK) << "token file auth: " << nh_error_last()->message;
    nh_client_free(c);
    c = open(bad);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(call("GET", "/version", "", nullptr, c).rc, NH_ETLS);
    nh_client_free(c);
    unlink(good.c_str());
    unlink(bad.c_str());
    unlink(token_file.c_str());
}

TEST_F(Cluster, ProxyUrlTunnelsThroughTheProxy) {
    nh::test::ConnectProxy proxy;
    std::string kc = write_kubeconfig("proxy", ", proxy-url: '" + proxy.url() + "'", "{token: " + admin_token() + "}");
    nh_client *c = open(kc);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    Answer a = call("GET", cm_path(), "", nullptr, c);
    EXPECT_EQ(a.rc, NH_OK) << nh_error_last()->message;
    EXPECT_GE(proxy.tunnels(), 1);
    nh_client_free(c);
    unlink(kc.c_str());
}

TEST_F(Cluster, TokenFileWinsOverAnInlineToken) {
    // As kubectl: with both set, the file's token is the one the server sees.
    std::string token_file = "/tmp/nh-admin-token-both-" + std::to_string(getpid());
    std::ofstream(token_file) << admin_token() << "\n";
    std::string kc = write_kubeconfig("token-both", "", "{token: not-a-valid-token, tokenFile: '" + token_file + "'}");
    nh_client *c = open(kc);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    EXPECT_EQ(call("GET", cm_path(), "", nullptr, c).rc, NH_OK) << nh_error_last()->message;
    nh_client_free(c);
    unlink(kc.c_str());
    unlink(token_file.c_str());
}

// users[].user.as, as-groups and as-user-extra: the server sees the impersonated user (as
// kubectl's requests show it), and that user's rights apply, not the token's.
TEST_F(Cluster, ImpersonationFromTheKubeconfigIsWhoTheServerSees) {
    std::string kc = write_kubeconfig("as", "",
                                      "{token: " + admin_token() +
                                          ", as: nh-impersonated, as-groups: [nh-devs], "
                                          "as-user-extra: {'acme.com/project': [alpha]}}");
    nh_client *c = open(kc);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    Answer a = call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})", nullptr, c);
    ASSERT_EQ(a.rc, NH_OK) << a.body << nh_error_last()->message;
    EXPECT_EQ(field(a.body, "username"), "nh-impersonated") << a.body;
    EXPECT_NE(a.body.find(R"("nh-devs")"), std::string::npos) << a.body;
    EXPECT_NE(a.body.find(R"("acme.com/project":["alpha"])"), std::string::npos) << a.body;
    Answer b = call("GET", cm_path(), "", nullptr, c);
    EXPECT_EQ(b.rc, NH_EFORBIDDEN);
    EXPECT_NE(std::string(nh_error_last()->message).find("User \"nh-impersonated\" cannot list resource \"configmaps\""),
              std::string::npos)
        << nh_error_last()->message;
    nh_client_free(c);
    unlink(kc.c_str());
}

TEST_F(Cluster, UrlCredentialsAreNeverShown) {
    std::string server = nh::test::cluster_env("NH_TEST_SERVER");
    server.insert(server.find("://") + 3, "alice:s3cretpw@");
    std::string kc = write_kubeconfig("url-creds", "", "{token: " + admin_token() + "}", server);
    nh_client *c = open(kc);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    EXPECT_EQ(std::string(nh_client_server(c)), nh::test::cluster_env("NH_TEST_SERVER"));
    EXPECT_EQ(call("GET", cm_path(), "", nullptr, c).rc, NH_OK) << nh_error_last()->message;
    Answer a = call("GET", cm_path("no-such-map"), "", nullptr, c);
    EXPECT_EQ(a.rc, NH_ENOTFOUND);
    EXPECT_EQ(std::string(nh_error_last()->message).find("s3cretpw"), std::string::npos) << nh_error_last()->message;
    nh_client_free(c);
    unlink(kc.c_str());
}

TEST_F(Cluster, AServerWithoutSchemeIsPlainHttpAsKubectlTreatsIt) {
    // client-go makes "host:port" http:// (its TLS settings are not applied yet when the
    // scheme is chosen), so the TLS-only API server refuses it, and no token is sent.
    std::string server = nh::test::cluster_env("NH_TEST_SERVER");
    server.erase(0, server.find("://") + 3);
    std::string kc = write_kubeconfig("no-scheme", "", "{token: " + admin_token() + "}", server);
    nh_client *c = open(kc);
    ASSERT_NE(c, nullptr) << nh_error_last()->message;
    EXPECT_EQ(std::string(nh_client_server(c)), "http://" + server);
    Answer a = call("GET", "/version", "", nullptr, c);
    EXPECT_EQ(a.rc, NH_EINVALID);
    EXPECT_EQ(a.status, 400);
    EXPECT_NE(std::string(nh_error_last()->message).find("HTTP request to an HTTPS server"), std::string::npos)
        << nh_error_last()->message;
    nh_client_free(c);
    unlink(kc.c_str());
}
