// nh_dev_env: a workload container's environment as the kubelet resolves it.
#include <iterator>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "dev/env.hpp"

using namespace nh::capi;

extern "C" {

static constexpr std::size_t kDevEnvOptionsSizes[] = {sizeof(nh_dev_env_options)};
static_assert(std::size(kDevEnvOptionsSizes) == NH_DEV_ENV_OPTIONS_VERSION, "one size per version of nh_dev_env_options");

int nh_dev_env_options_init(nh_dev_env_options *opts, unsigned int version) {
    return init_options(opts, version, nh_dev_env_options NH_DEV_ENV_OPTIONS_INIT, kDevEnvOptionsSizes,
                        "nh_dev_env_options");
}

int nh_dev_env(nh_buf *out, nh_client *client, const char *kind, const char *name, const nh_dev_env_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(kind && *kind);
    NH_CHECK_ARG(name && *name);
    nh_dev_env_options defaults = NH_DEV_ENV_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_DEV_ENV_OPTIONS_VERSION, "nh_dev_env_options")) return rc;
    if (opts->format != NH_DEV_ENV_JSON && opts->format != NH_DEV_ENV_DOTENV)
        return set_error(NH_EINVAL, "invalid argument: format " + std::to_string(opts->format) +
                                        " (NH_DEV_ENV_JSON or NH_DEV_ENV_DOTENV)");
    return guard([&]() -> int {
        nh::dev::EnvOptions o;
        o.kind = nh::dev::parse_workload_kind(kind);
        o.name = name;
        o.ns = opts->namespace_name ? opts->namespace_name : client->impl->ns();
        if (opts->container) o.container = opts->container;
        o.secrets = opts->include_secrets != 0;
        o.cancel = token_of(opts->cancel);
        auto resolved = nh::dev::resolve_env(*client->impl, o);
        buf_set(out, opts->format == NH_DEV_ENV_DOTENV ? nh::dev::env_dotenv(resolved) : resolved.dump());
        return NH_OK;
    });
}

}  // extern "C"
