// Nocalhost dev config (v2) parsing: no cluster needed. Fixtures in tests/dev/fixtures/.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/error.hpp"
#include "dev/config.hpp"
#include "nocalhost.h"

namespace {

using json = nlohmann::json;
using nh::dev::parse_nocalhost_config;

const std::string kFixtures = NH_DEV_FIXTURES_DIR;

std::string slurp(const std::string &name) {
    std::ifstream in(kFixtures + "/" + name);
    EXPECT_TRUE(in) << name;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json parse_fixture(const std::string &name) { return parse_nocalhost_config(slurp(name), name, kFixtures); }

// The NH_ECONFIG message of parsing `text`, or "" with a test failure.
std::string config_error(const std::string &text, const std::string &file = "config.yaml") {
    try {
        parse_nocalhost_config(text, file, kFixtures);
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_ECONFIG) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return {};
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

bool ignored_has(const json &svc, const std::string &field) {
    for (const auto &i : svc.value("ignored", json::array()))
        if (i.value("field", "") == field) return true;
    return false;
}

TEST(DevConfig, SingleServiceEveryField) {
    json s = parse_fixture("single-service.yaml");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0]["name"], "productpage");
    EXPECT_EQ(s[0]["serviceType"], "deployment");
    ASSERT_EQ(s[0]["containers"].size(), 1u);
    EXPECT_EQ(s[0]["containers"][0]["name"], "productpage");
    const json &d = s[0]["containers"][0]["dev"];
    EXPECT_EQ(d["image"], "nocalhost-docker.pkg.coding.net/nocalhost/dev-images/python:3.7.7-slim-productpage-with-pydevd");
    EXPECT_EQ(d["imagePullPolicy"], "IfNotPresent");
    EXPECT_EQ(d["shell"], "bash");
    EXPECT_EQ(d["workDir"], "/home/nocalhost-dev");
    EXPECT_EQ(d["storageClass"], "nh-fast");
    EXPECT_EQ(d["resources"], json::parse(R"({"limits":{"memory":"1Gi","cpu":"1"},"requests":{"memory":"512Mi","cpu":"500m"}})"));
    ASSERT_EQ(d["persistentVolumeDirs"].size(), 2u);
    EXPECT_EQ(d["persistentVolumeDirs"][0], json::parse(R"({"path":"/root/.cache/pip","capacity":"10Gi"})"));
    EXPECT_EQ(d["persistentVolumeDirs"][1], json::parse(R"({"path":"/home/nocalhost-dev/build"})"));
    EXPECT_EQ(d["command"]["build"], json::parse(R"(["pip","install","-r","requirements.txt"])"));
    EXPECT_EQ(d["command"]["run"], json::parse(R"(["python","productpage.py","9080"])"));
    EXPECT_EQ(d["command"]["debug"].size(), 7u);
    EXPECT_EQ(d["command"]["hotReloadRun"].size(), 3u);
    EXPECT_EQ(d["command"]["hotReloadDebug"].size(), 3u);
    EXPECT_EQ(d["debug"]["remoteDebugPort"], 9009);
    EXPECT_EQ(d["debug"]["language"], "python");
    EXPECT_EQ(d["sync"]["type"], "sendReceive");
    EXPECT_EQ(d["sync"]["mode"], "pattern");
    EXPECT_EQ(d["sync"]["deleteProtection"], true);
    EXPECT_EQ(d["sync"]["filePattern"], json::parse(R"(["./"])"));
    EXPECT_EQ(d["sync"]["ignoreFilePattern"], json::parse(R"([".git",".github","*.pyc"])"));
    EXPECT_EQ(d["env"], json::parse(R"([{"name":"DEBUG","value":"true"},{"name":"PORT","value":"9080"}])"));
    EXPECT_EQ(d["envFromFiles"],
              json::parse(R"([{"name":"FROM_FILE","value":"hello"},{"name":"QUOTED","value":"a b"},{"name":"PORT","value":"1111"}])"));
    EXPECT_EQ(d["portForward"], json::parse(R"(["9080:9080","39009:9009"])"));
    EXPECT_EQ(d["sidecarImage"], "ghcr.io/example/nhsyncd:test");
    ASSERT_EQ(d["patches"].size(), 3u);
    EXPECT_EQ(d["patches"][0]["type"], "strategic");
    EXPECT_EQ(d["patches"][1]["type"], "json");
    EXPECT_EQ(d["patches"][2]["type"], "merge");
    EXPECT_EQ(json::parse(d["patches"][1]["patch"].get<std::string>())[0]["op"], "add");
    // Accepted, reported as ignored with file and line.
    for (const char *f : {"containers[0].dev.gitUrl", "containers[0].dev.hotReload", "containers[0].dev.useDevContainer"})
        EXPECT_TRUE(ignored_has(s[0], f)) << f << " in " << s[0]["ignored"].dump();
    for (const auto &i : s[0]["ignored"]) {
        EXPECT_EQ(i["file"], "single-service.yaml");
        EXPECT_GT(i["line"].get<int>(), 0);
        EXPECT_FALSE(i.value("reason", "").empty());
    }
}

TEST(DevConfig, ListOfServices) {
    json s = parse_fixture("service-list.yaml");
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0]["name"], "details");
    EXPECT_EQ(s[0]["containers"][0]["dev"]["sync"]["mode"], "gitIgnore");
    EXPECT_EQ(s[0]["containers"][0]["dev"]["sync"]["type"], "send");
    EXPECT_EQ(s[1]["serviceType"], "statefulset");
    EXPECT_EQ(s[1]["containers"][0]["dev"]["debug"]["remoteDebugPort"], 9229);
    // An unknown field is accepted, reported as ignored for its own service only.
    EXPECT_TRUE(ignored_has(s[1], "services[1].containers[0].dev.surprise")) << s[1]["ignored"].dump();
    EXPECT_FALSE(ignored_has(s[0], "services[1].containers[0].dev.surprise")) << s[0]["ignored"].dump();
}

