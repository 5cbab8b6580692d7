// `nh dev env` against what the real kubelet gives a real container: a Deployment on the real
// node with every source of environment variables (env values with $(VAR) expansion, ConfigMap
// and Secret keys, optional references to nothing, envFrom with prefixes and overrides, the
// Downward API's fields and resources); the container's own environment (/proc/1/environ,
// exact to the byte) is what the resolved environment must equal.
#include <sys/stat.h>

#include <map>
#include <set>

#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

const char *kPassword = "p'w\"d $x\nline2";

std::map<std::string, std::string> environ_of(const std::string &nul_separated) {
    std::map<std::string, std::string> env;
    size_t at = 0;
    while (at < nul_separated.size()) {
        size_t end = nul_separated.find('\0', at);
        if (end == std::string::npos) end = nul_separated.size();
        std::string kv = nul_separated.substr(at, end - at);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        at = end + 1;
    }
    return env;
}

}  // namespace

class EnvRealPods : public RealPods {
protected:
    void make_workload() {
        json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "cfg"}, {"namespace", ns_}}},
                   {"data", {{"A", "a-from-cm"}, {"B", "b-from-cfg"}, {"1DIGIT", "digit"}, {"dotted.key", "dot"}}}};
        json cm2 = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "cfg2"}, {"namespace", ns_}}},
                    {"data", {{"B", "b-from-cfg2"}, {"Q", "quoted 'single' here"}}}};
        json sec = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "sec"}, {"namespace", ns_}}},
                    {"stringData", {{"PASSWORD", kPassword}, {"TOKEN", "tok-123"}}}};
        auto env_field = [](const char *name, const char *path) {
            return json{{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", path}}}}}};
        };
        auto env_res = [](const char *name, const char *res, const char *divisor) {
            json ref = {{"resource", res}};
            if (divisor) ref["divisor"] = divisor;
            return json{{"name", name}, {"valueFrom", {{"resourceFieldRef", ref}}}};
        };
        json env = json::array({
            {{"name", "FROM_VALUE"}, {"value", "plain"}},
            {{"name", "EXPANDED"}, {"value", "$(FROM_VALUE)-$(A)-$$(FROM_VALUE)-$(UNDEFINED)-$x-$(LATER_DEF)-$("}},
            {{"name", "CM_KEY"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "B"}}}}}},
            {{"name", "OPT_MISSING"},
             {"valueFrom", {{"configMapKeyRef", {{"name", "nope"}, {"key", "k"}, {"optional", true}}}}}},
            {{"name", "OPT_KEY"},
             {"valueFrom", {{"secretKeyRef", {{"name", "sec"}, {"key", "absent"}, {"optional", true}}}}}},
            {{"name", "SEC_KEY"}, {"valueFrom", {{"secretKeyRef", {{"name", "sec"}, {"key", "PASSWORD"}}}}}},
            {{"name", "FROM_SECRET"}, {"value", "pre-$(SEC_KEY)"}},
            env_field("POD_NAME", "metadata.name"),
            env_field("POD_NS", "metadata.namespace"),
            env_field("POD_UID", "metadata.uid"),
            env_field("POD_IP", "status.podIP"),
            env_field("POD_IPS", "status.podIPs"),
            env_field("HOST_IP", "status.hostIP"),
            env_field("NODE", "spec.nodeName"),
            env_field("SA", "spec.serviceAccountName"),
            env_field("LABEL", "metadata.labels['tier']"),
            env_field("NO_LABEL", "metadata.labels['absent']"),
            env_field("ANN", "metadata.annotations['note']"),
            env_res("CPU_LIMIT", "limits.cpu", nullptr),
            env_res("CPU_REQ_M", "requests.cpu", "1m"),
            env_res("MEM_LIMIT_MI", "limits.memory", "1Mi"),
            env_res("MEM_REQ", "requests.memory", nullptr),
            env_res("EPH_LIMIT", "limits.ephemeral-storage", "1Mi"),
            {{"name", "A"}, {"value", "a-overridden"}},
            {{"name", "LATER_DEF"}, {"value", "later"}},
            {{"name", "FROM_VALUE"}, {"value", "second $(FROM_VALUE)"}},
        });
        json container = {{"name", "app"},
                          {"image", app_image_},
                          {"env", env},
                          {"envFrom", json::array({{{"configMapRef", {{"name", "cfg"}}}},
                                                   {{"configMapRef", {{"name", "cfg2"}}}},
                                                   {{"prefix", "S_"}, {"secretRef", {{"name", "sec"}}}},
                                                   {{"configMapRef", {{"name", "gone"}, {"optional", true}}}}})},
                          {"resources", {{"limits", {{"cpu", "500m"}, {"memory", "64Mi"}}}, {"requests", {{"cpu", "250m"}}}}}};
        json deploy = {
            {"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", "envs"}, {"namespace", ns_}}},
            {"spec",
             {{"replicas", 1},
              {"selector", {{"matchLabels", {{"app", "envs"}}}}},
              {"template",
               {{"metadata", {{"labels", {{"app", "envs"}, {"tier", "backend"}}}, {"annotations", {{"note", "hello world"}}}}},
                {"spec",
                 {{"nodeSelector", {{taint_, "true"}}},
                  {"tolerations", json::array({{{"key", taint_}, {"operator", "Exists"}, {"effect", "NoSchedule"}}})},
                  {"terminationGracePeriodSeconds", 1},
                  {"containers", json::array({container})}}}}}}}};
        json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array({cm, cm2, sec, deploy})}};
        apply(list.dump());
        ASSERT_TRUE(eventually([&] { return pods_ready("app=envs", 1); }, 180s)) << kubectl("-n " + ns_ + " get pods -o wide");
    }

    json resolve(bool secrets, int format = NH_DEV_ENV_JSON, std::string *text = nullptr) {
        nh_dev_env_options o = NH_DEV_ENV_OPTIONS_INIT;
        o.include_secrets = secrets ? 1 : 0;
        o.format = format;
        nh_buf b = NH_BUF_INIT;
        int rc = nh_dev_env(&b, client_, "deployment", "envs", &o);
        EXPECT_EQ(rc, NH_OK) << nh_error_last()->message;
        std::string s = b.ptr ? std::string(b.ptr, b.size) : "";
        nh_buf_dispose(&b);
        if (text) *text = s;
        return format == NH_DEV_ENV_JSON ? json::parse(s, nullptr, false) : json();
    }
};

