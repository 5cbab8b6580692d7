// nh_*_options_init() as a program built against an older header calls it:
// with its older version and a struct of exactly that version's size. The
// struct ends where a guard page (no access) begins, so writing one byte past
// it kills the process; each call runs in a death-test child to say which
// struct and version overran instead of crashing the whole suite.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "nocalhost.h"

namespace {

// One options struct: its init function, and the size of each version it had,
// as the header of that version declared it (the offset of the first field the
// next version appended; the current version's size is sizeof).
struct OptionsType {
    const char *name;
    std::vector<std::size_t> sizes;
    int (*init)(void *opts, unsigned int version);
};

template <class T, int (*F)(T *, unsigned int)>
int call_init(void *opts, unsigned int version) {
    return F(static_cast<T *>(opts), version);
}

std::vector<OptionsType> options_types() {
    return {
        {"nh_client_options", {sizeof(nh_client_options)},
         call_init<nh_client_options, nh_client_options_init>},
        {"nh_request_options", {sizeof(nh_request_options)},
         call_init<nh_request_options, nh_request_options_init>},
        {"nh_watch_options", {sizeof(nh_watch_options)},
         call_init<nh_watch_options, nh_watch_options_init>},
        {"nh_dev_start_options",
         {offsetof(nh_dev_start_options, local_dir), offsetof(nh_dev_start_options, patch_errors_fatal),
          offsetof(nh_dev_start_options, sidecar_base_image), offsetof(nh_dev_start_options, local),
          sizeof(nh_dev_start_options)},
         call_init<nh_dev_start_options, nh_dev_start_options_init>},
        {"nh_dev_end_options",
         {offsetof(nh_dev_end_options, mode), offsetof(nh_dev_end_options, force), sizeof(nh_dev_end_options)},
         call_init<nh_dev_end_options, nh_dev_end_options_init>},
        {"nh_dev_query_options", {offsetof(nh_dev_query_options, mode), sizeof(nh_dev_query_options)},
         call_init<nh_dev_query_options, nh_dev_query_options_init>},
        {"nh_exec_options", {sizeof(nh_exec_options)}, call_init<nh_exec_options, nh_exec_options_init>},
        {"nh_forward_options", {sizeof(nh_forward_options)},
         call_init<nh_forward_options, nh_forward_options_init>},
        {"nh_reverse_options", {sizeof(nh_reverse_options)},
         call_init<nh_reverse_options, nh_reverse_options_init>},
        {"nh_sync_options", {offsetof(nh_sync_options, delete_protection), offsetof(nh_sync_options, once), sizeof(nh_sync_options)},
         call_init<nh_sync_options, nh_sync_options_init>},
        {"nh_sidecar_image_options", {sizeof(nh_sidecar_image_options)},
         call_init<nh_sidecar_image_options, nh_sidecar_image_options_init>},
        {"nh_session_sync_options", {sizeof(nh_session_sync_options)},
         call_init<nh_session_sync_options, nh_session_sync_options_init>},
        {"nh_tree_options", {sizeof(nh_tree_options)}, call_init<nh_tree_options, nh_tree_options_init>},
        {"nh_pod_logs_options", {sizeof(nh_pod_logs_options)},
         call_init<nh_pod_logs_options, nh_pod_logs_options_init>},
        {"nh_agent_options", {sizeof(nh_agent_options)}, call_init<nh_agent_options, nh_agent_options_init>},
        {"nh_space_options", {sizeof(nh_space_options)}, call_init<nh_space_options, nh_space_options_init>},
        {"nh_association_options", {sizeof(nh_association_options)},
         call_init<nh_association_options, nh_association_options_init>},
        {"nh_dev_config_options", {sizeof(nh_dev_config_options)},
         call_init<nh_dev_config_options, nh_dev_config_options_init>},
        {"nh_dev_profile_options", {sizeof(nh_dev_profile_options)},
         call_init<nh_dev_profile_options, nh_dev_profile_options_init>},
        {"nh_dev_env_options", {sizeof(nh_dev_env_options)}, call_init<nh_dev_env_options, nh_dev_env_options_init>},
    };
}

// Two pages: the second one inaccessible. Returns where a struct of `size`
// bytes must start to end exactly at the guard page.
class GuardedBuffer {
public:
    explicit GuardedBuffer(std::size_t size) {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        void *p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return;
        base_ = static_cast<unsigned char *>(p);
        if (mprotect(base_ + page_, page_, PROT_NONE) != 0) return;
        start_ = base_ + page_ - size;
        std::memset(base_, 0xA5, page_);
    }
    ~GuardedBuffer() {
        if (base_) munmap(base_, 2 * page_);
    }
    GuardedBuffer(const GuardedBuffer &) = delete;
    GuardedBuffer &operator=(const GuardedBuffer &) = delete;
    void *start() const { return start_; }
    const unsigned char *before() const { return base_; }
    std::size_t before_size() const { return static_cast<std::size_t>(start_ - base_); }

private:
    std::size_t page_ = 0;
    unsigned char *base_ = nullptr;
    unsigned char *start_ = nullptr;
};

// In the death-test child: init into a buffer of exactly `size` bytes, then
// exit 0 if it returned NH_OK, wrote the version and left the bytes before
// the struct alone; any write past the struct is a SIGSEGV.
[[noreturn]] void init_at_exact_size(const OptionsType &t, unsigned int version) {
    std::size_t size = t.sizes[version - 1];
    GuardedBuffer buf(size);
    if (!buf.start()) _exit(3);
    if (t.init(buf.start(), version) != NH_OK) _exit(4);
    unsigned int written = 0;
    std::memcpy(&written, buf.start(), sizeof written);
    if (written != version) _exit(5);
    for (std::size_t i = 0; i < buf.before_size(); ++i)
        if (buf.before()[i] != 0xA5) _exit(6);
    _exit(0);
}

TEST(CapiOptionsInit, EveryVersionFillsExactlyItsOwnSize) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    for (const auto &t : options_types()) {
        for (unsigned int v = 1; v <= t.sizes.size(); ++v) {
            SCOPED_TRACE(std::string(t.name) + " version " + std::to_string(v) + " (" +
                         std::to_string(t.sizes[v - 1]) + " bytes)");
            EXPECT_EXIT(init_at_exact_size(t, v), ::testing::ExitedWithCode(0), "");
        }
    }
}

