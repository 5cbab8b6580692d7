// kubeconfig facts as client-go's tools/clientcmd establishes them (its loader,
// client-config, merged-builder and validation tests), restated in our own
// fixtures. Each test names the fact; where we deliberately differ, the test
// says so and asserts what we do instead.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <optional>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "kube/credentials.hpp"
#include "kube/kubeconfig.hpp"
#include "error_code.hpp"
#include "test_support.hpp"

using nh::kube::LoadOptions;
using nh::kube::load_from_strings;
using nh::test::TempDir;

namespace {

using nh::test::code_of;

// One context "x" over cluster "c" and user "u", with the given YAML flow mappings.
std::string one(const std::string &cluster, const std::string &user = "{token: t}",
                const std::string &context = "{cluster: c, user: u}") {
    return "current-context: x\ncontexts:\n- name: x\n  context: " + context + "\nclusters:\n- name: c\n  cluster: " +
           cluster + "\nusers:\n- name: u\n  user: " + user + "\n";
}

nh::kube::RestConfig load1(const std::string &text, const std::string &name = "/k/config") {
    return load_from_strings({{name, text}}, {});
}

std::string load_error(const std::string &text, const std::string &name = "/k/config") {
    std::string msg;
    int code = code_of([&] { load1(text, name); }, &msg);
    EXPECT_NE(code, NH_OK) << "loaded without error:\n" << text;
    return msg;
}

bool has(const std::string &hay, const std::string &needle) { return hay.find(needle) != std::string::npos; }

// Sets an environment variable for the scope of a test.
struct ScopedEnv {
    std::string name;
    std::optional<std::string> old;
    ScopedEnv(const char *n, const std::string &v) : name(n) {
        if (const char *o = std::getenv(n)) old = o;
        setenv(n, v.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old)
            setenv(name.c_str(), old->c_str(), 1);
        else
            unsetenv(name.c_str());
    }
};

}  // namespace

// --- loading and merging -------------------------------------------------------------

TEST(ClientGoFacts, DuplicateNamesInOneFileAreAnErrorNamingTheDuplicate) {
    const char *dup_cluster = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                              "clusters:\n- name: c\n  cluster: {server: 'https://one:1'}\n"
                              "- name: c\n  cluster: {server: 'https://two:2'}\n"
                              "users:\n- name: u\n  user: {token: t}\n";
    std::string msg = load_error(dup_cluster);
    EXPECT_TRUE(has(msg, "duplicate")) << msg;
    EXPECT_TRUE(has(msg, "cluster 'c'")) << msg;
    EXPECT_TRUE(has(msg, "/k/config:8")) << msg;  // the second definition
    EXPECT_TRUE(has(msg, "/k/config:6")) << msg;  // and the first

    const char *dup_user = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                           "clusters:\n- name: c\n  cluster: {server: 'https://one:1'}\n"
                           "users:\n- name: u\n  user: {token: secret-one}\n- name: u\n  user: {token: secret-two}\n";
    msg = load_error(dup_user);
    EXPECT_TRUE(has(msg, "user 'u'")) << msg;
    EXPECT_FALSE(has(msg, "secret-")) << "a token leaked: " << msg;

    const char *dup_context = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                              "- name: x\n  context: {cluster: other, user: u}\n"
                              "clusters:\n- name: c\n  cluster: {server: 'https://one:1'}\n"
                              "users:\n- name: u\n  user: {token: t}\n";
    msg = load_error(dup_context);
    EXPECT_TRUE(has(msg, "context 'x'")) << msg;
}

TEST(ClientGoFacts, TheSameNameInTwoFilesIsNoDuplicateTheFirstFileWinsTheWholeEntry) {
    // Entries are taken whole from the first file that defines them: fields are not merged.
    std::string a = one("{server: 'https://first:1'}");
    std::string b = one("{server: 'https://second:2', insecure-skip-tls-verify: true}", "{token: from-b}");
    auto cfg = load_from_strings({{"/a", a}, {"/b", b}}, {});
    EXPECT_EQ(cfg.server, "https://first:1");
    EXPECT_FALSE(cfg.insecure_skip_tls_verify);
    EXPECT_EQ(cfg.token, "t");
}

