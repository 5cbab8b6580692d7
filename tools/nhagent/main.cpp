// nh-agent: the per-user agent that holds syncs of dev sessions and port-forwards for the
// processes of its user, so that they outlive the editor or script that started them. The
// library starts it on demand (lib/agent/client.cpp) and talks to it over a Unix socket in a
// directory only its user can open, one JSON line per request and answer. Everything it does
// to a cluster goes through the library's C ABI, as any other client of the library; only
// the socket's plumbing (lib/agent/proto.cpp) is shared source. See docs/agent.md.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/proto.hpp"
#include "common/error.hpp"
#include "nocalhost.h"

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace agent = nh::agent;

namespace {

std::atomic<bool> g_terminate{false};

void log_line(const std::string &m) {
    std::fprintf(stderr, "%s nh-agent[%d]: %s\n", agent::now_rfc3339().c_str(), static_cast<int>(::getpid()), m.c_str());
    std::fflush(stderr);
}

std::string last_error() { return nh_error_last()->message; }

std::string random_hex(size_t n) {
    static std::mutex mu;
    static std::mt19937_64 rng(std::random_device{}());
    std::lock_guard lock(mu);
    std::string s;
    for (size_t i = 0; i < n; ++i) s += "0123456789abcdef"[rng() % 16];
    return s;
}

// The remote port of a port spec ("L:R", ":R", "P").
int remote_port_of(const std::string &spec) {
    auto colon = spec.find(':');
    return std::atoi((colon == std::string::npos ? spec : spec.substr(colon + 1)).c_str());
}

// One thing the agent holds: a session's sync, or a port-forward.
struct Item {
    std::string id, type;  // "sync" or "forward"
    json spec;             // what it was asked to hold (persisted; may carry kubeconfig data: never logged)
    std::string since;

    std::mutex mu;
    std::string state = "connecting", message;
    std::string last_sync, last_error, last_error_at;
    std::string ended;  // a sync whose dev mode ended elsewhere: why (its loops are stopped)
    nh_client *client = nullptr;
    nh_session *session = nullptr;
    nh_forward *fwd = nullptr;
    nh_cancel *cancel = nullptr;
    std::thread worker;  // a restored item's start
    std::thread waiter;  // a forward's wait for its end
    std::atomic<bool> stopping{false};

    Item() { nh_cancel_new(&cancel); }
    ~Item() { nh_cancel_free(cancel); }

