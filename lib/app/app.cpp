#include "app/app.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "app/render.hpp"
#include "app/xz.hpp"
#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/random.hpp"
#include "dev/config.hpp"
#include "kube/access.hpp"
#include "kube/errors.hpp"

namespace nh::app {

namespace fs = std::filesystem;

namespace {

constexpr const char *kObjectsKey = "nh.objects";  // our key: [{apiVersion, kind, name, path}]
constexpr const char *kStateKey = "s";             // nhctl's: INSTALLING, INSTALLED
constexpr const char *kTypeKey = "t";              // nhctl's: rawManifestLocal, kustomizeLocal, helmLocal
constexpr const char *kManifestKey = "m";          // nhctl's: every object, multi-document YAML, xz
constexpr const char *kConfigKey = "c";            // nhctl's: the dev config (YAML), xz
constexpr const char *kNamespaceIdKey = "nid";     // nhctl's: an id of its own for the namespace's local dirs
// How large a record's manifest or config may grow once decompressed (a Secret holds 1 MiB).
constexpr size_t kMaxRecordText = 64u << 20;

void check_name(const std::string &name) {
    bool ok = !name.empty() && name.size() <= 63 && name.front() != '-' && name.back() != '-';
    for (char ch : name) ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-');
    if (!ok)
        fail(NH_EINVAL, "invalid application name '" + name +
                            "': lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit");
}

std::string ns_of(const kube::Client &c, const Options &o) {
    std::string ns = o.ns.empty() ? c.ns() : o.ns;
    return ns.empty() ? "default" : ns;
}

std::string record_path(const std::string &ns, const std::string &name) {
    return "/api/v1/namespaces/" + kube::url_escape(ns) + "/secrets/" + kube::url_escape(kRecordPrefix + name);
}

std::string describe(const json &ref) { return ref.value("kind", "") + "/" + ref.value("name", ""); }

// What the API server serves, by group version: the REST path of each kind.
struct Resource {
    std::string group, resource;
    bool namespaced = true;
};

class Discovery {
public:
    Discovery(kube::Client &c, CancelToken *cancel) : c_(c), cancel_(cancel) {}

    const Resource &find(const std::string &api_version, const std::string &kind, const std::string &where) {
        auto &kinds = group_version(api_version, where);
        auto it = kinds.find(kind);
        if (it == kinds.end())
            fail(NH_EINVAL, where + ": the API server serves no kind " + kind + " in " + api_version);
        return it->second;
    }

    static std::string base(const std::string &api_version) {
        return api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
    }

private:
    std::map<std::string, Resource> &group_version(const std::string &gv, const std::string &where) {
        auto it = cache_.find(gv);
        if (it != cache_.end()) return it->second;
        json list;
        try {
            list = c_.get(base(gv), cancel_);
        } catch (const Error &e) {
            if (e.code() != NH_ENOTFOUND) throw;
            fail(NH_EINVAL, where + ": the API server does not serve " + gv);
        }
        std::map<std::string, Resource> kinds;
        const std::string group = gv.find('/') == std::string::npos ? "" : gv.substr(0, gv.find('/'));
        for (const auto &r : list.value("resources", json::array())) {
            const std::string res = r.value("name", "");
            if (res.find('/') != std::string::npos) continue;  // a subresource
            kinds.emplace(r.value("kind", ""), Resource{group, res, r.value("namespaced", true)});
        }
        return cache_.emplace(gv, std::move(kinds)).first->second;
    }

