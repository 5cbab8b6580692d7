#include "tree/tree.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "kube/objects.hpp"

namespace nh::tree {

namespace {

const json &empty_object() {
    static const json e = json::object();
    return e;
}

const json &metadata(const json &obj) {
    auto it = obj.find("metadata");
    return it != obj.end() && it->is_object() ? *it : empty_object();
}

const json &field(const json &obj, const char *key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_object() ? *it : empty_object();
}

std::string str(const json &obj, const char *key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

long num(const json &obj, const char *key, long dflt = 0) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<long>() : dflt;
}

bool deleting(const json &obj) { return metadata(obj).contains("deletionTimestamp"); }

// What the tree keeps of an object: all but its managedFields (the bulk of most objects, and
// nothing the tree shows), as an informer's transform would drop them.
json kept(const json &obj) {
    json o = obj;
    auto md = o.find("metadata");
    if (md != o.end() && md->is_object()) md->erase("managedFields");
    return o;
}

bool has_controller(const json &obj) {
    for (const auto &ref : metadata(obj).value("ownerReferences", json::array()))
        if (ref.value("controller", false)) return true;
    return false;
}

int kind_order(dev::Kind k) {
    const auto &kinds = default_kinds();
    auto it = std::find(kinds.begin(), kinds.end(), k);
    return it == kinds.end() ? -1 : static_cast<int>(it - kinds.begin());
}

std::string trim(std::string s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The pod spec of a workload of `k` (the object itself for a Pod).
const json &pod_spec(const json &obj, dev::Kind k) {
    const json &spec = field(obj, "spec");
    if (k == dev::Kind::Pod) return spec;
    if (k == dev::Kind::CronJob) return field(field(field(field(spec, "jobTemplate"), "spec"), "template"), "spec");
    return field(field(spec, "template"), "spec");
}

json containers_of(const json &obj, dev::Kind k) {
    json out = json::array();
    for (const auto &c : pod_spec(obj, k).value("containers", json::array()))
        out.push_back({{"name", str(c, "name")}, {"image", str(c, "image")}});
    return out;
}

// Desired and ready counts as kubectl's READY column shows them (pods: containers).
void counts(json &e, const json &obj, dev::Kind k) {
    const json &spec = field(obj, "spec");
    const json &st = field(obj, "status");
    switch (k) {
    case dev::Kind::Deployment:
    case dev::Kind::StatefulSet:
    case dev::Kind::ReplicaSet:
        e["replicas"] = num(spec, "replicas", 1);
        e["ready"] = num(st, "readyReplicas");
        break;
    case dev::Kind::DaemonSet:
        e["replicas"] = num(st, "desiredNumberScheduled");
        e["ready"] = num(st, "numberReady");
        break;
    case dev::Kind::Job:
        e["replicas"] = spec.contains("completions") && spec["completions"].is_number_integer()
                            ? json(spec["completions"].get<long>())
                            : json(nullptr);
        e["ready"] = num(st, "ready");
        e["active"] = num(st, "active");
        e["succeeded"] = num(st, "succeeded");
        e["failed"] = num(st, "failed");
        e["suspended"] = spec.value("suspend", false);
        break;
    case dev::Kind::CronJob:
        e["replicas"] = nullptr;
        e["ready"] = 0;
        e["active"] = static_cast<long>(st.value("active", json::array()).size());
        e["schedule"] = str(spec, "schedule");
        e["suspended"] = spec.value("suspend", false);
        e["last_schedule"] = st.contains("lastScheduleTime") ? st["lastScheduleTime"] : json(nullptr);
        break;
    case dev::Kind::Pod: {
        long ready = 0;
        for (const auto &cs : st.value("containerStatuses", json::array()))
            if (cs.value("ready", false)) ++ready;
        e["replicas"] = static_cast<long>(spec.value("containers", json::array()).size());
        e["ready"] = ready;
        e["phase"] = deleting(obj) ? std::string("Terminating") : str(st, "phase");
        e["node"] = str(spec, "nodeName");
        break;
    }
    case dev::Kind::Custom:
        break;
    }
}

}  // namespace

std::string application_of(const json &object) {
    const json &md = metadata(object);
    for (const char *where : {"annotations", "labels"}) {
        std::string app = str(field(md, where), kApplicationKey);
        if (!app.empty()) return app;
    }
    std::string release = str(field(md, "annotations"), kHelmReleaseAnnotation);
    return release.empty() ? kDefaultApplication : release;
}

// ---- label selectors ----

LabelSelector::LabelSelector(const std::string &text) {
    std::vector<std::string> parts;
    std::string cur;
    int depth = 0;
    for (char c : text) {
        if (c == '(') ++depth;
        if (c == ')') --depth;
        if (c == ',' && depth == 0) {
            parts.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (depth != 0) fail(NH_EINVAL, "label selector '" + text + "': unbalanced parentheses");
    if (!trim(cur).empty() || !parts.empty()) parts.push_back(cur);
    for (auto &raw : parts) {
        std::string p = trim(raw);
        if (p.empty()) fail(NH_EINVAL, "label selector '" + text + "': an empty requirement");
        Term t;
        auto bad = [&] { fail(NH_EINVAL, "label selector '" + text + "': cannot read '" + p + "'"); };
        if (p[0] == '!') {
            t.key = trim(p.substr(1));
            t.op = Op::NotExists;
        } else if (auto ne = p.find("!="); ne != std::string::npos) {
            t.key = trim(p.substr(0, ne));
            t.op = Op::NotEq;
            t.values = {trim(p.substr(ne + 2))};
        } else if (auto eq = p.find('='); eq != std::string::npos) {
            t.key = trim(p.substr(0, eq));
            t.op = Op::Eq;
            size_t v = eq + 1 + (p.size() > eq + 1 && p[eq + 1] == '=' ? 1 : 0);
            t.values = {trim(p.substr(v))};
        } else if (auto open = p.find('('); open != std::string::npos) {
            if (p.back() != ')') bad();
            std::string head = trim(p.substr(0, open));
            auto sp = head.find_last_of(" \t");
            if (sp == std::string::npos) bad();
            std::string op = head.substr(sp + 1);
            t.key = trim(head.substr(0, sp));
            if (op == "in") t.op = Op::In;
            else if (op == "notin") t.op = Op::NotIn;
            else bad();
            std::string inner = p.substr(open + 1, p.size() - open - 2);
            size_t pos = 0;
            while (pos <= inner.size()) {
                size_t comma = inner.find(',', pos);
                if (comma == std::string::npos) comma = inner.size();
                std::string v = trim(inner.substr(pos, comma - pos));
                if (!v.empty()) t.values.push_back(v);
                pos = comma + 1;
            }
        } else {
            t.key = p;
            t.op = Op::Exists;
        }
        if (t.key.empty() || t.key.find_first_of(" \t()!=") != std::string::npos) bad();
        terms_.push_back(std::move(t));
    }
}

bool LabelSelector::matches(const json &object) const {
    const json &labels = field(metadata(object), "labels");
    for (const auto &t : terms_) {
        auto it = labels.find(t.key);
        bool has = it != labels.end() && it->is_string();
        std::string v = has ? it->get<std::string>() : std::string();
        bool in = has && std::find(t.values.begin(), t.values.end(), v) != t.values.end();
        switch (t.op) {
        case Op::Eq:
        case Op::In:
            if (!in) return false;
            break;
        case Op::NotEq:
        case Op::NotIn:
            if (in) return false;
            break;
        case Op::Exists:
            if (!has) return false;
            break;
        case Op::NotExists:
            if (has) return false;
            break;
        }
    }
    return true;
}

// ---- sources ----

const std::vector<dev::Kind> &default_kinds() {
    static const std::vector<dev::Kind> k{dev::Kind::Deployment, dev::Kind::StatefulSet, dev::Kind::DaemonSet,
                                          dev::Kind::ReplicaSet, dev::Kind::Job,         dev::Kind::CronJob,
                                          dev::Kind::Pod};
    return k;
}

std::vector<Source> sources_of(const Options &opts, const std::string &client_ns) {
    const std::string ns = opts.all_namespaces ? std::string() : (opts.ns.empty() ? client_ns : opts.ns);
    auto collection = [&](const std::string &gv, const std::string &resource) {
        std::string p = gv == "v1" ? "/api/v1" : "/apis/" + gv;
        if (!ns.empty()) p += "/namespaces/" + kube::url_escape(ns);
        return p + "/" + resource;
    };
    std::vector<Source> out;
    const auto &kinds = opts.kinds.empty() ? default_kinds() : opts.kinds;
    for (dev::Kind k : default_kinds()) {
        if (k == dev::Kind::Pod || std::find(kinds.begin(), kinds.end(), k) == kinds.end()) continue;
        const auto &info = dev::kind_info(k);
        out.push_back({Source::Workload, k, collection(info.group_version, info.resource), opts.label_selector});
    }
    for (dev::Kind k : kinds)
        if (kind_order(k) < 0) fail(NH_EINVAL, std::string("the tree does not list ") + dev::kind_info(k).name + "s");
    // Pods always: bare pods are entries, and dev pods give the overlay its pod. Unfiltered, as a
    // dev pod need not match the workloads' selector.
    out.push_back({Source::Pods, dev::Kind::Pod, collection("v1", "pods"), ""});
    out.push_back({Source::Sessions, dev::Kind::Pod, collection("v1", "secrets"),
                   std::string(dev::kRoleLabel) + "=" + dev::kRoleSession});
    return out;
}

// ---- the tree ----

Tree::Tree(const Options &opts, std::vector<Source> sources)
    : opts_(opts), pod_selector_(opts.label_selector), sources_(std::move(sources)), objects_(sources_.size()) {
    if (opts_.kinds.empty()) opts_.kinds = default_kinds();
    for (size_t i = 0; i < sources_.size(); ++i)
        if (sources_[i].type == Source::Pods) pods_source_ = static_cast<int>(i);
}

void Tree::affected(size_t i, const json &object, std::vector<EntryKey> &out) const {
    const json &md = metadata(object);
    const std::string ns = str(md, "namespace"), name = str(md, "name");
    const Source &src = sources_[i];
    auto session_key = [&](const dev::Session &s) {
        int order = kind_order(s.kind.kind);
        if (order >= 0) out.emplace_back(s.ns, order, s.name);
    };
    switch (src.type) {
    case Source::Workload:
        out.emplace_back(ns, kind_order(src.kind), name);
        break;
    case Source::Pods: {
        if (std::find(opts_.kinds.begin(), opts_.kinds.end(), dev::Kind::Pod) != opts_.kinds.end())
            out.emplace_back(ns, kind_order(dev::Kind::Pod), name);
        std::string id = str(field(md, "annotations"), dev::kSessionIdAnnotation);
        if (id.empty()) break;
        for (auto it = sessions_.lower_bound({ns, ""}); it != sessions_.end() && it->first.first == ns; ++it)
            if (it->second.session_id == id) session_key(it->second);
        break;
    }
    case Source::Sessions: {
        auto it = sessions_.find({ns, name});
        if (it != sessions_.end()) session_key(it->second);
        try {
            session_key(dev::session_from_record(object));
        } catch (const Error &) {
        }
        break;
    }
    }
}

json Tree::dev_overlay(const std::string &ns, dev::Kind kind, const std::string &name, const json &workload) const {
    json out = json::array();
    for (auto it = sessions_.lower_bound({ns, ""}); it != sessions_.end() && it->first.first == ns; ++it) {
        const dev::Session &s = it->second;
        if (s.kind != kind || s.name != name) continue;
        json pod = nullptr;
        if (pods_source_ >= 0 && !s.session_id.empty()) {
            const auto &pods = objects_[static_cast<size_t>(pods_source_)];
            const json *best = nullptr;
            for (auto p = pods.lower_bound({ns, ""}); p != pods.end() && p->first.first == ns; ++p) {
                const json &pm = metadata(p->second);
                if (deleting(p->second) || str(field(pm, "annotations"), dev::kSessionIdAnnotation) != s.session_id)
                    continue;
                if (!best || str(pm, "creationTimestamp") > str(metadata(*best), "creationTimestamp")) best = &p->second;
            }
            if (best)
                pod = {{"name", str(metadata(*best), "name")},
                       {"phase", str(field(*best, "status"), "phase")},
                       {"ready", kube::pod_ready(*best)}};
        }
        out.push_back({{"tool", "libnocalhost"},
                       {"mode", dev::mode_name(s.mode)},
                       {"phase", s.phase},
                       {"owner", s.owner},
                       {"developer", s.mode == dev::Mode::Duplicate ? json(s.developer) : json(nullptr)},
                       {"since", s.since},
                       {"container", s.container},
                       {"image", s.image},
                       {"copy", s.mode == dev::Mode::Duplicate ? json(s.generated) : json(nullptr)},
                       {"generated_deployment", s.generated.empty() ? json(nullptr) : json(s.generated)},
                       {"session_object", s.object_name},
                       {"pod", pod},
                       {"sync", {{"port", s.sync_port}, {"container", dev::kSidecarName}, {"workdir", s.workdir}}}});
    }
    // Nocalhost's own CLI (nhctl) records the original in an annotation on the workload in its dev
    // mode and renames the dev container "nocalhost-dev"; it records no owner in the cluster.
    if (!workload.is_null() && !str(field(metadata(workload), "annotations"), dev::kNhctlOriginAnnotation).empty()) {
        std::string image;
        for (const auto &c : pod_spec(workload, kind).value("containers", json::array()))
            if (str(c, "name") == "nocalhost-dev") image = str(c, "image");
        out.push_back({{"tool", "nhctl"},
                       {"mode", "replace"},
                       {"phase", "active"},
                       {"owner", nullptr},
                       {"developer", nullptr},
                       {"since", nullptr},
                       {"container", "nocalhost-dev"},
                       {"image", image},
                       {"copy", nullptr},
                       {"generated_deployment", nullptr},
                       {"session_object", nullptr},
                       {"pod", nullptr},
                       {"sync", nullptr}});
    }
    return out;
}

std::optional<json> Tree::render(const EntryKey &key) const {
    const auto &[ns, order, name] = key;
    const dev::Kind kind = default_kinds()[static_cast<size_t>(order)];
    if (std::find(opts_.kinds.begin(), opts_.kinds.end(), kind) == opts_.kinds.end()) return std::nullopt;
    const json *obj = nullptr;
    for (size_t i = 0; i < sources_.size() && !obj; ++i) {
        const Source &s = sources_[i];
        bool holds = (s.type == Source::Workload && s.kind == kind) || (s.type == Source::Pods && kind == dev::Kind::Pod);
        if (!holds) continue;
        auto it = objects_[i].find({ns, name});
        if (it != objects_[i].end()) obj = &it->second;
    }
    json original;  // a workload dev mode removed (a bare Pod): its recorded original
    if (obj) {
        const json &labels = field(metadata(*obj), "labels");
        // What dev mode generates (a duplicate, the Deployment of a Pod's dev pod) shows as the
        // original's dev overlay, not as a workload of its own.
        if (labels.contains(dev::kGeneratedLabel)) return std::nullopt;
        if ((kind == dev::Kind::Pod || kind == dev::Kind::ReplicaSet) && has_controller(*obj)) return std::nullopt;
        if (kind == dev::Kind::Pod && !pod_selector_.matches(*obj)) return std::nullopt;
    } else if (kind == dev::Kind::Pod) {  // the only kind dev mode deletes
        for (auto it = sessions_.lower_bound({ns, ""}); it != sessions_.end() && it->first.first == ns; ++it) {
            const dev::Session &s = it->second;
            if (s.kind != kind || s.name != name || s.mode != dev::Mode::Replace) continue;
            size_t src = 0;
            while (src < sources_.size() && sources_[src].type != Source::Sessions) ++src;
            auto rec = objects_[src].find(it->first);
            if (rec == objects_[src].end()) continue;
            const json &data = field(rec->second, "data");
            if (!data.contains("original") || !data["original"].is_string()) continue;
            auto text = base64::decode(data["original"].get<std::string>());
            if (!text) continue;
            original = json::parse(*text, nullptr, false);
            if (original.is_discarded() || !original.is_object()) original = nullptr;
        }
        if (original.is_null() || !pod_selector_.matches(original)) return std::nullopt;
        obj = &original;
    } else {
        return std::nullopt;
    }
    const json &md = metadata(*obj);
    json e = {{"kind", dev::kind_info(kind).name},
              {"name", name},
              {"namespace", ns},
              {"application", application_of(*obj)},
              {"created", md.contains("creationTimestamp") ? md["creationTimestamp"] : json(nullptr)}};
    counts(e, *obj, kind);
    e["containers"] = containers_of(*obj, kind);
    if (!original.is_null()) {
        e["ready"] = 0;
        if (kind == dev::Kind::Pod) e["phase"] = "";
    }
    e["dev"] = dev_overlay(ns, kind, name, *obj);
    e["dev_mode"] = !e["dev"].empty();
    return e;
}

std::vector<Change> Tree::refresh(const std::vector<EntryKey> &keys_in) {
    std::vector<EntryKey> keys = keys_in;
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::vector<Change> out;
    for (const auto &k : keys) {
        if (std::get<1>(k) < 0) continue;
        std::optional<json> now = render(k);
        auto old = entries_.find(k);
        if (now && old == entries_.end()) {
            out.push_back({ChangeType::Added, *now});
            entries_.emplace(k, std::move(*now));
        } else if (now && old->second != *now) {
            out.push_back({ChangeType::Modified, *now});
            old->second = std::move(*now);
        } else if (!now && old != entries_.end()) {
            out.push_back({ChangeType::Deleted, std::move(old->second)});
            entries_.erase(old);
        }
    }
    return out;
}

std::vector<Change> Tree::reset(size_t i, const json &items) {
    std::vector<EntryKey> keys;
    for (const auto &[k, obj] : objects_[i]) affected(i, obj, keys);
    auto &objs = objects_[i];
    objs.clear();
    if (sources_[i].type == Source::Sessions) sessions_.clear();
    for (const auto &obj : items) {
        const json &md = metadata(obj);
        ObjKey k{str(md, "namespace"), str(md, "name")};
        if (sources_[i].type == Source::Sessions) {
            try {
                sessions_[k] = dev::session_from_record(obj);
            } catch (const Error &) {
                continue;  // an unreadable record shows no overlay, as nh_dev_list skips it
            }
        }
        objs[k] = kept(obj);
    }
    for (const auto &[k, obj] : objs) affected(i, obj, keys);
    return refresh(keys);
}

std::vector<Change> Tree::apply(size_t i, kube::WatchEvent type, const json &object) {
    if (type == kube::WatchEvent::Relisted) return reset(i, object.value("items", json::array()));
    const json &md = metadata(object);
    ObjKey k{str(md, "namespace"), str(md, "name")};
    std::vector<EntryKey> keys;
    auto &objs = objects_[i];
    if (auto old = objs.find(k); old != objs.end()) affected(i, old->second, keys);
    affected(i, object, keys);
    if (type == kube::WatchEvent::Deleted) {
        objs.erase(k);
        if (sources_[i].type == Source::Sessions) sessions_.erase(k);
    } else {
        objs[k] = kept(object);
        if (sources_[i].type == Source::Sessions) {
            try {
                sessions_[k] = dev::session_from_record(object);
            } catch (const Error &) {
                sessions_.erase(k);
            }
        }
    }
    return refresh(keys);
}

json Tree::entries() const {
    json out = json::array();
    for (const auto &[k, e] : entries_) out.push_back(e);
    return out;
}

json list(kube::Client &client, const Options &opts) {
    Tree t(opts, sources_of(opts, client.ns()));
    for (size_t i = 0; i < t.sources().size(); ++i) {
        const Source &s = t.sources()[i];
        std::string path = s.path;
        if (!s.label_selector.empty()) path += "?labelSelector=" + kube::url_escape(s.label_selector);
        json l = client.get(path, opts.cancel);
        t.reset(i, l.value("items", json::array()));
    }
    return t.entries();
}

}  // namespace nh::tree