    json persisted() const {
        json j = {{"id", id}, {"type", type}, {"spec", spec}, {"since", since}};
        if (!ended.empty()) j["ended"] = ended;
        return j;
    }
};

const char *sync_state(int s) {
    switch (s) {
    case NH_SYNC_SYNCING: return "syncing";
    case NH_SYNC_IDLE: return "idle";
    case NH_SYNC_DISCONNECTED: return "disconnected";
    case NH_SYNC_ERROR: return "error";
    case NH_SYNC_STOPPED: return "disconnected";
    case NH_SYNC_PAUSED: return "paused";
    default: return "connecting";
    }
}

void on_sync_event(const nh_sync_event *e, void *payload) {
    auto *it = static_cast<Item *>(payload);
    std::lock_guard lock(it->mu);
    if (e->type == NH_SYNC_EVENT_STATE && e->status->state == NH_SYNC_IDLE) it->last_sync = agent::now_rfc3339();
    if (e->type == NH_SYNC_EVENT_STATE && e->status->state == NH_SYNC_DISCONNECTED && *e->message)
        it->message = e->message;
}

void on_forward_event(int type, const char *pod, int local_port, int, const char *message, void *payload) {
    auto *it = static_cast<Item *>(payload);
    std::lock_guard lock(it->mu);
    if (type == NH_FORWARD_ERROR || (type == NH_FORWARD_CLOSED && message && *message)) {
        it->last_error = std::string(local_port ? "port " + std::to_string(local_port) + ": " : "") + message;
        it->last_error_at = agent::now_rfc3339();
    } else if (type == NH_FORWARD_POD_LOST) {
        it->state = "waiting";
        it->message = "the pod went away; new connections wait for its replacement";
        it->last_error = it->message;
        it->last_error_at = agent::now_rfc3339();
    } else if (type == NH_FORWARD_RECONNECTED) {
        it->state = "forwarding";
        it->message = std::string("forwarding to ") + pod;
    }
}

// The client an item's spec names; throws nh::Error.
nh_client *make_client(const json &spec) {
    const std::string kubeconfig = spec.value("kubeconfig", ""), context = spec.value("context", "");
    const std::string ns = spec.value("namespace", "");
    nh_client_options o = NH_CLIENT_OPTIONS_INIT;
    o.context = context.empty() ? nullptr : context.c_str();
    o.namespace_name = ns.empty() ? nullptr : ns.c_str();
    nh_client *c = nullptr;
    int rc;
    if (spec.contains("kubeconfig_data")) {
        const std::string data = spec["kubeconfig_data"];
        rc = nh_client_new_from_data(&c, data.c_str(), data.size(), &o);
    } else {
        o.kubeconfig = kubeconfig.empty() ? nullptr : kubeconfig.c_str();
        rc = nh_client_new(&c, &o);
    }
    if (rc != NH_OK) throw nh::Error(rc, last_error());
    return c;
}

// Why the dev mode a sync item attached to is over ("" while it goes on, or while the cluster
// cannot tell): ended by another process, by nhctl or by restoring the workload (no dev mode
// any more), ended and started again (another session since), or the workload deleted.
std::string dev_mode_gone(const json &spec, nh_cancel *cancel) {
    const std::string kind = spec.value("kind", ""), name = spec.value("name", ""), ns = spec.value("namespace", "");
    const std::string developer = spec.value("developer", ""), since = spec.value("session_since", "");
    const std::string what = "dev mode of " + kind + "/" + name + " in " + ns;
    nh_client *client = nullptr;
    try {
        client = make_client(spec);
    } catch (const std::exception &) {
        return "";
    }
    nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
    q.namespace_name = ns.c_str();
    q.mode = spec.value("mode", 0);
    q.developer = developer.empty() ? nullptr : developer.c_str();
    q.cancel = cancel;
    nh_buf b = NH_BUF_INIT;
    int rc = nh_dev_status(&b, client, kind.c_str(), name.c_str(), &q);
    nh_client_free(client);
    json st = rc == NH_OK && b.ptr ? json::parse(std::string(b.ptr, b.size), nullptr, false) : json();
    nh_buf_dispose(&b);
    if (rc == NH_ENOTFOUND) return kind + "/" + name + " in " + ns + " is gone, and its dev mode with it";
    if (rc != NH_OK || !st.is_object()) return "";
    if (!st.value("dev_mode", false))
        return what + " was ended elsewhere (another process, nhctl, or the workload restored)";
    if (!since.empty() && st.value("since", "") != since)
        return what + " was ended elsewhere and started again (by " + st.value("owner", std::string("someone")) +
               " at " + st.value("since", std::string("?")) + ")";
    return "";
}

// Starts what the item holds; throws nh::Error. On success the item runs.
void start_item(Item &it) {
    nh_client *client = make_client(it.spec);
    const json &s = it.spec;
    if (it.type == "sync") {
        const std::string kind = s.value("kind", ""), name = s.value("name", ""), developer = s.value("developer", "");
        const std::string ns = s.value("namespace", ""), dir = s.value("local_dir", "");
        if (std::string sd = s.value("syncd_dir", ""); !sd.empty() && !std::getenv("NH_SYNCD_DIR"))
            ::setenv("NH_SYNCD_DIR", sd.c_str(), 0);
        nh_dev_query_options q = NH_DEV_QUERY_OPTIONS_INIT;
        q.namespace_name = ns.c_str();
        q.mode = s.value("mode", 0);
        q.developer = developer.empty() ? nullptr : developer.c_str();
        q.cancel = it.cancel;
        nh_session *session = nullptr;
        int rc = nh_dev_attach(&session, client, kind.c_str(), name.c_str(), &q);
        if (rc == NH_OK) {
            agent::SyncSettings settings(s["sync"]);
            settings.options.callback = on_sync_event;
            settings.options.payload = &it;
            nh_session_sync_options so = NH_SESSION_SYNC_OPTIONS_INIT;
            so.sync_options = &settings.options;
            so.cancel = it.cancel;
            rc = nh_session_sync_start_v2(session, client, dir.c_str(), &so);
        }
        if (rc != NH_OK) {
            std::string why = last_error();
            nh_session_free(session);
            nh_client_free(client);
            throw nh::Error(rc, why);
        }
        std::lock_guard lock(it.mu);
        it.client = client;
        it.session = session;
        // Which dev mode this is: one ended and started again is another session.
        const char *since = nh_session_since(session);
        it.spec["session_since"] = since ? since : "";
        it.last_sync = agent::now_rfc3339();  // the start returned once everything was acknowledged
        it.message.clear();
        return;
    }
    // A forward.
    std::vector<std::string> ports = s.value("ports", std::vector<std::string>{});
    std::vector<const char *> argv;
    for (auto &p : ports) {
        if (std::string why = agent::privileged_port_error(p); !why.empty()) {
            nh_client_free(client);
            throw nh::Error(NH_EINVAL, why);
        }
        argv.push_back(p.c_str());
    }
    argv.push_back(nullptr);
    const std::string target = s.value("target", ""), ns = s.value("namespace", "");
    nh_forward_options fo = NH_FORWARD_OPTIONS_INIT;
    fo.namespace_name = ns.empty() ? nullptr : ns.c_str();
    fo.cancel = it.cancel;
    fo.on_event = on_forward_event;
    fo.payload = &it;
    nh_forward *fwd = nullptr;
    if (int rc = nh_forward_start(&fwd, client, target.c_str(), argv.data(), &fo); rc != NH_OK) {
        std::string why = last_error();
        nh_client_free(client);
        throw nh::Error(rc, why);
    }
    // The ports it picked ("0:80") are kept, so that a restarted agent listens where this one did.
    for (size_t i = 0; i < ports.size(); ++i) {
        int local = 0;
        nh_forward_local_port_v2(&local, fwd, i);
        ports[i] = std::to_string(local) + ":" + std::to_string(remote_port_of(ports[i]));
    }
    std::lock_guard lock(it.mu);
    it.spec["ports"] = ports;
    it.client = client;
    it.fwd = fwd;
    it.state = "forwarding";
    it.message.clear();
    it.waiter = std::thread([&it, fwd] {
        int rc = nh_forward_wait(fwd, -1);
        if (rc == NH_ECANCELLED) return;
        std::lock_guard l(it.mu);
        it.state = "error";
        it.message = it.last_error = "forwarding ended: " + last_error();
        it.last_error_at = agent::now_rfc3339();
    });
}

// Stops what the item holds: the sync saves its index, the forward closes its ports.
void stop_item(Item &it) {
    it.stopping = true;
    nh_cancel_trigger(it.cancel);
    std::thread worker, waiter;
    {
        std::lock_guard lock(it.mu);
        worker = std::move(it.worker);
        waiter = std::move(it.waiter);
    }
    if (worker.joinable()) worker.join();
    if (waiter.joinable()) waiter.join();
    nh_session *session;
    nh_forward *fwd;
    nh_client *client;
    {
        std::lock_guard lock(it.mu);
        session = std::exchange(it.session, nullptr);
        fwd = std::exchange(it.fwd, nullptr);
        client = std::exchange(it.client, nullptr);
    }
    // Without the item's lock: these join threads whose events take it.
    nh_session_free(session);  // stops the sync, which saves its index
    nh_forward_free(fwd);
    nh_client_free(client);
}

// Marks a sync whose dev mode ended elsewhere: nothing of it runs any more (its loops are
// stopped, or never started), and its status says why until a caller stops it.
void mark_ended(Item &it, const std::string &why) {
    std::lock_guard lock(it.mu);
    it.ended = why;
    it.state = "ended";
    it.message = why + "; its sync stopped (stop " + it.id + " to forget it)";
}

json status_of(Item &it) {
    std::lock_guard lock(it.mu);
    const json &s = it.spec;
    json j = {{"id", it.id},
              {"type", it.type},
              {"since", it.since},
              {"namespace", s.value("namespace", "")},
              {"context", s.value("context", "")}};
    std::string state = it.state, message = it.message;
    if (it.type == "sync") {
        j["kind"] = s.value("kind", "");
        j["name"] = s.value("name", "");
        j["mode"] = s.value("mode", 0) == NH_DEV_MODE_DUPLICATE ? "duplicate" : "replace";
        j["developer"] = s.value("developer", "");
        j["local_dir"] = s.value("local_dir", "");
        nh_sync_status st = NH_SYNC_STATUS_INIT;
        nh_sync *sync = it.session ? nh_session_sync(it.session) : nullptr;
        if (sync && nh_sync_status_get(&st, sync) == NH_OK) {
            state = sync_state(st.state);
            nh_buf err = NH_BUF_INIT;
            std::string last;
            if (nh_sync_last_error(&err, sync) == NH_OK && err.ptr) last.assign(err.ptr, err.size);
            nh_buf_dispose(&err);
            if (state == "idle") message = std::to_string(st.files_synced) + " files synced; watching " + s.value("local_dir", "");
            else if (state == "syncing") message = "sending " + std::to_string(st.files_done) + " of " + std::to_string(st.files_total) + " files";
            else if (state == "disconnected" && !it.message.empty()) message = it.message;
            else if (!last.empty()) message = last;
        }
        j["files_done"] = st.files_done;
        j["files_total"] = st.files_total;
        j["bytes_done"] = st.bytes_done;
        j["bytes_total"] = st.bytes_total;
        j["out_of_sync"] = st.files_total >= st.files_done ? st.files_total - st.files_done : 0;
        j["files_synced"] = st.files_synced;
        j["file_errors"] = st.file_errors;
        j["conflicts"] = st.conflicts;
        j["reconnects"] = st.reconnects;
        j["error_code"] = st.error_code;
        j["last_sync"] = it.last_sync.empty() ? json() : json(it.last_sync);
    } else {
        j["target"] = s.value("target", "");
        json ports = json::array();
        std::vector<std::string> specs = s.value("ports", std::vector<std::string>{});
        for (size_t i = 0; i < specs.size(); ++i) {
            int local = 0;
            if (it.fwd) nh_forward_local_port_v2(&local, it.fwd, i);
            ports.push_back({{"spec", specs[i]}, {"local_port", local}, {"remote_port", remote_port_of(specs[i])}});
        }
        j["ports"] = ports;
        std::string pod;
        if (it.fwd) {
            nh_buf b = NH_BUF_INIT;
            if (nh_forward_pod(&b, it.fwd) == NH_OK && b.ptr) pod.assign(b.ptr, b.size);
            nh_buf_dispose(&b);
        }
        j["pod"] = pod;
        j["last_error"] = it.last_error;
        j["last_error_at"] = it.last_error_at.empty() ? json() : json(it.last_error_at);
    }
    j["state"] = state;
    j["message"] = message;
    return j;
}

json error_reply(int code, const std::string &message) { return {{"ok", false}, {"code", code}, {"message", message}}; }

class Agent {
public:
    explicit Agent(std::string dir) : dir_(std::move(dir)) {}
    ~Agent() { stop_watching(); }

