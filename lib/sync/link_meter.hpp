// How fast the connection takes what the sync client writes, measured from the sender's side,
// and the choice of compression that follows from it (NH_SYNC_COMPRESS_AUTO).
//
// The address says nothing about the link: the real path connects to the loopback end of a
// port-forward, and what is behind it (the API server's tunnel, a distant cluster) is slow.
// What the sender can see is how fast its socket drains: the bytes handed to the socket minus
// those still queued in it. Measured over windows during which the socket never ran empty
// (the link, not the client, was the limit), that is the link's speed as far as this
// connection can use it, port-forward and tunnel included. Below kCompressBelow, compressing
// (zstd level 1) costs less time than the bytes it saves; above it the link keeps up with the
// raw bytes and compressing would only cost CPU.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace nh::sync {

class LinkMeter {
public:
    using Clock = std::chrono::steady_clock;
    // Bytes per second. docs/benchmarks.md says how it was chosen.
    static constexpr double kCompressBelow = 64.0 * 1024 * 1024;
    // The shortest busy window a rate is taken from.
    static constexpr std::chrono::milliseconds kWindow{100};
    // ... and the fewest bytes drained in it (a few frames say little).
    static constexpr uint64_t kMinBytes = 256 * 1024;

    // One observation of the socket: `written` bytes handed to it since the connection began,
    // `queued` of them not yet taken by the link (< 0: unknown on this platform). Call it
    // right before and right after each write. Returns true when it completed a window.
    bool sample(Clock::time_point now, uint64_t written, long queued);
    // A new connection: no window is open (the last rate is kept: the link is the same).
    void restart() { open_ = false; }
    // The last measured rate in bytes per second, if any.
    std::optional<double> rate() const { return rate_; }
    // Whether compressing pays on this link: the last rate is below kCompressBelow; without a
    // measurement, `guess`.
    bool compress(bool guess) const { return rate_ ? *rate_ < kCompressBelow : guess; }

private:
    bool open_ = false;
    Clock::time_point start_{};
    uint64_t drained_at_start_ = 0;
    std::optional<double> rate_;
};

}  // namespace nh::sync
