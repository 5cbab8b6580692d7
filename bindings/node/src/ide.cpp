// nh_association_* (the folder association store; synchronous: a small local file under a
// lock) and nh_dev_required_rights / nh_dev_access_check.
#include "client.hpp"

namespace nhnode {
namespace {

struct AssociationOptions {
    std::optional<std::string> store, namespace_name, container, kubeconfig, context;

    explicit AssociationOptions(const Napi::Value &o)
        : store(opt_string(option(o, "store"))),
          namespace_name(opt_string(option(o, "namespace"))),
          container(opt_string(option(o, "container"))),
          kubeconfig(opt_string(option(o, "kubeconfig"))),
          context(opt_string(option(o, "context"))) {}

    nh_association_options c() const {
        nh_association_options o = NH_ASSOCIATION_OPTIONS_INIT;
        o.store_path = nocalhost::c_str_or_null(store);
        o.namespace_name = nocalhost::c_str_or_null(namespace_name);
        o.container = nocalhost::c_str_or_null(container);
        o.kubeconfig = nocalhost::c_str_or_null(kubeconfig);
        o.context = nocalhost::c_str_or_null(context);
        return o;
    }
};

std::string arg(const Napi::CallbackInfo &info, size_t i) { return opt_string(info[i]).value_or(""); }

// associationSet(dir, kind, name, options) -> string (JSON)
Napi::Value association_set(const Napi::CallbackInfo &info) {
    AssociationOptions o(info[3]);
    nh_association_options c = o.c();
    nocalhost::Buffer out;
    check(info.Env(), nh_association_set(out.out(), arg(info, 0).c_str(), arg(info, 1).c_str(), arg(info, 2).c_str(), &c));
    return to_string(info.Env(), out);
}

// associationGet(dir, options) -> string (JSON) | null
Napi::Value association_get(const Napi::CallbackInfo &info) {
    AssociationOptions o(info[1]);
    nh_association_options c = o.c();
    nocalhost::Buffer out;
    int rc = nh_association_get(out.out(), arg(info, 0).c_str(), &c);
    if (rc == NH_ENOTFOUND) return info.Env().Null();
    check(info.Env(), rc);
    return to_string(info.Env(), out);
}

// associationFind(kind, name, options) -> string (JSON)
Napi::Value association_find(const Napi::CallbackInfo &info) {
    AssociationOptions o(info[2]);
    nh_association_options c = o.c();
    nocalhost::Buffer out;
    check(info.Env(), nh_association_find(out.out(), arg(info, 0).c_str(), arg(info, 1).c_str(), &c));
    return to_string(info.Env(), out);
}

// associationList(options) -> string (JSON)
Napi::Value association_list(const Napi::CallbackInfo &info) {
    AssociationOptions o(info[0]);
    nh_association_options c = o.c();
    nocalhost::Buffer out;
    check(info.Env(), nh_association_list(out.out(), &c));
    return to_string(info.Env(), out);
}

// associationRemove(dir, options) -> boolean (false: it had none)
Napi::Value association_remove(const Napi::CallbackInfo &info) {
    AssociationOptions o(info[1]);
    nh_association_options c = o.c();
    int rc = nh_association_remove(arg(info, 0).c_str(), &c);
    if (rc == NH_ENOTFOUND) return Napi::Boolean::New(info.Env(), false);
    check(info.Env(), rc);
    return Napi::Boolean::New(info.Env(), true);
}

// devRequiredRights / devAccessCheck(client, kind, name, options, cancel?) -> Promise<string> (JSON)
template <int (*Fn)(nh_buf *, nh_client *, const char *, const char *, const nh_dev_start_options *)>
Napi::Value dev_rights_call(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    struct Call {
        std::string kind, name;
        nocalhost::DevStartOptions options;
        nocalhost::Buffer out;
    };
    auto call = std::make_shared<Call>();
    call->kind = arg(info, 1);
    call->name = arg(info, 2);
    call->options = dev_start_options(info[3]);
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call](nh_cancel *t) {
            return Fn(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(), &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devConfigRead(client, kind, name, {namespace, app}, cancel?) -> Promise<string> (JSON)
// devConfigWrite(client, kind, name, config, {namespace, app, resourceVersion}, cancel?) -> Promise<string>
Napi::Value dev_config_call(const Napi::CallbackInfo &info, bool write) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    struct Call {
        std::string kind, name, config;
        std::optional<std::string> ns, app, resource_version;
        nocalhost::Buffer out;
    };
    auto call = std::make_shared<Call>();
    call->kind = arg(info, 1);
    call->name = arg(info, 2);
    const size_t at = write ? 4 : 3;
    if (write) call->config = arg(info, 3);
    call->ns = opt_string(option(info[at], "namespace"));
    call->app = opt_string(option(info[at], "app"));
    call->resource_version = opt_string(option(info[at], "resourceVersion"));
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[at + 1]),
        [client, call, write](nh_cancel *t) {
            nh_dev_config_options o = NH_DEV_CONFIG_OPTIONS_INIT;
            o.namespace_name = nocalhost::c_str_or_null(call->ns);
            o.app_name = nocalhost::c_str_or_null(call->app);
            o.resource_version = nocalhost::c_str_or_null(call->resource_version);
            o.cancel = t;
            return write ? nh_dev_config_write(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(),
                                               call->config.c_str(), &o)
                         : nh_dev_config_read(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(), &o);
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devProfileGet(kind, name, {store, namespace, context}) -> string (JSON) | null
// devProfileSet(kind, name, {store, namespace, context, image, container, workdir}) -> string (JSON)
Napi::Value dev_profile_call(const Napi::CallbackInfo &info, bool set) {
    const Napi::Value &o = info[2];
    auto store = opt_string(option(o, "store")), ns = opt_string(option(o, "namespace")),
         context = opt_string(option(o, "context")), image = opt_string(option(o, "image")),
         container = opt_string(option(o, "container")), workdir = opt_string(option(o, "workdir"));
    nh_dev_profile_options po = NH_DEV_PROFILE_OPTIONS_INIT;
    po.store_path = nocalhost::c_str_or_null(store);
    po.namespace_name = nocalhost::c_str_or_null(ns);
    po.context = nocalhost::c_str_or_null(context);
    po.image = nocalhost::c_str_or_null(image);
    po.container = nocalhost::c_str_or_null(container);
    po.workdir = nocalhost::c_str_or_null(workdir);
    nocalhost::Buffer out;
    int rc = set ? nh_dev_profile_set(out.out(), arg(info, 0).c_str(), arg(info, 1).c_str(), &po)
                 : nh_dev_profile_get(out.out(), arg(info, 0).c_str(), arg(info, 1).c_str(), &po);
    if (!set && rc == NH_ENOTFOUND) return info.Env().Null();
    check(info.Env(), rc);
    return to_string(info.Env(), out);
}

}  // namespace

void init_ide(Napi::Env env, Napi::Object exports) {
    exports.Set("associationSet", Napi::Function::New(env, association_set));
    exports.Set("associationGet", Napi::Function::New(env, association_get));
    exports.Set("associationFind", Napi::Function::New(env, association_find));
    exports.Set("associationList", Napi::Function::New(env, association_list));
    exports.Set("associationRemove", Napi::Function::New(env, association_remove));
    exports.Set("devRequiredRights", Napi::Function::New(env, dev_rights_call<nh_dev_required_rights>));
    exports.Set("devAccessCheck", Napi::Function::New(env, dev_rights_call<nh_dev_access_check>));
    exports.Set("devConfigRead", Napi::Function::New(env, [](const Napi::CallbackInfo &i) { return dev_config_call(i, false); }));
    exports.Set("devConfigWrite", Napi::Function::New(env, [](const Napi::CallbackInfo &i) { return dev_config_call(i, true); }));
    exports.Set("devProfileGet", Napi::Function::New(env, [](const Napi::CallbackInfo &i) { return dev_profile_call(i, false); }));
    exports.Set("devProfileSet", Napi::Function::New(env, [](const Napi::CallbackInfo &i) { return dev_profile_call(i, true); }));
}

}  // namespace nhnode
