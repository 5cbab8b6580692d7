// nh_dev_* and nh_session_*: dev mode start/end/status/list/attach and sessions.
#include "dev.hpp"

#include "client.hpp"

namespace nhnode {

// The options of a start (and of nh_dev_config_resolve, the rights), read from the JS options
// object (lib/index.js has turned resources, patches and persistentDirs into JSON text).
nocalhost::DevStartOptions dev_start_options(const Napi::Value &o) {
    nocalhost::DevStartOptions d;
    d.visit(ObjectReader{o});
    return d;
}

namespace {

int dev_event_trampoline(int type, const char *phase, const char *message, const char *detail, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    StreamEvent ev{type, phase, {std::string(message), detail ? std::optional<std::string>(detail) : std::nullopt}};
    return emit(std::move(ev)) ? 0 : 1;
}


struct DevStartCall {
    std::string kind, name;
    nocalhost::DevStartOptions options;
    nh_session *result = nullptr;
};

struct DevEndCall {
    std::string kind, name;
    nocalhost::DevEndOptions options;
    int result = 0;
};

Napi::Value new_session(Napi::Env env, nh_session *raw) {
    return data(env).session_class.New({Napi::External<nh_session>::New(env, raw)});
}

Napi::Function on_event_or_noop(Napi::Env env, const Napi::Value &v) {
    if (v.IsFunction()) return v.As<Napi::Function>();
    return Napi::Function::New(env, [](const Napi::CallbackInfo &info) { return info.Env().Undefined(); });
}

// devStart(client, kind, name, options, cancel?, onEvent(type, phase, message, detail)?) -> Promise<Session>
Napi::Value dev_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<DevStartCall>();
    call->kind = opt_string(info[1]).value_or("");
    call->name = opt_string(info[2]).value_or("");
    Napi::Value o = info[3];
    call->options = dev_start_options(o);
    call->options.local_dir = opt_string(option(o, "localDir"));
    call->options.sync = sync_options(option(o, "sync"));
    return StreamCall::Start(
        env, "nocalhost-dev-start", c->handle().inflight(), Cancel::From(info[4]), on_event_or_noop(env, info[5]),
        false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            call->options.events = dev_event_trampoline;
            call->options.payload = const_cast<StreamCall::Emit *>(&emit);
            // The session's sync reports no events here: they would outlive this call (see Session.startSync).
            return nh_dev_start(&call->result, client.get(), call->kind.c_str(), call->name.c_str(),
                                &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value {
            nh_session *raw = call->result;
            call->result = nullptr;
            return new_session(e, raw);
        });
}

// devEnd(client, kind, name, options, cancel?, onEvent?) -> Promise<number>
Napi::Value dev_end(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<DevEndCall>();
    call->kind = opt_string(info[1]).value_or("");
    call->name = opt_string(info[2]).value_or("");
    call->options.visit(ObjectReader{info[3]});
    return StreamCall::Start(
        env, "nocalhost-dev-end", c->handle().inflight(), Cancel::From(info[4]), on_event_or_noop(env, info[5]),
        false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            call->options.events = dev_event_trampoline;
            call->options.payload = const_cast<StreamCall::Emit *>(&emit);
            return nh_dev_end(&call->result, client.get(), call->kind.c_str(), call->name.c_str(),
                              &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, call->result); });
}

struct QueryCall {
    std::string kind, name;
    nocalhost::DevQueryOptions options;
    std::optional<std::string> claim;
    nocalhost::Buffer out;
    nocalhost::SessionHandle session;
};

std::shared_ptr<QueryCall> query(const Napi::CallbackInfo &info, bool named) {
    auto call = std::make_shared<QueryCall>();
    size_t i = 1;
    if (named) {
        call->kind = opt_string(info[1]).value_or("");
        call->name = opt_string(info[2]).value_or("");
        i = 3;
    }
    call->options.visit(ObjectReader{info[i]});
    call->claim = opt_string(option(info[i], "claim"));
    return call;
}

// devStatus(client, kind, name, {namespace}, cancel?) -> Promise<string>
Napi::Value dev_status(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call](nh_cancel *t) {
            return nh_dev_status(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(), &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devList(client, {namespace, allNamespaces}, cancel?) -> Promise<string>
Napi::Value dev_list(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, false);
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[2]),
        [client, call](nh_cancel *t) {
            return nh_dev_list(call->out.out(), client.get(), &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devAttach(client, kind, name, {namespace}, cancel?) -> Promise<Session>
Napi::Value dev_attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call](nh_cancel *t) {
            return nh_dev_attach(call->session.out(), client.get(), call->kind.c_str(), call->name.c_str(),
                                 &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return new_session(e, call->session.release()); });
}

// devConfigResolve(client, kind, name, options, cancel?) -> Promise<string>
Napi::Value dev_config_resolve(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    struct ResolveCall {
        std::string kind, name;
        nocalhost::DevStartOptions options;
        nocalhost::Buffer out;
    };
    auto call = std::make_shared<ResolveCall>();
    call->kind = opt_string(info[1]).value_or("");
    call->name = opt_string(info[2]).value_or("");
    call->options = dev_start_options(info[3]);
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call](nh_cancel *t) {
            return nh_dev_config_resolve(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(),
                                         &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devPvcList(client, kind|null, name|null, {namespace}, cancel?) -> Promise<string>
Napi::Value dev_pvc_list(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    bool named = !info[1].IsUndefined() && !info[1].IsNull();
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call, named](nh_cancel *t) {
            return nh_dev_pvc_list(call->out.out(), client.get(), named ? call->kind.c_str() : nullptr,
                                   named ? call->name.c_str() : nullptr, &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devPvcDelete(client, kind, name, {namespace, claim}, cancel?) -> Promise<string>
Napi::Value dev_pvc_delete(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call](nh_cancel *t) {
            return nh_dev_pvc_delete(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(),
                                     c_str_or_null(call->claim), &call->options.c(t));
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

// devEnv(client, kind, name, {namespace, container, dotenv, secrets}, cancel?) -> Promise<string>
Napi::Value dev_env(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    struct EnvCall {
        std::string kind, name;
        std::optional<std::string> ns, container;
        bool dotenv = false, secrets = false;
        nocalhost::Buffer out;
    };
    auto call = std::make_shared<EnvCall>();
    call->kind = opt_string(info[1]).value_or("");
    call->name = opt_string(info[2]).value_or("");
    call->ns = opt_string(option(info[3], "namespace"));
    call->container = opt_string(option(info[3], "container"));
    call->dotenv = option(info[3], "dotenv").ToBoolean().Value();
    call->secrets = option(info[3], "secrets").ToBoolean().Value();
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[4]),
        [client, call](nh_cancel *t) {
            nh_dev_env_options o = NH_DEV_ENV_OPTIONS_INIT;
            o.namespace_name = c_str_or_null(call->ns);
            o.container = c_str_or_null(call->container);
            o.format = call->dotenv ? NH_DEV_ENV_DOTENV : NH_DEV_ENV_JSON;
            o.include_secrets = call->secrets ? 1 : 0;
            o.cancel = t;
            return nh_dev_env(call->out.out(), client.get(), call->kind.c_str(), call->name.c_str(), &o);
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

}  // namespace

void Session::Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(
        env, "Session",
        {
            InstanceMethod<&Session::close>("close"),
            InstanceAccessor<&Session::closed>("closed"),
            InstanceAccessor<&Session::getter<nh_session_kind>>("kind"),
            InstanceAccessor<&Session::getter<nh_session_name>>("name"),
            InstanceAccessor<&Session::getter<nh_session_namespace>>("namespace"),
            InstanceAccessor<&Session::getter<nh_session_pod_name>>("pod"),
            InstanceAccessor<&Session::getter<nh_session_container>>("container"),
            InstanceAccessor<&Session::getter<nh_session_sidecar_container>>("sidecarContainer"),
            InstanceAccessor<&Session::getter<nh_session_workdir>>("workdir"),
            InstanceAccessor<&Session::getter<nh_session_owner>>("owner"),
            InstanceAccessor<&Session::getter<nh_session_since>>("since"),
            InstanceAccessor<&Session::getter<nh_session_token>>("token"),
            InstanceAccessor<&Session::getter<nh_session_workload>>("workload"),
            InstanceAccessor<&Session::getter<nh_session_target>>("target"),
            InstanceAccessor<&Session::getter<nh_session_developer>>("developer"),
            InstanceAccessor<&Session::mode>("mode"),
            InstanceAccessor<&Session::sync_port>("syncPort"),
            InstanceMethod<&Session::status>("status"),
            InstanceMethod<&Session::refresh>("refresh"),
        });
    data(env).session_class = Napi::Persistent(cls);
    exports.Set("Session", cls);
    exports.Set("devDefaultSidecarImage", Napi::String::New(env, nh_dev_default_sidecar_image()));
    exports.Set("devDefaultWorkdir", Napi::String::New(env, NH_DEV_DEFAULT_WORKDIR));
    exports.Set("devDefaultSyncPort", Napi::Number::New(env, NH_DEV_DEFAULT_SYNC_PORT));
    exports.Set("devStart", Napi::Function::New(env, dev_start));
    exports.Set("devEnd", Napi::Function::New(env, dev_end));
    exports.Set("devStatus", Napi::Function::New(env, dev_status));
    exports.Set("devList", Napi::Function::New(env, dev_list));
    exports.Set("devAttach", Napi::Function::New(env, dev_attach));
    exports.Set("devConfigResolve", Napi::Function::New(env, dev_config_resolve));
    exports.Set("devPvcList", Napi::Function::New(env, dev_pvc_list));
    exports.Set("devPvcDelete", Napi::Function::New(env, dev_pvc_delete));
    exports.Set("devEnv", Napi::Function::New(env, dev_env));
}

Session::Session(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Session>(info) {
    if (!info[0].IsExternal()) throw_error(info.Env(), NH_EINVAL, "sessions come from devStart() or devAttach()");
    handle_.set(info[0].As<Napi::External<nh_session>>().Data());
}

Session *Session::From(const Napi::Value &v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data(v.Env()).session_class.Value()))
        throw_error(v.Env(), NH_EINVAL, "expected a Session");
    return Session::Unwrap(v.As<Napi::Object>());
}

Napi::Value Session::close(const Napi::CallbackInfo &info) {
    handle_.close();
    return info.Env().Undefined();
}

Napi::Value Session::closed(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), handle_.closed()); }

Napi::Value Session::sync_port(const Napi::CallbackInfo &info) {
    auto s = handle_.get(info.Env(), "session");
    std::lock_guard lock(*mu_);
    return Napi::Number::New(info.Env(), nh_session_sync_port(s.get()));
}

Napi::Value Session::mode(const Napi::CallbackInfo &info) {
    auto s = handle_.get(info.Env(), "session");
    std::lock_guard lock(*mu_);
    return Napi::Number::New(info.Env(), nh_session_mode(s.get()));
}

Napi::Value Session::status(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto s = handle_.get(env, "session");
    nocalhost::Buffer out;
    int rc;
    {
        std::lock_guard lock(*mu_);
        rc = nh_session_status(out.out(), s.get());
    }
    check(env, rc);
    return to_string(env, out);
}

Napi::Value Session::refresh(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto s = handle_.get(env, "session");
    auto mu = mu_;
    return CallWorker::Start(
        env, handle_.inflight(), Cancel::From(info[0]),
        [s, mu](nh_cancel *t) {
            std::lock_guard lock(*mu);
            return nh_session_refresh(s.get(), t);
        },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
}

}  // namespace nhnode
