// Versions, the error table, logging and cancellation for nocalhost._native.
#include "common.hpp"

#include <pybind11/functional.h>

#include <atomic>
#include <mutex>
#include <utility>

namespace nhpy {
namespace {

// Set from nocalhost/errors.py: {code: exception class} and the base class.
// Leaked on purpose: exceptions may be raised until the interpreter is gone.
PyObject *g_error_table = nullptr;
PyObject *g_error_base = nullptr;
unsigned long g_main_thread = 0;

// The Python log handler. Only touched with the GIL held; the C library is
// always given the same trampoline and payload, so replacing the handler
// never leaves the library with a dangling payload (see docs/bindings.md).
PyObject *g_log_handler = nullptr;
std::atomic<bool> g_finalizing{false};

void log_trampoline(int level, const char *message, void *) {
    if (g_finalizing.load() || !Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    if (!g_log_handler || g_finalizing.load()) return;
    py::object fn = py::reinterpret_borrow<py::object>(g_log_handler);
    try {
        fn(level, message);
    } catch (py::error_already_set &e) {
        e.discard_as_unraisable("nocalhost log handler");
    }
}

std::mutex g_log_mu;  // one replacement at a time

// Replacing waits until no line is being delivered (nh_log_set_callback's
// promise), and a line being delivered may be waiting for the GIL: replace
// without it.
void replace_log_handler(PyObject *handler, int max_level) {
    PyObject *old;
    {
        py::gil_scoped_release nogil;
        std::lock_guard lock(g_log_mu);
        {
            py::gil_scoped_acquire gil;
            old = std::exchange(g_log_handler, handler);
        }
        if (handler)
            nh_log_set_callback(log_trampoline, max_level, nullptr);
        else
            nh_log_set_callback(nullptr, 0, nullptr);
    }
    Py_XDECREF(old);
}

void set_log_handler(py::object handler, int max_level) {
    replace_log_handler(handler.is_none() ? nullptr : handler.inc_ref().ptr(), max_level);
}

}  // namespace

void raise_error(const Error &e) {
    if (!g_error_table) throw std::runtime_error(e.what());
    py::handle table(g_error_table);
    py::object cls = py::reinterpret_borrow<py::object>(g_error_base);
    py::int_ code(e.code());
    if (PyObject *c = PyDict_GetItemWithError(table.ptr(), code.ptr())) cls = py::reinterpret_borrow<py::object>(c);
    py::object exc = cls(py::str(e.what()), e.code(), e.http_status(), py::str(e.reason()));
    PyErr_SetObject(cls.ptr(), exc.ptr());
    throw py::error_already_set();
}

void raise_error(int code, const std::string &message) { raise_error(Error(code, message)); }

bool on_main_thread() { return PyThread_get_thread_ident() == g_main_thread; }

void init_common(py::module_ &m) {
    if (int rc = nh_init(); rc < 0) throw std::runtime_error(nh_error_last()->message);
    // A nocalhost::Error thrown by the shared layer (a closed handle, a failed check()) raises through the table.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error &e) {
            try {
                raise_error(e);
            } catch (py::error_already_set &set) {
                set.restore();
            }
        }
    });
    g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();

    int major = 0, minor = 0, patch = 0;
    const char *v = nh_version(&major, &minor, &patch);
    m.attr("LIBRARY_VERSION") = py::str(v);
    m.attr("LIBRARY_VERSION_INFO") = py::make_tuple(major, minor, patch);
    m.attr("HEADER_VERSION") = py::str(NH_VERSION_STRING);
    m.attr("ABI") = NH_ABI;

    m.def("error_name", &nh_error_name, py::arg("code"), "The C name of an error code, e.g. 'NH_ENOTFOUND'.");
    m.def(
        "_set_error_table",
        [](py::dict table, py::object base) {
            Py_XDECREF(g_error_table);
            Py_XDECREF(g_error_base);
            g_error_table = table.inc_ref().ptr();
            g_error_base = base.inc_ref().ptr();
        },
        py::arg("table"), py::arg("base"));
    m.def("_set_log_handler", &set_log_handler, py::arg("handler"), py::arg("max_level"));
    m.def("_finalize", [] {
        g_finalizing = true;
        replace_log_handler(nullptr, 0);
    });

    py::class_<Cancel>(m, "Cancel", R"doc(
A cancellation token: trigger() stops every blocking call it was given,
from any thread, promptly; calls given an already triggered token raise
Cancelled at once. reset() makes it usable again.)doc")
        .def(py::init<>())
        .def("trigger", [](Cancel &c) { c.impl->trigger(); }, "Cancel the calls using this token. Thread-safe, idempotent.")
        .def("reset", [](Cancel &c) { c.impl->reset(); }, "Make the token untriggered again.")
        .def_property_readonly("triggered", [](const Cancel &c) { return c.impl->triggered(); });
}

}  // namespace nhpy
