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
    CallToken(std::initializer_list<Canceller *> cancellers);
    ~CallToken();
    CallToken(const CallToken &) = delete;
    CallToken &operator=(const CallToken &) = delete;
    nh_cancel *get() const { return token_; }
    void trigger() { nh_cancel_trigger(token_); }

private:
    nh_cancel *token_ = nullptr;
    std::vector<Canceller *> cancellers_;
};

// Runs `call(nh_cancel *)` (returning an nh_* code) without the GIL. `call`
// must not touch Python objects (callbacks re-acquire the GIL themselves).
// On the main thread the call runs on a helper thread while this thread
// waits and checks for signals, so Ctrl-C cancels the call and the
// KeyboardInterrupt is raised when it has returned. Returns the code; on
// failure `err` holds the error.
template <class F>
int run_blocking(const Cancel *cancel, Canceller *owner, F &&call, ErrorInfo &err) {
    CallToken token({owner, cancel ? cancel->impl.get() : nullptr});
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
    // returned a true value or raised).
    template <class... A>
    int operator()(A &&...args) noexcept {
        py::gil_scoped_acquire gil;
        if (error_) return 1;
        try {
            py::object r = fn_(std::forward<A>(args)...);
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

}  // namespace nhpy