    kube::Client &c_;
    CancelToken *cancel_;
    std::map<std::string, std::map<std::string, Resource>> cache_;
};

// One object of the application, ready to apply.
struct Planned {
    json object;  // with the namespace, annotations and label set
    json ref;     // {apiVersion, kind, name, path}
    Resource resource;
};

std::vector<Planned> plan(kube::Client &c, const Source &src, const std::string &name, const std::string &ns,
                          CancelToken *cancel) {
    Discovery d(c, cancel);
    std::vector<Planned> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < src.objects.size(); i++) {
        json obj = src.objects[i];
        const std::string &where = src.where[i];
        const std::string av = obj["apiVersion"], kind = obj["kind"];
        const Resource &r = d.find(av, kind, where);
        json &md = obj["metadata"];
        const std::string oname = md["name"];
        if (!r.namespaced)
            fail(NH_EINVAL, where + ": " + kind + "/" + oname +
                                " is cluster-wide; an application is installed into one namespace and holds only "
                                "namespaced objects");
        if (md.contains("namespace") && md["namespace"].is_string() && !md["namespace"].get<std::string>().empty() &&
            md["namespace"] != ns)
            fail(NH_EINVAL, where + ": " + kind + "/" + oname + " names namespace " + md["namespace"].get<std::string>() +
                                "; the application is installed into " + ns);
        md["namespace"] = ns;
        for (const char *f : {"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"}) md.erase(f);
        if (!md.contains("annotations") || !md["annotations"].is_object()) md["annotations"] = json::object();
        md["annotations"][kAppAnnotation] = name;
        md["annotations"][kAppNamespaceAnnotation] = ns;
        if (!md.contains("labels") || !md["labels"].is_object()) md["labels"] = json::object();
        md["labels"][kManagedByLabel] = "nocalhost";
        const std::string path = Discovery::base(av) + "/namespaces/" + kube::url_escape(ns) + "/" + r.resource + "/" +
                                 kube::url_escape(oname);
        if (!seen.insert(path).second) fail(NH_EINVAL, where + ": " + kind + "/" + oname + " is given twice");
        out.push_back({obj, {{"apiVersion", av}, {"kind", kind}, {"name", oname}, {"path", path}}, r});
    }
    return out;
}

// The .nocalhost/config.yaml of the source as the application's ConfigMap, checked as dev
// start will read it from the cluster (no includes, no variables), or null when there is none.
json config_object(const std::string &source, const Options &o, const std::string &name) {
    std::string path = o.config_path;
    std::error_code ec;
    if (path.empty()) {
        if (!fs::is_directory(source, ec)) return nullptr;
        path = (fs::path(source) / ".nocalhost" / "config.yaml").string();
        if (!fs::exists(path, ec)) return nullptr;
    } else if (fs::is_directory(path, ec)) {
        path = (fs::path(path) / ".nocalhost" / "config.yaml").string();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(NH_ENOTFOUND, "cannot read the application's dev config " + path);
    std::ostringstream s;
    s << in.rdbuf();
    dev::parse_nocalhost_config(s.str(), path);
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", kConfigMapPrefix + name}}},
            {"data", {{"config", s.str()}}}};
}

Source source_of(const std::string &source, const Options &o, const std::string &name, const std::string &ns) {
    RenderOptions ro{name, ns, o.values_files, o.set, o.cancel};
    Source src = render(source, ro);
    json cfg = config_object(source, o, name);
    if (!cfg.is_null()) {
        src.objects.push_back(cfg);
        src.where.push_back(o.config_path.empty() ? source + "/.nocalhost/config.yaml" : o.config_path);
    }
    return src;
}

json get_or_null(kube::Client &c, const std::string &path, CancelToken *cancel) {
    try {
        return c.get(path, cancel);
    } catch (const Error &e) {
        if (e.code() == NH_ENOTFOUND) return nullptr;
        throw;
    }
}

bool belongs(const json &obj, const std::string &name) {
    const json &md = obj.value("metadata", json::object());
    const json ann = md.value("annotations", json::object());
    return ann.is_object() && ann.value(kAppAnnotation, "") == name;
}

std::vector<kube::Right> rights_for(const std::vector<Planned> &objs, const std::vector<const char *> &verbs,
                                    const std::string &ns) {
    std::vector<kube::Right> out;
    std::set<std::string> seen;
    for (const auto &p : objs)
        for (const char *v : verbs)
            if (seen.insert(std::string(v) + " " + p.resource.group + "/" + p.resource.resource).second)
                out.push_back({v, p.resource.group, p.resource.resource, "", ns, ""});
    return out;
}

void apply(kube::Client &c, const Planned &p, CancelToken *cancel) {
    c.patch(p.ref["path"].get<std::string>() + "?fieldManager=nocalhost&force=true", kube::PatchType::Apply,
            p.object.dump(), cancel);
}

// Deletes an object of the application and waits until it is gone (its pods first:
// foreground deletion), unless it no longer carries the application's annotation.
void delete_object(kube::Client &c, const std::string &path, const std::string &name, CancelToken *cancel) {
    json obj = get_or_null(c, path, cancel);
    if (obj.is_null() || !belongs(obj, name)) return;
    kube::Request r;
    r.method = "DELETE";
    r.path = path;
    r.body = json{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", "Foreground"},
                  {"preconditions", {{"uid", obj["metadata"].value("uid", "")}}}}
                 .dump();
    r.cancel = cancel;
    kube::Response resp = c.send(r);
    if (resp.status == 404 || resp.status == 409) return;  // gone, or replaced by another object
    if (resp.status / 100 != 2) throw kube::status_error(resp.status, resp.body, "DELETE", path);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    auto interval = std::chrono::milliseconds(100);
    while (std::chrono::steady_clock::now() < deadline) {
        json now = get_or_null(c, path, cancel);
        if (now.is_null() || now["metadata"].value("uid", "") != obj["metadata"].value("uid", "")) return;
        sleep_or_cancel(cancel, interval, "deleting the application's objects");
        interval = std::min(interval * 2, std::chrono::milliseconds(1000));
    }
    fail(NH_ETIMEOUT, "deleting " + path + ": still there after 120 s");
}

json refs_of(const std::vector<Planned> &objs) {
    json a = json::array();
    for (const auto &p : objs) a.push_back(p.ref);
    return a;
}

// The record's data, with nhctl's keys: the objects it lists as one multi-document text (JSON
// documents, which YAML readers take) and the dev config's text, both xz-compressed as nhctl
// keeps them, so that nhctl lists the application's objects and uninstalls them.
struct RecordText {
    std::string manifest, config;
};

RecordText text_of(const std::vector<Planned> &objs, const std::string &name) {
    RecordText t;
    for (const auto &p : objs) {
        t.manifest += "---\n" + p.object.dump() + "\n";
        const json &md = p.object["metadata"];
        if (p.object.value("kind", "") == "ConfigMap" && md.value("name", "") == kConfigMapPrefix + name &&
            p.object.contains("data") && p.object["data"].contains("config") && p.object["data"]["config"].is_string())
            t.config = p.object["data"]["config"].get<std::string>();
    }
    return t;
}

json record_object(const std::string &name, const std::string &ns, const std::string &type, const std::string &state,
                   const json &objects, const RecordText &text) {
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"type", kRecordType},
            {"metadata",
             {{"name", kRecordPrefix + name},
              {"namespace", ns},
              {"labels", {{kManagedByLabel, "nocalhost"}}},
              {"annotations", {{kAppAnnotation, name}, {kAppNamespaceAnnotation, ns}}}}},
            {"data",
             {{kStateKey, base64::encode(state)},
              {kTypeKey, base64::encode(type)},
              {kObjectsKey, base64::encode(objects.dump())},
              {kManifestKey, base64::encode(xz_compress(text.manifest))},
              {kConfigKey, base64::encode(xz_compress(text.config))}}}};
}

