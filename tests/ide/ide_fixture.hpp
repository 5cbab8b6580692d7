// What the tests of an editor's calls on the test cluster share, beside the dev-mode fixture.
#pragma once

#include "dev_fixture.hpp"

namespace nh::test {

// The JSON an nh_buf holds (null when empty); the buffer is disposed of.
inline json take_json(nh_buf &b) {
    json j = json::parse(b.ptr ? b.ptr : "null");
    nh_buf_dispose(&b);
    return j;
}

// Deployment web, one replica of simple_template("web").
inline json web_deployment() {
    return {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", "web"}}},
            {"spec", {{"replicas", 1}, {"selector", {{"matchLabels", {{"app", "web"}}}}}, {"template", simple_template("web")}}}};
}

}  // namespace nh::test
