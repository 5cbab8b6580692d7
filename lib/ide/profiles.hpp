// What the user chose per workload for dev mode, remembered for the next start: the dev image,
// container and work dir ($XDG_CONFIG_HOME/nocalhost/profiles.json, the association store's
// kind of file). An entry: {"context", "namespace", "kind", "name", "image", "container",
// "workdir", "updated"}; one per context, namespace and workload.
#pragma once

#include <string>

#include "ide/file_store.hpp"

namespace nh::ide {

struct Profile {
    std::string context, ns, kind, name, image, container, workdir;
};

class Profiles {
public:
    explicit Profiles(const std::string &path = {});

    // Records image, container and work dir of the workload (the fields given; "" keeps the
    // remembered value). Returns the entry.
    json set(const Profile &p) const;
    // The entry of the workload (context and namespace as given), or null.
    json get(const Profile &key) const;

private:
    FileStore store_;
};

}  // namespace nh::ide
