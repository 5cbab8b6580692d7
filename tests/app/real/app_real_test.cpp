// An application on the real node: its pods run in containerd, dev start on one of its
// workloads takes the dev image, sidecar and work dir from the application's dev config alone,
// the synced source is in the dev container, and uninstall leaves no pod running.
#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

class RealApp : public RealPods {};

TEST_F(RealApp, AnApplicationsWorkloadRunsAndIsDevelopedInThroughItsConfig) {
    // The application's source: a Deployment on the real node, a Service, and its dev config.
    const fs::path app = fs::path(local_.path()) / "app";
    fs::create_directories(app / ".nocalhost");
    std::ofstream(app / "web.yaml") << workload_yaml("deployment", "web", 2)
                                    << "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                                       "spec: {selector: {app: web}, ports: [{port: 8080}]}\n";
    std::ofstream(app / ".nocalhost" / "config.yaml")
        << "configProperties: {version: v2}\napplication:\n  name: real\n  services:\n"
           "    - name: web\n      serviceType: deployment\n      containers:\n        - name: app\n"
           "          dev:\n            image: " << dev_image_ << "\n            sidecarImage: " << sidecar_image_
        << "\n            workDir: /home/app-src\n";

    nh_buf out = NH_BUF_INIT;
    ASSERT_EQ(nh_app_install(&out, client_, "real", app.c_str(), nullptr), NH_OK) << nh_error_last()->message;
    nh_buf_dispose(&out);
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 2); }, 180s)) << kubectl("-n " + ns_ + " get pods -o wide");

    // No image, no sidecar image, no work dir given: the application's config has them.
    nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
    std::string src = src_.string();
    o.local_dir = src.c_str();
    o.timeout_ms = 180000;
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, client_, "deployment", "web", &o), NH_OK)
        << nh_error_last()->message << "\n" << kubectl("-n " + ns_ + " get pods -o wide");
    json pod = dev_pod();
    ASSERT_FALSE(pod.is_null());
    std::string image;
    for (const auto &c : pod["spec"]["containers"])
        if (c["name"] == "app") image = c.value("image", "");
    EXPECT_EQ(image, dev_image_);
    auto [code, pwd] = exec("deployment/web", {"pwd"});
    EXPECT_EQ(code, 0);
    EXPECT_EQ(trim(pwd), "/home/app-src");
    EXPECT_EQ(exec_cat("deployment/web", "hello.txt"), "hello v1\n");
    nh_session_free(s);
    ASSERT_EQ(nh_dev_end(nullptr, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    ASSERT_TRUE(eventually([&] { return pods_ready("app=web", 2); }, 180s));

    ASSERT_EQ(nh_app_uninstall(client_, "real", nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_TRUE(pods("app=web").empty()) << kubectl("-n " + ns_ + " get pods -o wide");
    int rc = 0;
    kubectl("-n " + ns_ + " get deployment web", &rc);
    EXPECT_NE(rc, 0) << "the Deployment is left";
}

}  // namespace
