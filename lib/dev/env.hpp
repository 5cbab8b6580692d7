// A container's environment as the kubelet gives it (`nh dev env`): env values with $(VAR)
// expanded, valueFrom (ConfigMap and Secret keys, the Downward API's fieldRef and
// resourceFieldRef) and envFrom with prefixes, in the kubelet's order and precedence, read
// from the cluster so that a local process can run with the container's settings.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/cancel.hpp"
#include "dev/workload.hpp"
#include "kube/client.hpp"

namespace nh::dev {

struct EnvOptions {
    WorkloadKind kind;
    std::string ns, name;
    std::string container;  // "": the only one (NH_EINVAL when there are several)
    bool secrets = false;   // include the values that come from Secrets
    CancelToken *cancel = nullptr;
};

// The resolved environment as JSON:
//   {"kind","name","namespace","container","pod" (the pod the Downward API was read from, or null),
//    "env":[{"name","value","source","secret"}...], "notes":[...]}
// in the order the names are first defined (envFrom sources first, then env). "source" says
// where the value came from ("value", "configMapKeyRef cm/key", "secretKeyRef s/key",
// "envFrom configMap cm", "envFrom secret s", "fieldRef metadata.name", "resourceFieldRef
// limits.cpu"). An entry without "value" was left out: "withheld" (a Secret's value, or one
// expanded from it, without `secrets`) or "unresolved" (what only a pod or its node would
// know and neither could be read), each with the reason. A workload in dev mode is read as
// it was before (from its session record). Errors: NH_ENOTFOUND (the workload, a container, a
// ConfigMap, Secret or key the container needs and does not mark optional: the kubelet would
// not start it either), NH_EINVAL (several containers and none chosen), client errors.
json resolve_env(kube::Client &client, const EnvOptions &o);

// `resolved` (resolve_env()) as a dotenv file: NAME='value' (double quotes with \\ \" \n \r \t
// escapes when the value holds a single quote or a control character), and a comment line
// for every variable left out.
std::string env_dotenv(const json &resolved);

// The kubelet's $(VAR) expansion of an env value: $(NAME) becomes lookup(NAME), or stays as it
// is when lookup gives nothing; $$ is a literal $; any other $ is kept.
std::string expand_env(const std::string &input,
                       const std::function<std::optional<std::string>(const std::string &)> &lookup);

// A Kubernetes quantity ("500m", "1Gi", "1.5", "2e3") as a number; nullopt when unreadable.
std::optional<long double> parse_quantity(const std::string &text);

}  // namespace nh::dev
