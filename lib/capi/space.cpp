// nh_space_*: dev spaces.
#include <iterator>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "space/space.hpp"

using namespace nh::capi;
using json = nlohmann::json;

namespace {

nh::space::Options space_options(const nh_space_options *o) {
    nh::space::Options s;
    if (o->developer) s.developer = o->developer;
    s.existing_namespace = o->existing_namespace != 0;
    if (o->cpu) s.quota.cpu = o->cpu;
    if (o->memory) s.quota.memory = o->memory;
    if (o->storage) s.quota.storage = o->storage;
    if (o->pods < 0) throw nh::Error(NH_EINVAL, "invalid argument: pods must be 0 (no limit) or more");
    s.quota.pods = o->pods;
    if (o->extra_rules_json) {
        try {
            s.extra_rules = json::parse(o->extra_rules_json);
        } catch (const json::exception &e) {
            throw nh::Error(NH_EINVAL, std::string("invalid argument: extra_rules_json is not JSON: ") + e.what());
        }
    }
    if (o->token_seconds < 0) throw nh::Error(NH_EINVAL, "invalid argument: token_seconds must be 0 (24 hours) or more");
    s.token_seconds = o->token_seconds;
    s.revoke = o->revoke != 0;
    s.cancel = token_of(o->cancel);
    return s;
}

json access_json(const nh::space::Access &a, const std::string &ns) {
    return {{"developer", a.developer},
            {"service_account", a.service_account},
            {"namespace", ns},
            {"kubeconfig", a.kubeconfig},
            {"expires", a.expires}};
}

using AccessCall = nh::space::Access (*)(nh::kube::Client &, const std::string &, const nh::space::Options &);

int access_call(AccessCall call, nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(name);
    NH_CHECK_ARG(opts);
    if (int rc = check_version(opts->version, NH_SPACE_OPTIONS_VERSION, "nh_space_options")) return rc;
    return guard([&]() -> int {
        nh::space::Access a = call(*client->impl, name, space_options(opts));
        buf_set(out, access_json(a, name).dump());
        return NH_OK;
    });
}

}  // namespace

extern "C" {

static constexpr std::size_t kSpaceOptionsSizes[] = {sizeof(nh_space_options)};
static_assert(std::size(kSpaceOptionsSizes) == NH_SPACE_OPTIONS_VERSION, "one size per version of nh_space_options");

int nh_space_options_init(nh_space_options *opts, unsigned int version) {
    return init_options(opts, version, nh_space_options NH_SPACE_OPTIONS_INIT, kSpaceOptionsSizes, "nh_space_options");
}

int nh_space_create(nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts) {
    return access_call(nh::space::create, out, client, name, opts);
}

int nh_space_share(nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts) {
    return access_call(nh::space::share, out, client, name, opts);
}

int nh_space_renew(nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts) {
    return access_call(nh::space::renew, out, client, name, opts);
}

int nh_space_list(nh_buf *out, nh_client *client, const nh_space_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    nh_space_options defaults = NH_SPACE_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_SPACE_OPTIONS_VERSION, "nh_space_options")) return rc;
    return guard([&]() -> int {
        buf_set(out, nh::space::list(*client->impl, opts->developer ? opts->developer : "", token_of(opts->cancel)).dump());
        return NH_OK;
    });
}

int nh_space_delete(nh_client *client, const char *name, const nh_space_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(name);
    nh_space_options defaults = NH_SPACE_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_SPACE_OPTIONS_VERSION, "nh_space_options")) return rc;
    return guard([&]() -> int {
        nh::space::remove(*client->impl, name, opts->developer ? opts->developer : "", token_of(opts->cancel));
        return NH_OK;
    });
}

}  // extern "C"
