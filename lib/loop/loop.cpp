#include "loop/loop.hpp"

#include <cstdlib>
#include <map>
#include <set>

#include "common/log.hpp"
#include "dev/settings.hpp"
#include "dev/sidecar_upload.hpp"
#include "dev/workload.hpp"

namespace nh::loop {
namespace {

// The loops of this process by session (namespace and session object: one per mode and developer).
std::mutex g_mu;
std::multimap<std::string, Loop *> g_loops;

std::string key_of(const std::string &ns, const std::string &session_object) { return ns + "/" + session_object; }

void emit(const dev::EventSink &events, dev::EventType type, dev::Phase phase, const std::string &message,
          nlohmann::json detail = nullptr) {
    log::debug(std::string("loop: ") + dev::phase_name(phase) + ": " + message);
    if (events && !events(dev::Event{type, phase, message, std::move(detail)}))
        throw Error(NH_ECANCELLED, "dev start stopped by its events callback");
}

void phase(const dev::EventSink &events, dev::Phase phase, const std::string &message,
           nlohmann::json detail = nullptr) {
    emit(events, dev::EventType::Phase, phase, message, std::move(detail));
}

// What uploading nhsyncd into the session's dev pods needs.
struct Upload {
    std::shared_ptr<kube::Client> client;
    std::string ns, selector, session_id, dir;

