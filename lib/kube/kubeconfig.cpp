#include "kube/kubeconfig.hpp"

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "kube/errors.hpp"
#include "kube/yaml.hpp"

namespace fs = std::filesystem;

namespace nh::kube {
namespace {

// One parsed kubeconfig file.
struct Source {
    std::string file;  // as given, for messages
    std::string dir;   // relative paths resolve against it
    YAML::Node root;
};

// A named entry (cluster, user or context) and the file it came from.
struct Named {
    YAML::Node body;  // the "cluster" / "user" / "context" mapping
    YAML::Node item;  // the list item, for its line number
    const Source *src;
};

std::string at(const Source &src, const YAML::Node &n) {
    if (n.IsDefined() && n.Mark().line >= 0)
        return src.file + ":" + std::to_string(n.Mark().line + 1);
    return src.file;
}

[[noreturn]] void config_error(const std::string &msg) { throw Error(NH_ECONFIG, msg); }

std::string read_file(const std::string &path, int code, const std::string &what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(code, "cannot read " + what + " '" + path + "': " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string resolve(const Source &src, const std::string &p) {
    if (p.empty() || p[0] == '/') return p;
    return (fs::path(src.dir) / p).lexically_normal().string();
}

// A scalar field; absent or null gives "". Anything but a scalar is an error.
std::string str_field(const Source &src, const YAML::Node &parent, const char *key,
                      const std::string &field) {
    if (!parent.IsMap()) return {};
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) return {};
    if (!n.IsScalar())
        config_error(at(src, n) + ": field '" + field + "." + key + "' must be a string");
    return n.Scalar();
}

bool bool_field(const Source &src, const YAML::Node &parent, const char *key,
                const std::string &field) {
    std::string v = str_field(src, parent, key, field);
    if (v.empty() || v == "false" || v == "False" || v == "FALSE") return false;
    if (v == "true" || v == "True" || v == "TRUE") return true;
    config_error(at(src, parent[key]) + ": field '" + field + "." + key +
                 "' must be true or false, not '" + v + "'");
}

std::string decode_base64(const Source &src, const YAML::Node &parent, const char *key,
                          const std::string &field) {
    auto out = base64::decode(str_field(src, parent, key, field));
    if (!out)
        config_error(at(src, parent[key]) + ": field '" + field + "." + key +
                     "' is not valid base64");
    return *out;
}

enum class PemKind { Certificates, PrivateKey };

// Checks that PEM text holds what it should, so a bad file fails at load
// with its name rather than in a TLS handshake.
void check_pem(const std::string &pem, PemKind kind, const std::string &what) {
    BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) throw std::bad_alloc();
    bool ok = false;
    if (kind == PemKind::Certificates) {
        X509 *cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
        ok = cert != nullptr;
        X509_free(cert);
    } else {
        EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
        ok = key != nullptr;
        EVP_PKEY_free(key);
    }
    BIO_free(bio);
    if (!ok)
        throw Error(NH_ETLS, what + (kind == PemKind::Certificates ? " is not a PEM certificate"
                                                                   : " is not a PEM private key"));
}

// Reads `<key>-data` (base64) or `<key>` (a file path) into PEM text.
std::string pem_from(const Source &src, const YAML::Node &body, const std::string &key,
                     const std::string &field, PemKind kind, const std::string &owner) {
    std::string data_key = key + "-data";
    std::string pem = decode_base64(src, body, data_key.c_str(), field);
    if (!pem.empty() && !str_field(src, body, key.c_str(), field).empty())
        config_error(at(src, body[key]) + ": " + data_key + " and " + key + " are both set for " + owner +
                     "; give one of them");
    std::string what;
    if (!pem.empty()) {
        what = data_key + " of " + owner + " (" + at(src, body[data_key]) + ")";
    } else {
        std::string path = str_field(src, body, key.c_str(), field);
        if (path.empty()) return {};
        path = resolve(src, path);
        what = key + " '" + path + "' of " + owner + " (" + at(src, body[key]) + ")";
        pem = read_file(path, NH_ETLS, key + " of " + owner);
    }
    check_pem(pem, kind, what);
    return pem;
}

Source parse(const std::string &name, const std::string &text) {
    Source src;
    src.file = name;
    // Relative paths resolve against the file's directory, made absolute now (as
    // client-go does) so that they stay right if the process changes directory.
    fs::path dir = fs::path(name).parent_path();
    dir = dir.empty() ? fs::current_path() : fs::absolute(dir);
    src.dir = dir.lexically_normal().string();
    if (src.dir.size() > 1 && src.dir.back() == '/') src.dir.pop_back();
    try {
        src.root = YAML::Load(text);
    } catch (const YAML::Exception &e) {
        config_error(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                     std::to_string(e.mark.column + 1) + ": malformed kubeconfig: " + e.msg);
    }
    if (src.root.IsNull() || !src.root.IsDefined()) return src;
    if (!src.root.IsMap())
        config_error(at(src, src.root) + ": malformed kubeconfig: the top level must be a mapping");
    return src;
}

// Adds the list entries of `key` ("clusters", "users", "contexts") whose
// names are not yet known: the first file to set a name wins.
// Within one file a name may appear once: client-go refuses the file otherwise.
void merge_list(const Source &src, const char *key, const char *body_key,
                std::map<std::string, Named> &into) {
    YAML::Node list = src.root[key];
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence()) config_error(at(src, list) + ": field '" + key + "' must be a list");
    std::map<std::string, YAML::Node> seen;
    for (size_t i = 0; i < list.size(); ++i) {
        YAML::Node item = list[i];
        std::string field = std::string(key) + "[" + std::to_string(i) + "]";
        if (!item.IsMap()) config_error(at(src, item) + ": field '" + field + "' must be a mapping");
        std::string name = str_field(src, item, "name", field);
        if (name.empty()) config_error(at(src, item) + ": field '" + field + ".name' is missing");
        YAML::Node body = item[body_key];
        if (body.IsDefined() && !body.IsNull() && !body.IsMap())
            config_error(at(src, body) + ": field '" + field + "." + body_key +
                         "' must be a mapping");
        if (auto [it, fresh] = seen.emplace(name, item); !fresh)
            config_error(at(src, item) + ": " + body_key + " '" + name + "' is defined twice in " + src.file +
                         " (first at " + at(src, it->second) + "); duplicate names are not allowed");
        into.try_emplace(name, Named{body, item, &src});
    }
}

std::string names_of(const std::map<std::string, Named> &m) {
    std::string s;
    for (auto &[k, v] : m) s += (s.empty() ? "" : ", ") + k;
    return s.empty() ? "none" : s;
}

std::string sources_of(const std::vector<Source> &srcs) {
    std::string s;
    for (auto &src : srcs) s += (s.empty() ? "" : ", ") + src.file;
    return s;
}

// Control characters other than tab, newlines, vertical tab, form feed and carriage
// return (ESC above all) shown as "U+001B", so an install hint cannot drive the terminal.
std::string clean_terminal_escapes(const std::string &s) {
    std::string out;
    for (unsigned char c : s) {
        if ((c < 0x20 && (c < 0x09 || c > 0x0d)) || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "U+%04X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string lower(std::string s) {
    for (auto &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The scheme of "scheme://...", lower-cased, or "" when there is none.
std::string scheme_of(const std::string &url) {
    size_t sep = url.find("://");
    if (sep == std::string::npos || sep == 0) return {};
    for (size_t i = 0; i < sep; ++i)
        if (!std::isalnum(static_cast<unsigned char>(url[i])) && url[i] != '+' && url[i] != '-' && url[i] != '.')
            return {};
    return lower(url.substr(0, sep));
}

struct ServerUrl {
    std::string url;  // scheme://host[:port][/prefix], without userinfo, query or fragment
    std::string scheme;
    std::string username, password;  // from user:password@, decoded
};

// client-go's reading of a cluster's server: a URL, or a "host[:port]" pair taken as
// http:// (it picks the scheme before any TLS setting applies); a path is a prefix.
ServerUrl parse_server(const Source &s, const YAML::Node &node, const std::string &raw, const std::string &owner) {
    std::string shown = redact_url(raw);
    auto fail = [&](const std::string &why) {
        config_error(at(s, node) + ": server '" + shown + "' of " + owner + " " + why);
    };
    ServerUrl out;
    out.scheme = scheme_of(raw);
    std::string url = raw;
    if (out.scheme.empty()) {
        out.scheme = "http";
        url = "http://" + raw;
    } else if (out.scheme != "https" && out.scheme != "http") {
        fail("must start with https:// or http://");
    } else {
        url = out.scheme + raw.substr(raw.find("://"));
    }
    CURLU *u = curl_url();
    if (!u) throw std::bad_alloc();
    auto part = [&](CURLUPart p, unsigned flags = 0) {
        char *v = nullptr;
        std::string r;
        if (curl_url_get(u, p, &v, flags) == CURLUE_OK && v) r = v;
        curl_free(v);
        return r;
    };
    bool ok = curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;
    std::string host = ok ? part(CURLUPART_HOST) : "", port = ok ? part(CURLUPART_PORT) : "";
    std::string path = ok ? part(CURLUPART_PATH) : "";
    if (ok) {
        out.username = part(CURLUPART_USER, CURLU_URLDECODE);
        out.password = part(CURLUPART_PASSWORD, CURLU_URLDECODE);
    }
    curl_url_cleanup(u);
    if (!ok || host.empty()) fail("is not a valid URL");
    if (scheme_of(raw).empty() && path != "" && path != "/") fail("must be a URL or a host:port pair");
    while (!path.empty() && path.back() == '/') path.pop_back();
    out.url = out.scheme + "://" + host + (port.empty() ? "" : ":" + port) + path;
    return out;
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node &n) {
    if (n.IsMap()) {
        nlohmann::json o = nlohmann::json::object();
        for (auto kv : n) o[kv.first.Scalar()] = yaml_to_json(kv.second);
        return o;
    }
    if (n.IsSequence()) {
        nlohmann::json a = nlohmann::json::array();
        for (auto v : n) a.push_back(yaml_to_json(v));
        return a;
    }
    if (!n.IsDefined() || n.IsNull()) return nullptr;
    const std::string &v = n.Scalar();
    if (n.Tag() == "!") return v;  // quoted
    if (v == "true" || v == "false") return v == "true";
    auto num = nlohmann::json::parse(v, nullptr, false);
    if (!num.is_discarded() && num.is_number()) return num;
    return v;
}

namespace {

// The cluster extension client-go hands to exec plugins, or "".
std::string exec_extension_of(const Source &s, const YAML::Node &cluster, const std::string &field) {
    YAML::Node exts = cluster.IsMap() ? cluster["extensions"] : YAML::Node();
    if (!exts.IsDefined() || exts.IsNull()) return {};
    if (!exts.IsSequence()) config_error(at(s, exts) + ": field '" + field + ".extensions' must be a list");
    for (auto e : exts)
        if (e.IsMap() && str_field(s, e, "name", field + ".extensions") == "client.authentication.k8s.io/exec")
            return yaml_to_json(e["extension"]).dump();
    return {};
}

// A value sent in a request header: control characters other than tab (a newline above all,
// which would start a header of its own) are refused, as Go's HTTP client refuses them.
std::string header_value(const Source &src, const YAML::Node &node, const std::string &field, std::string v) {
    for (unsigned char c : v)
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            config_error(at(src, node) + ": field '" + field + "' holds a control character, which a request header cannot carry");
    return v;
}

std::vector<std::string> header_values(const Source &src, const YAML::Node &list, const std::string &field) {
    std::vector<std::string> out;
    if (!list.IsDefined() || list.IsNull()) return out;
    if (!list.IsSequence()) config_error(at(src, list) + ": field '" + field + "' must be a list");
    for (auto v : list) {
        if (!v.IsScalar()) config_error(at(src, v) + ": field '" + field + "' must hold strings");
        out.push_back(header_value(src, v, field, v.Scalar()));
    }
    return out;
}

// users[].user.as, as-uid, as-groups and as-user-extra, checked as client-go checks them.
void parse_impersonation(const Source &s, const YAML::Node &b, const std::string &field, const std::string &owner,
                         const YAML::Node &item, RestConfig &cfg) {
    if (!b.IsMap()) return;
    cfg.impersonate_user = header_value(s, b["as"], field + ".as", str_field(s, b, "as", field));
    cfg.impersonate_uid = header_value(s, b["as-uid"], field + ".as-uid", str_field(s, b, "as-uid", field));
    cfg.impersonate_groups = header_values(s, b["as-groups"], field + ".as-groups");
    YAML::Node extra = b["as-user-extra"];
    if (extra.IsDefined() && !extra.IsNull()) {
        if (!extra.IsMap()) config_error(at(s, extra) + ": field '" + field + ".as-user-extra' must be a mapping");
        for (auto kv : extra) {
            std::string key = kv.first.Scalar();
            cfg.impersonate_extra[key] = header_values(s, kv.second, field + ".as-user-extra." + key);
        }
    }
    if (cfg.impersonate_user.empty() &&
        (!cfg.impersonate_uid.empty() || !cfg.impersonate_groups.empty() || !cfg.impersonate_extra.empty()))
        config_error(at(s, item) + ": " + owner +
                     " requests groups, a uid or user-extra without impersonating a user (as)");
}

ExecConfig parse_exec(const Source &src, const YAML::Node &exec, const std::string &field) {
    ExecConfig e;
    e.command = str_field(src, exec, "command", field);
    if (e.command.empty()) config_error(at(src, exec) + ": field '" + field + ".command' is missing");
    e.api_version = str_field(src, exec, "apiVersion", field);
    if (e.api_version.empty())
        config_error(at(src, exec) + ": field '" + field + ".apiVersion' is missing");
    if (e.api_version != "client.authentication.k8s.io/v1" &&
        e.api_version != "client.authentication.k8s.io/v1beta1")
        config_error(at(src, exec["apiVersion"]) + ": field '" + field +
                     ".apiVersion' is '" + e.api_version +
                     "'; supported: client.authentication.k8s.io/v1, "
                     "client.authentication.k8s.io/v1beta1");
    YAML::Node args = exec["args"];
    if (args.IsDefined() && !args.IsNull()) {
        if (!args.IsSequence()) config_error(at(src, args) + ": field '" + field + ".args' must be a list");
        for (auto a : args) {
            if (!a.IsScalar()) config_error(at(src, a) + ": field '" + field + ".args' must hold strings");
            e.args.push_back(a.Scalar());
        }
    }
    YAML::Node env = exec["env"];
    if (env.IsDefined() && !env.IsNull()) {
        if (!env.IsSequence()) config_error(at(src, env) + ": field '" + field + ".env' must be a list");
        for (auto v : env) {
            std::string name = str_field(src, v, "name", field + ".env");
            if (name.empty()) config_error(at(src, v) + ": field '" + field + ".env[].name' is missing");
            e.env.emplace_back(name, str_field(src, v, "value", field + ".env"));
        }
    }
    e.install_hint = clean_terminal_escapes(str_field(src, exec, "installHint", field));
    e.interactive_mode = str_field(src, exec, "interactiveMode", field);
    if (e.interactive_mode.empty()) {
        // Only the older API versions default it (to IfAvailable); v1 requires it.
        if (e.api_version == "client.authentication.k8s.io/v1")
            config_error(at(src, exec) + ": field '" + field +
                         ".interactiveMode' is missing (Never, IfAvailable or Always); "
                         "client.authentication.k8s.io/v1 requires it");
        e.interactive_mode = "IfAvailable";
    } else if (e.interactive_mode != "Never" && e.interactive_mode != "IfAvailable" &&
               e.interactive_mode != "Always") {
        config_error(at(src, exec["interactiveMode"]) + ": field '" + field + ".interactiveMode' is '" +
                     e.interactive_mode + "'; valid: Never, IfAvailable, Always");
    }
    e.provide_cluster_info = bool_field(src, exec, "provideClusterInfo", field);
    e.base_dir = src.dir;
    // A command with a path resolves against the kubeconfig's directory; a bare name is looked up on PATH.
    if (e.command.find('/') != std::string::npos) e.command = resolve(src, e.command);
    return e;
}

RestConfig resolve_config(const std::vector<Source> &srcs, const LoadOptions &opts) {
    std::map<std::string, Named> clusters, users, contexts;
    std::string current;
    const Source *current_src = nullptr;
    for (auto &src : srcs) {
        if (!src.root.IsMap()) continue;
        merge_list(src, "clusters", "cluster", clusters);
        merge_list(src, "users", "user", users);
        merge_list(src, "contexts", "context", contexts);
        if (current.empty()) {
            current = str_field(src, src.root, "current-context", "");
            if (!current.empty()) current_src = &src;
        }
    }
    std::string ctx_name = opts.context.empty() ? current : opts.context;
    if (ctx_name.empty())
        config_error("no context selected: kubeconfig " + sources_of(srcs) +
                     " has no current-context and none was given (available: " +
                     names_of(contexts) + ")");
    auto ctx = contexts.find(ctx_name);
    if (ctx == contexts.end())
        config_error("context '" + ctx_name + "' not found in kubeconfig " + sources_of(srcs) +
                     (opts.context.empty() && current_src
                          ? " (current-context at " + at(*current_src, current_src->root["current-context"]) + ")"
                          : std::string()) +
                     "; available: " + names_of(contexts));
    const Source &csrc = *ctx->second.src;
    std::string cfield = "contexts[name=" + ctx_name + "].context";
    std::string cluster_name = str_field(csrc, ctx->second.body, "cluster", cfield);
    std::string user_name = str_field(csrc, ctx->second.body, "user", cfield);
    std::string ns = str_field(csrc, ctx->second.body, "namespace", cfield);

    RestConfig cfg;
    ServerUrl server;
    std::string exec_extension;
    cfg.context_name = ctx_name;
    cfg.cluster_name = cluster_name;
    cfg.user_name = user_name;
    cfg.origin = sources_of(srcs);
    cfg.ns = !opts.ns.empty() ? opts.ns : (!ns.empty() ? ns : "default");

    if (cluster_name.empty())
        config_error(at(csrc, ctx->second.item) + ": context '" + ctx_name + "' names no cluster");
    auto cl = clusters.find(cluster_name);
    if (cl == clusters.end())
        config_error(at(csrc, ctx->second.item) + ": context '" + ctx_name + "' uses cluster '" +
                     cluster_name + "', which is not defined (available: " + names_of(clusters) + ")");
    {
        const Source &s = *cl->second.src;
        const YAML::Node &b = cl->second.body;
        std::string field = "clusters[name=" + cluster_name + "].cluster";
        std::string owner = "cluster '" + cluster_name + "'";
        std::string raw = str_field(s, b, "server", field);
        if (raw.empty())
            config_error(at(s, cl->second.item) + ": cluster '" + cluster_name + "' has no server");
        server = parse_server(s, b["server"], raw, owner);
        cfg.server = server.url;
        cfg.insecure_skip_tls_verify = bool_field(s, b, "insecure-skip-tls-verify", field);
        cfg.tls_server_name = str_field(s, b, "tls-server-name", field);
        cfg.proxy_url = str_field(s, b, "proxy-url", field);
        if (!cfg.proxy_url.empty()) {
            std::string ps = scheme_of(cfg.proxy_url);
            if (ps != "http" && ps != "https" && ps != "socks5")
                config_error(at(s, b["proxy-url"]) + ": proxy-url '" + redact_url(cfg.proxy_url) + "' of " + owner +
                             " must start with http://, https:// or socks5://");
        }
        cfg.ca_pem = pem_from(s, b, "certificate-authority", field, PemKind::Certificates, owner);
        exec_extension = exec_extension_of(s, b, field);
        if (cfg.insecure_skip_tls_verify && !cfg.ca_pem.empty() && server.scheme == "https")
            config_error(at(s, b["insecure-skip-tls-verify"]) + ": " + owner +
                         " sets both insecure-skip-tls-verify and a certificate authority");
    }
    if (!user_name.empty()) {
        auto us = users.find(user_name);
        if (us == users.end())
            config_error(at(csrc, ctx->second.item) + ": context '" + ctx_name + "' uses user '" +
                         user_name + "', which is not defined (available: " + names_of(users) + ")");
        const Source &s = *us->second.src;
        const YAML::Node &b = us->second.body;
        std::string field = "users[name=" + user_name + "].user";
        std::string owner = "user '" + user_name + "'";
        cfg.client_cert_pem = pem_from(s, b, "client-certificate", field, PemKind::Certificates, owner);
        cfg.client_key_pem = pem_from(s, b, "client-key", field, PemKind::PrivateKey, owner);
        if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty())
            throw Error(NH_ETLS, at(s, us->second.item) + ": " + owner +
                                     " has a client certificate without a key or a key without a certificate");
        cfg.token = str_field(s, b, "token", field);
        std::string tf = str_field(s, b, "tokenFile", field);
        if (!tf.empty()) {
            cfg.token_file = resolve(s, tf);
            // Read now only when nothing else would stand in (client-go reads it for TLS servers).
            if (cfg.token.empty() && server.scheme == "https")
                (void)read_file(cfg.token_file, NH_ECONFIG, "tokenFile of " + owner);
        }
        cfg.username = str_field(s, b, "username", field);
        cfg.password = str_field(s, b, "password", field);
        if (!cfg.token.empty() && (!cfg.username.empty() || !cfg.password.empty()))
            config_error(at(s, us->second.item) + ": " + owner +
                         " has more than one authentication method (token and basic auth); only one is allowed");
        if (b.IsMap() && b["exec"].IsDefined() && !b["exec"].IsNull()) {
            if (!b["exec"].IsMap()) config_error(at(s, b["exec"]) + ": field '" + field + ".exec' must be a mapping");
            cfg.exec = parse_exec(s, b["exec"], field + ".exec");
            cfg.exec->cluster_config_json = exec_extension;
        }
        if (b.IsMap() && b["auth-provider"].IsDefined() && !b["auth-provider"].IsNull())
            cfg.auth_provider = str_field(s, b["auth-provider"], "name", field + ".auth-provider");
        if (cfg.exec && b["auth-provider"].IsDefined() && !b["auth-provider"].IsNull())
            config_error(at(s, b["auth-provider"]) + ": " + owner +
                         " has both an exec plugin and an auth-provider; give one of them");
        parse_impersonation(s, b, field, owner, us->second.item, cfg);
        if (!cfg.auth_provider.empty() && cfg.token.empty() && cfg.token_file.empty() && !cfg.exec &&
            server.scheme == "https")
            throw Error(NH_EUNSUPPORTED,
                        at(s, b["auth-provider"]) + ": " + owner + " uses the auth-provider '" +
                            cfg.auth_provider +
                            "', which Kubernetes removed; use an exec credential plugin instead");
    }
    // Go's HTTP client sends a URL's user:password@ as basic auth when nothing else authenticates.
    if (cfg.token.empty() && cfg.token_file.empty() && cfg.username.empty() && cfg.password.empty() && !cfg.exec) {
        cfg.username = server.username;
        cfg.password = server.password;
    }
    if (server.scheme != "https") {
        // client-go applies user credentials and TLS settings only to a TLS server.
        bool had = !cfg.token.empty() || !cfg.token_file.empty() || !cfg.username.empty() || !cfg.password.empty() ||
                   !cfg.client_cert_pem.empty() || cfg.exec || !cfg.auth_provider.empty() ||
                   !cfg.impersonate_user.empty();
        if (had)
            log::warn("the server " + cfg.server + " of context '" + ctx_name +
                      "' is not https: its credentials are not sent (as kubectl does)");
        clear_user_identity(cfg);
        cfg.ca_pem.clear();
        cfg.insecure_skip_tls_verify = false;
        cfg.tls_server_name.clear();
    }
    return cfg;
}

std::vector<std::string> split_paths(const std::string &s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ':') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

}  // namespace

RestConfig load_from_strings(const std::vector<std::pair<std::string, std::string>> &files,
                             const LoadOptions &opts) {
    std::vector<Source> srcs;
    srcs.reserve(files.size());
    for (auto &[name, text] : files) srcs.push_back(parse(name, text));
    return resolve_config(srcs, opts);
}

RestConfig in_cluster_config(const std::string &sa_dir, const char *host_env, const char *port_env) {
    const char *host = std::getenv(host_env);
    const char *port = std::getenv(port_env);
    if (!host || !*host || !port || !*port)
        config_error(std::string("no kubeconfig found and not running in a cluster (") + host_env +
                     " and " + port_env + " are not set); pass a kubeconfig or set KUBECONFIG");
    RestConfig cfg;
    std::string h = host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    cfg.server = "https://" + h + ":" + port;
    cfg.origin = "in-cluster";
    cfg.context_name = "";
    cfg.token_file = sa_dir + "/token";
    (void)read_file(cfg.token_file, NH_ECONFIG, "in-cluster service account token");
    cfg.ca_pem = read_file(sa_dir + "/ca.crt", NH_ETLS, "in-cluster CA certificate");
    check_pem(cfg.ca_pem, PemKind::Certificates, "in-cluster CA certificate " + sa_dir + "/ca.crt");
    std::ifstream nsf(sa_dir + "/namespace");
    std::string ns;
    if (nsf && std::getline(nsf, ns) && !ns.empty()) cfg.ns = ns;
    return cfg;
}

RestConfig load_config(const LoadOptions &opts) {
    std::vector<std::string> paths;
    bool explicit_paths = !opts.paths.empty();
    if (explicit_paths) {
        paths = split_paths(opts.paths);
    } else if (const char *env = std::getenv("KUBECONFIG"); env && *env) {
        // kubectl skips missing KUBECONFIG entries and reads a repeated one once.
        for (auto &p : split_paths(env))
            if (fs::exists(p) && std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
    } else if (const char *home = std::getenv("HOME"); home && *home) {
        std::string p = std::string(home) + "/.kube/config";
        if (fs::exists(p)) paths.push_back(p);
    }
    if (paths.empty()) {
        if (explicit_paths) config_error("no kubeconfig given");
        RestConfig cfg = in_cluster_config();
        if (!opts.ns.empty()) cfg.ns = opts.ns;
        return cfg;
    }
    std::vector<std::pair<std::string, std::string>> files;
    for (auto &p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) config_error("kubeconfig '" + p + "' is a directory");
        files.emplace_back(p, read_file(p, NH_ECONFIG, "kubeconfig"));
    }
    return load_from_strings(files, opts);
}

void clear_user_identity(RestConfig &cfg) {
    cfg.token.clear();
    cfg.token_file.clear();
    cfg.username.clear();
    cfg.password.clear();
    cfg.client_cert_pem.clear();
    cfg.client_key_pem.clear();
    cfg.exec.reset();
    cfg.auth_provider.clear();
    cfg.impersonate_user.clear();
    cfg.impersonate_uid.clear();
    cfg.impersonate_groups.clear();
    cfg.impersonate_extra.clear();
}

std::vector<std::string> impersonation_headers(const RestConfig &cfg) {
    std::vector<std::string> out;
    if (cfg.impersonate_user.empty()) return out;
    out.push_back("Impersonate-User: " + cfg.impersonate_user);
    if (!cfg.impersonate_uid.empty()) out.push_back("Impersonate-Uid: " + cfg.impersonate_uid);
    for (const auto &g : cfg.impersonate_groups) out.push_back("Impersonate-Group: " + g);
    for (const auto &[key, values] : cfg.impersonate_extra) {
        // A header name holds only RFC 7230 token characters; the rest, and '%', as %XX.
        std::string name = "Impersonate-Extra-";
        for (unsigned char c : key) {
            bool token = std::isalnum(c) || std::strchr("!#$&'*+-.^_`|~", c) != nullptr;
            if (token && c != 0) {
                name += static_cast<char>(c);
            } else {
                char buf[4];
                std::snprintf(buf, sizeof buf, "%%%02X", c);
                name += buf;
            }
        }
        for (const auto &v : values) out.push_back(name + ": " + v);
    }
    return out;
}

}  // namespace nh::kube
