// Reverse forwarding on the test cluster's real node: a dev pod whose sidecar runs the nhsyncd
// this build uploads (no sidecar image), listeners in the pod, and their connections carried
// back to servers on this machine. Clients in the pod are the dev container's busybox (wget,
// nc through exec) and connections through a port-forward to the pod's listener port.
#include <gtest/gtest.h>
#include <nocalhost.h>
#include <poll.h>
#include <sys/wait.h>

#include <csignal>

#include <atomic>
#include <mutex>
#include <random>

#include "common/error.hpp"
#include "realpods_fixture.hpp"
#include "tunnel/client.hpp"

using namespace nh::test;

namespace {

void write_all(int fd, const std::string &s) {
    for (size_t off = 0; off < s.size();) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

// The echo and HTTP servers on "the developer's machine".
struct LocalServers {
    nh::test::TcpServer echo{[](int fd) {
        char buf[65536];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) write_all(fd, std::string(buf, static_cast<size_t>(n)));
        ::shutdown(fd, SHUT_WR);
    }};
    nh::test::TcpServer http{[](int fd) {
        char buf[4096];
        std::string req;
        ssize_t n;
        while (req.find("\r\n\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
            req.append(buf, static_cast<size_t>(n));
        write_all(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nanswered on the developer's machine\n");
    }};
};

struct Events {
    std::mutex mu;
    std::vector<std::tuple<int, std::string, std::string>> seen;  // type, pod, message
    static void cb(int type, const char *pod, int, int, const char *message, void *p) {
        auto *self = static_cast<Events *>(p);
        std::lock_guard l(self->mu);
        self->seen.emplace_back(type, pod, message);
    }
    size_t count(int type) {
        std::lock_guard l(mu);
        size_t n = 0;
        for (auto &e : seen) n += std::get<0>(e) == type;
        return n;
    }
    std::string all() {
        std::lock_guard l(mu);
        std::string out;
        for (auto &e : seen)
            if (std::get<0>(e) != NH_REVERSE_CONNECTED && !(std::get<0>(e) == NH_REVERSE_CLOSED && std::get<2>(e).empty()))
                out += std::to_string(std::get<0>(e)) + " " + std::get<1>(e) + ": " + std::get<2>(e) + "\n";
        return out;
    }
    std::string message_of(int type) {
        std::lock_guard l(mu);
        for (auto &e : seen)
            if (std::get<0>(e) == type) return std::get<2>(e);
        return "";
    }
};

int free_port() {
    int port = 0;
    ::close(nh::test::listen_loopback(&port));
    return port;
}

}  // namespace

class ReverseForward : public RealPods {
protected:
    void SetUp() override {
        RealPods::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        apply(workload_yaml("deployment", "web"));
        // Dev mode with the dev image as the sidecar's shell and no sync: the reverse forward
        // uploads this build's nhsyncd itself.
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = dev_image_.c_str();
        o.syncd_dir = NH_SHARE_DIR;
        o.timeout_ms = 180000;
        ASSERT_EQ(nh_dev_start(&session_, client_, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    }
    void TearDown() override {
        nh_reverse_free(rev_);
        nh_session_free(session_);
        RealPods::TearDown();
    }

    int start(std::vector<std::string> specs) {
        std::vector<const char *> ports;
        for (auto &s : specs) ports.push_back(s.c_str());
        ports.push_back(nullptr);
        nh_reverse_options o = NH_REVERSE_OPTIONS_INIT;
        o.syncd_dir = NH_SHARE_DIR;
        o.on_event = Events::cb;
        o.payload = &events_;
        return nh_reverse_start(&rev_, client_, "deployment", "web", ports.data(), &o);
    }
    // An HTTP GET by busybox nc in the dev container: the body, or "<exit N>".
    std::string get_in_pod(int port) {
        std::string cmd = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 " + std::to_string(port);
        auto [code, out] = exec("deployment/web", {"sh", "-c", cmd.c_str()});
        auto body = out.find("\r\n\r\n");
        if (code != 0 || body == std::string::npos) return "<exit " + std::to_string(code) + ": " + out + ">";
        return out.substr(body + 4);
    }
    // md5sum's hash of `data`.
    std::string md5_of(const std::string &data) {
        std::string f = (fs::path(local_dir_.path()) / "data").string();
        nh::test::write_file(f, data);
        return sh("md5sum '" + f + "' | cut -d' ' -f1");
    }

    LocalServers local_;
    nh::test::TempDir local_dir_;
    Events events_;
    nh_session *session_ = nullptr;
    nh_reverse *rev_ = nullptr;
};

TEST_F(ReverseForward, CarriesBytesBothWaysManyConnectionsAndLargeTransfersAndReportsADeadLocalPort) {
    int dead = free_port();
    ASSERT_EQ(start({"9100:" + std::to_string(local_.http.port()), "9101:" + std::to_string(local_.echo.port()),
                     "9102:" + std::to_string(dead)}),
              NH_OK)
        << nh_error_last()->message;
    nh_buf pod = NH_BUF_INIT;
    ASSERT_EQ(nh_reverse_pod(&pod, rev_), NH_OK);
    EXPECT_EQ(std::string(pod.ptr, pod.size), dev_pod()["metadata"].value("name", ""));
    nh_buf_dispose(&pod);

    // A client in the dev container reaches the server on this machine.
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n");

    // 100 connections at once to the pod's listener (through a port-forward to it), each
    // echoed back whole.
    Forward fwd(client_, "deployment/web", "0:9101");
    ASSERT_GT(fwd.port, 0) << nh_error_last()->message;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 100; ++i)
        threads.emplace_back([&, i] {
            int fd = nh::test::connect_loopback(fwd.port);
            if (fd < 0) return;
            std::string msg = "connection " + std::to_string(i) + " " + std::string(static_cast<size_t>(i) * 100, 'x');
            write_all(fd, msg);
            std::string got;
            char buf[65536];
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            while (got.size() < msg.size() && std::chrono::steady_clock::now() < deadline) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 100) <= 0) continue;
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) break;
                got.append(buf, static_cast<size_t>(n));
            }
            if (got == msg) ++ok;
            ::close(fd);
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(ok.load(), 100);

    // 64 MiB each way between the dev container and this machine, byte for byte (md5sum on
    // both sides): a local server sends it to nc in the pod; nc in the pod sends its file to
    // a local server that keeps what it reads.
    std::string data(64u << 20, '\0');
    std::mt19937 rng(42);
    for (auto &c : data) c = static_cast<char>(rng());
    nh::test::TcpServer sender([&](int fd) { write_all(fd, data); });
    std::string received;
    std::mutex received_mu;
    nh::test::TcpServer sink([&](int fd) {
        std::string got;
        char buf[65536];
        ssize_t n;
        while (got.size() < data.size() && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
        std::lock_guard l(received_mu);
        received = std::move(got);
    });
    nh_reverse_free(rev_);
    rev_ = nullptr;
    ASSERT_EQ(start({"9103:" + std::to_string(sender.port()), "9104:" + std::to_string(sink.port())}), NH_OK)
        << nh_error_last()->message;
    std::string want = md5_of(data);
    auto [c1, down] = exec("deployment/web", {"sh", "-c", "nc 127.0.0.1 9103 | md5sum | cut -d' ' -f1"});
    EXPECT_EQ(c1, 0);
    EXPECT_EQ(down, want) << "laptop -> pod" << events_.all();
    auto [c2, up] = exec("deployment/web",
                         {"sh", "-c", "head -c 67108864 /dev/urandom > /tmp/big && nc 127.0.0.1 9104 < /tmp/big; "
                                      "md5sum /tmp/big | cut -d' ' -f1; rm -f /tmp/big"});
    EXPECT_EQ(c2, 0);
    std::string got;
    ASSERT_TRUE(eventually([&] {
        std::lock_guard l(received_mu);
        return received.size() == data.size();
    }, std::chrono::seconds(30))) << events_.all();
    {
        std::lock_guard l(received_mu);
        got = received;
    }
    EXPECT_EQ(md5_of(got), up) << "pod -> laptop";
    nh_reverse_free(rev_);
    rev_ = nullptr;
    // A port nothing listens on, taken now: one taken at the start could have been given to a
    // listener of this test (the forward's) since.
    dead = free_port();
    ASSERT_EQ(start({"9100:" + std::to_string(local_.http.port()), "9102:" + std::to_string(dead)}), NH_OK)
        << nh_error_last()->message;
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n") << "the new tunnel serves";

    // Nothing listens on the local port of 9102: that connection fails with a reason, the
    // tunnel stays up.
    std::string refused = get_in_pod(9102);
    EXPECT_EQ(refused.rfind("<exit ", 0), 0u) << refused;
    ASSERT_TRUE(eventually([&] { return events_.count(NH_REVERSE_ERROR) >= 1; }, std::chrono::seconds(10)))
        << "the pod's nc: " << refused << "\nevents:\n" << events_.all();
    EXPECT_NE(events_.message_of(NH_REVERSE_ERROR).find("nothing listens on 127.0.0.1:" + std::to_string(dead)),
              std::string::npos)
        << events_.message_of(NH_REVERSE_ERROR);
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n");
    EXPECT_EQ(nh_reverse_wait(rev_, 0), NH_ETIMEOUT) << "still running";
    EXPECT_EQ(events_.count(NH_REVERSE_POD_LOST), 0u);
}

TEST_F(ReverseForward, ComesBackWhenTheDevPodIsReplaced) {
    ASSERT_EQ(start({"9100:" + std::to_string(local_.http.port())}), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n");
    std::string old_pod = dev_pod()["metadata"].value("name", "");
    ASSERT_FALSE(old_pod.empty());
    kubectl("-n " + ns_ + " delete pod " + old_pod + " --wait=false");
    ASSERT_TRUE(eventually([&] { return events_.count(NH_REVERSE_RECONNECTED) >= 1; }, std::chrono::seconds(180)))
        << kubectl("-n " + ns_ + " get pods -o wide");
    EXPECT_GE(events_.count(NH_REVERSE_POD_LOST), 1u);
    nh_buf pod = NH_BUF_INIT;
    ASSERT_EQ(nh_reverse_pod(&pod, rev_), NH_OK);
    std::string new_pod(pod.ptr, pod.size);
    nh_buf_dispose(&pod);
    EXPECT_NE(new_pod, old_pod);
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n");
}

TEST_F(ReverseForward, TheSidecarRefusesAWrongOrMissingToken) {
    // Start one properly so that nhsyncd runs in the pod, then knock on its tunnel port.
    ASSERT_EQ(start({"9100:" + std::to_string(local_.http.port())}), NH_OK) << nh_error_last()->message;
    Forward tunnel_port(client_, "deployment/web", "0:" + std::to_string(nh_session_sync_port(session_) + 1));
    ASSERT_GT(tunnel_port.port, 0);
    for (std::string token : {std::string("not-the-token"), std::string()}) {
        nh::tunnel::ClientOptions co;
        co.token = token;
        co.ports = {{9200, local_.http.port()}};
        try {
            nh::tunnel::open_tunnel(nh::test::connect_loopback(tunnel_port.port), co);
            ADD_FAILURE() << "a tunnel opened with token '" << token << "'";
        } catch (const nh::Error &e) {
            EXPECT_EQ(e.code(), NH_EUNAUTHORIZED) << e.what();
        }
    }
    // Nothing listens on 9200 in the pod; the real tunnel is untouched.
    EXPECT_EQ(get_in_pod(9200).rfind("<exit ", 0), 0u);
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n");
}

TEST_F(ReverseForward, TheCliListensInThePodUntilInterrupted) {
    std::string spec = "9100:" + std::to_string(local_.http.port());
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(NH_CLI_PATH, "nh", "--kubeconfig", kubeconfig_.c_str(), "-n", ns_.c_str(), "reverse-forward",
              "deployment/web", spec.c_str(), "--syncd-dir", NH_SHARE_DIR, static_cast<char *>(nullptr));
        _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (line.find('\n') == std::string::npos && read(out[0], &c, 1) == 1) line += c;
    EXPECT_EQ(line.rfind("Reverse forwarding from 127.0.0.1:9100 in pod ", 0), 0u) << line;
    EXPECT_NE(line.find("-> 127.0.0.1:" + std::to_string(local_.http.port())), std::string::npos) << line;
    EXPECT_EQ(get_in_pod(9100), "answered on the developer's machine\n");
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    close(out[0]);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "Ctrl-C is how it normally ends";
    // The listener went with the tunnel.
    EXPECT_EQ(get_in_pod(9100).rfind("<exit ", 0), 0u);
}
