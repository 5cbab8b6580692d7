#include "dev/lease.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cmath>

#include "common/log.hpp"
#include "dev/workload.hpp"

namespace nh::dev {

std::string default_owner() {
    std::string user;
    if (const char *u = std::getenv("USER"); u && *u) user = u;
    if (user.empty())
        if (const passwd *pw = getpwuid(getuid())) user = pw->pw_name;
    if (user.empty()) user = "uid" + std::to_string(getuid());
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    return user + "@" + host + "/" + std::to_string(getpid());
}

LeaseLock::LeaseLock(kube::Client &client, std::string ns, std::string name, std::string holder,
                     std::chrono::seconds duration)
    : client_(client), ns_(std::move(ns)), name_(std::move(name)), holder_(std::move(holder)),
      duration_(duration.count() > 0 ? duration : std::chrono::seconds(30)) {}

LeaseLock::~LeaseLock() { stop_renewing(); }

void LeaseLock::acquire(const std::string &what, std::chrono::milliseconds wait, CancelToken *cancel) {
    auto give_up = std::chrono::steady_clock::now() + wait;
    for (;;) {
        if (cancel) cancel->check("waiting for the dev-mode lock");
        std::string now = now_rfc3339(true);
        json mine = {{"apiVersion", "coordination.k8s.io/v1"},
                     {"kind", "Lease"},
                     {"metadata",
                      {{"name", name_},
                       {"namespace", ns_},
                       {"labels", {{kManagedByLabel, kManagedByValue}}},
                       {"annotations", {{"dev.nocalhost.io/workload", what}}}}},
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
        if (holder.empty() || holder == holder_ || left <= 0) {
            json next = cur;
            next["spec"]["holderIdentity"] = holder_;
            next["spec"]["leaseDurationSeconds"] = duration_.count();
            next["spec"]["acquireTime"] = now;
            next["spec"]["renewTime"] = now;
            if (holder != holder_) next["spec"]["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
            try {
                json updated = client_.update(lease_path(ns_, name_), next, cancel);
                if (!holder.empty() && holder != holder_)
                    log::info("took over the expired dev-mode lock of " + what + " from " + holder);
                std::lock_guard lock(mu_);
                lease_ = updated;
                held_ = true;
                return;
            } catch (const Error &e) {
                if (e.code() != NH_ECONFLICT && e.code() != NH_ENOTFOUND) throw;
                continue;  // someone else moved first: look again
            }
        }
        if (std::chrono::steady_clock::now() >= give_up)
            throw Error(NH_EBUSY, what + " is locked by " + holder + " (a dev-mode start or end is in progress; " +
                                      "the lock expires in " + std::to_string(static_cast<long>(std::ceil(left))) +
                                      "s unless renewed)");
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
