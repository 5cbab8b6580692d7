#include "sync/link_meter.hpp"

namespace nh::sync {

namespace {

// The figures at a level follow the data being sent: older bytes count half once this many
// went through it.
constexpr uint64_t kCodecMemory = 64u << 20;

}  // namespace

int LinkMeter::choose(int rung, std::optional<double> measured, bool starved, const Codecs &codecs,
                      const Carried &carried) {
    // Raw was tried and carried less than compressed (by the margin): raw stays out whatever
    // else says so (for good once a window that counts said so: Carried::raw_out).
    bool raw_lost = carried.raw_out ||
                    (carried.compressed && carried.raw && *carried.compressed >= *carried.raw * kRawMargin);
    if (carried.compressed && (carried.raw || *carried.compressed >= kTryRawAbove)) {
        // Compressed, the connection carried a lot: would it carry as much raw? Raw is tried
        // once; then the one that carried more (compressed by a margin: it costs CPU on both
        // ends).
        if (!raw_lost) return 0;
        if (rung <= 0) return 1;
    }
    if (!measured) {
        // The client is the limit on a link never measured: a cheaper level lets it go faster,
        // down to raw (the link will be measured then if it is slower than that), unless raw
        // was tried and carried less. Once the link was measured, the compressor's own figures
        // say whether it is the limit: a client starved by its reading of small files gains
        // nothing from a lower level.
        return starved && rung > (raw_lost ? 1 : 0) ? rung - 1 : std::max(rung, raw_lost ? 1 : 0);
    }
    double drain = *measured;
    if (rung <= 0) {
        double speed = codecs[1] ? codecs[1]->speed : kCompressBelow * kStartMargin;
        return raw_lost || drain * kStartMargin < speed ? 1 : 0;
    }
    const auto &c = codecs[static_cast<size_t>(rung)];
    if (!c) return rung;  // not measured at this level yet
    if (rung == 1) {
        if (c->speed < drain * kStopMargin && !raw_lost) return 0;
    } else {
        const auto &below = codecs[static_cast<size_t>(rung - 1)];
        if (c->speed / c->ratio < drain * kDownMargin) return rung - 1;
        if (below && c->ratio < below->ratio * kBetterRatio) return rung - 1;  // costs more, saves nothing
    }
    if (rung < kTop && c->speed / c->ratio > drain * kUpMargin) {
        // ... unless the level above was measured to shrink no more, or to fall behind the link.
        const auto &above = codecs[static_cast<size_t>(rung + 1)];
        if (!above || (above->ratio >= c->ratio * kBetterRatio && above->speed / above->ratio >= drain * kDownMargin))
            return rung + 1;
    }
    return rung;
}

bool LinkMeter::sample(Clock::time_point now, uint64_t written, long queued) {
    bool verdict = false;
    if (queued >= 0) {
        // Was the client the limit? Most of the bytes written went into an empty socket (the
        // few bytes of a handshake, written while the client waits for its answer, hardly count).
        uint64_t drained = written - static_cast<uint64_t>(queued);
        if (!sampled_) {
            // A window of the rung in use starts once its first byte went out: the bytes encoded
            // before it and still queued (in the socket, or written since) are not its own.
            if (drained >= rung_from_) {
                sampled_ = true;
                starve_start_ = now;
                starve_written_ = written;
                starve_drained_ = drained;
            }
        } else if (written > last_written_ && last_queued_ == 0) {
            into_empty_ += written - last_written_;
        }
        last_written_ = written;
        last_queued_ = queued;
        uint64_t total = written - starve_written_;
        double secs = std::chrono::duration<double>(now - starve_start_).count();
        if (trying_raw()) {
            // The try of raw: a short window tells a link that is the limit (it takes raw bytes
            // as slowly as compressed ones, each raw byte costing) from a receiver slow per
            // byte of the files (it takes raw ones as many times faster as they are larger).
            // Over raw bytes only, and while the socket never ran empty: raw bytes going into
            // an empty socket fill the buffers behind it (a proxy's, a port-forward's) at the
            // speed of memory, whatever the link.
            if (queued == 0 || drained < rung_from_) {
                try_open_ = false;
            } else if (!try_open_) {
                try_open_ = true;
                try_start_ = now;
                try_drained_ = drained;
            } else if (now - try_start_ >= kTryWindow && drained - try_drained_ >= kMinBytes) {
                carried_.raw = static_cast<double>(drained - try_drained_) /
                               std::chrono::duration<double>(now - try_start_).count();
                // A burst into the buffers behind the socket can only make raw look faster: a
                // try that lost is final, one that won waits for raw's steady windows.
                carried_.raw_out = *carried_.compressed >= *carried_.raw * kRawMargin;
                verdict = true;
            }
        }
        if (sampled_ && now - starve_start_ >= kWindow && total >= kStarveBytes) {
            // Two windows in a row: the first bytes of a connection fill the buffers of the
            // link's first hop (a proxy, a port-forward) whatever the link behind them.
            // ... and the compressor took a good part of the time: a client waiting for its
            // server (behind a tunnel whose relays take every byte at once) is not starved by
            // compressing, and raw bytes would only cost the relays more.
            // What the window carried, in bytes of the files a second: what the link took of
            // them (not what went into the socket's queue, which fills fast whatever the link).
            double took = static_cast<double>(drained - starve_drained_) / secs;
            bool steady = rung_windows_++ > 0;  // the first holds what buffers took at once
            if (rung_ == 0) {
                // Raw's steady figure; during the try, its verdict if the socket kept running
                // empty (relays that take every byte at once and cost the client's cores their
                // CPU: the client's own pace is what raw carries then).
                if (steady) {
                    carried_.raw = took;
                    if (carried_.compressed && *carried_.compressed >= took * kRawMargin) carried_.raw_out = true;
                    verdict = true;
                }
            } else if (auto c = rung_ > 0 ? codec(rung_) : std::nullopt) {
                carried_.compressed = took * c->ratio;
                verdict = true;
            }
            bool was = starved_;
            bool now_empty = into_empty_ * 2 >= total && compressing_ >= secs * kStarveBusy;
            starved_ = now_empty && last_window_empty_;
            last_window_empty_ = now_empty;
            starve_start_ = now;
            starve_written_ = written;
            starve_drained_ = drained;
            into_empty_ = 0;
            compressing_ = 0;
            verdict = verdict || starved_ || was;
        }
    }
    if (queued <= 0) {
        // Empty (the client was the limit, not the link) or unknown: no window spans this.
        open_ = false;
        return verdict;
    }
    uint64_t drained = written - static_cast<uint64_t>(queued);
    if (!open_) {
        open_ = true;
        start_ = now;
        drained_at_start_ = drained;
        return verdict;
    }
    auto took = now - start_;
    uint64_t bytes = drained - drained_at_start_;
    if (took < kWindow || bytes < kMinBytes) return verdict;
    rate_ = static_cast<double>(bytes) / std::chrono::duration<double>(took).count();
    starved_ = false;
    start_ = now;
    drained_at_start_ = drained;
    return true;
}

bool LinkMeter::compressed(int rung, uint64_t in, uint64_t out, Clock::duration took) {
    if (rung <= 0 || rung > kTop) return false;
    auto &s = sums_[static_cast<size_t>(rung)];
    compressing_ += std::chrono::duration<double>(took).count();
    s.in += in;
    s.out += out;
    s.seconds += std::chrono::duration<double>(took).count();
    if (s.in < s.next_report) return false;
    if (s.in > kCodecMemory) {
        s.in /= 2;
        s.out /= 2;
        s.seconds /= 2;
    }
    s.next_report = s.in + kMinCodecBytes;
    return true;
}

std::optional<LinkMeter::Codec> LinkMeter::codec(int rung) const {
    if (rung <= 0 || rung > kTop) return std::nullopt;
    const auto &s = sums_[static_cast<size_t>(rung)];
    if (s.in < kMinCodecBytes || s.out == 0 || s.seconds <= 0) return std::nullopt;
    return Codec{static_cast<double>(s.in) / s.seconds, static_cast<double>(s.in) / static_cast<double>(s.out)};
}

LinkMeter::Codecs LinkMeter::codecs() const {
    Codecs c;
    for (int r = 1; r <= kTop; ++r) c[static_cast<size_t>(r)] = codec(r);
    return c;
}


}  // namespace nh::sync
