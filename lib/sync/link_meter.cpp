#include "sync/link_meter.hpp"

namespace nh::sync {

bool LinkMeter::sample(Clock::time_point now, uint64_t written, long queued) {
    if (queued <= 0) {
        // Empty (the client was the limit, not the link) or unknown: no window spans this.
        open_ = false;
        return false;
    }
    uint64_t drained = written - static_cast<uint64_t>(queued);
    if (!open_) {
        open_ = true;
        start_ = now;
        drained_at_start_ = drained;
        return false;
    }
    auto took = now - start_;
    uint64_t bytes = drained - drained_at_start_;
    if (took < kWindow || bytes < kMinBytes) return false;
    rate_ = static_cast<double>(bytes) / std::chrono::duration<double>(took).count();
    start_ = now;
    drained_at_start_ = drained;
    return true;
}

}  // namespace nh::sync
