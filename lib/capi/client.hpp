// The nh_client handle, shared by every area of the C ABI that talks to a cluster.
#pragma once

#include <memory>

#include "kube/client.hpp"
#include "nocalhost.h"

struct nh_client {
    std::shared_ptr<nh::kube::Client> impl;
    std::string server;  // kept for nh_client_server()'s lifetime guarantee
    // Where its kubeconfig came from, for the agent to make a client of its own
    // (nh_agent_detach()): the files ("" for kubectl's default rules), or none (from data).
    std::string kubeconfig_paths;
    bool from_data = false;
};

namespace nh::capi {
// A client of `cfg` with the request settings of `opts` (timeouts, retries, user agent).
std::unique_ptr<nh_client> make_client(nh::kube::RestConfig cfg, const nh_client_options &opts);
}  // namespace nh::capi
