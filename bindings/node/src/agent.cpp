// nh_agent_*: syncs and port-forwards held by the per-user agent (docs/agent.md).
#include "client.hpp"
#include "dev.hpp"

namespace nhnode {
namespace {

// {dir, agentPath, timeoutMs, kubeconfigData, namespace}
struct AgentOptions {
    std::optional<std::string> dir, agent_path, kubeconfig_data, ns;
    long timeout_ms = 0;
    nh_agent_options c() const {
        nh_agent_options o = NH_AGENT_OPTIONS_INIT;
        o.dir = dir ? dir->c_str() : nullptr;
        o.agent_path = agent_path ? agent_path->c_str() : nullptr;
        o.kubeconfig_data = kubeconfig_data ? kubeconfig_data->c_str() : nullptr;
        o.namespace_name = ns ? ns->c_str() : nullptr;
        o.timeout_ms = timeout_ms;
        return o;
    }
};

std::shared_ptr<AgentOptions> agent_options(const Napi::Value &v) {
    auto o = std::make_shared<AgentOptions>();
    o->dir = opt_string(option(v, "dir"));
    o->agent_path = opt_string(option(v, "agentPath"));
    o->kubeconfig_data = opt_string(option(v, "kubeconfigData"));
    o->ns = opt_string(option(v, "namespace"));
    o->timeout_ms = static_cast<long>(opt_int(option(v, "timeoutMs"), 0));
    return o;
}

// A call that needs no handle: its own canceller.
template <class F>
Napi::Value text_call(Napi::Env env, F f) {
    auto out = std::make_shared<nocalhost::Buffer>();
    return CallWorker::Start(
        env, Canceller::make(), nullptr, [out, f](nh_cancel *) { return f(out->out()); },
        [out](Napi::Env e) -> Napi::Value { return to_string(e, *out); });
}

// agentDetach(session, client, options) -> Promise<string> (the id)
Napi::Value agent_detach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Session *session = Session::From(info[0]);
    auto s = session->get(env);
    auto mu = session->mutex();
    Client *c = Client::From(info[1]);
    auto client = c->get(env);
    auto o = agent_options(info[2]);
    return text_call(env, [s, mu, client, o](nh_buf *out) {
        std::lock_guard lock(*mu);
        nh_agent_options ao = o->c();
        return nh_agent_detach(out, s.get(), client.get(), &ao);
    });
}

// agentForwardStart(client, target, ports, options) -> Promise<string> (the id)
Napi::Value agent_forward_start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto target = std::make_shared<std::string>(opt_string(info[1]).value_or(""));
    auto ports = std::make_shared<std::vector<std::string>>(strings(info[2], "ports"));
    auto o = agent_options(info[3]);
    return text_call(env, [client, target, ports, o](nh_buf *out) {
        std::vector<const char *> argv;
        for (auto &p : *ports) argv.push_back(p.c_str());
        argv.push_back(nullptr);
        nh_agent_options ao = o->c();
        return nh_agent_forward_start(out, client.get(), target->c_str(), argv.data(), &ao);
    });
}

// agentList(options) -> Promise<string> (JSON)
Napi::Value agent_list(const Napi::CallbackInfo &info) {
    auto o = agent_options(info[0]);
    return text_call(info.Env(), [o](nh_buf *out) {
        nh_agent_options ao = o->c();
        return nh_agent_list(out, &ao);
    });
}

// agentStatus(id, options) -> Promise<string> (JSON)
Napi::Value agent_status(const Napi::CallbackInfo &info) {
    auto id = std::make_shared<std::string>(opt_string(info[0]).value_or(""));
    auto o = agent_options(info[1]);
    return text_call(info.Env(), [id, o](nh_buf *out) {
        nh_agent_options ao = o->c();
        return nh_agent_status(out, id->c_str(), &ao);
    });
}

// agentStop(id, options) -> Promise<string> ("")
Napi::Value agent_stop(const Napi::CallbackInfo &info) {
    auto id = std::make_shared<std::string>(opt_string(info[0]).value_or(""));
    auto o = agent_options(info[1]);
    return text_call(info.Env(), [id, o](nh_buf *) {
        nh_agent_options ao = o->c();
        return nh_agent_stop(id->c_str(), &ao);
    });
}

// agentInfo(options) -> Promise<string> (JSON)
Napi::Value agent_info(const Napi::CallbackInfo &info) {
    auto o = agent_options(info[0]);
    return text_call(info.Env(), [o](nh_buf *out) {
        nh_agent_options ao = o->c();
        return nh_agent_info(out, &ao);
    });
}

// agentReattach(client, id, options) -> Promise<Session>
Napi::Value agent_reattach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto id = std::make_shared<std::string>(opt_string(info[1]).value_or(""));
    auto o = agent_options(info[2]);
    auto result = std::make_shared<nh_session *>(nullptr);
    return CallWorker::Start(
        env, c->handle().inflight(), nullptr,
        [client, id, o, result](nh_cancel *) {
            nh_agent_options ao = o->c();
            return nh_agent_reattach(result.get(), client.get(), id->c_str(), nullptr, &ao);
        },
        [result](Napi::Env e) -> Napi::Value {
            nh_session *raw = *result;
            *result = nullptr;
            return data(e).session_class.New({Napi::External<nh_session>::New(e, raw)});
        });
}

}  // namespace

void init_agent(Napi::Env env, Napi::Object exports) {
    exports.Set("agentDetach", Napi::Function::New(env, agent_detach));
    exports.Set("agentForwardStart", Napi::Function::New(env, agent_forward_start));
    exports.Set("agentList", Napi::Function::New(env, agent_list));
    exports.Set("agentStatus", Napi::Function::New(env, agent_status));
    exports.Set("agentStop", Napi::Function::New(env, agent_stop));
    exports.Set("agentInfo", Napi::Function::New(env, agent_info));
    exports.Set("agentReattach", Napi::Function::New(env, agent_reattach));
}

}  // namespace nhnode