    std::vector<dev::SidecarPod> pods(CancelToken *cancel) const {
        return dev::running_sidecars(*client, ns, selector, session_id, cancel);
    }
};

// Waits (up to `limit`) for a dev pod whose sidecar runs and uploads nhsyncd into it; returns its UID.
std::string first_upload(const Upload &u, std::chrono::milliseconds limit, CancelToken *cancel,
                         const dev::EventSink &events) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    bool said = false;
    for (;;) {
        auto pods = u.pods(cancel);
        if (!pods.empty()) {
            dev::ensure_sidecar_binary(
                *u.client, u.ns, pods.front().name, u.dir,
                [&](const std::string &m, const nlohmann::json &d) { phase(events, dev::Phase::Upload, m, d); }, cancel);
            return pods.front().uid;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(NH_ETIMEOUT, "no dev pod of the session runs its sync sidecar yet; nhsyncd was not uploaded");
        if (!said) phase(events, dev::Phase::Upload, "waiting for the sync sidecar to run");
        said = true;
        if (cancel) {
            cancel->sleep_for(std::chrono::milliseconds(500));
            cancel->check("waiting for the sync sidecar");
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

std::unique_ptr<stream::PortForwarder> forward(const std::shared_ptr<kube::Client> &client, const dev::Session &s,
                                               const std::string &port) {
    stream::ForwardOptions fo;
    fo.ns = s.ns;
    fo.target = stream::parse_target(s.target());
    fo.ports.push_back(stream::parse_forward_port(port));
    return std::make_unique<stream::PortForwarder>(client, std::move(fo), stream::ForwardEventFn(), nullptr);
}

// Why the first sync did not complete, as the C ABI's nh_sync_flush() says it, with the
// sync's last error.
std::string flush_failure(int rc, const sync::Client &sync) {
    std::string why = rc == NH_ETIMEOUT     ? "sync flush timed out"
                      : rc == NH_ECANCELLED ? "sync flush cancelled"
                      : rc == NH_ESTATE     ? "the sync is stopped"
                                            : "the sync failed";
    std::string last = sync.status().error;
    if (!last.empty()) why += " (last sync error: " + last + ")";
    return why;
}

}  // namespace

std::string apply_config(const nlohmann::json &recorded, sync::ClientOptions &o) {
    const dev::LoopSettings settings = dev::loop_settings(recorded);
    if (!settings.sync) return "";
    const dev::SyncSettings &c = *settings.sync;
    std::vector<std::string> said;
    if (c.two_way && o.mode == sync::SyncMode::Send) {
        o.mode = sync::SyncMode::TwoWay;
        said.push_back("two-way");
    }
    if (c.gitignore && !o.ignore.use_gitignore) {
        o.ignore.use_gitignore = true;
        said.push_back(".gitignore rules");
    }
    auto plural = [](size_t n, const std::string &what) {
        return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
    };
    if (o.ignore.patterns.empty() && !c.ignore.empty()) {
        o.ignore.patterns = c.ignore;
        said.push_back(plural(c.ignore.size(), "ignore pattern"));
    }
    if (o.ignore.include_patterns.empty() && !c.include.empty()) {
        o.ignore.include_patterns = c.include;
        said.push_back("only " + plural(c.include.size(), "file pattern"));
    }
    // Delete protection matters only both ways.
    if (!o.delete_protection && c.delete_protection) {
        o.delete_protection = true;
        if (o.mode == sync::SyncMode::TwoWay) said.push_back("delete protection");
    }
    std::string summary;
    for (size_t i = 0; i < said.size(); ++i) summary += (i ? ", " : "") + said[i];
    return summary;
}

Loop::Loop(std::string key) : key_(std::move(key)) {
    std::lock_guard lock(g_mu);
    g_loops.emplace(key_, this);
}

Loop::~Loop() {
    {
        std::lock_guard lock(g_mu);
        for (auto it = g_loops.begin(); it != g_loops.end(); ++it)
            if (it->second == this) {
                g_loops.erase(it);
                break;
            }
    }
    stop();
}

int Loop::local_port() const {
    std::lock_guard lock(mu_);
    return fwd_ ? fwd_->local_port(0) : 0;
}

nlohmann::json Loop::forwards() const {
    std::lock_guard lock(mu_);
    nlohmann::json out = nlohmann::json::array();
    for (const auto &f : app_)
        if (f.fwd)
            out.push_back({{"spec", f.spec}, {"local_port", f.fwd->local_port(0)}, {"remote_port", f.fwd->remote_port(0)}});
    return out;
}

void Loop::follow(std::function<void()> round, std::chrono::milliseconds every) {
    follower_ = std::thread([this, round = std::move(round), every] {
        std::unique_lock lock(follow_mu_);
        while (!follow_cv_.wait_for(lock, every, [this] { return follow_stop_; })) {
            lock.unlock();
            round();
            lock.lock();
        }
    });
}

void Loop::stop() {
    {
        std::lock_guard lock(follow_mu_);
        follow_stop_ = true;
    }
    follow_cv_.notify_all();
    if (follower_.joinable() && follower_.get_id() != std::this_thread::get_id()) follower_.join();
    std::lock_guard lock(mu_);
    app_.clear();
    // The sync first, so that its last acknowledgements still travel through the forward.
    if (sync_) sync_->stop();
    fwd_.reset();
}

std::unique_ptr<Loop> start(std::shared_ptr<kube::Client> client, const dev::Session &s, Options opts) {
    if (s.token.empty()) throw Error(NH_ESTATE, "the session has no sync token; is its Secret intact?");
    const auto &events = opts.events;

    std::optional<Upload> upload;
    std::string uploaded_uid;
    if (s.sidecar_image.empty()) {
        upload = Upload{client, s.ns, s.pod_selector, s.session_id, dev::syncd_dir(opts.syncd_dir)};
        uploaded_uid = first_upload(*upload, opts.timeout, opts.cancel, events);
    }

    // To the workload that runs the dev pod rather than to today's pod, so that the forward
    // follows the dev pod when it is replaced.
    phase(events, dev::Phase::Forward, "forwarding 127.0.0.1 to the sync sidecar's port " + std::to_string(s.sync_port));
    std::unique_ptr<stream::PortForwarder> fwd;
    try {
        fwd = forward(client, s, "0:" + std::to_string(s.sync_port));
    } catch (const Error &e) {
        throw Error(e.code(), std::string("cannot forward to the sync sidecar: ") + e.what(), e.http_status(),
                    e.reason());
    }
    const std::string address = "127.0.0.1:" + std::to_string(fwd->local_port(0));

    sync::ClientOptions so = std::move(opts.sync);
    std::string summary = apply_config(s.extra, so);
    so.local_dir = opts.local_dir;
    so.address = address;
    so.token = s.token;
    std::string what = "syncing " + opts.local_dir + " to " +
                       s.kind.name + "/" + s.name;
    if (!summary.empty()) what += " (from the Nocalhost config: " + summary + ")";
    phase(events, dev::Phase::Sync, what);
    sync::ClientOptions settings = so;
    settings.address.clear();
    settings.token.clear();
    std::shared_ptr<sync::Client> sync;
    try {
        // A bad pattern is an error of this start, not of the engine thread.
        (void)sync::local::IgnoreRules::build(so.local_dir, so.ignore);
        sync = std::make_shared<sync::Client>(std::move(so), std::move(opts.sync_events));
    } catch (const Error &e) {
        throw Error(e.code(), std::string("cannot start the sync: ") + e.what(), e.http_status(), e.reason());
    }
    std::unique_ptr<Loop> loop(new Loop(key_of(s.ns, s.object_name)));
    loop->settings_ = settings;
    loop->fwd_ = std::move(fwd);
    loop->sync_ = sync;
    if (upload) {
        // A new dev pod (the old one deleted, evicted, rescheduled) has an empty sidecar volume:
        // upload into it too. A restarted sidecar container keeps its volume and needs nothing.
        auto done = std::make_shared<std::set<std::string>>(std::set<std::string>{uploaded_uid});
        loop->follow(
            [u = *upload, done] {
                try {
                    for (const auto &p : u.pods(nullptr)) {
                        if (done->count(p.uid)) continue;
                        dev::ensure_sidecar_binary(*u.client, u.ns, p.name, u.dir, {}, nullptr);
                        done->insert(p.uid);
                    }
                } catch (const std::exception &e) {
                    log::warn(std::string("uploading nhsyncd into a new dev pod: ") + e.what() + " (retrying)");
                }
            },
            std::chrono::seconds(2));
    }
    if (int rc = sync->flush(opts.timeout.count(), opts.cancel); rc != NH_OK)
        throw Error(rc, "the first sync of " + opts.local_dir + " did not complete: " + flush_failure(rc, *sync));
    phase(events, dev::Phase::Synced,
          std::to_string(sync->status().files_synced) + " files synced; watching " + opts.local_dir + " for changes");

    // The config's port-forwards, each on its own so that one busy port does not stop the others.
    for (const auto &spec : dev::loop_settings(s.extra).port_forwards) {
        std::unique_ptr<stream::PortForwarder> f;
        try {
            f = forward(client, s, spec);
        } catch (const Error &e) {
            emit(events, dev::EventType::Warning, dev::Phase::PortForward,
                 "port-forward " + spec + " of the Nocalhost config not started: " + e.what());
            continue;
        }
        std::string said = "forwarding 127.0.0.1:" + std::to_string(f->local_port(0)) + " to port " +
                           std::to_string(f->remote_port(0)) + " of the dev pod";
        {
            std::lock_guard lock(loop->mu_);
            loop->app_.push_back({spec, std::move(f)});
        }
        phase(events, dev::Phase::PortForward, said);
    }
    log::info("dev loop ready for " + s.target() + " through " + address);
    return loop;
}

Started start_dev(std::shared_ptr<kube::Client> client, const dev::StartOptions &o, std::optional<Options> loop,
                  std::optional<TrafficOptions> traffic) {
    Started out;
    try {
        out.session = dev::start(*client, o);
    } catch (const Error &e) {
        std::string hint = dev::missing_shell_hint(e.what());
        if (hint.empty()) throw;
        throw Error(e.code(), std::string(e.what()) + "; " + hint, e.http_status(), e.reason());
    }
    if (!loop && !traffic) return out;
    try {
        if (traffic) out.traffic = std::make_unique<Traffic>(client, out.session, std::move(*traffic));
        if (loop) out.loop = start(client, out.session, std::move(*loop));
    } catch (const Error &e) {
        out.traffic.reset();
        if (!o.rollback_on_failure) throw;
        // The workload must not stay in dev mode when the start as a whole failed.
        dev::EndOptions eo;
        eo.kind = o.kind;
        eo.name = o.name;
        eo.ns = out.session.ns;
        eo.owner = o.owner;
        eo.events = o.events;
        eo.mode = o.mode;
        eo.developer = o.developer;
        try {
            dev::end(*client, eo);
        } catch (const Error &re) {
            throw Error(e.code(), std::string(e.what()) + "; rolling back failed too: " + re.what(), e.http_status(),
                        e.reason());
        }
        throw Error(e.code(), std::string(e.what()) + " (dev mode was rolled back)", e.http_status(), e.reason());
    }
    return out;
}

dev::EndResult end_dev(kube::Client &client, const dev::EndOptions &o) {
    const dev::WorkloadKind &kind = o.kind;
    const std::string key =
        key_of(o.ns.empty() ? client.ns() : o.ns, dev::session_object_name(kind, o.name, o.mode, o.developer));
    {
        // Under the registry lock, so that no loop is destroyed meanwhile.
        std::lock_guard lock(g_mu);
        auto [b, e] = g_loops.equal_range(key);
        for (auto it = b; it != e; ++it) it->second->stop();
    }
    stop_traffic(key);
    return dev::end(client, o);
}

}  // namespace nh::loop
