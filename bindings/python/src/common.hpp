// The three patterns every part of the Python binding uses:
//  - raise_error(): one table (registered from nocalhost/errors.py) maps a C
//    error code to an exception class;
//  - run_blocking(): a C call that may block runs without the GIL, with a
//    per-call nh_cancel token that the caller's Cancel, the owning handle's
//    close() and Ctrl-C all trigger;
//  - Callback: a Python callable invoked from C (any thread) that stores the
//    exception it raises and stops the operation, to be re-raised afterwards.
// Handle<T> owns a C handle so that close() is idempotent, use after close
// raises, and a handle is freed only once no call is using it any more.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nocalhost.h>

namespace nhpy {

namespace py = pybind11;

// A copy of nh_error_last(), taken on the thread that made the failing call.
struct ErrorInfo {
    int code = NH_OK;
    std::string message;
    int http_status = 0;
    std::string reason;

    static ErrorInfo last();
};

// Sets the Python error for `e` through the registered table and throws
// py::error_already_set. Needs the GIL.
[[noreturn]] void raise_error(const ErrorInfo &e);
[[noreturn]] void raise_error(int code, std::string message);
inline void check(int rc) {
    if (rc < 0) raise_error(ErrorInfo::last());
}

// A set of nh_cancel tokens triggered together: the binding's Cancel object
// and every handle's in-flight calls. A token attached after trigger() is
// triggered at once. Thread-safe.
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

// The Python-visible cancellation token (nocalhost.Cancel).
struct Cancel {
    std::shared_ptr<Canceller> impl = std::make_shared<Canceller>();
};

// A C handle shared by the Python object and the calls using it: close()
// drops the object's reference and cancels the in-flight calls; the handle is
// freed when the last call returns.
template <class T, void (*Free)(T *)>
class Handle {
public:
    // Takes ownership of `raw`; `parent` is kept alive until `raw` is freed.
    void set(T *raw, std::shared_ptr<void> parent = {}) {
        std::lock_guard lock(mu_);
        ptr_ = std::shared_ptr<T>(raw, [parent](T *p) { Free(p); });
    }

    // The handle for a call; raises InvalidState after close().
    std::shared_ptr<T> get(const char *what) const {
        std::lock_guard lock(mu_);
        if (!ptr_) raise_error(NH_ESTATE, std::string(what) + " is closed");
        return ptr_;
    }
    // For children that must keep this handle alive (type-erased).
    std::shared_ptr<void> keep_alive(const char *what) const { return get(what); }

