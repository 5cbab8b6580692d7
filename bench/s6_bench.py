#!/usr/bin/env python3
"""S6: a large file changed a little. Bytes on the wire and time, ours against rsync.

usage: bench/s6_bench.py --build BUILD_DIR [--client CMD] [--compress auto|on|off|none] [--work DIR]
                         [--big-mb 200] [--huge-mb 1024] [--runs N] [--threshold]

Case A: a BIG_MB file of random data is synced, then 1 MiB of it is rewritten in 4 places
(256 KiB each, spread over the file) and synced again. Case B: a HUGE_MB file is synced, then
64 KiB are appended and it is synced again. Each tool's second sync is timed and its bytes
counted both ways by a relay between client and server (loopback, unshaped); rsync runs to a
daemon through the same relay (delta transfer on, as between hosts), three times: `rsync -a
--inplace` (rewrites only the changed blocks of the file), `rsync -a` (rebuilds the file in a
temporary file and renames it over, as our server does) and `rsync -a --fsync` (the same, with
the new file on disk before rsync ends, as our server has it before it acknowledges). The trees
are compared after every run; with --runs N each figure is the median of N.

--threshold instead measures ours alone around the size from which files go by delta
(delta::kMinSize, 1 MiB): files of 1 MiB (whole) and 1 MiB + 4 KiB (delta), and 256 KiB and
4 MiB, each with 4 KiB rewritten in its middle; bytes on the wire and time (median of 5).
"""
import argparse, os, random, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_bench as sb  # noqa: E402


class CountingRelay:
    """127.0.0.1:port -> 127.0.0.1:target, counting the bytes each way."""

    def __init__(self, target):
        self.target = target; self.up = 0; self.down = 0
        self.ls = socket.socket(); self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0)); self.ls.listen(8); self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(c, u, "up"), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, "down"), daemon=True).start()

    def _pipe(self, a, b, way):
        try:
            while True:
                d = a.recv(1 << 16)
                if not d:
                    break
                b.sendall(d)
                setattr(self, way, getattr(self, way) + len(d))
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reset(self):
        self.up = self.down = 0

    def close(self):
        self.ls.close()


def write_random(path, mb, seed):
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(rng.randbytes(1 << 20))


