#include "kube/credentials.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

extern char **environ;

namespace nh::kube {
namespace {

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

// Runs argv with extra env; returns exit status, stdout and stderr. Gives up after `timeout`.
struct ProcResult {
    int status = -1;
    std::string out, err;
};

ProcResult run_process(const std::vector<std::string> &argv,
                       const std::vector<std::string> &extra_env, std::chrono::seconds timeout) {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) throw Error(NH_EIO, std::string("pipe: ") + std::strerror(errno));
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        throw Error(NH_EIO, std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

    std::vector<std::string> env_store;
    for (char **e = environ; e && *e; ++e) env_store.emplace_back(*e);
    for (auto &e : extra_env) env_store.push_back(e);
    std::vector<char *> envp, args;
    for (auto &e : env_store) envp.push_back(const_cast<char *>(e.c_str()));
    envp.push_back(nullptr);
    for (auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);

    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    ProcResult r;
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        r.status = -rc;
        return r;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[4096];
    bool timed_out = false;
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        int n = poll(fds, 2, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k > 0) {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(k));
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto &f : fds)
        if (f.fd >= 0) close(f.fd);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        r.status = -ETIMEDOUT;
        return r;
    }
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string &s) {
    std::tm tm{};
    const char *end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return std::nullopt;
    if (*end == '.')
        for (++end; std::isdigit(static_cast<unsigned char>(*end)); ++end) {
        }
    long offset = 0;
    if (*end == 'Z' || *end == 'z') {
        ++end;
    } else if (*end == '+' || *end == '-') {
        int hh = 0, mm = 0;
        if (std::sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
        offset = (hh * 3600L + mm * 60L) * (*end == '+' ? 1 : -1);
        end += 6;
    } else {
        return std::nullopt;
    }
    if (*end) return std::nullopt;
    time_t t = timegm(&tm) - offset;
    return std::chrono::system_clock::from_time_t(t);
}

ExecResult parse_exec_credential(const std::string &text, const std::string &expected_api_version,
                                 const std::string &plugin) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception &) {
        throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' printed something that is not an ExecCredential JSON object");
    }
    if (!j.is_object() || j.value("kind", "") != "ExecCredential")
        throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' did not print an ExecCredential (kind is missing or wrong)");
    std::string api = j.value("apiVersion", "");
    if (api != expected_api_version)
        throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' answered apiVersion '" + api +
                                    "' but the kubeconfig asks for '" + expected_api_version + "'");
    auto st = j.find("status");
    if (st == j.end() || !st->is_object())
        throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' printed an ExecCredential without status");
    ExecResult r;
    auto str = [&](const char *k) {
        auto it = st->find(k);
        return it != st->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    r.credential.bearer_token = str("token");
    r.credential.client_cert_pem = str("clientCertificateData");
    r.credential.client_key_pem = str("clientKeyData");
    if (r.credential.bearer_token.empty() && r.credential.client_cert_pem.empty())
        throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' returned neither a token nor a client certificate");
    if (r.credential.client_cert_pem.empty() != r.credential.client_key_pem.empty())
        throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' returned a client certificate without its key, or a key without a certificate");
    std::string exp = str("expirationTimestamp");
    if (!exp.empty()) {
        r.expires = parse_rfc3339(exp);
        if (!r.expires)
            throw Error(NH_ECONFIG, "exec plugin '" + plugin + "' returned an unreadable expirationTimestamp '" + exp + "'");
    }
    return r;
}

