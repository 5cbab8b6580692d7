// Which workload a local directory belongs to: the association store every process of the
// user shares (the CLI and each editor), $XDG_CONFIG_HOME/nocalhost/associations.json.
//
// An entry: {"dir" (absolute, symlinks resolved), "namespace", "kind" (as dev mode spells it:
// "deployment", "rollouts.argoproj.io"), "name", "container" (or ""), "kubeconfig", "context",
// "updated" (RFC 3339)}. One entry per directory.
#pragma once

#include <string>

#include "ide/file_store.hpp"

namespace nh::ide {

struct Association {
    std::string dir, ns, kind, name, container, kubeconfig, context;
};

class Associations {
public:
    // `path` "": the user's store.
    explicit Associations(const std::string &path = {});

    const std::string &path() const { return store_.path(); }

    // Associates a.dir (an existing directory, relative to the current one or absolute) with the
    // workload; replaces the directory's earlier association. Returns the entry stored.
    json set(const Association &a) const;
    // The association of `dir` or of its nearest associated ancestor; null when none.
    json get(const std::string &dir) const;
    // The entries of the workload: kind and name, and namespace, context and kubeconfig where
    // not "".
    json find(const Association &w) const;
    json list() const;
    // Removes the association of exactly `dir`; false when it had none.
    bool remove(const std::string &dir) const;

private:
    FileStore store_;
};

// `dir` absolute, with "." and ".." and symlinks resolved (as far as it exists).
std::string resolve_dir(const std::string &dir);

}  // namespace nh::ide
