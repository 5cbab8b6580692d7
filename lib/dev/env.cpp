// `nh dev env`: the container's environment resolved as the kubelet resolves it
// (pkg/kubelet's makeEnvironmentVariables): envFrom first, in order, each later source
// overriding earlier ones; then env in order, a later entry overriding an earlier one, values
// expanded with the variables defined so far.
#include "dev/env.hpp"

#include <cmath>
#include <map>
#include <vector>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "dev/kube_ops.hpp"
#include "dev/record.hpp"
#include "dev/session.hpp"
#include "stream/target.hpp"

namespace nh::dev {

std::string expand_env(const std::string &input,
                       const std::function<std::optional<std::string>(const std::string &)> &lookup) {
    std::string out;
    size_t checkpoint = 0;
    for (size_t cursor = 0; cursor < input.size(); ++cursor) {
        if (input[cursor] != '$' || cursor + 1 >= input.size()) continue;
        out.append(input, checkpoint, cursor - checkpoint);
        char next = input[cursor + 1];
        size_t advance = 1;
        if (next == '$') {
            out += '$';  // $$: an escaped $
        } else if (next == '(') {
            size_t close = input.find(')', cursor + 2);
            if (close == std::string::npos) {
                out += "$(";  // no closing parenthesis: kept as it is
            } else {
                std::string var = input.substr(cursor + 2, close - cursor - 2);
                auto v = lookup(var);
                out += v ? *v : "$(" + var + ")";
                advance = close - cursor;
            }
        } else {
            out += '$';
            out += next;
        }
        cursor += advance;
        checkpoint = cursor + 1;
    }
    if (checkpoint < input.size()) out.append(input, checkpoint, std::string::npos);
    return out;
}

std::optional<long double> parse_quantity(const std::string &text) {
    size_t i = 0;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    size_t start = i;
    long double value = 0, scale = 0;
    bool point = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            value = value * 10 + (c - '0');
            if (point) ++scale;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (i == start || (point && i == start + 1)) return std::nullopt;
    value /= std::pow(10.0L, scale);
    std::string suffix = text.substr(i);
    static const std::map<std::string, long double> kSuffixes = {
        {"", 1},         {"n", 1e-9L},    {"u", 1e-6L},         {"m", 1e-3L},         {"k", 1e3L},
        {"M", 1e6L},     {"G", 1e9L},     {"T", 1e12L},         {"P", 1e15L},         {"E", 1e18L},
        {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
        {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}};
    long double factor = 0;
    if (auto it = kSuffixes.find(suffix); it != kSuffixes.end()) {
        factor = it->second;
    } else if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
        size_t j = 1;
        if (suffix[j] == '+' || suffix[j] == '-') ++j;
        if (j >= suffix.size() || suffix.find_first_not_of("0123456789", j) != std::string::npos) return std::nullopt;
        factor = std::pow(10.0L, std::stold(suffix.substr(1)));
    } else {
        return std::nullopt;
    }
    return (negative ? -value : value) * factor;
}

namespace {

// The kubelet's rule for the names envFrom makes of a source's keys, relaxed since Kubernetes
// 1.34 (IsRelaxedEnvVarName): printable ASCII other than '='.
bool env_var_name(const std::string &s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c > 0x7e || c == '=') return false;
    return true;
}

struct Var {
    std::string name, value, source;
    bool secret = false;
    std::string left_out;  // "", "withheld" or "unresolved"
    std::string reason;
};

class Resolver {
public:
    Resolver(kube::Client &c, const EnvOptions &o, const json &tpl, const json &container, std::optional<json> pod)
        : c_(c), o_(o), tpl_(tpl), container_(container), pod_(std::move(pod)) {}

    json run() {
        for (const auto &from : container_.value("envFrom", json::array())) env_from(from);
        for (const auto &e : container_.value("env", json::array())) env(e);
        json out = json::array();
        for (const auto &v : vars_) {
            json j = {{"name", v.name}, {"source", v.source}, {"secret", v.secret}};
            if (v.left_out.empty())
                j["value"] = v.value;
            else
                j[v.left_out] = v.reason;
            out.push_back(std::move(j));
        }
        return out;
    }
    json notes() const { return notes_; }

private:
    std::string what() const { return "container " + container_.value("name", "") + " of " + o_.kind.lower + "/" + o_.name; }

