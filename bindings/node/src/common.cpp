// Versions, the error table, logging, cancellation and the call patterns.
#include "common.hpp"

#include <atomic>
#include <thread>

namespace nhnode {

Napi::Error make_error(Napi::Env env, const Error &e) {
    Napi::FunctionReference &factory = data(env).error_factory;
    if (factory.IsEmpty()) return Napi::Error::New(env, e.what());
    Napi::Value v = factory.Call({Napi::Number::New(env, e.code()), Napi::String::New(env, e.what()),
                                  Napi::Number::New(env, e.http_status()), Napi::String::New(env, e.reason())});
    return Napi::Error(env, v);
}

void throw_error(Napi::Env env, const Error &e) { throw make_error(env, e); }

void throw_error(Napi::Env env, int code, const std::string &message) { throw_error(env, Error(code, message)); }

void Cancel::Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(
        env, "Cancel",
        {
            InstanceMethod<&Cancel::trigger_js>("trigger"),
            InstanceMethod<&Cancel::reset_js>("reset"),
            InstanceAccessor<&Cancel::triggered_js>("triggered"),
        });
    data(env).cancel_class = Napi::Persistent(cls);
    exports.Set("Cancel", cls);
}

Cancel::Cancel(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Cancel>(info) {}

CancellerPtr Cancel::From(const Napi::Value &v) {
    if (v.IsUndefined() || v.IsNull()) return nullptr;
    Napi::Env env = v.Env();
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data(env).cancel_class.Value()))
        throw_error(env, NH_EINVAL, "cancel must be a Cancel");
    return Unwrap(v.As<Napi::Object>())->impl_;
}

Napi::Value Cancel::trigger_js(const Napi::CallbackInfo &info) {
    impl_->trigger();
    return info.Env().Undefined();
}

Napi::Value Cancel::reset_js(const Napi::CallbackInfo &info) {
    impl_->reset();
    return info.Env().Undefined();
}

Napi::Value Cancel::triggered_js(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), impl_->triggered()); }

// -- CallWorker --------------------------------------------------------------

CallWorker::CallWorker(Napi::Env env, CancellerPtr owner, CancellerPtr caller, Run run, Resolve resolve)
    : Napi::AsyncWorker(env, "nocalhost"),
      deferred_(Napi::Promise::Deferred::New(env)),
      owner_(std::move(owner)),
      caller_(std::move(caller)),
      run_(std::move(run)),
      resolve_(std::move(resolve)) {}

Napi::Promise CallWorker::Start(Napi::Env env, CancellerPtr owner, CancellerPtr caller, Run run, Resolve resolve) {
    auto *w = new CallWorker(env, std::move(owner), std::move(caller), std::move(run), std::move(resolve));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
}

void CallWorker::Execute() {
    CallToken token(owner_, caller_);
    rc_ = run_(token.get());
    if (rc_ < 0) err_ = Error::last();
}

void CallWorker::OnOK() {
    Napi::Env env = Env();
    if (rc_ < 0) {
        deferred_.Reject(make_error(env, err_).Value());
        return;
    }
    try {
        deferred_.Resolve(resolve_(env));
    } catch (const Napi::Error &e) {
        deferred_.Reject(e.Value());
    }
}

void CallWorker::OnError(const Napi::Error &e) { deferred_.Reject(e.Value()); }

// -- StreamCall --------------------------------------------------------------

namespace {

struct StreamState {
    explicit StreamState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
    Napi::Promise::Deferred deferred;
    bool binary = false;
    CancellerPtr stop;  // the call's: a child of its owner
    Napi::ObjectReference listener_error;  // what a JS listener threw
    StreamCall::Resolve resolve;
};

struct StreamItem {
    bool done = false;
    StreamEvent event;
    int rc = NH_OK;
    Error err;
};

void stream_call_js(Napi::Env env, Napi::Function on_event, StreamState *state, StreamItem *raw) {
    std::unique_ptr<StreamItem> item(raw);
    if (!env || !item) return;  // the environment is going away
    if (item->done) {
        if (!state->listener_error.IsEmpty())
            state->deferred.Reject(state->listener_error.Value());
        else if (item->rc < 0)
            state->deferred.Reject(make_error(env, item->err).Value());
        else if (state->resolve) {
            try {
                state->deferred.Resolve(state->resolve(env));
            } catch (const Napi::Error &e) {
                state->deferred.Reject(e.Value());
            }
        } else
            state->deferred.Resolve(env.Undefined());
        return;
    }
    if (!state->listener_error.IsEmpty()) return;
    Napi::Value payload = state->binary
                              ? Napi::Buffer<char>::Copy(env, item->event.data.data(), item->event.data.size()).As<Napi::Value>()
                              : Napi::String::New(env, item->event.data).As<Napi::Value>();
    std::vector<napi_value> args{Napi::Number::New(env, item->event.kind), payload};
    for (auto &m : item->event.more) args.push_back(m ? Napi::String::New(env, *m).As<Napi::Value>() : env.Null());
    try {
        on_event.Call(args);
    } catch (const Napi::Error &e) {
        // A listener threw: stop the call and reject its Promise with that error.
        state->listener_error = Napi::Persistent(e.Value());
        state->stop->trigger();
    }
}

using StreamTsfn = Napi::TypedThreadSafeFunction<StreamState, StreamItem, stream_call_js>;

}  // namespace

