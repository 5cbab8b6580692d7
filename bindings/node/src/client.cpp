// nh_client_*: the cluster client, raw requests, the server version, watches.
#include "client.hpp"

namespace nhnode {

void Client::Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "Client",
                                     {
                                         InstanceMethod<&Client::close>("close"),
                                         InstanceAccessor<&Client::closed>("closed"),
                                         InstanceAccessor<&Client::ns>("namespace"),
                                         InstanceAccessor<&Client::server>("server"),
                                         InstanceAccessor<&Client::context>("context"),
                                         InstanceMethod<&Client::server_version>("serverVersion"),
                                         InstanceMethod<&Client::request>("request"),
                                         InstanceMethod<&Client::watch>("watch"),
                                     });
    data(env).client_class = Napi::Persistent(cls);
    exports.Set("Client", cls);
}

Client *Client::From(const Napi::Value &v) {
    Napi::Env env = v.Env();
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data(env).client_class.Value()))
        throw_error(env, NH_EINVAL, "expected a native Client");
    return Unwrap(v.As<Napi::Object>());
}

// new Client({kubeconfig, context, namespace, timeoutMs, maxRetries, userAgent})
Client::Client(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Client>(info) {
    Napi::Env env = info.Env();
    Napi::Value o = info[0];
    auto kubeconfig = opt_string(option(o, "kubeconfig"));
    auto context = opt_string(option(o, "context"));
    auto ns = opt_string(option(o, "namespace"));
    auto user_agent = opt_string(option(o, "userAgent"));
    nh_client_options opts = NH_CLIENT_OPTIONS_INIT;
    opts.kubeconfig = c_str_or_null(kubeconfig);
    opts.context = c_str_or_null(context);
    opts.namespace_name = c_str_or_null(ns);
    opts.timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    opts.max_retries = static_cast<int>(opt_int(option(o, "maxRetries"), -1));
    opts.user_agent = c_str_or_null(user_agent);
    nocalhost::ClientHandle raw;
    // A kubeconfig held in memory (kubeconfigData) or files; either reads files only: no need to leave the thread.
    auto data = opt_string(option(o, "kubeconfigData"));
    if (data)
        check(env, nh_client_new_from_data(raw.out(), data->data(), data->size(), &opts));
    else
        check(env, nh_client_new(raw.out(), &opts));
    handle_.set(raw.release());
}

Napi::Value Client::close(const Napi::CallbackInfo &info) {
    handle_.close();
    return info.Env().Undefined();
}

Napi::Value Client::closed(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), handle_.closed()); }

Napi::Value Client::ns(const Napi::CallbackInfo &info) {
    return Napi::String::New(info.Env(), nh_client_namespace(get(info.Env()).get()));
}

Napi::Value Client::server(const Napi::CallbackInfo &info) {
    return Napi::String::New(info.Env(), nh_client_server(get(info.Env()).get()));
}

Napi::Value Client::context(const Napi::CallbackInfo &info) {
    return Napi::String::New(info.Env(), nh_client_context(get(info.Env()).get()));
}

// serverVersion(cancel?) -> Promise<string>
Napi::Value Client::server_version(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto client = get(env);
    auto out = std::make_shared<nocalhost::Buffer>();
    return CallWorker::Start(
        env, handle_.inflight(), Cancel::From(info[0]),
        [client, out](nh_cancel *t) { return nh_client_server_version(out->out(), client.get(), t); },
        [out](Napi::Env e) -> Napi::Value { return to_string(e, *out); });
}

namespace {
struct RequestCall {
    std::string method, path;
    std::optional<std::string> body, content_type;
    long timeout_ms = 0;
    nocalhost::Buffer out;
    int status = 0;
};
}  // namespace

// request({method, path, body, contentType, timeoutMs}, cancel?) -> Promise<{status, body}>
Napi::Value Client::request(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto client = get(env);
    auto call = std::make_shared<RequestCall>();
    Napi::Value o = info[0];
    call->method = opt_string(option(o, "method")).value_or("GET");
    call->path = opt_string(option(o, "path")).value_or("");
    Napi::Value body = option(o, "body");
    if (body.IsBuffer()) {
        auto b = body.As<Napi::Buffer<char>>();
        call->body = std::string(b.Data(), b.Length());
    } else {
        call->body = opt_string(body);
    }
    call->content_type = opt_string(option(o, "contentType"));
    call->timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    return CallWorker::Start(
        env, handle_.inflight(), Cancel::From(info[1]),
        [client, call](nh_cancel *t) {
            nh_request_options r = NH_REQUEST_OPTIONS_INIT;
            r.method = call->method.c_str();
            r.path = call->path.c_str();
            if (call->body) {
                r.body = call->body->data();
                r.body_len = call->body->size();
            }
            r.content_type = c_str_or_null(call->content_type);
            r.timeout_ms = call->timeout_ms;
            r.cancel = t;
            return nh_client_request(call->out.out(), &call->status, client.get(), &r);
        },
        [call](Napi::Env e) -> Napi::Value {
            Napi::Object result = Napi::Object::New(e);
            result.Set("status", Napi::Number::New(e, call->status));
            result.Set("body", to_string(e, call->out));
            return result;
        });
}

namespace {
struct WatchCall {
    std::string path;
    std::optional<std::string> resource_version, label_selector, field_selector;
    long duration_ms = 0;
};

int watch_trampoline(int type, const char *object, size_t len, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    return emit(StreamEvent{type, std::string(object, len), {}}) ? 0 : 1;
}
}  // namespace

// watch(path, {resourceVersion, labelSelector, fieldSelector, durationMs}, cancel?, onEvent(type, json))
//   -> Promise<void>, settled when the watch ends
Napi::Value Client::watch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto client = get(env);
    auto call = std::make_shared<WatchCall>();
    call->path = opt_string(info[0]).value_or("");
    Napi::Value o = info[1];
    call->resource_version = opt_string(option(o, "resourceVersion"));
    call->label_selector = opt_string(option(o, "labelSelector"));
    call->field_selector = opt_string(option(o, "fieldSelector"));
    call->duration_ms = static_cast<long>(opt_int(option(o, "durationMs"), 0));
    if (!info[3].IsFunction()) throw_error(env, NH_EINVAL, "onEvent must be a function");
    return StreamCall::Start(
        env, "nocalhost-watch", handle_.inflight(), Cancel::From(info[2]), info[3].As<Napi::Function>(), false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            nh_watch_options w = NH_WATCH_OPTIONS_INIT;
            w.path = call->path.c_str();
            w.resource_version = c_str_or_null(call->resource_version);
            w.label_selector = c_str_or_null(call->label_selector);
            w.field_selector = c_str_or_null(call->field_selector);
            w.duration_ms = call->duration_ms;
            w.cancel = t;
            w.callback = watch_trampoline;
            w.payload = const_cast<StreamCall::Emit *>(&emit);
            return nh_client_watch(client.get(), &w);
        });
}

}  // namespace nhnode
