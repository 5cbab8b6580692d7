// nh_target_*, nh_exec_*, nh_forward_*: streams through the API server.
#include <cstring>
#include <iterator>
#include <memory>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "stream/exec.hpp"
#include "stream/portforward.hpp"
#include "stream/target.hpp"

using namespace nh::capi;

struct nh_exec {
    std::shared_ptr<nh::kube::Client> client;
    std::unique_ptr<nh::stream::ExecSession> session;
    std::string pod;
    std::string protocol;
};

struct nh_forward {
    std::unique_ptr<nh::stream::PortForwarder> impl;
};

namespace {

std::string ns_or_default(const char *ns, const nh_client *client) {
    return ns && *ns ? std::string(ns) : client->impl->ns();
}

std::vector<std::string> argv_of(const char *const *argv) {
    std::vector<std::string> v;
    for (; argv && *argv; ++argv) v.emplace_back(*argv);
    if (v.empty()) throw nh::Error(NH_EINVAL, "invalid argument: argv needs at least the program");
    return v;
}

nh::stream::ExecRequest exec_request(nh_client *client, const char *target, const char *const *argv,
                                     const nh_exec_options *opts, nh::CancelToken *cancel) {
    nh::stream::ExecRequest r;
    r.ns = ns_or_default(opts->namespace_name, client);
    r.command = argv_of(argv);
    auto pod = nh::stream::resolve_pod(*client->impl, r.ns, nh::stream::parse_target(target), cancel);
    r.pod = pod.name;
    r.container = opts->container && *opts->container ? opts->container : pod.default_container;
    r.tty = opts->tty != 0;
    r.stdin_ = opts->stdin_enabled != 0;
    if (opts->timeout_ms > 0) r.connect_timeout = std::chrono::milliseconds(opts->timeout_ms);
    return r;
}

}  // namespace

extern "C" {

int nh_target_resolve(nh_buf *out_pod, nh_client *client, const char *namespace_name, const char *target,
                      nh_cancel *cancel) {
    NH_CHECK_ARG(out_pod);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target);
    return guard([&]() -> int {
        auto pod = nh::stream::resolve_pod(*client->impl, ns_or_default(namespace_name, client),
                                           nh::stream::parse_target(target), token_of(cancel));
        buf_set(out_pod, pod.name);
        return NH_OK;
    });
}

static constexpr std::size_t kExecOptionsSizes[] = {sizeof(nh_exec_options)};
static_assert(std::size(kExecOptionsSizes) == NH_EXEC_OPTIONS_VERSION, "one size per version of nh_exec_options");

int nh_exec_options_init(nh_exec_options *opts, unsigned int version) {
    return init_options(opts, version, nh_exec_options NH_EXEC_OPTIONS_INIT, kExecOptionsSizes, "nh_exec_options");
}

int nh_exec_run(nh_buf *out_stdout, nh_buf *out_stderr, int *out_exit_code, nh_client *client, const char *target,
                const char *const *argv, const char *stdin_data, size_t stdin_len, const nh_exec_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target);
    NH_CHECK_ARG(argv && argv[0]);
    NH_CHECK_ARG(stdin_data || stdin_len == 0);
    nh_exec_options defaults = NH_EXEC_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_EXEC_OPTIONS_VERSION, "nh_exec_options")) return rc;
    if (out_exit_code) *out_exit_code = -1;
    return guard([&]() -> int {
        nh::CancelToken *cancel = token_of(opts->cancel);
        auto req = exec_request(client, target, argv, opts, cancel);
        auto res = nh::stream::exec_run(*client->impl, req, std::string_view(stdin_data ? stdin_data : "", stdin_len),
                                        cancel);
        if (out_stdout) buf_set(out_stdout, res.out);
        if (out_stderr) buf_set(out_stderr, res.err);
        if (out_exit_code) *out_exit_code = res.exit_code;
        return NH_OK;
    });
}

int nh_exec_start(nh_exec **out, nh_client *client, const char *target, const char *const *argv,
                  const nh_exec_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target);
    NH_CHECK_ARG(argv && argv[0]);
    nh_exec_options defaults = NH_EXEC_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_EXEC_OPTIONS_VERSION, "nh_exec_options")) return rc;
    return guard([&]() -> int {
        nh::CancelToken *cancel = token_of(opts->cancel);
        auto req = exec_request(client, target, argv, opts, cancel);
        auto h = std::make_unique<nh_exec>();
        h->client = client->impl;
        h->pod = req.pod;
        nh_exec_output_cb cb = opts->output;
        void *payload = opts->payload;
        h->session = std::make_unique<nh::stream::ExecSession>(
            *h->client, req,
            [cb, payload](int stream, const char *data, size_t n) {
                return cb ? cb(stream, data, n, payload) == 0 : true;
            },
            cancel);
        h->protocol = h->session->protocol();
        *out = h.release();
        return NH_OK;
    });
}

