// Bulk data through the library's port-forward to a pod on the real node
// (API server, kubelet, containerd's streaming server): a high-rate upload and
// an echo at full speed both ways arrive whole and in order, and the
// connection stays up. At these rates the TLS connection to the API server is
// often full, which is where a write retried the wrong way used to drop it.
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>

#include "realpods_fixture.hpp"

namespace nh::test {
namespace {

constexpr size_t kBlock = 1u << 20;

// Block `i` of the stream the tests send: 1 MiB of fixed random bytes that
// starts with its own index, so a lost, repeated or reordered block shows.
struct Pattern {
    std::string base;
    Pattern() : base(kBlock, '\0') {
        std::mt19937_64 rng(18);
        for (size_t i = 0; i < kBlock; i += 8) {
            uint64_t v = rng();
            std::memcpy(base.data() + i, &v, 8);
        }
    }
    const std::string &block(uint64_t i) {
        std::memcpy(base.data(), &i, 8);
        return base;
    }
};

// Every event the forward reports, for the assertions' messages.
struct Events {
    std::mutex mu;
    std::vector<std::string> errors;
    std::string log;
    static void on_event(int type, const char *, int, int, const char *message, void *payload) {
        auto *self = static_cast<Events *>(payload);
        std::lock_guard lock(self->mu);
        std::string m = message ? message : "";
        self->log += std::to_string(type) + " " + m + "\n";
        if (type == NH_FORWARD_ERROR || (type == NH_FORWARD_CLOSED && !m.empty())) self->errors.push_back(m);
    }
};

bool send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

class PortForwardReal : public RealPods {
protected:
    // One pod for both cases: :9000 echoes, :9001 answers the SHA-256 of the first
    // kUpload bytes it receives. Each listener serves one connection at a time.
    static constexpr size_t kUpload = 256 * kBlock;
    static constexpr size_t kEcho = 128 * kBlock;

    void SetUp() override {
        RealPods::SetUp();
        if (HasFatalFailure()) return;
        std::string sink = "head -c " + std::to_string(kUpload) + " | sha256sum";
        apply("apiVersion: v1\nkind: Pod\nmetadata: {name: bulk, namespace: " + ns_ +
              ", labels: {app: bulk}}\nspec:\n"
              "  nodeSelector: {" + taint_ + ": \"true\"}\n"
              "  tolerations: [{key: " + taint_ + ", operator: Exists, effect: NoSchedule}]\n"
              "  terminationGracePeriodSeconds: 1\n"
              "  containers:\n  - name: bulk\n    image: " + dev_image_ + "\n"
              "    command: [sh, -c, 'while true; do nc -l -p 9000 -e cat; done & "
              "while true; do nc -l -p 9001 -e sh -c \"" + sink + "\"; done & "
              "while true; do nc -l -p 9002 -e echo answered; done']\n"
              "    readinessProbe: {exec: {command: [sh, -c, 'netstat -ltn | grep -q :9000 && "
              "netstat -ltn | grep -q :9001']}, periodSeconds: 1}\n");
        ASSERT_TRUE(eventually([&] { return pods_ready("app=bulk", 1); }, 90s))
            << kubectl("-n " + ns_ + " get pods -o wide") << kubectl("-n " + ns_ + " get events");
        nh_forward_options o = NH_FORWARD_OPTIONS_INIT;
        o.on_event = &Events::on_event;
        o.payload = &events_;
        const char *ports[] = {"0:9000", "0:9001", "0:9002", nullptr};
        ASSERT_EQ(nh_forward_start(&fwd_, client_, "pod/bulk", ports, &o), NH_OK) << nh_error_last()->message;
        ASSERT_EQ(nh_forward_local_port_v2(&echo_port_, fwd_, 0), NH_OK);
        ASSERT_EQ(nh_forward_local_port_v2(&sink_port_, fwd_, 1), NH_OK);
        ASSERT_EQ(nh_forward_local_port_v2(&answer_port_, fwd_, 2), NH_OK);
    }
    void TearDown() override {
        nh_forward_free(fwd_);
        RealPods::TearDown();
    }

