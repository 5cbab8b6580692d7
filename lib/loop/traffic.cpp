#include "loop/traffic.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/log.hpp"
#include "kube/objects.hpp"

namespace nh::loop {
namespace {

std::mutex g_mu;
std::multimap<std::string, Traffic *> g_traffic;

int port_number(const std::string &part, const std::string &whole, bool allow_zero) {
    if (part.empty() || part.size() > 5 || part.find_first_not_of("0123456789") != std::string::npos)
        throw Error(NH_EINVAL, "bad Service forward '" + whole + "': use svc/NAME:PORT[:LOCAL], e.g. svc/db:5432");
    int v = std::stoi(part);
    if (v > 65535 || (v == 0 && !allow_zero)) throw Error(NH_EINVAL, "port out of range in '" + whole + "'");
    return v;
}

// The ready endpoint pod of a Service's port and the pod's port number behind it, from the
// Service's EndpointSlices (a named targetPort resolves there).
struct Endpoint {
    std::string pod;
    int port = 0;
};

std::string port_name_of(kube::Client &c, const std::string &ns, const ServiceForwardSpec &s, CancelToken *cancel) {
    auto svc = c.get("/api/v1/namespaces/" + kube::url_escape(ns) + "/services/" + kube::url_escape(s.service), cancel);
    std::string listed;
    for (const auto &p : svc.value("spec", kube::json::object()).value("ports", kube::json::array())) {
        if (p.value("port", 0) == s.port) return p.value("name", "");
        listed += (listed.empty() ? "" : ", ") + std::to_string(p.value("port", 0));
    }
    throw Error(NH_EINVAL, "service " + ns + "/" + s.service + " has no port " + std::to_string(s.port) +
                               (listed.empty() ? std::string(" (it has none)") : " (its ports: " + listed + ")"));
}

std::vector<Endpoint> ready_endpoints(kube::Client &c, const std::string &ns, const std::string &service,
                                      const std::string &port_name, CancelToken *cancel) {
    auto slices = c.get("/apis/discovery.k8s.io/v1/namespaces/" + kube::url_escape(ns) +
                            "/endpointslices?labelSelector=" + kube::url_escape("kubernetes.io/service-name=" + service),
                        cancel);
    std::vector<Endpoint> out;
    for (const auto &sl : slices.value("items", kube::json::array())) {
        int number = 0;
        for (const auto &p : sl.value("ports", kube::json::array()))
            if (p.value("name", "") == port_name) number = p.value("port", 0);
        if (number == 0) continue;
        for (const auto &e : sl.value("endpoints", kube::json::array())) {
            const auto cond = e.value("conditions", kube::json::object());
            if (!cond.value("ready", true)) continue;
            const auto ref = e.value("targetRef", kube::json::object());
            if (ref.value("kind", "") != "Pod") continue;
            out.push_back({ref.value("name", ""), number});
        }
    }
    return out;
}

std::filesystem::path files_dir(const dev::Session &s) {
    const char *run = std::getenv("XDG_RUNTIME_DIR");
    std::filesystem::path base = run && *run ? std::filesystem::path(run) / "nocalhost"
                                             : std::filesystem::temp_directory_path() /
                                                   ("nocalhost-" + std::to_string(::getuid()));
    std::filesystem::create_directories(base);
    ::chmod(base.c_str(), 0700);
    auto dir = base / (s.ns + "." + s.object_name);
    std::filesystem::create_directories(dir);
    return dir;
}

void write_file(const std::filesystem::path &p, const std::string &text) {
    std::ofstream f(p, std::ios::trunc);
    f << text;
    if (!f.flush()) throw Error(NH_EIO, "cannot write " + p.string());
}

}  // namespace

ServiceForwardSpec parse_service_forward(const std::string &text) {
    auto slash = text.find('/');
    std::string kind = slash == std::string::npos ? "" : text.substr(0, slash);
    if (kind != "svc" && kind != "service" && kind != "services")
        throw Error(NH_EINVAL, "bad Service forward '" + text + "': use svc/NAME:PORT[:LOCAL], e.g. svc/db:5432");
    std::string rest = text.substr(slash + 1);
    auto colon = rest.find(':');
    if (colon == std::string::npos || colon == 0)
        throw Error(NH_EINVAL, "bad Service forward '" + text + "': use svc/NAME:PORT[:LOCAL], e.g. svc/db:5432");
    ServiceForwardSpec s;
    s.service = rest.substr(0, colon);
    std::string ports = rest.substr(colon + 1);
    auto c2 = ports.find(':');
    s.port = port_number(ports.substr(0, c2), text, false);
    s.local = c2 == std::string::npos ? s.port : port_number(ports.substr(c2 + 1), text, true);
    return s;
}

std::string service_env_prefix(const std::string &service) {
    std::string out;
    for (char ch : service) out += ch == '-' || ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return out;
}

struct Traffic::Forward {
    ServiceForwardSpec spec;
    std::string port_name;
    int local_port = 0;  // bound
    std::string pod;
    std::unique_ptr<stream::PortForwarder> fwd;
};

void Traffic::start_forward(Forward &f, CancelToken *cancel) {
    auto eps = ready_endpoints(*client_, session_.ns, f.spec.service, f.port_name, cancel);
    if (eps.empty())
        throw Error(NH_ESTATE, "service " + session_.ns + "/" + f.spec.service + " has no ready endpoint for port " +
                                   std::to_string(f.spec.port));
    const Endpoint &e = eps.front();
    stream::ForwardOptions fo;
    fo.ns = session_.ns;
    fo.target = {"Pod", e.pod};
    fo.follow = false;
    fo.ports.push_back({f.local_port ? f.local_port : f.spec.local, e.port});
    f.fwd.reset();
    f.fwd = std::make_unique<stream::PortForwarder>(client_, std::move(fo), stream::ForwardEventFn(), nullptr);
    f.local_port = f.fwd->local_port(0);
    f.pod = e.pod;
}

// A forward whose pod is no longer a ready endpoint (or whose forwarding ended) moves to
// another ready endpoint, on the same local port.
void Traffic::follow_round() {
    std::lock_guard lock(mu_);
    for (auto &f : forwards_) {
        try {
            bool ended = false;
            try {
                ended = !f->fwd || f->fwd->wait(std::chrono::milliseconds(0));
            } catch (const Error &) {
                ended = true;
            }
            if (!ended) {
                auto eps = ready_endpoints(*client_, session_.ns, f->spec.service, f->port_name, nullptr);
                bool still = false;
                for (const auto &e : eps) still |= e.pod == f->pod;
                if (still || eps.empty()) continue;
            }
            std::string was = f->pod;
            f->fwd.reset();
            start_forward(*f, nullptr);
            log::info("service forward svc/" + f->spec.service + ":" + std::to_string(f->spec.port) + " moved from pod " +
                      was + " to " + f->pod);
        } catch (const std::exception &e) {
            log::warn("service forward svc/" + f->spec.service + ": " + e.what() + " (retrying)");
        }
    }
}

Traffic::Traffic(std::shared_ptr<kube::Client> client, const dev::Session &session, TrafficOptions opts)
    : client_(std::move(client)), session_(session), opts_(std::move(opts)), key_(session.ns + "/" + session.object_name) {
    auto phase = [&](const std::string &m, kube::json d = nullptr) {
        if (opts_.events && !opts_.events(dev::Event{dev::EventType::Phase, dev::Phase::Forward, m, std::move(d)}))
            throw Error(NH_ECANCELLED, "cancelled");
    };
    try {
        if (opts_.local) {
            ReverseOptions ro;
            for (const auto &p : session_.local.is_array() ? session_.local : kube::json::array())
                ro.ports.push_back({p.value("port", 0), p.value("local", 0)});
            ro.remote_address = "0.0.0.0";  // the pod's address: Services reach it there
            ro.timeout = opts_.timeout;
            ro.syncd_dir = opts_.syncd_dir;
            // No upload events: later uploads (into a replaced pod) run after the start returned.
            std::string what = session_.kind.lower + "/" + session_.name;
            reverse_ = std::make_unique<ReverseForwarder>(
                client_, session_, std::move(ro),
                [what](ReverseEvent e, const std::string &pod, int remote, int local, const std::string &msg) {
                    if (e == ReverseEvent::Error)
                        log::warn("local mode " + what + ": port " + std::to_string(remote) + " -> 127.0.0.1:" +
                                  std::to_string(local) + ": " + msg);
                    else if (e == ReverseEvent::PodLost || e == ReverseEvent::Reconnected)
                        log::info("local mode " + what + ": " + (msg.empty() ? pod : msg));
                },
                nullptr);  // the caller's token may not outlive the start
            for (const auto &m : reverse_->ports())
                phase("serving port " + std::to_string(m.remote) + " of " + what + " from 127.0.0.1:" +
                          std::to_string(m.local) + " on this machine (pod " + reverse_->pod() + ")",
                      {{"pod", reverse_->pod()}, {"port", m.remote}, {"local_port", m.local}});
        }
        if (!opts_.forwards.empty()) {
            std::string hosts = "# Services of namespace " + session_.ns + " forwarded to this machine by " +
                                session_.kind.lower + "/" + session_.name + "'s dev session\n";
            std::string env;
            std::map<std::string, bool> seen;
            for (const auto &spec : opts_.forwards) {
                auto f = std::make_unique<Forward>();
                f->spec = spec;
                f->port_name = port_name_of(*client_, session_.ns, spec, opts_.cancel);
                start_forward(*f, opts_.cancel);
                const std::string &n = spec.service, &ns = session_.ns;
                const std::string prefix = service_env_prefix(n);
                if (!seen[n]) {
                    hosts += "127.0.0.1 " + n + " " + n + "." + ns + " " + n + "." + ns + ".svc " + n + "." + ns +
                             ".svc.cluster.local\n";
                    env += prefix + "_SERVICE_HOST=127.0.0.1\n" + prefix + "_SERVICE_PORT=" +
                           std::to_string(f->local_port) + "\n";
                    seen[n] = true;
                }
                if (!f->port_name.empty())
                    env += prefix + "_SERVICE_PORT_" + service_env_prefix(f->port_name) + "=" +
                           std::to_string(f->local_port) + "\n";
                phase("forwarding 127.0.0.1:" + std::to_string(f->local_port) + " to service " + ns + "/" + n + ":" +
                          std::to_string(spec.port) + " (pod " + f->pod + ")",
                      {{"service", n}, {"port", spec.port}, {"local_port", f->local_port}, {"pod", f->pod}});
                std::lock_guard lock(mu_);
                forwards_.push_back(std::move(f));
            }
            auto dir = files_dir(session_);
            dir_ = dir.string();
            hosts_file_ = (dir / "hosts").string();
            env_file_ = (dir / "services.env").string();
            write_file(hosts_file_, hosts);
            write_file(env_file_, env);
            phase("the forwarded Services are named in " + hosts_file_ + " (hosts-style) and " + env_file_ +
                      " (NAME_SERVICE_HOST, NAME_SERVICE_PORT)",
                  {{"hosts_file", hosts_file_}, {"env_file", env_file_}});
            follower_ = std::thread([this] {
                std::unique_lock lock(follow_mu_);
                while (!follow_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return follow_stop_; })) {
                    lock.unlock();
                    follow_round();
                    lock.lock();
                }
            });
        }
    } catch (...) {
        stop();
        throw;
    }
    std::lock_guard lock(g_mu);
    g_traffic.emplace(key_, this);
}

