// The C ABI's conventions, without a cluster.
#include <nocalhost.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

TEST(CApi, VersionMatchesHeader) {
    int major = -1, minor = -1, patch = -1;
    EXPECT_STREQ(nh_version(&major, &minor, &patch), NH_VERSION_STRING);
    EXPECT_EQ(major, NH_VERSION_MAJOR);
    EXPECT_EQ(minor, NH_VERSION_MINOR);
    EXPECT_EQ(patch, NH_VERSION_PATCH);
    EXPECT_STREQ(nh_version(nullptr, nullptr, nullptr), NH_VERSION_STRING);
}

TEST(CApi, ErrorLastIsNeverNullAndThreadLocal) {
    nh_error_clear();
    const nh_error *e = nh_error_last();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, NH_OK);
    EXPECT_NE(e->message, nullptr);
    EXPECT_NE(e->reason, nullptr);
    EXPECT_EQ(nh_client_new(nullptr, nullptr), NH_EINVAL);
    EXPECT_EQ(nh_error_last()->code, NH_EINVAL);
    std::thread([] { EXPECT_EQ(nh_error_last()->code, NH_OK); }).join();
    EXPECT_STREQ(nh_error_name(NH_ENOTFOUND), "NH_ENOTFOUND");
    EXPECT_STREQ(nh_error_name(12345), "NH_UNKNOWN");
}

TEST(CApi, FreeFunctionsAreNullSafe) {
    nh_client_free(nullptr);
    nh_cancel_free(nullptr);
    nh_buf_dispose(nullptr);
    nh_cancel_trigger(nullptr);
    nh_buf b = NH_BUF_INIT;
    nh_buf_dispose(&b);
    EXPECT_EQ(b.ptr, nullptr);
}

TEST(CApi, OptionsVersionsAreChecked) {
    nh_client_options o;
    EXPECT_EQ(nh_client_options_init(&o, NH_CLIENT_OPTIONS_VERSION), NH_OK);
    EXPECT_EQ(o.version, (unsigned)NH_CLIENT_OPTIONS_VERSION);
    EXPECT_EQ(o.max_retries, -1);
    EXPECT_EQ(nh_client_options_init(&o, 99), NH_EINVAL);
    EXPECT_NE(std::strstr(nh_error_last()->message, "version 99"), nullptr);
    nh_client_options bad = NH_CLIENT_OPTIONS_INIT;
    bad.version = 0;
    nh_client *c = nullptr;
    EXPECT_EQ(nh_client_new(&c, &bad), NH_EINVAL);
    EXPECT_EQ(c, nullptr);
}

TEST(CApi, InitIsReferenceCounted) {
    int base = nh_init();
    ASSERT_GE(base, 1);
    EXPECT_EQ(nh_init(), base + 1);
    EXPECT_EQ(nh_shutdown(), base);
    EXPECT_EQ(nh_shutdown(), base - 1);
}

TEST(CApi, CancelTokenLifecycle) {
    nh_cancel *c = nullptr;
    ASSERT_EQ(nh_cancel_new(&c), NH_OK);
    EXPECT_FALSE(nh_cancel_is_triggered(c));
    nh_cancel_trigger(c);
    nh_cancel_trigger(c);
    EXPECT_TRUE(nh_cancel_is_triggered(c));
    nh_cancel_reset(c);
    EXPECT_FALSE(nh_cancel_is_triggered(c));
    nh_cancel_free(c);
}

TEST(CApi, BrokenKubeconfigIsAConfigErrorWithFileAndLine) {
    char path[] = "/tmp/nh-kc-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const char text[] = "apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: [oops\n";
    ASSERT_EQ(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.kubeconfig = path;
    nh_client *c = nullptr;
    EXPECT_EQ(nh_client_new(&c, &o), NH_ECONFIG);
    std::string msg = nh_error_last()->message;
    EXPECT_NE(msg.find(std::string(path) + ":"), std::string::npos) << msg;
    unlink(path);
}
