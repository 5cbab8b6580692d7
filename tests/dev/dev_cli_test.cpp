// `nh dev start/status/list/end` as a user runs them: output and exit codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "dev_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

TEST_F(DevTest, CliStartStatusListEnd) {
    create(sample_deployment("web", 3));
    wait_ready(Kind::Deployment, "web", 3);
    json original = get(Kind::Deployment, "web");

    CliRun r = cli("dev start deployment/web --image registry.example/dev:1 -c app --timeout 60s -e DEBUG=1");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("is in dev mode"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("[wait]"), std::string::npos) << "progress lines: " << r.out;

    r = cli("dev status deployment/web -o json");
    ASSERT_EQ(r.code, 0) << r.out;
    json st = json::parse(r.out);
    EXPECT_EQ(st["dev_mode"], true);
    EXPECT_EQ(st["pod"]["ready"], true);

    r = cli("dev status deployment/web");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("dev mode replace, active"), std::string::npos) << r.out;

    r = cli("dev list");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("deployment/web"), std::string::npos) << r.out;

    r = cli("dev start deployment/web --image x -c app --owner someone-else");
    EXPECT_EQ(r.code, 5) << r.out;  // EXIT_CONFLICT: busy
    EXPECT_NE(r.out.find("already in dev mode"), std::string::npos) << r.out;

    r = cli("dev end deployment/web");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("restored"), std::string::npos) << r.out;
    expect_restored(Kind::Deployment, "web", original);

    r = cli("dev end deployment/web");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("not in dev mode"), std::string::npos) << r.out;

    EXPECT_EQ(cli("dev start deployment/missing --image x").code, 3);  // EXIT_NOT_FOUND
    EXPECT_EQ(cli("dev start web --image x").code, 2);                 // EXIT_USAGE
    EXPECT_EQ(cli("dev start daemonset/x --image x").code, 3);
    EXPECT_EQ(cli("dev list -o json").out, "[]\n");
}

namespace {

bool has(const std::string &text, const std::string &what) { return text.find(what) != std::string::npos; }

// The lines of `text` that start with `prefix`, without it.
std::vector<std::string> lines_after(const std::string &text, const std::string &prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
    return out;
}

}  // namespace

class DevCliTest : public DevTest {
protected:
    // `nh ARGS` with nothing added: the flags go wherever ARGS puts them. stderr too unless
    // `stdout_only`.
    CliRun nh(const std::string &args, bool stdout_only = false) {
        return run_shell(std::string("CI=1 '") + NH_CLI_PATH + "' " + args + (stdout_only ? " 2>/dev/null" : " 2>&1"));
    }
    // " --kubeconfig K -n NS", to put after a subcommand.
    std::string flags() { return " --kubeconfig '" + kubeconfig + "' -n " + ns; }
    // `nh ARGS` with the flags placed last, stdout only.
    CliRun out(const std::string &args) { return nh(args + flags(), true); }
    // deployment/web, ready.
    void create_web() {
        create(sample_deployment("web", 1));
        wait_ready(Kind::Deployment, "web", 1);
    }
    // `nh dev start deployment/web ...` with a dev image (and MORE flags, e.g. --mode).
    static std::string start_web(const std::string &more = "") {
        return "dev start deployment/web --image registry.example/dev:1 -c app --timeout 60s" + more;
    }
};

TEST_F(DevCliTest, GlobalFlagsWorkAfterTheSubcommandAndEveryHelpListsThem) {
    create(sample_deployment("web", 1));
    CliRun r = nh("dev list" + flags());
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "no workloads in dev mode")) << r.out;
    r = nh("dev status deployment/web" + flags());
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "not in dev mode")) << r.out;
    // --context after the subcommand is the one used: a missing context is named.
    r = nh("dev list --context no-such-context" + flags());
    EXPECT_EQ(r.code, 8) << r.out;  // EXIT_CONFIG
    EXPECT_TRUE(has(r.out, "no-such-context")) << r.out;
    // Between the command's own words and flags too.
    r = nh("dev -n " + ns + " status --kubeconfig '" + kubeconfig + "' deployment/web -v");
    EXPECT_EQ(r.code, 0) << r.out;

    for (const char *cmd : {"dev status", "dev start", "dev end", "dev list", "exec", "port-forward", "sync status", "version"}) {
        r = nh(std::string(cmd) + " --help", true);
        EXPECT_EQ(r.code, 0) << cmd;
        for (const char *flag : {"--kubeconfig", "--context", "--namespace", "--verbose"})
            EXPECT_TRUE(has(r.out, flag)) << cmd << " --help lacks " << flag << ":\n" << r.out;
        EXPECT_TRUE(has(r.out, std::string("Usage: nh ") + cmd)) << r.out;
        EXPECT_FALSE(has(r.out, NH_CLI_PATH)) << "the build path shows in the help:\n" << r.out;
    }
}