    // Resumes what a previous agent held (it crashed or was killed): each item starts again on
    // a thread of its own, retrying while the cluster or the dev pod is not there.
    void restore() {
        std::ifstream f(agent::state_path(dir_));
        if (!f) return;
        json saved = json::parse(f, nullptr, false);
        if (!saved.is_object()) return;
        for (auto &p : saved.value("items", json::array())) {
            auto it = std::make_shared<Item>();
            it->id = p.value("id", "");
            it->type = p.value("type", "");
            it->spec = p.value("spec", json::object());
            it->since = p.value("since", agent::now_rfc3339());
            if (it->id.empty() || (it->type != "sync" && it->type != "forward")) continue;
            {
                std::lock_guard lock(mu_);  // a resumed item's worker may save already
                items_[it->id] = it;
            }
            if (std::string ended = p.value("ended", ""); !ended.empty()) {
                mark_ended(*it, ended);
                continue;
            }
            it->message = "resuming after the agent restarted";
            log_line("resuming " + it->id + " (" + it->type + ")");
            Item *raw = it.get();
            it->worker = std::thread([this, raw] {
                for (int attempt = 0; !raw->stopping; ++attempt) {
                    try {
                        start_item(*raw);
                        log_line("resumed " + raw->id);
                        return;
                    } catch (const std::exception &e) {
                        // Its dev mode ended while no agent ran: nothing to resume, ever.
                        if (std::string why = raw->type == "sync" ? dev_mode_gone(raw->spec, raw->cancel) : "";
                            !why.empty() && !raw->stopping) {
                            log_line(raw->id + ": " + why + "; not resuming it");
                            mark_ended(*raw, why);
                            save();
                            return;
                        }
                        std::lock_guard lock(raw->mu);
                        raw->state = raw->stopping ? "connecting" : "error";
                        raw->message = std::string("resuming failed (retrying): ") + e.what();
                        raw->last_error = raw->message;
                        raw->last_error_at = agent::now_rfc3339();
                    }
                    for (int i = 0; i < 50 && !raw->stopping; ++i) std::this_thread::sleep_for(100ms);
                }
            });
        }
    }

