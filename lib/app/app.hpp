// Applications, with Kubernetes as the only state: the objects rendered from a source
// (manifests, Kustomize, a Helm chart; see render.hpp) applied into one namespace, each
// carrying Nocalhost's application annotations (so the workload tree groups them and nhctl
// sees them), and a record of what was installed in the Secret nhctl keeps its applications
// in, so that upgrade prunes and uninstall deletes exactly that. The source's
// .nocalhost/config.yaml becomes the application's ConfigMap dev.nocalhost.config.<app>,
// which dev start reads for the application's workloads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::app {

using json = nlohmann::json;

// Nocalhost's names (nhctl's appmeta and its resource annotations).
inline constexpr const char *kAppAnnotation = "dev.nocalhost/application-name";
inline constexpr const char *kAppNamespaceAnnotation = "dev.nocalhost/application-namespace";
inline constexpr const char *kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char *kRecordPrefix = "dev.nocalhost.application.";
inline constexpr const char *kRecordType = "dev.nocalhost/application.meta";
inline constexpr const char *kConfigMapPrefix = "dev.nocalhost.config.";

struct Options {
    std::string ns;                         // "": the client's namespace
    std::vector<std::string> values_files;  // Helm
    std::vector<std::string> set;           // Helm: k=v
    std::string config_path;                // "": SOURCE/.nocalhost/config.yaml when it exists
    bool all_namespaces = false;            // list
    CancelToken *cancel = nullptr;
};

// Each returns the application as list() describes it. Errors: NH_EINVAL (a bad name, a
// manifest that does not parse: file and line; an object of another namespace or a
// cluster-wide one), NH_EEXISTS (the application, or an object that is not the
// application's), NH_EFORBIDDEN (every missing right, before anything changes), NH_ECONFIG
// (the dev config), a tool's failure. A failed install removes what it made; a failed
// upgrade removes what it added and keeps the record of the objects before it.
json install(kube::Client &c, const std::string &name, const std::string &source, const Options &o);
json upgrade(kube::Client &c, const std::string &name, const std::string &source, const Options &o);
// Deletes the application's objects (those that still carry its annotation), its ConfigMap
// and its record. NH_ENOTFOUND when there is no such application.
void uninstall(kube::Client &c, const std::string &name, const Options &o);
// [{name, namespace, type, state, objects: [{apiVersion, kind, name}], workloads: [{kind, name}]}].
json list(kube::Client &c, const Options &o);

}  // namespace nh::app
