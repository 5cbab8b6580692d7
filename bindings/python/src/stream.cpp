// Streams: target resolution, commands run to completion (nh_exec_run),
// interactive commands (nh_exec_start/write/close_stdin/resize/wait) and
// port-forwards (nh_forward_*) and reverse forwards (nh_reverse_*).
#include "client.hpp"

namespace nhpy {
namespace {

std::shared_ptr<nh_cancel> new_token() {
    nocalhost::CancelHandle t;
    check(nh_cancel_new(t.out()));
    return t.share();
}

// What the C callbacks of an exec or a forward point to; freed after the C handle.
struct StreamContext {
    std::optional<Callback> callback;
    std::shared_ptr<nh_cancel> token;  // the handle's lifetime token (opts->cancel)
};

int exec_output_trampoline(int stream, const char *data, size_t len, void *payload) {
    auto *ctx = static_cast<StreamContext *>(payload);
    return ctx->callback->invoke([&](py::object &fn) { return fn(stream, py::bytes(data, len)); });
}

void forward_event_trampoline(int type, const char *pod, int local_port, int remote_port, const char *message,
                              void *payload) {
    auto *ctx = static_cast<StreamContext *>(payload);
    // An event callback that raises stops forwarding; wait() re-raises it.
    if (ctx->callback->invoke([&](py::object &fn) {
            fn(type, py::str(pod), local_port, remote_port, py::str(message));
            return py::object(py::none());
        }) != 0)
        nh_cancel_trigger(ctx->token.get());
}

// An interactive command. Freeing it stops the command and joins its I/O
// thread, which may be waiting for the GIL: always free without it.
struct Exec {
    Handle<nh_exec, nh_exec_free> handle;
    std::shared_ptr<StreamContext> ctx;
    std::string protocol, pod;
    ~Exec() { handle.close(); }

