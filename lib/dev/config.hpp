// Nocalhost's dev config (config version v2): parsed from a local .nocalhost/config.yaml,
// the workload's "dev.nocalhost" annotation or the "dev.nocalhost.config.<app>" ConfigMap,
// validated (errors name the file, line, field and the valid choices) and applied to the
// start options. See docs/nocalhost-config.md for every field.
#pragma once

#include <string>
#include <vector>

#include "dev/session.hpp"

namespace nh::dev {

// Where the config may come from.
struct ConfigSources {
    std::string config_path;  // a file, or a directory holding .nocalhost/config.yaml; "": none
    std::string app_name;     // the application of the ConfigMap; "": no ConfigMap
    bool use_cluster = true;  // read the annotation and the ConfigMap
};

// The services of one config text: a single service, a list of services, or a whole
// application file ({configProperties, application: {services}}). Each service is
// {"name","serviceType","containers":[{"name","dev":{...}}]} with only known, valid
// fields, and "ignored": [{"field","file","line","reason"}]. `file` names the text in
// errors. Relative envFile paths are read from `base_dir`. `path` is the text's own file (a
// local config): its templates may include files relative to it and read variables from the
// environment and configProperties.envFile; "" (text read from the cluster): includes are
// refused and every variable is unset. Throws NH_ECONFIG.
json parse_nocalhost_config(const std::string &text, const std::string &file, const std::string &base_dir = ".",
                            const std::string &path = "");

// The service of `kind`/`name` in parsed services, or null.
json find_service(const json &services, const WorkloadKind &kind, const std::string &name);

// Applies the config of the workload (the first source that has one, in Nocalhost's order:
// local file, annotation, ConfigMap) to `o`: fields the caller set explicitly win. Returns
// the effective config (see nh_dev_config_resolve()).
json apply_nocalhost_config(kube::Client &client, const ConfigSources &src, StartOptions &o, bool workdir_given);

// Nocalhost's names for the dev container and its sidecar, which its users' patches name.
inline constexpr const char *kNocalhostDevContainer = "nocalhost-dev";
inline constexpr const char *kNocalhostSidecar = "nocalhost-sidecar";

// `patch` (JSON) with the containers named kNocalhostDevContainer and kNocalhostSidecar renamed
// to `dev_container` and our sync sidecar; unchanged if it names neither (or is not JSON).
std::string nocalhost_container_names(const std::string &patch, const std::string &dev_container);

// Patches as JSON text [{"type","patch"}] and persistent dirs [{"path","capacity","storageClass"}].
std::vector<Patch> parse_patches(const std::string &json_text, const std::string &what);
std::vector<PersistentDir> parse_persistent_dirs(const std::string &json_text, const std::string &what);

}  // namespace nh::dev