    json handle(const json &req) {
        const std::string op = req.value("op", "");
        if (op == "info")
            return ok({{"running", true},
                       {"pid", ::getpid()},
                       {"socket", agent::socket_path(dir_)},
                       {"version", nh_version(nullptr, nullptr, nullptr)},
                       {"items", count()}});
        if (op == "list") {
            json out = json::array();
            for (auto &it : snapshot()) out.push_back(status_of(*it));
            return ok(out);
        }
        if (op == "status") {
            auto it = find(req.value("id", ""));
            return it ? ok(status_of(*it)) : not_found(req);
        }
        if (op == "release") {
            if (auto it = find(req.value("id", ""))) {
                std::lock_guard lock(it->mu);
                if (!it->ended.empty())
                    return error_reply(NH_ESTATE, it->id + ": " + it->ended + "; there is no sync to take back (stop it)");
            }
        }
        if (op == "stop" || op == "release") {
            std::shared_ptr<Item> it;
            {
                std::lock_guard lock(mu_);
                auto i = items_.find(req.value("id", ""));
                if (i == items_.end()) return not_found(req);
                if (op == "release" && i->second->type != "sync")
                    return error_reply(NH_EINVAL, i->first + " is a port-forward; only syncs are re-attached (stop it instead)");
                it = i->second;
                items_.erase(i);
                save_locked();
            }
            stop_item(*it);
            log_line((op == "stop" ? "stopped " : "released ") + it->id);
            return ok(op == "stop" ? json{{"id", it->id}} : json{{"id", it->id}, {"spec", it->spec}});
        }
        if (op == "detach" || op == "forward") return take(op == "detach" ? "sync" : "forward", req.value("spec", json::object()));
        return error_reply(NH_EINVAL, "unknown request '" + op + "'");
    }

