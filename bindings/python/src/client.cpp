// nh_client_*: the cluster client, raw requests, the server version, watches.
#include "client.hpp"

namespace nhpy {
namespace {

int watch_trampoline(int type, const char *object, size_t len, void *payload) {
    return (*static_cast<Callback *>(payload))(type, py::str(object, len));
}

}  // namespace

Client::Client(const std::optional<std::string> &kubeconfig, const std::optional<std::string> &context,
               const std::optional<std::string> &ns, long timeout_ms, int max_retries,
               const std::optional<std::string> &user_agent, const std::optional<std::string> &kubeconfig_data) {
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.kubeconfig = c_str_or_null(kubeconfig);
    o.context = c_str_or_null(context);
    o.namespace_name = c_str_or_null(ns);
    o.timeout_ms = timeout_ms;
    o.max_retries = max_retries;
    o.user_agent = c_str_or_null(user_agent);
    nocalhost::ClientHandle raw;
    int rc;
    {
        py::gil_scoped_release nogil;  // may read files and log
        rc = kubeconfig_data ? nh_client_new_from_data(raw.out(), kubeconfig_data->data(), kubeconfig_data->size(), &o)
                             : nh_client_new(raw.out(), &o);
    }
    check(rc);
    handle.reset(std::move(raw));
}

void init_client(py::module_ &m) {
    py::class_<Client>(m, "Client")
        .def(py::init<const std::optional<std::string> &, const std::optional<std::string> &,
                      const std::optional<std::string> &, long, int, const std::optional<std::string> &,
                      const std::optional<std::string> &>(),
             py::arg("kubeconfig"), py::arg("context"), py::arg("namespace"), py::arg("timeout_ms"),
             py::arg("max_retries"), py::arg("user_agent"), py::arg("kubeconfig_data") = py::none())
        .def("close", [](Client &c) { c.handle.close(); })
        .def_property_readonly("closed", [](const Client &c) { return c.handle.closed(); })
        .def_property_readonly("namespace", [](const Client &c) { return std::string(nh_client_namespace(c.get().get())); })
        .def_property_readonly("server", [](const Client &c) { return std::string(nh_client_server(c.get().get())); })
        .def_property_readonly("context", [](const Client &c) { return std::string(nh_client_context(c.get().get())); })
        .def(
            "server_version",
            [](Client &c, const Cancel *cancel) {
                auto client = c.get();
                nocalhost::Buffer out;
                call_blocking(cancel, c.handle.inflight(),
                              [&](nh_cancel *t) { return nh_client_server_version(out.out(), client.get(), t); });
                return to_str(out);
            },
            py::arg("cancel") = nullptr)
        .def(
            "request",
            [](Client &c, const std::string &method, const std::string &path, const std::optional<py::bytes> &body,
               const std::optional<std::string> &content_type, long timeout_ms, const Cancel *cancel) {
                auto client = c.get();
                std::optional<std::string> body_copy;
                if (body) body_copy = std::string(*body);
                nh_request_options r = NH_REQUEST_OPTIONS_INIT;
                r.method = method.c_str();
                r.path = path.c_str();
                if (body_copy) {
                    r.body = body_copy->data();
                    r.body_len = body_copy->size();
                }
                r.content_type = c_str_or_null(content_type);
                r.timeout_ms = timeout_ms;
                nocalhost::Buffer out;
                int status = 0;
                Error err;
                int rc = run_blocking(cancel, c.handle.inflight(),
                                      [&](nh_cancel *t) {
                                          r.cancel = t;
                                          return nh_client_request(out.out(), &status, client.get(), &r);
                                      },
                                      err);
                py::bytes answer = to_bytes(out);
                if (rc < 0) raise_error(err);
                return py::make_tuple(status, answer);
            },
            py::arg("method"), py::arg("path"), py::arg("body"), py::arg("content_type"), py::arg("timeout_ms"),
            py::arg("cancel") = nullptr)
        .def(
            "watch",
            [](Client &c, const std::string &path, py::function callback,
               const std::optional<std::string> &resource_version, const std::optional<std::string> &label_selector,
               const std::optional<std::string> &field_selector, long duration_ms, const Cancel *cancel) {
                auto client = c.get();
                Callback cb(std::move(callback));
                nh_watch_options w = NH_WATCH_OPTIONS_INIT;
                w.path = path.c_str();
                w.resource_version = c_str_or_null(resource_version);
                w.label_selector = c_str_or_null(label_selector);
                w.field_selector = c_str_or_null(field_selector);
                w.duration_ms = duration_ms;
                w.callback = watch_trampoline;
                w.payload = &cb;
                Error err;
                int rc = run_blocking(cancel, c.handle.inflight(),
                                      [&](nh_cancel *t) {
                                          w.cancel = t;
                                          return nh_client_watch(client.get(), &w);
                                      },
                                      err);
                cb.rethrow();
                // A callback returning true stops the watch: that is no error.
                if (rc < 0 && !(rc == NH_ECANCELLED && cb.stopped())) raise_error(err);
            },
            py::arg("path"), py::arg("callback"), py::arg("resource_version"), py::arg("label_selector"),
            py::arg("field_selector"), py::arg("duration_ms"), py::arg("cancel") = nullptr);
}

}  // namespace nhpy
