// Nocalhost dev config (v2) parsing: no cluster needed. Fixtures in tests/dev/fixtures/.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "dev/config.hpp"
#include "kube/client.hpp"
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
        {"v1 application", "name: bookinfo\nservices:\n  - name: a\n", ":2:", "services", "config v1"},
        {"v1 service", "name: a\nworkDir: /src\ndevPorts: [8080]\n", ":2:", "workDir", "config v1"},
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

// ---- Templates (includes and variables), as nhctl renders them before reading the YAML ----

namespace {

namespace fs = std::filesystem;

// A directory of files for one test, removed afterwards.
class TempTree {
public:
    TempTree() {
        char tmpl[] = "/tmp/nh-devconfig-XXXXXX";
        root_ = ::mkdtemp(tmpl);
    }
    ~TempTree() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    std::string write(const std::string &rel, const std::string &text) const {
        fs::path p = fs::path(root_) / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string path(const std::string &rel) const { return (fs::path(root_) / rel).string(); }

private:
    std::string root_;
};

// Parses the local file `path` as a dev start with --config does.
json parse_local(const std::string &path) {
    std::ifstream in(path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_nocalhost_config(ss.str(), path, fs::path(path).parent_path().string(), path);
}

std::string local_error(const std::string &path) {
    try {
        parse_local(path);
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_ECONFIG) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error for " << path;
    return {};
}

const json &dev_of(const json &svc, size_t container = 0) { return svc["containers"][container]["dev"]; }

}  // namespace

TEST(DevConfigTemplate, BookinfoIncludesItsServices) {
    // Nocalhost's own demo: `services:` comes from ${_INCLUDE_:-./base-services.yaml | nindent 4}.
    json s = parse_local(kFixtures + "/wild/bookinfo/.nocalhost/config.manifest.local.yaml");
    ASSERT_EQ(s.size(), 5u) << s.dump();
    EXPECT_EQ(s[0]["name"], "productpage");
    EXPECT_EQ(s[4]["name"], "authors");
    EXPECT_EQ(dev_of(s[0])["portForward"], json::parse(R"(["39080:9080"])"));
    EXPECT_EQ(dev_of(s[0])["resources"]["limits"]["memory"], "1Gi");
    EXPECT_EQ(dev_of(s[2])["debug"]["remoteDebugPort"], 9229);
    // What the included file says is reported with the included file's name and its own lines.
    bool found = false;
    for (const auto &i : s[0]["ignored"])
        if (i["field"] == "application.services[0].containers[0].dev.gitUrl") {
            found = true;
            EXPECT_NE(i["file"].get<std::string>().find("base-services.yaml"), std::string::npos) << i.dump();
            EXPECT_EQ(i["line"], 12) << i.dump();
        }
    EXPECT_TRUE(found) << s[0]["ignored"].dump();
}

TEST(DevConfigTemplate, ErrorsInAnIncludedFileNameThatFileAndLine) {
    TempTree t;
    t.write("svc/web.yaml", "- name: web\n  containers:\n    - name: app\n      dev:\n        sync:\n          type: both\n");
    std::string cfg = t.write(".nocalhost/config.yaml",
                              "configProperties:\n  version: v2\napplication:\n  services:\n"
                              "    ${_INCLUDE_:- ../svc/web.yaml | nindent 4}\n");
    std::string e = local_error(cfg);
    EXPECT_HAS(e, t.path("svc/web.yaml") + ":6: ");
    EXPECT_HAS(e, "containers[0].dev.sync.type: 'both' is not valid");
}

TEST(DevConfigTemplate, NestedIncludeAndLaterKeysWin) {
    // Nocalhost's documented "abstraction" and "reloading": a dev section included from a base
    // file, with fields after the include replacing the base's.
    TempTree t;
    t.write("base/dev-config.yaml",
            "image: ruby:2.7\nshell: bash\nworkDir: /home/nocalhost-dev\nenv:\n- name: DEBUG\n  value: \"true\"\n");
    t.write("service/productpage.yaml",
            "- name: productpage\n  serviceType: deployment\n  containers:\n    - name: productpage\n      dev:\n"
            "        ${_INCLUDE_:- ../base/dev-config.yaml | nindent 8}\n        image: python:3.7\n"
            "        env:\n          - name: PORT\n            value: \"9080\"\n");
    std::string cfg = t.write("config.yaml", "application:\n  name: bookinfo\n  services:\n"
                                             "    ${_INCLUDE_:- ./service/productpage.yaml | nindent 4}\n");
    json s = parse_local(cfg);
    ASSERT_EQ(s.size(), 1u);
    const json &d = dev_of(s[0]);
    EXPECT_EQ(d["image"], "python:3.7");
    EXPECT_EQ(d["shell"], "bash");
    EXPECT_EQ(d["env"], json::parse(R"([{"name":"PORT","value":"9080"}])"));
}

TEST(DevConfigTemplate, VariablesFromTheEnvironmentAndTheEnvFile) {
    TempTree t;
    t.write(".nocalhost/env.dev", "NH_TPL_IMAGE=from-file\nNH_TPL_SHELL=zsh\n");
    std::string cfg = t.write(".nocalhost/config.yaml",
                              "configProperties:\n  version: v2\n  envFile: env.dev\napplication:\n  services:\n"
                              "    - name: web\n      containers:\n        - name: app\n          dev:\n"
                              "            image: ${NH_TPL_IMAGE}\n"
                              "            shell: $NH_TPL_SHELL\n"
                              "            workDir: ${NH_TPL_UNSET:-/src}\n"
                              "            command:\n              run: [\"sh\", \"-c\", \"echo $$HOME ${NH_TPL_UNSET}x\"]\n");
    ::setenv("NH_TPL_IMAGE", "from-env", 1);  // the process environment wins, as in nhctl
    ::unsetenv("NH_TPL_SHELL");
    ::unsetenv("NH_TPL_UNSET");
    json s = parse_local(cfg);
    ::unsetenv("NH_TPL_IMAGE");
    ASSERT_EQ(s.size(), 1u);
    const json &d = dev_of(s[0]);
    EXPECT_EQ(d["image"], "from-env");
    EXPECT_EQ(d["shell"], "zsh");
    EXPECT_EQ(d["workDir"], "/src");
    EXPECT_EQ(d["command"]["run"][2], "echo $HOME x");
    EXPECT_FALSE(ignored_has(s[0], "configProperties.envFile")) << s[0]["ignored"].dump();
}

TEST(DevConfigTemplate, TextFromTheClusterHasNoIncludesAndNoEnvironment) {
    ::setenv("NH_TPL_SECRET", "s3cr3t", 1);
    json s = parse_nocalhost_config("containers:\n  - name: app\n    dev:\n      image: x/${NH_TPL_SECRET}\n"
                                    "      shell: ${NH_TPL_SECRET:-bash}\n",
                                    "annotation dev.nocalhost of deployment/web");
    ::unsetenv("NH_TPL_SECRET");
    EXPECT_EQ(dev_of(s[0])["image"], "x/");
    EXPECT_EQ(dev_of(s[0])["shell"], "bash");
    std::string e = config_error("containers:\n  - name: app\n    dev:\n      ${_INCLUDE_:- /etc/passwd | nindent 6}\n",
                                 "annotation dev.nocalhost of deployment/web");
    EXPECT_HAS(e, "annotation dev.nocalhost of deployment/web:4: ");
    EXPECT_HAS(e, "${_INCLUDE_:- /etc/passwd | nindent 6}");
    EXPECT_HAS(e, "not allowed in a config read from the cluster");
}

TEST(DevConfigTemplate, BadTemplatesNameTheConstructAndLine) {
    TempTree t;
    t.write("a.yaml", "- name: a\n  containers: []\n");
    t.write("loop1.yaml", "${_INCLUDE_:- loop2.yaml}\n");
    t.write("loop2.yaml", "${_INCLUDE_:- loop1.yaml}\n");
    fs::create_directories(t.path("dir"));
    struct Case {
        const char *text;
        std::string where, construct, problem;
    } cases[] = {
        {"name: a\ncontainers:\n  - dev:\n      image: ${IMAGE\n", "c.yaml:4: ", "${IMAGE", "no closing '}'"},
        {"name: a\nimage: ${IMAGE/a/b}\n", "c.yaml:2: ", "${IMAGE/a/b}", "not supported"},
        {"name: a\nimage: ${}\n", "c.yaml:2: ", "${}", "expected a variable name"},
        {"services:\n  ${_INCLUDE_:- a.yaml | indent 2}\n", "c.yaml:2: ", "| indent 2}", "only '| nindent N'"},
        {"services:\n  ${_INCLUDE_:- a.yaml | nindent two}\n", "c.yaml:2: ", "nindent two", "only '| nindent N'"},
        {"services:\n  ${_INCLUDE_:- a.yaml | nindent 2 | x}\n", "c.yaml:2: ", "${_INCLUDE_", "more than one '|'"},
        {"services:\n  ${_INCLUDE_:- | nindent 2}\n", "c.yaml:2: ", "${_INCLUDE_", "no file named"},
        {"\n\nservices:\n  ${_INCLUDE_:- missing.yaml | nindent 2}\n", "c.yaml:4: ", "missing.yaml",
         "cannot read '" + t.path("missing.yaml") + "': No such file or directory"},
        {"services:\n  ${_INCLUDE_:- dir | nindent 2}\n", "c.yaml:2: ", "dir", "not a regular file"},
        {"${_INCLUDE_:- loop1.yaml}\n", "loop2.yaml:1: ", "loop1.yaml", "include cycle"},
        {"a: 1\n${_INCLUDE_:- ./c.yaml}\n", "c.yaml:2: ", "./c.yaml", "include cycle"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.text);
        std::string e = local_error(t.write("c.yaml", c.text));
        EXPECT_HAS(e, c.where);
        EXPECT_HAS(e, c.construct);
        EXPECT_HAS(e, c.problem);
    }
}

TEST(DevConfig, DuplicateServicesTheLastOneWins) {
    // nhctl keeps the last of services with the same name (an include followed by an override).
    json s = parse_nocalhost_config("- name: web\n  serviceType: deployment\n  containers: [{name: a, dev: {image: one}}]\n"
                                    "- name: web\n  serviceType: deployment\n  containers: [{name: a, dev: {image: two}}]\n",
                                    "c.yaml");
    json f = nh::dev::find_service(s, nh::dev::WorkloadKind(nh::dev::Kind::Deployment), "web");
    ASSERT_FALSE(f.is_null());
    EXPECT_EQ(dev_of(f)["image"], "two");
}

// ---- Values Nocalhost itself writes ----

TEST(DevConfigNocalhostWritten, ZeroValuesMeanNone) {
    json s = parse_fixture("wild/nhctl-written.yaml");
    ASSERT_EQ(s.size(), 2u);
    const json &web = dev_of(s[0]);
    for (const char *f : {"resources", "command", "debug", "sync", "workDir"}) {
        if (std::string(f) == "workDir") {
            EXPECT_EQ(web.value("workDir", ""), "");
            continue;
        }
        EXPECT_TRUE(!web.contains(f) || web[f].empty()) << f << ": " << web.dump();
    }
    EXPECT_FALSE(web.contains("resources")) << web.dump();
    const json &api = dev_of(s[1]);
    EXPECT_FALSE(api.contains("resources")) << api.dump();  // only empty quantities
    EXPECT_FALSE(api["debug"].contains("remoteDebugPort")) << api.dump();  // port 0: none
    EXPECT_FALSE(api["persistentVolumeDirs"][0].contains("capacity")) << api.dump();  // "": the default
    EXPECT_FALSE(api["sync"].contains("deleteProtection")) << api.dump();
}

TEST(DevConfigNocalhostWritten, EmptyAndNullScalars) {
    auto dev = [](const std::string &body) { return "name: a\ncontainers:\n  - name: a\n    dev:\n" + body; };
    for (const std::string body : {"      debug:\n        remoteDebugPort: \"\"\n", "      debug:\n        remoteDebugPort: null\n",
                                   "      debug:\n        remoteDebugPort: 0\n", "      hotReload: null\n",
                                   "      hotReload: \"\"\n", "      useDevContainer: null\n",
                                   "      sync:\n        deleteProtection: null\n", "      resources:\n        limits: null\n",
                                   "      resources:\n        requests:\n          cpu: \"\"\n          memory: null\n",
                                   "      env:\n        - name: A\n          value: null\n", "      envFrom: null\n",
                                   "      envFrom:\n        envFile: null\n", "      patches: null\n",
                                   "      persistentVolumeDirs:\n        - path: /data\n          capacity: null\n",
                                   "      portForward: null\n", "      command:\n        run: null\n"}) {
        SCOPED_TRACE(body);
        json s;
        EXPECT_NO_THROW(s = parse_nocalhost_config(dev(body), "c.yaml"));
    }
    // Values that are not "none" are still checked.
    EXPECT_HAS(config_error(dev("      debug:\n        remoteDebugPort: -1\n")), "out of range 1..65535");
}

TEST(DevConfigNocalhostWritten, ResourcesNullLeavesTheContainersOwn) {
    // The IDE plugin writes `resources: null`: no resources of the dev container's own.
    json s = parse_fixture("wild/jrebel-demo-config.yaml");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_FALSE(dev_of(s[0]).contains("resources")) << dev_of(s[0]).dump();
    EXPECT_EQ(dev_of(s[0])["debug"]["remoteDebugPort"], 5005);
}

TEST(DevConfigNocalhostWritten, ApplyingNoneValuesKeepsTheWorkloadsOwn) {
    // `resources: null` must leave the container's resources alone (it used to become {} and drop
    // the container's limits), and `devContainerName: ""` must not unset the container.
    TempTree t;
    t.write(".nocalhost/config.yaml",
            "name: web\nserviceType: deployment\ncontainers:\n  - name: app\n    dev:\n      image: img\n"
            "      devContainerName: \"\"\n      resources: null\n      workDir: \"\"\n");
    nh::kube::RestConfig rc;
    rc.server = "http://127.0.0.1:1";  // never contacted: the config is local
    nh::kube::Client c(rc);
    nh::dev::ConfigSources src;
    src.config_path = t.path("");
    src.use_cluster = false;
    nh::dev::StartOptions o;
    o.name = "web";
    json r = nh::dev::apply_nocalhost_config(c, src, o, false);
    EXPECT_TRUE(o.resources.is_null()) << o.resources.dump();
    EXPECT_EQ(o.container, "app");
    EXPECT_EQ(o.image, "img");
    EXPECT_EQ(o.workdir, nh::dev::kDefaultWorkdir);
}

// ---- Every config found in the wild (fixtures/wild, sources in its README.md) ----

TEST(DevConfigWild, EveryFileParsesOrFailsLikeNhctl) {
    struct Expect {
        size_t services;                  // when it parses
        std::vector<std::string> error;  // when it must fail: what the message names
    };
    const std::string w = kFixtures + "/wild/";
    const std::map<std::string, Expect> expected = {
        {"bookinfo/.nocalhost/config.manifest.local.yaml", {5, {}}},
        {"bookinfo/.nocalhost/base-services.yaml", {5, {}}},
        {"bookinfo/.nocalhost/config.helm.yaml", {4, {}}},
        {"bookinfo/.nocalhost/perfect-services.yaml", {5, {}}},
        {"bookinfo-annotation-reviews.yaml", {1, {}}},
        {"bookinfo-annotation-productpage.yaml", {1, {}}},
        {"bookinfo-cm-nocalhost-config.yaml", {3, {}}},
        {"jrebel-demo-config.yaml", {1, {}}},
        {"nhctl-written.yaml", {2, {}}},
        // nhctl renders a missing include as a warning comment and goes on; it is an error here.
        {"nhctl-include/nocalhostIncludeRenderTmpl.yaml",
         {0, {w + "nhctl-include/service/details.yaml:11: ", "notexist.yaml", "No such file or directory"}}},
        {"nhctl-include/service/details.yaml",
         {0, {w + "nhctl-include/service/details.yaml:11: ", "notexist.yaml", "No such file or directory"}}},
        // Config v1 (nhctl converts whole v1 application files; services in v1 form are refused).
        {"nhctl-include/service/productpage.yaml", {0, {"productpage.yaml:3: ", "services[0].gitUrl", "config v1"}}},
        {"nhctl-include/service/ratings.yaml", {0, {"ratings.yaml:3: ", "services[0].gitUrl", "config v1"}}},
        {"nhctl-include/service/reviews.yaml", {0, {"reviews.yaml:3: ", "services[0].gitUrl", "config v1"}}},
        // Fragments meant to be included.
        {"nhctl-include/component/onPreInstall.yaml", {1, {}}},
        {"nhctl-include/component/patternSetting.yaml", {0, {"patternSetting.yaml:1: ", "syncFilePattern", "config v1"}}},
    };
    size_t seen = 0;
    for (const auto &entry : fs::recursive_directory_iterator(w)) {
        if (entry.path().extension() != ".yaml") continue;
        std::string rel = fs::relative(entry.path(), w).string();
        SCOPED_TRACE(rel);
        auto it = expected.find(rel);
        ASSERT_NE(it, expected.end()) << "a fixture without an expectation: add it to this table and to README.md";
        ++seen;
        if (it->second.error.empty()) {
            json s;
            ASSERT_NO_THROW(s = parse_local(entry.path().string()));
            EXPECT_EQ(s.size(), it->second.services) << s.dump();
        } else {
            std::string e = local_error(entry.path().string());
            for (const auto &part : it->second.error) EXPECT_HAS(e, part);
        }
    }
    EXPECT_EQ(seen, expected.size());
}