TEST_F(DevCliTest, UnknownCommandsSaySoWithASuggestion) {
    CliRun r = nh("dev stat" + flags());
    EXPECT_EQ(r.code, 2) << r.out;  // EXIT_USAGE
    EXPECT_TRUE(has(r.out, "unknown command \"stat\" for \"nh dev\"")) << r.out;
    EXPECT_TRUE(has(r.out, "Did you mean this?\n")) << r.out;
    EXPECT_TRUE(has(r.out, "\tstatus\n")) << r.out;
    EXPECT_TRUE(has(r.out, "Run 'nh dev --help' for usage.")) << r.out;

    r = nh("exce deployment/web");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "unknown command \"exce\" for \"nh\"")) << r.out;
    EXPECT_TRUE(has(r.out, "\texec\n")) << r.out;

    r = nh("dev frobnicate");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_TRUE(has(r.out, "unknown command \"frobnicate\" for \"nh dev\"")) << r.out;
    EXPECT_FALSE(has(r.out, "Did you mean")) << r.out;

    r = nh("help dev start", true);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "Usage: nh dev start")) << r.out;
    r = nh("help", true);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "Usage: nh")) << r.out;
    r = nh("--version", true);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.rfind("nh " + std::string(nh_version(nullptr, nullptr, nullptr)) + " ", 0), 0u) << r.out;
}