    size_t count() {
        std::lock_guard lock(mu_);
        return items_.size();
    }

    // Stops everything for an exit by signal; the state file stays, so the next agent resumes.
    void stop_all() {
        for (auto &it : snapshot()) stop_item(*it);
    }

    // Notices the syncs whose dev mode was ended elsewhere (another process's end, nhctl,
    // `kubectl` restoring the workload): a sync that is not connected asks the cluster every
    // NH_AGENT_CHECK_MS (3 s), a connected one every ten times that. One whose dev mode is over
    // stops its loops and says so in its status, instead of reconnecting to a dev pod that will
    // not come back.
    void watch_dev_modes() {
        long every_ms = 3000;
        if (const char *e = std::getenv("NH_AGENT_CHECK_MS"); e && std::atol(e) > 0) every_ms = std::atol(e);
        watcher_ = std::thread([this, every_ms] {
            std::map<std::string, int> skipped;
            while (!quit_) {
                for (long waited = 0; waited < every_ms && !quit_; waited += 100) std::this_thread::sleep_for(100ms);
                for (auto &it : snapshot()) {
                    if (quit_) return;
                    if (it->type != "sync" || it->stopping) continue;
                    bool connected;
                    json spec;
                    {
                        std::lock_guard lock(it->mu);
                        if (!it->session || !it->ended.empty()) continue;
                        nh_sync *sync = nh_session_sync(it->session);
                        nh_sync_status st = NH_SYNC_STATUS_INIT;
                        connected = sync && nh_sync_status_get(&st, sync) == NH_OK &&
                                    (st.state == NH_SYNC_IDLE || st.state == NH_SYNC_SYNCING || st.state == NH_SYNC_PAUSED);
                        spec = it->spec;
                    }
                    if (connected && ++skipped[it->id] < 10) continue;
                    skipped[it->id] = 0;
                    std::string why = dev_mode_gone(spec, it->cancel);
                    if (why.empty() || it->stopping) continue;
                    log_line(it->id + ": " + why + "; stopping its sync");
                    stop_item(*it);
                    mark_ended(*it, why);
                    save();
                }
            }
        });
    }