TEST(ClientGoFacts, CurrentContextComesFromTheFirstFileThatSetsOne) {
    std::string no_current = "clusters:\n- name: c1\n  cluster: {server: 'https://one:1'}\n"
                             "contexts:\n- name: c1ctx\n  context: {cluster: c1, user: u}\n"
                             "users:\n- name: u\n  user: {token: t1}\n";
    std::string with_current = one("{server: 'https://two:2'}");
    auto cfg = load_from_strings({{"/a", no_current}, {"/b", with_current}}, {});
    EXPECT_EQ(cfg.context_name, "x");
    EXPECT_EQ(cfg.server, "https://two:2");
}

TEST(ClientGoFacts, AFileWithOnlyACurrentContextOrNothingMergesCleanly) {
    auto cfg = load_from_strings({{"/empty", ""}, {"/cur", "current-context: x\n"}, {"/real", one("{server: 'https://r:1'}")}}, {});
    EXPECT_EQ(cfg.server, "https://r:1");
}

TEST(ClientGoFacts, RelativePathsResolveAgainstTheDirectoryOfTheFileThatDefinesTheEntry) {
    TempDir d1, d2;
    nh::test::make_test_ca(d1.path());
    std::filesystem::create_directories(d2 / "sub");
    nh::test::make_test_ca(d2 / "sub");
    nh::test::write_file(d2 / "sub/tok", "file-token\n");
    // File 1 names a CA next to itself; file 2 (another directory) names its user's
    // certificate, key and token file relative to itself, and a plugin with a path.
    std::string f1 = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://h:1', certificate-authority: ca.crt}\n";
    std::string f2 = "users:\n- name: u\n  user: {client-certificate: sub/ca.crt, client-key: ./sub/ca.key, tokenFile: sub/tok}\n"
                     "- name: p\n  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ../bin/plugin}}\n"
                     "- name: q\n  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: plugin-on-path}}\n"
                     "contexts:\n- name: px\n  context: {cluster: c, user: p}\n- name: qx\n  context: {cluster: c, user: q}\n";
    auto cfg = load_from_strings({{d1 / "config", f1}, {d2 / "config", f2}}, {});
    EXPECT_EQ(cfg.ca_pem, nh::test::read_file(d1 / "ca.crt"));
    EXPECT_EQ(cfg.client_cert_pem, nh::test::read_file(d2 / "sub/ca.crt"));
    EXPECT_EQ(cfg.token_file, d2 / "sub/tok");
    LoadOptions o;
    o.context = "px";
    auto p = load_from_strings({{d1 / "config", f1}, {d2 / "config", f2}}, o);
    ASSERT_TRUE(p.exec);
    EXPECT_EQ(p.exec->command, (std::filesystem::path(d2.path()).parent_path() / "bin/plugin").string());
    o.context = "qx";
    auto q = load_from_strings({{d1 / "config", f1}, {d2 / "config", f2}}, o);
    ASSERT_TRUE(q.exec);
    EXPECT_EQ(q.exec->command, "plugin-on-path");  // a bare name is looked up on PATH
}

TEST(ClientGoFacts, ARelativeKubeconfigPathStillGivesAbsolutePaths) {
    TempDir d;
    nh::test::write_file(d / "tok", "x\n");
    auto old = std::filesystem::current_path();
    std::filesystem::current_path(d.path());
    auto cfg = load_from_strings({{"config", one("{server: 'https://h:1'}", "{tokenFile: tok}")}}, {});
    std::filesystem::current_path(old);
    EXPECT_EQ(cfg.token_file, d / "tok");  // still right after the process changes directory
}

TEST(ClientGoFacts, KubeconfigListSkipsEmptyAndRepeatedEntries) {
    TempDir d;
    nh::test::write_file(d / "a", one("{server: 'https://a:1'}"));
    ScopedEnv env("KUBECONFIG", ":" + d / "a" + "::" + d / "a" + ":");
    EXPECT_EQ(nh::kube::load_config({}).server, "https://a:1");
}

TEST(ClientGoFacts, ExplicitPathsAreNotMergedWithKubeconfigEnv) {
    TempDir d;
    nh::test::write_file(d / "explicit", one("{server: 'https://e:1'}"));
    nh::test::write_file(d / "env", "contexts:\n- name: only-env\n  context: {cluster: c, user: u}\n");
    ScopedEnv env("KUBECONFIG", d / "env");
    LoadOptions o;
    o.paths = d / "explicit";
    o.context = "only-env";
    std::string msg;
    EXPECT_EQ(code_of([&] { nh::kube::load_config(o); }, &msg), NH_ECONFIG);
    EXPECT_TRUE(has(msg, "only-env")) << msg;
}

