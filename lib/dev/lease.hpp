// The dev-mode lock of one workload: a coordination.k8s.io/v1 Lease held
// while a start or an end runs. Its holder renews it; when a holder dies,
// the lease expires and the next client takes it over.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::dev {

// "user@host": $USER, else the account's name, else "uid<N>"; the default developer of
// duplicate mode, and the owner without its process.
std::string default_identity();

// "user@host/pid": who holds a lock unless the caller names an owner.
std::string default_owner();

// On the Lease: the process holding it, as JSON {"host","boot","pidns","pid","start"} (the
// kernel's boot id, the inode of its pid namespace and its start time in clock ticks since
// boot), so that a process on the same host can tell a holder that died from one that runs.
inline constexpr const char *kHolderProcessAnnotation = "dev.nocalhost.io/holder-process";

// The holder-process annotation of this process.
std::string this_process();

// Why the holder of `lease` is known to be gone: a process on this host (same kernel, same
// pid namespace) that no longer runs, or whose pid now belongs to a newer process. "" when it
// may be alive: it runs, runs elsewhere, or the lease does not say.
std::string dead_holder(const nlohmann::json &lease);

class LeaseLock {
public:
    LeaseLock(kube::Client &client, std::string ns, std::string name, std::string holder,
              std::chrono::seconds duration);
    // Stops renewing but never releases: a process that dies half-way leaves the
    // lease to expire, exactly as if it had been killed.
    ~LeaseLock();
    LeaseLock(const LeaseLock &) = delete;
    LeaseLock &operator=(const LeaseLock &) = delete;

    // Takes the lease. A holder that is a dead process on this host (dead_holder()) is taken
    // over at once. When someone else holds it and it has not expired, waits up to `wait` for
    // it to be released or to expire, then throws NH_EBUSY naming the holder. `what` names the
    // workload in messages. `progress`, when set, hears who holds the lock and, while waiting,
    // when it expires (about once a second; `waiting` true), and that a dead holder's lock was
    // taken over (`waiting` false).
    void acquire(const std::string &what, std::chrono::milliseconds wait, CancelToken *cancel,
                 const std::function<void(const std::string &message, bool waiting)> &progress = {});

    // Renews the lease in the background every third of its duration.
    void start_renewing();
    void stop_renewing();
    // True once a renewal found someone else holding the lease.
    bool lost() const { return lost_.load(); }

    // Deletes the lease if this lock still holds it. Errors are logged, not thrown.
    void release();

    bool held() const { return held_; }
    const std::string &holder() const { return holder_; }

private:
    void renew_loop();
    bool renew_once();

    kube::Client &client_;
    std::string ns_, name_, holder_;
    std::chrono::seconds duration_;
    bool held_ = false;
    std::mutex mu_;  // guards lease_
    nlohmann::json lease_;
    std::atomic<bool> lost_{false};
    std::thread renewer_;
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stop_ = false;
};

}  // namespace nh::dev
