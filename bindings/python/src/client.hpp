// The nh_client wrapper, shared with the areas whose handles come from a client.
#pragma once

#include "common.hpp"

namespace nhpy {

using ClientHandle = Handle<nh_client, nh_client_free>;

struct Client {
    Client(const std::optional<std::string> &kubeconfig, const std::optional<std::string> &context,
           const std::optional<std::string> &ns, long timeout_ms, int max_retries,
           const std::optional<std::string> &user_agent,
           const std::optional<std::string> &kubeconfig_data = std::nullopt);
    std::shared_ptr<nh_client> get() const { return handle.get("client"); }
    ClientHandle handle;
};

}  // namespace nhpy