TEST(ClientGoFacts, AFileThatIsNotAKubeconfigOrADirectoryIsAnErrorNamingIt) {
    TempDir d;
    nh::test::write_file(d / "bogus", "bogus value");
    LoadOptions o;
    o.paths = d / "bogus";
    std::string msg;
    EXPECT_EQ(code_of([&] { nh::kube::load_config(o); }, &msg), NH_ECONFIG);
    EXPECT_TRUE(has(msg, d / "bogus")) << msg;
    o.paths = d.path();
    EXPECT_EQ(code_of([&] { nh::kube::load_config(o); }, &msg), NH_ECONFIG);
    EXPECT_TRUE(has(msg, d.path())) << msg;
    // A directory in KUBECONFIG exists, so it is not skipped like a missing file.
    ScopedEnv env("KUBECONFIG", d.path());
    EXPECT_EQ(code_of([&] { nh::kube::load_config({}); }, &msg), NH_ECONFIG);
    EXPECT_TRUE(has(msg, d.path())) << msg;
}

TEST(ClientGoFacts, UnknownFieldsAreIgnored) {
    auto cfg = load1("preferences: {colors: true}\nextensions: []\n" +
                     one("{server: 'https://h:1', future-field: 1}", "{token: t, something-new: x}"));
    EXPECT_EQ(cfg.server, "https://h:1");
}

// --- context, namespace ---------------------------------------------------------------

TEST(ClientGoFacts, NamespaceDefaultsToDefaultAndTheOverrideWins) {
    EXPECT_EQ(load1(one("{server: 'https://h:1'}")).ns, "default");
    auto cfg = load1(one("{server: 'https://h:1'}", "{token: t}", "{cluster: c, user: u, namespace: team}"));
    EXPECT_EQ(cfg.ns, "team");
    LoadOptions o;
    o.ns = "over";
    EXPECT_EQ(load_from_strings({{"/k", one("{server: 'https://h:1'}", "{token: t}", "{cluster: c, user: u, namespace: team}")}}, o).ns,
              "over");
}

TEST(ClientGoFacts, AContextOverrideThatDoesNotExistIsAnErrorNamingIt) {
    LoadOptions o;
    o.context = "not-present";
    std::string msg;
    EXPECT_EQ(code_of([&] { load_from_strings({{"/k", one("{server: 'https://h:1'}")}}, o); }, &msg), NH_ECONFIG);
    EXPECT_TRUE(has(msg, "'not-present'")) << msg;
}

TEST(ClientGoFacts, ACurrentContextThatDoesNotExistIsAnError) {
    std::string text = one("{server: 'https://h:1'}");
    text.replace(0, std::strlen("current-context: x"), "current-context: gone");
    EXPECT_TRUE(has(load_error(text), "'gone'"));
}

TEST(ClientGoFacts, WeRefuseAContextWhoseUserIsNotDefined) {
    // client-go goes on without credentials here (and requests are then anonymous);
    // we stop with an error naming the missing user, which is what a user wants to see.
    std::string msg = load_error(one("{server: 'https://h:1'}", "{token: t}", "{cluster: c, user: nobody}"));
    EXPECT_TRUE(has(msg, "'nobody'")) << msg;
}

// --- server URL -------------------------------------------------------------------------

TEST(ClientGoFacts, AServerWithoutASchemeIsPlainHttpAsClientGoDefaultsIt) {
    // The scheme is chosen before any TLS setting is applied, so it is http even with a CA.
    EXPECT_EQ(load1(one("{server: 'anything.com:8080'}")).server, "http://anything.com:8080");
    EXPECT_EQ(load1(one("{server: 'anything.com'}")).server, "http://anything.com");
    EXPECT_EQ(load1(one("{server: '127.0.0.1:6443'}")).server, "http://127.0.0.1:6443");
    EXPECT_EQ(load1(one("{server: 'localhost:6443'}")).server, "http://localhost:6443");
    EXPECT_EQ(load1(one("{server: '[::1]:6443'}")).server, "http://[::1]:6443");
    EXPECT_EQ(load1(one("{server: 'HTTPS://Upper:1'}")).server, "https://Upper:1");
    // A path without a scheme is not a host:port pair.
    EXPECT_TRUE(has(load_error(one("{server: 'anything.com:8080/foo/bar'}")), "host:port"));
}

