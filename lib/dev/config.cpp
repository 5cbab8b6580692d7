#include "dev/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "dev/config_render.hpp"

namespace nh::dev {

namespace {

struct Ctx {
    std::string file;
    std::string base_dir;
    json ignored = json::array();
    const RenderedConfig *rendered = nullptr;  // maps lines of the rendered text to their files

    // The origin of a node: its file and 1-based line (in an included file, if it came from one).
    SourceLine origin(const YAML::Node &n) const {
        long line = n.Mark().line;
        if (rendered && line >= 0 && static_cast<size_t>(line) < rendered->origin.size())
            return rendered->origin[static_cast<size_t>(line)];
        return {file, static_cast<int>(line + 1), ""};
    }
};

[[noreturn]] void bad(const Ctx &cx, const YAML::Node &n, const std::string &field, const std::string &problem) {
    SourceLine o = cx.origin(n);
    std::string where = o.file;
    if (o.line > 0) where += ":" + std::to_string(o.line);
    throw Error(NH_ECONFIG, where + ": " + field + ": " + problem);
}

void ignore(Ctx &cx, const YAML::Node &n, const std::string &field, const std::string &reason) {
    SourceLine o = cx.origin(n);
    cx.ignored.push_back({{"field", field}, {"file", o.file}, {"line", o.line}, {"reason", reason}});
}

// null, ~ or "": what Nocalhost writes for a value it does not have.
bool none(const YAML::Node &n) { return !n || n.IsNull() || (n.IsScalar() && n.Scalar().empty()); }

std::string scalar(const Ctx &cx, const YAML::Node &n, const std::string &field) {
    if (n.IsNull()) return {};
    if (!n.IsScalar()) bad(cx, n, field, "expected a string");
    return n.Scalar();
}

std::string choice(const Ctx &cx, const YAML::Node &n, const std::string &field, const std::vector<std::string> &valid) {
    std::string v = scalar(cx, n, field);
    if (v.empty()) return v;
    for (const auto &c : valid)
        if (c == v) return v;
    std::string list;
    for (const auto &c : valid) list += (list.empty() ? "" : ", ") + c;
    bad(cx, n, field, "'" + v + "' is not valid (valid: " + list + ")");
}

bool boolean(const Ctx &cx, const YAML::Node &n, const std::string &field) {
    try {
        return n.as<bool>();
    } catch (const YAML::Exception &) {
        bad(cx, n, field, "expected true or false");
    }
}

// A port, or 0 for none (Nocalhost writes `remoteDebugPort: 0`).
long port_or_none(const Ctx &cx, const YAML::Node &n, const std::string &field) {
    if (none(n)) return 0;
    long v = 0;
    try {
        v = n.as<long>();
    } catch (const YAML::Exception &) {
        bad(cx, n, field, "expected a number");
    }
    if (v != 0 && (v < 1 || v > 65535)) bad(cx, n, field, std::to_string(v) + " is out of range 1..65535 (0: none)");
    return v;
}

json strings(const Ctx &cx, const YAML::Node &n, const std::string &field) {
    json out = json::array();
    if (n.IsNull()) return out;
    if (n.IsScalar()) return json::array({n.Scalar()});
    if (!n.IsSequence()) bad(cx, n, field, "expected a list of strings");
    for (size_t i = 0; i < n.size(); ++i) out.push_back(scalar(cx, n[i], field + "[" + std::to_string(i) + "]"));
    return out;
}

// A Kubernetes quantity: digits with an optional fraction and suffix.
void quantity(const Ctx &cx, const YAML::Node &n, const std::string &field) {
    std::string v = scalar(cx, n, field);
    static const std::set<std::string> suffixes = {"", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    size_t i = 0, digits = 0, dots = 0;
    for (; i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.'); ++i) v[i] == '.' ? ++dots : ++digits;
    if (digits == 0 || dots > 1 || !suffixes.count(v.substr(i)))
        bad(cx, n, field, "'" + v + "' is not a quantity (e.g. 500m, 2, 512Mi, 10Gi)");
}

void port_forward(const Ctx &cx, const YAML::Node &n, const std::string &field) {
    std::string v = scalar(cx, n, field);
    auto port_ok = [](const std::string &p) {
        if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
        long x = std::stol(p);
        return x >= 1 && x <= 65535;
    };
    auto colon = v.find(':');
    bool ok = colon == std::string::npos ? port_ok(v) : port_ok(v.substr(0, colon)) && port_ok(v.substr(colon + 1));
    if (!ok) bad(cx, n, field, "'" + v + "' is not a port forward (LOCAL:REMOTE or PORT, 1..65535)");
}

// Calls f(key, value, field path) for each key of `map`. A key given twice counts once, with its
// last value, as in nhctl: fields after an include replace the included ones.
template <class F>
void each_field(Ctx &cx, const YAML::Node &map, const std::string &prefix, F &&f) {
    if (map.IsNull()) return;
    if (!map.IsMap()) bad(cx, map, prefix, "expected a mapping");
    // (Only keys are collected: assigning a YAML::Node, as a container of nodes would when it
    // moves them, rebinds the node inside the document.)
    std::map<std::string, size_t> last;
    size_t i = 0;
    for (const auto &kv : map) last[kv.first.Scalar()] = i++;
    i = 0;
    for (const auto &kv : map) {
        const std::string key = kv.first.Scalar();
        if (last[key] == i++) f(key, kv.second, prefix.empty() ? key : prefix + "." + key);
    }
}

// NAME=VALUE lines (`#` comments, `export`, quotes) of an env file, or nullopt if unreadable.
std::optional<std::vector<std::pair<std::string, std::string>>> read_env_file(const std::string &full) {
    std::ifstream in(full);
    if (!in) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> out;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        line = line.substr(first);
        if (line.rfind("export ", 0) == 0) line = line.substr(7);
        auto eq = line.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        std::string value = line.substr(eq + 1);
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        out.emplace_back(line.substr(0, eq), value);
    }
    return out;
}

std::string dirname_of(const std::string &path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

json parse_env_file(Ctx &cx, const YAML::Node &n, const std::string &field, const std::string &path) {
    // Relative to the directory holding .nocalhost/, or to the included file that names it.
    std::string dir = cx.origin(n).dir;
    std::string full = !path.empty() && path[0] == '/' ? path : (dir.empty() ? cx.base_dir : dir) + "/" + path;
    auto vars = read_env_file(full);
    if (!vars) bad(cx, n, field, "cannot read env file '" + full + "'");
    json out = json::array();
    for (const auto &[name, value] : *vars) out.push_back({{"name", name}, {"value", value}});
    return out;
}

json parse_dev(Ctx &cx, const YAML::Node &dev, const std::string &prefix) {
    json d = json::object();
    each_field(cx, dev, prefix, [&](const std::string &key, const YAML::Node &v, const std::string &field) {
        if (key == "image" || key == "shell" || key == "workDir" || key == "devContainerName" ||
            key == "sidecarImage" || key == "storageClass") {
            d[key] = scalar(cx, v, field);
            if (key == "workDir" && !d[key].get<std::string>().empty() && d[key].get<std::string>()[0] != '/')
                bad(cx, v, field, "the work dir must be an absolute path");
        } else if (key == "imagePullPolicy") {
            d[key] = choice(cx, v, field, {"Always", "IfNotPresent", "Never"});
        } else if (key == "resources") {
            // null, and quantities Nocalhost leaves empty, mean "none": the container keeps its own.
            json r = json::object();
            each_field(cx, v, field, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                if (k2 != "limits" && k2 != "requests") bad(cx, v2, f2, "unknown field (valid: limits, requests)");
                each_field(cx, v2, f2, [&](const std::string &k3, const YAML::Node &v3, const std::string &f3) {
                    if (k3 != "cpu" && k3 != "memory" && k3 != "ephemeral-storage")
                        bad(cx, v3, f3, "unknown resource (valid: cpu, memory, ephemeral-storage)");
                    if (none(v3)) return;
                    quantity(cx, v3, f3);
                    r[k2][k3] = v3.Scalar();
                });
            });
            if (!r.empty()) d[key] = r;
        } else if (key == "persistentVolumeDirs") {
            json dirs = json::array();
            if (!v.IsNull() && !v.IsSequence()) bad(cx, v, field, "expected a list of {path, capacity}");
            for (size_t i = 0; i < v.size(); ++i) {
                json dir = json::object();
                std::string fi = field + "[" + std::to_string(i) + "]";
                each_field(cx, v[i], fi, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                    if (k2 == "path") {
                        dir["path"] = scalar(cx, v2, f2);
                        if (dir["path"].get<std::string>().empty() || dir["path"].get<std::string>()[0] != '/')
                            bad(cx, v2, f2, "expected an absolute path");
                    } else if (k2 == "capacity") {
                        if (none(v2)) return;  // the default
                        quantity(cx, v2, f2);
                        dir["capacity"] = v2.Scalar();
                    } else {
                        bad(cx, v2, f2, "unknown field (valid: path, capacity)");
                    }
                });
                if (!dir.contains("path")) bad(cx, v[i], fi + ".path", "missing");
                dirs.push_back(dir);
            }
            d[key] = dirs;
        } else if (key == "command") {
            json c = json::object();
            each_field(cx, v, field, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                if (k2 != "build" && k2 != "run" && k2 != "debug" && k2 != "hotReloadRun" && k2 != "hotReloadDebug")
                    bad(cx, v2, f2, "unknown command (valid: build, run, debug, hotReloadRun, hotReloadDebug)");
                c[k2] = strings(cx, v2, f2);
            });
            d[key] = c;
        } else if (key == "debug") {
            json c = json::object();
            each_field(cx, v, field, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                if (k2 == "remoteDebugPort") {
                    if (long port = port_or_none(cx, v2, f2)) c[k2] = port;
                }
                else if (k2 == "language")
                    c[k2] = choice(cx, v2, f2, {"java", "go", "python", "node", "php", "ruby"});
                else
                    bad(cx, v2, f2, "unknown field (valid: remoteDebugPort, language)");
            });
            d[key] = c;
        } else if (key == "sync") {
            json c = json::object();
            each_field(cx, v, field, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                if (k2 == "type")
                    c[k2] = choice(cx, v2, f2, {"send", "sendOnly", "sendReceive"});
                else if (k2 == "mode")
                    c[k2] = choice(cx, v2, f2, {"pattern", "gitIgnore"});
                else if (k2 == "deleteProtection") {
                    if (!none(v2)) c[k2] = boolean(cx, v2, f2);
                }
                else if (k2 == "filePattern" || k2 == "ignoreFilePattern")
                    c[k2] = strings(cx, v2, f2);
                else
                    bad(cx, v2, f2, "unknown field (valid: type, mode, deleteProtection, filePattern, ignoreFilePattern)");
            });
            d[key] = c;
        } else if (key == "env") {
            json env = d.value("env", json::array());
            if (!v.IsNull() && !v.IsSequence()) bad(cx, v, field, "expected a list of {name, value}");
            for (size_t i = 0; i < v.size(); ++i) {
                std::string fi = field + "[" + std::to_string(i) + "]";
                if (!v[i].IsMap() || !v[i]["name"]) bad(cx, v[i], fi, "expected {name, value}");
                std::string n = scalar(cx, v[i]["name"], fi + ".name");
                if (n.empty()) bad(cx, v[i], fi + ".name", "empty");
                env.push_back({{"name", n}, {"value", v[i]["value"] ? scalar(cx, v[i]["value"], fi + ".value") : ""}});
            }
            d["env"] = env;
        } else if (key == "envFrom") {
            json env = json::array();
            each_field(cx, v, field, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                if (k2 != "envFile") bad(cx, v2, f2, "unknown field (valid: envFile)");
                if (!v2.IsNull() && !v2.IsSequence()) bad(cx, v2, f2, "expected a list of {path}");
                for (size_t i = 0; i < v2.size(); ++i) {
                    std::string fi = f2 + "[" + std::to_string(i) + "].path";
                    if (!v2[i].IsMap() || !v2[i]["path"]) bad(cx, v2[i], fi, "missing");
                    for (auto &e : parse_env_file(cx, v2[i]["path"], fi, scalar(cx, v2[i]["path"], fi))) env.push_back(e);
                }
            });
            d["envFromFiles"] = env;
        } else if (key == "portForward") {
            json pf = strings(cx, v, field);
            if (v.IsScalar())
                port_forward(cx, v, field);
            else
                for (size_t i = 0; i < v.size(); ++i) port_forward(cx, v[i], field + "[" + std::to_string(i) + "]");
            d[key] = pf;
        } else if (key == "patches") {
            json ps = json::array();
            if (!v.IsNull() && !v.IsSequence()) bad(cx, v, field, "expected a list of {type, patch}");
            for (size_t i = 0; i < v.size(); ++i) {
                std::string fi = field + "[" + std::to_string(i) + "]";
                std::string type = v[i]["type"] ? choice(cx, v[i]["type"], fi + ".type", {"strategic", "merge", "json"}) : "strategic";
                if (!v[i]["patch"]) bad(cx, v[i], fi + ".patch", "missing");
                std::string body = scalar(cx, v[i]["patch"], fi + ".patch");
                json parsed = json::parse(body, nullptr, false);
                if (parsed.is_discarded()) bad(cx, v[i]["patch"], fi + ".patch", "not JSON");
                if (type == "json" ? !parsed.is_array() : !parsed.is_object())
                    bad(cx, v[i]["patch"], fi + ".patch", type == "json" ? "a json patch is a JSON array of operations"
                                                                         : "a " + type + " patch is a JSON object");
                ps.push_back({{"type", type.empty() ? "strategic" : type}, {"patch", body}});
            }
            d[key] = ps;
        } else if (key == "gitUrl") {
            ignore(cx, v, field, "cloning sources is the IDE's job, not the library's");
        } else if (key == "hotReload") {
            if (!none(v)) boolean(cx, v, field);
            ignore(cx, v, field, "restarting on file changes is left to the caller (command.hotReloadRun is exposed)");
        } else if (key == "useDevContainer") {
            if (!none(v)) boolean(cx, v, field);
            ignore(cx, v, field, "the dev container always replaces the chosen container");
        } else {
            ignore(cx, v, field, "unknown field");
        }
    });
    return d;
}