Traffic::~Traffic() {
    {
        std::lock_guard lock(g_mu);
        for (auto it = g_traffic.begin(); it != g_traffic.end(); ++it)
            if (it->second == this) {
                g_traffic.erase(it);
                break;
            }
    }
    stop();
}

void Traffic::stop() {
    {
        std::lock_guard lock(follow_mu_);
        follow_stop_ = true;
    }
    follow_cv_.notify_all();
    if (follower_.joinable() && follower_.get_id() != std::this_thread::get_id()) follower_.join();
    reverse_.reset();
    std::lock_guard lock(mu_);
    forwards_.clear();
    std::error_code ec;
    if (!hosts_file_.empty()) std::filesystem::remove(hosts_file_, ec);
    if (!env_file_.empty()) std::filesystem::remove(env_file_, ec);
    if (!dir_.empty()) std::filesystem::remove(dir_, ec);
}

kube::json Traffic::status() const {
    kube::json j = {{"local_ports", kube::json::array()}, {"forwards", kube::json::array()},
                    {"hosts_file", hosts_file_}, {"env_file", env_file_}};
    if (session_.local.is_array()) j["local_ports"] = session_.local;
    std::lock_guard lock(mu_);
    for (const auto &f : forwards_)
        j["forwards"].push_back({{"service", f->spec.service}, {"port", f->spec.port}, {"local_port", f->local_port},
                                 {"pod", f->pod}});
    return j;
}

void stop_traffic(const std::string &key) {
    std::lock_guard lock(g_mu);
    auto [b, e] = g_traffic.equal_range(key);
    for (auto it = b; it != e; ++it) it->second->stop();
}

}  // namespace nh::loop
