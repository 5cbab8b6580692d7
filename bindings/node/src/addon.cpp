// nocalhost.node: one init_<area>() per section of nocalhost.h.
#include "client.hpp"
#include "dev.hpp"

namespace {

struct Env : nhnode::AddonData {
    Env() { nh_init(); }
    ~Env() { nh_shutdown(); }  // handles still alive hold their own nh_init() reference
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    env.SetInstanceData<nhnode::AddonData>(new Env());
    nhnode::init_common(env, exports);
    nhnode::Client::Init(env, exports);
    nhnode::Session::Init(env, exports);
    nhnode::init_stream(env, exports);
    nhnode::init_live(env, exports);
    nhnode::init_tree(env, exports);
    nhnode::init_agent(env, exports);
    nhnode::init_ide(env, exports);
    nhnode::init_space(env, exports);
    return exports;
}

}  // namespace

NODE_API_MODULE(nocalhost, Init)
