// nh_dev_* and nh_session_*: dev mode start/end/status/list/attach and sessions.
#include <vector>

#include "client.hpp"
#include "sync.hpp"

namespace nhpy {
namespace {

using SessionHandle = Handle<nh_session, nh_session_free>;

// One nh_session must not be used by two threads at once: every use holds `mu`.
struct Session {
    SessionHandle handle;
    std::mutex mu;
    // The session's running sync (nh_session_sync), shared with the Sync objects handed out.
    std::shared_ptr<SessionSyncState> sync = std::make_shared<SessionSyncState>();

    ~Session() { close(); }

    // Stops the session's sync first: freeing the session would, joining a
    // thread that may wait for the GIL.
    void close() {
        stop_sync();
        handle.close();
    }

    void stop_sync() {
        std::shared_ptr<nh_session> h;
        try {
            h = handle.get("session");
        } catch (py::error_already_set &) {
            PyErr_Clear();
            return;
        }
        sync->inflight->trigger();  // flushes in progress return
        std::shared_ptr<Callback> cb;
        {
            py::gil_scoped_release nogil;
            std::unique_lock sync_lock(sync->mu);
            std::lock_guard lock(mu);
            if (sync->sync) nh_session_sync_stop(h.get());
            sync->sync = nullptr;
            cb.swap(sync->callback);
            sync->inflight->reset();
        }
    }

    // After a start with a local directory, or sync_start(): record the running sync.
    void adopt_sync(nh_session *raw, std::shared_ptr<Callback> cb) {
        py::gil_scoped_release nogil;
        std::unique_lock sync_lock(sync->mu);
        sync->sync = nh_session_sync(raw);
        sync->callback = std::move(cb);
    }

    std::shared_ptr<nh_session> get() const { return handle.get("session"); }
    std::string text(const char *(*getter)(const nh_session *)) {
        auto s = get();
        std::lock_guard lock(mu);
        return getter(s.get());
    }
};

int dev_event_trampoline(int type, const char *phase, const char *message, const char *detail, void *payload) {
    // Python objects are made inside invoke(), with the GIL.
    return static_cast<Callback *>(payload)->invoke([&](py::object &fn) {
        return fn(type, py::str(phase), py::str(message), detail ? py::object(py::str(detail)) : py::object(py::none()));
    });
}

// The options of a start (and of nh_dev_config_resolve) from the dict nocalhost/dev.py
// builds, holding every string the nh_dev_start_options points to for the whole call.
struct DevStartArgs {
    std::optional<std::string> ns, container, image, workdir, resources_json, sidecar_image, owner;
    std::optional<std::string> developer, api_version, pod_template_path, replicas_path, config_path, app_name,
        image_pull_policy, patches_json, persistent_dirs_json;
    std::vector<std::string> env;
    std::vector<const char *> env_ptrs;
    int sync_port = 0, lease_duration_s = 0, mode = NH_DEV_MODE_REPLACE;
    long timeout_ms = 0;
    bool rollback_on_failure = true, ignore_cluster_config = false, patch_errors_fatal = false;

    // Needs the GIL (reads Python objects).
    explicit DevStartArgs(const py::dict &d) {
        auto text = [&](const char *k) -> std::optional<std::string> {
            if (!d.contains(k) || d[k].is_none()) return std::nullopt;
            return d[k].cast<std::string>();
        };
        auto number = [&](const char *k) { return d.contains(k) && !d[k].is_none() ? d[k].cast<long>() : 0L; };
        auto flag = [&](const char *k, bool dflt) { return d.contains(k) && !d[k].is_none() ? d[k].cast<bool>() : dflt; };
        ns = text("namespace");
        container = text("container");
        image = text("image");
        workdir = text("workdir");
        resources_json = text("resources_json");
        sidecar_image = text("sidecar_image");
        owner = text("owner");
        developer = text("developer");
        api_version = text("api_version");
        pod_template_path = text("pod_template_path");
        replicas_path = text("replicas_path");
        config_path = text("config_path");
        app_name = text("app_name");
        image_pull_policy = text("image_pull_policy");
        patches_json = text("patches_json");
        persistent_dirs_json = text("persistent_dirs_json");
        if (d.contains("env") && !d["env"].is_none()) env = d["env"].cast<std::vector<std::string>>();
        for (auto &e : env) env_ptrs.push_back(e.c_str());
        env_ptrs.push_back(nullptr);
        sync_port = static_cast<int>(number("sync_port"));
        lease_duration_s = static_cast<int>(number("lease_duration_s"));
        mode = static_cast<int>(number("mode"));
        timeout_ms = number("timeout_ms");
        rollback_on_failure = flag("rollback_on_failure", true);
        ignore_cluster_config = flag("ignore_cluster_config", false);
        patch_errors_fatal = flag("patch_errors_fatal", false);
    }
    DevStartArgs(const DevStartArgs &) = delete;
    DevStartArgs &operator=(const DevStartArgs &) = delete;