TEST(ClientGoFacts, AServerPathIsAPrefixKeptForEveryRequest) {
    EXPECT_EQ(load1(one("{server: 'https://anything.com:8080/foo/bar'}")).server, "https://anything.com:8080/foo/bar");
    EXPECT_EQ(load1(one("{server: 'http://anything.com:8080/foo/bar/'}")).server, "http://anything.com:8080/foo/bar");
    EXPECT_EQ(load1(one("{server: 'https://h:1/?q=1#frag'}")).server, "https://h:1");
}

TEST(ClientGoFacts, AClusterWithoutServerIsAnError) {
    // client-go falls back to http://localhost:8080 when nothing is configured; a
    // named cluster without a server is an error in both.
    EXPECT_TRUE(has(load_error(one("{certificate-authority-data: ''}")), "no server"));
}

TEST(ClientGoFacts, UrlCredentialsNeverAppearAndBecomeBasicAuth) {
    auto cfg = load1(one("{server: 'https://alice:pa55w0rd@h:1/prefix'}", "{}"));
    EXPECT_EQ(cfg.server, "https://h:1/prefix");
    EXPECT_EQ(cfg.username, "alice");
    EXPECT_EQ(cfg.password, "pa55w0rd");
    // The user's own credentials take precedence over the URL's.
    auto tok = load1(one("{server: 'https://alice:pa55w0rd@h:1'}", "{token: t}"));
    EXPECT_EQ(tok.token, "t");
    EXPECT_TRUE(tok.username.empty());
    // Errors about the server show it without them.
    std::string msg = load_error(one("{server: 'ftp://alice:pa55w0rd@h:1'}"));
    EXPECT_FALSE(has(msg, "pa55w0rd")) << msg;
    EXPECT_TRUE(has(msg, "ftp://")) << msg;
    msg = load_error(one("{server: 'bob:pa55w0rd@h:1/x'}"));
    EXPECT_FALSE(has(msg, "pa55w0rd")) << msg;
}

// --- credentials only over TLS ----------------------------------------------------------

TEST(ClientGoFacts, OverPlainHttpNoUserIdentityAndNoTlsSettingsAreUsed) {
    TempDir d;
    nh::test::make_test_ca(d.path());
    nh::test::write_file(d / "tok", "from-file\n");
    std::string cluster = "{server: 'http://h:1', tls-server-name: name.example, certificate-authority: ca.crt}";
    for (std::string user : {"{token: t}", "{tokenFile: tok}", "{username: a, password: b}",
                             "{client-certificate: ca.crt, client-key: ca.key}",
                             "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p}}"}) {
        auto cfg = load_from_strings({{d / "config", one(cluster, user)}}, {});
        EXPECT_EQ(cfg.server, "http://h:1");
        EXPECT_TRUE(cfg.token.empty() && cfg.token_file.empty() && cfg.username.empty() && cfg.password.empty() &&
                    cfg.client_cert_pem.empty() && cfg.client_key_pem.empty() && !cfg.exec)
            << "credentials kept for plain http: " << user;
        EXPECT_TRUE(cfg.ca_pem.empty());
        EXPECT_TRUE(cfg.tls_server_name.empty());
    }
    // The same over https keeps them.
    auto tls = load_from_strings({{d / "config", one("{server: 'https://h:1', certificate-authority: ca.crt}", "{token: t}")}}, {});
    EXPECT_EQ(tls.token, "t");
    EXPECT_FALSE(tls.ca_pem.empty());
}

// --- validation ---------------------------------------------------------------------------

TEST(ClientGoFacts, TokenAndBasicAuthTogetherAreAnError) {
    std::string msg = load_error(one("{server: 'https://h:1'}", "{token: s3cr3t, username: a, password: pw0rd}"));
    EXPECT_TRUE(has(msg, "more than one authentication method")) << msg;
    EXPECT_TRUE(has(msg, "user 'u'")) << msg;
    EXPECT_FALSE(has(msg, "s3cr3t") || has(msg, "pw0rd")) << msg;
}

TEST(ClientGoFacts, TokenWithTokenFileLoadsWithoutReadingTheFile) {
    // The file is only read when requests are made (and then it wins).
    auto cfg = load1(one("{server: 'https://h:1'}", "{token: t, tokenFile: /no/such/token}"));
    EXPECT_EQ(cfg.token, "t");
    EXPECT_EQ(cfg.token_file, "/no/such/token");
    // Without a token, an unreadable file fails at load.
    EXPECT_TRUE(has(load_error(one("{server: 'https://h:1'}", "{tokenFile: /no/such/token}")), "/no/such/token"));
}

