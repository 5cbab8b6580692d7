#include "common/cancel.hpp"

#include <thread>
#include <vector>

#include "common/error.hpp"

namespace nh {

void CancelToken::trigger() {
    std::vector<Waker> to_call;
    {
        std::lock_guard lock(mu_);
        if (triggered_.exchange(true, std::memory_order_acq_rel)) return;
        for (auto &[id, w] : wakers_) to_call.push_back(w);
    }
    cv_.notify_all();
    for (auto &w : to_call) w();
}

int CancelToken::add_waker(Waker waker) {
    std::unique_lock lock(mu_);
    int id = next_id_++;
    if (triggered()) {
        lock.unlock();
        waker();
        return id;
    }
    wakers_.emplace(id, std::move(waker));
    return id;
}

void CancelToken::remove_waker(int id) {
    std::lock_guard lock(mu_);
    wakers_.erase(id);
}

bool CancelToken::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return triggered(); });
}

void CancelToken::check(const char *what) const {
    if (triggered()) throw Error(NH_ECANCELLED, std::string(what) + " cancelled");
}

void sleep_or_cancel(CancelToken *token, std::chrono::milliseconds d, const char *what) {
    if (!token)
        std::this_thread::sleep_for(d);
    else if (token->sleep_for(d))
        token->check(what);
}

}  // namespace nh