    void set(Var v) {
        auto it = index_.find(v.name);
        if (it != index_.end()) {
            vars_[it->second] = std::move(v);
        } else {
            index_[v.name] = vars_.size();
            vars_.push_back(std::move(v));
        }
    }

    // A ConfigMap or Secret of the namespace (cached); nullopt when it does not exist.
    const std::optional<json> &object(bool secret, const std::string &name) {
        auto &cache = secret ? secrets_ : config_maps_;
        auto it = cache.find(name);
        if (it == cache.end()) {
            std::string path = "/api/v1/namespaces/" + kube::url_escape(o_.ns) + (secret ? "/secrets/" : "/configmaps/") +
                               kube::url_escape(name);
            it = cache.emplace(name, get_optional(c_, path, o_.cancel)).first;
        }
        return it->second;
    }

    [[noreturn]] void missing(const std::string &message) const {
        fail(NH_ENOTFOUND, message + ", which " + what() +
                               " needs (not optional): the kubelet would not start the container either");
    }

    // The data of a ConfigMap ("data") or Secret ("data", decoded), as text.
    std::map<std::string, std::string> data(bool secret, const json &obj, const std::string &name) const {
        std::map<std::string, std::string> d;
        const json entries = obj.value("data", json::object());
        for (const auto &[k, v] : entries.items()) {
            if (!v.is_string()) continue;
            if (!secret) {
                d[k] = v.get<std::string>();
                continue;
            }
            auto decoded = base64::decode(v.get<std::string>());
            if (!decoded) fail(NH_EPROTOCOL, "secret \"" + name + "\" key \"" + k + "\" is not valid base64");
            d[k] = std::move(*decoded);
        }
        return d;
    }

    void env_from(const json &from) {
        bool secret = from.contains("secretRef");
        const json &ref = secret ? from["secretRef"] : from.value("configMapRef", json::object());
        if (!secret && !from.contains("configMapRef")) return;
        std::string name = ref.value("name", "");
        std::string kind = secret ? "secret" : "configmap";
        const auto &obj = object(secret, name);
        if (!obj) {
            if (ref.value("optional", false)) {
                notes_.push_back("envFrom " + kind + " \"" + name + "\" does not exist and is optional: nothing from it");
                return;
            }
            missing(kind + " \"" + name + "\" (envFrom) not found");
        }
        std::string prefix = from.value("prefix", "");
        std::vector<std::string> invalid;
        for (auto &[k, v] : data(secret, *obj, name)) {
            std::string var = prefix + k;
            if (!env_var_name(var)) {
                invalid.push_back(var);
                continue;
            }
            Var x{var, v, std::string("envFrom ") + (secret ? "secret " : "configMap ") + name, secret, {}, {}};
            if (secret && !o_.secrets) withhold(x, "from secret \"" + name + "\" key \"" + k + "\"");
            set(std::move(x));
        }
        if (!invalid.empty()) {
            std::string list;
            for (auto &n : invalid) list += (list.empty() ? "" : ", ") + n;
            notes_.push_back("envFrom " + kind + " \"" + name + "\": keys that are not valid variable names were skipped, as the kubelet skips them: " + list);
        }
    }

    void withhold(Var &v, const std::string &why) const {
        v.value.clear();
        v.left_out = "withheld";
        v.reason = why + "; pass --secrets (include_secrets) to include it";
    }

    void env(const json &e) {
        Var v;
        v.name = e.value("name", "");
        if (e.contains("valueFrom")) {
            value_from(v, e["valueFrom"]);
            if (v.name.empty()) return;  // an optional reference to nothing: not set
        } else {
            v.source = "value";
            std::string tainted, unresolved;
            v.value = expand_env(e.value("value", ""), [&](const std::string &name) -> std::optional<std::string> {
                auto it = index_.find(name);
                if (it == index_.end()) return std::nullopt;
                const Var &ref = vars_[it->second];
                if (ref.left_out == "withheld") tainted = name;
                if (ref.left_out == "unresolved") unresolved = name;
                if (ref.secret) v.secret = true;
                return ref.value;
            });
            if (!unresolved.empty()) {
                v.value.clear();
                v.left_out = "unresolved";
                v.reason = "expands $(" + unresolved + "), which could not be resolved";
            } else if (!tainted.empty()) {
                withhold(v, "expands $(" + tainted + "), a Secret's value");
            }
        }
        set(std::move(v));
    }