std::string data_of(const json &secret, const char *key) {
    const json data = secret.value("data", json::object());
    if (!data.is_object() || !data.contains(key) || !data[key].is_string()) return "";
    return base64::decode(data[key].get<std::string>()).value_or("");
}

// nhctl's xz-compressed text under `key`; "" when absent or not xz (a record is the cluster's
// to change: what cannot be read is left out, not trusted).
std::string xz_data_of(const json &secret, const char *key) {
    return xz_decompress(data_of(secret, key), kMaxRecordText).value_or("");
}

// The objects of a record nhctl wrote (no "nh.objects"): apiVersion, kind and name of each
// document of its manifest. Documents that are not objects are skipped.
json nhctl_objects(const json &secret) {
    json out = json::array();
    Source src;
    try {
        parse_documents(xz_data_of(secret, kManifestKey), "the manifest of " + secret["metadata"].value("name", ""), src);
    } catch (const Error &) {
        return out;
    }
    for (const auto &o : src.objects)
        out.push_back({{"apiVersion", o.value("apiVersion", "")}, {"kind", o.value("kind", "")},
                       {"name", o["metadata"].value("name", "")}});
    return out;
}

// The objects a record lists: ours ("nh.objects", with their REST paths), else those of
// nhctl's manifest (paths found through discovery when needed).
json recorded_objects(const json &secret) {
    json objects = json::parse(data_of(secret, kObjectsKey), nullptr, false);
    if (objects.is_array()) return objects;
    return nhctl_objects(secret);
}

