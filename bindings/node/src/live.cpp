// Long-lived streams: interactive commands (nh_exec_start/write/close_stdin/
// resize/wait), port-forwards (nh_forward_*) and syncs (nh_sync_*). Each runs
// as a StreamCall on its own thread: the thread starts the C object, reports
// "started" (event kind 0), waits for its end, and frees it; the Promise
// settles then. JS drives it through a Live object (an External): write,
// resize, stop, status...
#include <condition_variable>

#include "client.hpp"
#include "dev.hpp"

namespace nhnode {
namespace {

// Shared by the JS object and the stream's thread.
struct Live {
    std::mutex mu;
    std::condition_variable cv;
    nh_exec *exec = nullptr;        // while the command runs
    std::shared_ptr<nh_sync> sync;  // while the sync runs
    bool stop = false;              // stop() was called
    // Stops the stream's call; a child of its client's or session's close().
    CancellerPtr canceller;
    explicit Live(CancellerPtr parent = nullptr) : canceller(Canceller::make(std::move(parent))) {}
};

using LivePtr = std::shared_ptr<Live>;

Napi::Value wrap(Napi::Env env, LivePtr live) {
    return Napi::External<LivePtr>::New(env, new LivePtr(std::move(live)),
                                        [](Napi::Env, LivePtr *p) { delete p; });
}

LivePtr unwrap(const Napi::Value &v) {
    if (!v.IsExternal()) throw_error(v.Env(), NH_EINVAL, "not a stream handle");
    return *v.As<Napi::External<LivePtr>>().Data();
}

// -- exec --------------------------------------------------------------------

struct ExecStart {
    std::string target;
    nocalhost::Strings argv;
    std::optional<std::string> ns, container;
    bool tty = false, stdin_enabled = true;
    long timeout_ms = 0;
    int exit_code = 0;
};

int exec_output(int stream, const char *data, size_t len, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    return emit(StreamEvent{stream, std::string(data, len), {}}) ? 0 : 1;
}

// execStart(client, target, argv, {namespace, container, tty, stdin, timeoutMs}, cancel, onEvent)
//   -> [live, Promise<exitCode>]; onEvent(0, pod: Buffer, protocol) once started, then (stream, Buffer)
Napi::Value exec_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<ExecStart>();
    call->target = opt_string(info[1]).value_or("");
    call->argv = strings(info[2], "argv");
    if (call->argv.empty()) throw_error(env, NH_EINVAL, "exec: argv must name a program");
    Napi::Value o = info[3];
    call->ns = opt_string(option(o, "namespace"));
    call->container = opt_string(option(o, "container"));
    call->tty = option(o, "tty").ToBoolean().Value();
    Napi::Value in = option(o, "stdin");
    call->stdin_enabled = in.IsUndefined() ? true : in.ToBoolean().Value();
    call->timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    auto live = std::make_shared<Live>(c->handle().inflight());
    Napi::Promise done = StreamCall::Start(
        env, "nocalhost-exec-start", live->canceller, Cancel::From(info[4]),
        info[5].As<Napi::Function>(), true,
        [client, call, live](nh_cancel *t, const StreamCall::Emit &emit) {
            nh_exec_options x = NH_EXEC_OPTIONS_INIT;
            x.namespace_name = c_str_or_null(call->ns);
            x.container = c_str_or_null(call->container);
            x.tty = call->tty ? 1 : 0;
            x.stdin_enabled = call->stdin_enabled ? 1 : 0;
            x.timeout_ms = call->timeout_ms;
            x.cancel = t;  // lives as long as this thread's call: until the command ended
            x.output = exec_output;
            x.payload = const_cast<StreamCall::Emit *>(&emit);
            nh_exec *e = nullptr;
            if (int rc = nh_exec_start(&e, client.get(), call->target.c_str(), call->argv.argv(), &x); rc < 0) return rc;
            {
                std::lock_guard lock(live->mu);
                live->exec = e;
            }
            emit(StreamEvent{0, nh_exec_pod(e), {std::string(nh_exec_protocol(e))}});
            int rc = nh_exec_wait(&call->exit_code, e, -1);
            {
                std::lock_guard lock(live->mu);  // no write() is using it
                live->exec = nullptr;
            }
            nh_exec_free(e);  // (void: leaves the thread's nh_error_last() alone)
            return rc;
        },
        [call](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, call->exit_code); });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, wrap(env, live));
    r.Set(1u, done);
    return r;
}