    void value_from(Var &v, const json &from) {
        bool secret = from.contains("secretKeyRef");
        if (secret || from.contains("configMapKeyRef")) {
            const json &ref = secret ? from["secretKeyRef"] : from["configMapKeyRef"];
            std::string name = ref.value("name", ""), key = ref.value("key", "");
            std::string kind = secret ? "secret" : "configmap";
            bool optional = ref.value("optional", false);
            v.source = std::string(secret ? "secretKeyRef " : "configMapKeyRef ") + name + "/" + key;
            v.secret = secret;
            const auto &obj = object(secret, name);
            std::optional<std::string> value;
            if (obj) {
                auto d = data(secret, *obj, name);
                if (auto it = d.find(key); it != d.end()) value = it->second;
            }
            if (!value) {
                if (!optional)
                    missing(obj ? "key \"" + key + "\" of " + kind + " \"" + name + "\" not found"
                                : kind + " \"" + name + "\" not found");
                notes_.push_back(v.name + ": " + kind + " \"" + name + "\"" + (obj ? " has no key \"" + key + "\"" : " does not exist") +
                                 " and the reference is optional: not set, as the kubelet leaves it");
                v.name.clear();
                return;
            }
            v.value = *value;
            if (secret && !o_.secrets) withhold(v, "from secret \"" + name + "\" key \"" + key + "\"");
            return;
        }
        if (from.contains("fieldRef")) {
            std::string path = from["fieldRef"].value("fieldPath", "");
            v.source = "fieldRef " + path;
            field(v, path);
            return;
        }
        if (from.contains("resourceFieldRef")) {
            resource(v, from["resourceFieldRef"]);
            return;
        }
        v.source = "valueFrom";
        v.left_out = "unresolved";
        v.reason = "a valueFrom this version does not know";
    }

    // A label or annotation key of "metadata.labels['key']".
    static std::optional<std::string> subscript(const std::string &path, const std::string &prefix) {
        if (path.rfind(prefix + "['", 0) != 0 || path.size() < prefix.size() + 4 || path.compare(path.size() - 2, 2, "']") != 0)
            return std::nullopt;
        return path.substr(prefix.size() + 2, path.size() - prefix.size() - 4);
    }

    void unresolved(Var &v, const std::string &why) {
        v.value.clear();
        v.left_out = "unresolved";
        v.reason = why;
    }

    void field(Var &v, const std::string &path) {
        const json none = json::object();
        const json &pmd = pod_ ? (*pod_)["metadata"] : none;
        const json &tmd = tpl_.contains("metadata") ? tpl_["metadata"] : none;
        auto from_pod = [&](const std::string &value) {
            if (pod_) {
                v.value = value;
            } else {
                unresolved(v, path + " is known only from a pod of the workload, and none is running");
            }
        };
        if (path == "metadata.namespace") {
            v.value = o_.ns;
        } else if (path == "metadata.name") {
            from_pod(pmd.value("name", ""));
        } else if (path == "metadata.uid") {
            from_pod(pmd.value("uid", ""));
        } else if (auto key = subscript(path, "metadata.labels")) {
            const json &md = pod_ ? pmd : tmd;
            v.value = md.value("labels", json::object()).value(*key, "");
        } else if (auto akey = subscript(path, "metadata.annotations")) {
            const json &md = pod_ ? pmd : tmd;
            v.value = md.value("annotations", json::object()).value(*akey, "");
        } else if (path == "spec.serviceAccountName") {
            const json &spec = pod_ ? (*pod_)["spec"] : tpl_.value("spec", json::object());
            std::string sa = spec.value("serviceAccountName", spec.value("serviceAccount", ""));
            v.value = sa.empty() ? "default" : sa;
        } else if (path == "spec.nodeName") {
            from_pod(pod_ ? (*pod_)["spec"].value("nodeName", "") : "");
        } else if (path == "status.podIP" || path == "status.hostIP") {
            from_pod(pod_ ? (*pod_).value("status", json::object()).value(path.substr(7), "") : "");
        } else if (path == "status.podIPs" || path == "status.hostIPs") {
            std::string joined;
            if (pod_)
                for (const auto &ip : (*pod_).value("status", json::object()).value(path.substr(7), json::array()))
                    joined += (joined.empty() ? "" : ",") + ip.value("ip", "");
            from_pod(joined);
        } else {
            unresolved(v, "fieldRef " + path + " is not one the kubelet gives to environment variables");
        }
    }

