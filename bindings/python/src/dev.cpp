// nh_dev_* and nh_session_*: dev mode start/end/status/list/attach and sessions.
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
        } catch (const Error &) {
            return;  // closed
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


// nh_dev_query_options for one session (mode and developer).
nocalhost::DevQueryOptions query_options(const std::optional<std::string> &ns, int mode,
                                         const std::optional<std::string> &developer) {
    nocalhost::DevQueryOptions o;
    o.namespace_name = ns;
    o.mode = mode;
    o.developer = developer;
    return o;
}

std::unique_ptr<Session> make_session(nh_session *raw) {
    auto s = std::make_unique<Session>();
    s->handle.reset(raw);
    return s;
}

}  // namespace

// The options of a start (and of nh_dev_config_resolve, the rights) from the dict nocalhost/dev.py builds.
nocalhost::DevStartOptions dev_start_options(const py::dict &d) {
    nocalhost::DevStartOptions o;
    o.visit(DictReader{d});
    return o;
}

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
                Error err;
                int rc = run_blocking(cancel, s.handle.inflight(),
                                      [&](nh_cancel *t) {
                                          std::lock_guard lock(s.mu);
                                          return nh_session_sync_start(h.get(), client.get(), local_dir.c_str(),
                                                                       &so.options.c(), timeout_ms, t,
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
        .def_property_readonly("target", [](Session &s) { return s.text(nh_session_target); })
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
            nocalhost::Buffer out;
            {
                std::lock_guard lock(s.mu);
                check(nh_session_status(out.out(), h.get()));
            }
            return to_str(out);
        })
        .def(
            "refresh",
            [](Session &s, const Cancel *cancel) {
                auto h = s.get();
                call_blocking(cancel, s.handle.inflight(), [&](nh_cancel *t) {
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
            auto o = dev_start_options(args);
            std::optional<SyncOptions> sync_opts;
            if (local_dir) {
                sync_opts.emplace(sync_spec);
                o.local_dir = local_dir;
                o.sync = sync_opts->options;
            }
            std::optional<Callback> cb;
            if (!on_event.is_none()) {
                cb.emplace(on_event);
                o.events = dev_event_trampoline;
                o.payload = &*cb;
            }
            nh_session *raw = nullptr;
            Error err;
            int rc = run_blocking(cancel, c.handle.inflight(),
                                  [&](nh_cancel *t) { return nh_dev_start(&raw, client.get(), kind.c_str(), name.c_str(), &o.c(t)); },
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
            auto o = dev_start_options(args);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_config_resolve(out.out(), client.get(), kind.c_str(), name.c_str(), &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("args"), py::arg("cancel") = nullptr);

    m.def(
        "dev_end",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           const std::optional<std::string> &owner, long timeout_ms, int lease_duration_s, py::object on_event,
           int mode, const std::optional<std::string> &developer, bool force, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::DevEndOptions o;
            o.namespace_name = ns;
            o.owner = owner;
            o.timeout_ms = timeout_ms;
            o.lease_duration_s = lease_duration_s;
            o.mode = mode;
            o.developer = developer;
            o.force = force;
            std::optional<Callback> cb;
            if (!on_event.is_none()) {
                cb.emplace(on_event);
                o.events = dev_event_trampoline;
                o.payload = &*cb;
            }
            int result = 0;
            Error err;
            int rc = run_blocking(cancel, c.handle.inflight(),
                                  [&](nh_cancel *t) { return nh_dev_end(&result, client.get(), kind.c_str(), name.c_str(), &o.c(t)); },
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
            auto o = query_options(ns, mode, developer);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_status(out.out(), client.get(), kind.c_str(), name.c_str(), &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("mode") = 0,
        py::arg("developer") = py::none(), py::arg("cancel") = nullptr);

    m.def(
        "dev_list",
        [](Client &c, const std::optional<std::string> &ns, bool all_namespaces, const Cancel *cancel) {
            auto client = c.get();
            auto o = query_options(ns, NH_DEV_MODE_REPLACE, std::nullopt);
            o.all_namespaces = all_namespaces;
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(),
                          [&](nh_cancel *t) { return nh_dev_list(out.out(), client.get(), &o.c(t)); });
            return to_str(out);
        },
        py::arg("client"), py::arg("namespace"), py::arg("all_namespaces"), py::arg("cancel") = nullptr);

    m.def(
        "dev_attach",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           int mode, const std::optional<std::string> &developer, const Cancel *cancel) {
            auto client = c.get();
            auto o = query_options(ns, mode, developer);
            nh_session *raw = nullptr;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_attach(&raw, client.get(), kind.c_str(), name.c_str(), &o.c(t));
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
            auto o = query_options(ns, NH_DEV_MODE_REPLACE, std::nullopt);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_pvc_list(out.out(), client.get(), c_str_or_null(kind), c_str_or_null(name), &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("cancel") = nullptr);

    m.def(
        "dev_env",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &ns,
           const std::optional<std::string> &container, bool dotenv, bool secrets, const Cancel *cancel) {
            auto client = c.get();
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                nh_dev_env_options o = NH_DEV_ENV_OPTIONS_INIT;
                o.namespace_name = c_str_or_null(ns);
                o.container = c_str_or_null(container);
                o.format = dotenv ? NH_DEV_ENV_DOTENV : NH_DEV_ENV_JSON;
                o.include_secrets = secrets ? 1 : 0;
                o.cancel = t;
                return nh_dev_env(out.out(), client.get(), kind.c_str(), name.c_str(), &o);
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("namespace"), py::arg("container"),
        py::arg("dotenv"), py::arg("secrets"), py::arg("cancel") = nullptr);

    m.def(
        "dev_pvc_delete",
        [](Client &c, const std::string &kind, const std::string &name, const std::optional<std::string> &claim,
           const std::optional<std::string> &ns, const Cancel *cancel) {
            auto client = c.get();
            auto o = query_options(ns, NH_DEV_MODE_REPLACE, std::nullopt);
            nocalhost::Buffer out;
            call_blocking(cancel, c.handle.inflight(), [&](nh_cancel *t) {
                return nh_dev_pvc_delete(out.out(), client.get(), kind.c_str(), name.c_str(), c_str_or_null(claim),
                                         &o.c(t));
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("kind"), py::arg("name"), py::arg("claim"), py::arg("namespace"),
        py::arg("cancel") = nullptr);

    // The per-user agent (docs/agent.md). `agent` is a dict of the agent's options: dir,
    // agent_path, timeout_ms, kubeconfig_data, namespace.
    struct AgentOpts {
        std::optional<std::string> dir, agent_path, kubeconfig_data, ns;
        long timeout_ms = 0;
        explicit AgentOpts(const py::dict &d) {
            auto str = [&](const char *k) -> std::optional<std::string> {
                if (!d.contains(k) || d[k].is_none()) return std::nullopt;
                return d[k].cast<std::string>();
            };
            dir = str("dir");
            agent_path = str("agent_path");
            kubeconfig_data = str("kubeconfig_data");
            ns = str("namespace");
            if (d.contains("timeout_ms") && !d["timeout_ms"].is_none()) timeout_ms = d["timeout_ms"].cast<long>();
        }
        nh_agent_options c() const {
            nh_agent_options o = NH_AGENT_OPTIONS_INIT;
            o.dir = dir ? dir->c_str() : nullptr;
            o.agent_path = agent_path ? agent_path->c_str() : nullptr;
            o.kubeconfig_data = kubeconfig_data ? kubeconfig_data->c_str() : nullptr;
            o.namespace_name = ns ? ns->c_str() : nullptr;
            o.timeout_ms = timeout_ms;
            return o;
        }
    };
    m.def(
        "agent_detach",
        [](Session &s, Client &c, const py::dict &agent) {
            s.stop_sync();  // its index saved; the library hands over the settings it ran with
            auto h = s.get();
            auto client = c.get();
            AgentOpts o(agent);
            nocalhost::Buffer out;
            call_blocking(nullptr, s.handle.inflight(), [&](nh_cancel *) {
                std::lock_guard lock(s.mu);
                nh_agent_options ao = o.c();
                return nh_agent_detach(out.out(), h.get(), client.get(), &ao);
            });
            return to_str(out);
        },
        py::arg("session"), py::arg("client"), py::arg("agent"));
    m.def(
        "agent_forward_start",
        [](Client &c, const std::string &target, const std::vector<std::string> &ports, const py::dict &agent) {
            auto client = c.get();
            AgentOpts o(agent);
            std::vector<const char *> argv;
            for (auto &p : ports) argv.push_back(p.c_str());
            argv.push_back(nullptr);
            nocalhost::Buffer out;
            call_blocking(nullptr, c.handle.inflight(), [&](nh_cancel *) {
                nh_agent_options ao = o.c();
                return nh_agent_forward_start(out.out(), client.get(), target.c_str(), argv.data(), &ao);
            });
            return to_str(out);
        },
        py::arg("client"), py::arg("target"), py::arg("ports"), py::arg("agent"));
    m.def(
        "agent_reattach",
        [](Client &c, const std::string &id, const py::dict &agent) {
            auto client = c.get();
            AgentOpts o(agent);
            nh_session *raw = nullptr;
            call_blocking(nullptr, c.handle.inflight(), [&](nh_cancel *) {
                nh_agent_options ao = o.c();
                return nh_agent_reattach(&raw, client.get(), id.c_str(), nullptr, &ao);
            });
            auto session = make_session(raw);
            session->adopt_sync(raw, nullptr);
            return session;
        },
        py::arg("client"), py::arg("id"), py::arg("agent"));
    // list, status, stop and info need no handle.
    auto agent_text = [](const py::dict &agent, auto call) {
        AgentOpts o(agent);
        nocalhost::Buffer out;
        call_blocking(nullptr, Canceller::make(), [&](nh_cancel *) {
            nh_agent_options ao = o.c();
            return call(out.out(), &ao);
        });
        return to_str(out);
    };
    m.def("agent_list", [agent_text](const py::dict &agent) {
        return agent_text(agent, [](nh_buf *out, const nh_agent_options *o) { return nh_agent_list(out, o); });
    }, py::arg("agent"));
    m.def("agent_info", [agent_text](const py::dict &agent) {
        return agent_text(agent, [](nh_buf *out, const nh_agent_options *o) { return nh_agent_info(out, o); });
    }, py::arg("agent"));
    m.def("agent_status", [agent_text](const std::string &id, const py::dict &agent) {
        return agent_text(agent, [&id](nh_buf *out, const nh_agent_options *o) { return nh_agent_status(out, id.c_str(), o); });
    }, py::arg("id"), py::arg("agent"));
    m.def("agent_stop", [agent_text](const std::string &id, const py::dict &agent) {
        agent_text(agent, [&id](nh_buf *, const nh_agent_options *o) { return nh_agent_stop(id.c_str(), o); });
    }, py::arg("id"), py::arg("agent"));
}

}  // namespace nhpy
