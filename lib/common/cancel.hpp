// A cancellation token shared between a blocking call and the thread that
// wants to stop it. Waiters poll it (at most ~50 ms apart) or register a
// wake-up function that trigger() calls.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace nh {

class CancelToken {
public:
    using Waker = std::function<void()>;

    void trigger();
    bool triggered() const noexcept { return triggered_.load(std::memory_order_acquire); }
    void reset() { triggered_.store(false, std::memory_order_release); }

    // Calls `waker` on trigger (immediately if already triggered). Returns an id for remove_waker.
    int add_waker(Waker waker);
    void remove_waker(int id);

    // Sleeps up to `d`; returns true when cancelled meanwhile.
    bool sleep_for(std::chrono::milliseconds d);

    // Throws nh::Error(NH_ECANCELLED) once triggered.
    void check(const char *what = "operation") const;

private:
    std::atomic<bool> triggered_{false};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<int, Waker> wakers_;
    int next_id_ = 1;
};

// Sleeps `d`, ending early and throwing nh::Error(NH_ECANCELLED) ("<what> cancelled") when
// `token` is triggered; with a null token just sleeps.
void sleep_or_cancel(CancelToken *token, std::chrono::milliseconds d, const char *what);

// Registers a waker for the lifetime of the scope (no-op with a null token).
class CancelScope {
public:
    CancelScope(CancelToken *token, CancelToken::Waker waker)
        : token_(token), id_(token ? token->add_waker(std::move(waker)) : 0) {}
    ~CancelScope() {
        if (token_) token_->remove_waker(id_);
    }
    CancelScope(const CancelScope &) = delete;
    CancelScope &operator=(const CancelScope &) = delete;

private:
    CancelToken *token_;
    int id_;
};

inline bool cancelled(const CancelToken *t) { return t && t->triggered(); }

}  // namespace nh
