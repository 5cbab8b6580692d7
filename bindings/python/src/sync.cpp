// nh_sync_*: start, status, last error, flush, pause/resume, stop, events.
#include "sync.hpp"

#include <mutex>

namespace nhpy {
namespace {

void sync_event_trampoline(const nh_sync_event *e, void *payload) {
    (*static_cast<Callback *>(payload)).invoke([&](py::object &fn) {
        const nh_sync_status *s = e->status;
        py::object status = py::none();
        if (s)
            status = py::make_tuple(s->state, s->files_done, s->files_total, s->bytes_done, s->bytes_total,
                                    s->files_synced, s->file_errors, s->conflicts, s->reconnects, s->error_code);
        return fn(e->type, py::str(e->path), py::str(e->message), e->code, status);
    });
}

// A sync: owned, or borrowed from a session (then `borrowed` is set).
struct Sync {
    Handle<nh_sync, nh_sync_free> owned;
    std::shared_ptr<SessionSyncState> borrowed;
    std::shared_ptr<Callback> callback;  // owned syncs: must outlive the handle

    ~Sync() { close(); }

    void close() {
        if (!borrowed) owned.close();
    }

    // Runs f(nh_sync *, in-flight canceller) with the sync, or raises InvalidState.
    template <class F>
    auto with(F &&f) {
        if (borrowed) {
            std::shared_lock<std::shared_mutex> lock(borrowed->mu, std::defer_lock);
            {
                py::gil_scoped_release nogil;  // the stopper may wait for the GIL in a callback
                lock.lock();
            }
            if (!borrowed->sync) raise_error(NH_ESTATE, "the session's sync was stopped");
            return f(borrowed->sync, borrowed->inflight);
        }
        auto h = owned.get("sync");
        return f(h.get(), owned.inflight());
    }

    void rethrow_callback() {
        if (callback) callback->rethrow();
    }
};

py::tuple status_tuple(const nh_sync_status &s) {
    return py::make_tuple(s.state, s.files_done, s.files_total, s.bytes_done, s.bytes_total, s.files_synced,
                          s.file_errors, s.conflicts, s.reconnects, s.error_code);
}

}  // namespace

SyncOptions::SyncOptions(const py::object &spec) {
    if (spec.is_none()) return;
    py::dict d = spec.cast<py::dict>();
    options.visit(DictReader{d});
    if (d.contains("on_event") && !d["on_event"].is_none()) {
        callback = std::make_shared<Callback>(d["on_event"]);
        options.callback = sync_event_trampoline;
        options.payload = callback.get();
    }
}

py::object make_session_sync(std::shared_ptr<SessionSyncState> state) {
    auto s = std::make_unique<Sync>();
    s->borrowed = std::move(state);
    s->callback = s->borrowed->callback;
    return py::cast(std::move(s));
}

void init_sync(py::module_ &m) {
    m.def("sync_state_name", [](int state) { return std::string(nh_sync_state_name(state)); });

    py::class_<Sync>(m, "Sync")
        .def("close", &Sync::close)
        .def_property_readonly("closed", [](const Sync &s) {
            if (!s.borrowed) return s.owned.closed();
            py::gil_scoped_release nogil;
            std::shared_lock lock(s.borrowed->mu);
            return s.borrowed->sync == nullptr;
        })
        .def("status", [](Sync &s) {
            return s.with([](nh_sync *sync, const CancellerPtr &) {
                nh_sync_status st = NH_SYNC_STATUS_INIT;
                check(nh_sync_status_get(&st, sync));
                return status_tuple(st);
            });
        })
        .def("last_error", [](Sync &s) {
            return s.with([](nh_sync *sync, const CancellerPtr &) {
                nocalhost::Buffer out;
                check(nh_sync_last_error(out.out(), sync));
                return to_str(out);
            });
        })
        .def(
            "flush",
            [](Sync &s, long timeout_ms, const Cancel *cancel) {
                s.with([&](nh_sync *sync, const CancellerPtr &inflight) {
                    Error err;
                    int rc = run_blocking(cancel, inflight,
                                          [&](nh_cancel *t) { return nh_sync_flush(sync, timeout_ms, t); }, err);
                    s.rethrow_callback();
                    if (rc < 0) raise_error(err);
                    return 0;
                });
            },
            py::arg("timeout_ms"), py::arg("cancel") = nullptr)
        .def("pause", [](Sync &s) { s.with([](nh_sync *sync, const CancellerPtr &) { return check(nh_sync_pause(sync)); }); })
        .def("resume", [](Sync &s) { s.with([](nh_sync *sync, const CancellerPtr &) { return check(nh_sync_resume(sync)); }); })
        .def("stop", [](Sync &s) {
            // A session's sync is stopped through the session (nh_session_sync_stop).
            if (s.borrowed) raise_error(NH_ESTATE, "stop the session's sync with Session.stop_sync()");
            auto h = s.owned.get("sync");
            int rc;
            {
                py::gil_scoped_release nogil;  // joins the thread that calls back into Python
                rc = nh_sync_stop(h.get());
            }
            if (rc < 0) raise_error(Error::last());
            s.rethrow_callback();
        });

    m.def(
        "sync_start",
        [](const std::string &local_dir, const std::string &address, const std::string &token, py::object spec) {
            SyncOptions so(spec);
            nocalhost::SyncHandle raw;
            check(nh_sync_start(raw.out(), local_dir.c_str(), address.c_str(), token.c_str(), &so.options.c()));
            auto s = std::make_unique<Sync>();
            s->callback = so.callback;
            // The callback is released only after nh_sync_free().
            s->owned.reset(std::move(raw), so.callback);
            return s;
        },
        py::arg("local_dir"), py::arg("address"), py::arg("token"), py::arg("options"));
}

}  // namespace nhpy
