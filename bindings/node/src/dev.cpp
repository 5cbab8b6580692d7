// nh_dev_* and nh_session_*: dev mode start/end/status/list/attach and sessions.
#include "dev.hpp"

#include "client.hpp"
#include "sync_spec.hpp"

namespace nhnode {
namespace {

int dev_event_trampoline(int type, const char *phase, const char *message, const char *detail, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    StreamEvent ev{type, phase, {std::string(message), detail ? std::optional<std::string>(detail) : std::nullopt}};
    return emit(std::move(ev)) ? 0 : 1;
}

// The options of a start (and of nh_dev_config_resolve), read from the JS options object
// (lib/index.js has turned resources, patches and persistentDirs into JSON text), kept for
// the whole call: the nh_dev_start_options point into it.
struct DevStartArgs {
    std::optional<std::string> ns, container, image, workdir, resources_json, sidecar_image, owner;
    std::optional<std::string> developer, api_version, pod_template_path, replicas_path, config_path, app_name,
        image_pull_policy, patches_json, persistent_dirs_json;
    std::vector<std::string> env;
    std::vector<const char *> env_ptrs;
    int sync_port = 0, lease_duration_s = 0, mode = NH_DEV_MODE_REPLACE;
    long timeout_ms = 0;
    bool rollback = true, ignore_cluster_config = false, patch_errors_fatal = false;

    DevStartArgs() = default;
    explicit DevStartArgs(const Napi::Value &o) {
        image = opt_string(option(o, "image"));
        ns = opt_string(option(o, "namespace"));
        container = opt_string(option(o, "container"));
        workdir = opt_string(option(o, "workdir"));
        resources_json = opt_string(option(o, "resourcesJson"));
        sidecar_image = opt_string(option(o, "sidecarImage"));
        owner = opt_string(option(o, "owner"));
        sync_port = static_cast<int>(opt_int(option(o, "syncPort"), 0));
        timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
        lease_duration_s = static_cast<int>(opt_int(option(o, "leaseDurationS"), 0));
        Napi::Value rollback_v = option(o, "rollbackOnFailure");
        rollback = rollback_v.IsUndefined() ? true : rollback_v.ToBoolean().Value();
        Napi::Value env_list = option(o, "env");
        if (env_list.IsArray()) {
            auto a = env_list.As<Napi::Array>();
            for (uint32_t i = 0; i < a.Length(); ++i) env.push_back(a.Get(i).ToString().Utf8Value());
        }
        mode = static_cast<int>(opt_int(option(o, "mode"), NH_DEV_MODE_REPLACE));
        developer = opt_string(option(o, "developer"));
        api_version = opt_string(option(o, "apiVersion"));
        pod_template_path = opt_string(option(o, "podTemplatePath"));
        replicas_path = opt_string(option(o, "replicasPath"));
        config_path = opt_string(option(o, "configPath"));
        app_name = opt_string(option(o, "appName"));
        ignore_cluster_config = option(o, "ignoreClusterConfig").ToBoolean().Value();
        image_pull_policy = opt_string(option(o, "imagePullPolicy"));
        patches_json = opt_string(option(o, "patchesJson"));
        persistent_dirs_json = opt_string(option(o, "persistentDirsJson"));
        patch_errors_fatal = option(o, "patchErrorsFatal").ToBoolean().Value();
    }

