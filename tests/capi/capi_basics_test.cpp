// The C ABI's conventions, without a cluster.
#include <nocalhost.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <set>
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

TEST(CApi, ChildCancelFollowsItsParentOnly) {
    nh_cancel *parent = nullptr, *child = nullptr, *other = nullptr;
    ASSERT_EQ(nh_cancel_new(&parent), NH_OK);
    ASSERT_EQ(nh_cancel_new_child(&child, parent), NH_OK);
    ASSERT_EQ(nh_cancel_new_child(&other, parent), NH_OK);
    nh_cancel_trigger(other);  // a child alone: the parent and its siblings stay untouched
    EXPECT_FALSE(nh_cancel_is_triggered(parent));
    EXPECT_FALSE(nh_cancel_is_triggered(child));
    nh_cancel_free(other);
    nh_cancel_trigger(parent);
    EXPECT_TRUE(nh_cancel_is_triggered(child));
    nh_cancel_free(child);
    // A child of an already triggered parent starts triggered.
    ASSERT_EQ(nh_cancel_new_child(&child, parent), NH_OK);
    EXPECT_TRUE(nh_cancel_is_triggered(child));
    nh_cancel_free(child);
    nh_cancel_free(parent);
}

namespace {
std::atomic<int> g_in_callback{0};
std::atomic<bool> g_overlap{false};
void slow_logger(int, const char *, void *payload) {
    ++g_in_callback;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (*static_cast<std::atomic<bool> *>(payload)) g_overlap = true;  // called after being replaced
    --g_in_callback;
}
}  // namespace

