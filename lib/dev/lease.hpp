// The dev-mode lock of one workload: a coordination.k8s.io/v1 Lease held
// while a start or an end runs. Its holder renews it; when a holder dies,
// the lease expires and the next client takes it over.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::dev {

// "user@host/pid": who holds a lock unless the caller names an owner.
std::string default_owner();

class LeaseLock {
public:
    LeaseLock(kube::Client &client, std::string ns, std::string name, std::string holder,
              std::chrono::seconds duration);
    // Stops renewing but never releases: a process that dies half-way leaves the
    // lease to expire, exactly as if it had been killed.
    ~LeaseLock();
    LeaseLock(const LeaseLock &) = delete;
    LeaseLock &operator=(const LeaseLock &) = delete;

    // Takes the lease. When someone else holds it and it has not expired, waits up
    // to `wait` for it to be released or to expire, then throws NH_EBUSY naming the
    // holder. `what` names the workload in messages.
    void acquire(const std::string &what, std::chrono::milliseconds wait, CancelToken *cancel);

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