// Service fields of Nocalhost's config v1 (nhctl converts whole v1 application files to v2; a
// service written this way in a v2 file is not understood by nhctl either).
bool v1_service_field(const std::string &key) {
    static const std::set<std::string> fields = {
        "devContainerImage", "devContainerShell", "devContainerResources", "syncDirs", "syncFilePattern",
        "ignoreFilePattern", "devPorts", "dependPodsLabelSelector", "dependJobsLabelSelector", "buildCommand",
        "runCommand", "debugCommand", "hotReloadRunCommand", "hotReloadDebugCommand", "remoteDebugPort",
        "persistentVolumeDirs", "workDir", "gitUrl", "devLang", "devImage", "sideCarImage", "devEnv"};
    return fields.count(key) > 0;
}

json parse_service(Ctx &cx, const YAML::Node &svc, const std::string &prefix) {
    json s = {{"containers", json::array()}};
    if (svc.IsMap())
        for (const auto &kv : svc)
            if (v1_service_field(kv.first.Scalar()))
                bad(cx, kv.first, prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar(),
                    "a field of Nocalhost's config v1, which is not read (config v2 puts it under "
                    "containers[].dev; see docs/nocalhost-config.md)");
    each_field(cx, svc, prefix, [&](const std::string &key, const YAML::Node &v, const std::string &field) {
        if (key == "name") {
            s["name"] = scalar(cx, v, field);
        } else if (key == "serviceType") {
            std::string t = scalar(cx, v, field);
            try {
                (void)parse_kind(t);
            } catch (const Error &) {
                bad(cx, v, field,
                    "'" + t + "' is not a workload type (valid: deployment, statefulset, replicaset, daemonset, job, "
                               "cronjob, pod, or <resource>.<group>)");
            }
            s["serviceType"] = t;
        } else if (key == "containers") {
            if (!v.IsNull() && !v.IsSequence()) bad(cx, v, field, "expected a list of containers");
            for (size_t i = 0; i < v.size(); ++i) {
                std::string fi = field + "[" + std::to_string(i) + "]";
                json c = json::object();
                each_field(cx, v[i], fi, [&](const std::string &k2, const YAML::Node &v2, const std::string &f2) {
                    if (k2 == "name")
                        c["name"] = scalar(cx, v2, f2);
                    else if (k2 == "dev")
                        c["dev"] = parse_dev(cx, v2, f2);
                    else if (k2 == "install" || k2 == "hub")
                        ignore(cx, v2, f2, "concerns installing applications, not dev mode");
                    else
                        ignore(cx, v2, f2, "unknown field");
                });
                s["containers"].push_back(c);
            }
        } else if (key == "dependLabelSelector" || key == "priorityClass") {
            ignore(cx, v, field, "concerns installing applications, not dev mode");
        } else {
            ignore(cx, v, field, "unknown field");
        }
    });
    return s;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    if (!in) throw Error(NH_ECONFIG, "cannot read Nocalhost config '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json annotation_of(const json &obj, const std::string &key) {
    return obj.value("metadata", json::object()).value("annotations", json::object()).value(key, json());
}

}  // namespace

