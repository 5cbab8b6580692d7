// The nh_client wrapper, shared with the areas whose handles come from a client.
#pragma once

#include "common.hpp"

namespace nhnode {

using ClientHandle = Handle<nh_client, nh_client_free>;

class Client : public Napi::ObjectWrap<Client> {
public:
    static void Init(Napi::Env env, Napi::Object exports);
    explicit Client(const Napi::CallbackInfo &info);
    static Client *From(const Napi::Value &v);

    std::shared_ptr<nh_client> get(Napi::Env env) const { return handle_.get(env, "client"); }
    const ClientHandle &handle() const { return handle_; }

private:
    Napi::Value close(const Napi::CallbackInfo &info);
    Napi::Value closed(const Napi::CallbackInfo &info);
    Napi::Value ns(const Napi::CallbackInfo &info);
    Napi::Value server(const Napi::CallbackInfo &info);
    Napi::Value context(const Napi::CallbackInfo &info);
    Napi::Value server_version(const Napi::CallbackInfo &info);
    Napi::Value request(const Napi::CallbackInfo &info);
    Napi::Value watch(const Napi::CallbackInfo &info);

    ClientHandle handle_;
};

}  // namespace nhnode
