#include "dev/lease.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cmath>

#include "common/log.hpp"
#include "dev/workload.hpp"
#include "platform/process.hpp"

namespace nh::dev {

namespace {

std::string hostname() {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0) return "unknown";
    return host;
}

}  // namespace

std::string default_identity() {
    std::string user;
    if (const char *u = std::getenv("USER"); u && *u) user = u;
    if (user.empty())
        if (const passwd *pw = getpwuid(getuid())) user = pw->pw_name;
    if (user.empty()) user = "uid" + std::to_string(getuid());
    return user + "@" + hostname();
}

std::string default_owner() { return default_identity() + "/" + std::to_string(getpid()); }

std::string this_process() {
    return json{{"host", hostname()},
                {"boot", platform::boot_id()},
                {"pidns", platform::pid_namespace()},
                {"pid", static_cast<long>(getpid())},
                {"start", platform::process_start(getpid())}}
        .dump();
}

std::string dead_holder(const json &lease) {
    const std::string text =
        lease.value("metadata", json::object()).value("annotations", json::object()).value(kHolderProcessAnnotation, "");
    if (text.empty()) return {};
    json p = json::parse(text, nullptr, false);
    if (!p.is_object()) return {};
    auto text_of = [&p](const char *key) { return p.contains(key) && p[key].is_string() ? p[key].get<std::string>() : ""; };
    json me = json::parse(this_process(), nullptr, false);
    const std::string boot = text_of("boot"), pidns = text_of("pidns"), start = text_of("start");
    const long pid = p.contains("pid") && p["pid"].is_number_integer() ? p["pid"].get<long>() : 0;
    // Another kernel (another host, or this one before a reboot), or a pid namespace of its own:
    // its pids mean nothing here.
    if (boot.empty() || pidns.empty() || pid <= 0 || boot != me.value("boot", "") || pidns != me.value("pidns", ""))
        return {};
    if (pid == static_cast<long>(getpid())) return {};
    const std::string now = platform::process_start(pid);
    const std::string where = "on this host (" + text_of("host") + ")";
    if (now.empty()) return "process " + std::to_string(pid) + " " + where + " no longer runs";
    if (now == "zombie") return "process " + std::to_string(pid) + " " + where + " has exited";
    if (!start.empty() && now != start)
        return "process " + std::to_string(pid) + " " + where + " no longer runs (its pid belongs to a newer process)";
    return {};
}

LeaseLock::LeaseLock(kube::Client &client, std::string ns, std::string name, std::string holder,
                     std::chrono::seconds duration)
    : client_(client), ns_(std::move(ns)), name_(std::move(name)), holder_(std::move(holder)),
      duration_(duration.count() > 0 ? duration : std::chrono::seconds(30)) {}

LeaseLock::~LeaseLock() { stop_renewing(); }