TEST(DevConfig, WholeApplicationFile) {
    json s = parse_fixture("application.yaml");
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0]["name"], "productpage");
    EXPECT_EQ(s[0]["containers"][0]["dev"]["portForward"], json::parse(R"(["39080:9080"])"));
    EXPECT_EQ(s[1]["name"], "reviews");
    const json &d = s[1]["containers"][0]["dev"];
    EXPECT_EQ(d["command"]["build"], json::parse(R"(["./gradlew","build"])"));
    EXPECT_EQ(d["debug"]["language"], "java");
    EXPECT_EQ(d["persistentVolumeDirs"][0]["capacity"], "10Gi");
    // Install-time parts are reported as ignored, not errors.
    EXPECT_TRUE(ignored_has(s[0], "application.manifestType")) << s[0]["ignored"].dump();
    EXPECT_TRUE(ignored_has(s[0], "application.services[0].dependLabelSelector")) << s[0]["ignored"].dump();
    EXPECT_TRUE(ignored_has(s[0], "application.services[0].containers[0].install")) << s[0]["ignored"].dump();
    EXPECT_TRUE(ignored_has(s[1], "application.manifestType")) << s[1]["ignored"].dump();
    EXPECT_TRUE(ignored_has(s[0], "configProperties.envFile")) << s[0]["ignored"].dump();
}

TEST(DevConfig, NocalhostAnnotationSample) {
    json s = parse_fixture("nocalhost-annotation-sample.yaml");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_FALSE(s[0].contains("name"));
    const json &d = s[0]["containers"][0]["dev"];
    EXPECT_EQ(d["shell"], "zsh");
    EXPECT_EQ(d["command"]["run"], json::parse(R"(["./run.sh"])"));
    EXPECT_EQ(d["env"][0]["value"], "on");
    EXPECT_EQ(d["portForward"], json::array());
}

TEST(DevConfig, FindService) {
    json s = parse_fixture("service-list.yaml");
    json f = nh::dev::find_service(s, nh::dev::WorkloadKind(nh::dev::Kind::StatefulSet), "ratings");
    ASSERT_FALSE(f.is_null());
    EXPECT_EQ(f["name"], "ratings");
    EXPECT_TRUE(nh::dev::find_service(s, nh::dev::WorkloadKind(nh::dev::Kind::Deployment), "ratings").is_null());
    EXPECT_TRUE(nh::dev::find_service(s, nh::dev::WorkloadKind(nh::dev::Kind::Deployment), "nope").is_null());
}

TEST(DevConfig, EmptyTextHasNoServices) { EXPECT_TRUE(parse_nocalhost_config("", "empty.yaml").empty()); }

TEST(DevConfigErrors, MalformedYamlNamesFileAndLine) {
    std::string e = config_error(slurp("bad-yaml.yaml"), "bad-yaml.yaml");
    EXPECT_HAS(e, "bad-yaml.yaml:");
    EXPECT_HAS(e, "not YAML");
}

