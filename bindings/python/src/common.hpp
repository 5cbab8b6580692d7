// The three patterns every part of the Python binding uses:
//  - raise_error(): one table (registered from nocalhost/errors.py) maps a C
//    error code to an exception class;
//  - run_blocking(): a C call that may block runs without the GIL, with a
//    per-call nh_cancel token that the caller's Cancel, the owning handle's
//    close() and Ctrl-C all trigger;
//  - Callback: a Python callable invoked from C (any thread) that stores the
//    exception it raises and stops the operation, to be re-raised afterwards.
// What does not depend on Python (errors, handles, cancellation, options) is
// the bindings' shared C++ layer, bindings/common/nocalhost.hpp.
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
#include <type_traits>
#include <vector>

#include <nocalhost.hpp>  // bindings/common: errors, handles, cancellers, option builders

namespace nhpy {

namespace py = pybind11;

using nocalhost::c_str_or_null;
using nocalhost::CallToken;
using nocalhost::Canceller;
using nocalhost::CancellerPtr;
using nocalhost::Error;

// Sets the Python error for `e` through the registered table and throws
// py::error_already_set. Needs the GIL. A nocalhost::Error thrown through
// pybind11 is raised the same way (init_common registers the translator).
[[noreturn]] void raise_error(const Error &e);
[[noreturn]] void raise_error(int code, const std::string &message);
using nocalhost::check;

// The Python-visible cancellation token (nocalhost.Cancel).
struct Cancel {
    CancellerPtr impl = Canceller::make();
};

// nocalhost::Shared, freeing without the GIL (freeing may join threads that log).
template <class T, void (*Free)(T *)>
class Handle : public nocalhost::Shared<T, Free> {
public:
    void close() {
        if (auto p = nocalhost::Shared<T, Free>::close()) {
            py::gil_scoped_release nogil;
            p.reset();
        }
    }
};

// Whether the calling thread is the interpreter's main thread (the one that
// receives KeyboardInterrupt).
bool on_main_thread();

// Runs `call(nh_cancel *)` (returning an nh_* code) without the GIL. `call`
// must not touch Python objects (callbacks re-acquire the GIL themselves).
// On the main thread the call runs on a helper thread while this thread
// waits and checks for signals, so Ctrl-C cancels the call and the
// KeyboardInterrupt is raised when it has returned. Returns the code; on
// failure `err` holds the error.
// `external`: see CallToken.
template <class F>
int run_blocking(const Cancel *cancel, const CancellerPtr &owner, F &&call, Error &err, nh_cancel *external = nullptr) {
    CallToken token(owner, cancel ? cancel->impl : nullptr, external);
    auto run = [&]() {
        int rc = call(token.get());
        if (rc < 0) err = Error::last();
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
void call_blocking(const Cancel *cancel, const CancellerPtr &owner, F &&call) {
    Error err;
    if (run_blocking(cancel, owner, std::forward<F>(call), err) < 0) raise_error(err);
}

// The error of a wait_sliced() that its token ended (the C wait itself only timed out).
inline void fix_cancelled_wait(int rc, Error &err, const char *what) {
    if (rc == NH_ECANCELLED && err.code() != NH_ECANCELLED) err = Error(NH_ECANCELLED, std::string(what) + " cancelled");
}

// call_blocking() whose call uses `external` (see CallToken) as its token.
template <class F>
void call_blocking_with(const Cancel *cancel, const CancellerPtr &owner, nh_cancel *external, F &&call) {
    Error err;
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

// Reads a builder's options (nocalhost::DevStartOptions::visit() ...) from the
// dict nocalhost/*.py builds: a missing key or None keeps the default.
struct DictReader {
    const py::dict &d;
    template <class T>
    void operator()(const char *key, T &field) const {
        if (!d.contains(key) || d[key].is_none()) return;
        if constexpr (std::is_same_v<T, nocalhost::Strings>)
            field = d[key].cast<std::vector<std::string>>();
        else if constexpr (std::is_same_v<T, std::optional<std::string>>)
            field = d[key].cast<std::string>();
        else
            field = d[key].cast<T>();
    }
};

// Copies a Buffer into Python bytes / str.
inline py::bytes to_bytes(const nocalhost::Buffer &b) { return py::bytes(b.data(), b.size()); }
inline py::str to_str(const nocalhost::Buffer &b) { return py::str(b.data(), b.size()); }

// Registration of each area of the C ABI (one file each).
void init_common(py::module_ &m);
void init_client(py::module_ &m);
void init_dev(py::module_ &m);
void init_stream(py::module_ &m);
void init_sync(py::module_ &m);
void init_tree(py::module_ &m);
void init_ide(py::module_ &m);

// The options of a start from the dict nocalhost/dev.py builds (dev.cpp).
nocalhost::DevStartOptions dev_start_options(const py::dict &d);
void init_space(py::module_ &m);
void init_app(py::module_ &m);

}  // namespace nhpy
