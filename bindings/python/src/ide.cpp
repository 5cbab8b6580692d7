// nh_association_* (the folder association store) and nh_dev_required_rights / nh_dev_access_check.
#include "client.hpp"

namespace nhpy {
namespace {

// nh_association_options from keyword values; the strings live in the struct's owner.
struct AssociationOptions {
    std::optional<std::string> store, ns, container, kubeconfig, context;
    nh_association_options c() const {
        nh_association_options o = NH_ASSOCIATION_OPTIONS_INIT;
        o.store_path = c_str_or_null(store);
        o.namespace_name = c_str_or_null(ns);
        o.container = c_str_or_null(container);
        o.kubeconfig = c_str_or_null(kubeconfig);
        o.context = c_str_or_null(context);
        return o;
    }
};

// Runs a store call (local files, quick) without the GIL and raises on failure.
template <class F>
void store_call(F &&f) {
    int rc;
    {
        py::gil_scoped_release nogil;
        rc = f();
    }
    check(rc);
}

}  // namespace

void init_ide(py::module_ &m) {
    m.def(
        "association_set",
        [](const std::string &dir, const std::string &kind, const std::string &name, const AssociationOptions &o) {
            nocalhost::Buffer out;
            nh_association_options c = o.c();
            store_call([&] { return nh_association_set(out.out(), dir.c_str(), kind.c_str(), name.c_str(), &c); });
            return to_str(out);
        },
        py::arg("dir"), py::arg("kind"), py::arg("name"), py::arg("options"));
    m.def(
        "association_get",
        [](const std::string &dir, const AssociationOptions &o) {
            nocalhost::Buffer out;
            nh_association_options c = o.c();
            store_call([&] { return nh_association_get(out.out(), dir.c_str(), &c); });
            return to_str(out);
        },
        py::arg("dir"), py::arg("options"));
    m.def(
        "association_find",
        [](const std::string &kind, const std::string &name, const AssociationOptions &o) {
            nocalhost::Buffer out;
            nh_association_options c = o.c();
            store_call([&] { return nh_association_find(out.out(), kind.c_str(), name.c_str(), &c); });
            return to_str(out);
        },
        py::arg("kind"), py::arg("name"), py::arg("options"));
    m.def(
        "association_list",
        [](const AssociationOptions &o) {
            nocalhost::Buffer out;
            nh_association_options c = o.c();
            store_call([&] { return nh_association_list(out.out(), &c); });
            return to_str(out);
        },
        py::arg("options"));
    m.def(
        "association_remove",
        [](const std::string &dir, const AssociationOptions &o) {
            nh_association_options c = o.c();
            store_call([&] { return nh_association_remove(dir.c_str(), &c); });
        },
        py::arg("dir"), py::arg("options"));

    py::class_<AssociationOptions>(m, "AssociationOptions")
        .def(py::init([](const std::optional<std::string> &store, const std::optional<std::string> &ns,
                         const std::optional<std::string> &container, const std::optional<std::string> &kubeconfig,
                         const std::optional<std::string> &context) {
                 return AssociationOptions{store, ns, container, kubeconfig, context};
             }),
             py::arg("store") = py::none(), py::arg("namespace") = py::none(), py::arg("container") = py::none(),
             py::arg("kubeconfig") = py::none(), py::arg("context") = py::none());

    m.def(
        "dev_config_read",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           const std::optional<std::string> &app, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
                o.namespace_name = c_str_or_null(ns);
                o.app_name = c_str_or_null(app);
                o.cancel = t;
                return nh_dev_config_read(out.out(), client.get(), kind.c_str(), name.c_str(), &o);
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("app"),
        py::arg("cancel") = nullptr);
    m.def(
        "dev_config_write",
        [](Client &c, const std::string &kind, const std::string &name, const std::string &config,
           const std::optional<std::string> &ns, const std::optional<std::string> &app,
           const std::optional<std::string> &resource_version, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
                o.namespace_name = c_str_or_null(ns);
                o.app_name = c_str_or_null(app);
                o.resource_version = c_str_or_null(resource_version);
                o.cancel = t;
                return nh_dev_config_write(out.out(), client.get(), kind.c_str(), name.c_str(), config.c_str(), &o);
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("config"), py::arg("namespace"), py::arg("app"),
        py::arg("resource_version"), py::arg("cancel") = nullptr);
    m.def(
        "dev_profile_set",
        [](const std::string &kind, const std::string &name, const std::optional<std::string> &store,
           const std::optional<std::string> &ns, const std::optional<std::string> &context,
           const std::optional<std::string> &image, const std::optional<std::string> &container,
           const std::optional<std::string> &workdir) {
            nocalhost::Buffer out;
            nh_dev_profile_options o = NH_DEV_PROFILE_OPTIONS_INIT;
            o.store_path = c_str_or_null(store);
            o.namespace_name = c_str_or_null(ns);
            o.context = c_str_or_null(context);
            o.image = c_str_or_null(image);
            o.container = c_str_or_null(container);
            o.workdir = c_str_or_null(workdir);
            store_call([&] { return nh_dev_profile_set(out.out(), kind.c_str(), name.c_str(), &o); });
            return to_str(out);
        },
        py::arg("kind"), py::arg("name"), py::arg("store"), py::arg("namespace"), py::arg("context"), py::arg("image"),
        py::arg("container"), py::arg("workdir"));
    m.def(
        "dev_profile_get",
        [](const std::string &kind, const std::string &name, const std::optional<std::string> &store,
           const std::optional<std::string> &ns, const std::optional<std::string> &context) {
            nocalhost::Buffer out;
            nh_dev_profile_options o = NH_DEV_PROFILE_OPTIONS_INIT;
            o.store_path = c_str_or_null(store);
            o.namespace_name = c_str_or_null(ns);
            o.context = c_str_or_null(context);
            store_call([&] { return nh_dev_profile_get(out.out(), kind.c_str(), name.c_str(), &o); });
            return to_str(out);
        },
        py::arg("kind"), py::arg("name"), py::arg("store"), py::arg("namespace"), py::arg("context"));

    m.def(
        "dev_required_rights",
        [](Client &c, const std::string &kind, const std::string &name, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            auto o = dev_start_options(args);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_required_rights(out.out(), client.get(), kind.c_str(), name.c_str(), &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);
    m.def(
        "dev_access_check",
        [](Client &c, const std::string &kind, const std::string &name, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            auto o = dev_start_options(args);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_access_check(out.out(), client.get(), kind.c_str(), name.c_str(), &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);
}

}  // namespace nhpy