    void close() {
        std::shared_ptr<T> p;
        {
            std::lock_guard lock(mu_);
            p.swap(ptr_);
        }
        inflight_->trigger();
        if (p) {
            py::gil_scoped_release nogil;  // freeing may join threads that log
            p.reset();
        }
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

// Whether the calling thread is the interpreter's main thread (the one that
// receives KeyboardInterrupt).
bool on_main_thread();

// A per-call token attached to the cancellers that may stop the call.
class CallToken {
public:
    // `external` (optional): use that token (owned by the caller, e.g. a
    // handle whose C object keeps it) instead of a new one.
    CallToken(std::initializer_list<Canceller *> cancellers, nh_cancel *external = nullptr);
    ~CallToken();
    CallToken(const CallToken &) = delete;
    CallToken &operator=(const CallToken &) = delete;
    nh_cancel *get() const { return token_; }
    void trigger() { nh_cancel_trigger(token_); }

private:
    nh_cancel *token_ = nullptr;
    bool owned_ = true;
    std::vector<Canceller *> cancellers_;
};

// Runs `call(nh_cancel *)` (returning an nh_* code) without the GIL. `call`
// must not touch Python objects (callbacks re-acquire the GIL themselves).
// On the main thread the call runs on a helper thread while this thread
// waits and checks for signals, so Ctrl-C cancels the call and the
// KeyboardInterrupt is raised when it has returned. Returns the code; on
// failure `err` holds the error.
// `external`: see CallToken.
template <class F>
int run_blocking(const Cancel *cancel, Canceller *owner, F &&call, ErrorInfo &err, nh_cancel *external = nullptr) {
    CallToken token({owner, cancel ? cancel->impl.get() : nullptr}, external);
    auto run = [&]() {
        int rc = call(token.get());
        if (rc < 0) err = ErrorInfo::last();
        return rc;
    };
    if (!on_main_thread()) {
        py::gil_scoped_release nogil;
        return run();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int rc = NH_ERROR;
    std::optional<py::error_already_set> interrupted;
    {
        py::gil_scoped_release nogil;
        std::thread worker([&] {
            int r = run();
            std::lock_guard lock(mu);
            rc = r;
            done = true;
            cv.notify_all();
        });
        std::unique_lock lock(mu);
        while (!done) {
            if (cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) break;
            if (interrupted) continue;
            lock.unlock();
            {
                py::gil_scoped_acquire gil;
                if (PyErr_CheckSignals() != 0) {
                    interrupted.emplace();
                    token.trigger();
                }
            }
            lock.lock();
        }
        lock.unlock();
        worker.join();
    }
    if (interrupted) throw *interrupted;
    return rc;
}

// run_blocking() that raises on failure.
template <class F>
void call_blocking(const Cancel *cancel, Canceller *owner, F &&call) {
    ErrorInfo err;
    if (run_blocking(cancel, owner, std::forward<F>(call), err) < 0) raise_error(err);
}

// The error of a wait_sliced() that its token ended (the C wait itself only timed out).
inline void fix_cancelled_wait(int rc, ErrorInfo &err, const char *what) {
    if (rc == NH_ECANCELLED && err.code != NH_ECANCELLED) err = ErrorInfo{NH_ECANCELLED, std::string(what) + " cancelled", 0, ""};
}

// call_blocking() whose call uses `external` (see CallToken) as its token.
template <class F>
void call_blocking_with(const Cancel *cancel, Canceller *owner, nh_cancel *external, F &&call) {
    ErrorInfo err;
    if (run_blocking(cancel, owner, std::forward<F>(call), err, external) < 0) raise_error(err);
}

// For C waits that take a timeout but no cancel token (nh_exec_wait,
// nh_forward_wait): waits in slices of at most 50 ms so that `token` (the
// call's, triggered by Cancel, close() and Ctrl-C) ends the wait with
// NH_ECANCELLED. `timeout_ms` < 0 waits without limit. Call without the GIL.
template <class W>
int wait_sliced(W &&wait, long timeout_ms, nh_cancel *token) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        long slice = 50;
        if (timeout_ms >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
                            .count();
            slice = std::max<long>(0, std::min<long>(slice, left));
        }
        int rc = wait(slice);
        if (rc != NH_ETIMEOUT) return rc;
        if (nh_cancel_is_triggered(token)) return NH_ECANCELLED;  // see cancelled_wait_error()
        if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) return rc;
    }
}

// A Python callable called from C. Exceptions it raises are kept and make the
// callback ask the C call to stop; rethrow() raises them afterwards.
class Callback {
public:
    explicit Callback(py::object fn) : fn_(std::move(fn)) {}
    ~Callback() {
        py::gil_scoped_acquire gil;
        fn_ = py::object();
        error_.reset();
    }

    // Calls fn(args...) with the GIL; returns non-zero to stop (the callable
    // returned a true value or raised). Arguments must not be Python objects
    // made without the GIL: use invoke() to build them.
    template <class... A>
    int operator()(A &&...args) noexcept {
        return invoke([&](py::object &fn) { return fn(std::forward<A>(args)...); });
    }

    // Like operator(), but `call(fn)` makes the call (with the GIL held), so
    // that it can build Python arguments (bytes, tuples) first.
    template <class C>
    int invoke(C &&call) noexcept {
        py::gil_scoped_acquire gil;
        if (error_) return 1;
        try {
            py::object r = call(fn_);
            if (PyObject_IsTrue(r.ptr()) != 1) return 0;
            stopped_ = true;
            return 1;
        } catch (py::error_already_set &e) {
            error_.emplace(std::move(e));
        } catch (const std::exception &e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
            error_.emplace();
        }
        return 1;
    }

    // Whether the callable asked to stop by returning a true value.
    bool stopped() const { return stopped_; }
    // Whether it raised (needs the GIL).
    bool failed() const { return error_.has_value(); }

    // Raises what the callable raised, if anything. Needs the GIL.
    void rethrow() {
        if (error_) {
            py::error_already_set e = std::move(*error_);
            error_.reset();
            throw e;
        }
    }

private:
    py::object fn_;
    std::optional<py::error_already_set> error_;
    bool stopped_ = false;
};

// Optional string arguments: None -> NULL.
inline const char *c_str_or_null(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }

// Copies an nh_buf into Python bytes / str and disposes of it.
py::bytes take_bytes(nh_buf &buf);
py::str take_str(nh_buf &buf);

// Registration of each area of the C ABI (one file each).
void init_common(py::module_ &m);
void init_client(py::module_ &m);
void init_dev(py::module_ &m);
void init_stream(py::module_ &m);
void init_sync(py::module_ &m);

}  // namespace nhpy
