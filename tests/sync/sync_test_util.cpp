#include "sync_test_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>

#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "sync/net.hpp"

#ifndef NH_SYNCD_PATH
#define NH_SYNCD_PATH "/nonexistent/nhsyncd"
#endif

namespace nh::synctest {

std::string make_temp_dir(const std::string &tag) {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/nhsync-" + tag + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    return buf.data();
}

void remove_tree(const std::string &path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        ::chmod(path.c_str(), 0700);
        if (DIR *d = ::opendir(path.c_str())) {
            std::vector<std::string> names;
            while (auto *de = ::readdir(d))
                if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
            ::closedir(d);
            for (auto &n : names) remove_tree(path + "/" + n);
        }
        ::rmdir(path.c_str());
    } else {
        ::unlink(path.c_str());
    }
}

void mkdirs(const std::string &path) {
    for (size_t i = 1; i <= path.size(); ++i)
        if (i == path.size() || path[i] == '/') ::mkdir(path.substr(0, i).c_str(), 0755);
}

void write_file(const std::string &path, std::string_view data, int mode) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos) mkdirs(path.substr(0, slash));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
    }
    ::fchmod(fd, static_cast<mode_t>(mode));
    ::close(fd);
}

std::string read_file(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "<missing>";
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

namespace {

std::string hash_file(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return "unreadable";
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    thread_local std::vector<char> buf(1 << 20);
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) XXH3_64bits_update(st, buf.data(), static_cast<size_t>(n));
    ::close(fd);
    auto h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

void walk(const std::string &root, const std::string &rel, std::map<std::string, std::string> &out) {
    std::string dir = rel.empty() ? root : root + "/" + rel;
    DIR *d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (auto *de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == ".." || n == ".git" || n.starts_with(".nocalhost-sync")) continue;
        names.push_back(n);
    }
    ::closedir(d);
    for (auto &n : names) {
        std::string r = rel.empty() ? n : rel + "/" + n;
        std::string full = root + "/" + r;
        struct stat st;
        if (::lstat(full.c_str(), &st) != 0) continue;
        char mode[8];
        std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
        if (S_ISDIR(st.st_mode)) {
            out[r] = std::string("dir ") + mode;
            walk(root, r, out);
        } else if (S_ISLNK(st.st_mode)) {
            char t[4096];
            ssize_t k = ::readlink(full.c_str(), t, sizeof t);
            out[r] = "link " + std::string(t, k > 0 ? static_cast<size_t>(k) : 0);
        } else {
            out[r] = std::string("file ") + mode + " " + std::to_string(st.st_size) + " " + hash_file(full);
        }
    }
}

}  // namespace

std::map<std::string, std::string> fingerprint(const std::string &root) {
    std::map<std::string, std::string> out;
    walk(root, "", out);
    return out;
}

std::string diff_trees(const std::string &a, const std::string &b) {
    auto fa = fingerprint(a), fb = fingerprint(b);
    std::ostringstream os;
    int shown = 0;
    for (auto &[p, v] : fa) {
        auto it = fb.find(p);
        if (it == fb.end()) {
            if (shown++ < 20) os << "only in source: " << p << " (" << v << ")\n";
        } else if (it->second != v) {
            if (shown++ < 20) os << "differs: " << p << ": " << v << " vs " << it->second << "\n";
        }
    }
    for (auto &[p, v] : fb)
        if (!fa.count(p) && shown++ < 20) os << "only in destination: " << p << " (" << v << ")\n";
    if (shown > 20) os << "... " << shown << " differences\n";
    return os.str();
}

InProcessServer::InProcessServer(std::string root, std::string token, bool durable, bool delta)
    : root_(std::move(root)), token_(std::move(token)), durable_(durable), delta_(delta) {
    start(0);
}

InProcessServer::~InProcessServer() { stop(); }

void InProcessServer::start(uint16_t port) {
    sync::ServerOptions o;
    o.root = root_;
    o.listen = "127.0.0.1:" + std::to_string(port);
    o.token = token_;
    o.durable = durable_;
    o.delta = delta_;
    server_ = std::make_unique<sync::Server>(o);
    port_ = server_->port();
    thread_ = std::thread([s = server_.get()] { s->run(); });
}

void InProcessServer::stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
}

void InProcessServer::restart() {
    uint16_t p = port_;
    stop();
    start(p);
}

