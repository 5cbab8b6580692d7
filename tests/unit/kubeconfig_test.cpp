#include "kube/kubeconfig.hpp"

#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "error_code.hpp"
#include "test_support.hpp"

using nh::kube::LoadOptions;
using nh::kube::load_from_strings;
using nh::test::TempDir;

namespace {

const char *kBasic = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443/
    insecure-skip-tls-verify: true
users:
- name: u1
  user:
    token: sekrit-token
contexts:
- name: dev
  context:
    cluster: c1
    user: u1
    namespace: team-a
- name: other
  context:
    cluster: c1
    user: u1
)";

using nh::test::code_of;

}  // namespace

TEST(Kubeconfig, LoadsCurrentContext) {
    auto cfg = load_from_strings({{"/k/config", kBasic}}, {});
    EXPECT_EQ(cfg.server, "https://127.0.0.1:6443");  // trailing slash dropped
    EXPECT_EQ(cfg.context_name, "dev");
    EXPECT_EQ(cfg.ns, "team-a");
    EXPECT_EQ(cfg.token, "sekrit-token");
    EXPECT_TRUE(cfg.insecure_skip_tls_verify);
}

TEST(Kubeconfig, ContextAndNamespaceOverrides) {
    LoadOptions o;
    o.context = "other";
    auto cfg = load_from_strings({{"/k/config", kBasic}}, o);
    EXPECT_EQ(cfg.context_name, "other");
    EXPECT_EQ(cfg.ns, "default");
    o.ns = "explicit";
    EXPECT_EQ(load_from_strings({{"/k/config", kBasic}}, o).ns, "explicit");
}

TEST(Kubeconfig, MissingContextNamesTheAlternatives) {
    LoadOptions o;
    o.context = "nope";
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{"/k/config", kBasic}}, o); }, &msg), NH_ECONFIG);
    EXPECT_NE(msg.find("'nope'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dev, other"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/k/config"), std::string::npos) << msg;
}

TEST(Kubeconfig, MergeFirstFileWinsPerEntry) {
    const char *a = R"(current-context: a-ctx
clusters:
- name: shared
  cluster: {server: "https://first:1"}
contexts:
- name: a-ctx
  context: {cluster: shared, user: ua}
users:
- name: ua
  user: {token: A}
)";
    const char *b = R"(current-context: b-ctx
clusters:
- name: shared
  cluster: {server: "https://second:2"}
- name: only-b
  cluster: {server: "https://b:3"}
contexts:
- name: b-ctx
  context: {cluster: only-b, user: ub, namespace: nb}
users:
- name: ua
  user: {token: overridden}
- name: ub
  user: {token: B}
)";
    auto cfg = load_from_strings({{"/a", a}, {"/b", b}}, {});
    EXPECT_EQ(cfg.context_name, "a-ctx");  // first current-context wins
    EXPECT_EQ(cfg.server, "https://first:1");
    EXPECT_EQ(cfg.token, "A");
    LoadOptions o;
    o.context = "b-ctx";  // a context only the second file defines
    auto cb = load_from_strings({{"/a", a}, {"/b", b}}, o);
    EXPECT_EQ(cb.server, "https://b:3");
    EXPECT_EQ(cb.token, "B");
    EXPECT_EQ(cb.ns, "nb");
}

TEST(Kubeconfig, MalformedYamlNamesFileAndLine) {
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{"/etc/kc", "clusters:\n- name: x\n  cluster: [\n"}}, {}); }, &msg),
              NH_ECONFIG);
    EXPECT_NE(msg.find("/etc/kc:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("malformed"), std::string::npos) << msg;
}

TEST(Kubeconfig, WrongFieldTypeNamesFieldAndLine) {
    std::string text = std::string(kBasic);
    text.replace(text.find("token: sekrit-token"), 19, "token: [a, b]");
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{"/k/config", text}}, {}); }, &msg), NH_ECONFIG);
    EXPECT_NE(msg.find("/k/config:12"), std::string::npos) << msg;
    EXPECT_NE(msg.find("users[name=u1].user.token"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("sekrit"), std::string::npos) << "secret leaked: " << msg;
}

TEST(Kubeconfig, HostileInputsFailCleanly) {
    const char *inputs[] = {
        "",                                   // empty
        "just a string",                      // not a mapping
        "clusters: 5",                        // wrong types
        "clusters: [1, 2]",
        "contexts:\n- {}\n",                  // nameless
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: nope}\n",
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: ftp://x}\n",
        "a: &a [*a]",                         // self-referencing alias
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n"
        "  cluster: {server: 'https://x', certificate-authority-data: '!!!notbase64'}\n",
        "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n"
        "  cluster: {server: 'https://x', certificate-authority-data: 'aGVsbG8='}\n",  // not PEM
        "\xff\xfe\x00garbage",
    };
    for (const char *in : inputs) {
        int code = code_of([&] { load_from_strings({{"/hostile", in}}, {}); });
        EXPECT_TRUE(code == NH_ECONFIG || code == NH_ETLS) << "input: " << in << " gave " << code;
    }
}