TEST(DevConfigErrors, UnknownSyncTypeNamesFieldLineAndChoices) {
    std::string e = config_error(slurp("bad-sync-type.yaml"), "bad-sync-type.yaml");
    EXPECT_HAS(e, "bad-sync-type.yaml:8:");
    EXPECT_HAS(e, "containers[0].dev.sync.type");
    EXPECT_HAS(e, "receiveOnly");
    EXPECT_HAS(e, "valid: send, sendOnly, sendReceive");
}

TEST(DevConfigErrors, WrongTypeNamesFieldAndLine) {
    std::string e = config_error(slurp("bad-types.yaml"), "bad-types.yaml");
    EXPECT_HAS(e, "bad-types.yaml:8:");
    EXPECT_HAS(e, "containers[0].dev.debug.remoteDebugPort");
    EXPECT_HAS(e, "expected a number");
}

struct BadCase {
    const char *what;
    std::string text;
    std::string line;
    std::string field;
    std::string detail;
};

TEST(DevConfigErrors, EveryCheckedField) {
    auto dev = [](const std::string &body) { return "name: a\ncontainers:\n  - name: a\n    dev:\n" + body; };
    const BadCase cases[] = {
        {"sync.mode", dev("      sync:\n        mode: rsync\n"), ":6:", "containers[0].dev.sync.mode", "valid: pattern, gitIgnore"},
        {"deleteProtection", dev("      sync:\n        deleteProtection: maybe\n"), ":6:", "containers[0].dev.sync.deleteProtection",
         "expected true or false"},
        {"sync unknown", dev("      sync:\n        direction: up\n"), ":6:", "containers[0].dev.sync.direction",
         "valid: type, mode, deleteProtection, filePattern, ignoreFilePattern"},
        {"filePattern map", dev("      sync:\n        filePattern: {a: b}\n"), ":6:", "containers[0].dev.sync.filePattern",
         "expected a list of strings"},
        {"imagePullPolicy", dev("      imagePullPolicy: Sometimes\n"), ":5:", "containers[0].dev.imagePullPolicy",
         "valid: Always, IfNotPresent, Never"},
        {"image list", dev("      image: [a, b]\n"), ":5:", "containers[0].dev.image", "expected a string"},
        {"workDir relative", dev("      workDir: src\n"), ":5:", "containers[0].dev.workDir", "absolute"},
        {"resources kind", dev("      resources:\n        limits:\n          gpu: 1\n"), ":7:", "containers[0].dev.resources.limits.gpu",
         "valid: cpu, memory, ephemeral-storage"},
        {"resources quantity", dev("      resources:\n        requests:\n          memory: lots\n"), ":7:",
         "containers[0].dev.resources.requests.memory", "not a quantity"},
        {"resources dot", dev("      resources:\n        requests:\n          cpu: \".\"\n"), ":7:",
         "containers[0].dev.resources.requests.cpu", "not a quantity"},
        {"resources section", dev("      resources:\n        maximum: {}\n"), ":6:", "containers[0].dev.resources.maximum",
         "valid: limits, requests"},
        {"pvd not list", dev("      persistentVolumeDirs: /data\n"), ":5:", "containers[0].dev.persistentVolumeDirs", "expected a list"},
        {"pvd relative", dev("      persistentVolumeDirs:\n        - path: data\n"), ":6:", "containers[0].dev.persistentVolumeDirs[0].path",
         "absolute"},
        {"pvd capacity", dev("      persistentVolumeDirs:\n        - path: /data\n          capacity: big\n"), ":7:",
         "containers[0].dev.persistentVolumeDirs[0].capacity", "not a quantity"},
        {"pvd missing path", dev("      persistentVolumeDirs:\n        - capacity: 1Gi\n"), ":6:",
         "containers[0].dev.persistentVolumeDirs[0].path", "missing"},
        {"pvd unknown", dev("      persistentVolumeDirs:\n        - path: /data\n          size: 1Gi\n"), ":7:",
         "containers[0].dev.persistentVolumeDirs[0].size", "valid: path, capacity"},
        {"command unknown", dev("      command:\n        test: [go, test]\n"), ":6:", "containers[0].dev.command.test",
         "valid: build, run, debug, hotReloadRun, hotReloadDebug"},
        {"command map", dev("      command:\n        run: {a: b}\n"), ":6:", "containers[0].dev.command.run", "expected a list of strings"},
        {"debug port range", dev("      debug:\n        remoteDebugPort: 70000\n"), ":6:", "containers[0].dev.debug.remoteDebugPort",
         "out of range 1..65535"},
        {"debug language", dev("      debug:\n        language: cobol\n"), ":6:", "containers[0].dev.debug.language",
         "valid: java, go, python, node, php, ruby"},
        {"env not list", dev("      env: {A: b}\n"), ":5:", "containers[0].dev.env", "expected a list of {name, value}"},
        {"env no name", dev("      env:\n        - value: x\n"), ":6:", "containers[0].dev.env[0]", "expected {name, value}"},
        {"envFrom unknown", dev("      envFrom:\n        configMap: x\n"), ":6:", "containers[0].dev.envFrom.configMap", "valid: envFile"},
        {"envFile missing", dev("      envFrom:\n        envFile:\n          - path: no-such.env\n"), ":7:",
         "containers[0].dev.envFrom.envFile[0].path", "cannot read env file"},
        {"portForward value", dev("      portForward:\n        - 80:99999\n"), ":6:", "containers[0].dev.portForward[0]",
         "LOCAL:REMOTE"},
        {"portForward scalar", dev("      portForward: abc\n"), ":5:", "containers[0].dev.portForward", "LOCAL:REMOTE"},
        {"patch type", dev("      patches:\n        - type: xml\n          patch: '{}'\n"), ":6:", "containers[0].dev.patches[0].type",
         "valid: strategic, merge, json"},
        {"patch not json", dev("      patches:\n        - type: merge\n          patch: '{oops'\n"), ":7:",
         "containers[0].dev.patches[0].patch", "not JSON"},
        {"json patch object", dev("      patches:\n        - type: json\n          patch: '{}'\n"), ":7:",
         "containers[0].dev.patches[0].patch", "JSON array of operations"},
        {"patch missing", dev("      patches:\n        - type: merge\n"), ":6:", "containers[0].dev.patches[0].patch", "missing"},
        {"hotReload", dev("      hotReload: often\n"), ":5:", "containers[0].dev.hotReload", "expected true or false"},
        {"dev scalar", "name: a\ncontainers:\n  - name: a\n    dev: yes-please\n", ":4:", "containers[0].dev", "expected a mapping"},
        {"containers map", "name: a\ncontainers:\n  a: {}\n", ":3:", "containers", "expected a list of containers"},
        {"serviceType", "name: a\nserviceType: lambda\n", ":2:", "serviceType",
         "valid: deployment, statefulset, replicaset, daemonset, job, cronjob, pod"},
        {"version", "configProperties:\n  version: v1\napplication:\n  services: []\n", ":2:", "configProperties.version", "valid: v2"},
        {"services map", "application:\n  services:\n    a: {}\n", ":3:", "application.services", "expected a list of services"},
        {"application scalar", "application: bookinfo\n", ":1:", "application", "expected a mapping"},
        {"top scalar", "just text\n", ":1:", "(top level)", "expected a service"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.what);
        std::string e = config_error(c.text, "case.yaml");
        EXPECT_HAS(e, "case.yaml" + c.line);
        EXPECT_HAS(e, c.field + ":");
        EXPECT_HAS(e, c.detail);
    }
}

