// nh_app_*: applications.
#include <iterator>

#include "app/app.hpp"
#include "capi/capi.hpp"
#include "capi/client.hpp"

using namespace nh::capi;
using json = nlohmann::json;

namespace {

std::vector<std::string> strings(const char *const *v, size_t n, const char *what) {
    if (n > 0 && !v) throw nh::Error(NH_EINVAL, std::string("invalid argument: ") + what + " is NULL with a count");
    std::vector<std::string> out;
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) throw nh::Error(NH_EINVAL, std::string("invalid argument: ") + what + "[" + std::to_string(i) + "] is NULL");
        out.emplace_back(v[i]);
    }
    return out;
}

nh::app::Options app_options(const nh_app_options *o) {
    nh::app::Options a;
    if (o->namespace_name) a.ns = o->namespace_name;
    a.values_files = strings(o->values_files, o->values_files_count, "values_files");
    a.set = strings(o->set, o->set_count, "set");
    if (o->config_path) a.config_path = o->config_path;
    a.all_namespaces = o->all_namespaces != 0;
    a.cancel = token_of(o->cancel);
    return a;
}

const nh_app_options kDefaults = NH_APP_OPTIONS_INIT;

using SourceCall = json (*)(nh::kube::Client &, const std::string &, const std::string &, const nh::app::Options &);

int source_call(SourceCall call, nh_buf *out, nh_client *client, const char *name, const char *source,
                const nh_app_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(name);
    NH_CHECK_ARG(source);
    if (!opts) opts = &kDefaults;
    if (int rc = check_version(opts->version, NH_APP_OPTIONS_VERSION, "nh_app_options")) return rc;
    return guard([&]() -> int {
        buf_set(out, call(*client->impl, name, source, app_options(opts)).dump());
        return NH_OK;
    });
}

}  // namespace

extern "C" {

static constexpr std::size_t kAppOptionsSizes[] = {sizeof(nh_app_options)};
static_assert(std::size(kAppOptionsSizes) == NH_APP_OPTIONS_VERSION, "one size per version of nh_app_options");

int nh_app_options_init(nh_app_options *opts, unsigned int version) {
    return init_options(opts, version, nh_app_options NH_APP_OPTIONS_INIT, kAppOptionsSizes, "nh_app_options");
}

int nh_app_install(nh_buf *out, nh_client *client, const char *name, const char *source, const nh_app_options *opts) {
    return source_call(nh::app::install, out, client, name, source, opts);
}

int nh_app_upgrade(nh_buf *out, nh_client *client, const char *name, const char *source, const nh_app_options *opts) {
    return source_call(nh::app::upgrade, out, client, name, source, opts);
}

int nh_app_uninstall(nh_client *client, const char *name, const nh_app_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(name);
    if (!opts) opts = &kDefaults;
    if (int rc = check_version(opts->version, NH_APP_OPTIONS_VERSION, "nh_app_options")) return rc;
    return guard([&]() -> int {
        nh::app::uninstall(*client->impl, name, app_options(opts));
        return NH_OK;
    });
}

int nh_app_list(nh_buf *out, nh_client *client, const nh_app_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    if (!opts) opts = &kDefaults;
    if (int rc = check_version(opts->version, NH_APP_OPTIONS_VERSION, "nh_app_options")) return rc;
    return guard([&]() -> int {
        buf_set(out, nh::app::list(*client->impl, app_options(opts)).dump());
        return NH_OK;
    });
}

}  // extern "C"
