#include "kube/objects.hpp"

#include "common/error.hpp"

namespace nh::kube {

std::string selector_text(const json &selector) {
    std::string out;
    if (!selector.is_object()) return out;
    auto add = [&](const std::string &term) { out += (out.empty() ? "" : ",") + term; };
    auto text = [](const json &v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    if (auto labels = selector.find("matchLabels"); labels != selector.end() && labels->is_object())
        for (auto it = labels->begin(); it != labels->end(); ++it) add(it.key() + "=" + text(it.value()));
    auto exprs = selector.find("matchExpressions");
    if (exprs == selector.end() || !exprs->is_array()) return out;
    for (const auto &e : *exprs) {
        const std::string key = e.value("key", ""), op = e.value("operator", "");
        std::string values;
        for (const auto &v : e.value("values", json::array()))
            values += (values.empty() ? "" : ",") + text(v);
        if (op == "In")
            add(key + " in (" + values + ")");
        else if (op == "NotIn")
            add(key + " notin (" + values + ")");
        else if (op == "Exists")
            add(key);
        else if (op == "DoesNotExist")
            add("!" + key);
        else
            throw Error(NH_EINVAL, "unsupported label selector operator '" + op + "' for key '" + key +
                                       "' (In, NotIn, Exists or DoesNotExist)");
    }
    return out;
}

std::string workload_selector(const json &workload) {
    if (!workload.is_object()) return "";
    return selector_text(workload.value("spec", json::object()).value("selector", json::object()));
}

const json *condition(const json &object, std::string_view type) {
    auto st = object.find("status");
    if (st == object.end() || !st->is_object()) return nullptr;
    auto conds = st->find("conditions");
    if (conds == st->end() || !conds->is_array()) return nullptr;
    for (const auto &c : *conds)
        if (c.is_object() && c.value("type", "") == type) return &c;
    return nullptr;
}

bool pod_running(const json &pod) {
    if (!pod.is_object()) return false;
    if (pod.value("metadata", json::object()).contains("deletionTimestamp")) return false;
    return pod.value("status", json::object()).value("phase", "") == "Running";
}

bool pod_ready(const json &pod) {
    const json *c = condition(pod, "Ready");
    return c && c->value("status", "") == "True";
}

}  // namespace nh::kube