TEST(CapiOptionsInit, VersionsTheLibraryDoesNotKnowAreRefused) {
    for (const auto &t : options_types()) {
        SCOPED_TRACE(t.name);
        std::vector<unsigned char> buf(4096, 0);
        EXPECT_EQ(t.init(buf.data(), 0), NH_EINVAL);
        auto next = static_cast<unsigned int>(t.sizes.size() + 1);
        EXPECT_EQ(t.init(buf.data(), next), NH_EINVAL);
        ASSERT_NE(nh_error_last(), nullptr);
        EXPECT_NE(std::string(nh_error_last()->message).find(t.name), std::string::npos)
            << nh_error_last()->message;
        EXPECT_EQ(t.init(nullptr, 1), NH_EINVAL);
    }
}

// The defaults of an older version are the same values as the current
// version's defaults for the fields both have.
TEST(CapiOptionsInit, OlderVersionsGetTheSameDefaults) {
    nh_sync_options current = NH_SYNC_OPTIONS_INIT;
    std::vector<unsigned char> v1(sizeof(nh_sync_options), 0x5A);
    ASSERT_EQ(nh_sync_options_init(reinterpret_cast<nh_sync_options *>(v1.data()), 1), NH_OK);
    const std::size_t v1_size = offsetof(nh_sync_options, delete_protection);
    nh_sync_options got;
    std::memset(&got, 0, sizeof got);
    std::memcpy(&got, v1.data(), v1_size);
    EXPECT_EQ(got.version, 1u);
    EXPECT_EQ(got.mode, current.mode);
    EXPECT_EQ(got.ignore_patterns, current.ignore_patterns);
    EXPECT_EQ(got.use_gitignore, current.use_gitignore);
    EXPECT_EQ(got.compression, current.compression);
    EXPECT_EQ(got.connect_timeout_ms, current.connect_timeout_ms);
    EXPECT_EQ(got.max_backoff_ms, current.max_backoff_ms);
    EXPECT_EQ(got.callback, current.callback);
    EXPECT_EQ(got.payload, current.payload);
    for (std::size_t i = v1_size; i < v1.size(); ++i) ASSERT_EQ(v1[i], 0x5A) << "byte " << i << " past version 1";

    nh_dev_start_options start = NH_DEV_START_OPTIONS_INIT;
    ASSERT_EQ(nh_dev_start_options_init(&start, 1), NH_OK);
    EXPECT_EQ(start.version, 1u);
    EXPECT_EQ(start.rollback_on_failure, 1);
}

}  // namespace
