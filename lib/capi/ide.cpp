// nh_association_* (which workload a local directory belongs to), nh_dev_config_read/write (the dev
// config written back to the cluster) and nh_dev_profile_* (what the user chose per workload).
#include <iterator>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "dev/config_write.hpp"
#include "dev/session.hpp"
#include "ide/associations.hpp"
#include "ide/profiles.hpp"

using namespace nh::capi;
using json = nlohmann::json;

namespace {

std::string text(const char *s) { return s ? s : ""; }

nh::ide::Associations store_of(const nh_association_options *o) { return nh::ide::Associations(text(o->store_path)); }

}  // namespace

extern "C" {

static constexpr std::size_t kAssociationOptionsSizes[] = {sizeof(nh_association_options)};
static_assert(std::size(kAssociationOptionsSizes) == NH_ASSOCIATION_OPTIONS_VERSION,
              "one size per version of nh_association_options");

int nh_association_options_init(nh_association_options *opts, unsigned int version) {
    return init_options(opts, version, nh_association_options NH_ASSOCIATION_OPTIONS_INIT, kAssociationOptionsSizes,
                        "nh_association_options");
}

#define NH_ASSOCIATION_OPTS(opts)                                                                         \
    nh_association_options defaults_ = NH_ASSOCIATION_OPTIONS_INIT;                                       \
    if (!(opts)) (opts) = &defaults_;                                                                     \
    if (int rc = check_version((opts)->version, NH_ASSOCIATION_OPTIONS_VERSION, "nh_association_options")) \
        return rc

int nh_association_set(nh_buf *out, const char *dir, const char *kind, const char *name,
                       const nh_association_options *opts) {
    NH_CHECK_ARG(dir);
    NH_CHECK_ARG(kind);
    NH_CHECK_ARG(name);
    NH_ASSOCIATION_OPTS(opts);
    return guard([&]() -> int {
        nh::ide::Association a{dir, text(opts->namespace_name), kind, name, text(opts->container),
                               text(opts->kubeconfig), text(opts->context)};
        json entry = store_of(opts).set(a);
        if (out) buf_set(out, entry.dump());
        return NH_OK;
    });
}

int nh_association_get(nh_buf *out, const char *dir, const nh_association_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(dir);
    NH_ASSOCIATION_OPTS(opts);
    return guard([&]() -> int {
        json entry = store_of(opts).get(dir);
        if (entry.is_null())
            return set_error(NH_ENOTFOUND, std::string("no association for ") + nh::ide::resolve_dir(dir) +
                                               " or any directory above it");
        buf_set(out, entry.dump());
        return NH_OK;
    });
}

int nh_association_find(nh_buf *out, const char *kind, const char *name, const nh_association_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(kind);
    NH_CHECK_ARG(name);
    NH_ASSOCIATION_OPTS(opts);
    return guard([&]() -> int {
        nh::ide::Association w{"", text(opts->namespace_name), kind, name, "", text(opts->kubeconfig),
                               text(opts->context)};
        buf_set(out, store_of(opts).find(w).dump());
        return NH_OK;
    });
}

int nh_association_list(nh_buf *out, const nh_association_options *opts) {
    NH_CHECK_ARG(out);
    NH_ASSOCIATION_OPTS(opts);
    return guard([&]() -> int {
        buf_set(out, store_of(opts).list().dump());
        return NH_OK;
    });
}

int nh_association_remove(const char *dir, const nh_association_options *opts) {
    NH_CHECK_ARG(dir);
    NH_ASSOCIATION_OPTS(opts);
    return guard([&]() -> int {
        if (!store_of(opts).remove(dir))
            return set_error(NH_ENOTFOUND, "no association for " + nh::ide::resolve_dir(dir));
        return NH_OK;
    });
}

}  // extern "C"

namespace {

nh::dev::ConfigTarget config_target(nh_client *client, const char *kind, const char *name,
                                    const nh_dev_config_options *o) {
    nh::dev::ConfigTarget t;
    t.kind = nh::dev::parse_workload_kind(kind);
    t.name = name;
    t.ns = o->namespace_name ? o->namespace_name : client->impl->ns();
    t.app = text(o->app_name);
    nh::dev::resolve_kind(*client->impl, t.kind, token_of(o->cancel));
    return t;
}

nh::ide::Profile profile_of(const char *kind, const char *name, const nh_dev_profile_options *o) {
    return {text(o->context), text(o->namespace_name), kind, name, text(o->image), text(o->container), text(o->workdir)};
}

}  // namespace

