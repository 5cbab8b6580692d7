// nh_space_* (dev spaces) and nh_app_* (applications): each call a Promise of its JSON text.
#include "client.hpp"

namespace nhnode {
namespace {

std::string arg(const Napi::CallbackInfo &info, size_t i) { return opt_string(info[i]).value_or(""); }

// The options builder read from a JS options object, then `fn` run on the worker with the
// client, the options' C struct and the call's cancel token; resolves to the output text (or
// undefined for a call with none).
template <class Options, class Fn>
Napi::Value start(const Napi::CallbackInfo &info, size_t options_at, Fn fn) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    struct Call {
        Options options;
        nocalhost::Buffer out;
    };
    auto call = std::make_shared<Call>();
    call->options.visit(ObjectReader{info[options_at]});
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[options_at + 1]),
        [client, call, fn](nh_cancel *t) { return fn(call->out.out(), client.get(), call->options.c(t)); },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// spaceCreate / spaceShare / spaceRenew(client, name, options, cancel?) -> Promise<string> (JSON)
template <int (*Fn)(nh_buf *, nh_client *, const char *, const nh_space_options *)>
Napi::Value space_access(const Napi::CallbackInfo &info) {
    std::string name = arg(info, 1);
    return start<nocalhost::SpaceOptions>(
        info, 2, [name](nh_buf *out, nh_client *c, const nh_space_options &o) { return Fn(out, c, name.c_str(), &o); });
}

// spaceList(client, options, cancel?) -> Promise<string> (JSON)
Napi::Value space_list(const Napi::CallbackInfo &info) {
    return start<nocalhost::SpaceOptions>(
        info, 1, [](nh_buf *out, nh_client *c, const nh_space_options &o) { return nh_space_list(out, c, &o); });
}

// spaceDelete(client, name, options, cancel?) -> Promise<string> ("")
Napi::Value space_delete(const Napi::CallbackInfo &info) {
    std::string name = arg(info, 1);
    return start<nocalhost::SpaceOptions>(
        info, 2, [name](nh_buf *, nh_client *c, const nh_space_options &o) { return nh_space_delete(c, name.c_str(), &o); });
}

// appInstall / appUpgrade(client, name, source, options, cancel?) -> Promise<string> (JSON)
template <int (*Fn)(nh_buf *, nh_client *, const char *, const char *, const nh_app_options *)>
Napi::Value app_source(const Napi::CallbackInfo &info) {
    std::string name = arg(info, 1), source = arg(info, 2);
    return start<nocalhost::AppOptions>(info, 3, [name, source](nh_buf *out, nh_client *c, const nh_app_options &o) {
        return Fn(out, c, name.c_str(), source.c_str(), &o);
    });
}

// appList(client, options, cancel?) -> Promise<string> (JSON)
Napi::Value app_list(const Napi::CallbackInfo &info) {
    return start<nocalhost::AppOptions>(
        info, 1, [](nh_buf *out, nh_client *c, const nh_app_options &o) { return nh_app_list(out, c, &o); });
}

// appUninstall(client, name, options, cancel?) -> Promise<string> ("")
Napi::Value app_uninstall(const Napi::CallbackInfo &info) {
    std::string name = arg(info, 1);
    return start<nocalhost::AppOptions>(
        info, 2, [name](nh_buf *, nh_client *c, const nh_app_options &o) { return nh_app_uninstall(c, name.c_str(), &o); });
}

}  // namespace

void init_space(Napi::Env env, Napi::Object exports) {
    exports.Set("spaceCreate", Napi::Function::New(env, space_access<nh_space_create>));
    exports.Set("spaceShare", Napi::Function::New(env, space_access<nh_space_share>));
    exports.Set("spaceRenew", Napi::Function::New(env, space_access<nh_space_renew>));
    exports.Set("spaceList", Napi::Function::New(env, space_list));
    exports.Set("spaceDelete", Napi::Function::New(env, space_delete));
    exports.Set("appInstall", Napi::Function::New(env, app_source<nh_app_install>));
    exports.Set("appUpgrade", Napi::Function::New(env, app_source<nh_app_upgrade>));
    exports.Set("appList", Napi::Function::New(env, app_list));
    exports.Set("appUninstall", Napi::Function::New(env, app_uninstall));
}

}  // namespace nhnode