    // Before the library shuts down: the watcher calls it.
    void stop_watching() {
        quit_ = true;
        if (watcher_.joinable()) watcher_.join();
    }

private:
    static json ok(json result) { return {{"ok", true}, {"result", std::move(result)}}; }
    static json not_found(const json &req) {
        return error_reply(NH_ENOTFOUND, "the agent holds no item " + req.value("id", std::string("(none given)")));
    }

    void save() {
        std::lock_guard lock(mu_);
        save_locked();
    }

    std::shared_ptr<Item> find(const std::string &id) {
        std::lock_guard lock(mu_);
        auto i = items_.find(id);
        return i == items_.end() ? nullptr : i->second;
    }
    std::vector<std::shared_ptr<Item>> snapshot() {
        std::lock_guard lock(mu_);
        std::vector<std::shared_ptr<Item>> v;
        for (auto &[id, it] : items_) v.push_back(it);
        return v;
    }

    json take(const std::string &type, const json &spec) {
        auto it = std::make_shared<Item>();
        it->type = type;
        it->spec = spec;
        it->since = agent::now_rfc3339();
        it->id = (type == "sync" ? "s-" : "f-") + random_hex(8);
        if (type == "sync") {
            std::lock_guard lock(mu_);
            for (auto &[id, other] : items_) {
                const json &o = other->spec;
                if (other->type == "sync" && o.value("namespace", "") == spec.value("namespace", "") &&
                    o.value("kind", "") == spec.value("kind", "") && o.value("name", "") == spec.value("name", "") &&
                    o.value("mode", 0) == spec.value("mode", 0) && o.value("developer", "") == spec.value("developer", ""))
                    return error_reply(NH_EBUSY, "the agent already syncs " + spec.value("kind", std::string()) + "/" +
                                                     spec.value("name", std::string()) + " as " + id);
            }
        }
        try {
            start_item(*it);
        } catch (const std::exception &e) {
            stop_item(*it);
            log_line("could not take a " + type + ": " + e.what());
            auto *ne = dynamic_cast<const nh::Error *>(&e);
            return error_reply(ne ? ne->code() : NH_ERROR, e.what());
        }
        {
            std::lock_guard lock(mu_);
            items_[it->id] = it;
            save_locked();
        }
        log_line("holding " + it->id + " (" + type + " " +
                 (type == "sync" ? spec.value("kind", std::string()) + "/" + spec.value("name", std::string()) + " from " +
                                       spec.value("local_dir", std::string())
                                 : spec.value("target", std::string())) +
                 ")");
        return ok({{"id", it->id}});
    }

    // Writes what the agent holds, atomically, readable by this user only.
    void save_locked() {
        json items = json::array();
        for (auto &[id, it] : items_) {
            std::lock_guard lock(it->mu);
            items.push_back(it->persisted());
        }
        const std::string path = agent::state_path(dir_);
        if (items.empty()) {
            ::unlink(path.c_str());
            return;
        }
        const std::string tmp = path + ".tmp";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            log_line("cannot write " + tmp + ": " + std::strerror(errno));
            return;
        }
        const std::string data = json{{"items", items}}.dump();
        bool good = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!good || ::rename(tmp.c_str(), path.c_str()) != 0) log_line("cannot write " + path + ": " + std::strerror(errno));
    }

    std::string dir_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<Item>> items_;
    std::thread watcher_;
    std::atomic<bool> quit_{false};
};