TEST(DevConfigErrors, JsonAnnotationTextIsAccepted) {
    // The dev.nocalhost annotation is often JSON, which is YAML too.
    json s = parse_nocalhost_config(R"({"name":"a","serviceType":"deployment","containers":[{"name":"a","dev":{"image":"x","sync":{"type":"send"}}}]})",
                                    "annotation");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0]["containers"][0]["dev"]["sync"]["type"], "send");
    std::string e = config_error(R"({"name":"a","containers":[{"name":"a","dev":{"sync":{"type":"both"}}}]})", "annotation");
    EXPECT_HAS(e, "annotation:1:");
    EXPECT_HAS(e, "containers[0].dev.sync.type");
}

TEST(DevConfig, PatchesAndPersistentDirsJson) {
    auto p = nh::dev::parse_patches(R"([{"type":"json","patch":"[]"},{"patch":{"a":1}}])", "patches");
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[1].body, R"({"a":1})");
    try {
        nh::dev::parse_patches(R"([{"type":"xml","patch":"{}"}])", "patches");
        ADD_FAILURE() << "no error";
    } catch (const nh::Error &e) {
        EXPECT_HAS(e.what(), "valid: strategic, merge, json");
    }
    auto d = nh::dev::parse_persistent_dirs(R"([{"path":"/data","capacity":"2Gi","storageClass":"x"}])", "dirs");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].capacity, "2Gi");
    EXPECT_EQ(d[0].storage_class, "x");
    EXPECT_THROW(nh::dev::parse_persistent_dirs(R"([{"path":"data"}])", "dirs"), nh::Error);
}

}  // namespace
