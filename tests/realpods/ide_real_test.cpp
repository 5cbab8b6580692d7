// What an editor relies on, on real containers: `nh dev start` with no KIND/NAME and no
// --local-dir, run from a subdirectory of a folder associated with a workload, puts that workload
// into dev mode and syncs the folder into the dev container; `nh logs` of a workload developed on
// a copy (duplicate mode) follows the session to the copy's dev pod.
#include <gtest/gtest.h>
#include <signal.h>

#include "realpods_fixture.hpp"

using namespace nh::test;

TEST_F(RealPods, DevStartWithNoArgumentsSyncsTheAssociatedFolder) {
    apply(workload_yaml("deployment", "web", 1));
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s)) << kubectl("-n " + ns_ + " get pods -o wide");
    const std::string cfg = local_ / "cfg", log = local_ / "start.log";
    const std::string env = "XDG_CONFIG_HOME='" + cfg + "' ";
    int rc = -1;
    std::string out = sh(env + nh_cli() + "dev associate '" + src_.string() + "' deployment/web", &rc);
    ASSERT_EQ(rc, 0) << out;

    // From src/sub, with the namespace and kubeconfig taken from the association.
    std::string pid_text = sh("cd '" + (src_ / "sub").string() + "' && { exec env -u KUBECONFIG " + env + "'" + NH_CLI_PATH +
                              "' dev start --image '" + dev_image_ + "' --sidecar-image '" + sidecar_image_ + "' >'" +
                              log + "' 2>&1 </dev/null & echo $!; }");
    const pid_t pid = static_cast<pid_t>(std::stol(trim(pid_text)));
    ASSERT_GT(pid, 0);
    bool synced = eventually([&] { return exec_cat("deployment/web", "/home/nocalhost-dev/hello.txt") == "hello v1\n"; }, 180s);
    std::string started = nh::test::read_file(log);
    kill(pid, SIGINT);
    ASSERT_TRUE(synced) << started;
    EXPECT_EQ(exec_cat("deployment/web", "/home/nocalhost-dev/sub/page.html"), "<p>synced page</p>\n");
    EXPECT_NE(started.find("syncing " + src_.string() + ", associated with deployment/web"), std::string::npos)
        << started;
    EXPECT_TRUE(eventually([&] { return kill(pid, 0) != 0; }, 30s)) << "nh dev start did not stop on Ctrl-C";
    out = sh(nh_cli() + "dev end deployment/web", &rc);
    EXPECT_EQ(rc, 0) << out;
}

TEST_F(RealPods, LogsOfAWorkloadDevelopedOnACopyComeFromTheCopy) {
    apply(workload_yaml("deployment", "web", 1));
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 1); }, 120s)) << kubectl("-n " + ns_ + " get pods -o wide");
    nh_session *s = dev_start("deployment", "web", NH_DEV_MODE_DUPLICATE);
    ASSERT_NE(s, nullptr);
    const std::string copy = nh_session_workload(s);
    nh_session_free(s);
    // Only the copy's dev pod has the sync sidecar: its logs are found through the original's name.
    int rc = -1;
    std::string out = sh(nh_cli() + "logs deployment/web -c nh-sync --developer real@test --tail 5", &rc);
    EXPECT_EQ(rc, 0) << out;
    out = sh(nh_cli() + "logs deployment/web -c nh-sync --mode replace", &rc);
    EXPECT_EQ(rc, 3) << "the original has no sync sidecar, yet: " << out;
    out = sh(nh_cli() + "logs deployment/" + copy + " -c nh-sync --tail 5", &rc);
    EXPECT_EQ(rc, 0) << out;
    out = sh(nh_cli() + "dev end deployment/web --mode duplicate --developer real@test", &rc);
    EXPECT_EQ(rc, 0) << out;
}
