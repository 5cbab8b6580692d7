// YAML documents as the JSON they stand for, as the API machinery reads manifests.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

namespace nh::kube {

// sigs.k8s.io/yaml's reading: plain scalars that spell a boolean, null or number become one;
// quoted ones stay strings.
nlohmann::json yaml_to_json(const YAML::Node &n);

}  // namespace nh::kube