    // The node's allocatable amount of `res`, the kubelet's value for a limit not set.
    std::optional<std::string> allocatable(const std::string &res) {
        if (!node_) {
            node_ = json();
            std::string name = pod_ ? (*pod_)["spec"].value("nodeName", "") : "";
            if (!name.empty()) {
                try {
                    if (auto n = get_optional(c_, "/api/v1/nodes/" + kube::url_escape(name), o_.cancel)) node_ = *n;
                } catch (const Error &e) {
                    if (e.code() != NH_EFORBIDDEN) throw;
                }
            }
        }
        if (!node_->is_object()) return std::nullopt;
        auto alloc = node_->value("status", json::object()).value("allocatable", json::object());
        if (!alloc.contains(res)) return std::nullopt;
        return alloc[res].get<std::string>();
    }

    void resource(Var &v, const json &ref) {
        std::string res = ref.value("resource", "");
        v.source = "resourceFieldRef " + res;
        json target = container_;
        if (std::string other = ref.value("containerName", ""); !other.empty()) {
            target = json();
            for (const auto &c : tpl_["spec"].value("containers", json::array()))
                if (c.value("name", "") == other) target = c;
            if (target.is_null()) return unresolved(v, "no container \"" + other + "\" in the pod");
        }
        auto dot = res.find('.');
        std::string side = res.substr(0, dot), name = dot == std::string::npos ? "" : res.substr(dot + 1);
        if ((side != "limits" && side != "requests") || name.empty())
            return unresolved(v, "resourceFieldRef " + res + " is not one the kubelet knows");
        json resources = target.value("resources", json::object());
        auto amount = [&](const char *s) -> std::optional<std::string> {
            json m = resources.value(s, json::object());
            if (m.contains(name) && m[name].is_string()) return m[name].get<std::string>();
            return std::nullopt;
        };
        std::optional<std::string> q = amount(side.c_str());
        if (!q && side == "requests") q = amount("limits");  // the API server's default: requests = limits
        if (!q && side == "limits" && (name == "cpu" || name == "memory" || name == "ephemeral-storage")) {
            q = allocatable(name);
            if (!q)
                return unresolved(v, "no " + name + " limit is set, so the kubelet gives the node's allocatable " + name +
                                         ", and " + (pod_ ? "the node could not be read" : "no pod of the workload is running"));
        }
        auto amount_value = parse_quantity(q.value_or("0"));
        auto divisor = parse_quantity(ref.contains("divisor") ? ref["divisor"].is_string() ? ref["divisor"].get<std::string>()
                                                                                             : ref["divisor"].dump()
                                                              : "1");
        if (divisor && *divisor == 0) divisor = 1;  // the API server writes an unset divisor as "0": the kubelet takes 1
        if (!amount_value || !divisor || *divisor < 0)
            return unresolved(v, "an unreadable quantity (" + q.value_or("0") + ") or divisor");
        // As the kubelet: CPU in millicores, the rest in units, each rounded up, then divided, rounded up.
        long double scale = name == "cpu" ? 1000.0L : 1.0L;
        long double n = std::ceil(std::ceil(*amount_value * scale) / std::ceil(*divisor * scale));
        v.value = std::to_string(static_cast<long long>(n));
    }

