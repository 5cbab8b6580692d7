// Streams: target resolution and commands run to completion (nh_exec_run).
#include <vector>

#include "client.hpp"

namespace nhpy {

void init_stream(py::module_ &m) {
    m.def(
        "target_resolve",
        [](Client &c, const std::optional<std::string> &ns, const std::string &target, const Cancel *cancel) {
            auto client = c.get();
            nh_buf out = NH_BUF_INIT;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                return nh_target_resolve(&out, client.get(), c_str_or_null(ns), target.c_str(), t);
            });
            return take_str(out);
        },
        py::arg("client"), py::arg("namespace"), py::arg("target"), py::arg("cancel") = nullptr);

    m.def(
        "exec_run",
        [](Client &c, const std::string &target, const std::vector<std::string> &argv,
           const std::optional<py::bytes> &stdin_data, const std::optional<std::string> &ns,
           const std::optional<std::string> &container, bool tty, long timeout_ms, const Cancel *cancel) {
            auto client = c.get();
            if (argv.empty()) raise_error(NH_EINVAL, "exec: argv must name a program");
            std::vector<const char *> args;
            for (auto &a : argv) args.push_back(a.c_str());
            args.push_back(nullptr);
            std::optional<std::string> input;
            if (stdin_data) input = std::string(*stdin_data);
            nh_exec_options o = NH_EXEC_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.container = c_str_or_null(container);
            o.tty = tty ? 1 : 0;
            o.timeout_ms = timeout_ms;
            nh_buf out = NH_BUF_INIT, err_out = NH_BUF_INIT;
            int exit_code = 0;
            ErrorInfo err;
            int rc = run_blocking(cancel, c.handle.inflight().get(),
                                  [&](nh_cancel *t) {
                                      o.cancel = t;
                                      return nh_exec_run(&out, &err_out, &exit_code, client.get(), target.c_str(),
                                                         args.data(), input ? input->data() : nullptr,
                                                         input ? input->size() : 0, &o);
                                  },
                                  err);
            py::bytes stdout_bytes = take_bytes(out), stderr_bytes = take_bytes(err_out);
            if (rc < 0) raise_error(err);
            return py::make_tuple(exit_code, stdout_bytes, stderr_bytes);
        },
        py::arg("client"), py::arg("target"), py::arg("argv"), py::arg("stdin"), py::arg("namespace"),
        py::arg("container"), py::arg("tty"), py::arg("timeout_ms"), py::arg("cancel") = nullptr);
}

}  // namespace nhpy