TEST(ClientGoFacts, FileAndDataForTheSameCertificateAreAnError) {
    TempDir d;
    nh::test::make_test_ca(d.path());
    std::string ca = nh::base64::encode(nh::test::read_file(d / "ca.crt"));
    std::string key = nh::base64::encode(nh::test::read_file(d / "ca.key"));
    std::string msg;
    EXPECT_EQ(code_of([&] {
                  load1(one("{server: 'https://h:1', certificate-authority: ca.crt, certificate-authority-data: " + ca + "}"),
                        d / "config");
              }, &msg),
              NH_ECONFIG);
    EXPECT_TRUE(has(msg, "certificate-authority-data and certificate-authority")) << msg;
    EXPECT_EQ(code_of([&] {
                  load1(one("{server: 'https://h:1'}", "{client-certificate: ca.crt, client-certificate-data: " + ca +
                                                           ", client-key: ca.key}"),
                        d / "config");
              }, &msg),
              NH_ECONFIG);
    EXPECT_TRUE(has(msg, "client-certificate-data and client-certificate")) << msg;
    EXPECT_EQ(code_of([&] {
                  load1(one("{server: 'https://h:1'}", "{client-certificate: ca.crt, client-key: ca.key, client-key-data: " +
                                                           key + "}"),
                        d / "config");
              }, &msg),
              NH_ECONFIG);
    EXPECT_TRUE(has(msg, "client-key-data and client-key")) << msg;
    EXPECT_FALSE(has(msg, key.substr(0, 40))) << "key material leaked";
}

TEST(ClientGoFacts, InsecureWithACertificateAuthorityIsAnError) {
    TempDir d;
    nh::test::make_test_ca(d.path());
    std::string msg;
    EXPECT_NE(code_of([&] {
                  load1(one("{server: 'https://h:1', certificate-authority: ca.crt, insecure-skip-tls-verify: true}"),
                        d / "config");
              }, &msg),
              NH_OK);
    EXPECT_TRUE(has(msg, "insecure-skip-tls-verify")) << msg;
}

TEST(ClientGoFacts, ExecPluginValidation) {
    const std::string s = "{server: 'https://h:1'}";
    // v1 has no default interactiveMode: it must be given.
    EXPECT_TRUE(has(load_error(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1, command: p}}")), "interactiveMode"));
    EXPECT_TRUE(load1(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1, command: p, interactiveMode: Never}}")).exec);
    // v1beta1 defaults it to IfAvailable.
    EXPECT_TRUE(load1(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p}}")).exec);
    EXPECT_TRUE(has(load_error(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p, interactiveMode: Sometimes}}")),
                    "Sometimes"));
    EXPECT_TRUE(has(load_error(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p, env: [{value: v}]}}")),
                    "env"));
    EXPECT_TRUE(has(load_error(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1}}")), "command"));
    EXPECT_TRUE(has(load_error(one(s, "{exec: {command: p}}")), "apiVersion"));
    EXPECT_TRUE(has(load_error(one(s, "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p}, auth-provider: {name: gcp}}")),
                    "auth-provider"));
}

TEST(ClientGoFacts, ExecInstallHintLosesTerminalEscapes) {
    auto cfg = load1(one("{server: 'https://h:1'}",
                         "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: p, "
                         "installHint: \"run \\e[1mlogin\\e[0m\\nthen retry\"}}"));
    ASSERT_TRUE(cfg.exec);
    EXPECT_EQ(cfg.exec->install_hint, "run U+001B[1mloginU+001B[0m\nthen retry");
}

TEST(ClientGoFacts, ProxyUrlSchemes) {
    for (const char *ok : {"http://p:3128", "https://p:3128", "socks5://p:1080"})
        EXPECT_EQ(load1(one(std::string("{server: 'https://h:1', proxy-url: '") + ok + "'}")).proxy_url, ok);
    for (const char *bad : {"socks6://p:1", "example.com", "chewbacca@example.com"}) {
        std::string msg = load_error(one(std::string("{server: 'https://h:1', proxy-url: '") + bad + "'}"));
        EXPECT_TRUE(has(msg, "proxy-url")) << msg;
    }
    // Its credentials are not shown either.
    std::string msg = load_error(one("{server: 'https://h:1', proxy-url: 'socks6://u:pr0xypass@p:1'}"));
    EXPECT_FALSE(has(msg, "pr0xypass")) << msg;
}