TEST_F(DevCliTest, OutputFormatsAndTheDocumentedSchema) {
    create_web();
    ASSERT_EQ(cli(start_web()).code, 0);

    // -o json, -o=json and --output=json: the same pretty JSON.
    CliRun a = out("dev status deployment/web -o json");
    ASSERT_EQ(a.code, 0) << a.out;
    EXPECT_EQ(out("dev status deployment/web -o=json").out, a.out);
    EXPECT_EQ(out("dev status deployment/web --output=json").out, a.out);
    EXPECT_TRUE(has(a.out, "{\n  \"")) << "not indented: " << a.out;
    json st = json::parse(a.out);
    EXPECT_EQ(st["schema_version"], NH_DEV_STATUS_SCHEMA_VERSION);
    EXPECT_EQ(st["dev_mode"], true);

    // Every key of the status (and of a workload not in dev mode) is documented.
    std::ifstream doc_file(std::string(NH_DOCS_DIR) + "/cli.md");
    std::string doc((std::istreambuf_iterator<char>(doc_file)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(doc.empty());
    create(sample_deployment("other", 1));
    json idle = json::parse(out("dev status deployment/other -o json").out);
    for (const json *obj : {&st, &idle})
        for (const auto &[key, value] : obj->items()) EXPECT_TRUE(has(doc, "`" + key + "`")) << key << " is not in docs/cli.md";

    CliRun y = out("dev status deployment/web -o yaml");
    EXPECT_EQ(y.code, 0) << y.out;
    EXPECT_TRUE(has(y.out, "dev_mode: true\n")) << y.out;
    EXPECT_TRUE(has(y.out, "schema_version: 1\n")) << y.out;
    EXPECT_TRUE(has(y.out, "name: web\n")) << y.out;

    EXPECT_EQ(out("dev list -o name").out, "deployment/web\n");
    EXPECT_EQ(out("dev list -o=name -l app=web").out, "deployment/web\n");
    EXPECT_EQ(out("dev list -o name -l app=nothing-like-it").out, "");
    EXPECT_EQ(json::parse(out("dev list -o json -l team=payments").out).size(), 1u);

    CliRun table = out("dev list");
    EXPECT_TRUE(has(table.out, "WORKLOAD")) << table.out;
    EXPECT_TRUE(has(table.out, "MODE")) << table.out;
    EXPECT_TRUE(has(table.out, "COPY")) << table.out;
    EXPECT_TRUE(has(table.out, "DEVELOPER")) << table.out;
    EXPECT_FALSE(has(table.out, "NAMESPACE")) << table.out;
    CliRun wide = out("dev list -o wide");
    EXPECT_TRUE(has(wide.out, "IMAGE")) << wide.out;
    EXPECT_TRUE(has(wide.out, "registry.example/dev:1")) << wide.out;
    CliRun all = out("dev list -A");
    EXPECT_TRUE(has(all.out, "NAMESPACE")) << all.out;
    EXPECT_TRUE(has(all.out, ns)) << all.out;

    CliRun bad = nh("dev list -o xml" + flags());
    EXPECT_EQ(bad.code, 2) << bad.out;

    EXPECT_EQ(cli("dev end deployment/web").code, 0);
}

TEST_F(DevCliTest, RepeatableFlagsTakeOneValueEach) {
    create_web();
    // The target after -e is the target, not a second NAME=VALUE.
    CliRun r = nh("dev start -e FOO=1 -e BAR=2 deployment/web --image registry.example/dev:1 -c app --timeout 60s" + flags());
    ASSERT_EQ(r.code, 0) << r.out;
    json env = get(Kind::Deployment, "web")["spec"]["template"]["spec"]["containers"][0]["env"];
    std::string text = env.dump();
    EXPECT_TRUE(has(text, "\"FOO\"") && has(text, "\"BAR\"")) << text;
    EXPECT_EQ(cli("dev end deployment/web").code, 0);
}

TEST_F(DevCliTest, TheHintAfterADuplicateStartEndsItWhenPasted) {
    create_web();
    json original = get(Kind::Deployment, "web");
    CliRun r = nh(start_web(" --mode duplicate") + flags());
    ASSERT_EQ(r.code, 0) << r.out;
    auto hints = lines_after(r.out, "end it with: ");
    ASSERT_EQ(hints.size(), 1u) << r.out;
    EXPECT_TRUE(has(hints[0], "--mode duplicate")) << hints[0];
    EXPECT_TRUE(has(hints[0], "-n " + ns)) << hints[0];

    // Status, list and end find the caller's copy without --mode.
    CliRun st = nh("dev status deployment/web" + flags());
    EXPECT_TRUE(has(st.out, "dev mode duplicate")) << st.out;
    json list = json::parse(out("dev list -o json").out);
    ASSERT_EQ(list.size(), 1u);
    std::string copy = list[0]["copy"];
    EXPECT_TRUE(has(out("dev list").out, copy));

    ASSERT_EQ(hints[0].rfind("nh ", 0), 0u) << hints[0];
    CliRun end = run_shell("CI=1 '" + std::string(NH_CLI_PATH) + "' " + hints[0].substr(3) + " 2>&1");
    EXPECT_EQ(end.code, 0) << end.out;
    EXPECT_FALSE(has(end.out, "not in dev mode")) << end.out;
    EXPECT_TRUE(has(end.out, "copy")) << end.out;
    EXPECT_THROW(kube->get(path(Kind::Deployment, copy)), nh::Error) << "the copy is still there";
    EXPECT_EQ(get(Kind::Deployment, "web")["metadata"]["uid"], original["metadata"]["uid"]);
}

TEST_F(DevCliTest, TwoSessionsOfTheCallerAreNamedWithTheFlagThatPicksOne) {
    create_web();
    ASSERT_EQ(cli(start_web(" --mode duplicate")).code, 0);
    ASSERT_EQ(cli(start_web()).code, 0);
    for (const char *verb : {"dev end", "dev status", "exec"}) {
        CliRun r = nh(std::string(verb) + " deployment/web" + flags() + (std::string(verb) == "exec" ? " -- true" : ""));
        EXPECT_EQ(r.code, 2) << verb << ": " << r.out;
        EXPECT_TRUE(has(r.out, "nh " + std::string(verb) + " deployment/web --mode replace")) << r.out;
        EXPECT_TRUE(has(r.out, "nh " + std::string(verb) + " deployment/web --mode duplicate")) << r.out;
    }
    CliRun table = out("dev list");
    EXPECT_TRUE(has(table.out, "replace")) << table.out;
    EXPECT_TRUE(has(table.out, "duplicate")) << table.out;
    EXPECT_EQ(cli("dev end deployment/web --mode duplicate").code, 0);
    // One left: found without --mode.
    CliRun r = cli("dev end deployment/web");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "restored")) << r.out;
}