def later_mtime(path):
    # rsync's quick check compares whole seconds (--modify-window 0): an edit in the same second
    # as the first sync would go unseen by it. Two seconds on, every tool sees the change.
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def change_in_place(path, seed):
    size = os.path.getsize(path); rng = random.Random(seed)
    with open(path, "r+b") as f:
        for k in range(4):
            f.seek(size * (2 * k + 1) // 8); f.write(rng.randbytes(256 << 10))
    later_mtime(path)


def append(path, seed):
    with open(path, "ab") as f:
        f.write(random.Random(seed).randbytes(64 << 10))
    later_mtime(path)


def median_run(runs):
    """The median of (time, bytes) runs, by time, with its own bytes."""
    return sorted(runs)[len(runs) // 2]


def threshold(a, cmd, flags, work):
    ours = sb.Ours(a.build, work)
    print("| file | goes | bytes on the wire | time (median of 5) |")
    print("|---|---|---|---|")
    for size in (256 << 10, 1 << 20, (1 << 20) + 4096, 4 << 20):
        src = os.path.join(work, "src"); dst = os.path.join(work, "dst"); state = os.path.join(work, "state")
        times, sent = [], 0
        for k in range(5):
            for d in (src, dst, state):
                sb.rmtree(d); os.makedirs(d)
            path = os.path.join(src, "f.bin")
            with open(path, "wb") as f:
                f.write(random.Random(k).randbytes(size))
            ours.start_server(dst); relay = CountingRelay(ours.port)
            run = cmd + ["run", src, "--to", f"127.0.0.1:{relay.port}", "--token-file", ours.tokf, "--once", "--quiet",
                         "--state-dir", state] + flags
            subprocess.run(run, check=True)
            with open(path, "r+b") as f:
                f.seek(size // 2); f.write(random.Random(100 + k).randbytes(4096))
            later_mtime(path); relay.reset()
            t = time.perf_counter(); subprocess.run(run, check=True); times.append(time.perf_counter() - t)
            sent = relay.up + relay.down; ours.stop_server(); relay.close()
            if not sb.same_tree(src, dst):
                raise SystemExit(f"ours: trees differ ({size} bytes)")
        goes = "delta" if size > (1 << 20) else "whole"
        print(f"| {size / 1024:.0f} KiB | {goes} | {sent / 1e3:.1f} kB | {sorted(times)[2] * 1e3:.0f} ms |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True); ap.add_argument("--work", default=None)
    ap.add_argument("--client", default=None); ap.add_argument("--compress", default="auto")
    ap.add_argument("--big-mb", type=int, default=200); ap.add_argument("--huge-mb", type=int, default=1024)
    ap.add_argument("--threshold", action="store_true")
    ap.add_argument("--runs", type=int, default=1, help="runs of each case; the table gives the median")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="nhsync-s6-")
    os.makedirs(work, exist_ok=True)
    cmd = a.client.split() if a.client else [os.path.join(a.build, "bench", "nh-sync-client")]
    flags = [] if a.compress == "none" else ["--compress", a.compress]
    if a.threshold:
        return threshold(a, cmd, flags, work)
    ours = sb.Ours(a.build, work)
    rows = []
    # rsync, from the same starting point: --inplace (rewrites the changed blocks only), its
    # default (rebuilds the file beside it and renames it over, as ours does), and that with
    # --fsync (the new file on disk before rsync ends, as ours has it before it acknowledges).
    rsyncs = ("--inplace", "", "--fsync")
    for case, mb, edit, changed in (("200 MB file, 1 MiB changed in 4 places", a.big_mb, change_in_place, 1 << 20),
                                     ("1 GB file, 64 KiB appended", a.huge_mb, append, 64 << 10)):
        if not mb:
            continue  # --big-mb 0 / --huge-mb 0: that case is left out
        src = os.path.join(work, "src"); dst = os.path.join(work, "dst")
        ours_runs, peer_runs = [], {f: [] for f in rsyncs}
        for _ in range(a.runs):
            for d in (src, dst):
                sb.rmtree(d); os.makedirs(d)
            write_random(os.path.join(src, "big.bin"), mb, 6)
            state = os.path.join(work, "state"); sb.rmtree(state)
            ours.start_server(dst); relay = CountingRelay(ours.port)
            run = cmd + ["run", src, "--to", f"127.0.0.1:{relay.port}", "--token-file", ours.tokf, "--once", "--quiet",
                         "--state-dir", state] + flags
            subprocess.run(run, check=True)
            edit(os.path.join(src, "big.bin"), 7); relay.reset(); sb.drop_caches(src)
            t = time.perf_counter(); subprocess.run(run, check=True)
            ours_runs.append((time.perf_counter() - t, relay.up + relay.down)); ours.stop_server(); relay.close()
            if not sb.same_tree(src, dst):
                raise SystemExit(f"ours: trees differ ({case})")
            for rflags in rsyncs:
                sb.rmtree(dst); os.makedirs(dst)
                rs = sb.Rsyncd(work, dst); relay = CountingRelay(rs.port)
                write_random(os.path.join(src, "big.bin"), mb, 6)
                rsync = f"rsync -a {rflags} '{src}/' rsync://127.0.0.1:{relay.port}/mod/ --exclude=.git"
                sb.sh(rsync)
                edit(os.path.join(src, "big.bin"), 7); relay.reset(); sb.drop_caches(src)
                t = time.perf_counter(); sb.sh(rsync)
                peer_runs[rflags].append((time.perf_counter() - t, relay.up + relay.down))
                rs.stop(); relay.close()
                if not sb.same_tree(src, dst):
                    raise SystemExit(f"rsync {rflags}: trees differ ({case})")
        rows.append((case, changed, median_run(ours_runs), [median_run(peer_runs[f]) for f in rsyncs]))
        print(rows[-1], file=sys.stderr, flush=True)
    n = f" (median of {a.runs})" if a.runs > 1 else ""
    print(f"| S6{n} | changed | ours: time, bytes on the wire | rsync --inplace: time, bytes | rsync (temp file): time, bytes "
          "| rsync --fsync (temp file): time, bytes | ours ÷ changed bytes | ours ÷ fastest rsync (time) |")
    print("|---|---|---|---|---|---|---|---|")
    for case, changed, (t_o, b_o), peers in rows:
        cells = " | ".join(f"{t:.2f} s, {b / 1e6:.2f} MB" for t, b in peers)
        print(f"| {case} | {changed / 1048576:.3g} MiB | {t_o:.2f} s, {b_o / 1e6:.2f} MB | {cells} | {b_o / changed:.2f}× | "
              f"{t_o / min(t for t, _ in peers):.2f}× |")


if __name__ == "__main__":
    main()
