// nh_tree_* and nh_pod_logs*: the workload tree, its watch, and pod logs.
#include "client.hpp"

namespace nhpy {
namespace {

nocalhost::TreeOptions tree_options(const py::dict &d) {
    nocalhost::TreeOptions o;
    o.visit(DictReader{d});
    return o;
}

nocalhost::PodLogsOptions pod_logs_options(const py::dict &d) {
    nocalhost::PodLogsOptions o;
    o.visit(DictReader{d});
    return o;
}

int tree_trampoline(int type, const char *entry, size_t len, void *payload) {
    return static_cast<Callback *>(payload)->invoke([&](py::object &fn) { return fn(type, py::str(entry, len)); });
}

int line_trampoline(const char *line, size_t len, void *payload) {
    // Logs are bytes a program wrote: invalid UTF-8 is replaced, not fatal.
    return static_cast<Callback *>(payload)->invoke([&](py::object &fn) {
        return fn(py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(line, static_cast<Py_ssize_t>(len), "replace")));
    });
}

// Runs a C call that delivers to `cb` until it ends; a callback asking to stop is no error.
template <class F>
void run_with_callback(Client &c, const Cancel *cancel, Callback &cb, F &&call) {
    Error err;
    int rc = run_blocking(cancel, c.handle.inflight(), std::forward<F>(call), err);
    cb.rethrow();
    if (rc < 0 && !(rc == NH_ECANCELLED && cb.stopped())) raise_error(err);
}

}  // namespace

void init_tree(py::module_ &m) {
    m.def(
        "tree_list",
        [](Client &c, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            auto o = tree_options(args);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) { return nh_tree_list(out.out(), client.get(), &o.c(t)); });
            return to_str(out);
        },
        py::arg("client"), py::arg("args"), py::arg("cancel") = nullptr);

    m.def(
        "tree_watch",
        [](Client &c, const py::dict &args, py::function callback, const Cancel *cancel) {
            auto client = c.get();
            auto o = tree_options(args);
            Callback cb(std::move(callback));
            run_with_callback(c, cancel, cb, [&](nh_cancel *t) {
                return nh_tree_watch(client.get(), &o.c(t, tree_trampoline, &cb));
            });
        },
        py::arg("client"), py::arg("args"), py::arg("callback"), py::arg("cancel") = nullptr);

    m.def(
        "pod_logs_resolve",
        [](Client &c, const std::string &target, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            auto o = pod_logs_options(args);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_pod_logs_resolve(out.out(), client.get(), target.c_str(), &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("target"), py::arg("args"), py::arg("cancel") = nullptr);

    m.def(
        "pod_logs",
        [](Client &c, const std::string &target, const py::dict &args, py::function callback, const Cancel *cancel) {
            auto client = c.get();
            auto o = pod_logs_options(args);
            Callback cb(std::move(callback));
            run_with_callback(c, cancel, cb, [&](nh_cancel *t) {
                return nh_pod_logs(nullptr, client.get(), target.c_str(), &o.c(t, line_trampoline, &cb));
            });
        },
        py::arg("client"), py::arg("target"), py::arg("args"), py::arg("callback"), py::arg("cancel") = nullptr);

    m.def(
        "client_check",
        [](Client &c, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) { return nh_client_check(out.out(), client.get(), t); });
            return to_str(out);
        },
        py::arg("client"), py::arg("cancel") = nullptr);
}

}  // namespace nhpy