// Runs f(nh_exec*) under the lock, or throws InvalidState when the command is not running.
template <class F>
Napi::Value with_exec(const Napi::CallbackInfo &info, const char *what, F &&f) {
    Napi::Env env = info.Env();
    LivePtr live = unwrap(info[0]);
    int rc;
    {
        std::lock_guard lock(live->mu);
        if (!live->exec) throw_error(env, NH_ESTATE, std::string(what) + ": the command is not running");
        rc = f(live->exec);
    }
    check(env, rc);
    return env.Undefined();
}

// execWrite(live, Buffer|string): copies the data; blocks only while several MiB wait to be sent.
Napi::Value exec_write(const Napi::CallbackInfo &info) {
    std::string data;
    if (info[1].IsBuffer()) {
        auto b = info[1].As<Napi::Buffer<char>>();
        data.assign(b.Data(), b.Length());
    } else {
        data = info[1].ToString().Utf8Value();
    }
    return with_exec(info, "write", [&](nh_exec *e) { return nh_exec_write(e, data.data(), data.size()); });
}

Napi::Value exec_close_stdin(const Napi::CallbackInfo &info) {
    return with_exec(info, "closeStdin", [](nh_exec *e) { return nh_exec_close_stdin(e); });
}

Napi::Value exec_resize(const Napi::CallbackInfo &info) {
    unsigned w = info[1].ToNumber().Uint32Value(), h = info[2].ToNumber().Uint32Value();
    return with_exec(info, "resize", [&](nh_exec *e) { return nh_exec_resize(e, w, h); });
}

// liveStop(live): stops the command / forward (its Promise rejects with CancelledError) or the sync.
Napi::Value live_stop(const Napi::CallbackInfo &info) {
    LivePtr live = unwrap(info[0]);
    {
        std::lock_guard lock(live->mu);
        live->stop = true;
    }
    live->cv.notify_all();
    live->canceller->trigger();
    return info.Env().Undefined();
}

// -- port-forward --------------------------------------------------------------

struct ForwardStart {
    std::string target;
    nocalhost::Strings ports;
    std::optional<std::string> ns, address;
    long timeout_ms = 0;
    bool follow = true;
};

void forward_event(int type, const char *pod, int local_port, int remote_port, const char *message, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    emit(StreamEvent{type, message, {std::string(pod), std::to_string(local_port), std::to_string(remote_port)}});
}

// forwardStart(client, target, ports, {namespace, address, timeoutMs, follow}, cancel, onEvent)
//   -> [live, Promise<void>]; onEvent(0, "local,ports", pod) once bound, then (type, message, pod, local, remote).
// The Promise settles when forwarding ends: rejects with CancelledError after stop().
Napi::Value forward_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<ForwardStart>();
    call->target = opt_string(info[1]).value_or("");
    call->ports = strings(info[2], "ports");
    if (call->ports.empty()) throw_error(env, NH_EINVAL, "port-forward: no ports given");
    Napi::Value o = info[3];
    call->ns = opt_string(option(o, "namespace"));
    call->address = opt_string(option(o, "address"));
    call->timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    Napi::Value follow = option(o, "follow");
    call->follow = follow.IsUndefined() ? true : follow.ToBoolean().Value();
    auto live = std::make_shared<Live>(c->handle().inflight());
    Napi::Promise done = StreamCall::Start(
        env, "nocalhost-port-forward", live->canceller, Cancel::From(info[4]),
        info[5].As<Napi::Function>(), false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            nh_forward_options x = NH_FORWARD_OPTIONS_INIT;
            x.namespace_name = c_str_or_null(call->ns);
            x.address = c_str_or_null(call->address);
            x.timeout_ms = call->timeout_ms;
            x.follow = call->follow ? 1 : 0;
            x.cancel = t;
            x.on_event = forward_event;
            x.payload = const_cast<StreamCall::Emit *>(&emit);
            nh_forward *f = nullptr;
            if (int rc = nh_forward_start(&f, client.get(), call->target.c_str(), call->ports.argv(), &x); rc < 0)
                return rc;
            std::string local;
            for (size_t i = 0; i < call->ports.size(); ++i) {
                int port = 0;
                if (int rc = nh_forward_local_port_v2(&port, f, i); rc < 0) {
                    nh_forward_free(f);
                    return rc;
                }
                if (i) local += ',';
                local += std::to_string(port);
            }
            nocalhost::Buffer pod;
            nh_forward_pod(pod.out(), f);
            emit(StreamEvent{0, local, {pod.str()}});
            int rc = nh_forward_wait(f, -1);
            nh_forward_free(f);
            return rc;
        });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, wrap(env, live));
    r.Set(1u, done);
    return r;
}

