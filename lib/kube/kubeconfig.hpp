// kubeconfig loading as kubectl does it: KUBECONFIG lists merged (the
// first file to set a map entry wins), an explicit path, context and
// namespace overrides, and the in-cluster service account as the fallback.
// As in client-go, user credentials and TLS settings apply only when the
// server is https://; a server without a scheme ("host:port") is http://.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nh::kube {

// An exec credential plugin (users[].user.exec).
struct ExecConfig {
    std::string command;
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env;
    std::string api_version;
    std::string install_hint;          // terminal escape sequences shown as U+001B
    std::string interactive_mode;      // Never, IfAvailable or Always
    bool provide_cluster_info = false;
    // The cluster's "client.authentication.k8s.io/exec" extension as JSON (or ""): the
    // plugin gets it as spec.cluster.config when provide_cluster_info is set.
    std::string cluster_config_json;
    std::string base_dir;  // the kubeconfig's directory (a command with a '/' is already resolved)
};

// Everything needed to talk to one API server as one identity.
struct RestConfig {
    std::string server;  // e.g. https://127.0.0.1:6443, no trailing slash, never with user:password@
    std::string context_name;
    std::string cluster_name;
    std::string user_name;
    std::string ns = "default";
    std::string origin;  // where it came from, for messages ("/path/config" or "in-cluster")

    // TLS. PEM text, already read from files or decoded from *-data.
    std::string ca_pem;
    std::string client_cert_pem;
    std::string client_key_pem;
    bool insecure_skip_tls_verify = false;
    std::string tls_server_name;
    std::string proxy_url;

    // Authentication, in client-go's order: token_file (re-read; `token` is its fallback)
    // or token, else basic (username/password, or the server URL's user:password@), else
    // exec unless a client certificate is configured. All empty for an http:// server.
    std::string token;
    std::string token_file;
    std::string username;
    std::string password;
    std::optional<ExecConfig> exec;
    std::string auth_provider;  // a legacy auth-provider name: refused with a clear error

    // Impersonation (users[].user.as, as-uid, as-groups, as-user-extra): every request acts as
    // this user, as kubectl's do. Like the credentials, only for an https:// server.
    std::string impersonate_user;
    std::string impersonate_uid;
    std::vector<std::string> impersonate_groups;
    std::map<std::string, std::vector<std::string>> impersonate_extra;
};

// Forgets every way `cfg` says who the user is (token, token file, basic auth, client
// certificate, exec plugin, auth-provider, impersonation); the server and its TLS settings stay.
void clear_user_identity(RestConfig &cfg);

// The Impersonate-* header lines ("Impersonate-User: name") a request carries for `cfg`, in
// client-go's form: one Impersonate-Group per group, one Impersonate-Extra-KEY per value, the
// key's bytes that a header name cannot hold (and '%') percent-encoded. None without `as`.
std::vector<std::string> impersonation_headers(const RestConfig &cfg);

struct LoadOptions {
    std::string paths;    // ':'-separated explicit kubeconfig files; empty: the rules below
    std::string context;  // override of current-context
    std::string ns;       // override of the namespace
};

// Loads following kubectl's precedence: explicit paths, else $KUBECONFIG,
// else ~/.kube/config, else the in-cluster service account.
// Throws nh::Error(NH_ECONFIG / NH_ETLS) naming the file, line and field.
RestConfig load_config(const LoadOptions &opts);

// The config of a pod's service account.
RestConfig in_cluster_config(const std::string &sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount",
                             const char *host_env = "KUBERNETES_SERVICE_HOST",
                             const char *port_env = "KUBERNETES_SERVICE_PORT");

// Parses one kubeconfig document given as text (for tests); `name` is used in messages
// and `base_dir` to resolve relative paths.
struct KubeconfigFile;
RestConfig load_from_strings(const std::vector<std::pair<std::string, std::string>> &files,
                             const LoadOptions &opts);

}  // namespace nh::kube