    int wait(long timeout_ms, const Cancel *cancel) {
        auto h = handle.get("exec");
        int code = 0;
        Error err;
        int rc = run_blocking(cancel, handle.inflight(),
                              [&](nh_cancel *t) {
                                  return wait_sliced([&](long ms) { return nh_exec_wait(&code, h.get(), ms); },
                                                     timeout_ms, t);
                              },
                              err);
        fix_cancelled_wait(rc, err, "waiting for the command");
        if (ctx->callback) ctx->callback->rethrow();
        if (rc < 0) raise_error(err);
        return code;
    }
};

struct Forward {
    Handle<nh_forward, nh_forward_free> handle;
    std::shared_ptr<StreamContext> ctx;
    std::vector<int> local_ports;
    ~Forward() { handle.close(); }
};

struct Reverse {
    Handle<nh_reverse, nh_reverse_free> handle;
    std::shared_ptr<StreamContext> ctx;
    ~Reverse() { handle.close(); }
};

}  // namespace

void init_stream(py::module_ &m) {
    m.def(
        "target_resolve",
        [](Client &c, const std::optional<std::string> &ns, const std::string &target, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_target_resolve(out.out(), client.get(), c_str_or_null(ns), target.c_str(), t);
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("namespace"), py::arg("target"), py::arg("cancel") = nullptr);

    m.def(
        "exec_run",
        [](Client &c, const std::string &target, const std::vector<std::string> &argv,
           const std::optional<py::bytes> &stdin_data, const std::optional<std::string> &ns,
           const std::optional<std::string> &container, bool tty, long timeout_ms, const Cancel *cancel) {
            auto client = c.get();
            if (argv.empty()) raise_error(NH_EINVAL, "exec: argv must name a program");
            nocalhost::Strings args(argv);
            std::optional<std::string> input;
            if (stdin_data) input = std::string(*stdin_data);
            nh_exec_options o = NH_EXEC_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.container = c_str_or_null(container);
            o.tty = tty ? 1 : 0;
            o.timeout_ms = timeout_ms;
            nocalhost::Buffer out, err_out;
            int exit_code = 0;
            Error err;
            int rc = run_blocking(cancel, c.handle.inflight(),
                                  [&](nh_cancel *t) {
                                      o.cancel = t;
                                      return nh_exec_run(out.out(), err_out.out(), &exit_code, client.get(),
                                                         target.c_str(), args.argv(), input ? input->data() : nullptr,
                                                         input ? input->size() : 0, &o);
                                  },
                                  err);
            py::bytes stdout_bytes = to_bytes(out), stderr_bytes = to_bytes(err_out);
            if (rc < 0) raise_error(err);
            return py::make_tuple(exit_code, stdout_bytes, stderr_bytes);
        },
        py::arg("client"), py::arg("target"), py::arg("argv"), py::arg("stdin"), py::arg("namespace"),
        py::arg("container"), py::arg("tty"), py::arg("timeout_ms"), py::arg("cancel") = nullptr);

    py::class_<Exec>(m, "Exec")
        .def("close", [](Exec &e) { e.handle.close(); })
        .def_property_readonly("closed", [](const Exec &e) { return e.handle.closed(); })
        .def_readonly("protocol", &Exec::protocol)
        .def_readonly("pod", &Exec::pod)
        .def("write", [](Exec &e, py::bytes data) {
            auto h = e.handle.get("exec");
            std::string bytes = data;
            int rc;
            {
                py::gil_scoped_release nogil;  // blocks while several MiB wait to be sent
                rc = nh_exec_write(h.get(), bytes.data(), bytes.size());
            }
            if (rc < 0) raise_error(Error::last());
        })
        .def("close_stdin", [](Exec &e) { check(nh_exec_close_stdin(e.handle.get("exec").get())); })
        .def("resize", [](Exec &e, unsigned width, unsigned height) {
            check(nh_exec_resize(e.handle.get("exec").get(), width, height));
        })
        .def("wait", &Exec::wait, py::arg("timeout_ms"), py::arg("cancel") = nullptr);

    m.def(
        "exec_start",
        [](Client &c, const std::string &target, const std::vector<std::string> &argv,
           const std::optional<std::string> &ns, const std::optional<std::string> &container, bool tty, bool stdin_enabled,
           long timeout_ms, py::object on_output, const Cancel *cancel) {
            auto client = c.get();
            if (argv.empty()) raise_error(NH_EINVAL, "exec: argv must name a program");
            nocalhost::Strings args(argv);
            auto ctx = std::make_shared<StreamContext>();
            ctx->token = new_token();
            nh_exec_options o = NH_EXEC_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.container = c_str_or_null(container);
            o.tty = tty ? 1 : 0;
            o.stdin_enabled = stdin_enabled ? 1 : 0;
            o.timeout_ms = timeout_ms;
            o.cancel = ctx->token.get();
            if (!on_output.is_none()) {
                ctx->callback.emplace(on_output);
                o.output = exec_output_trampoline;
                o.payload = ctx.get();
            }
            nh_exec *raw = nullptr;
            // The exec's own token serves the connection (Cancel, client close, Ctrl-C)
            // and then the whole command, until close().
            call_blocking_with(cancel, c.handle.inflight(), ctx->token.get(), [&](nh_cancel *) {
                return nh_exec_start(&raw, client.get(), target.c_str(), args.argv(), &o);
            });
            auto e = std::make_unique<Exec>();
            e->protocol = nh_exec_protocol(raw);
            e->pod = nh_exec_pod(raw);
            e->ctx = ctx;
            e->handle.reset(raw, ctx);
            return e;
        },
        py::arg("client"), py::arg("target"), py::arg("argv"), py::arg("namespace"), py::arg("container"),
        py::arg("tty"), py::arg("stdin"), py::arg("timeout_ms"), py::arg("on_output"), py::arg("cancel") = nullptr);

    py::class_<Forward>(m, "Forward")
        .def("close", [](Forward &f) { f.handle.close(); })
        .def_property_readonly("closed", [](const Forward &f) { return f.handle.closed(); })
        .def_readonly("local_ports", &Forward::local_ports)
        .def("pod", [](Forward &f) {
            auto h = f.handle.get("port-forward");
            nocalhost::Buffer out;
            check(nh_forward_pod(out.out(), h.get()));
            return to_str(out);
        })
        .def(
            "wait",
            [](Forward &f, long timeout_ms, const Cancel *cancel) {
                auto h = f.handle.get("port-forward");
                Error err;
                int rc = run_blocking(cancel, f.handle.inflight(),
                                      [&](nh_cancel *t) {
                                          return wait_sliced([&](long ms) { return nh_forward_wait(h.get(), ms); },
                                                             timeout_ms, t);
                                      },
                                      err);
                fix_cancelled_wait(rc, err, "waiting for the port-forward");
                if (f.ctx->callback) f.ctx->callback->rethrow();
                if (rc < 0) raise_error(err);
            },
            py::arg("timeout_ms"), py::arg("cancel") = nullptr);

    m.def(
        "forward_start",
        [](Client &c, const std::string &target, const std::vector<std::string> &ports,
           const std::optional<std::string> &ns, const std::optional<std::string> &address, long timeout_ms,
           bool follow, py::object on_event, const Cancel *cancel) {
            auto client = c.get();
            if (ports.empty()) raise_error(NH_EINVAL, "port-forward: no ports given");
            nocalhost::Strings port_ptrs(ports);
            auto ctx = std::make_shared<StreamContext>();
            ctx->token = new_token();
            nh_forward_options o = NH_FORWARD_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.address = c_str_or_null(address);
            o.timeout_ms = timeout_ms;
            o.follow = follow ? 1 : 0;
            o.cancel = ctx->token.get();
            if (!on_event.is_none()) {
                ctx->callback.emplace(on_event);
                o.on_event = forward_event_trampoline;
                o.payload = ctx.get();
            }
            nh_forward *raw = nullptr;
            call_blocking_with(cancel, c.handle.inflight(), ctx->token.get(), [&](nh_cancel *) {
                return nh_forward_start(&raw, client.get(), target.c_str(), port_ptrs.argv(), &o);
            });
            auto f = std::make_unique<Forward>();
            f->ctx = ctx;
            f->handle.reset(raw, ctx);
            f->local_ports.resize(ports.size());
            for (size_t i = 0; i < ports.size(); ++i) nocalhost::check(nh_forward_local_port_v2(&f->local_ports[i], raw, i));
            return f;
        },
        py::arg("client"), py::arg("target"), py::arg("ports"), py::arg("namespace"), py::arg("address"),
        py::arg("timeout_ms"), py::arg("follow"), py::arg("on_event"), py::arg("cancel") = nullptr);

    py::class_<Reverse>(m, "Reverse")
        .def("close", [](Reverse &r) { r.handle.close(); })
        .def_property_readonly("closed", [](const Reverse &r) { return r.handle.closed(); })
        .def("pod", [](Reverse &r) {
            auto h = r.handle.get("reverse forward");
            nocalhost::Buffer out;
            check(nh_reverse_pod(out.out(), h.get()));
            return to_str(out);
        })
        .def(
            "wait",
            [](Reverse &r, long timeout_ms, const Cancel *cancel) {
                auto h = r.handle.get("reverse forward");
                Error err;
                int rc = run_blocking(cancel, r.handle.inflight(),
                                      [&](nh_cancel *t) {
                                          return wait_sliced([&](long ms) { return nh_reverse_wait(h.get(), ms); },
                                                             timeout_ms, t);
                                      },
                                      err);
                fix_cancelled_wait(rc, err, "waiting for the reverse forward");
                if (r.ctx->callback) r.ctx->callback->rethrow();
                if (rc < 0) raise_error(err);
            },
            py::arg("timeout_ms"), py::arg("cancel") = nullptr);

    m.def(
        "reverse_start",
        [](Client &c, const std::string &kind, const std::string &name, const std::vector<std::string> &ports,
           const std::optional<std::string> &ns, int mode, const std::optional<std::string> &developer,
           const std::optional<std::string> &address, long timeout_ms, const std::optional<std::string> &syncd_dir,
           py::object on_event, const Cancel *cancel) {
            auto client = c.get();
            if (ports.empty()) raise_error(NH_EINVAL, "reverse forward: no ports given");
            nocalhost::Strings port_ptrs(ports);
            auto ctx = std::make_shared<StreamContext>();
            ctx->token = new_token();
            nh_reverse_options o = NH_REVERSE_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.mode = mode;
            o.developer = c_str_or_null(developer);
            o.remote_address = c_str_or_null(address);
            o.timeout_ms = timeout_ms;
            o.syncd_dir = c_str_or_null(syncd_dir);
            o.cancel = ctx->token.get();
            if (!on_event.is_none()) {
                ctx->callback.emplace(on_event);
                o.on_event = forward_event_trampoline;  // (same signature: type, pod, port, port, message)
                o.payload = ctx.get();
            }
            nh_reverse *raw = nullptr;
            call_blocking_with(cancel, c.handle.inflight(), ctx->token.get(), [&](nh_cancel *) {
                return nh_reverse_start(&raw, client.get(), kind.c_str(), name.c_str(), port_ptrs.argv(), &o);
            });
            auto r = std::make_unique<Reverse>();
            r->ctx = ctx;
            r->handle.reset(raw, ctx);
            return r;
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("ports"), py::arg("namespace"), py::arg("mode"),
        py::arg("developer"), py::arg("address"), py::arg("timeout_ms"), py::arg("syncd_dir"), py::arg("on_event"),
        py::arg("cancel") = nullptr);
}

}  // namespace nhpy