TEST(Kubeconfig, CertificateFilesResolveRelativeToTheKubeconfig) {
    TempDir dir;
    nh::test::make_test_ca(dir.path());
    std::string kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://x:1', certificate-authority: ca.crt}\n"
                     "users:\n- name: u\n  user: {client-certificate: ca.crt, client-key: ca.key}\n";
    auto cfg = load_from_strings({{dir / "config", kc}}, {});
    EXPECT_NE(cfg.ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_NE(cfg.client_key_pem.find("PRIVATE KEY"), std::string::npos);

    // The same with inline data.
    std::string ca = nh::base64::encode(nh::test::read_file(dir / "ca.crt"));
    std::string key = nh::base64::encode(nh::test::read_file(dir / "ca.key"));
    std::string inline_kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                            "clusters:\n- name: c\n  cluster: {server: 'https://x:1', certificate-authority-data: " + ca +
                            "}\nusers:\n- name: u\n  user: {client-certificate-data: " + ca + ", client-key-data: " + key + "}\n";
    auto cfg2 = load_from_strings({{"/elsewhere/config", inline_kc}}, {});
    EXPECT_EQ(cfg2.ca_pem, cfg.ca_pem);
    EXPECT_EQ(cfg2.client_key_pem, cfg.client_key_pem);
}

TEST(Kubeconfig, UnreadableCertificateIsATlsErrorNamingThePath) {
    std::string kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://x:1'}\n"
                     "users:\n- name: u\n  user: {client-certificate: missing.crt, client-key: missing.key}\n";
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{"/no/such/dir/config", kc}}, {}); }, &msg), NH_ETLS);
    EXPECT_NE(msg.find("/no/such/dir/missing.crt"), std::string::npos) << msg;
}

TEST(Kubeconfig, KeyThatIsNotAKey) {
    TempDir dir;
    nh::test::make_test_ca(dir.path());
    std::string kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://x:1'}\n"
                     "users:\n- name: u\n  user: {client-certificate: ca.crt, client-key: ca.crt}\n";
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{dir / "config", kc}}, {}); }, &msg), NH_ETLS);
    EXPECT_NE(msg.find("not a PEM private key"), std::string::npos) << msg;
}

TEST(Kubeconfig, ExecPluginAndTokenFileAndProxy) {
    TempDir dir;
    nh::test::write_file(dir / "tok", "file-token\n");
    std::string kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://x:1', proxy-url: 'http://127.0.0.1:3128', "
                     "tls-server-name: api.internal, insecure-skip-tls-verify: true}\n"
                     "users:\n- name: u\n  user:\n    tokenFile: tok\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      interactiveMode: Never\n"
                     "      command: ./plugin\n      args: [--a, b]\n      env: [{name: K, value: V}]\n"
                     "      installHint: install the plugin\n";
    auto cfg = load_from_strings({{dir / "config", kc}}, {});
    EXPECT_EQ(cfg.proxy_url, "http://127.0.0.1:3128");
    EXPECT_EQ(cfg.tls_server_name, "api.internal");
    EXPECT_EQ(cfg.token_file, dir / "tok");
    ASSERT_TRUE(cfg.exec.has_value());
    EXPECT_EQ(cfg.exec->command, dir / "plugin");  // a command with a path resolves against the kubeconfig
    EXPECT_EQ(cfg.exec->args.size(), 2u);
    EXPECT_EQ(cfg.exec->env[0].first, "K");
    EXPECT_EQ(cfg.exec->base_dir, dir.path());
}

TEST(Kubeconfig, ExecPluginWithUnknownApiVersionListsTheValidOnes) {
    std::string kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://x:1'}\n"
                     "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: p}\n";
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{"/c", kc}}, {}); }, &msg), NH_ECONFIG);
    EXPECT_NE(msg.find("client.authentication.k8s.io/v1,"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/c:11"), std::string::npos) << msg;
}

TEST(Kubeconfig, InClusterConfig) {
    TempDir dir;
    nh::test::make_test_ca(dir.path());
    nh::test::write_file(dir / "token", "sa-token");
    nh::test::write_file(dir / "namespace", "from-sa\n");
    std::filesystem::copy_file(dir / "ca.crt", dir / "ca.crt.copy");
    setenv("NH_TEST_K8S_HOST", "10.0.0.1", 1);
    setenv("NH_TEST_K8S_PORT", "443", 1);
    auto cfg = nh::kube::in_cluster_config(dir.path(), "NH_TEST_K8S_HOST", "NH_TEST_K8S_PORT");
    EXPECT_EQ(cfg.server, "https://10.0.0.1:443");
    EXPECT_EQ(cfg.ns, "from-sa");
    EXPECT_EQ(cfg.token_file, dir / "token");
    unsetenv("NH_TEST_K8S_HOST");
    EXPECT_EQ(code_of([&] { nh::kube::in_cluster_config(dir.path(), "NH_TEST_K8S_HOST", "NH_TEST_K8S_PORT"); }),
              NH_ECONFIG);
}

TEST(Kubeconfig, KubeconfigEnvSkipsMissingFilesExplicitPathDoesNot) {
    TempDir dir;
    nh::test::write_file(dir / "real", kBasic);
    setenv("KUBECONFIG", (dir / "missing" + ":" + dir / "real").c_str(), 1);
    auto cfg = nh::kube::load_config({});
    EXPECT_EQ(cfg.context_name, "dev");
    unsetenv("KUBECONFIG");
    LoadOptions o;
    o.paths = dir / "missing";
    std::string msg;
    EXPECT_EQ(code_of([&] { nh::kube::load_config(o); }, &msg), NH_ECONFIG);
    EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}
