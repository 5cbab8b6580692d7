// Writing a Nocalhost dev config back where nhctl and dev start read it: the workload's
// `dev.nocalhost` annotation, or the application's ConfigMap `dev.nocalhost.config.<app>`
// (its data key "config"). Validated with the config parser first; written only over the
// version the caller read (optimistic concurrency: a stale version is NH_ECONFLICT and nothing
// is overwritten). The annotation's version is a digest of its text, compared with the
// workload as it is at the write, so that only a change of the annotation is a conflict, not
// one of the workload's status, labels or replicas; the ConfigMap's is its resourceVersion.
#pragma once

#include <string>

#include "dev/workload.hpp"

namespace nh {
class CancelToken;
namespace kube {
class Client;
}
}  // namespace nh

namespace nh::dev {

struct ConfigTarget {
    WorkloadKind kind;
    std::string ns, name;
    std::string app;  // "": the workload's annotation; else the ConfigMap of this application
};

// {"config": the text or null (none yet), "resource_version": the annotation's version
// ("sha256:" and 16 hex digits of its text) or the ConfigMap's resourceVersion, "" when there is
// no annotation or no ConfigMap, "source": "annotation dev.nocalhost of KIND/NAME" or
// "ConfigMap dev.nocalhost.config.APP"}.
json read_dev_config(kube::Client &c, const ConfigTarget &t, CancelToken *cancel);

// Validates `text` (NH_EINVAL naming the line and field; for the annotation it must configure
// this workload) and writes it over `resource_version` (the one read_dev_config() gave; "": only
// when there is no config yet, else NH_ECONFLICT). A workload in our dev mode is refused
// (NH_ESTATE: the end would put the old annotation back). Returns what read_dev_config() would
// now.
json write_dev_config(kube::Client &c, const ConfigTarget &t, const std::string &text,
                      const std::string &resource_version, CancelToken *cancel);

}  // namespace nh::dev