TEST_F(EnvRealPods, TheResolvedEnvironmentIsWhatTheKubeletGaveTheContainer) {
    make_workload();
    auto [code, raw] = exec("deployment/envs", {"cat", "/proc/1/environ"});
    ASSERT_EQ(code, 0) << raw;
    auto real = environ_of(raw);
    ASSERT_EQ(real["SEC_KEY"], kPassword);

    json resolved = resolve(true);
    ASSERT_TRUE(resolved.is_object());
    EXPECT_EQ(resolved["container"], "app");
    EXPECT_FALSE(resolved["pod"].is_null());
    std::set<std::string> names;
    for (const auto &e : resolved["env"]) {
        std::string name = e["name"];
        names.insert(name);
        ASSERT_TRUE(e.contains("value")) << e.dump();
        ASSERT_TRUE(real.count(name)) << name << " is not in the container's environment";
        EXPECT_EQ(e["value"].get<std::string>(), real[name]) << name << " (" << e["source"] << ")";
    }
    // Everything the container has beyond the image's and the kubelet's own (PATH, HOSTNAME,
    // the service links) came from the spec and is in the resolved environment.
    for (const auto &[name, value] : real) {
        bool own = name == "PATH" || name == "HOME" || name == "HOSTNAME" || name.rfind("KUBERNETES_", 0) == 0;
        if (!own) {
            EXPECT_TRUE(names.count(name)) << name << "=" << value << " is missing from the resolved environment";
        }
    }
    // Optional references to nothing leave the variable unset.
    EXPECT_FALSE(names.count("OPT_MISSING"));
    EXPECT_FALSE(names.count("OPT_KEY"));
    EXPECT_EQ(real.count("OPT_MISSING"), 0u);

    // The dotenv form reads back, through python-dotenv, to the same values.
    std::string dotenv;
    resolve(true, NH_DEV_ENV_DOTENV, &dotenv);
    std::string file = local_ / "env.dotenv";
    nh::test::write_file(file, dotenv);
    std::string script = local_ / "read.py";
    nh::test::write_file(script, "import json, sys\nfrom dotenv import dotenv_values\n"
                                 "print(json.dumps(dotenv_values(sys.argv[1], interpolate=False)))\n");
    int rc = 0;
    std::string parsed_text = shell("python3 '" + script + "' '" + file + "'", &rc);
    ASSERT_EQ(rc, 0) << parsed_text;
    json parsed = json::parse(parsed_text, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << parsed_text;
    EXPECT_EQ(parsed.size(), names.size()) << dotenv;
    for (const auto &name : names) EXPECT_EQ(parsed.value(name, "<missing>"), real[name]) << name << "\n" << dotenv;
}

TEST_F(EnvRealPods, SecretsAreLeftOutUnlessAsked) {
    make_workload();
    json resolved = resolve(false);
    ASSERT_TRUE(resolved.is_object());
    std::string dump = resolved.dump();
    EXPECT_EQ(dump.find("line2"), std::string::npos) << dump;
    EXPECT_EQ(dump.find("tok-123"), std::string::npos) << dump;
    std::set<std::string> withheld;
    for (const auto &e : resolved["env"])
        if (e.contains("withheld")) withheld.insert(e["name"]);
    EXPECT_EQ(withheld, (std::set<std::string>{"SEC_KEY", "FROM_SECRET", "S_PASSWORD", "S_TOKEN"})) << dump;

    // The CLI: dotenv by default, the secrets named in comments, a note on stderr.
    int rc = 0;
    std::string out = nh::test::shell(nh_cli() + "dev env deployment/envs 2>'" + (local_ / "err") + "'", &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_EQ(out.find("line2"), std::string::npos) << out;
    EXPECT_NE(out.find("# SEC_KEY left out (withheld)"), std::string::npos) << out;
    EXPECT_NE(out.find("CM_KEY='b-from-cfg'"), std::string::npos) << out;
    std::string err = nh::test::read_file(local_ / "err");
    EXPECT_NE(err.find("4 value(s) from Secrets left out"), std::string::npos) << err;
    out = sh(nh_cli() + "dev env deployment/envs --secrets --format json", &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("line2"), std::string::npos) << out;

    // A reference the container needs to a key that is gone: a clear error, as the kubelet
    // would not start it.
    kubectl("-n " + ns_ + " patch configmap cfg --type=json -p '[{\"op\":\"remove\",\"path\":\"/data/B\"}]'");
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_dev_env(&b, client_, "deployment", "envs", nullptr), NH_ENOTFOUND);
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find("key \"B\" of configmap \"cfg\" not found"), std::string::npos) << msg;
    nh_buf_dispose(&b);
}
