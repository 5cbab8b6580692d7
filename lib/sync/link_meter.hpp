// How fast the connection takes what the sync client writes, measured from the sender's side,
// how fast the client compresses, and the choice of compression that follows from both
// (NH_SYNC_COMPRESS_AUTO, and the level under NH_SYNC_COMPRESS_ON).
//
// The address says nothing about the link: the real path connects to the loopback end of a
// port-forward, and what is behind it (the API server's tunnel, a distant cluster) is slow.
// What the sender can see is how fast its socket drains: the bytes handed to the socket minus
// those still queued in it. Measured over windows during which the socket never ran empty
// (the link, not the client, was the limit), that is the link's speed as far as this
// connection can use it, port-forward and tunnel included.
//
// The other half is the compressor: how many bytes a second it takes in at a level (its own
// time, on this machine under its present load) and how much smaller it makes them. The link
// drains while the client compresses the next block, so a level pays while what it puts out
// (speed ÷ ratio) outruns the link: the client climbs to the next level while the compressor
// leaves the link far behind and the next level is known to shrink the data more (or not known
// yet), and steps down when it no longer keeps ahead of the link. Compressing at all pays while
// the compressor takes in the bytes faster than the link takes raw ones (with margins).
// A link that never backs the socket up is never measured: there, a client that keeps finding
// its socket empty while busy compressing is its own limit and steps down, to raw (a server on
// loopback); one that waits for its server instead keeps compressing (the tunnel's relays).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace nh::sync {

class LinkMeter {
public:
    using Clock = std::chrono::steady_clock;
    // The rungs of the ladder: 0 is raw, then these zstd levels. Above 6 zstd gets slow (tens of
    // MB/s) and its tables large for the little it adds on source trees.
    static constexpr std::array<int, 4> kLevel{0, 1, 3, 6};
    static constexpr int kTop = static_cast<int>(kLevel.size()) - 1;
    // Bytes per second: before the compressor was ever measured, a raw link slower than this
    // is compressed. docs/benchmarks.md says how it was chosen.
    static constexpr double kCompressBelow = 64.0 * 1024 * 1024;
    // Compression starts when level 1 takes in bytes kStartMargin times faster than the link
    // drains raw ones, and stops when that falls under kStopMargin (between them: as it is).
    // The margins leave room for what the client does besides compressing (reading files) and
    // for a server decompressing on the same cores. Not more: where relays are the limit (the
    // API server's tunnel), every byte saved is their CPU saved.
    static constexpr double kStartMargin = 2.0, kStopMargin = 1.5;
    // A level climbs when its output outruns the link kUpMargin times (the next costs about
    // twice the CPU), and steps down under kDownMargin.
    static constexpr double kUpMargin = 3.0, kDownMargin = 1.25;
    // A level above another pays only if it shrinks the data this much more.
    static constexpr double kBetterRatio = 1.05;
    // The shortest busy window a rate is taken from.
    static constexpr std::chrono::milliseconds kWindow{100};
    // ... and the fewest bytes drained in it (a few frames say little).
    static constexpr uint64_t kMinBytes = 256 * 1024;
    // The fewest bytes compressed at a level before its speed and ratio count.
    static constexpr uint64_t kMinCodecBytes = 1u << 20;
    // The fewest bytes written in a window that says the client was the limit, and the least
    // share of the window's time it spent compressing.
    static constexpr uint64_t kStarveBytes = 4u << 20;
    static constexpr double kStarveBusy = 0.25;

    // A compressor's measured figures at one level.
    struct Codec {
        double speed = 0;  // bytes taken in per second of the compressor's time
        double ratio = 1;  // bytes taken in ÷ bytes put out
    };
    using Codecs = std::array<std::optional<Codec>, kLevel.size()>;

    // What the connection carried, in bytes of the files a second, the last time it was
    // measured raw and the last time it was measured compressed (the bytes the link took over a
    // window of at least kWindow and kStarveBytes written, times the ratio of the level then;
    // the first time raw, a window of kTryWindow). The drain alone cannot tell a link that is slow per byte on
    // the wire (a shaped link, the API server's relays: compressing pays) from a receiver that
    // is slow per byte of the files (a server on loopback writing them out: compressing only
    // costs CPU); trying both and comparing can.
    struct Carried {
        std::optional<double> raw, compressed;
        // Raw carried less than compressed (by kRawMargin) in a window that says so (the try's
        // or a steady one): it is not tried again, whatever compressed carries later (a client
        // limited by its own reading of small files carries little either way, and each return
        // to raw pays the relays for raw bytes until it is measured again).
        bool raw_out = false;
    };
    // A compressed connection carrying this much or more is tried raw once, and stays raw unless
    // compressed carried kRawMargin times more than raw.
    static constexpr double kTryRawAbove = kCompressBelow;
    static constexpr double kRawMargin = 1.2;
    // The try's verdict comes from the first window of raw bytes (counted from the first raw
    // byte the link took, not from the switch: the compressed bytes still queued then are not
    // raw's) during which the socket never ran empty, of at least this long and kMinBytes: on
    // a link that is the limit each raw byte
    // costs, and the two cases it tells apart differ by the compression ratio, far more than
    // such a window's noise. docs/benchmarks.md says how it was chosen.
    static constexpr std::chrono::milliseconds kTryWindow{25};
    // The try's verdict for raw holds only until raw is measured steadily: buffers behind the
    // socket (a port-forward's, the relays' behind it) take a burst of raw bytes at the speed of
    // memory when compressed bytes left them empty (the client, not the link, was the limit
    // then), not a steady stream. The first ordinary window of raw bytes holds that burst, so
    // raw's figure comes from the windows after it (kWindow and kStarveBytes each), and the
    // first of them in which raw carried less than compressed (by kRawMargin) ends raw for good.
    // A try whose socket keeps running empty (through the API server's tunnel the forwarder
    // takes every byte at once, and the relays' CPU, on the client's cores, slows the client)
    // never gets its short window: such a window, the second, is its verdict.

