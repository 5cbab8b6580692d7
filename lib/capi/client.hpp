// The nh_client handle, shared by every area of the C ABI that talks to a cluster.
#pragma once

#include <memory>

#include "kube/client.hpp"

struct nh_client {
    std::shared_ptr<nh::kube::Client> impl;
    std::string server;  // kept for nh_client_server()'s lifetime guarantee
};
