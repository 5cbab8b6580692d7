#include "kube/access.hpp"

#include <map>

#include "common/error.hpp"

namespace nh::kube {

std::string Right::describe() const {
    std::string s = verb + " " + resource;
    if (!subresource.empty()) s += "/" + subresource;
    if (!group.empty()) s += "." + group;
    if (!name.empty()) s += " " + name;
    s += ns.empty() ? std::string(" (cluster-wide)") : " in namespace " + ns;
    return s;
}

std::vector<Right> missing_rights(Client &c, const std::vector<Right> &wanted, CancelToken *cancel, bool *answered,
                                  std::string *why) {
    std::vector<Right> missing;
    std::map<std::string, bool> asked;  // a right wanted twice is asked once and reported once
    if (answered) *answered = true;
    for (const Right &r : wanted) {
        const std::string key = r.verb + " " + r.group + " " + r.resource + " " + r.subresource + " " + r.ns + " " + r.name;
        if (asked.count(key)) continue;
        json attrs = {{"verb", r.verb}, {"group", r.group}, {"resource", r.resource}};
        if (!r.subresource.empty()) attrs["subresource"] = r.subresource;
        if (!r.ns.empty()) attrs["namespace"] = r.ns;
        if (!r.name.empty()) attrs["name"] = r.name;
        json review = {{"apiVersion", "authorization.k8s.io/v1"},
                       {"kind", "SelfSubjectAccessReview"},
                       {"spec", {{"resourceAttributes", attrs}}}};
        json answer;
        try {
            // A review changes nothing: a connection lost on the way is asked again, once.
            for (int attempt = 1;; ++attempt) {
                try {
                    answer = c.create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, cancel);
                    break;
                } catch (const Error &e) {
                    if (e.code() != NH_ECONNECT || attempt == 2) throw;
                }
            }
        } catch (const Error &e) {
            if (e.code() != NH_EFORBIDDEN && e.code() != NH_ENOTFOUND) throw;
            if (answered) *answered = false;
            if (why) *why = e.what();
            return {};
        }
        const bool allowed = answer.value("status", json::object()).value("allowed", false);
        asked[key] = allowed;
        if (!allowed) missing.push_back(r);
    }
    return missing;
}

void require_rights(Client &c, const std::vector<Right> &wanted, const std::string &what, CancelToken *cancel) {
    std::vector<Right> missing = missing_rights(c, wanted, cancel);
    if (missing.empty()) return;
    std::string msg = what + ": missing rights: ";
    for (size_t i = 0; i < missing.size(); ++i) msg += (i ? "; " : "") + missing[i].describe();
    throw Error(NH_EFORBIDDEN, msg, 403, "Forbidden");
}

}  // namespace nh::kube
