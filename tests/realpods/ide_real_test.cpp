// A folder associated with a workload on real containers: `nh dev start` run with no KIND/NAME
// and no --local-dir, from a subdirectory of the associated folder, puts the associated workload
// into dev mode and syncs the associated folder into the dev container.
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