bool workload_kind(const std::string &kind) {
    for (const char *k : {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"})
        if (kind == k) return true;
    return false;
}

json describe_record(const json &secret) {
    const json &md = secret["metadata"];
    const std::string sname = md.value("name", "");
    const json objects = recorded_objects(secret);
    json refs = json::array(), workloads = json::array();
    for (const auto &o : objects) {
        refs.push_back({{"apiVersion", o.value("apiVersion", "")}, {"kind", o.value("kind", "")}, {"name", o.value("name", "")}});
        if (workload_kind(o.value("kind", "")))
            workloads.push_back({{"kind", o.value("kind", "")}, {"name", o.value("name", "")}});
    }
    return {{"name", sname.substr(std::string(kRecordPrefix).size())},
            {"namespace", md.value("namespace", "")},
            {"type", data_of(secret, kTypeKey)},
            {"state", data_of(secret, kStateKey)},
            {"objects", refs},
            {"workloads", workloads}};
}

json read_record(kube::Client &c, const std::string &ns, const std::string &name, CancelToken *cancel) {
    json r = get_or_null(c, record_path(ns, name), cancel);
    if (r.is_null() || r.value("type", "") != kRecordType)
        fail(NH_ENOTFOUND, "no application named '" + name + "' in namespace " + ns + " (list them with: nh app list)");
    return r;
}

// Writes `next`'s data over the record's, keeping the keys it does not set (nhctl's dev state
// "v", its namespace id).
json write_record(kube::Client &c, const std::string &ns, const std::string &name, json current, const json &next,
                  CancelToken *cancel) {
    if (!current.contains("data") || !current["data"].is_object()) current["data"] = json::object();
    for (const auto &[k, v] : next["data"].items()) current["data"][k] = v;
    return c.update(record_path(ns, name), current, cancel);
}

std::vector<kube::Right> record_rights(const std::string &ns, const char *verb) {
    return {{verb, "", "secrets", "", ns, ""}};
}

// Objects that exist and are not the application's: an install or upgrade would take them over.
void check_owned(kube::Client &c, const std::vector<Planned> &objs, const std::string &name,
                 const std::set<std::string> &recorded, std::set<std::string> &existing, CancelToken *cancel) {
    std::string taken;
    for (const auto &p : objs) {
        const std::string path = p.ref["path"];
        json cur = get_or_null(c, path, cancel);
        if (cur.is_null()) continue;
        existing.insert(path);
        if (!belongs(cur, name) && !recorded.count(path)) taken += (taken.empty() ? "" : ", ") + describe(p.ref);
    }
    if (!taken.empty())
        fail(NH_EEXISTS, "cannot install application " + name + ": these objects exist in namespace " +
                             objs.front().object["metadata"]["namespace"].get<std::string>() +
                             " and are not part of it: " + taken);
}

// Removes what an install or upgrade made before it failed (errors there are not the one to report).
void undo_created(kube::Client &c, const std::vector<std::string> &created, const std::string &name) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
        try {
            delete_object(c, *it, name, nullptr);
        } catch (const std::exception &) {
        }
    }
}

