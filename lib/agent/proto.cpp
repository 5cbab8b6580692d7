#include "agent/proto.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include "common/error.hpp"

namespace nh::agent {

namespace {

// Makes `dir` (its parent must exist) 0700 if missing and checks it is ours alone.
void ensure_private_dir(const std::string &dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw Error(NH_EIO, "cannot create the agent's directory " + dir + ": " + std::strerror(errno));
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0)
        throw Error(NH_EIO, "cannot read the agent's directory " + dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode))
        throw Error(NH_EFORBIDDEN, "the agent's directory " + dir + " is not a directory (a symlink?); remove it");
    if (st.st_uid != ::geteuid())
        throw Error(NH_EFORBIDDEN, "the agent's directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                                       ", not to this user (uid " + std::to_string(::geteuid()) + ")");
    if ((st.st_mode & 077) != 0)
        throw Error(NH_EFORBIDDEN, "the agent's directory " + dir +
                                       " is open to other users; it must be mode 0700 (chmod 700 it)");
}

}  // namespace

std::string agent_dir(const std::string &option) {
    if (!option.empty()) {
        ensure_private_dir(option);
        return option;
    }
    if (const char *e = std::getenv("NH_AGENT_DIR"); e && *e) {
        ensure_private_dir(e);
        return e;
    }
    if (const char *r = std::getenv("XDG_RUNTIME_DIR"); r && *r && ::access(r, W_OK | X_OK) == 0) {
        std::string dir = std::string(r) + "/nocalhost";
        ensure_private_dir(dir);
        return dir;
    }
    std::string dir = "/tmp/nocalhost-" + std::to_string(::geteuid());
    ensure_private_dir(dir);
    return dir;
}

int connect_unix(const std::string &path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) return -ENAMETOOLONG;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd);
        return -e;
    }
    return fd;
}

uid_t peer_uid(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return static_cast<uid_t>(-1);
    return cred.uid;
}

bool write_message(int fd, const nlohmann::json &j) {
    std::string line = j.dump() + "\n";
    size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

bool read_message(int fd, nlohmann::json &out, long timeout_ms, std::string *why) {
    auto say = [&](const std::string &w) {
        if (why) *why = w;
        return false;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    std::string line;
    for (;;) {
        int wait = -1;
        if (timeout_ms >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return say("no answer within " + std::to_string(timeout_ms) + " ms");
            wait = static_cast<int>(left.count());
        }
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, wait);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) return say("no answer within " + std::to_string(timeout_ms) + " ms");
        // Small messages: a byte at a time keeps the framing exact without a buffer to carry.
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return say("the connection closed");
        const void *nl = std::memchr(buf, '\n', static_cast<size_t>(n));
        size_t take = nl ? static_cast<size_t>(static_cast<const char *>(nl) - buf) + 1 : static_cast<size_t>(n);
        ssize_t got = ::recv(fd, buf, take, 0);
        if (got <= 0) return say("the connection closed");
        line.append(buf, static_cast<size_t>(got));
        if (line.size() > (64u << 20)) return say("a message larger than 64 MiB");
        if (nl) break;
    }
    line.pop_back();
    out = nlohmann::json::parse(line, nullptr, false);
    if (!out.is_object()) return say("a message that is no JSON object");
    return true;
}

bool lock_file(int fd, long timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
        if (errno != EWOULDBLOCK && errno != EINTR) return false;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string privileged_port_error(const std::string &spec) {
    std::string local = spec.substr(0, spec.find(':'));
    if (local.empty() || local.size() > 5 || local.find_first_not_of("0123456789") != std::string::npos) return "";
    int port = std::atoi(local.c_str());
    if (port < 1 || port > 1023) return "";
    return "local port " + local + " (of \"" + spec +
           "\") is below 1024: a managed port-forward listens on unprivileged ports only (1024-65535, or 0 for "
           "a free one); choose another local port, e.g. \"" +
           std::to_string(port + 8000) + spec.substr(local.size()) + (spec.find(':') == std::string::npos ? ":" + local : "") + "\"";
}

SyncSettings::SyncSettings(const nlohmann::json &j) {
    if (!j.is_object()) return;
    ignore = j.value("ignore", std::vector<std::string>{});
    include = j.value("include", std::vector<std::string>{});
    for (auto &p : ignore) ignore_ptrs.push_back(p.c_str());
    for (auto &p : include) include_ptrs.push_back(p.c_str());
    state_dir = j.value("state_dir", std::string());
    options.mode = j.value("mode", 0);
    options.ignore_patterns = ignore_ptrs.empty() ? nullptr : ignore_ptrs.data();
    options.ignore_patterns_count = ignore_ptrs.size();
    options.include_patterns = include_ptrs.empty() ? nullptr : include_ptrs.data();
    options.include_patterns_count = include_ptrs.size();
    options.use_gitignore = j.value("gitignore", false) ? 1 : 0;
    options.state_dir = state_dir.empty() ? nullptr : state_dir.c_str();
    options.compression = j.value("compression", 0);
    options.connect_timeout_ms = j.value("connect_timeout_ms", 0L);
    options.max_backoff_ms = j.value("max_backoff_ms", 0L);
    options.delete_protection = j.value("delete_protection", false) ? 1 : 0;
}

std::string now_rfc3339() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace nh::agent