    // Options made with NH_DEV_START_OPTIONS_INIT pointing into this object (off the main thread).
    nh_dev_start_options build() {
        env_ptrs.clear();
        for (auto &e : env) env_ptrs.push_back(e.c_str());
        env_ptrs.push_back(nullptr);
        nh_dev_start_options d = NH_DEV_START_OPTIONS_INIT;
        d.namespace_name = c_str_or_null(ns);
        d.container = c_str_or_null(container);
        d.image = c_str_or_null(image);
        d.workdir = c_str_or_null(workdir);
        d.env = env.empty() ? nullptr : env_ptrs.data();
        d.env_count = env.size();
        d.resources_json = c_str_or_null(resources_json);
        d.sidecar_image = c_str_or_null(sidecar_image);
        d.sync_port = sync_port;
        d.timeout_ms = timeout_ms;
        d.rollback_on_failure = rollback ? 1 : 0;
        d.owner = c_str_or_null(owner);
        d.lease_duration_s = lease_duration_s;
        d.mode = mode;
        d.developer = c_str_or_null(developer);
        d.api_version = c_str_or_null(api_version);
        d.pod_template_path = c_str_or_null(pod_template_path);
        d.replicas_path = c_str_or_null(replicas_path);
        d.config_path = c_str_or_null(config_path);
        d.app_name = c_str_or_null(app_name);
        d.ignore_cluster_config = ignore_cluster_config ? 1 : 0;
        d.image_pull_policy = c_str_or_null(image_pull_policy);
        d.patches_json = c_str_or_null(patches_json);
        d.persistent_dirs_json = c_str_or_null(persistent_dirs_json);
        d.patch_errors_fatal = patch_errors_fatal ? 1 : 0;
        return d;
    }
};

struct DevStartCall {
    std::string kind, name;
    DevStartArgs args;
    std::optional<std::string> local_dir;
    SyncSpec sync;
    nh_session *result = nullptr;
};

struct DevEndCall {
    std::string kind, name;
    std::optional<std::string> ns, owner, developer;
    long timeout_ms = 0;
    int lease_duration_s = 0, mode = NH_DEV_MODE_REPLACE;
    bool force = false;
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
    call->args = DevStartArgs(o);
    call->local_dir = opt_string(option(o, "localDir"));
    call->sync = SyncSpec(option(o, "sync"));
    return StreamCall::Start(
        env, "nocalhost-dev-start", {c->handle().inflight(), Cancel::From(info[4])}, on_event_or_noop(env, info[5]),
        false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            nh_dev_start_options d = call->args.build();
            d.events = dev_event_trampoline;
            d.payload = const_cast<StreamCall::Emit *>(&emit);
            d.cancel = t;
            // The session's sync reports no events here: they would outlive this call (see Session.startSync).
            nh_sync_options so = call->sync.build();
            d.local_dir = c_str_or_null(call->local_dir);
            d.sync_options = call->local_dir ? &so : nullptr;
            return nh_dev_start(&call->result, client.get(), call->kind.c_str(), call->name.c_str(), &d);
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
    Napi::Value o = info[3];
    call->ns = opt_string(option(o, "namespace"));
    call->owner = opt_string(option(o, "owner"));
    call->timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    call->lease_duration_s = static_cast<int>(opt_int(option(o, "leaseDurationS"), 0));
    call->mode = static_cast<int>(opt_int(option(o, "mode"), NH_DEV_MODE_REPLACE));
    call->developer = opt_string(option(o, "developer"));
    call->force = option(o, "force").ToBoolean().Value();
    return StreamCall::Start(
        env, "nocalhost-dev-end", {c->handle().inflight(), Cancel::From(info[4])}, on_event_or_noop(env, info[5]),
        false,
        [client, call](nh_cancel *t, const StreamCall::Emit &emit) {
            nh_dev_end_options d = NH_DEV_END_OPTIONS_INIT;
            d.namespace_name = c_str_or_null(call->ns);
            d.owner = c_str_or_null(call->owner);
            d.timeout_ms = call->timeout_ms;
            d.lease_duration_s = call->lease_duration_s;
            d.mode = call->mode;
            d.developer = c_str_or_null(call->developer);
            d.force = call->force ? 1 : 0;
            d.events = dev_event_trampoline;
            d.payload = const_cast<StreamCall::Emit *>(&emit);
            d.cancel = t;
            return nh_dev_end(&call->result, client.get(), call->kind.c_str(), call->name.c_str(), &d);
        },
        [call](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, call->result); });
}

struct QueryCall {
    std::string kind, name;
    std::optional<std::string> ns, developer, claim;
    bool all = false;
    int mode = NH_DEV_MODE_REPLACE;
    nh_buf out = NH_BUF_INIT;
    nh_session *session = nullptr;
    ~QueryCall() {
        nh_buf_dispose(&out);
        nh_session_free(session);
    }
};

std::shared_ptr<QueryCall> query(const Napi::CallbackInfo &info, bool named) {
    auto call = std::make_shared<QueryCall>();
    size_t i = 1;
    if (named) {
        call->kind = opt_string(info[1]).value_or("");
        call->name = opt_string(info[2]).value_or("");
        i = 3;
    }
    call->ns = opt_string(option(info[i], "namespace"));
    Napi::Value all = option(info[i], "allNamespaces");
    call->all = !all.IsUndefined() && all.ToBoolean().Value();
    call->mode = static_cast<int>(opt_int(option(info[i], "mode"), NH_DEV_MODE_REPLACE));
    call->developer = opt_string(option(info[i], "developer"));
    call->claim = opt_string(option(info[i], "claim"));
    return call;
}

nh_dev_query_options query_options(const QueryCall &call, nh_cancel *t) {
    nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
    q.namespace_name = c_str_or_null(call.ns);
    q.all_namespaces = call.all ? 1 : 0;
    q.mode = call.mode;
    q.developer = c_str_or_null(call.developer);
    q.cancel = t;
    return q;
}

// devStatus(client, kind, name, {namespace}, cancel?) -> Promise<string>
Napi::Value dev_status(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    return CallWorker::Start(
        env, {c->handle().inflight(), Cancel::From(info[4])},
        [client, call](nh_cancel *t) {
            auto q = query_options(*call, t);
            return nh_dev_status(&call->out, client.get(), call->kind.c_str(), call->name.c_str(), &q);
        },
        [call](Napi::Env e) -> Napi::Value { return take_string(e, call->out); });
}

// devList(client, {namespace, allNamespaces}, cancel?) -> Promise<string>
Napi::Value dev_list(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, false);
    return CallWorker::Start(
        env, {c->handle().inflight(), Cancel::From(info[2])},
        [client, call](nh_cancel *t) {
            auto q = query_options(*call, t);
            return nh_dev_list(&call->out, client.get(), &q);
        },
        [call](Napi::Env e) -> Napi::Value { return take_string(e, call->out); });
}

// devAttach(client, kind, name, {namespace}, cancel?) -> Promise<Session>
Napi::Value dev_attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    return CallWorker::Start(
        env, {c->handle().inflight(), Cancel::From(info[4])},
        [client, call](nh_cancel *t) {
            auto q = query_options(*call, t);
            return nh_dev_attach(&call->session, client.get(), call->kind.c_str(), call->name.c_str(), &q);
        },
        [call](Napi::Env e) -> Napi::Value {
            nh_session *raw = call->session;
            call->session = nullptr;
            return new_session(e, raw);
        });
}

