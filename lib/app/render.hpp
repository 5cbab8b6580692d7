// An application's source as the objects it stands for: a directory of manifests, a Kustomize
// directory (rendered by `kubectl kustomize`) or a Helm chart (rendered by `helm template`),
// each object with the file and line it came from, for errors.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cancel.hpp"

namespace nh::app {

using json = nlohmann::json;

struct RenderOptions {
    std::string name;                      // the release name Helm renders with
    std::string ns;                        // the namespace Helm renders for
    std::vector<std::string> values_files; // Helm: -f
    std::vector<std::string> set;          // Helm: --set k=v
    CancelToken *cancel = nullptr;
};

struct Source {
    // Nocalhost's application types: "rawManifestLocal", "kustomizeLocal", "helmLocal".
    std::string type;
    std::vector<json> objects;      // each a Kubernetes object
    std::vector<std::string> where; // per object: "file:line"
    std::string manifest;           // every object, as one multi-document YAML text
};

// Nocalhost's type names.
inline constexpr const char *kManifestType = "rawManifestLocal";
inline constexpr const char *kKustomizeType = "kustomizeLocal";
inline constexpr const char *kHelmType = "helmLocal";

// The type of `path`: a chart (Chart.yaml, or a .tgz), a Kustomize directory
// (kustomization.yaml, .yml or Kustomization), else a directory of manifests. NH_ENOTFOUND
// when it does not exist, NH_EINVAL for a file that is none of these.
std::string source_type(const std::string &path);

// Renders `path`. A document that is not YAML, or not an object with apiVersion, kind and
// metadata.name, is NH_EINVAL naming its file and line; a tool that fails is NH_ERROR with
// what it wrote to stderr; a missing tool is NH_EUNSUPPORTED naming it.
Source render(const std::string &path, const RenderOptions &o);

// The objects of a multi-document YAML text (`file` names it in errors); empty documents and
// `List` objects' items are handled as kubectl does.
void parse_documents(const std::string &text, const std::string &file, Source &out);

}  // namespace nh::app
