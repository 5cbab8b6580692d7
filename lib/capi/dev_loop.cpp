#include "capi/dev_loop.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "capi/capi.hpp"
#include "common/log.hpp"
#include "dev/sidecar_upload.hpp"

namespace nh::capi {
namespace {

std::mutex g_mu;
std::multimap<std::string, SessionLoop *> g_loops;

// Re-raises the C ABI's last error as an exception with a prefix.
[[noreturn]] void rethrow_last(const std::string &what) {
    const nh_error *e = nh_error_last();
    throw Error(e->code, what + ": " + e->message, e->http_status, e->reason);
}

void emit(nh_dev_event_cb cb, void *payload, int type, const char *phase, const std::string &message) {
    if (cb && cb(type, phase, message.c_str(), nullptr, payload) != 0)
        throw Error(NH_ECANCELLED, "dev start stopped by its events callback");
}

void emit(nh_dev_event_cb cb, void *payload, const char *phase, const std::string &message) {
    emit(cb, payload, NH_DEV_EVENT_PHASE, phase, message);
}

void emit(nh_dev_event_cb cb, void *payload, const char *phase, const std::string &message,
          const nlohmann::json &detail) {
    std::string d = detail.dump();
    if (cb && cb(NH_DEV_EVENT_PHASE, phase, message.c_str(), d.c_str(), payload) != 0)
        throw Error(NH_ECANCELLED, "dev start stopped by its events callback");
}

// Waits (up to `limit`) for a dev pod whose sidecar runs and uploads nhsyncd into it; returns its UID.
std::string first_upload(const SidecarUpload &u, const std::string &dir, std::chrono::milliseconds limit,
                         nh_cancel *cancel, nh_dev_event_cb events, void *payload) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    bool said = false;
    for (;;) {
        auto pods = nh::dev::running_sidecars(*u.client, u.ns, u.selector, u.session_id, token_of(cancel));
        if (!pods.empty()) {
            nh::dev::ensure_sidecar_binary(
                *u.client, u.ns, pods.front().name, dir,
                [&](const std::string &m, const nlohmann::json &d) { emit(events, payload, "upload", m, d); },
                token_of(cancel));
            return pods.front().uid;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw Error(NH_ETIMEOUT, "no dev pod of the session runs its sync sidecar yet; nhsyncd was not uploaded");
        if (!said) emit(events, payload, "upload", "waiting for the sync sidecar to run");
        said = true;
        if (nh::CancelToken *t = token_of(cancel)) {
            t->sleep_for(std::chrono::milliseconds(500));
            t->check("waiting for the sync sidecar");
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

// A Nocalhost sync pattern as a gitignore pattern: "./src" is anchored at the root ("/src").
std::string pattern_of(const std::string &p) {
    if (p.rfind("./", 0) == 0) return "/" + p.substr(2);
    return p;
}

bool whole_tree(const std::string &p) { return p == "." || p == "./" || p == "/" || p == "*"; }

}  // namespace

std::string loop_key(const std::string &ns, const std::string &session_object) { return ns + "/" + session_object; }

LoopSyncOptions::LoopSyncOptions(const nh_sync_options *caller, const nlohmann::json &config) {
    nh_sync_options def = NH_SYNC_OPTIONS_INIT;
    opts_ = def;
    if (caller) {
        // A version-1 struct is shorter: copy only what it has.
        std::memcpy(&opts_, caller,
                    caller->version >= 2 ? sizeof opts_ : offsetof(nh_sync_options, delete_protection));
        opts_.version = NH_SYNC_OPTIONS_VERSION;
    }
    const nlohmann::json sync = config.is_object() ? config.value("sync", nlohmann::json()) : nlohmann::json();
    if (!sync.is_object()) return;
    std::vector<std::string> said;
    std::string type = sync.value("type", "send");
    if (type == "sendReceive" && opts_.mode == NH_SYNC_MODE_SEND) {
        opts_.mode = NH_SYNC_MODE_TWO_WAY;
        said.push_back("two-way");
    }
    bool git = sync.value("mode", "pattern") == "gitIgnore";
    if (git && !opts_.use_gitignore) {
        opts_.use_gitignore = 1;
        said.push_back(".gitignore rules");
    }
    if (opts_.ignore_patterns_count == 0)
        for (const auto &p : sync.value("ignoreFilePattern", nlohmann::json::array()))
            if (p.is_string() && !p.get<std::string>().empty()) ignore_.push_back(pattern_of(p.get<std::string>()));
    if (!ignore_.empty()) {
        for (const auto &p : ignore_) ignore_ptrs_.push_back(p.c_str());
        opts_.ignore_patterns = ignore_ptrs_.data();
        opts_.ignore_patterns_count = ignore_ptrs_.size();
        said.push_back(std::to_string(ignore_.size()) + " ignore pattern" + (ignore_.size() == 1 ? "" : "s"));
    }
    // filePattern limits what is synced (pattern mode); "." means everything.
    if (!git && opts_.include_patterns_count == 0) {
        bool all = false;
        for (const auto &p : sync.value("filePattern", nlohmann::json::array())) {
            if (!p.is_string()) continue;
            if (whole_tree(p.get<std::string>())) all = true;
            else include_.push_back(pattern_of(p.get<std::string>()));
        }
        if (all) include_.clear();
    }
    if (!include_.empty()) {
        for (const auto &p : include_) include_ptrs_.push_back(p.c_str());
        opts_.include_patterns = include_ptrs_.data();
        opts_.include_patterns_count = include_ptrs_.size();
        said.push_back("only " + std::to_string(include_.size()) + " file pattern" + (include_.size() == 1 ? "" : "s"));
    }
    // Nocalhost protects local files by default; it matters only both ways.
    if (!opts_.delete_protection && sync.value("deleteProtection", true)) {
        opts_.delete_protection = 1;
        if (opts_.mode == NH_SYNC_MODE_TWO_WAY) said.push_back("delete protection");
    }
    for (size_t i = 0; i < said.size(); ++i) summary_ += (i ? ", " : "") + said[i];
}

SessionLoop::SessionLoop(std::string key, nh_forward *fwd, nh_sync *sync)
    : key_(std::move(key)), fwd_(fwd), sync_(sync) {
    std::lock_guard lock(g_mu);
    g_loops.emplace(key_, this);
}

SessionLoop::~SessionLoop() {
    {
        std::lock_guard lock(g_mu);
        for (auto it = g_loops.begin(); it != g_loops.end(); ++it)
            if (it->second == this) {
                g_loops.erase(it);
                break;
            }
    }
    stop();
    nh_sync_free(sync_);
    nh_forward_free(fwd_);
}

int SessionLoop::local_port() const {
    std::lock_guard lock(mu_);
    return fwd_ ? nh_forward_local_port(fwd_, 0) : 0;
}

void SessionLoop::add_forward(AppForward f) {
    std::lock_guard lock(mu_);
    app_.push_back(std::move(f));
}

nlohmann::json SessionLoop::forwards() const {
    std::lock_guard lock(mu_);
    nlohmann::json out = nlohmann::json::array();
    for (const auto &f : app_) {
        if (!f.fwd) continue;
        out.push_back({{"spec", f.spec}, {"local_port", nh_forward_local_port(f.fwd, 0)}, {"remote_port", f.remote_port}});
    }
    return out;
}

void SessionLoop::follow(std::function<void()> round, std::chrono::milliseconds every) {
    follower_ = std::thread([this, round = std::move(round), every] {
        std::unique_lock lock(follow_mu_);
        while (!follow_cv_.wait_for(lock, every, [this] { return follow_stop_; })) {
            lock.unlock();
            round();
            lock.lock();
        }
    });
}

void SessionLoop::stop() {
    {
        std::lock_guard lock(follow_mu_);
        follow_stop_ = true;
    }
    follow_cv_.notify_all();
    if (follower_.joinable() && follower_.get_id() != std::this_thread::get_id()) follower_.join();
    std::lock_guard lock(mu_);
    for (auto &f : app_) {
        nh_forward_free(f.fwd);
        f.fwd = nullptr;
    }
    // The sync first, so its last acknowledgements still travel through the forward.
    if (sync_) nh_sync_stop(sync_);
    if (fwd_) {
        nh_forward_free(fwd_);
        fwd_ = nullptr;
    }
}

std::unique_ptr<SessionLoop> start_loop(nh_client *client, const nh_session *session, const std::string &key,
                                        const nlohmann::json &config, const char *local_dir,
                                        const nh_sync_options *sync_opts, long timeout_ms, nh_cancel *cancel,
                                        nh_dev_event_cb events, void *payload,
                                        const std::optional<SidecarUpload> &upload) {
    std::string ns = nh_session_namespace(session);
    std::string kind = nh_session_kind(session);
    std::string name = nh_session_name(session);
    std::string workload = nh_session_workload(session);
    int port = nh_session_sync_port(session);
    const char *token = nh_session_token(session);
    if (!token || !*token) throw Error(NH_ESTATE, "the session has no sync token; is its Secret intact?");

    std::string uploaded_uid;
    const std::string syncd_dir = upload ? nh::dev::syncd_dir(upload->syncd_dir) : std::string();
    if (upload)
        uploaded_uid = first_upload(*upload, syncd_dir,
                                    std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 300000), cancel, events,
                                    payload);

    // Forward to the workload that runs the dev pod rather than to today's pod, so the
    // forward follows the dev pod when it is replaced. Duplicate mode and kinds run from a
    // generated Deployment: that Deployment (the original's own pods are not the dev pod).
    std::string target = workload.empty() ? kind + "/" + name : "deployment/" + workload;
    std::string spec = "0:" + std::to_string(port);
    const char *ports[] = {spec.c_str(), nullptr};
    nh_forward_options fo = NH_FORWARD_OPTIONS_INIT;
    fo.namespace_name = ns.c_str();
    emit(events, payload, "forward", "forwarding 127.0.0.1 to the sync sidecar's port " + std::to_string(port));
    nh_forward *fwd = nullptr;
    if (nh_forward_start(&fwd, client, target.c_str(), ports, &fo) != NH_OK)
        rethrow_last("cannot forward to the sync sidecar");
    int local = nh_forward_local_port(fwd, 0);
    std::string address = "127.0.0.1:" + std::to_string(local);

    LoopSyncOptions so(sync_opts, config);
    std::string what = std::string("syncing ") + local_dir + " to " + kind + "/" + name;
    if (!so.summary().empty()) what += " (from the Nocalhost config: " + so.summary() + ")";
    emit(events, payload, "sync", what);
    nh_sync *sync = nullptr;
    if (nh_sync_start(&sync, local_dir, address.c_str(), token, so.get()) != NH_OK) {
        nh_forward_free(fwd);
        rethrow_last("cannot start the sync");
    }
    auto loop = std::make_unique<SessionLoop>(key, fwd, sync);
    if (upload) {
        // A new dev pod (the old one deleted, evicted, rescheduled) has an empty sidecar volume:
        // upload into it too. A restarted sidecar container keeps its volume and needs nothing.
        auto done = std::make_shared<std::set<std::string>>(std::set<std::string>{uploaded_uid});
        loop->follow(
            [u = *upload, syncd_dir, done] {
                try {
                    for (const auto &p : nh::dev::running_sidecars(*u.client, u.ns, u.selector, u.session_id, nullptr)) {
                        if (done->count(p.uid)) continue;
                        nh::dev::ensure_sidecar_binary(*u.client, u.ns, p.name, syncd_dir, {}, nullptr);
                        done->insert(p.uid);
                    }
                } catch (const std::exception &e) {
                    log::warn(std::string("uploading nhsyncd into a new dev pod: ") + e.what() + " (retrying)");
                }
            },
            std::chrono::seconds(2));
    }
    long wait = timeout_ms > 0 ? timeout_ms : 300000;
    int rc = nh_sync_flush(sync, wait, cancel);
    if (rc != NH_OK) {
        std::string msg = nh_error_last()->message;
        nh_buf last = NH_BUF_INIT;
        if (nh_sync_last_error(&last, sync) == NH_OK && last.size) msg += " (last sync error: " + std::string(last.ptr) + ")";
        nh_buf_dispose(&last);
        throw Error(rc, "the first sync of " + std::string(local_dir) + " did not complete: " + msg);
    }
    nh_sync_status st = NH_SYNC_STATUS_INIT;
    nh_sync_status_get(&st, sync);
    emit(events, payload, "synced",
         std::to_string(st.files_synced) + " files synced; watching " + local_dir + " for changes");

    // The config's port-forwards, each on its own so that one busy port does not stop the others.
    const nlohmann::json pf = config.is_object() ? config.value("portForward", nlohmann::json::array())
                                                 : nlohmann::json::array();
    for (const auto &p : pf) {
        std::string s = p.is_string() ? p.get<std::string>() : p.is_number_integer() ? std::to_string(p.get<int>()) : "";
        if (s.empty()) continue;
        const char *one[] = {s.c_str(), nullptr};
        nh_forward *f = nullptr;
        if (nh_forward_start(&f, client, target.c_str(), one, &fo) != NH_OK) {
            emit(events, payload, NH_DEV_EVENT_WARNING, "port-forward",
                 "port-forward " + s + " of the Nocalhost config not started: " + nh_error_last()->message);
            continue;
        }
        int lp = nh_forward_local_port(f, 0);
        auto colon = s.rfind(':');
        int remote = std::atoi(s.c_str() + (colon == std::string::npos ? 0 : colon + 1));
        loop->add_forward({s, remote, f});
        emit(events, payload, "port-forward",
             "forwarding 127.0.0.1:" + std::to_string(lp) + " to port " + std::to_string(remote) + " of the dev pod");
    }
    log::info("dev loop ready for " + kind + "/" + name + " through " + address);
    return loop;
}

void stop_loops_for(const std::string &key) {
    // Under the registry lock, so no loop can be destroyed meanwhile.
    std::lock_guard lock(g_mu);
    auto [b, e] = g_loops.equal_range(key);
    for (auto it = b; it != e; ++it) it->second->stop();
}

}  // namespace nh::capi
