// The patterns every part of the Node addon uses:
//  - make_error(): one table (registered from lib/errors.js) maps a C error
//    code to an Error subclass;
//  - CallWorker: a short blocking C call on the libuv pool (AsyncWorker),
//    settling a Promise;
//  - StreamCall: a long-running C call (watch, exec, port-forward, sync) on
//    its own thread, so it never occupies the pool, whose events reach JS
//    through a ThreadSafeFunction and whose end settles a Promise;
//  - every call gets a per-call nh_cancel token triggered by the caller's
//    Cancel (wired to an AbortSignal in JS) and by the owning handle's close().
// What does not depend on Node (errors, handles, cancellation, options) is the
// bindings' shared C++ layer, bindings/common/nocalhost.hpp.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nocalhost.hpp>  // bindings/common: errors, handles, cancellers, option builders

namespace nhnode {

// Per-environment state (worker threads each have their own).
struct AddonData {
    virtual ~AddonData() = default;
    Napi::FunctionReference error_factory;  // (errno, message, httpStatus, reason) => Error
    Napi::FunctionReference cancel_class;
    Napi::FunctionReference client_class;
    Napi::FunctionReference session_class;
};

inline AddonData &data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

using nocalhost::c_str_or_null;
using nocalhost::CallToken;
using nocalhost::Canceller;
using nocalhost::CancellerPtr;
using nocalhost::Error;

Napi::Error make_error(Napi::Env env, const Error &e);
[[noreturn]] void throw_error(Napi::Env env, const Error &e);
[[noreturn]] void throw_error(Napi::Env env, int code, const std::string &message);
inline void check(Napi::Env env, int rc) {
    if (rc < 0) throw_error(env, Error::last());
}

// The JS-visible cancellation token (the facade triggers it from an AbortSignal).
class Cancel : public Napi::ObjectWrap<Cancel> {
public:
    static void Init(Napi::Env env, Napi::Object exports);
    explicit Cancel(const Napi::CallbackInfo &info);
    // The Canceller of a JS value that is a Cancel, or null for undefined/null.
    static CancellerPtr From(const Napi::Value &v);

private:
    Napi::Value trigger_js(const Napi::CallbackInfo &info);
    Napi::Value reset_js(const Napi::CallbackInfo &info);
    Napi::Value triggered_js(const Napi::CallbackInfo &info);

    CancellerPtr impl_ = Canceller::make();
};

// nocalhost::Shared whose handle holds an nh_init() reference until it is
// freed, and whose use after close() throws InvalidStateError.
template <class T, void (*Free)(T *)>
class Handle : public nocalhost::Shared<T, Free> {
public:
    void set(T *raw) { this->reset(raw, std::make_shared<nocalhost::Library>()); }
    std::shared_ptr<T> get(Napi::Env env, const char *what) const {
        try {
            return nocalhost::Shared<T, Free>::get(what);
        } catch (const Error &e) {
            throw_error(env, e);
        }
    }
};

// A short blocking call on the libuv pool; its Promise resolves with
// resolve(env) or rejects with the mapped error.
class CallWorker : public Napi::AsyncWorker {
public:
    using Run = std::function<int(nh_cancel *)>;
    using Resolve = std::function<Napi::Value(Napi::Env)>;

    // The call's token is a child of `owner` (a handle's in-flight canceller), also triggered by `caller`.
    static Napi::Promise Start(Napi::Env env, CancellerPtr owner, CancellerPtr caller, Run run, Resolve resolve);

private:
    CallWorker(Napi::Env env, CancellerPtr owner, CancellerPtr caller, Run run, Resolve resolve);
    void Execute() override;
    void OnOK() override;
    void OnError(const Napi::Error &e) override;

    Napi::Promise::Deferred deferred_;
    CancellerPtr owner_, caller_;
    Run run_;
    Resolve resolve_;
    int rc_ = NH_OK;
    Error err_;
};

// One event of a stream: a kind (watch event type, output stream, ...) and
// its data, delivered to JS as (kind, string) or (kind, Buffer).
struct StreamEvent {
    int kind = 0;
    std::string data;
    std::vector<std::optional<std::string>> more;  // further string arguments (null when absent)
};

// A long-running call on its own thread, its token a child of `owner`, also
// triggered by `caller` and by a listener that throws. run(token, emit) makes the C call;
// emit(event) hands an event to JS (waiting while too many are queued) and
// returns false once JS can no longer take events (the environment is
// shutting down), which should stop the call. The Promise settles when run()
// returns: with resolve(env) on success (undefined without it).
class StreamCall {
public:
    using Emit = std::function<bool(StreamEvent)>;
    using Run = std::function<int(nh_cancel *, const Emit &)>;
    using Resolve = std::function<Napi::Value(Napi::Env)>;

    static Napi::Promise Start(Napi::Env env, const char *name, CancellerPtr owner, CancellerPtr caller,
                               Napi::Function on_event, bool binary, Run run, Resolve resolve = nullptr);
};

// Argument helpers: undefined/null -> nullopt.
std::optional<std::string> opt_string(const Napi::Value &v);
// A property of an options object (or undefined when `options` is not an object).
Napi::Value option(const Napi::Value &options, const char *name);
int64_t opt_int(const Napi::Value &v, int64_t fallback);
// A JS array of strings (undefined/null: empty; anything else: InvalidArgument naming `what`).
std::vector<std::string> strings(const Napi::Value &v, const char *what);

// Reads a builder's options (nocalhost::DevStartOptions::visit() ...) from a JS
// options object, each under the camelCase of its name: undefined keeps the default.
struct ObjectReader {
    Napi::Value options;
    template <class T>
    void operator()(const char *key, T &field) const {
        Napi::Value v = option(options, nocalhost::camel_case(key).c_str());
        if constexpr (std::is_same_v<T, std::optional<std::string>>)
            field = opt_string(v);
        else if constexpr (std::is_same_v<T, nocalhost::Strings>)
            field = strings(v, key);
        else if constexpr (std::is_same_v<T, bool>)
            field = v.IsUndefined() ? field : v.ToBoolean().Value();
        else
            field = static_cast<T>(opt_int(v, field));
    }
};

// A sync's options: {mode, ignore, include, useGitignore, stateDir, compression,
// connectTimeoutMs, maxBackoffMs, deleteProtection}.
inline nocalhost::SyncOptions sync_options(const Napi::Value &o) {
    nocalhost::SyncOptions s;
    s.visit(ObjectReader{o});
    return s;
}

// Copies a Buffer into a JS string.
inline Napi::String to_string(Napi::Env env, const nocalhost::Buffer &b) {
    return Napi::String::New(env, b.data(), b.size());
}

// Versions, errors, logging and Cancel (each area of the C ABI has a file and an Init).
void init_common(Napi::Env env, Napi::Object exports);
void init_stream(Napi::Env env, Napi::Object exports);
void init_live(Napi::Env env, Napi::Object exports);
void init_tree(Napi::Env env, Napi::Object exports);
void init_agent(Napi::Env env, Napi::Object exports);
void init_ide(Napi::Env env, Napi::Object exports);
void init_space(Napi::Env env, Napi::Object exports);

// The options of a start from the JS options object (dev.cpp).
nocalhost::DevStartOptions dev_start_options(const Napi::Value &o);

}  // namespace nhnode
