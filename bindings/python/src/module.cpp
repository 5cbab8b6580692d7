// nocalhost._native: one init_<area>() per section of nocalhost.h.
#include "common.hpp"

PYBIND11_MODULE(_native, m) {
    m.doc() = "The private native layer of the nocalhost package: a thin wrapper of nocalhost.h.";
    nhpy::init_common(m);
    nhpy::init_client(m);
    nhpy::init_dev(m);
    nhpy::init_stream(m);
    nhpy::init_sync(m);
    nhpy::init_tree(m);
    nhpy::init_ide(m);
    nhpy::init_space(m);
    nhpy::init_app(m);
}