json parse_nocalhost_config(const std::string &text, const std::string &file, const std::string &base_dir,
                            const std::string &path) {
    // Templates first, as nhctl renders them: variables of a local file come from the
    // environment, then from configProperties.envFile (relative to the file).
    RenderOptions ro;
    ro.file = file;
    ro.path = path;
    std::map<std::string, std::string> file_vars;
    std::string env_file = path.empty() ? "" : template_env_file(text);
    std::string env_file_full;
    bool env_file_read = false;
    if (!env_file.empty()) {
        env_file_full = env_file[0] == '/' ? env_file : dirname_of(path) + "/" + env_file;
        if (auto vars = read_env_file(env_file_full)) {
            env_file_read = true;
            for (auto &[name, value] : *vars) file_vars[name] = value;
        }
    }
    if (!path.empty())
        ro.lookup = [&file_vars](const std::string &name) -> std::optional<std::string> {
            if (const char *v = std::getenv(name.c_str())) return std::string(v);
            auto it = file_vars.find(name);
            if (it != file_vars.end()) return it->second;
            return std::nullopt;
        };
    const RenderedConfig rendered = render_nocalhost_template(text, ro);
    Ctx cx{file, base_dir, json::array(), &rendered};
    YAML::Node root;
    try {
        root = YAML::Load(rendered.text);
    } catch (const YAML::Exception &e) {
        throw Error(NH_ECONFIG, rendered.where(e.mark.line) + ": not YAML: " + e.msg);
    }
    json services = json::array();
    // What each service ignored of its own; cx.ignored keeps what concerns every service.
    std::vector<json> own_ignored;
    auto add_service = [&](const YAML::Node &svc, const std::string &prefix) {
        json common = std::move(cx.ignored);
        cx.ignored = json::array();
        services.push_back(parse_service(cx, svc, prefix));
        own_ignored.push_back(std::move(cx.ignored));
        cx.ignored = std::move(common);
    };
    auto add_list = [&](const YAML::Node &list, const std::string &prefix) {
        if (!list.IsSequence()) bad(cx, list, prefix, "expected a list of services");
        for (size_t i = 0; i < list.size(); ++i) add_service(list[i], prefix + "[" + std::to_string(i) + "]");
    };
    if (root.IsNull()) return services;
    if (root.IsSequence()) {
        add_list(root, "services");
    } else if (root.IsMap() && root["services"] && !root["application"] && !root["containers"]) {
        for (const auto &kv : root)
            if (kv.first.Scalar() == "services")
                bad(cx, kv.first, "services",
                    "a top-level services list is Nocalhost's config v1, which is not read (config v2: "
                    "configProperties.version v2 and application.services; see docs/nocalhost-config.md)");
    } else if (root.IsMap() && (root["application"] || root["configProperties"])) {
        if (root["configProperties"] && root["configProperties"]["version"]) {
            std::string v = scalar(cx, root["configProperties"]["version"], "configProperties.version");
            if (v != "v2")
                bad(cx, root["configProperties"]["version"], "configProperties.version",
                    "'" + v + "' is not supported (valid: v2)");
        }
        for (const auto &kv : root) {
            std::string k = kv.first.Scalar();
            if (k != "application" && k != "configProperties") ignore(cx, kv.second, k, "unknown field");
        }
        if (root["configProperties"] && root["configProperties"].IsMap() && root["configProperties"]["envFile"] &&
            !env_file_read)
            ignore(cx, root["configProperties"]["envFile"], "configProperties.envFile",
                   path.empty() ? "a config read from the cluster has no env file; its variables are unset"
                                : "env file '" + env_file_full + "' not found; variables come from the environment only");
        const YAML::Node app = root["application"];
        if (app && !app.IsNull() && !app.IsMap()) bad(cx, app, "application", "expected a mapping with services");
        if (app && app.IsMap()) {
            for (const auto &kv : app) {
                std::string k = kv.first.Scalar();
                if (k == "services")
                    add_list(kv.second, "application.services");
                else if (k != "name")
                    ignore(cx, kv.second, "application." + k, "concerns installing applications, not dev mode");
            }
        }
    } else if (root.IsMap()) {
        add_service(root, "");
    } else {
        bad(cx, root, "(top level)", "expected a service, a list of services or an application config");
    }
    for (size_t i = 0; i < services.size(); ++i) {
        json all = cx.ignored;
        for (auto &x : own_ignored[i]) all.push_back(x);
        services[i]["ignored"] = all;
    }
    if (services.empty() && !cx.ignored.empty()) services.push_back({{"containers", json::array()}, {"ignored", cx.ignored}});
    return services;
}