TEST(ClientGoFacts, TheClustersExecExtensionReachesThePlugin) {
    // The cluster's "client.authentication.k8s.io/exec" extension is the plugin's
    // spec.cluster.config (with provideClusterInfo), its YAML read as JSON.
    TempDir d;
    std::string info = d / "info.json";
    nh::test::write_file(d / "plugin.sh", "#!/bin/sh\nprintf '%s' \"$KUBERNETES_EXEC_INFO\" > '" + info + "'\n"
                         "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
                         "\"status\":{\"token\":\"tok\"}}'\n");
    chmod((d / "plugin.sh").c_str(), 0755);
    auto cfg = load1(one("{server: 'https://h:1', extensions: [{name: client.authentication.k8s.io/exec, "
                         "extension: {audience: foo, other: bar, n: 3, quoted: '3', on: true}}]}",
                         "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./plugin.sh, provideClusterInfo: true}}"),
                     d / "config");
    ASSERT_TRUE(cfg.exec);
    EXPECT_EQ(nh::kube::run_exec_plugin(*cfg.exec, cfg.server, cfg.ca_pem).credential.bearer_token, "tok");
    auto j = nlohmann::json::parse(nh::test::read_file(info));
    EXPECT_EQ(j["spec"]["cluster"]["server"], "https://h:1");
    EXPECT_EQ(j["spec"]["cluster"]["config"],
              nlohmann::json::parse(R"({"audience":"foo","other":"bar","n":3,"quoted":"3","on":true})"));
}

// users[].user.as, as-uid, as-groups and as-user-extra: every request acts as that user, with
// client-go's headers (its transport's impersonating round tripper): one Impersonate-Group
// per group, one Impersonate-Extra-KEY per value, the key percent-encoded where a header name
// cannot hold a byte, '%' included.
TEST(ClientGoFacts, ImpersonationBecomesClientGosHeaders) {
    auto cfg = load1(one("{server: 'https://h:1'}",
                         "{token: t, as: 'jane@example.com', as-uid: '06f6ce97', as-groups: [devs, 'system:ops'], "
                         "as-user-extra: {'acme.com/project': [alpha, beta], 'scopes': [openid], 'a%b c': [x]}}"));
    EXPECT_EQ(cfg.impersonate_user, "jane@example.com");
    std::vector<std::string> want = {
        "Impersonate-User: jane@example.com",
        "Impersonate-Uid: 06f6ce97",
        "Impersonate-Group: devs",
        "Impersonate-Group: system:ops",
        "Impersonate-Extra-a%25b%20c: x",
        "Impersonate-Extra-acme.com%2Fproject: alpha",
        "Impersonate-Extra-acme.com%2Fproject: beta",
        "Impersonate-Extra-scopes: openid",
    };
    EXPECT_EQ(nh::kube::impersonation_headers(cfg), want);
    // Nothing to impersonate: no header.
    EXPECT_TRUE(nh::kube::impersonation_headers(load1(one("{server: 'https://h:1'}"))).empty());
}

TEST(ClientGoFacts, ImpersonationIsCheckedAsClientGoChecksIt) {
    // Groups or extra without a user: client-go's validation refuses them.
    std::string e = load_error(one("{server: 'https://h:1'}", "{token: t, as-groups: [devs]}"));
    EXPECT_TRUE(has(e, "user 'u'") && has(e, "without impersonating a user")) << e;
    e = load_error(one("{server: 'https://h:1'}", "{token: t, as-user-extra: {k: [v]}}"));
    EXPECT_TRUE(has(e, "without impersonating a user")) << e;
    // A newline would start a header of its own: refused, naming the field.
    e = load_error(one("{server: 'https://h:1'}", "{token: t, as: \"jane\\nImpersonate-Group: system:masters\"}"));
    EXPECT_TRUE(has(e, "users[name=u].user.as") && has(e, "control character")) << e;
    e = load_error(one("{server: 'https://h:1'}", "{token: t, as: jane, as-groups: [\"a\\rb\"]}"));
    EXPECT_TRUE(has(e, "as-groups") && has(e, "control character")) << e;
    e = load_error(one("{server: 'https://h:1'}", "{token: t, as: jane, as-groups: devs}"));
    EXPECT_TRUE(has(e, "as-groups' must be a list")) << e;
    // Like the credentials, it is only for a TLS server.
    auto plain = load1(one("{server: 'http://h:1'}", "{token: t, as: jane, as-groups: [devs]}"));
    EXPECT_TRUE(nh::kube::impersonation_headers(plain).empty());
}