    // Points `o` (made with NH_DEV_START_OPTIONS_INIT) at these values.
    void fill(nh_dev_start_options &o) const {
        o.namespace_name = c_str_or_null(ns);
        o.container = c_str_or_null(container);
        o.image = c_str_or_null(image);
        o.workdir = c_str_or_null(workdir);
        o.env = env.empty() ? nullptr : env_ptrs.data();
        o.env_count = env.size();
        o.resources_json = c_str_or_null(resources_json);
        o.sidecar_image = c_str_or_null(sidecar_image);
        o.sync_port = sync_port;
        o.timeout_ms = timeout_ms;
        o.rollback_on_failure = rollback_on_failure ? 1 : 0;
        o.owner = c_str_or_null(owner);
        o.lease_duration_s = lease_duration_s;
        o.mode = mode;
        o.developer = c_str_or_null(developer);
        o.api_version = c_str_or_null(api_version);
        o.pod_template_path = c_str_or_null(pod_template_path);
        o.replicas_path = c_str_or_null(replicas_path);
        o.config_path = c_str_or_null(config_path);
        o.app_name = c_str_or_null(app_name);
        o.ignore_cluster_config = ignore_cluster_config ? 1 : 0;
        o.image_pull_policy = c_str_or_null(image_pull_policy);
        o.patches_json = c_str_or_null(patches_json);
        o.persistent_dirs_json = c_str_or_null(persistent_dirs_json);
        o.patch_errors_fatal = patch_errors_fatal ? 1 : 0;
    }
};

// nh_dev_query_options for one session (mode and developer); the strings must outlive the call.
nh_dev_query_options query_options(const std::optional<std::string> &ns, int mode,
                                   const std::optional<std::string> &developer) {
    nh_dev_query_options o = NH_DEV_QUERY_OPTIONS_INIT;
    o.namespace_name = c_str_or_null(ns);
    o.mode = mode;
    o.developer = c_str_or_null(developer);
    return o;
}

std::unique_ptr<Session> make_session(nh_session *raw) {
    auto s = std::make_unique<Session>();
    s->handle.set(raw);
    return s;
}

}  // namespace

void init_dev(py::module_ &m) {
    m.attr("DEV_DEFAULT_WORKDIR") = NH_DEV_DEFAULT_WORKDIR;
    m.attr("DEV_DEFAULT_SYNC_PORT") = NH_DEV_DEFAULT_SYNC_PORT;
    m.def("dev_default_sidecar_image", [] { return std::string(nh_dev_default_sidecar_image()); });

    py::class_<Session>(m, "Session")
        .def("close", &Session::close)
        .def("sync", [](Session &s) -> py::object {
            s.get();
            {
                py::gil_scoped_release nogil;
                std::shared_lock lock(s.sync->mu);
                if (!s.sync->sync) return py::none();  // (no Python object made without the GIL)
            }
            return make_session_sync(s.sync);
        })
        .def("stop_sync", &Session::stop_sync)
        .def(
            "start_sync",
            [](Session &s, Client &c, const std::string &local_dir, py::object spec, long timeout_ms,
               py::object on_event, const Cancel *cancel) {
                auto h = s.get();
                auto client = c.get();
                SyncOptions so(spec);
                std::optional<Callback> events;
                if (!on_event.is_none()) events.emplace(on_event);
                ErrorInfo err;
                int rc = run_blocking(cancel, s.handle.inflight().get(),
                                      [&](nh_cancel *t) {
                                          std::lock_guard lock(s.mu);
                                          return nh_session_sync_start(h.get(), client.get(), local_dir.c_str(),
                                                                       &so.opts, timeout_ms, t,
                                                                       events ? dev_event_trampoline : nullptr,
                                                                       events ? &*events : nullptr);
                                      },
                                      err);
                if (events) events->rethrow();
                if (rc < 0) raise_error(err);
                s.adopt_sync(h.get(), so.callback);
            },
            py::arg("client"), py::arg("local_dir"), py::arg("options"), py::arg("timeout_ms"), py::arg("on_event"),
            py::arg("cancel") = nullptr)
        .def_property_readonly("closed", [](const Session &s) { return s.handle.closed(); })
        .def_property_readonly("kind", [](Session &s) { return s.text(nh_session_kind); })
        .def_property_readonly("name", [](Session &s) { return s.text(nh_session_name); })
        .def_property_readonly("namespace", [](Session &s) { return s.text(nh_session_namespace); })
        .def_property_readonly("pod_name", [](Session &s) { return s.text(nh_session_pod_name); })
        .def_property_readonly("container", [](Session &s) { return s.text(nh_session_container); })
        .def_property_readonly("sidecar_container", [](Session &s) { return s.text(nh_session_sidecar_container); })
        .def_property_readonly("workdir", [](Session &s) { return s.text(nh_session_workdir); })
        .def_property_readonly("owner", [](Session &s) { return s.text(nh_session_owner); })
        .def_property_readonly("since", [](Session &s) { return s.text(nh_session_since); })
        .def_property_readonly("token", [](Session &s) { return s.text(nh_session_token); })
        .def_property_readonly("workload", [](Session &s) { return s.text(nh_session_workload); })
        .def_property_readonly("developer", [](Session &s) { return s.text(nh_session_developer); })
        .def_property_readonly("mode", [](Session &s) {
            auto h = s.get();
            std::lock_guard lock(s.mu);
            return nh_session_mode(h.get());
        })
        .def_property_readonly("sync_port", [](Session &s) {
            auto h = s.get();
            std::lock_guard lock(s.mu);
            return nh_session_sync_port(h.get());
        })
        .def("status", [](Session &s) {
            auto h = s.get();
            nh_buf out = NH_BUF_INIT;
            int rc;
            {
                std::lock_guard lock(s.mu);
                rc = nh_session_status(&out, h.get());
            }
            if (rc < 0) {
                nh_buf_dispose(&out);
                raise_error(ErrorInfo::last());
            }
            return take_str(out);
        })
        .def(
            "refresh",
            [](Session &s, const Cancel *cancel) {
                auto h = s.get();
                call_blocking(cancel, s.handle.inflight().get(), [&](nh_cancel *t) {
                    std::lock_guard lock(s.mu);
                    return nh_session_refresh(h.get(), t);
                });
            },
            py::arg("cancel") = nullptr);

    m.def(
        "dev_start",
        [](Client &c, const std::string &kind, const std::string &name, const py::dict &args, py::object on_event,
           const std::optional<std::string> &local_dir, py::object sync_spec, const Cancel *cancel) {
            auto client = c.get();
            DevStartArgs a(args);
            std::optional<SyncOptions> sync_opts;
            if (local_dir) sync_opts.emplace(sync_spec);
            std::optional<Callback> cb;
            nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
            a.fill(o);
            o.local_dir = c_str_or_null(local_dir);
            o.sync_options = sync_opts ? &sync_opts->opts : nullptr;
            if (!on_event.is_none()) {
                cb.emplace(on_event);
                o.events = dev_event_trampoline;
                o.payload = &*cb;
            }
            nh_session *raw = nullptr;
            ErrorInfo err;
            int rc = run_blocking(cancel, c.handle.inflight().get(),
                                  [&](nh_cancel *t) {
                                      o.cancel = t;
                                      return nh_dev_start(&raw, client.get(), kind.c_str(), name.c_str(), &o);
                                  },
                                  err);
            if (cb) cb->rethrow();
            if (rc < 0) raise_error(err);
            auto session = make_session(raw);
            if (local_dir) session->adopt_sync(raw, sync_opts->callback);
            return session;
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("args"), py::arg("on_event"),
        py::arg("local_dir") = py::none(), py::arg("sync_options") = py::none(), py::arg("cancel") = nullptr);

    m.def(
        "dev_config_resolve",
        [](Client &c, const std::string &kind, const std::string &name, const py::dict &args, const Cancel *cancel) {
            auto client = c.get();
            DevStartArgs a(args);
            nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
            a.fill(o);
            nh_buf out = NH_BUF_INIT;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                o.cancel = t;
                return nh_dev_config_resolve(&out, client.get(), kind.c_str(), name.c_str(), &o);
            });
            return take_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);

    m.def(
        "dev_end",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           const std::optional<std::string> &owner, long timeout_ms, int lease_duration_s, py::object on_event,
           int mode, const std::optional<std::string> &developer, bool force, const Cancel *cancel) {
            auto client = c.get();
            std::optional<Callback> cb;
            nh_dev_end_options o = NH_DEV_END_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.owner = c_str_or_null(owner);
            o.timeout_ms = timeout_ms;
            o.lease_duration_s = lease_duration_s;
            o.mode = mode;
            o.developer = c_str_or_null(developer);
            o.force = force ? 1 : 0;
            if (!on_event.is_none()) {
                cb.emplace(on_event);
                o.events = dev_event_trampoline;
                o.payload = &*cb;
            }
            int result = 0;
            ErrorInfo err;
            int rc = run_blocking(cancel, c.handle.inflight().get(),
                                  [&](nh_cancel *t) {
                                      o.cancel = t;
                                      return nh_dev_end(&result, client.get(), kind.c_str(), name.c_str(), &o);
                                  },
                                  err);
            if (cb) cb->rethrow();
            if (rc < 0) raise_error(err);
            return result;
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("owner"),
        py::arg("timeout_ms"), py::arg("lease_duration_s"), py::arg("on_event"), py::arg("mode") = 0,
        py::arg("developer") = py::none(), py::arg("force") = false, py::arg("cancel") = nullptr);

    m.def(
        "dev_status",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           int mode, const std::optional<std::string> &developer, const Cancel *cancel) {
            auto client = c.get();
            nh_dev_query_options o = query_options(ns, mode, developer);
            nh_buf out = NH_BUF_INIT;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                o.cancel = t;
                return nh_dev_status(&out, client.get(), kind.c_str(), name.c_str(), &o);
            });
            return take_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("mode") = 0,
        py::arg("developer") = py::none(), py::arg("cancel") = nullptr);

    m.def(
        "dev_list",
        [](Client &c, const std::optional<std::string> &ns, bool all_namespaces, const Cancel *cancel) {
            auto client = c.get();
            nh_dev_query_options o = NH_DEV_QUERY_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(ns);
            o.all_namespaces = all_namespaces ? 1 : 0;
            nh_buf out = NH_BUF_INIT;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                o.cancel = t;
                return nh_dev_list(&out, client.get(), &o);
            });
            return take_str(out);
        },
        py::arg("client"), py::arg("namespace"), py::arg("all_namespaces"), py::arg("cancel") = nullptr);

    m.def(
        "dev_attach",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           int mode, const std::optional<std::string> &developer, const Cancel *cancel) {
            auto client = c.get();
            nh_dev_query_options o = query_options(ns, mode, developer);
            nh_session *raw = nullptr;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                o.cancel = t;
                return nh_dev_attach(&raw, client.get(), kind.c_str(), name.c_str(), &o);
            });
            return make_session(raw);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("mode") = 0,
        py::arg("developer") = py::none(), py::arg("cancel") = nullptr);

    m.def(
        "dev_pvc_list",
        [](Client &c, const std::optional<std::string> &kind, const std::optional<std::string> &name,
           const std::optional<std::string> &ns, const Cancel *cancel) {
            auto client = c.get();
            nh_dev_query_options o = query_options(ns, NH_DEV_MODE_REPLACE, std::nullopt);
            nh_buf out = NH_BUF_INIT;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                o.cancel = t;
                return nh_dev_pvc_list(&out, client.get(), c_str_or_null(kind), c_str_or_null(name), &o);
            });
            return take_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("cancel") = nullptr);

    m.def(
        "dev_pvc_delete",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &claim,
           const std::optional<std::string> &ns, const Cancel *cancel) {
            auto client = c.get();
            nh_dev_query_options o = query_options(ns, NH_DEV_MODE_REPLACE, std::nullopt);
            nh_buf out = NH_BUF_INIT;
            call_blocking(cancel, c.handle.inflight().get(), [&](nh_cancel *t) {
                o.cancel = t;
                return nh_dev_pvc_delete(&out, client.get(), kind.c_str(), name.c_str(), c_str_or_null(claim), &o);
            });
            return take_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("claim"), py::arg("namespace"),
        py::arg("cancel") = nullptr);
}

}  // namespace nhpy
