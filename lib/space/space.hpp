// Dev spaces: what an admin gives a developer, with Kubernetes itself as the
// only state. A space is a namespace (made for it, or an existing one) with,
// per developer, a ServiceAccount and a RoleBinding to the space's Role (the
// rights dev mode needs plus what the admin adds), a ResourceQuota and a
// LimitRange. Every object a space makes carries the labels below, so list
// and delete find exactly what it made; a developer's access is a kubeconfig
// with a token from the TokenRequest API and the cluster's CA.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::space {

using json = nlohmann::json;

inline constexpr const char *kSpaceLabel = "dev.nocalhost.io/space";            // the space's name
inline constexpr const char *kDeveloperLabel = "dev.nocalhost.io/developer";    // on a developer's objects
inline constexpr const char *kManagedByLabel = "app.kubernetes.io/managed-by";  // "nocalhost"
inline constexpr const char *kOwnerAnnotation = "dev.nocalhost.io/space-owner";
inline constexpr const char *kSinceAnnotation = "dev.nocalhost.io/space-since";
// "created": the space made the namespace and deleting it deletes the namespace;
// "adopted": the namespace existed and deleting the space leaves it as it was.
inline constexpr const char *kNamespaceAnnotation = "dev.nocalhost.io/space-namespace";
inline constexpr const char *kRoleName = "nocalhost-dev";
inline constexpr const char *kQuotaName = "nocalhost-space";

struct Quota {
    std::string cpu;      // e.g. "2": requests.cpu and limits.cpu
    std::string memory;   // e.g. "4Gi": requests.memory and limits.memory
    std::string storage;  // e.g. "10Gi": requests.storage
    int pods = 0;         // 0: no limit
    bool empty() const { return cpu.empty() && memory.empty() && storage.empty() && pods == 0; }
};

struct Options {
    std::string developer;            // create, share, renew: whose access
    bool existing_namespace = false;  // create: adopt a namespace that exists
    Quota quota;                      // create
    json extra_rules = json::array(); // create: PolicyRules the admin adds to the Role
    std::int64_t token_seconds = 0;   // 0: kDefaultTokenSeconds
    bool revoke = false;              // renew: tokens issued before stop working now
    CancelToken *cancel = nullptr;
};

inline constexpr std::int64_t kDefaultTokenSeconds = 24 * 3600;

// What a developer gets: a kubeconfig (YAML text) for the space and its token's expiry.
struct Access {
    std::string developer;
    std::string service_account;
    std::string kubeconfig;
    std::string expires;  // RFC 3339, from the TokenRequest's status
};

// The Role's rules: the rights dev start and end need for every kind and mode (dev/access_check),
// and reading what the workload tree, logs and the dev config read.
json dev_rules();

// The ServiceAccount name of a developer ("nh-" + the name made a DNS label).
// Throws NH_EINVAL for a name that leaves nothing.
std::string service_account_of(const std::string &developer);

// Every call throws nh::Error; a request refused for lack of rights is
// NH_EFORBIDDEN naming every right the caller lacks for the whole operation.
Access create(kube::Client &c, const std::string &name, const Options &o);
Access share(kube::Client &c, const std::string &name, const Options &o);
Access renew(kube::Client &c, const std::string &name, const Options &o);
// [{name, owner, since, namespace: created|adopted, developers: [...], quota: {...}}],
// only the spaces `developer` has access to when it is not empty.
json list(kube::Client &c, const std::string &developer, CancelToken *cancel);
// Removes what the space made and nothing else; with `developer`, only that developer's access.
void remove(kube::Client &c, const std::string &name, const std::string &developer, CancelToken *cancel);

// The kubeconfig text for a token (the client's server and CA, the namespace as the context's).
std::string kubeconfig_for(const kube::RestConfig &cluster, const std::string &ns, const std::string &user,
                           const std::string &token);

}  // namespace nh::space