TEST_F(DevCliTest, StartingAgainAsTheSameOwnerReattaches) {
    create_web();
    ASSERT_EQ(cli(start_web()).code, 0);
    CliRun r = cli(start_web());
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(has(r.out, "attached to it")) << r.out;
    // Someone else's session: refused, with the command that ends it.
    r = cli("dev start deployment/web --image x -c app --owner someone-else");
    EXPECT_EQ(r.code, 5) << r.out;
    auto hints = lines_after(r.out, "  end it with: ");
    ASSERT_EQ(hints.size(), 1u) << r.out;
    EXPECT_TRUE(has(hints[0], "nh dev end deployment/web")) << hints[0];
    EXPECT_EQ(cli("dev end deployment/web").code, 0);
}

TEST_F(DevCliTest, ErrorsNameWhatIsMissingNotTheRequest) {
    CliRun r = cli("dev start deployment/nope --image x");
    EXPECT_EQ(r.code, 3) << r.out;
    EXPECT_TRUE(has(r.out, "deployment \"nope\" not found in namespace \"" + ns + "\"")) << r.out;
    EXPECT_FALSE(has(r.out, "/apis/")) << r.out;

    std::string missing = ns + "-gone";
    for (const char *cmd : {"dev start deployment/web --image x", "dev end deployment/web", "dev status deployment/web"}) {
        r = run_nh(kubeconfig, missing, cmd);
        EXPECT_EQ(r.code, 3) << cmd << ": " << r.out;
        EXPECT_TRUE(has(r.out, "not found") || has(r.out, "does not exist")) << cmd << ": " << r.out;
        EXPECT_FALSE(has(r.out, "/api")) << cmd << ": " << r.out;
        EXPECT_FALSE(has(r.out, "POST ")) << cmd << ": " << r.out;
    }
    r = run_nh(kubeconfig, missing, "dev start deployment/web --image x");
    EXPECT_TRUE(has(r.out, "\"" + missing + "\"")) << r.out;
}

TEST_F(DevCliTest, ExitCodesAreTheDocumentedOnes) {
    create_web();
    EXPECT_EQ(cli("dev start deploymnet/web --image x").code, 2);  // EXIT_USAGE: unknown kind (NH_EINVAL)
    EXPECT_EQ(cli("dev start service/web --image x").code, 2);
    EXPECT_EQ(cli("dev start deployment/web --no-such-flag").code, 2);
    EXPECT_EQ(cli("dev start deployment/web --mode sideways --image x").code, 2);
    EXPECT_EQ(cli("dev status").code, 0);
    ASSERT_EQ(cli(start_web()).code, 0);
    CliRun r = cli("dev run build deployment/web");
    EXPECT_EQ(r.code, 8) << r.out;  // EXIT_CONFIG: the dev config has no command.build
    EXPECT_TRUE(has(r.out, "command.build")) << r.out;
    EXPECT_EQ(cli("dev end deployment/web").code, 0);
}

TEST_F(DevCliTest, EachSyncDisconnectSaysWhyAndWhenTheNextTryIs) {
    // A sync server that is not there: every refused connection is reported as it happens.
    std::string dir = "/tmp/nh-cli-sync-" + ns;
    std::filesystem::create_directories(dir + "/src");
    std::ofstream(dir + "/token") << "secret-token\n";
    std::ofstream(dir + "/src/a.txt") << "a\n";
    int port = 0;
    {
        // A port nothing listens on: bound, then closed.
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
        port = ntohs(a.sin_port);
        ::close(fd);
    }
    CliRun r = run_shell("timeout -s INT 2 '" + std::string(NH_CLI_PATH) + "' sync run " + dir + "/src --to 127.0.0.1:" +
                         std::to_string(port) + " --token-file " + dir + "/token --state-dir " + dir + "/state 2>&1");
    std::filesystem::remove_all(dir);
    auto lines = lines_after(r.out, "sync: disconnected: ");
    ASSERT_GE(lines.size(), 2u) << r.out;
    for (const auto &l : lines) {
        EXPECT_TRUE(has(l, "refused")) << l;
        EXPECT_TRUE(has(l, "; next try in ")) << l;
    }
    EXPECT_FALSE(has(r.out, "secret-token"));
}
