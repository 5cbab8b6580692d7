// The nh::Error code a call throws (NH_OK when it throws none), for the unit tests.
#pragma once

#include <functional>
#include <string>

#include "common/error.hpp"
#include "nocalhost.h"

namespace nh::test {

// Runs `f`; returns the code of the nh::Error it throws, with its message in *msg, or NH_OK.
inline int code_of(const std::function<void()> &f, std::string *msg = nullptr) {
    try {
        f();
    } catch (const nh::Error &e) {
        if (msg) *msg = e.what();
        return e.code();
    }
    return NH_OK;
}

}  // namespace nh::test
