// nh_app_*: applications.
#include "client.hpp"

namespace nhpy {

void init_app(py::module_ &m) {
    using SourceCall = int (*)(nh_buf *, nh_client *, const char *, const char *, const nh_app_options *);
    auto source = [&m](const char *name, SourceCall call) {
        m.def(
            name,
            [call](Client &c, const std::string &app, const std::string &src, const py::dict &args, const Cancel *cancel) {
                auto client = c.get();
                nocalhost::AppOptions o;
                o.visit(DictReader{args});
                nocalhost::Buffer out;
                call_blocking(cancel, c.handle.inflight(),
                              [&](nh_cancel *t) { return call(out.out(), client.get(), app.c_str(), src.c_str(), &o.c(t)); });
                return to_str(out);
            },
            py::arg("client"), py::arg("name"), py::arg("source"), py::arg("args"), py::arg("cancel") = nullptr);
    };
    source("app_install", nh_app_install);
    source("app_upgrade", nh_app_upgrade);

    m.def(
        "app_list",
        [](Client &c, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::AppOptions o;
            o.visit(DictReader{args});
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) { return nh_app_list(out.out(), client.get(), &o.c(t)); });
            return to_str(out);
        },
        py::arg("client"), py::arg("args"), py::arg("cancel") = nullptr);

    m.def(
        "app_uninstall",
        [](Client &c, const std::string &app, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::AppOptions o;
            o.visit(DictReader{args});
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) { return nh_app_uninstall(client.get(), app.c_str(), &o.c(t)); });
        },
        py::arg("client"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);
}

}  // namespace nhpy