json find_service(const json &services, const WorkloadKind &kind, const std::string &name) {
    // The last of services with the same name wins, as in nhctl.
    for (auto it = services.rbegin(); it != services.rend(); ++it) {
        const json &s = *it;
        std::string n = s.value("name", "");
        if (!n.empty() && n != name) continue;
        std::string t = s.value("serviceType", "");
        if (!t.empty()) {
            try {
                if (parse_kind(t) != kind.kind) continue;
            } catch (const Error &) {
                continue;
            }
        }
        if (n.empty() && services.size() > 1) continue;
        return s;
    }
    return nullptr;
}

namespace {

// Renames Nocalhost's container names in containers lists (and JSON patch values aimed at a
// container) to ours; true if it renamed any.
bool rename_nocalhost_containers(json &j, const std::string &dev_container) {
    bool renamed = false;
    auto rename = [&](json &c) {
        if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) return;
        if (c["name"] == kNocalhostDevContainer) {
            c["name"] = dev_container;
            renamed = true;
        } else if (c["name"] == kNocalhostSidecar) {
            c["name"] = kSidecarName;
            renamed = true;
        }
    };
    if (j.is_object()) {
        if (j.contains("op") && j.contains("value") && j.value("path", json()).is_string() &&
            j["path"].get<std::string>().find("/containers") != std::string::npos)
            rename(j["value"]);
        for (auto &el : j.items()) {
            if (el.value().is_array() && (el.key() == "containers" || el.key() == "$setElementOrder/containers"))
                for (auto &c : el.value()) rename(c);
            renamed |= rename_nocalhost_containers(el.value(), dev_container);
        }
    } else if (j.is_array()) {
        for (auto &x : j) renamed |= rename_nocalhost_containers(x, dev_container);
    }
    return renamed;
}

}  // namespace