ExecResult run_exec_plugin(const ExecConfig &exec, const std::string &server, const std::string &ca_pem) {
    if (exec.interactive_mode == "Always")
        throw Error(NH_ECONFIG, "exec plugin '" + exec.command +
                                    "' requires an interactive terminal (interactiveMode: Always), which a library "
                                    "cannot give it; use a plugin mode that works without one (IfAvailable or Never)");
    std::string cmd = exec.command;
    if (cmd.find('/') != std::string::npos && cmd[0] != '/' && !exec.base_dir.empty())
        cmd = exec.base_dir + "/" + cmd;
    std::vector<std::string> argv{cmd};
    argv.insert(argv.end(), exec.args.begin(), exec.args.end());
    nlohmann::json info = {{"apiVersion", exec.api_version},
                           {"kind", "ExecCredential"},
                           {"spec", {{"interactive", false}}}};
    if (exec.provide_cluster_info) {
        info["spec"]["cluster"] = {{"server", server}};
        if (!ca_pem.empty()) {
            info["spec"]["cluster"]["certificate-authority-data"] = base64::encode(ca_pem);
        }
        if (!exec.cluster_config_json.empty())
            info["spec"]["cluster"]["config"] = nlohmann::json::parse(exec.cluster_config_json);
    }
    std::vector<std::string> env{"KUBERNETES_EXEC_INFO=" + info.dump()};
    for (auto &[k, v] : exec.env) env.push_back(k + "=" + v);
    log::debug("running exec credential plugin " + exec.command);
    ProcResult p = run_process(argv, env, std::chrono::seconds(60));
    std::string hint = exec.install_hint.empty() ? "" : "\n" + trim(exec.install_hint);
    if (p.status == -ENOENT || p.status == -EACCES)
        throw Error(NH_ECONFIG, "exec plugin '" + exec.command + "' could not be started: " +
                                    std::strerror(-p.status) + hint);
    if (p.status == -ETIMEDOUT)
        throw Error(NH_ETIMEOUT, "exec plugin '" + exec.command + "' did not finish within 60 s");
    if (p.status != 0)
        throw Error(NH_EUNAUTHORIZED, "exec plugin '" + exec.command + "' failed with exit code " +
                                          std::to_string(p.status) +
                                          (p.err.empty() ? "" : ": " + trim(p.err).substr(0, 500)) + hint);
    return parse_exec_credential(p.out, exec.api_version, exec.command);
}

Credential CredentialSource::get() {
    std::lock_guard lock(mu_);
    Credential c;
    if (!cfg_.token_file.empty()) {
        // The file wins over an inline token; re-read at most once a minute, like
        // client-go, so rotated tokens are picked up.
        auto now = std::chrono::steady_clock::now();
        if (file_token_.empty() || now - file_read_at_ > std::chrono::minutes(1)) {
            std::ifstream in(cfg_.token_file);
            std::string why = in ? "it is empty" : std::strerror(errno);
            std::stringstream ss;
            if (in) ss << in.rdbuf();
            std::string t = trim(ss.str());
            if (!t.empty()) {
                file_token_ = t;
                file_read_at_ = now;
            } else if (file_token_.empty() && cfg_.token.empty()) {
                throw Error(NH_EUNAUTHORIZED, "cannot read tokenFile '" + cfg_.token_file + "': " + why);
            }
        }
        c.bearer_token = file_token_.empty() ? cfg_.token : file_token_;
        return c;
    }
    if (!cfg_.token.empty()) {
        c.bearer_token = cfg_.token;
        return c;
    }
    if (!cfg_.username.empty() || !cfg_.password.empty()) {
        c.basic_username = cfg_.username;
        c.basic_password = cfg_.password;
        return c;
    }
    if (cfg_.exec && cfg_.client_cert_pem.empty()) {
        auto now = std::chrono::system_clock::now();
        if (!exec_cache_ || (exec_cache_->expires && *exec_cache_->expires <= now + std::chrono::seconds(10)))
            exec_cache_ = run_exec_plugin(*cfg_.exec, cfg_.server, cfg_.ca_pem);
        return exec_cache_->credential;
    }
    return c;
}

bool CredentialSource::invalidate() {
    std::lock_guard lock(mu_);
    if (cfg_.exec && exec_cache_) {
        exec_cache_.reset();
        return true;
    }
    if (!cfg_.token_file.empty() && !file_token_.empty()) {
        file_token_.clear();
        return true;
    }
    return false;
}

}  // namespace nh::kube
