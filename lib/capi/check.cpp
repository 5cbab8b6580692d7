// nh_client_new_from_data and nh_client_check: a kubeconfig held in memory, and whether the
// cluster answers and who we are.
#include <cstring>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "kube/kubeconfig.hpp"

using namespace nh::capi;
using json = nlohmann::json;

namespace {

// Asks who we are with a SelfSubjectReview, in the newest version the server serves. `user`
// stays null where none is served; an answer other than 404 is thrown.
json self_subject_review(nh::kube::Client &c, nh::CancelToken *cancel) {
    for (const char *version : {"v1", "v1beta1", "v1alpha1"}) {
        const std::string gv = std::string("authentication.k8s.io/") + version;
        try {
            json r = c.create("/apis/" + gv + "/selfsubjectreviews",
                              {{"apiVersion", gv}, {"kind", "SelfSubjectReview"}}, cancel);
            json info = r.value("status", json::object()).value("userInfo", json::object());
            return {{"username", info.value("username", "")},
                    {"uid", info.value("uid", "")},
                    {"groups", info.value("groups", json::array())},
                    {"extra", info.value("extra", json::object())}};
        } catch (const nh::Error &e) {
            if (e.code() != NH_ENOTFOUND) throw;
        }
    }
    return nullptr;
}

}  // namespace

extern "C" {

int nh_client_new_from_data(nh_client **out, const char *kubeconfig_data, size_t len, const nh_client_options *opts) {
    NH_CHECK_ARG(out);
    *out = nullptr;
    NH_CHECK_ARG(kubeconfig_data);
    nh_client_options defaults = NH_CLIENT_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_CLIENT_OPTIONS_VERSION, "nh_client_options")) return rc;
    if (opts->kubeconfig)
        return set_error(NH_EINVAL, "invalid argument: give the kubeconfig as data or as opts->kubeconfig, not both");
    return guard([&]() -> int {
        nh::kube::LoadOptions lo;
        if (opts->context) lo.context = opts->context;
        if (opts->namespace_name) lo.ns = opts->namespace_name;
        std::string text(kubeconfig_data, len == static_cast<size_t>(-1) ? std::strlen(kubeconfig_data) : len);
        auto c = make_client(nh::kube::load_from_strings({{"kubeconfig data", text}}, lo), *opts);
        c->from_data = true;
        *out = c.release();
        return NH_OK;
    });
}

int nh_client_check(nh_buf *out, nh_client *client, nh_cancel *cancel) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    return guard([&]() -> int {
        auto &c = *client->impl;
        json result = {{"server", c.config().server}, {"version", nullptr}, {"authenticated", true},
                       {"user", nullptr}, {"error", nullptr}};
        // Refused credentials are an answer: an API server checks a token before any path, /version too.
        auto refused = [&](const nh::Error &e) {
            if (e.code() != NH_EUNAUTHORIZED && e.code() != NH_EFORBIDDEN) return false;
            if (e.code() == NH_EUNAUTHORIZED) result["authenticated"] = false;
            result["error"] = {{"code", e.code()}, {"name", nh_error_name(e.code())}, {"message", e.what()}};
            return true;
        };
        try {
            result["version"] = c.get("/version", token_of(cancel));
            result["user"] = self_subject_review(c, token_of(cancel));
        } catch (const nh::Error &e) {
            if (!refused(e)) throw;  // no answer (or another failure): its error is ours
        }
        buf_set(out, result.dump());
        return NH_OK;
    });
}

}  // extern "C"