int nh_exec_write(nh_exec *exec, const void *data, size_t len) {
    NH_CHECK_ARG(exec);
    NH_CHECK_ARG(data || len == 0);
    return guard([&]() -> int {
        exec->session->write_stdin(std::string_view(static_cast<const char *>(data), len));
        return NH_OK;
    });
}

int nh_exec_close_stdin(nh_exec *exec) {
    NH_CHECK_ARG(exec);
    return guard([&]() -> int {
        exec->session->close_stdin();
        return NH_OK;
    });
}

int nh_exec_resize(nh_exec *exec, unsigned int width, unsigned int height) {
    NH_CHECK_ARG(exec);
    NH_CHECK_ARG(width > 0 && height > 0 && width <= 65535 && height <= 65535);
    return guard([&]() -> int {
        exec->session->resize(width, height);
        return NH_OK;
    });
}

int nh_exec_wait(int *out_exit_code, nh_exec *exec, long timeout_ms) {
    NH_CHECK_ARG(exec);
    return guard([&]() -> int {
        auto code = exec->session->wait(std::chrono::milliseconds(timeout_ms < 0 ? -1 : timeout_ms));
        if (!code) return set_error(NH_ETIMEOUT, "the command is still running after " + std::to_string(timeout_ms) + " ms");
        if (out_exit_code) *out_exit_code = *code;
        return NH_OK;
    });
}

const char *nh_exec_protocol(const nh_exec *exec) { return exec ? exec->protocol.c_str() : ""; }

const char *nh_exec_pod(const nh_exec *exec) { return exec ? exec->pod.c_str() : ""; }

void nh_exec_free(nh_exec *exec) {
    if (!exec) return;
    try {
        if (exec->session) exec->session->cancel();
        delete exec;
    } catch (...) {
    }
}

static constexpr std::size_t kForwardOptionsSizes[] = {sizeof(nh_forward_options)};
static_assert(std::size(kForwardOptionsSizes) == NH_FORWARD_OPTIONS_VERSION, "one size per version of nh_forward_options");

int nh_forward_options_init(nh_forward_options *opts, unsigned int version) {
    return init_options(opts, version, nh_forward_options NH_FORWARD_OPTIONS_INIT, kForwardOptionsSizes, "nh_forward_options");
}

int nh_forward_start(nh_forward **out, nh_client *client, const char *target, const char *const *ports,
                     const nh_forward_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target);
    NH_CHECK_ARG(ports && ports[0]);
    nh_forward_options defaults = NH_FORWARD_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_FORWARD_OPTIONS_VERSION, "nh_forward_options")) return rc;
    return guard([&]() -> int {
        nh::stream::ForwardOptions fo;
        fo.ns = ns_or_default(opts->namespace_name, client);
        fo.target = nh::stream::parse_target(target);
        if (opts->address && *opts->address) fo.address = opts->address;
        for (const char *const *p = ports; *p; ++p) fo.ports.push_back(nh::stream::parse_forward_port(*p));
        if (opts->timeout_ms > 0) fo.timeout = std::chrono::milliseconds(opts->timeout_ms);
        fo.follow = opts->follow != 0;
        nh_forward_event_cb cb = opts->on_event;
        void *payload = opts->payload;
        auto h = std::make_unique<nh_forward>();
        h->impl = std::make_unique<nh::stream::PortForwarder>(
            client->impl, std::move(fo),
            [cb, payload](nh::stream::ForwardEvent e, const std::string &pod, int local, int remote,
                          const std::string &msg) {
                if (cb) cb(static_cast<int>(e), pod.c_str(), local, remote, msg.c_str(), payload);
            },
            token_of(opts->cancel));
        *out = h.release();
        return NH_OK;
    });
}

int nh_forward_local_port_v2(int *out, const nh_forward *fwd, size_t index) {
    NH_CHECK_ARG(out);
    *out = 0;
    NH_CHECK_ARG(fwd);
    if (index >= fwd->impl->port_count())
        return set_error(NH_EINVAL, "invalid argument: port index " + std::to_string(index) + " out of range");
    *out = fwd->impl->local_port(index);
    return NH_OK;
}

int nh_forward_local_port(const nh_forward *fwd, size_t index) {
    int port = 0;
    int rc = nh_forward_local_port_v2(&port, fwd, index);
    return rc == NH_OK ? port : rc;
}

int nh_forward_pod(nh_buf *out, nh_forward *fwd) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(fwd);
    return guard([&]() -> int {
        buf_set(out, fwd->impl->pod());
        return NH_OK;
    });
}

int nh_forward_wait(nh_forward *fwd, long timeout_ms) {
    NH_CHECK_ARG(fwd);
    return guard([&]() -> int {
        if (!fwd->impl->wait(std::chrono::milliseconds(timeout_ms < 0 ? -1 : timeout_ms)))
            return set_error(NH_ETIMEOUT, "port-forward still running after " + std::to_string(timeout_ms) + " ms");
        return NH_OK;
    });
}

void nh_forward_free(nh_forward *fwd) {
    try {
        delete fwd;
    } catch (...) {
    }
}

}  // extern "C"