    // The rung to use next, from the one in use, the link's drain rate in bytes per second (on
    // the wire; none: never measured), whether the client rather than the link was the limit
    // lately (`starved`: the socket kept running empty; it counts only while the link was
    // never measured), what is known of each level (index: rung; [0] is unused) and what the
    // connection carried raw and compressed. Pure: the decision alone, for the tests.
    static int choose(int rung, std::optional<double> drain, bool starved, const Codecs &codecs,
                      const Carried &carried);
    static int choose(int rung, std::optional<double> drain, bool starved, const Codecs &codecs) {
        return choose(rung, drain, starved, codecs, Carried{});
    }

    // One observation of the socket: `written` bytes handed to it since the connection began,
    // `queued` of them not yet taken by the link (< 0: unknown on this platform). Call it
    // right before and right after each write. Returns true when it completed a window: a
    // rate, or a verdict that the client was the limit (starved()).
    bool sample(Clock::time_point now, uint64_t written, long queued);
    // The rung the bytes encoded from now on are at, the first of them being byte `from` of
    // the connection (what a measured window carried is credited to it, from when that byte
    // went out).
    void at(int rung, uint64_t from = 0) {
        if (rung != rung_) {
            sampled_ = try_open_ = false;  // a window carries the bytes of one rung
            rung_from_ = from;
            rung_windows_ = 0;
        }
        rung_ = rung;
    }
    Carried carried() const { return carried_; }
    // Raw is being tried (compressed carried figures, raw none yet): until its verdict the
    // client keeps as little raw queued as it can, as on a link that is the limit each raw
    // byte costs.
    bool trying_raw() const { return rung_ == 0 && carried_.compressed && !carried_.raw; }
    // `in` bytes compressed at `rung` into `out` in `took`. Returns true when the figures at that
    // rung changed enough to decide again (each kMinCodecBytes taken in).
    bool compressed(int rung, uint64_t in, uint64_t out, Clock::duration took);
    // A new connection: no window is open (the last rate and the compressor's figures are kept:
    // the link and the machine are the same).
    void restart() {
        open_ = try_open_ = false;
        rung_from_ = 0;
        sampled_ = last_window_empty_ = false;
        rung_windows_ = 0;
        into_empty_ = 0;
        compressing_ = 0;
    }
    // The last measured rate in bytes per second, if any.
    std::optional<double> rate() const { return rate_; }
    // Whether, since the last rate, at least half the bytes of each of the last two windows of
    // at least kWindow and kStarveBytes were written into an empty socket while the client spent
    // at least kStarveBusy of the time compressing: the client's compressor, not the link, was
    // the limit.
    bool starved() const { return starved_; }
    // The measured figures at `rung`, once kMinCodecBytes went through it.
    std::optional<Codec> codec(int rung) const;
    // The rung to use from `rung` on what was measured so far.
    int next(int rung) const { return choose(rung, rate_, starved_, codecs(), carried_); }
    // The rung to start a connection at: the last measurement's choice from raw; without one,
    // level 1 (a slow link then takes no raw bytes in bulk while it is measured; a fast one is
    // found out soon, the client starving at level 1, and goes raw).
    int start() const { return rate_ ? choose(0, rate_, false, codecs(), carried_) : 1; }

private:
    Codecs codecs() const;

    bool open_ = false;
    Clock::time_point start_{};
    uint64_t drained_at_start_ = 0;
    std::optional<double> rate_;
    int rung_ = -1;
    uint64_t rung_from_ = 0;  // the first byte of the connection encoded at rung_
    int rung_windows_ = 0;    // ordinary windows completed at rung_ since it was taken
    Carried carried_;
    bool starved_ = false;
    Clock::time_point starve_start_{};
    uint64_t starve_written_ = 0, starve_drained_ = 0;
    bool sampled_ = false, last_window_empty_ = false;
    bool try_open_ = false;  // a window of the raw try, the socket never empty since its start
    Clock::time_point try_start_{};
    uint64_t try_drained_ = 0;
    uint64_t last_written_ = 0, into_empty_ = 0;
    double compressing_ = 0;  // seconds spent compressing in the present window
    long last_queued_ = -1;
    struct Sums {
        uint64_t in = 0, out = 0;
        double seconds = 0;
        uint64_t next_report = kMinCodecBytes;
    };
    std::array<Sums, kLevel.size()> sums_{};
};

}  // namespace nh::sync
