#include "capi/dev_loop.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "capi/capi.hpp"
#include "common/log.hpp"

namespace nh::capi {
namespace {

std::mutex g_mu;
std::multimap<std::string, SessionLoop *> g_loops;

std::string loop_key(const std::string &ns, std::string kind, const std::string &name) {
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
    return ns + "/" + kind + "/" + name;
}

// Re-raises the C ABI's last error as an exception with a prefix.
[[noreturn]] void rethrow_last(const std::string &what) {
    const nh_error *e = nh_error_last();
    throw Error(e->code, what + ": " + e->message, e->http_status, e->reason);
}

void emit(nh_dev_event_cb cb, void *payload, const char *phase, const std::string &message) {
    if (cb && cb(NH_DEV_EVENT_PHASE, phase, message.c_str(), nullptr, payload) != 0)
        throw Error(NH_ECANCELLED, "dev start stopped by its events callback");
}

}  // namespace

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

void SessionLoop::stop() {
    std::lock_guard lock(mu_);
    // The sync first, so its last acknowledgements still travel through the forward.
    if (sync_) nh_sync_stop(sync_);
    if (fwd_) {
        nh_forward_free(fwd_);
        fwd_ = nullptr;
    }
}

std::unique_ptr<SessionLoop> start_loop(nh_client *client, const nh_session *session, const char *local_dir,
                                        const nh_sync_options *sync_opts, long timeout_ms, nh_cancel *cancel,
                                        nh_dev_event_cb events, void *payload) {
    std::string ns = nh_session_namespace(session);
    std::string kind = nh_session_kind(session);
    std::string name = nh_session_name(session);
    int port = nh_session_sync_port(session);
    const char *token = nh_session_token(session);
    if (!token || !*token) throw Error(NH_ESTATE, "the session has no sync token; is its Secret intact?");

    // Forward to the workload rather than to today's pod, so the forward follows the
    // dev pod when it is replaced.
    std::string target = kind + "/" + name;
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

    emit(events, payload, "sync", std::string("syncing ") + local_dir + " to " + kind + "/" + name);
    nh_sync *sync = nullptr;
    if (nh_sync_start(&sync, local_dir, address.c_str(), token, sync_opts) != NH_OK) {
        nh_forward_free(fwd);
        rethrow_last("cannot start the sync");
    }
    auto loop = std::make_unique<SessionLoop>(loop_key(ns, kind, name), fwd, sync);
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
    log::info("dev loop ready for " + kind + "/" + name + " through " + address);
    return loop;
}

void stop_loops_for(const std::string &ns, const std::string &kind, const std::string &name) {
    // Under the registry lock, so no loop can be destroyed meanwhile.
    std::lock_guard lock(g_mu);
    auto [b, e] = g_loops.equal_range(loop_key(ns, kind, name));
    for (auto it = b; it != e; ++it) it->second->stop();
}

}  // namespace nh::capi
