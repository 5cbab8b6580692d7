// nh_space_*: dev spaces.
#include "client.hpp"

namespace nhpy {

void init_space(py::module_ &m) {
    using AccessCall = int (*)(nh_buf *, nh_client *, const char *, const nh_space_options *);
    auto access = [&m](const char *name, AccessCall call) {
        m.def(
            name,
            [call](Client &c, const std::string &space, const py::dict &args, const Cancel *cancel) {
                auto client = c.get();
                nocalhost::SpaceOptions o;
                o.visit(DictReader{args});
                nocalhost::Buffer out;
                call_blocking(cancel, c.handle.inflight(),
                              [&](nh_cancel *t) { return call(out.out(), client.get(), space.c_str(), &o.c(t)); });
                return to_str(out);
            },
            py::arg("client"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);
    };
    access("space_create", nh_space_create);
    access("space_share", nh_space_share);
    access("space_renew", nh_space_renew);

    m.def(
        "space_list",
        [](Client &c, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::SpaceOptions o;
            o.visit(DictReader{args});
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) { return nh_space_list(out.out(), client.get(), &o.c(t)); });
            return to_str(out);
        },
        py::arg("client"), py::arg("args"), py::arg("cancel") = nullptr);

    m.def(
        "space_delete",
        [](Client &c, const std::string &space, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::SpaceOptions o;
            o.visit(DictReader{args});
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) { return nh_space_delete(client.get(), space.c_str(), &o.c(t)); });
        },
        py::arg("client"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);
}

}  // namespace nhpy