// `refs` with the REST path of each (a record nhctl wrote names objects without one); objects
// that are not namespaced, or of kinds the API server no longer serves, are left out.
json with_paths(const json &refs, Discovery &d, const std::string &ns) {
    json out = json::array();
    for (json ref : refs) {
        if (!ref.value("path", "").empty()) {
            out.push_back(std::move(ref));
            continue;
        }
        const std::string av = ref.value("apiVersion", ""), kind = ref.value("kind", ""), name = ref.value("name", "");
        try {
            const Resource &r = d.find(av, kind, "the application's record");
            if (!r.namespaced || name.empty()) continue;
            ref["path"] = Discovery::base(av) + "/namespaces/" + kube::url_escape(ns) + "/" + r.resource + "/" + kube::url_escape(name);
        } catch (const Error &e) {
            if (e.code() != NH_EINVAL) throw;
            continue;
        }
        out.push_back(std::move(ref));
    }
    return out;
}

std::set<std::string> paths_of(const json &refs) {
    std::set<std::string> s;
    for (const auto &r : refs) s.insert(r.value("path", ""));
    return s;
}

}  // namespace

json install(kube::Client &c, const std::string &name, const std::string &source, const Options &o) {
    check_name(name);
    const std::string ns = ns_of(c, o);
    Source src = source_of(source, o, name, ns);
    if (src.objects.empty()) fail(NH_EINVAL, source + " holds no Kubernetes objects");
    std::vector<Planned> objs = plan(c, src, name, ns, o.cancel);
    const RecordText text = text_of(objs, name);
    auto rights = rights_for(objs, {"get", "create", "patch", "delete"}, ns);
    for (auto &r : record_rights(ns, "create")) rights.push_back(r);
    for (auto &r : record_rights(ns, "update")) rights.push_back(r);
    kube::require_rights(c, rights, "cannot install application " + name, o.cancel);
    if (!get_or_null(c, record_path(ns, name), o.cancel).is_null())
        fail(NH_EEXISTS, "application " + name + " is already installed in namespace " + ns + " (nh app upgrade changes it)");
    std::set<std::string> existing;
    check_owned(c, objs, name, {}, existing, o.cancel);
    // The record first, listing every object, so that what an interrupted install made is found.
    json record;
    try {
        record = c.create("/api/v1/namespaces/" + kube::url_escape(ns) + "/secrets",
                          [&] {
                              json r = record_object(name, ns, src.type, "INSTALLING", refs_of(objs), text);
                              r["data"][kNamespaceIdKey] = base64::encode(random_hex(5));
                              return r;
                          }(),
                          o.cancel);
    } catch (const Error &e) {
        if (e.code() == NH_EEXISTS) fail(NH_EEXISTS, "application " + name + " is already installed in namespace " + ns);
        throw;
    }
    std::vector<std::string> created;
    try {
        for (const auto &p : objs) {
            apply(c, p, o.cancel);
            if (!existing.count(p.ref["path"])) created.push_back(p.ref["path"]);
        }
        record = write_record(c, ns, name, record, record_object(name, ns, src.type, "INSTALLED", refs_of(objs), text), o.cancel);
    } catch (const Error &e) {
        undo_created(c, created, name);
        try {
            c.remove(record_path(ns, name), nullptr);
        } catch (const std::exception &) {
        }
        throw Error(e.code(), std::string(e.what()) + " (the install was rolled back)");
    }
    return describe_record(record);
}

