#include "ide/profiles.hpp"


#include "common/error.hpp"
#include "dev/workload.hpp"

namespace nh::ide {

namespace {

bool same(const json &e, const Profile &k, const std::string &kind) {
    return e.value("context", "") == k.context && e.value("namespace", "") == k.ns && e.value("kind", "") == kind &&
           e.value("name", "") == k.name;
}

}  // namespace

Profiles::Profiles(const std::string &path)
    : store_(path.empty() ? user_config_file("profiles.json") : path, "profiles", "dev profile store") {}

json Profiles::set(const Profile &p) const {
    if (p.name.empty()) fail(NH_EINVAL, "invalid argument: the workload name is empty");
    if (!p.workdir.empty() && p.workdir[0] != '/') fail(NH_EINVAL, "the work dir must be an absolute path");
    const std::string kind = dev::parse_workload_kind(p.kind).lower;
    json result;
    store_.update([&](json &entries) {
        json *entry = nullptr;
        for (auto &e : entries)
            if (same(e, p, kind)) entry = &e;
        if (!entry) {
            entries.push_back({{"context", p.context}, {"namespace", p.ns}, {"kind", kind}, {"name", p.name},
                               {"image", ""}, {"container", ""}, {"workdir", ""}});
            entry = &entries.back();
        }
        if (!p.image.empty()) (*entry)["image"] = p.image;
        if (!p.container.empty()) (*entry)["container"] = p.container;
        if (!p.workdir.empty()) (*entry)["workdir"] = p.workdir;
        (*entry)["updated"] = now_rfc3339();
        result = *entry;
        return true;
    });
    return result;
}

json Profiles::get(const Profile &key) const {
    const std::string kind = dev::parse_workload_kind(key.kind).lower;
    for (const auto &e : store_.read())
        if (same(e, key, kind)) return e;
    return nullptr;
}

}  // namespace nh::ide
