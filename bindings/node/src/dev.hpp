// The nh_session wrapper. One nh_session must not be used by two threads at
// once, so every use holds the session's mutex.
#pragma once

#include "common.hpp"

namespace nhnode {

using SessionHandle = Handle<nh_session, nh_session_free>;

class Session : public Napi::ObjectWrap<Session> {
public:
    static void Init(Napi::Env env, Napi::Object exports);
    explicit Session(const Napi::CallbackInfo &info);
    static Session *From(const Napi::Value &v);
    std::shared_ptr<nh_session> get(Napi::Env env) const { return handle_.get(env, "session"); }
    // Held by every use of the nh_session (not thread-safe by itself).
    const std::shared_ptr<std::mutex> &mutex() const { return mu_; }
    const SessionHandle &handle() const { return handle_; }

private:
    template <const char *(*Get)(const nh_session *)>
    Napi::Value getter(const Napi::CallbackInfo &info) {
        auto s = handle_.get(info.Env(), "session");
        std::lock_guard lock(*mu_);
        return Napi::String::New(info.Env(), Get(s.get()));
    }
    Napi::Value close(const Napi::CallbackInfo &info);
    Napi::Value closed(const Napi::CallbackInfo &info);
    Napi::Value sync_port(const Napi::CallbackInfo &info);
    Napi::Value mode(const Napi::CallbackInfo &info);
    Napi::Value status(const Napi::CallbackInfo &info);
    Napi::Value refresh(const Napi::CallbackInfo &info);

    SessionHandle handle_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
};

}  // namespace nhnode