// -- reverse forward ------------------------------------------------------------

struct ReverseStart {
    std::string kind, name;
    nocalhost::Strings ports;
    std::optional<std::string> ns, developer, address, syncd_dir;
    int mode = NH_DEV_MODE_REPLACE;
    long timeout_ms = 0;
};

void reverse_event(int type, const char *pod, int remote_port, int local_port, const char *message, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    emit(StreamEvent{type, message, {std::string(pod), std::to_string(remote_port), std::to_string(local_port)}});
}

// reverseStart(client, kind, name, ports, {namespace, mode, developer, address, timeoutMs, syncdDir}, cancel, onEvent)
//   -> [live, Promise<void>]; onEvent(0, "", pod) once every listener is bound, then (type, message, pod, remote, local).
// The Promise settles when reverse forwarding ends: rejects with CancelledError after stop().
Napi::Value reverse_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<ReverseStart>();
    call->kind = opt_string(info[1]).value_or("");
    call->name = opt_string(info[2]).value_or("");
    call->ports = strings(info[3], "ports");
    if (call->ports.empty()) throw_error(env, NH_EINVAL, "reverse forward: no ports given");
    Napi::Value o = info[4];
    call->ns = opt_string(option(o, "namespace"));
    call->developer = opt_string(option(o, "developer"));
    call->address = opt_string(option(o, "address"));
    call->syncd_dir = opt_string(option(o, "syncdDir"));
    call->mode = static_cast<int>(opt_int(option(o, "mode"), NH_DEV_MODE_REPLACE));
    call->timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    auto live = std::make_shared<Live>(c->handle().inflight());
    Napi::Promise done = StreamCall::Start(
        env, "nocalhost-reverse-forward", live->canceller, Cancel::From(info[5]),
        info[6].As<Napi::Function>(), false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            nh_reverse_options x = NH_REVERSE_OPTIONS_INIT;
            x.namespace_name = c_str_or_null(call->ns);
            x.mode = call->mode;
            x.developer = c_str_or_null(call->developer);
            x.remote_address = c_str_or_null(call->address);
            x.syncd_dir = c_str_or_null(call->syncd_dir);
            x.timeout_ms = call->timeout_ms;
            x.cancel = t;
            x.on_event = reverse_event;
            x.payload = const_cast<StreamCall::Emit *>(&emit);
            nh_reverse *r = nullptr;
            if (int rc = nh_reverse_start(&r, client.get(), call->kind.c_str(), call->name.c_str(), call->ports.argv(), &x);
                rc < 0)
                return rc;
            nocalhost::Buffer pod;
            nh_reverse_pod(pod.out(), r);
            emit(StreamEvent{0, "", {pod.str()}});
            int rc = nh_reverse_wait(r, -1);
            nh_reverse_free(r);
            return rc;
        });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, wrap(env, live));
    r.Set(1u, done);
    return r;
}

// -- sync ----------------------------------------------------------------------

struct SyncStart {
    std::string local_dir, address, token;
    nocalhost::SyncOptions spec;
};

std::string status_text(const nh_sync_status &s) {
    return std::to_string(s.state) + "," + std::to_string(s.files_done) + "," + std::to_string(s.files_total) + "," +
           std::to_string(s.bytes_done) + "," + std::to_string(s.bytes_total) + "," + std::to_string(s.files_synced) +
           "," + std::to_string(s.file_errors) + "," + std::to_string(s.conflicts) + "," +
           std::to_string(s.reconnects) + "," + std::to_string(s.error_code);
}

void sync_event(const nh_sync_event *e, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    emit(StreamEvent{e->type, e->path,
                     {std::string(e->message), std::to_string(e->code),
                      e->status ? std::optional<std::string>(status_text(*e->status)) : std::nullopt}});
}