std::string nocalhost_container_names(const std::string &patch, const std::string &dev_container) {
    json j = json::parse(patch, nullptr, false);
    if (j.is_discarded() || !rename_nocalhost_containers(j, dev_container)) return patch;
    return j.dump();
}

std::vector<Patch> parse_patches(const std::string &text, const std::string &what) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_array()) fail(NH_EINVAL, what + ": expected a JSON array of {\"type\",\"patch\"}");
    std::vector<Patch> out;
    for (const auto &p : j) {
        std::string type = p.value("type", "strategic");
        Patch x;
        if (type == "strategic")
            x.type = kube::PatchType::StrategicMerge;
        else if (type == "merge")
            x.type = kube::PatchType::Merge;
        else if (type == "json")
            x.type = kube::PatchType::Json;
        else
            fail(NH_EINVAL, what + ": patch type '" + type + "' is not valid (valid: strategic, merge, json)");
        x.body = p.contains("patch") && p["patch"].is_string() ? p["patch"].get<std::string>() : p.value("patch", json()).dump();
        out.push_back(x);
    }
    return out;
}

std::vector<PersistentDir> parse_persistent_dirs(const std::string &text, const std::string &what) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_array()) fail(NH_EINVAL, what + ": expected a JSON array of {\"path\",\"capacity\",\"storageClass\"}");
    std::vector<PersistentDir> out;
    for (const auto &d : j) {
        PersistentDir p;
        p.path = d.value("path", "");
        p.capacity = d.value("capacity", p.capacity);
        p.storage_class = d.value("storageClass", "");
        if (p.path.empty() || p.path[0] != '/') fail(NH_EINVAL, what + ": path '" + p.path + "' is not absolute");
        out.push_back(p);
    }
    return out;
}