void LeaseLock::acquire(const std::string &what, std::chrono::milliseconds wait, CancelToken *cancel,
                        const std::function<void(const std::string &, bool)> &progress) {
    auto give_up = std::chrono::steady_clock::now() + wait;
    const std::string me = this_process();
    long last_told = -1;
    for (;;) {
        if (cancel) cancel->check("waiting for the dev-mode lock");
        std::string now = now_rfc3339(true);
        json mine = {{"apiVersion", "coordination.k8s.io/v1"},
                     {"kind", "Lease"},
                     {"metadata",
                      {{"name", name_},
                       {"namespace", ns_},
                       {"labels", {{kManagedByLabel, kManagedByValue}}},
                       {"annotations", {{"dev.nocalhost.io/workload", what}, {kHolderProcessAnnotation, me}}}}},
                     {"spec",
                      {{"holderIdentity", holder_},
                       {"leaseDurationSeconds", duration_.count()},
                       {"acquireTime", now},
                       {"renewTime", now},
                       {"leaseTransitions", 0}}}};
        try {
            json created = client_.create(lease_path(ns_), mine, cancel);
            std::lock_guard lock(mu_);
            lease_ = created;
            held_ = true;
            return;
        } catch (const Error &e) {
            if (e.code() != NH_EEXISTS) throw;
        }
        json cur;
        try {
            cur = client_.get(lease_path(ns_, name_), cancel);
        } catch (const Error &e) {
            if (e.code() == NH_ENOTFOUND) continue;  // released meanwhile
            throw;
        }
        const json spec = cur.value("spec", json::object());
        std::string holder = spec.value("holderIdentity", "");
        double renewed = parse_rfc3339(spec.value("renewTime", spec.value("acquireTime", "")));
        long dur = spec.value("leaseDurationSeconds", 0L);
        double left = renewed + static_cast<double>(dur) - now_seconds();
        const std::string dead = holder.empty() || holder == holder_ || left <= 0 ? std::string() : dead_holder(cur);
        if (holder.empty() || holder == holder_ || left <= 0 || !dead.empty()) {
            json next = cur;
            next["metadata"]["annotations"][kHolderProcessAnnotation] = me;
            next["spec"]["holderIdentity"] = holder_;
            next["spec"]["leaseDurationSeconds"] = duration_.count();
            next["spec"]["acquireTime"] = now;
            next["spec"]["renewTime"] = now;
            if (holder != holder_) next["spec"]["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
            try {
                json updated = client_.update(lease_path(ns_, name_), next, cancel);
                if (!dead.empty()) {
                    std::string msg = "took over the dev-mode lock of " + what + " at once from " + holder + ": " + dead;
                    log::info(msg);
                    if (progress) progress(msg, false);
                } else if (!holder.empty() && holder != holder_) {
                    log::info("took over the expired dev-mode lock of " + what + " from " + holder);
                }
                std::lock_guard lock(mu_);
                lease_ = updated;
                held_ = true;
                return;
            } catch (const Error &e) {
                if (e.code() != NH_ECONFLICT && e.code() != NH_ENOTFOUND) throw;
                continue;  // someone else moved first: look again
            }
        }
        const long left_s = static_cast<long>(std::ceil(left));
        if (std::chrono::steady_clock::now() >= give_up)
            throw Error(NH_EBUSY, what + " is locked by " + holder + " (a dev-mode start or end is in progress; " +
                                      "the lock expires in " + std::to_string(left_s) + "s unless renewed)");
        if (progress && left_s != last_told) {
            last_told = left_s;
            progress(what + " is locked by " + holder + " (a dev-mode start or end in progress): waiting; the lock " +
                         "expires in " + std::to_string(left_s) + "s unless renewed",
                     true);
        }
        auto pause = std::chrono::milliseconds(std::min<long>(500, static_cast<long>(left * 1000) + 50));
        if (cancel ? cancel->sleep_for(pause) : (std::this_thread::sleep_for(pause), false))
            cancel->check("waiting for the dev-mode lock");
    }
}

bool LeaseLock::renew_once() {
    json next;
    {
        std::lock_guard lock(mu_);
        next = lease_;
    }
    next["spec"]["renewTime"] = now_rfc3339(true);
    try {
        json updated = client_.update(lease_path(ns_, name_), next);
        std::lock_guard lock(mu_);
        lease_ = updated;
        return true;
    } catch (const Error &e) {
        if (e.code() == NH_ECONFLICT || e.code() == NH_ENOTFOUND) {
            try {
                json cur = client_.get(lease_path(ns_, name_));
                if (cur["spec"].value("holderIdentity", "") == holder_) {
                    std::lock_guard lock(mu_);
                    lease_ = cur;
                    return true;
                }
            } catch (const Error &) {
            }
            log::warn("lost the dev-mode lock " + name_ + " to another client");
            lost_ = true;
            return false;
        }
        log::warn("renewing the dev-mode lock " + name_ + " failed: " + e.what());
        return true;
    }
}

void LeaseLock::renew_loop() {
    auto period = std::chrono::duration_cast<std::chrono::milliseconds>(duration_) / 3;
    std::unique_lock lock(stop_mu_);
    while (!stop_) {
        if (stop_cv_.wait_for(lock, period, [this] { return stop_; })) break;
        lock.unlock();
        bool keep = renew_once();
        lock.lock();
        if (!keep) break;
    }
}

void LeaseLock::start_renewing() {
    if (renewer_.joinable() || !held_) return;
    {
        std::lock_guard lock(stop_mu_);
        stop_ = false;
    }
    renewer_ = std::thread([this] { renew_loop(); });
}

void LeaseLock::stop_renewing() {
    {
        std::lock_guard lock(stop_mu_);
        stop_ = true;
    }
    stop_cv_.notify_all();
    if (renewer_.joinable()) renewer_.join();
}

void LeaseLock::release() {
    stop_renewing();
    if (!held_) return;
    held_ = false;
    std::string uid;
    {
        std::lock_guard lock(mu_);
        uid = lease_["metadata"].value("uid", "");
    }
    try {
        json cur = client_.get(lease_path(ns_, name_));
        if (cur["spec"].value("holderIdentity", "") != holder_) return;
        kube::Request r;
        r.method = "DELETE";
        r.path = lease_path(ns_, name_);
        r.body = json{{"kind", "DeleteOptions"},
                      {"apiVersion", "v1"},
                      {"preconditions", {{"uid", cur["metadata"].value("uid", uid)},
                                         {"resourceVersion", cur["metadata"].value("resourceVersion", "")}}}}
                     .dump();
        client_.request(r);
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND && e.code() != NH_ECONFLICT)
            log::warn("releasing the dev-mode lock " + name_ + " failed: " + e.what());
    }
}

}  // namespace nh::dev
