// The workload tree an IDE shows: the workloads of a namespace (or of all
// namespaces) with their application, replicas, containers and a dev-mode
// overlay, from one list per kind (plus one of pods and one of session
// records), and kept current from one watch per kind.
//
// An entry is a JSON object (see nh_tree_list in nocalhost.h for every key).
// Tree holds the last state of every source and turns each change of a source
// into the entries it changes, so a watch reports only what a view must redraw.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "dev/session.hpp"
#include "dev/workload.hpp"
#include "kube/client.hpp"

namespace nh::tree {

using json = nlohmann::json;

// Nocalhost's application of a workload: the annotation (or label)
// dev.nocalhost/application-name, else Helm's release (annotation
// meta.helm.sh/release-name), else kDefaultApplication.
inline constexpr const char *kApplicationKey = "dev.nocalhost/application-name";
inline constexpr const char *kHelmReleaseAnnotation = "meta.helm.sh/release-name";
inline constexpr const char *kDefaultApplication = "default.application";
std::string application_of(const json &object);

// A parsed label selector ("app=web,tier in (a,b),!legacy"), matched locally
// (used for the pods the tree lists unfiltered to find dev pods).
class LabelSelector {
public:
    // Throws NH_EINVAL naming what it cannot read.
    explicit LabelSelector(const std::string &text = {});
    bool empty() const { return terms_.empty(); }
    bool matches(const json &object) const;

private:
    enum class Op { Eq, NotEq, In, NotIn, Exists, NotExists };
    struct Term {
        std::string key;
        Op op;
        std::vector<std::string> values;
    };
    std::vector<Term> terms_;
};

// The kinds a tree lists by default, in display order: every built-in kind dev
// mode supports (ReplicaSets and Pods only when no controller owns them).
const std::vector<dev::Kind> &default_kinds();

struct Options {
    std::string ns;               // "" with all_namespaces: every namespace
    bool all_namespaces = false;
    std::vector<dev::Kind> kinds; // empty: default_kinds()
    std::string label_selector;   // for the workloads themselves
    CancelToken *cancel = nullptr;
};

// What a watch or a list reads: one collection per kind asked for, the pods, the session records.
struct Source {
    enum Type { Workload, Pods, Sessions } type;
    dev::Kind kind = dev::Kind::Deployment;  // Workload only
    std::string path;                        // the collection's path
    std::string label_selector;              // sent with the list and the watch
};
std::vector<Source> sources_of(const Options &opts, const std::string &client_ns);

enum class ChangeType { Added = 1, Modified = 2, Deleted = 3 };
struct Change {
    ChangeType type;
    json entry;  // the new entry; for Deleted the last one
};

class Tree {
public:
    Tree(const Options &opts, std::vector<Source> sources);

    const std::vector<Source> &sources() const { return sources_; }

    // Replaces what source `i` holds with `items` (a list's items) and returns what changed.
    std::vector<Change> reset(size_t i, const json &items);
    // One watch event of source `i`.
    std::vector<Change> apply(size_t i, kube::WatchEvent type, const json &object);

    // Every entry, sorted by namespace, kind (in default_kinds() order) and name.
    json entries() const;

private:
    using ObjKey = std::pair<std::string, std::string>;                 // namespace, name
    using EntryKey = std::tuple<std::string, int, std::string>;          // namespace, kind order, name

    std::optional<json> render(const EntryKey &key) const;
    std::vector<Change> refresh(const std::vector<EntryKey> &keys);
    void affected(size_t i, const json &object, std::vector<EntryKey> &out) const;
    json dev_overlay(const std::string &ns, dev::Kind kind, const std::string &name, const json &workload) const;

    Options opts_;
    LabelSelector pod_selector_;  // bare pods are listed unfiltered: they are matched here
    std::vector<Source> sources_;
    std::vector<std::map<ObjKey, json>> objects_;  // per source
    std::map<ObjKey, dev::Session> sessions_;      // by the record's namespace and name
    std::map<EntryKey, json> entries_;
    int pods_source_ = -1;
};

// Lists every source once and returns the entries (nh_tree_list).
json list(kube::Client &client, const Options &opts);

}  // namespace nh::tree