// syncStart(localDir, address, token, {mode, ignore, include, useGitignore, stateDir, compression,
//   connectTimeoutMs, maxBackoffMs}, onEvent) -> [live, Promise<void>]
// onEvent(0, "") once started, then (type, path, message, code, status "n,n,...").
// The Promise settles after stop() (the index saved), or rejects when the start fails.
Napi::Value sync_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto call = std::make_shared<SyncStart>();
    call->local_dir = opt_string(info[0]).value_or("");
    call->address = opt_string(info[1]).value_or("");
    call->token = opt_string(info[2]).value_or("");
    call->spec = sync_options(info[3]);
    auto live = std::make_shared<Live>();
    Napi::Promise done = StreamCall::Start(
        env, "nocalhost-sync", live->canceller, nullptr, info[4].As<Napi::Function>(), false,
        [call, live](nh_cancel *, const StreamCall::Emit &emit) {
            call->spec.callback = sync_event;
            call->spec.payload = const_cast<StreamCall::Emit *>(&emit);
            nh_sync *raw = nullptr;
            if (int rc = nh_sync_start(&raw, call->local_dir.c_str(), call->address.c_str(), call->token.c_str(),
                                       &call->spec.c());
                rc < 0)
                return rc;
            // Flushes may still hold the handle after the stop: it is freed with the last reference.
            std::shared_ptr<nh_sync> sync(raw, nh_sync_free);
            {
                std::lock_guard lock(live->mu);
                live->sync = sync;
            }
            emit(StreamEvent{0, "", {}});
            {
                std::unique_lock lock(live->mu);
                live->cv.wait(lock, [&] { return live->stop; });
                live->sync.reset();
            }
            // Joins the sync's thread: no event arrives after it, so `emit` may go.
            return nh_sync_stop(sync.get());
        });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, wrap(env, live));
    r.Set(1u, done);
    return r;
}

// A dev session's sync (nh_session_sync): the pointer is lent to flushes and
// status calls through a shared_ptr whose deleter only reports that the last
// user is done, so that nh_session_sync_stop() never frees it under them.
struct Lent {
    std::mutex mu;
    std::condition_variable cv;
    bool returned = false;
};

// The common end of both session-sync calls: lend the sync until stop(), then stop it.
int lend_session_sync(const LivePtr &live, const std::shared_ptr<nh_session> &s, const std::shared_ptr<std::mutex> &mu,
                      nh_sync *raw, const StreamCall::Emit &emit) {
    auto lent = std::make_shared<Lent>();
    {
        std::lock_guard lock(live->mu);
        live->sync = std::shared_ptr<nh_sync>(raw, [lent](nh_sync *) {
            std::lock_guard l(lent->mu);
            lent->returned = true;
            lent->cv.notify_all();
        });
    }
    emit(StreamEvent{0, "", {}});
    {
        std::unique_lock lock(live->mu);
        live->cv.wait(lock, [&] { return live->stop; });
        live->sync.reset();
    }
    {
        std::unique_lock l(lent->mu);
        lent->cv.wait(l, [&] { return lent->returned; });
    }
    std::lock_guard lock(*mu);
    nh_session_sync_stop(s.get());  // joins the sync's thread: no event after it
    return NH_OK;
}

int dev_event_as_sync_event(int type, const char *phase, const char *message, const char *detail, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    // Kinds 100+: dev-mode phases of the start ("forward", "sync", "synced").
    StreamEvent ev{100 + type, phase, {std::string(message), detail ? std::optional<std::string>(detail) : std::nullopt}};
    return emit(std::move(ev)) ? 0 : 1;
}

// sessionSyncStart(session, client, localDir, syncOptions, timeoutMs, cancel, onEvent) -> [live, Promise<void>]
// onEvent: (100 + devEventType, phase, message, detail) during the start, (0, "") once synced,
// then sync events as for syncStart. The Promise settles after stop() stopped the session's sync.
Napi::Value session_sync_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Session *session = Session::From(info[0]);
    auto s = session->get(env);
    auto mu = session->mutex();
    Client *c = Client::From(info[1]);
    auto client = c->get(env);
    auto dir = std::make_shared<std::string>(opt_string(info[2]).value_or(""));
    auto spec = std::make_shared<nocalhost::SyncOptions>(sync_options(info[3]));
    long timeout_ms = static_cast<long>(opt_int(info[4], 0));
    auto live = std::make_shared<Live>(session->handle().inflight());
    Napi::Promise done = StreamCall::Start(
        env, "nocalhost-session-sync", live->canceller, Cancel::From(info[5]),
        info[6].As<Napi::Function>(), false,
        [s, mu, client, dir, spec, timeout_ms, live](nh_cancel *t, const StreamCall::Emit &emit) {
            spec->callback = sync_event;
            spec->payload = const_cast<StreamCall::Emit *>(&emit);
            nh_sync *raw = nullptr;
            {
                std::lock_guard lock(*mu);
                int rc = nh_session_sync_start(s.get(), client.get(), dir->c_str(), &spec->c(), timeout_ms, t,
                                               dev_event_as_sync_event, const_cast<StreamCall::Emit *>(&emit));
                if (rc < 0) return rc;
                raw = nh_session_sync(s.get());
            }
            return lend_session_sync(live, s, mu, raw, emit);
        });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, wrap(env, live));
    r.Set(1u, done);
    return r;
}

