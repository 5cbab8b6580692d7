#include "agent/client.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/proto.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace nh::agent {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A descriptor closed when it goes out of scope.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    int release() {
        int f = fd;
        fd = -1;
        return f;
    }
};

// The last lines of the agent's log, for an error saying why it did not come up.
std::string log_tail(const std::string &dir) {
    std::ifstream f(log_path(dir));
    std::string line, last;
    while (std::getline(f, line))
        if (!line.empty()) last = line;
    return last;
}

// Runs the agent detached from the caller: its own session (no terminal's signals reach it),
// a grandchild of the caller's (init reaps it, never the caller), stdin on /dev/null, output
// appended to the log in its directory.
void spawn(const std::string &exe, const std::string &dir) {
    const std::string logp = log_path(dir);
    const char *argv[] = {exe.c_str(), "--dir", dir.c_str(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) throw Error(NH_ERROR, std::string("cannot start the agent: fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls from here on: the caller may have other threads.
        ::setsid();
        pid_t g = ::fork();
        if (g != 0) ::_exit(g < 0 ? 1 : 0);
        int nul = ::open("/dev/null", O_RDWR);
        int log = ::open(logp.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (log < 0) log = nul;
        ::dup2(nul, 0);
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::close_range(3, ~0U, 0);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::execv(argv[0], const_cast<char *const *>(argv));
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

// A connection to the agent, starting it when none runs; under the spawn lock, so that of two
// processes starting it at once one starts it and the other finds it.
int connect_or_start(const std::string &dir, const ClientOptions &o) {
    const std::string sock = socket_path(dir);
    if (int fd = connect_unix(sock); fd >= 0) return fd;
    Fd lock(::open(spawn_lock_path(dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock.fd < 0) throw Error(NH_EIO, "cannot open " + spawn_lock_path(dir) + ": " + std::strerror(errno));
    if (!lock_file(lock.fd, 20000))
        throw Error(NH_ETIMEOUT, "another process kept starting the agent for 20 s (" + spawn_lock_path(dir) + ")");
    if (int fd = connect_unix(sock); fd >= 0) return fd;
    const std::string exe = agent_executable(o.agent_path);
    if (::access(exe.c_str(), X_OK) != 0)
        throw Error(NH_ENOTFOUND, "the agent's executable " + exe +
                                      " is missing or not executable (install the library whole, or point "
                                      "NH_AGENT_PATH or the agent_path option at nh-agent)");
    log::info("agent: starting " + exe + " in " + dir);
    spawn(exe, dir);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (;;) {
        if (int fd = connect_unix(sock); fd >= 0) return fd;
        if (std::chrono::steady_clock::now() >= deadline) {
            std::string last = log_tail(dir);
            throw Error(NH_ETIMEOUT, "the agent " + exe + " did not open " + sock + " within 15 s" +
                                         (last.empty() ? std::string() : " (its log says: " + last + ")"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

json answer_of(const json &reply) {
    if (reply.value("ok", false)) return reply.contains("result") ? reply["result"] : json();
    throw Error(reply.value("code", static_cast<int>(NH_ERROR)), "agent: " + reply.value("message", std::string("failed")));
}

}  // namespace

std::string agent_executable(const std::string &option) {
    if (!option.empty()) return option;
    if (const char *e = std::getenv("NH_AGENT_PATH"); e && *e) return e;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&agent_executable), &info) && info.dli_fname) {
        std::error_code ec;
        fs::path dir = fs::weakly_canonical(fs::path(info.dli_fname), ec).parent_path();
        fs::path installed = (dir / NH_LIBDIR_TO_AGENT).lexically_normal();
        // The Python and Node packages ship the library and the agent side by side.
        fs::path beside = dir / "nh-agent";
        fs::path build_tree = (dir / ".." / "libexec" / "nocalhost" / "nh-agent").lexically_normal();
        for (const fs::path &p : {installed, beside, build_tree})
            if (fs::exists(p, ec)) return p.string();
        return installed.string();
    }
    return "nh-agent";
}

bool has_saved_items(const std::string &dir) {
    std::ifstream f(state_path(dir));
    if (!f) return false;
    json j = json::parse(f, nullptr, false);
    return j.is_object() && j.contains("items") && j["items"].is_array() && !j["items"].empty();
}

json call(const json &request, const ClientOptions &o, Start start, const json &absent) {
    const std::string dir = agent_dir(o.dir);
    const bool must_start = start == Start::Always || (start == Start::IfSaved && has_saved_items(dir));
    for (int attempt = 0;; ++attempt) {
        Fd fd(must_start ? connect_or_start(dir, o) : connect_unix(socket_path(dir)));
        if (fd.fd < 0) return absent;
        if (peer_uid(fd.fd) != ::geteuid())
            throw Error(NH_EFORBIDDEN, socket_path(dir) + " is served by another user's process; not talking to it");
        json reply;
        std::string why;
        if (write_message(fd.fd, request) && read_message(fd.fd, reply, o.timeout.count(), &why)) return answer_of(reply);
        // An agent that was exiting as we connected (it held nothing) closes without an answer:
        // once more, which starts a new one.
        if (attempt == 0 && why == "the connection closed") continue;
        if (why.empty()) why = "the connection closed";
        throw Error(why.rfind("no answer", 0) == 0 ? NH_ETIMEOUT : NH_ECONNECT, "agent at " + socket_path(dir) + ": " + why);
    }
}

json info(const ClientOptions &o) {
    const std::string dir = agent_dir(o.dir);
    json r = call({{"op", "info"}}, o, Start::Never, json{{"running", false}});
    r["dir"] = dir;
    return r;
}

}  // namespace nh::agent
