// Streams: target resolution and commands run to completion (nh_exec_run).
#include "client.hpp"

namespace nhnode {
namespace {

struct ExecCall {
    std::string target;
    nocalhost::Strings argv;
    std::optional<std::string> stdin_data, ns, container;
    bool tty = false;
    long timeout_ms = 0;
    nocalhost::Buffer out, err;
    int exit_code = 0;
};

Napi::Buffer<char> to_buffer(Napi::Env env, const nocalhost::Buffer &b) {
    return Napi::Buffer<char>::Copy(env, b.data(), b.size());
}

// execRun(client, target, argv, {stdin, namespace, container, tty, timeoutMs}, cancel?)
//   -> Promise<{exitCode, stdout: Buffer, stderr: Buffer}>
// On its own thread (StreamCall without events): a command may run for long.
Napi::Value exec_run(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<ExecCall>();
    call->target = opt_string(info[1]).value_or("");
    if (!info[2].IsArray()) throw_error(env, NH_EINVAL, "argv must be an array of strings");
    call->argv = strings(info[2], "argv");
    if (call->argv.empty()) throw_error(env, NH_EINVAL, "exec: argv must name a program");
    Napi::Value o = info[3];
    Napi::Value in = option(o, "stdin");
    if (in.IsBuffer()) {
        auto b = in.As<Napi::Buffer<char>>();
        call->stdin_data = std::string(b.Data(), b.Length());
    } else {
        call->stdin_data = opt_string(in);
    }
    call->ns = opt_string(option(o, "namespace"));
    call->container = opt_string(option(o, "container"));
    call->tty = option(o, "tty").ToBoolean().Value();
    call->timeout_ms = static_cast<long>(opt_int(option(o, "timeoutMs"), 0));
    Napi::Function noop = Napi::Function::New(env, [](const Napi::CallbackInfo &i) { return i.Env().Undefined(); });
    return StreamCall::Start(
        env, "nocalhost-exec", c->handle().inflight(), Cancel::From(info[4]), noop, true,
        [client, call](nh_cancel *t, const StreamCall::Emit &) {
            nh_exec_options x = NH_EXEC_OPTIONS_INIT;
            x.namespace_name = c_str_or_null(call->ns);
            x.container = c_str_or_null(call->container);
            x.tty = call->tty ? 1 : 0;
            x.timeout_ms = call->timeout_ms;
            x.cancel = t;
            const std::optional<std::string> &in = call->stdin_data;
            return nh_exec_run(call->out.out(), call->err.out(), &call->exit_code, client.get(), call->target.c_str(),
                               call->argv.argv(), in ? in->data() : nullptr, in ? in->size() : 0, &x);
        },
        [call](Napi::Env e) -> Napi::Value {
            Napi::Object r = Napi::Object::New(e);
            r.Set("exitCode", Napi::Number::New(e, call->exit_code));
            r.Set("stdout", to_buffer(e, call->out));
            r.Set("stderr", to_buffer(e, call->err));
            return r;
        });
}

struct ResolveCall {
    std::optional<std::string> ns;
    std::string target;
    nocalhost::Buffer out;
};

// targetResolve(client, target, {namespace}, cancel?) -> Promise<string>
Napi::Value target_resolve(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto call = std::make_shared<ResolveCall>();
    call->target = opt_string(info[1]).value_or("");
    call->ns = opt_string(option(info[2], "namespace"));
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[3]),
        [client, call](nh_cancel *t) {
            return nh_target_resolve(call->out.out(), client.get(), c_str_or_null(call->ns), call->target.c_str(), t);
        },
        [call](Napi::Env e) -> Napi::Value { return to_string(e, call->out); });
}

}  // namespace

void init_stream(Napi::Env env, Napi::Object exports) {
    exports.Set("execRun", Napi::Function::New(env, exec_run));
    exports.Set("targetResolve", Napi::Function::New(env, target_resolve));
}

}  // namespace nhnode
