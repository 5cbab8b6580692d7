// nh_tree_* and nh_pod_logs*: the workload tree, its watch, and pod logs.
#include "client.hpp"

namespace nhnode {
namespace {

int tree_trampoline(int type, const char *entry, size_t len, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    return emit(StreamEvent{type, std::string(entry, len), {}}) ? 0 : 1;
}

int line_trampoline(const char *line, size_t len, void *payload) {
    const auto &emit = *static_cast<const StreamCall::Emit *>(payload);
    return emit(StreamEvent{0, std::string(line, len), {}}) ? 0 : 1;
}

std::shared_ptr<nocalhost::TreeOptions> tree_options(const Napi::Value &o) {
    auto t = std::make_shared<nocalhost::TreeOptions>();
    t->visit(ObjectReader{o});
    return t;
}

std::shared_ptr<nocalhost::PodLogsOptions> pod_logs_options(const Napi::Value &o) {
    auto l = std::make_shared<nocalhost::PodLogsOptions>();
    l->visit(ObjectReader{o});
    return l;
}

Napi::Function on_event_arg(const Napi::CallbackInfo &info, size_t i, const char *what) {
    if (!info[i].IsFunction()) throw_error(info.Env(), NH_EINVAL, std::string(what) + " must be a function");
    return info[i].As<Napi::Function>();
}

// treeList(client, {namespace, allNamespaces, kinds, labelSelector}, cancel?) -> Promise<string> (JSON)
Napi::Value tree_list(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto o = tree_options(info[1]);
    auto out = std::make_shared<nocalhost::Buffer>();
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[2]),
        [client, o, out](nh_cancel *t) { return nh_tree_list(out->out(), client.get(), &o->c(t)); },
        [out](Napi::Env e) -> Napi::Value { return to_string(e, *out); });
}

// treeWatch(client, options, cancel?, onEvent(type, json)) -> Promise<void>, settled when the watch ends
Napi::Value tree_watch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto o = tree_options(info[1]);
    return StreamCall::Start(env, "nocalhost-tree", c->handle().inflight(), Cancel::From(info[2]),
                             on_event_arg(info, 3, "onEvent"), false,
                             [client, o](nh_cancel *t, const StreamCall::Emit &emit) {
                                 return nh_tree_watch(client.get(),
                                                      &o->c(t, tree_trampoline, const_cast<StreamCall::Emit *>(&emit)));
                             });
}

// podLogsResolve(client, target, {namespace, container}, cancel?) -> Promise<string> (JSON)
Napi::Value pod_logs_resolve(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto target = std::make_shared<std::string>(opt_string(info[1]).value_or(""));
    auto o = pod_logs_options(info[2]);
    auto out = std::make_shared<nocalhost::Buffer>();
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[3]),
        [client, target, o, out](nh_cancel *t) {
            return nh_pod_logs_resolve(out->out(), client.get(), target->c_str(), &o->c(t));
        },
        [out](Napi::Env e) -> Napi::Value { return to_string(e, *out); });
}

// podLogs(client, target, {namespace, container, follow, tailLines, sinceSeconds, previous, timestamps},
//         cancel?, onLine(0, line)) -> Promise<void>, settled when the logs end
Napi::Value pod_logs(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto target = std::make_shared<std::string>(opt_string(info[1]).value_or(""));
    auto o = pod_logs_options(info[2]);
    return StreamCall::Start(env, "nocalhost-logs", c->handle().inflight(), Cancel::From(info[3]),
                             on_event_arg(info, 4, "onLine"), false,
                             [client, target, o](nh_cancel *t, const StreamCall::Emit &emit) {
                                 return nh_pod_logs(nullptr, client.get(), target->c_str(),
                                                    &o->c(t, line_trampoline, const_cast<StreamCall::Emit *>(&emit)));
                             });
}

// clientCheck(client, cancel?) -> Promise<string> (JSON)
Napi::Value client_check(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Client *c = Client::From(info[0]);
    auto client = c->get(env);
    auto out = std::make_shared<nocalhost::Buffer>();
    return CallWorker::Start(
        env, c->handle().inflight(), Cancel::From(info[1]),
        [client, out](nh_cancel *t) { return nh_client_check(out->out(), client.get(), t); },
        [out](Napi::Env e) -> Napi::Value { return to_string(e, *out); });
}

}  // namespace

void init_tree(Napi::Env env, Napi::Object exports) {
    exports.Set("treeList", Napi::Function::New(env, tree_list));
    exports.Set("treeWatch", Napi::Function::New(env, tree_watch));
    exports.Set("podLogsResolve", Napi::Function::New(env, pod_logs_resolve));
    exports.Set("podLogs", Napi::Function::New(env, pod_logs));
    exports.Set("clientCheck", Napi::Function::New(env, client_check));
}

}  // namespace nhnode