json apply_nocalhost_config(kube::Client &c, const ConfigSources &src, StartOptions &o, bool workdir_given) {
    WorkloadKind k = o.kind;
    const std::string ns = o.ns.empty() ? c.ns() : o.ns;
    json sources = json::array();
    json svc;
    // Nocalhost's order: the local source directory, then the annotation, then the ConfigMap.
    if (!src.config_path.empty()) {
        std::string path = src.config_path;
        std::ifstream probe(path + "/.nocalhost/config.yaml");
        if (probe) path += "/.nocalhost/config.yaml";
        std::string base = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
        if (base.size() >= 10 && base.substr(base.size() - 10) == ".nocalhost") base = base.substr(0, base.size() - 10);
        svc = find_service(parse_nocalhost_config(read_file(path), path, base.empty() ? "." : base, path), k, o.name);
        if (!svc.is_null()) sources.push_back(path);
    }
    // The application of the ConfigMap: the one given, else the workload's own (Nocalhost's
    // annotation or label dev.nocalhost/application-name, set on what `nh app install` installs).
    std::string app_name = src.app_name;
    if (svc.is_null() && src.use_cluster) {
        resolve_kind(c, k, o.cancel);
        json wl;
        try {
            wl = c.get(workload_path(k, ns, o.name), o.cancel);
        } catch (const Error &e) {
            if (e.code() != NH_ENOTFOUND) throw;
        }
        if (app_name.empty() && !wl.is_null()) {
            const json &md = wl.value("metadata", json::object());
            for (const char *where : {"labels", "annotations"}) {
                const json m = md.value(where, json::object());
                if (m.is_object() && m.contains("dev.nocalhost/application-name") &&
                    m["dev.nocalhost/application-name"].is_string())
                    app_name = m["dev.nocalhost/application-name"].get<std::string>();
            }
        }
        json ann = wl.is_null() ? json() : annotation_of(wl, "dev.nocalhost");
        if (ann.is_string()) {
            std::string file = "annotation dev.nocalhost of " + k.lower + "/" + o.name;
            svc = find_service(parse_nocalhost_config(ann.get<std::string>(), file), k, o.name);
            if (!svc.is_null()) sources.push_back(file);
        }
    }
    if (svc.is_null() && src.use_cluster && !app_name.empty()) {
        std::string cm_name = "dev.nocalhost.config." + app_name;
        try {
            json cm = c.get("/api/v1/namespaces/" + kube::url_escape(ns) + "/configmaps/" + kube::url_escape(cm_name), o.cancel);
            std::string text = cm.value("data", json::object()).value("config", "");
            std::string file = "ConfigMap " + cm_name;
            svc = find_service(parse_nocalhost_config(text, file), k, o.name);
            if (!svc.is_null()) sources.push_back(file);
        } catch (const Error &e) {
            if (e.code() != NH_ENOTFOUND) throw;
        }
    }
    json out = {{"sources", sources}, {"ignored", json::array()}};
    if (svc.is_null()) return out;
    out["ignored"] = svc.value("ignored", json::array());
    // The container: the one asked for, devContainerName, or the first configured.
    json cont;
    for (const auto &ct : svc["containers"])
        if (!o.container.empty() && ct.value("name", "") == o.container) cont = ct;
    if (cont.is_null() && !svc["containers"].empty()) cont = svc["containers"][0];
    if (cont.is_null()) return out;
    json d = cont.value("dev", json::object());
    if (o.container.empty())
        o.container = !d.value("devContainerName", "").empty() ? d.value("devContainerName", "") : cont.value("name", "");
    out["container"] = o.container;
    if (o.image.empty()) o.image = d.value("image", "");
    out["image"] = o.image;
    if (o.image_pull_policy.empty()) o.image_pull_policy = d.value("imagePullPolicy", "");
    out["imagePullPolicy"] = o.image_pull_policy;
    if (!workdir_given && !d.value("workDir", "").empty()) o.workdir = d["workDir"];
    out["workDir"] = o.workdir;
    if (o.resources.is_null() && !d.value("resources", json::object()).empty()) o.resources = d["resources"];
    out["resources"] = o.resources;
    if (o.sidecar_image.empty()) o.sidecar_image = d.value("sidecarImage", "");
    out["sidecarImage"] = o.sidecar_image;
    // env: explicit entries win over the config's, which win over env files.
    std::vector<std::pair<std::string, std::string>> env;
    auto add_env = [&](const std::string &n, const std::string &v) {
        for (const auto &e : env)
            if (e.first == n) return;
        env.emplace_back(n, v);
    };
    for (const auto &e : o.env) add_env(e.first, e.second);
    for (const auto &e : d.value("env", json::array())) add_env(e["name"], e["value"]);
    for (const auto &e : d.value("envFromFiles", json::array())) add_env(e["name"], e["value"]);
    o.env = env;
    out["env"] = json::array();
    for (const auto &e : env) out["env"].push_back({{"name", e.first}, {"value", e.second}});
    if (o.persistent_dirs.empty())
        for (const auto &p : d.value("persistentVolumeDirs", json::array())) {
            PersistentDir pd;
            pd.path = p["path"];
            pd.capacity = p.value("capacity", pd.capacity);
            pd.storage_class = d.value("storageClass", "");
            o.persistent_dirs.push_back(pd);
        }
    out["persistentVolumeDirs"] = json::array();
    for (const auto &p : o.persistent_dirs)
        out["persistentVolumeDirs"].push_back({{"path", p.path}, {"capacity", p.capacity}, {"storageClass", p.storage_class}});
    if (o.patches.empty() && d.contains("patches"))
        o.patches = parse_patches(d["patches"].dump(), "patches");
    out["patches"] = d.value("patches", json::array());
    json extra = json::object();
    for (const char *f : {"shell", "command", "debug", "portForward", "sync"})
        if (d.contains(f)) extra[f] = d[f];
    for (auto &[key, val] : extra.items()) out[key] = val;
    if (!extra.empty()) o.extra = extra;
    return out;
}

}  // namespace nh::dev