json upgrade(kube::Client &c, const std::string &name, const std::string &source, const Options &o) {
    check_name(name);
    const std::string ns = ns_of(c, o);
    json record = read_record(c, ns, name, o.cancel);
    const json before = describe_record(record);
    Discovery d(c, o.cancel);
    const json old_refs = with_paths(recorded_objects(record), d, ns);
    const RecordText old_text{xz_data_of(record, kManifestKey), xz_data_of(record, kConfigKey)};
    Source src = source_of(source, o, name, ns);
    if (src.objects.empty()) fail(NH_EINVAL, source + " holds no Kubernetes objects");
    std::vector<Planned> objs = plan(c, src, name, ns, o.cancel);
    const RecordText text = text_of(objs, name);
    const std::set<std::string> old_paths = paths_of(old_refs), new_paths = paths_of(refs_of(objs));
    auto rights = rights_for(objs, {"get", "create", "patch", "delete"}, ns);
    for (auto &r : record_rights(ns, "update")) rights.push_back(r);
    // Pruning deletes kinds the new set may not have.
    for (const auto &ref : old_refs)
        if (!new_paths.count(ref.value("path", ""))) {
            const Resource &r = d.find(ref.value("apiVersion", ""), ref.value("kind", ""), "the application's record");
            rights.push_back({"get", r.group, r.resource, "", ns, ""});
            rights.push_back({"delete", r.group, r.resource, "", ns, ""});
        }
    kube::require_rights(c, rights, "cannot upgrade application " + name, o.cancel);
    std::set<std::string> existing;
    check_owned(c, objs, name, old_paths, existing, o.cancel);
    // The record lists the old and the new objects while both may exist.
    json both = old_refs;
    RecordText both_text{old_text.manifest, text.config};
    for (const auto &p : objs)
        if (!old_paths.count(p.ref["path"])) {
            both.push_back(p.ref);
            both_text.manifest += "---\n" + p.object.dump() + "\n";
        }
    const std::string old_type = before.value("type", src.type);
    record = write_record(c, ns, name, record, record_object(name, ns, src.type, "INSTALLING", both, both_text), o.cancel);
    std::vector<std::string> created;
    try {
        for (const auto &p : objs) {
            apply(c, p, o.cancel);
            if (!existing.count(p.ref["path"])) created.push_back(p.ref["path"]);
        }
    } catch (const Error &e) {
        undo_created(c, created, name);
        try {
            write_record(c, ns, name, c.get(record_path(ns, name)), record_object(name, ns, old_type, "INSTALLED", old_refs, old_text), nullptr);
        } catch (const std::exception &) {
        }
        throw Error(e.code(), std::string(e.what()) + " (what the upgrade added was removed)");
    }
    for (const auto &ref : old_refs)
        if (!new_paths.count(ref.value("path", ""))) delete_object(c, ref.value("path", ""), name, o.cancel);
    record = write_record(c, ns, name, record, record_object(name, ns, src.type, "INSTALLED", refs_of(objs), text), o.cancel);
    return describe_record(record);
}

void uninstall(kube::Client &c, const std::string &name, const Options &o) {
    check_name(name);
    const std::string ns = ns_of(c, o);
    json record = read_record(c, ns, name, o.cancel);
    Discovery d(c, o.cancel);
    const json refs = with_paths(recorded_objects(record), d, ns);
    std::vector<kube::Right> rights = record_rights(ns, "delete");
    for (const auto &ref : refs) {
        const Resource &r = d.find(ref.value("apiVersion", ""), ref.value("kind", ""), "the application's record");
        rights.push_back({"get", r.group, r.resource, "", ns, ""});
        rights.push_back({"delete", r.group, r.resource, "", ns, ""});
    }
    kube::require_rights(c, rights, "cannot uninstall application " + name, o.cancel);
    for (auto it = refs.rbegin(); it != refs.rend(); ++it) delete_object(c, it->value("path", ""), name, o.cancel);
    try {
        c.remove(record_path(ns, name), o.cancel);
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND) throw;
    }
}

json list(kube::Client &c, const Options &o) {
    const std::string selector = "?fieldSelector=" + kube::url_escape(std::string("type=") + kRecordType);
    const std::string path =
        o.all_namespaces ? "/api/v1/secrets" + selector : "/api/v1/namespaces/" + kube::url_escape(ns_of(c, o)) + "/secrets" + selector;
    json out = json::array();
    for (const auto &s : c.get(path, o.cancel).value("items", json::array()))
        if (s["metadata"].value("name", "").starts_with(kRecordPrefix)) out.push_back(describe_record(s));
    return out;
}

}  // namespace nh::app