Napi::Promise StreamCall::Start(Napi::Env env, const char *name, CancellerPtr owner, CancellerPtr caller,
                                Napi::Function on_event, bool binary, Run run, Resolve resolve) {
    auto *state = new StreamState(env);
    state->binary = binary;
    state->resolve = std::move(resolve);
    state->stop = Canceller::make(std::move(owner));
    Napi::Promise promise = state->deferred.Promise();
    StreamTsfn tsfn = StreamTsfn::New(env, on_event, name, 256, 1, state,
                                      [](Napi::Env, void *, StreamState *s) { delete s; }, static_cast<void *>(nullptr));
    std::thread([tsfn, stop = state->stop, caller = std::move(caller), run = std::move(run)]() mutable {
        int rc;
        Error err;
        {
            CallToken token(stop, caller);
            Emit emit = [&](StreamEvent ev) {
                auto *item = new StreamItem();
                item->event = std::move(ev);
                if (tsfn.BlockingCall(item) != napi_ok) {
                    delete item;
                    return false;
                }
                return true;
            };
            rc = run(token.get(), emit);
            if (rc < 0) err = Error::last();
        }
        auto *done = new StreamItem();
        done->done = true;
        done->rc = rc;
        done->err = std::move(err);
        if (tsfn.BlockingCall(done) != napi_ok) delete done;
        tsfn.Release();
    }).detach();
    return promise;
}

// -- helpers -----------------------------------------------------------------

std::optional<std::string> opt_string(const Napi::Value &v) {
    if (v.IsUndefined() || v.IsNull()) return std::nullopt;
    if (!v.IsString()) throw_error(v.Env(), NH_EINVAL, "expected a string");
    return v.As<Napi::String>().Utf8Value();
}

Napi::Value option(const Napi::Value &options, const char *name) {
    if (!options.IsObject()) return options.Env().Undefined();
    return options.As<Napi::Object>().Get(name);
}

int64_t opt_int(const Napi::Value &v, int64_t fallback) {
    if (v.IsUndefined() || v.IsNull()) return fallback;
    if (!v.IsNumber()) throw_error(v.Env(), NH_EINVAL, "expected a number");
    return v.As<Napi::Number>().Int64Value();
}

std::vector<std::string> strings(const Napi::Value &v, const char *what) {
    std::vector<std::string> out;
    if (v.IsUndefined() || v.IsNull()) return out;
    if (!v.IsArray()) throw_error(v.Env(), NH_EINVAL, std::string(what) + " must be an array of strings");
    auto a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToString().Utf8Value());
    return out;
}

// -- logging -----------------------------------------------------------------
//
// The C library has one process-wide log callback. It is always given the same
// trampoline and no payload; the trampoline forwards to the current handler's
// ThreadSafeFunction under a mutex, so replacing or losing the handler (its
// environment shutting down) never leaves the library with a dangling payload.

namespace {

struct LogLine {
    int level;
    std::string message;
};

void log_call_js(Napi::Env env, Napi::Function fn, std::nullptr_t *, LogLine *raw) {
    std::unique_ptr<LogLine> line(raw);
    if (!env || !line) return;
    try {
        fn.Call({Napi::Number::New(env, line->level), Napi::String::New(env, line->message)});
    } catch (const Napi::Error &e) {
        e.ThrowAsJavaScriptException();  // reported like any uncaught exception
    }
}

using LogTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, LogLine, log_call_js>;

std::mutex g_log_mu;
std::optional<LogTsfn> g_log_tsfn;
uint64_t g_log_generation = 0;

void log_trampoline(int level, const char *message, void *) {
    std::lock_guard lock(g_log_mu);
    if (!g_log_tsfn) return;
    auto *line = new LogLine{level, message};
    if (g_log_tsfn->NonBlockingCall(line) != napi_ok) delete line;  // queue full or closing: drop
}

Napi::Value set_log_handler(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::lock_guard lock(g_log_mu);
    if (g_log_tsfn) {
        g_log_tsfn->Release();
        g_log_tsfn.reset();
    }
    if (info[0].IsFunction()) {
        uint64_t generation = ++g_log_generation;
        auto *gen = new uint64_t(generation);
        g_log_tsfn = LogTsfn::New(env, info[0].As<Napi::Function>(), "nocalhost-log", 1024, 1, nullptr,
                                  [](Napi::Env, uint64_t *g, std::nullptr_t *) {
                                      // Finalized: released above, or its environment is going away.
                                      std::lock_guard inner(g_log_mu);
                                      if (*g == g_log_generation && g_log_tsfn) {
                                          g_log_tsfn.reset();
                                          nh_log_set_callback(nullptr, 0, nullptr);
                                      }
                                      delete g;
                                  },
                                  gen);
        g_log_tsfn->Unref(env);  // logging alone does not keep the process alive
        nh_log_set_callback(log_trampoline, static_cast<int>(opt_int(info[1], NH_LOG_INFO)), nullptr);
    } else {
        nh_log_set_callback(nullptr, 0, nullptr);
    }
    return env.Undefined();
}

}  // namespace

void init_common(Napi::Env env, Napi::Object exports) {
    int major = 0, minor = 0, patch = 0;
    const char *v = nh_version(&major, &minor, &patch);
    exports.Set("libraryVersion", Napi::String::New(env, v));
    exports.Set("headerVersion", Napi::String::New(env, NH_VERSION_STRING));
    exports.Set("abi", Napi::Number::New(env, NH_ABI));
    exports.Set("errorName", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
                    return Napi::String::New(info.Env(), nh_error_name(static_cast<int>(opt_int(info[0], 0))));
                }));
    exports.Set("setErrorFactory", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
                    data(info.Env()).error_factory = Napi::Persistent(info[0].As<Napi::Function>());
                    return info.Env().Undefined();
                }));
    exports.Set("setLogHandler", Napi::Function::New(env, set_log_handler));
    Cancel::Init(env, exports);
}

}  // namespace nhnode