    int connect_to(int port) {
        int fd = connect_loopback(port);
        timeval tv{30, 0};
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        return fd;
    }
    std::string event_log() {
        std::lock_guard lock(events_.mu);
        return events_.log;
    }
    std::vector<std::string> errors() {
        std::lock_guard lock(events_.mu);
        return events_.errors;
    }

    Events events_;
    nh_forward *fwd_ = nullptr;
    int echo_port_ = 0, sink_port_ = 0, answer_port_ = 0;
};

TEST_F(PortForwardReal, HighRateUploadArrivesWhole) {
    int fd = connect_to(sink_port_);
    ASSERT_GE(fd, 0);
    Pattern pat;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    ASSERT_EQ(EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr), 1);
    size_t sent = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; sent < kUpload; ++i) {
        const std::string &b = pat.block(i);
        if (!send_all(fd, b.data(), b.size())) break;
        EVP_DigestUpdate(sha.get(), b.data(), b.size());
        sent += b.size();
    }
    std::string answer;
    char buf[256];
    ssize_t n;
    while (answer.find('\n') == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
        answer.append(buf, static_cast<size_t>(n));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    close(fd);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &dlen);
    char hex[2 * EVP_MAX_MD_SIZE + 1] = {};
    for (size_t i = 0; i < dlen; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    EXPECT_EQ(sent, kUpload) << "the connection dropped during the upload (errno " << errno << ")\n" << event_log();
    EXPECT_EQ(answer.substr(0, 64), std::string(hex)) << "the pod received other bytes than we sent\n" << event_log();
    EXPECT_TRUE(errors().empty()) << event_log();
    std::printf("upload: %zu MiB in %.2f s (%.0f MB/s)\n", sent >> 20, secs, static_cast<double>(sent) / secs / 1e6);
}

TEST_F(PortForwardReal, EchoBothWaysAtFullSpeedArrivesInOrder) {
    int fd = connect_to(echo_port_);
    ASSERT_GE(fd, 0);
    std::atomic<size_t> sent{0};
    std::thread writer([&] {
        Pattern pat;
        for (uint64_t i = 0; sent < kEcho; ++i) {
            const std::string &b = pat.block(i);
            if (!send_all(fd, b.data(), b.size())) return;
            sent += b.size();
        }
    });
    Pattern want;
    std::string got;
    got.reserve(kBlock);
    size_t received = 0, first_bad = SIZE_MAX;
    std::vector<char> buf(256 * 1024);
    auto t0 = std::chrono::steady_clock::now();
    while (received < kEcho) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        got.append(buf.data(), static_cast<size_t>(n));
        while (got.size() >= kBlock) {
            uint64_t index = received / kBlock;
            if (first_bad == SIZE_MAX && std::memcmp(got.data(), want.block(index).data(), kBlock) != 0)
                first_bad = received;
            got.erase(0, kBlock);
            received += kBlock;
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
    close(fd);
    EXPECT_EQ(sent.load(), kEcho) << "the connection dropped while sending\n" << event_log();
    EXPECT_EQ(received, kEcho) << "the connection dropped while receiving\n" << event_log();
    EXPECT_EQ(first_bad, SIZE_MAX) << "the echo differs from what we sent from byte " << first_bad;
    EXPECT_TRUE(errors().empty()) << event_log();
    std::printf("echo: %zu MiB each way in %.2f s\n", received >> 20, secs);
}

// The pod's program answers and exits without reading what it was sent, so its
// end of the connection is reset, and containerd reports that on the error
// channel right behind the answer. The answer still reaches the local client
// before the connection ends (it was dropped when both came in one read: a race,
// so the rounds).
TEST_F(PortForwardReal, AnAnswerFollowedByAResetArrivesBeforeTheEnd) {
    for (int round = 0; round < 10; ++round) {
        int fd = connect_to(answer_port_);
        ASSERT_GE(fd, 0);
        std::string unread(64 * 1024, 'x');
        send_all(fd, unread.data(), unread.size());
        std::string got;
        char buf[256];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
        close(fd);
        EXPECT_EQ(got, "answered\n") << "round " << round << "\n" << event_log();
    }
}

}  // namespace
}  // namespace nh::test