    kube::Client &c_;
    const EnvOptions &o_;
    const json &tpl_;
    const json &container_;
    std::optional<json> pod_;
    std::optional<json> node_;
    std::map<std::string, std::optional<json>> config_maps_, secrets_;
    std::vector<Var> vars_;
    std::map<std::string, size_t> index_;
    json notes_ = json::array();
};

// A running pod of the workload, for the Downward API; nullopt when there is none.
std::optional<json> workload_pod(kube::Client &c, const EnvOptions &o, json &notes) {
    static const Kind kStreamKinds[] = {Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet, Kind::ReplicaSet, Kind::Pod};
    bool streamable = false;
    for (Kind k : kStreamKinds) streamable = streamable || o.kind == k;
    if (!streamable) {
        notes.push_back("no pod is read for a " + o.kind.name +
                        ": fields only a pod knows (metadata.name, status.podIP...) are left out; labels and annotations come from the pod template");
        return std::nullopt;
    }
    try {
        auto rp = stream::resolve_pod(c, o.ns, stream::Target{o.kind.name, o.name}, o.cancel);
        return get_optional(c, pods_path(o.ns) + "/" + kube::url_escape(rp.name), o.cancel);
    } catch (const Error &e) {
        if (e.code() != NH_ESTATE) throw;
        notes.push_back("no pod of the workload is running: fields only a pod knows (metadata.name, status.podIP...) are left out; labels and annotations come from the pod template");
        return std::nullopt;
    }
}

}  // namespace

json resolve_env(kube::Client &client, const EnvOptions &opts) {
    EnvOptions o = opts;
    if (!o.kind.builtin()) resolve_kind(client, o.kind, o.cancel);
    json notes = json::array();
    auto wl = get_optional(client, workload_path(o.kind, o.ns, o.name), o.cancel);
    if (!wl) fail(NH_ENOTFOUND, o.kind.lower + " \"" + o.name + "\" not found in namespace " + o.ns);
    json workload = *wl;
    if (std::string record = annotation(workload, kSessionAnnotation); !record.empty()) {
        if (auto secret = get_optional(client, secret_path(o.ns, record), o.cancel)) {
            auto r = SessionRecord::read_with_original(*secret, &o.kind);
            if (r.original.is_object()) {
                workload = r.original;
                notes.push_back("the workload is in dev mode: its container as it was before (from the session record)");
            }
        }
    }
    std::string container_name = choose_container(workload, o.kind, o.container);
    const json &tpl = pod_template(workload, o.kind);
    json container;
    for (const auto &c : tpl["spec"].value("containers", json::array()))
        if (c.value("name", "") == container_name) container = c;
    auto pod = workload_pod(client, o, notes);
    Resolver r(client, o, tpl, container, pod);
    json env = r.run();
    for (const auto &n : r.notes()) notes.push_back(n);
    return {{"kind", o.kind.name},
            {"name", o.name},
            {"namespace", o.ns},
            {"container", container_name},
            {"pod", pod ? json((*pod)["metadata"].value("name", "")) : json()},
            {"env", std::move(env)},
            {"notes", std::move(notes)}};
}

namespace {

std::string dotenv_quote(const std::string &v) {
    bool plain = true;
    for (unsigned char c : v)
        if (c == '\'' || c < 0x20 || c == 0x7f) plain = false;
    if (plain) return "'" + v + "'";
    std::string out = "\"";
    for (char c : v) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += c;
        }
    }
    return out + "\"";
}

std::string one_line(std::string s) {
    for (char &c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

}  // namespace

std::string env_dotenv(const json &resolved) {
    std::string out;
    for (const auto &n : resolved.value("notes", json::array())) out += "# " + one_line(n.get<std::string>()) + "\n";
    for (const auto &e : resolved.value("env", json::array())) {
        std::string name = e.value("name", "");
        if (e.contains("value")) {
            out += name + "=" + dotenv_quote(e["value"].get<std::string>()) + "\n";
        } else {
            const char *why = e.contains("withheld") ? "withheld" : "unresolved";
            out += "# " + name + " left out (" + why + "): " + one_line(e.value(why, "")) + "\n";
        }
    }
    return out;
}

}  // namespace nh::dev
