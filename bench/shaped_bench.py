#!/usr/bin/env python3
"""Sync over a shaped link: Toxiproxy between client and server, for every tool alike.

usage: bench/shaped_bench.py --build BUILD_DIR [--files 20000] [--profiles 100:20,20:80] [--runs 1]
                             [--only S1,S3,S4,CUT] [--compress auto|on|off|none] [--client CMD]
                             [--no-syncthing] [--st-timeout 900] [--work DIR] [--baseline CMD]

A profile is MBIT:RTT_MS: Toxiproxy's bandwidth toxic (both directions) and half the round trip
as a latency toxic on each direction; 0:0 is loopback without Toxiproxy. BUILD_DIR as for bench/sync_bench.py (nhsyncd,
nh-sync-client); Toxiproxy is built by bench/toxiproxy.sh into a cache outside the repository.
Peers over the same proxy: `rsync -az` to an rsync daemon, and syncthing configured as Nocalhost
configures it (both devices dial each other only through the proxy; S1, one run, and S3).
S1 initial sync of the tree; S3 edit-to-visible p50/p90 of 30 edits; S4 `git checkout` of another
branch, then sync; CUT: our continuous client while Toxiproxy drops every connection at random
moments and files are edited, then the trees must be equal (every edit arrived).
The trees are compared after every run; a difference stops the benchmark.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_bench as sb  # noqa: E402


class Toxiproxy:
    def __init__(self, work):
        binary = subprocess.run([os.path.join(sb.HERE, "toxiproxy.sh")], check=True, capture_output=True,
                                text=True).stdout.strip()
        self.api_port = sb.free_port()
        self.proc = subprocess.Popen([binary, "-host", "127.0.0.1", "-port", str(self.api_port)],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "toxiproxy.log"), "w"))
        sb.wait_port(self.api_port)
        self.url = f"http://127.0.0.1:{self.api_port}"

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        return urllib.request.urlopen(req, timeout=10).read()

    def link(self, name, upstream_port, mbit, rtt_ms):
        """A proxy 127.0.0.1:PORT -> 127.0.0.1:upstream_port shaped both ways; returns PORT.
        Profile 0:0 is no proxy at all (loopback, for the figures without a shaper)."""
        if not mbit:
            return upstream_port
        port = sb.free_port()
        try:
            self._call("DELETE", f"/proxies/{name}")
        except Exception:
            pass
        self._call("POST", "/proxies", {"name": name, "listen": f"127.0.0.1:{port}",
                                        "upstream": f"127.0.0.1:{upstream_port}", "enabled": True})
        # Toxics apply in the order they are added. The bandwidth toxic comes first: the latency
        # toxic queues up to 1024 chunks of up to 32 KiB, and in front it would take tens of MB
        # from the sender at once, where a real link holds its rate times its round trip.
        for stream in ("upstream", "downstream"):
            self._call("POST", f"/proxies/{name}/toxics", {"name": f"bw-{stream}", "type": "bandwidth", "stream": stream,
                                                           "attributes": {"rate": mbit * 1000 // 8}})
            self._call("POST", f"/proxies/{name}/toxics", {"name": f"lat-{stream}", "type": "latency", "stream": stream,
                                                           "attributes": {"latency": rtt_ms // 2, "jitter": 0}})
        return port

    def enable(self, name, on):
        self._call("POST", f"/proxies/{name}", {"enabled": on})

    def stop(self):
        self.proc.terminate(); self.proc.wait()


class OursShaped(sb.Ours):
    def __init__(self, build, work, compress, client):
        super().__init__(build, work)
        # --client "PATH/nh sync": another build's client (an older one: --compress none).
        self.cmd = client.split() if client else [self.client]
        self.flags = [] if compress == "none" else ["--compress", compress]

    def once_via(self, port, src, state, cmd=None):
        t = time.perf_counter()
        subprocess.run((cmd or self.cmd) + ["run", src, "--to", f"127.0.0.1:{port}", "--token-file", self.tokf, "--once", "--quiet",
                                   "--state-dir", state] + self.flags, check=True)
        return time.perf_counter() - t

    def client_via(self, port, src, state):
        return subprocess.Popen(self.cmd + ["run", src, "--to", f"127.0.0.1:{port}", "--token-file", self.tokf, "--quiet",
                                            "--state-dir", state] + self.flags, stderr=subprocess.DEVNULL)


def rsync_az(port, src):
    t = time.perf_counter()
    sb.sh(f"rsync -az --delete '{src}/' rsync://127.0.0.1:{port}/mod/ --exclude=.git")
    return time.perf_counter() - t


def latency(src, dst, n=30, gap=0.1):
    lat = []
    for i in range(n):
        name = f"shaped-latency-{i}.txt"; data = (f"edit {i} " * 20)[:100]
        t = time.perf_counter()
        with open(os.path.join(src, name), "w") as f:
            f.write(data)
        p = os.path.join(dst, name)
        while True:
            try:
                if open(p).read() == data:
                    break
            except OSError:
                pass
            if time.perf_counter() - t > 15:
                break
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t) * 1000); time.sleep(gap)
    for i in range(n):
        try:
            os.unlink(os.path.join(src, f"shaped-latency-{i}.txt"))
        except OSError:
            pass
    lat.sort()
    return lat


def pct(v, q):
    return v[min(len(v) - 1, int(len(v) * q))]


def fresh(p):
    for _ in range(5):  # a server just stopped may still be closing files in it
        sb.rmtree(p)
        if not os.path.exists(p):
            break
        time.sleep(0.5)
    os.makedirs(p)


def check(a, b, what):
    if not sb.same_tree(a, b):
        raise SystemExit(f"{what}: trees differ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True); ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--profiles", default="100:20,20:80"); ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", default="S1,S3,S4,CUT"); ap.add_argument("--compress", default="auto")
    ap.add_argument("--no-syncthing", action="store_true"); ap.add_argument("--work", default=None)
    ap.add_argument("--st-timeout", type=int, default=900, help="seconds syncthing may take for S1")
    ap.add_argument("--client", default=None, help='another client command, e.g. "OLD_BUILD/tools/nh/nh sync"')
    ap.add_argument("--baseline", default=None,
                    help='S1 only: a second client command (an older build) run as one more peer in the same run')
    a = ap.parse_args()
    only = set(a.only.split(","))
    sb.ensure_tools()
    work = a.work or tempfile.mkdtemp(prefix="nhsync-shaped-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "src"); dst = os.path.join(work, "dst")
    if not os.path.isdir(src):
        sb.sh(f"python3 '{sb.GEN}' '{src}' --files {a.files} --seed 7 >/dev/null")
    ours = OursShaped(a.build, work, a.compress, a.client)
    tp = Toxiproxy(work)
    rows = []

    def row(*r):
        rows.append(r); print(" ".join(str(x) for x in r), file=sys.stderr, flush=True)

    try:
        for prof in a.profiles.split(","):
            mbit, rtt = (int(x) for x in prof.split(":"))
            tag = f"{mbit} Mbit/s, {rtt} ms RTT" if mbit else "loopback, no shaper"
            if "S1" in only:
                t_o, t_r, t_b = [], [], []
                for r in range(a.runs):
                    fresh(dst); state = os.path.join(work, f"state-s1-{r}"); sb.rmtree(state)
                    sb.drop_caches(src); ours.start_server(dst); port = tp.link("ours", ours.port, mbit, rtt)
                    t_o.append(ours.once_via(port, src, state)); ours.stop_server(); check(src, dst, "ours S1")
                    if a.baseline:
                        fresh(dst); sb.rmtree(state)
                        sb.drop_caches(src); ours.start_server(dst); port = tp.link("ours", ours.port, mbit, rtt)
                        t_b.append(ours.once_via(port, src, state, a.baseline.split())); ours.stop_server()
                        check(src, dst, "baseline S1")
                    fresh(dst); rs = sb.Rsyncd(work, dst); port = tp.link("rsync", rs.port, mbit, rtt)
                    sb.drop_caches(src); t_r.append(rsync_az(port, src)); rs.stop(); check(src, dst, "rsync S1")
                row("S1", tag, f"{sb.med(t_o):.2f} s", "rsync -az", f"{sb.med(t_r):.2f} s", f"{sb.med(t_o) / sb.med(t_r):.2f}× rsync")
                if a.baseline:
                    row("S1", tag, f"{sb.med(t_o):.2f} s", "baseline client", f"{sb.med(t_b):.2f} s",
                        f"{sb.med(t_o) / sb.med(t_b):.2f}× baseline ({sb.med(t_b) / sb.med(t_r):.2f}× rsync)")
                if not a.no_syncthing:  # minutes per run: one run
                    fresh(dst); sb.drop_caches(src)
                    st = ShapedSyncthing(os.path.join(work, "st-s1"), tp, mbit, rtt)
                    t = time.perf_counter(); st.start(src, dst)
                    ok = st.wait_synced(src, dst, timeout=a.st_timeout); t_s = time.perf_counter() - t; st.stop()
                    if ok:
                        check(src, dst, "syncthing S1")
                    row("S1", tag, f"{sb.med(t_o):.2f} s", "syncthing (1 run)",
                        f"{t_s:.2f} s" if ok else f"not done in {a.st_timeout} s",
                        f"syncthing {t_s / sb.med(t_o):.1f}× ours (goal ≥ 10×)" if ok else f"≥ {a.st_timeout / sb.med(t_o):.1f}×")
            if "S3" in only:
                fresh(dst); state = os.path.join(work, "state-s3"); sb.rmtree(state)
                ours.start_server(dst); port = tp.link("ours", ours.port, mbit, rtt)
                ours.once_via(port, src, state)
                cl = ours.client_via(port, src, state); time.sleep(1.5)
                lo = latency(src, dst); cl.terminate(); cl.wait(); ours.stop_server()
                peer, pv = "", ""
                if not a.no_syncthing:
                    d2 = os.path.join(work, "dst-st3"); fresh(d2)
                    sb.sh(f"cp -a '{src}/.' '{d2}/'")  # S3 measures edits, not the initial sync
                    st = ShapedSyncthing(os.path.join(work, "st-s3"), tp, mbit, rtt); st.start(src, d2)
                    if st.wait_synced(src, d2, timeout=900):
                        time.sleep(2); ls = latency(src, d2, 10, 0.5)
                        peer, pv = "syncthing (10 edits)", f"{pct(ls, 0.5):.0f} / {pct(ls, 0.9):.0f} ms"
                    st.stop()
                row("S3", tag, f"{pct(lo, 0.5):.1f} / {pct(lo, 0.9):.1f} ms (p50/p90)", peer, pv,
                    f"goal p50 ≤ {rtt + 5} ms: {'met' if pct(lo, 0.5) <= rtt + 5 else 'not met'}")
            if "S4" in only:
                g = os.path.join(work, "git")
                if not os.path.isdir(g):
                    sb.sh(f"python3 '{sb.GEN}' '{g}' --files {a.files} --seed 7 >/dev/null && cd '{g}' && git init -q -b main . && "
                          f"git add -A && git -c user.email=b@b -c user.name=b commit -qm a && git checkout -qb other && git rm -rq . && "
                          f"python3 '{sb.GEN}' '{g}' --files {a.files} --seed 8 >/dev/null && git add -A && "
                          f"git -c user.email=b@b -c user.name=b commit -qm b && git checkout -q main")
                t_o, t_r = [], []
                for r in range(a.runs):
                    d = os.path.join(work, "dst-s4"); fresh(d); state = os.path.join(work, f"state-s4-{r}"); sb.rmtree(state)
                    ours.start_server(d); port = tp.link("ours", ours.port, mbit, rtt); ours.once_via(port, g, state)
                    sb.sh(f"cd '{g}' && git checkout -q other"); sb.drop_caches(g)
                    t_o.append(ours.once_via(port, g, state)); ours.stop_server(); check(g, d, "ours S4")
                    sb.sh(f"cd '{g}' && git checkout -q main")
                    fresh(d); rs = sb.Rsyncd(work, d); port = tp.link("rsync", rs.port, mbit, rtt); rsync_az(port, g)
                    sb.sh(f"cd '{g}' && git checkout -q other"); sb.drop_caches(g)
                    t_r.append(rsync_az(port, g)); rs.stop(); check(g, d, "rsync S4")
                    sb.sh(f"cd '{g}' && git checkout -q main")
                row("S4", tag, f"{sb.med(t_o):.2f} s", "rsync -az re-run", f"{sb.med(t_r):.2f} s",
                    f"{sb.med(t_o) / sb.med(t_r):.2f}× rsync")
            if "CUT" in only:
                fresh(dst); state = os.path.join(work, "state-cut"); sb.rmtree(state)
                ours.start_server(dst); port = tp.link("ours", ours.port, mbit, rtt)
                cl = ours.client_via(port, src, state)
                rng = random.Random(18); cuts = 0; edits = 0
                end = time.time() + 40
                while time.time() < end:
                    time.sleep(rng.uniform(0.2, 3.0))
                    tp.enable("ours", False); cuts += 1
                    for _ in range(rng.randint(1, 20)):
                        p = os.path.join(src, "cut-edits", f"e{rng.randint(0, 200)}.txt")
                        os.makedirs(os.path.dirname(p), exist_ok=True)
                        with open(p, "w") as f:
                            f.write(f"edit {edits}\n" * rng.randint(1, 2000))
                        edits += 1
                    time.sleep(rng.uniform(0.0, 1.0))
                    tp.enable("ours", True)
                # The running client alone must bring every edit over once the link is back.
                t = time.perf_counter()
                while not sb.same_tree(src, dst) and time.perf_counter() - t < 300:
                    time.sleep(1)
                cl.terminate(); cl.wait()
                ours.stop_server(); check(src, dst, "ours under cuts")
                sb.rmtree(os.path.join(src, "cut-edits"))
                row("CUT", tag, f"{cuts} cuts, {edits} edits: trees equal", "", "", "")
    finally:
        tp.stop()

    print("| # | link | ours | peer | peer | ours vs peer |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")


class ShapedSyncthing(sb.Syncthing):
    """The benchmark's syncthing pair, each device dialling the other only through the shaped link."""

    def __init__(self, work, tp, mbit, rtt):
        super().__init__(work)
        self.tp, self.mbit, self.rtt = tp, mbit, rtt

    def peer_address(self, name, port):
        return f"tcp://127.0.0.1:{self.tp.link('st-' + name, port, self.mbit, self.rtt)}"


if __name__ == "__main__":
    main()
