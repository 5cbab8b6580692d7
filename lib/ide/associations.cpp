#include "ide/associations.hpp"

#include <filesystem>

#include "common/error.hpp"
#include "dev/workload.hpp"

namespace nh::ide {
namespace fs = std::filesystem;

namespace {

// The kind as dev mode names it: the lower-case singular of a built-in kind, a custom
// "<resource>.<group>" in lower case. Throws NH_EINVAL for an unknown kind.
std::string kind_key(const std::string &kind) {
    dev::WorkloadKind k = dev::parse_workload_kind(kind);
    return k.lower;
}

}  // namespace

std::string resolve_dir(const std::string &dir) {
    if (dir.empty()) fail(NH_EINVAL, "invalid argument: the directory is empty");
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(fs::path(dir), ec), ec);
    if (ec) fail(NH_EIO, "cannot resolve the directory " + dir + ": " + ec.message());
    std::string s = p.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

Associations::Associations(const std::string &path)
    : store_(path.empty() ? user_config_file("associations.json") : path, "associations", "association store") {}

json Associations::set(const Association &a) const {
    if (a.name.empty()) fail(NH_EINVAL, "invalid argument: the workload name is empty");
    const std::string dir = resolve_dir(a.dir);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(NH_ENOTFOUND, "no such directory: " + a.dir);
    json entry = {{"dir", dir},         {"namespace", a.ns},   {"kind", kind_key(a.kind)},
                  {"name", a.name},     {"container", a.container}, {"kubeconfig", a.kubeconfig},
                  {"context", a.context}, {"updated", now_rfc3339()}};
    store_.update([&](json &entries) {
        for (auto &e : entries)
            if (e.value("dir", "") == dir) {
                e = entry;
                return true;
            }
        entries.push_back(entry);
        return true;
    });
    return entry;
}

json Associations::get(const std::string &dir) const {
    const json entries = store_.read();
    for (fs::path p = resolve_dir(dir);; p = p.parent_path()) {
        for (const auto &e : entries)
            if (e.value("dir", "") == p.string()) return e;
        if (p == p.root_path() || p.empty()) return nullptr;
    }
}

json Associations::find(const Association &w) const {
    const std::string kind = kind_key(w.kind);
    json out = json::array();
    for (const auto &e : store_.read()) {
        if (e.value("kind", "") != kind || e.value("name", "") != w.name) continue;
        if (!w.ns.empty() && e.value("namespace", "") != w.ns) continue;
        if (!w.context.empty() && e.value("context", "") != w.context) continue;
        if (!w.kubeconfig.empty() && e.value("kubeconfig", "") != w.kubeconfig) continue;
        out.push_back(e);
    }
    return out;
}

json Associations::list() const { return store_.read(); }

bool Associations::remove(const std::string &dir) const {
    const std::string resolved = resolve_dir(dir);
    return store_.update([&](json &entries) {
        for (auto it = entries.begin(); it != entries.end(); ++it)
            if (it->value("dir", "") == resolved) {
                entries.erase(it);
                return true;
            }
        return false;
    });
}

}  // namespace nh::ide