Daemon::Daemon(DaemonOptions o) {
    static std::atomic<int> counter{0};
    log_file_ = o.root + ".nhsyncd-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
    std::vector<std::string> args = {"nhsyncd", "--root", o.root, "--listen", "127.0.0.1:0"};
    if (!o.token_file.empty()) {
        args.push_back("--token-file");
        args.push_back(o.token_file);
    }
    args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
    std::vector<std::string> env;
    for (char **e = environ; *e; ++e) {
        std::string_view v(*e);
        if (!v.starts_with("NH_LOG=") && !v.starts_with("NH_SYNC_TOKEN=")) env.emplace_back(v);
    }
    if (!o.log_level.empty()) env.push_back("NH_LOG=" + o.log_level);
    if (o.token_file.empty()) env.push_back("NH_SYNC_TOKEN=" + o.token);
    std::vector<char *> argv, envp;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto &e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot create " + log_file_);
    if (o.run_as == 0) {
        // posix_spawn, not fork: a forked copy of this many-threaded (and, in CI, sanitized)
        // test process runs code between fork and exec, and under load one such copy was seen
        // never reaching exec. posix_spawn runs no fork handlers in the child.
        posix_spawn_file_actions_t fa;
        ::posix_spawn_file_actions_init(&fa);
        ::posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, NH_SYNCD_PATH, &fa, nullptr, argv.data(), envp.data());
        ::posix_spawn_file_actions_destroy(&fa);
        ::close(log_fd);
        if (rc != 0) throw std::runtime_error(std::string("cannot start nhsyncd: ") + std::strerror(rc));
        pid_ = pid;
    } else {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(log_fd, 2);
            gid_t g = o.run_as;
            if (::setgroups(1, &g) != 0 || ::setgid(g) != 0 || ::setuid(o.run_as) != 0) ::_exit(126);
            ::execve(NH_SYNCD_PATH, argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(log_fd);
        if (pid_ < 0) throw std::runtime_error("fork failed");
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const std::string marker = "listening on port ";
    while (std::chrono::steady_clock::now() < deadline && alive()) {
        std::string text = log();
        if (auto pos = text.find(marker); pos != std::string::npos && text.find('\n', pos) != std::string::npos) {
            port_ = static_cast<uint16_t>(std::atoi(text.c_str() + pos + marker.size()));
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("nhsyncd did not start: " + log());
}

Daemon::~Daemon() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        ::kill(pid_, SIGCONT);  // a test may have left it stopped
        // A daemon that does not exit fails the test instead of hanging the suite.
        int st;
        bool exited = false;
        for (int i = 0; i < 600 && !exited; ++i) {
            exited = ::waitpid(pid_, &st, WNOHANG) == pid_;
            if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!exited) {
            ADD_FAILURE() << "nhsyncd (pid " << pid_ << ") did not exit within 30 s of SIGTERM; its log:\n" << log();
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &st, 0);
        }
    }
    ::unlink(log_file_.c_str());
}

bool Daemon::alive() {
    if (pid_ <= 0) return false;
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

std::string Daemon::log() const { return read_file(log_file_); }

CuttingProxy::CuttingProxy(uint16_t target, uint64_t min_bytes, uint64_t max_bytes, uint32_t seed, uint64_t rate,
                           int in_flight)
    : target_(target), min_(min_bytes), max_(max_bytes), seed_(seed), rate_(rate) {
    listen_fd_ = sync::net::listen_tcp(sync::net::parse_host_port("127.0.0.1:0"));
    // Accepted connections inherit it (the kernel doubles it for its bookkeeping).
    if (in_flight) ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &in_flight, sizeof in_flight);
    port_ = sync::net::local_port(listen_fd_);
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { loop(); });
}

CuttingProxy::~CuttingProxy() {
    uint64_t one = 1;
    ssize_t n = ::write(stop_fd_, &one, sizeof one);
    (void)n;
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_fd_);
}

void CuttingProxy::loop() {
    std::mt19937 rng(seed_);
    for (;;) {
        pollfd p[2] = {{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        ::poll(p, 2, -1);
        if (p[0].revents) return;
        int a = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (a < 0) continue;
        int b;
        try {
            b = sync::net::connect_tcp(sync::net::parse_host_port("127.0.0.1:" + std::to_string(target_)), 2000);
        } catch (...) {
            ::close(a);
            continue;
        }
        uint64_t budget = max_ ? std::uniform_int_distribution<uint64_t>(min_, max_)(rng) : UINT64_MAX;
        uint64_t moved = 0;
        auto next = std::chrono::steady_clock::now();  // when the link may take more
        std::vector<char> buf(rate_ ? 16 << 10 : 64 << 10);
        bool done = false;
        while (!done) {
            pollfd q[3] = {{stop_fd_, POLLIN, 0}, {a, POLLIN, 0}, {b, POLLIN, 0}};
            ::poll(q, 3, -1);
            if (q[0].revents) {
                ::close(a);
                ::close(b);
                return;
            }
            for (int k = 1; k <= 2 && !done; ++k) {
                if (!q[k].revents) continue;
                int from = k == 1 ? a : b, to = k == 1 ? b : a;
                ssize_t n = ::recv(from, buf.data(), buf.size(), 0);
                if (n <= 0) {
                    done = true;
                    break;
                }
                size_t len = static_cast<size_t>(n);
                if (cutting_ && moved + len > budget) {
                    len = static_cast<size_t>(budget - moved);
                    done = true;
                    cuts_++;
                }
                size_t off = 0;
                while (off < len) {
                    ssize_t w = ::send(to, buf.data() + off, len - off, MSG_NOSIGNAL);
                    if (w <= 0) {
                        done = true;
                        break;
                    }
                    off += static_cast<size_t>(w);
                }
                moved += len;
                if (k != 1) downstream_ += len;
                if (k == 1) {
                    upstream_ += len;
                    // A slow link: len bytes take len / rate. A proxy thread that fell behind
                    // (a loaded machine) catches up by at most 20 ms, not in one burst.
                    if (rate_) {
                        next = std::max(next, std::chrono::steady_clock::now() - std::chrono::milliseconds(20)) +
                               std::chrono::microseconds(len * 1000000 / rate_);
                        std::this_thread::sleep_until(next);
                    }
                }
            }
        }
        ::close(a);
        ::close(b);
    }
}

}  // namespace nh::synctest