// devConfigResolve(client, kind, name, options, cancel?) -> Promise<string>
Napi::Value dev_config_resolve(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    struct ResolveCall {
        std::string kind, name;
        DevStartArgs args;
        nh_buf out = NH_BUF_INIT;
        ~ResolveCall() { nh_buf_dispose(&out); }
    };
    auto call = std::make_shared<ResolveCall>();
    call->kind = opt_string(info[1]).value_or("");
    call->name = opt_string(info[2]).value_or("");
    call->args = DevStartArgs(info[3]);
    return CallWorker::Start(
        env, {c->handle().inflight(), Cancel::From(info[4])},
        [client, call](nh_cancel *t) {
            nh_dev_start_options d = call->args.build();
            d.cancel = t;
            return nh_dev_config_resolve(&call->out, client.get(), call->kind.c_str(), call->name.c_str(), &d);
        },
        [call](Napi::Env e) -> Napi::Value { return take_string(e, call->out); });
}

// devPvcList(client, kind|null, name|null, {namespace}, cancel?) -> Promise<string>
Napi::Value dev_pvc_list(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    bool named = !info[1].IsUndefined() && !info[1].IsNull();
    return CallWorker::Start(
        env, {c->handle().inflight(), Cancel::From(info[4])},
        [client, call, named](nh_cancel *t) {
            auto q = query_options(*call, t);
            return nh_dev_pvc_list(&call->out, client.get(), named ? call->kind.c_str() : nullptr,
                                   named ? call->name.c_str() : nullptr, &q);
        },
        [call](Napi::Env e) -> Napi::Value { return take_string(e, call->out); });
}

// devPvcDelete(client, kind, name, {namespace, claim}, cancel?) -> Promise<string>
Napi::Value dev_pvc_delete(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = query(info, true);
    return CallWorker::Start(
        env, {c->handle().inflight(), Cancel::From(info[4])},
        [client, call](nh_cancel *t) {
            auto q = query_options(*call, t);
            return nh_dev_pvc_delete(&call->out, client.get(), call->kind.c_str(), call->name.c_str(),
                                     c_str_or_null(call->claim), &q);
        },
        [call](Napi::Env e) -> Napi::Value { return take_string(e, call->out); });
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
    nh_buf out = NH_BUF_INIT;
    int rc;
    {
        std::lock_guard lock(*mu_);
        rc = nh_session_status(&out, s.get());
    }
    if (rc < 0) {
        nh_buf_dispose(&out);
        throw_error(env, ErrorInfo::last());
    }
    return take_string(env, out);
}

Napi::Value Session::refresh(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto s = handle_.get(env, "session");
    auto mu = mu_;
    return CallWorker::Start(
        env, {handle_.inflight(), Cancel::From(info[0])},
        [s, mu](nh_cancel *t) {
            std::lock_guard lock(*mu);
            return nh_session_refresh(s.get(), t);
        },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); });
}

}  // namespace nhnode