extern "C" {

static constexpr std::size_t kDevConfigOptionsSizes[] = {sizeof(nh_dev_config_options)};
static_assert(std::size(kDevConfigOptionsSizes) == NH_DEV_CONFIG_OPTIONS_VERSION,
              "one size per version of nh_dev_config_options");

int nh_dev_config_options_init(nh_dev_config_options *opts, unsigned int version) {
    return init_options(opts, version, nh_dev_config_options NH_DEV_CONFIG_OPTIONS_INIT, kDevConfigOptionsSizes,
                        "nh_dev_config_options");
}

#define NH_DEV_CONFIG_ARGS(opts)                                                                        \
    NH_CHECK_ARG(client);                                                                                \
    NH_CHECK_ARG(kind && *kind);                                                                         \
    NH_CHECK_ARG(name && *name);                                                                         \
    nh_dev_config_options defaults_ = NH_DEV_CONFIG_OPTIONS_INIT;                                        \
    if (!(opts)) (opts) = &defaults_;                                                                    \
    if (int rc = check_version((opts)->version, NH_DEV_CONFIG_OPTIONS_VERSION, "nh_dev_config_options")) \
        return rc

int nh_dev_config_read(nh_buf *out, nh_client *client, const char *kind, const char *name,
                       const nh_dev_config_options *opts) {
    NH_CHECK_ARG(out);
    NH_DEV_CONFIG_ARGS(opts);
    return guard([&]() -> int {
        auto t = config_target(client, kind, name, opts);
        buf_set(out, nh::dev::read_dev_config(*client->impl, t, token_of(opts->cancel)).dump());
        return NH_OK;
    });
}

int nh_dev_config_write(nh_buf *out, nh_client *client, const char *kind, const char *name, const char *config,
                        const nh_dev_config_options *opts) {
    NH_CHECK_ARG(config);
    NH_DEV_CONFIG_ARGS(opts);
    return guard([&]() -> int {
        auto t = config_target(client, kind, name, opts);
        json now = nh::dev::write_dev_config(*client->impl, t, config, text(opts->resource_version), token_of(opts->cancel));
        if (out) buf_set(out, now.dump());
        return NH_OK;
    });
}

static constexpr std::size_t kDevProfileOptionsSizes[] = {sizeof(nh_dev_profile_options)};
static_assert(std::size(kDevProfileOptionsSizes) == NH_DEV_PROFILE_OPTIONS_VERSION,
              "one size per version of nh_dev_profile_options");

int nh_dev_profile_options_init(nh_dev_profile_options *opts, unsigned int version) {
    return init_options(opts, version, nh_dev_profile_options NH_DEV_PROFILE_OPTIONS_INIT, kDevProfileOptionsSizes,
                        "nh_dev_profile_options");
}

#define NH_DEV_PROFILE_ARGS(opts)                                                                         \
    NH_CHECK_ARG(kind && *kind);                                                                           \
    NH_CHECK_ARG(name && *name);                                                                           \
    nh_dev_profile_options defaults_ = NH_DEV_PROFILE_OPTIONS_INIT;                                        \
    if (!(opts)) (opts) = &defaults_;                                                                      \
    if (int rc = check_version((opts)->version, NH_DEV_PROFILE_OPTIONS_VERSION, "nh_dev_profile_options")) \
        return rc

int nh_dev_profile_set(nh_buf *out, const char *kind, const char *name, const nh_dev_profile_options *opts) {
    NH_DEV_PROFILE_ARGS(opts);
    return guard([&]() -> int {
        json entry = nh::ide::Profiles(text(opts->store_path)).set(profile_of(kind, name, opts));
        if (out) buf_set(out, entry.dump());
        return NH_OK;
    });
}

int nh_dev_profile_get(nh_buf *out, const char *kind, const char *name, const nh_dev_profile_options *opts) {
    NH_CHECK_ARG(out);
    NH_DEV_PROFILE_ARGS(opts);
    return guard([&]() -> int {
        json entry = nh::ide::Profiles(text(opts->store_path)).get(profile_of(kind, name, opts));
        if (entry.is_null())
            return set_error(NH_ENOTFOUND, std::string("no dev profile for ") + kind + "/" + name);
        buf_set(out, entry.dump());
        return NH_OK;
    });
}

}  // extern "C"
