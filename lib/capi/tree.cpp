// nh_tree_* and nh_pod_logs*: the workload tree, its watch, and pod logs.
#include <iterator>

#include "capi/capi.hpp"
#include "capi/client.hpp"
#include "tree/logs.hpp"
#include "tree/tree.hpp"
#include "tree/watch.hpp"

using namespace nh::capi;
using json = nlohmann::json;

namespace {

nh::tree::Options tree_options(nh_client *client, const nh_tree_options *o) {
    nh::tree::Options t;
    t.ns = o->namespace_name ? o->namespace_name : client->impl->ns();
    t.all_namespaces = o->all_namespaces != 0;
    for (size_t i = 0; o->kinds && i < o->kinds_count; ++i) {
        if (!o->kinds[i]) throw nh::Error(NH_EINVAL, "invalid argument: kinds[" + std::to_string(i) + "] is NULL");
        nh::dev::Kind k = nh::dev::parse_kind(o->kinds[i]);
        if (k == nh::dev::Kind::Custom)
            throw nh::Error(NH_EINVAL, std::string("the tree does not list custom kinds ('") + o->kinds[i] + "')");
        t.kinds.push_back(k);
    }
    if (o->label_selector) t.label_selector = o->label_selector;
    t.cancel = token_of(o->cancel);
    return t;
}

nh::tree::LogOptions log_options(const nh_pod_logs_options *o) {
    nh::tree::LogOptions l;
    if (o->container) l.container = o->container;
    l.follow = o->follow != 0;
    l.tail_lines = o->tail_lines;
    l.since_seconds = o->since_seconds;
    l.previous = o->previous != 0;
    l.timestamps = o->timestamps != 0;
    l.cancel = token_of(o->cancel);
    return l;
}

std::string ns_of(nh_client *client, const nh_pod_logs_options *o) {
    return o->namespace_name ? o->namespace_name : client->impl->ns();
}

}  // namespace

extern "C" {

static constexpr std::size_t kTreeOptionsSizes[] = {sizeof(nh_tree_options)};
static_assert(std::size(kTreeOptionsSizes) == NH_TREE_OPTIONS_VERSION, "one size per version of nh_tree_options");

int nh_tree_options_init(nh_tree_options *opts, unsigned int version) {
    return init_options(opts, version, nh_tree_options NH_TREE_OPTIONS_INIT, kTreeOptionsSizes, "nh_tree_options");
}

int nh_tree_list(nh_buf *out, nh_client *client, const nh_tree_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    nh_tree_options defaults = NH_TREE_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_TREE_OPTIONS_VERSION, "nh_tree_options")) return rc;
    return guard([&]() -> int {
        json tree = nh::tree::list(*client->impl, tree_options(client, opts));
        buf_set(out, tree.dump());
        return NH_OK;
    });
}

int nh_tree_watch(nh_client *client, const nh_tree_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(opts);
    if (int rc = check_version(opts->version, NH_TREE_OPTIONS_VERSION, "nh_tree_options")) return rc;
    NH_CHECK_ARG(opts->callback);
    return guard([&]() -> int {
        bool stopped = false;
        nh::tree::watch(*client->impl, tree_options(client, opts), [&](int type, const json &entry) {
            std::string text = entry.dump();
            if (opts->callback(type, text.c_str(), text.size(), opts->payload) == 0) return true;
            stopped = true;
            return false;
        });
        if (stopped) return set_error(NH_ECANCELLED, "tree watch stopped by its callback");
        return NH_OK;
    });
}

static constexpr std::size_t kPodLogsOptionsSizes[] = {sizeof(nh_pod_logs_options)};
static_assert(std::size(kPodLogsOptionsSizes) == NH_POD_LOGS_OPTIONS_VERSION,
              "one size per version of nh_pod_logs_options");

int nh_pod_logs_options_init(nh_pod_logs_options *opts, unsigned int version) {
    return init_options(opts, version, nh_pod_logs_options NH_POD_LOGS_OPTIONS_INIT, kPodLogsOptionsSizes,
                        "nh_pod_logs_options");
}

int nh_pod_logs_resolve(nh_buf *out, nh_client *client, const char *target, const nh_pod_logs_options *opts) {
    NH_CHECK_ARG(out);
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target);
    nh_pod_logs_options defaults = NH_POD_LOGS_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_POD_LOGS_OPTIONS_VERSION, "nh_pod_logs_options")) return rc;
    return guard([&]() -> int {
        size_t count = 0;
        json pod = nh::tree::log_pod(*client->impl, ns_of(client, opts), target, token_of(opts->cancel), &count);
        buf_set(out, nh::tree::log_target(pod, count, opts->container ? opts->container : "").dump());
        return NH_OK;
    });
}

int nh_pod_logs(nh_buf *out_pod, nh_client *client, const char *target, const nh_pod_logs_options *opts) {
    NH_CHECK_ARG(client);
    NH_CHECK_ARG(target);
    NH_CHECK_ARG(opts);
    if (int rc = check_version(opts->version, NH_POD_LOGS_OPTIONS_VERSION, "nh_pod_logs_options")) return rc;
    NH_CHECK_ARG(opts->callback);
    return guard([&]() -> int {
        json pod = nh::tree::log_pod(*client->impl, ns_of(client, opts), target, token_of(opts->cancel));
        if (out_pod) buf_set(out_pod, pod["metadata"].value("name", ""));
        bool stopped = false;
        nh::tree::stream_logs(*client->impl, pod, log_options(opts), [&](std::string_view line) {
            std::string text(line);
            if (opts->callback(text.c_str(), text.size(), opts->payload) == 0) return true;
            stopped = true;
            return false;
        });
        if (stopped) return set_error(NH_ECANCELLED, "logs stopped by their callback");
        return NH_OK;
    });
}

}  // extern "C"