TEST(CApi, ReplacedLogCallbackIsNeverRunningAfterwards) {
    std::atomic<bool> replaced{false};
    nh_log_set_callback(slow_logger, NH_LOG_DEBUG, &replaced);
    std::atomic<bool> stop{false};
    // Requests to a closed port log a debug line each.
    std::string kc = "/tmp/nh-log-kc-" + std::to_string(getpid());
    {
        FILE *f = fopen(kc.c_str(), "w");
        ASSERT_NE(f, nullptr);
        fputs("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n"
              "  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\n", f);
        fclose(f);
    }
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.kubeconfig = kc.c_str();
    o.max_retries = 0;
    nh_client *c = nullptr;
    ASSERT_EQ(nh_client_new(&c, &o), NH_OK);
    std::atomic<int> calls{0};
    std::thread logger([&] {
        nh_request_options r = NH_REQUEST_OPTIONS_INIT;
        r.path = "/version";
        while (!stop) {
            nh_client_request(nullptr, nullptr, c, &r);
            ++calls;
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    nh_log_set_callback(nullptr, 0, nullptr);
    replaced = true;
    EXPECT_EQ(g_in_callback.load(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
    logger.join();
    nh_client_free(c);
    unlink(kc.c_str());
    EXPECT_GT(calls.load(), 0);
    EXPECT_FALSE(g_overlap.load());
}

// Every phase dev-mode events report is a value of nh_dev_phase, documented in the header with
// the name events carry: the library names exactly the header's values, no more.
TEST(CApi, EveryDevPhaseIsDocumentedInTheHeader) {
    FILE *f = std::fopen(NH_HEADER_PATH, "r");
    ASSERT_NE(f, nullptr) << NH_HEADER_PATH;
    std::string header;
    char chunk[4096];
    for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0;) header.append(chunk, n);
    std::fclose(f);
    const std::pair<int, const char *> values[] = {
        {NH_DEV_PHASE_LOCK, "NH_DEV_PHASE_LOCK"},         {NH_DEV_PHASE_READ, "NH_DEV_PHASE_READ"},
        {NH_DEV_PHASE_RECORD, "NH_DEV_PHASE_RECORD"},     {NH_DEV_PHASE_HPA, "NH_DEV_PHASE_HPA"},
        {NH_DEV_PHASE_PVC, "NH_DEV_PHASE_PVC"},           {NH_DEV_PHASE_PARK, "NH_DEV_PHASE_PARK"},
        {NH_DEV_PHASE_PATCH, "NH_DEV_PHASE_PATCH"},       {NH_DEV_PHASE_WAIT, "NH_DEV_PHASE_WAIT"},
        {NH_DEV_PHASE_READY, "NH_DEV_PHASE_READY"},       {NH_DEV_PHASE_ROLLBACK, "NH_DEV_PHASE_ROLLBACK"},
        {NH_DEV_PHASE_RESTORE, "NH_DEV_PHASE_RESTORE"},   {NH_DEV_PHASE_HISTORY, "NH_DEV_PHASE_HISTORY"},
        {NH_DEV_PHASE_CLEANUP, "NH_DEV_PHASE_CLEANUP"},   {NH_DEV_PHASE_FORCE, "NH_DEV_PHASE_FORCE"},
        {NH_DEV_PHASE_DONE, "NH_DEV_PHASE_DONE"},         {NH_DEV_PHASE_UPLOAD, "NH_DEV_PHASE_UPLOAD"},
        {NH_DEV_PHASE_FORWARD, "NH_DEV_PHASE_FORWARD"},   {NH_DEV_PHASE_SYNC, "NH_DEV_PHASE_SYNC"},
        {NH_DEV_PHASE_SYNCED, "NH_DEV_PHASE_SYNCED"},     {NH_DEV_PHASE_PORT_FORWARD, "NH_DEV_PHASE_PORT_FORWARD"},
        {NH_DEV_PHASE_IMAGE, "NH_DEV_PHASE_IMAGE"},       {NH_DEV_PHASE_ACCESS, "NH_DEV_PHASE_ACCESS"}};
    int last = 0;
    std::set<std::string> names;
    for (const auto &[value, constant] : values) {
        EXPECT_EQ(value, last + 1) << constant << ": the phases are numbered from 1 without gaps";
        last = value;
        std::string name = nh_dev_phase_name(value);
        EXPECT_NE(name, "unknown") << constant;
        EXPECT_TRUE(names.insert(name).second) << name << " twice";
        // "NH_DEV_PHASE_X = N, /**< "name": ..." in the header.
        auto at = header.find(std::string(constant) + " = " + std::to_string(value));
        ASSERT_NE(at, std::string::npos) << constant << " is not in the header";
        auto line_end = header.find('\n', at);
        EXPECT_NE(header.substr(at, line_end - at).find("/**< \"" + name + "\""), std::string::npos)
            << constant << " is not documented as \"" << name << "\"";
    }
    // The library reports no phase the header does not list.
    EXPECT_STREQ(nh_dev_phase_name(last + 1), "unknown");
    EXPECT_STREQ(nh_dev_phase_name(0), "unknown");
    EXPECT_STREQ(nh_dev_phase_name(-1), "unknown");
}

TEST(CApi, KindNamesAreKubectls) {
    EXPECT_STREQ(nh_kind_name("deploy"), "deployment");
    EXPECT_STREQ(nh_kind_name("Deployments"), "deployment");
    EXPECT_STREQ(nh_kind_name("deployments.apps"), "deployment");
    EXPECT_STREQ(nh_kind_name("sts"), "statefulset");
    EXPECT_STREQ(nh_kind_name("cj"), "cronjob");
    EXPECT_STREQ(nh_kind_name("po"), "pod");
    EXPECT_EQ(nh_kind_name("rollouts.argoproj.io"), nullptr);
    EXPECT_EQ(nh_kind_name("deploymnet"), nullptr);
    EXPECT_EQ(nh_kind_name(nullptr), nullptr);
}

TEST(CApi, ForwardLocalPortV2RefusesBadArgumentsWithoutAPortInTheCode) {
    int port = 7;
    EXPECT_EQ(nh_forward_local_port_v2(&port, nullptr, 0), NH_EINVAL);
    EXPECT_EQ(port, 0);
    EXPECT_EQ(nh_forward_local_port_v2(nullptr, nullptr, 0), NH_EINVAL);
}

TEST(CApi, SessionCallsRefuseMissingArguments) {
    EXPECT_STREQ(nh_session_target(nullptr), "");
    nh_session_sync_options o;
    ASSERT_EQ(nh_session_sync_options_init(&o, NH_SESSION_SYNC_OPTIONS_VERSION), NH_OK);
    EXPECT_EQ(o.timeout_ms, 0);
    EXPECT_EQ(nh_session_sync_start_v2(nullptr, nullptr, "/tmp", &o), NH_EINVAL);
}