// sessionSync(session) -> [live, Promise<void>] or null: the sync a devStart() with localDir
// left running (its events are not reported: they would have outlived devStart's call).
Napi::Value session_sync(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Session *session = Session::From(info[0]);
    auto s = session->get(env);
    auto mu = session->mutex();
    nh_sync *raw;
    {
        std::lock_guard lock(*mu);
        raw = nh_session_sync(s.get());
    }
    if (!raw) return env.Null();
    auto live = std::make_shared<Live>();
    Napi::Function noop = Napi::Function::New(env, [](const Napi::CallbackInfo &i) { return i.Env().Undefined(); });
    Napi::Promise done = StreamCall::Start(
        env, "nocalhost-session-sync", live->canceller, nullptr, info[1].IsFunction() ? info[1].As<Napi::Function>() : noop,
        false, [s, mu, raw, live](nh_cancel *, const StreamCall::Emit &emit) {
            return lend_session_sync(live, s, mu, raw, emit);
        });
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, wrap(env, live));
    r.Set(1u, done);
    return r;
}

std::shared_ptr<nh_sync> running_sync(Napi::Env env, const LivePtr &live) {
    std::lock_guard lock(live->mu);
    if (!live->sync) throw_error(env, NH_ESTATE, "the sync is not running");
    return live->sync;
}

// syncStatus(live) -> "state,files_done,...": a copy, no I/O.
Napi::Value sync_status(const Napi::CallbackInfo &info) {
    auto sync = running_sync(info.Env(), unwrap(info[0]));
    nh_sync_status st = NH_SYNC_STATUS_INIT;
    check(info.Env(), nh_sync_status_get(&st, sync.get()));
    return Napi::String::New(info.Env(), status_text(st));
}

Napi::Value sync_last_error(const Napi::CallbackInfo &info) {
    auto sync = running_sync(info.Env(), unwrap(info[0]));
    nocalhost::Buffer out;
    check(info.Env(), nh_sync_last_error(out.out(), sync.get()));
    return to_string(info.Env(), out);
}

Napi::Value sync_pause(const Napi::CallbackInfo &info) {
    check(info.Env(), nh_sync_pause(running_sync(info.Env(), unwrap(info[0])).get()));
    return info.Env().Undefined();
}

Napi::Value sync_resume(const Napi::CallbackInfo &info) {
    check(info.Env(), nh_sync_resume(running_sync(info.Env(), unwrap(info[0])).get()));
    return info.Env().Undefined();
}

// syncFlush(live, timeoutMs, cancel?) -> Promise<void> (on the libuv pool)
Napi::Value sync_flush(const Napi::CallbackInfo &info) {
    LivePtr live = unwrap(info[0]);
    auto sync = running_sync(info.Env(), live);
    long timeout_ms = static_cast<long>(opt_int(info[1], -1));
    return CallWorker::Start(
        info.Env(), live->canceller, Cancel::From(info[2]),
        [sync, timeout_ms](nh_cancel *t) { return nh_sync_flush(sync.get(), timeout_ms, t); },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
}

}  // namespace

void init_live(Napi::Env env, Napi::Object exports) {
    exports.Set("execStart", Napi::Function::New(env, exec_start));
    exports.Set("execWrite", Napi::Function::New(env, exec_write));
    exports.Set("execCloseStdin", Napi::Function::New(env, exec_close_stdin));
    exports.Set("execResize", Napi::Function::New(env, exec_resize));
    exports.Set("liveStop", Napi::Function::New(env, live_stop));
    exports.Set("forwardStart", Napi::Function::New(env, forward_start));
    exports.Set("reverseStart", Napi::Function::New(env, reverse_start));
    exports.Set("syncStart", Napi::Function::New(env, sync_start));
    exports.Set("syncStatus", Napi::Function::New(env, sync_status));
    exports.Set("syncLastError", Napi::Function::New(env, sync_last_error));
    exports.Set("syncPause", Napi::Function::New(env, sync_pause));
    exports.Set("syncResume", Napi::Function::New(env, sync_resume));
    exports.Set("syncFlush", Napi::Function::New(env, sync_flush));
    exports.Set("sessionSyncStart", Napi::Function::New(env, session_sync_start));
    exports.Set("sessionSync", Napi::Function::New(env, session_sync));
}

}  // namespace nhnode
