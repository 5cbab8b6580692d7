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
// Handle<T> owns a C handle so that close() is idempotent, use after close
// throws, and a handle is freed only once no call is using it any more.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nocalhost.h>

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

// A copy of nh_error_last(), taken on the thread that made the failing call.
struct ErrorInfo {
    int code = NH_OK;
    std::string message;
    int http_status = 0;
    std::string reason;

    static ErrorInfo last();
};

Napi::Error make_error(Napi::Env env, const ErrorInfo &e);
[[noreturn]] void throw_error(Napi::Env env, const ErrorInfo &e);
[[noreturn]] void throw_error(Napi::Env env, int code, std::string message);
inline void check(Napi::Env env, int rc) {
    if (rc < 0) throw_error(env, ErrorInfo::last());
}

// A set of nh_cancel tokens triggered together. A token attached after
// trigger() is triggered at once. Thread-safe.
class Canceller {
public:
    void trigger();
    bool triggered() const;
    void reset();
    void attach(nh_cancel *token);
    void detach(nh_cancel *token);

private:
    mutable std::mutex mu_;
    bool triggered_ = false;
    std::vector<nh_cancel *> tokens_;
};

using Cancellers = std::vector<std::shared_ptr<Canceller>>;

// A per-call token attached to the cancellers that may stop the call.
class CallToken {
public:
    explicit CallToken(const Cancellers &cancellers);
    ~CallToken();
    CallToken(const CallToken &) = delete;
    CallToken &operator=(const CallToken &) = delete;
    nh_cancel *get() const { return token_; }

private:
    nh_cancel *token_ = nullptr;
    Cancellers cancellers_;
};

// The JS-visible cancellation token (the facade triggers it from an AbortSignal).
class Cancel : public Napi::ObjectWrap<Cancel> {
public:
    static void Init(Napi::Env env, Napi::Object exports);
    explicit Cancel(const Napi::CallbackInfo &info);
    // The Canceller of a JS value that is a Cancel, or null for undefined/null.
    static std::shared_ptr<Canceller> From(const Napi::Value &v);

private:
    Napi::Value trigger_js(const Napi::CallbackInfo &info);
    Napi::Value reset_js(const Napi::CallbackInfo &info);
    Napi::Value triggered_js(const Napi::CallbackInfo &info);

    std::shared_ptr<Canceller> impl_ = std::make_shared<Canceller>();
};

// A C handle shared by the JS object and the calls using it: close() drops
// the object's reference and cancels the in-flight calls; the handle is freed
// (and its nh_init() reference dropped) when the last call finishes.
template <class T, void (*Free)(T *)>
class Handle {
public:
    // Takes ownership of `raw`; `parent` is kept alive until `raw` is freed.
    void set(T *raw, std::shared_ptr<void> parent = {}) {
        nh_init();
        std::lock_guard lock(mu_);
        ptr_ = std::shared_ptr<T>(raw, [parent](T *p) {
            Free(p);
            nh_shutdown();
        });
    }
    std::shared_ptr<T> get(Napi::Env env, const char *what) const {
        std::lock_guard lock(mu_);
        if (!ptr_) throw_error(env, NH_ESTATE, std::string(what) + " is closed");
        return ptr_;
    }
    void close() {
        std::shared_ptr<T> p;
        {
            std::lock_guard lock(mu_);
            p.swap(ptr_);
        }
        inflight_->trigger();
    }
    bool closed() const {
        std::lock_guard lock(mu_);
        return !ptr_;
    }
    const std::shared_ptr<Canceller> &inflight() const { return inflight_; }

private:
    mutable std::mutex mu_;
    std::shared_ptr<T> ptr_;
    std::shared_ptr<Canceller> inflight_ = std::make_shared<Canceller>();
};

// A short blocking call on the libuv pool; its Promise resolves with
// resolve(env) or rejects with the mapped error.
class CallWorker : public Napi::AsyncWorker {
public:
    using Run = std::function<int(nh_cancel *)>;
    using Resolve = std::function<Napi::Value(Napi::Env)>;

    static Napi::Promise Start(Napi::Env env, Cancellers cancellers, Run run, Resolve resolve);

private:
    CallWorker(Napi::Env env, Cancellers cancellers, Run run, Resolve resolve);
    void Execute() override;
    void OnOK() override;
    void OnError(const Napi::Error &e) override;

    Napi::Promise::Deferred deferred_;
    Cancellers cancellers_;
    Run run_;
    Resolve resolve_;
    int rc_ = NH_OK;
    ErrorInfo err_;
};

// One event of a stream: a kind (watch event type, output stream, ...) and
// its data, delivered to JS as (kind, string) or (kind, Buffer).
struct StreamEvent {
    int kind = 0;
    std::string data;
    std::vector<std::optional<std::string>> more;  // further string arguments (null when absent)
};

// A long-running call on its own thread. run(token, emit) makes the C call;
// emit(event) hands an event to JS (waiting while too many are queued) and
// returns false once JS can no longer take events (the environment is
// shutting down), which should stop the call. The Promise settles when run()
// returns: with resolve(env) on success (undefined without it).
class StreamCall {
public:
    using Emit = std::function<bool(StreamEvent)>;
    using Run = std::function<int(nh_cancel *, const Emit &)>;
    using Resolve = std::function<Napi::Value(Napi::Env)>;

    static Napi::Promise Start(Napi::Env env, const char *name, Cancellers cancellers, Napi::Function on_event,
                               bool binary, Run run, Resolve resolve = nullptr);
};

// Argument helpers: undefined/null -> nullopt.
std::optional<std::string> opt_string(const Napi::Value &v);
inline const char *c_str_or_null(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }
// A property of an options object (or undefined when `options` is not an object).
Napi::Value option(const Napi::Value &options, const char *name);
int64_t opt_int(const Napi::Value &v, int64_t fallback);

// Copies an nh_buf into a JS string / Buffer and disposes of it.
Napi::String take_string(Napi::Env env, nh_buf &buf);

// Versions, errors, logging and Cancel (each area of the C ABI has a file and an Init).
void init_common(Napi::Env env, Napi::Object exports);
void init_stream(Napi::Env env, Napi::Object exports);
void init_live(Napi::Env env, Napi::Object exports);

}  // namespace nhnode