void serve(Agent &agent, int fd) {
    uid_t peer = agent::peer_uid(fd);
    if (peer != ::geteuid()) {
        log_line("refused a connection of uid " + std::to_string(static_cast<long>(peer)));
        agent::write_message(fd, error_reply(NH_EFORBIDDEN, "this agent serves uid " + std::to_string(::geteuid()) +
                                                                " only, not uid " + std::to_string(static_cast<long>(peer))));
        return;
    }
    json req;
    std::string why;
    if (!agent::read_message(fd, req, 10000, &why)) return;
    json reply;
    try {
        reply = agent.handle(req);
    } catch (const std::exception &e) {
        reply = error_reply(NH_ERROR, std::string("internal error: ") + e.what());
    }
    agent::write_message(fd, reply);
}

int listen_on(const std::string &path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) throw nh::Error(NH_EINVAL, "socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::unlink(path.c_str());  // a dead agent's; the agent lock says none runs
    mode_t old = ::umask(0177);
    int rc = ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0 || ::listen(fd, 64) != 0) throw nh::Error(NH_EIO, "cannot listen on " + path + ": " + std::strerror(errno));
    return fd;
}

}  // namespace

int main(int argc, char **argv) {
    std::string dir_opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--dir" && i + 1 < argc) dir_opt = argv[++i];
        else if (a == "--version") {
            std::printf("nh-agent %s\n", nh_version(nullptr, nullptr, nullptr));
            return 0;
        } else {
            std::fprintf(stderr, "usage: nh-agent [--dir DIR]\n(started by libnocalhost on demand; see docs/agent.md)\n");
            return 2;
        }
    }
    long grace_ms = 5000;
    if (const char *g = std::getenv("NH_AGENT_GRACE_MS"); g && *g) grace_ms = std::atol(g);
    std::string dir;
    try {
        dir = agent::agent_dir(dir_opt);
    } catch (const nh::Error &e) {
        log_line(e.what());
        return 1;
    }
    // One agent per directory: the lock is held for the agent's life. A new agent started
    // while an old one exits waits for it.
    int lock = ::open(agent::lock_path(dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || !agent::lock_file(lock, 10000)) {
        log_line("another agent holds " + agent::lock_path(dir) + "; exiting");
        return 0;
    }
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_terminate = true; };
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    if (nh_init() < 1) {
        log_line("nh_init failed: " + last_error());
        return 1;
    }
    const std::string sock = agent::socket_path(dir);
    int lfd = -1;
    try {
        lfd = listen_on(sock);
    } catch (const nh::Error &e) {
        log_line(e.what());
        return 1;
    }
    Agent agent(dir);
    agent.restore();
    agent.watch_dev_modes();
    log_line("listening on " + sock + " (" + std::to_string(agent.count()) + " items resumed)");

    std::atomic<int> active{0};
    auto idle_since = std::chrono::steady_clock::now();
    while (!g_terminate) {
        pollfd p{lfd, POLLIN, 0};
        int r = ::poll(&p, 1, 200);
        if (r > 0) {
            int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (cfd >= 0) {
                ++active;
                std::thread([&agent, &active, cfd] {
                    serve(agent, cfd);
                    ::close(cfd);
                    --active;
                }).detach();
            }
        }
        if (agent.count() > 0 || active > 0) {
            idle_since = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - idle_since >= std::chrono::milliseconds(grace_ms)) {
            // Nothing held and nobody asking: stop listening first, so that a client arriving
            // now finds no socket and starts a new agent (which waits for this one's lock).
            ::close(lfd);
            ::unlink(sock.c_str());
            if (active == 0 && agent.count() == 0) {
                log_line("holding nothing; exiting");
                agent.stop_watching();
                nh_shutdown();
                return 0;
            }
            lfd = listen_on(sock);
        }
    }
    log_line("terminated by a signal; stopping every item (they resume with the next agent)");
    ::close(lfd);
    ::unlink(sock.c_str());
    agent.stop_watching();
    agent.stop_all();
    ::_exit(0);
}
