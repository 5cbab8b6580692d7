#!/usr/bin/env python3
"""Sync benchmarks S1-S5 (docs: /work/shared/docs/BENCHMARKS.md, results in docs/benchmarks.md).

usage: bench/sync_bench.py --build BUILD_DIR [--files 20000] [--runs 3] [--only S1,S2,...] [--work DIR]

Needs BUILD_DIR configured with -DNOCALHOST_BUILD_BENCH=ON and built (nhsyncd, nh-sync-client).
Peers, side by side in the same run: rsync daemon on 127.0.0.1 (munge symlinks = no), tar|tar over
a TCP socket, syncthing (Debian package) configured like Nocalhost (send-only laptop folder,
receive-only container folder, 1 s watcher delay, no relays/discovery, loopback only).
Prints a Markdown table; every figure is the median of --runs runs.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request, json, re

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "..", "shared", "bench", "gen_tree.py")
TOKEN = "bench-token-0123456789abcdef"


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def ensure_tools():
    need = [t for t in ("rsync", "syncthing", "git") if not shutil.which(t)]
    if need:
        sh("apt-get install -y " + " ".join(need) + " >/dev/null")


def drop_caches(src):
    subprocess.run("sync; echo 1 > /proc/sys/vm/drop_caches", shell=True, stderr=subprocess.DEVNULL)
    sh(f"tar -cf - -C '{src}' . > /dev/null")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} not listening")


def rmtree(p):
    if os.path.exists(p):
        subprocess.run(["rm", "-rf", p])


def same_tree(a, b):
    r = subprocess.run(["diff", "-r", "--no-dereference", "-x", ".nocalhost-sync*", "-x", ".git", "-x", ".st*", a, b],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode == 0


class Ours:
    def __init__(self, build, work):
        self.syncd = os.path.join(build, "tools", "nhsyncd", "nhsyncd")
        self.client = os.path.join(build, "bench", "nh-sync-client")
        self.tokf = os.path.join(work, "token"); open(self.tokf, "w").write(TOKEN)
        self.work = work; self.proc = None

    def start_server(self, dst):
        self.port = free_port()
        self.proc = subprocess.Popen([self.syncd, "--root", dst, "--listen", f"127.0.0.1:{self.port}", "--token-file", self.tokf],
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop_server(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM); self.proc.wait(); self.proc = None

    def once(self, src, state):
        t = time.perf_counter()
        sh(f"'{self.client}' run '{src}' --to 127.0.0.1:{self.port} --token-file '{self.tokf}' --once --quiet --state-dir '{state}'")
        return time.perf_counter() - t

    def start_client(self, src, state):
        return subprocess.Popen([self.client, "run", src, "--to", f"127.0.0.1:{self.port}", "--token-file", self.tokf,
                                 "--quiet", "--state-dir", state], stderr=subprocess.DEVNULL)


class Rsyncd:
    def __init__(self, work, dst):
        self.port = free_port()
        conf = os.path.join(work, "rsyncd.conf")
        open(conf, "w").write(f"use chroot = no\nmunge symlinks = no\n[mod]\npath = {dst}\nread only = no\nuid = root\ngid = root\n")
        self.proc = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={self.port}", "--address=127.0.0.1"])
        wait_port(self.port)

    def run(self, src):
        t = time.perf_counter()
        sh(f"rsync -a --delete '{src}/' rsync://127.0.0.1:{self.port}/mod/ --exclude=.git")
        return time.perf_counter() - t

    def stop(self):
        self.proc.terminate(); self.proc.wait()


def tar_stream(src, dst):
    port = free_port()
    ready = os.path.join(tempfile.gettempdir(), f"nh-tar-ready-{port}")
    recv = subprocess.Popen(["python3", "-c", f"""
import socket,subprocess
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',{port}));s.listen(1)
open('{ready}','w').close()
c,_=s.accept();p=subprocess.Popen(['tar','-xf','-','-C','{dst}'],stdin=c.fileno());p.wait()
"""])
    # The receiver accepts exactly one connection: no probing; it says when it listens.
    end = time.time() + 30
    while not os.path.exists(ready) and time.time() < end:
        time.sleep(0.01)
    os.unlink(ready)
    t = time.perf_counter()
    sh(f"tar -cf - -C '{src}' --exclude=.git . | python3 -c \"import socket,sys,shutil;c=socket.create_connection(('127.0.0.1',{port}));shutil.copyfileobj(sys.stdin.buffer,c.makefile('wb'),1<<20)\"")
    recv.wait()
    return time.perf_counter() - t


def syncthing_config(path, ftype, me, oid, other, other_address, listen, gui, key):
    """config.xml of one device of the pair, as Nocalhost configures it (see Syncthing)."""
    return f"""<configuration version="35">
  <folder id="nh" label="nh" path="{path}" type="{ftype}" rescanIntervalS="300" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
    <device id="{me}"></device><device id="{oid}"></device>
    <minDiskFreePct>1</minDiskFreePct><order>random</order><maxConflicts>-1</maxConflicts><markerName>.stfolder</markerName>
  </folder>
  <device id="{me}" name="self" compression="metadata"><address>dynamic</address></device>
  <device id="{oid}" name="{other}" compression="metadata"><address>{other_address}</address></device>
  <gui enabled="true" tls="false"><address>{gui}</address><apikey>{key}</apikey></gui>
  <options><listenAddress>{listen}</listenAddress><globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled><relaysEnabled>false</relaysEnabled><natEnabled>false</natEnabled>
    <startBrowser>false</startBrowser><urAccepted>-1</urAccepted><autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <crashReportingEnabled>false</crashReportingEnabled></options>
</configuration>
"""


class Syncthing:
    """Two syncthing instances on loopback, configured as Nocalhost configures its pair: the laptop
    folder send-only, the container folder receive-only, fsWatcher on with a 1 s delay, no global
    discovery / relays / NAT / usage reporting, GUI on 127.0.0.1 with an API key."""

    def __init__(self, work):
        self.work = work; self.procs = []

    def _home(self, name):
        home = os.path.join(self.work, "st-" + name); os.makedirs(home, exist_ok=True)
        sh(f"syncthing -generate='{home}' >/dev/null 2>&1 || syncthing generate --home='{home}' >/dev/null 2>&1")
        out = subprocess.run(f"syncthing -home='{home}' -device-id 2>/dev/null || syncthing --home='{home}' --device-id", shell=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        return home, out

    def peer_address(self, name, port):
        return f"tcp://127.0.0.1:{port}"

    def start(self, src, dst):
        (h1, id1), (h2, id2) = self._home("laptop"), self._home("container")
        p1, p2, g1, g2 = free_port(), free_port(), free_port(), free_port()
        self.api = [("http://127.0.0.1:%d" % g1, "k1"), ("http://127.0.0.1:%d" % g2, "k2")]
        for home, me, other, oid, port, gport, key, path, ftype, other_port in (
                (h1, id1, "container", id2, p1, g1, "k1", src, "sendonly", p2),
                (h2, id2, "laptop", id1, p2, g2, "k2", dst, "receiveonly", p1)):
            open(os.path.join(home, "config.xml"), "w").write(syncthing_config(
                path, ftype, me, oid, other, self.peer_address(other, other_port), f"tcp://127.0.0.1:{port}",
                f"127.0.0.1:{gport}", key))
            os.makedirs(path, exist_ok=True); os.makedirs(os.path.join(path, ".stfolder"), exist_ok=True)
            self.procs.append(subprocess.Popen(f"exec syncthing -home='{home}' -no-browser -no-restart -logflags=0 >/dev/null 2>&1 || exec syncthing serve --home='{home}' --no-browser --no-restart >/dev/null 2>&1",
                                               shell=True, env=dict(os.environ, STNODEFAULTFOLDER="1")))

    def completion(self):
        url, key = self.api[1]
        req = urllib.request.Request(url + "/rest/db/status?folder=nh", headers={"X-API-Key": key})
        st = json.load(urllib.request.urlopen(req, timeout=2))
        url0, key0 = self.api[0]
        req0 = urllib.request.Request(url0 + "/rest/db/status?folder=nh", headers={"X-API-Key": key0})
        st0 = json.load(urllib.request.urlopen(req0, timeout=2))
        return st, st0

    def wait_synced(self, src, dst, timeout=300):
        end = time.time() + timeout
        while time.time() < end:
            try:
                st, st0 = self.completion()
                if st0.get("state") == "idle" and st.get("state") == "idle" and st.get("needFiles", 1) == 0 \
                        and st.get("globalFiles", 0) > 0 and st.get("localFiles") == st0.get("localFiles"):
                    return True
            except Exception:
                pass
            time.sleep(0.1)
        return False

    def rss_mb(self):
        out = []
        for p in self.procs:
            for c in subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split() + [str(p.pid)]:
                try:
                    for line in open(f"/proc/{c}/status"):
                        if line.startswith("VmRSS"): out.append(int(line.split()[1]) / 1024)
                except OSError:
                    pass
        return max(out) if out else 0

    def stop(self):
        for p in self.procs:
            subprocess.run(["pkill", "-TERM", "-P", str(p.pid)]); p.terminate(); p.wait()
        self.procs = []


def cpu_rss(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(f[11]) + int(f[12])
    rss = hwm = 0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"): rss = int(line.split()[1]) / 1024
        if line.startswith("VmHWM"): hwm = int(line.split()[1]) / 1024
    return ticks / os.sysconf("SC_CLK_TCK"), rss, hwm


def med(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True); ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3); ap.add_argument("--only", default="S1,S2,S3,S4,S5")
    ap.add_argument("--work", default=None); ap.add_argument("--s5-files", type=int, default=100000)
    ap.add_argument("--s5-idle", type=int, default=60); ap.add_argument("--no-syncthing", action="store_true")
    a = ap.parse_args()
    only = set(a.only.split(","))
    ensure_tools()
    work = a.work or tempfile.mkdtemp(prefix="nhsync-bench-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "src"); dst = os.path.join(work, "dst")
    if not os.path.isdir(src):
        sh(f"python3 '{GEN}' '{src}' --files {a.files} --seed 7")
    ours = Ours(a.build, work)
    rows = []

    def row(fig, what, ours_v, peer, peer_v, unit="s"):
        ratio = peer_v / ours_v if ours_v and peer_v == peer_v and ours_v == ours_v else float("nan")
        rows.append((fig, what, ours_v, peer, peer_v, ratio, unit))
        print(f"{fig} {what}: ours {ours_v:.3f}{unit}  {peer} {peer_v:.3f}{unit}  ({ratio:.2f}x)", file=sys.stderr, flush=True)

    if "S1" in only or "S2" in only:
        t_ours, t_rsync, t_tar, t_st, t_warm, t_rwarm, t_hot, t_rhot, t_client = [], [], [], [], [], [], [], [], []
        for r in range(a.runs):
            for d in (dst,):
                rmtree(d); os.makedirs(d)
            state = os.path.join(work, f"state{r}"); rmtree(state)
            drop_caches(src); ours.start_server(dst)
            t_ours.append(ours.once(src, state)); ours.stop_server()
            assert same_tree(src, dst), "ours: trees differ after S1"
            # S2: both restarted, destination intact, nothing changed; first with the page
            # cache dropped (binaries, indexes and the destination read from disk; the source
            # tree is read back by drop_caches), then again with everything cached.
            drop_caches(src); ours.start_server(dst)
            t_warm.append(ours.once(src, state)); ours.stop_server()
            ours.start_server(dst)
            t_hot.append(ours.once(src, state))
            # The client alone restarted, the server kept running (a laptop's client restarts
            # far more often than the pod's server).
            t_client.append(ours.once(src, state)); ours.stop_server()
            assert same_tree(src, dst), "ours: trees differ after S2"
            rmtree(dst); os.makedirs(dst)
            drop_caches(src); rs = Rsyncd(work, dst)
            t_rsync.append(rs.run(src)); drop_caches(src); t_rwarm.append(rs.run(src)); t_rhot.append(rs.run(src)); rs.stop()
            rmtree(dst); os.makedirs(dst)
            drop_caches(src); t_tar.append(tar_stream(src, dst))
            if not a.no_syncthing and r == 0:
                rmtree(dst); os.makedirs(dst)
                st = Syncthing(os.path.join(work, f"st{r}")); drop_caches(src)
                t = time.perf_counter(); st.start(src, dst)
                ok = st.wait_synced(src, dst, timeout=600)
                t_st.append(time.perf_counter() - t if ok else float("nan")); st.stop()
        if "S1" in only:
            row("S1", f"initial sync, {a.files} files", med(t_ours), "rsync daemon", med(t_rsync))
            row("S1", f"initial sync, {a.files} files", med(t_ours), "tar|tar TCP", med(t_tar))
            row("S1", f"initial sync, {a.files} files", med(t_ours), "syncthing", med(t_st))
        if "S2" in only:
            row("S2", "warm restart, nothing changed, page cache dropped", med(t_warm), "rsync re-run", med(t_rwarm))
            row("S2", "warm restart, nothing changed, page cache warm", med(t_hot), "rsync re-run", med(t_rhot))
            row("S2", "warm restart of the client alone, server kept running, page cache warm", med(t_client), "rsync re-run", med(t_rhot))

    if "S3" in only:
        rmtree(dst); os.makedirs(dst); state = os.path.join(work, "state-s3"); rmtree(state)
        ours.start_server(dst); ours.once(src, state)
        cl = ours.start_client(src, state); time.sleep(1.0)

        def latency(dst_root, n=50):
            lat = []
            for i in range(n):
                name = f"latency-{i}.txt"; data = (f"edit {i} " * 20)[:100]
                t = time.perf_counter()
                with open(os.path.join(src, name), "w") as f: f.write(data)
                p = os.path.join(dst_root, name)
                while True:
                    try:
                        if open(p).read() == data: break
                    except OSError:
                        pass
                    if time.perf_counter() - t > 10: break
                    time.sleep(0.0002)
                lat.append((time.perf_counter() - t) * 1000); time.sleep(0.05)
            for i in range(n):
                try: os.unlink(os.path.join(src, f"latency-{i}.txt"))
                except OSError: pass
            lat.sort(); return lat

        lo = latency(dst); cl.terminate(); cl.wait(); ours.stop_server()
        rows.append(("S3", "edit-to-visible p50/p90/max (ms)", f"{lo[len(lo)//2]:.1f} / {lo[int(len(lo)*0.9)]:.1f} / {lo[-1]:.1f}", "", "", "", ""))
        if not a.no_syncthing:
            d2 = os.path.join(work, "dst-st3"); rmtree(d2); os.makedirs(d2)
            st = Syncthing(os.path.join(work, "st-s3")); st.start(src, d2)
            if st.wait_synced(src, d2, timeout=600):
                time.sleep(2); ls = latency(d2, 20)
                rows[-1] = ("S3", "edit-to-visible p50/p90/max (ms)", rows[-1][2], "syncthing (20 edits)",
                            f"{ls[len(ls)//2]:.0f} / {ls[int(len(ls)*0.9)]:.0f} / {ls[-1]:.0f}", "", "")
            st.stop()
        print(rows[-1], file=sys.stderr)

    if "S4" in only:
        g = os.path.join(work, "git"); rmtree(g)
        sh(f"python3 '{GEN}' '{g}' --files {a.files} --seed 7 >/dev/null && cd '{g}' && git init -q -b main . && git add -A && "
           f"git -c user.email=b@b -c user.name=b commit -qm a && git checkout -qb other && git rm -rq . && "
           f"python3 '{GEN}' '{g}' --files {a.files} --seed 8 >/dev/null && git add -A && git -c user.email=b@b -c user.name=b commit -qm b && git checkout -q main")
        t_o, t_r = [], []
        for r in range(a.runs):
            d = os.path.join(work, "dst-s4"); rmtree(d); os.makedirs(d); state = os.path.join(work, f"state-s4-{r}"); rmtree(state)
            ours.start_server(d); ours.once(g, state)
            sh(f"cd '{g}' && git checkout -q other"); drop_caches(g)
            t_o.append(ours.once(g, state)); ours.stop_server()
            assert same_tree(g, d), "ours: trees differ after S4"
            sh(f"cd '{g}' && git checkout -q main")
            rmtree(d); os.makedirs(d); rs = Rsyncd(work, d); rs.run(g)
            sh(f"cd '{g}' && git checkout -q other"); drop_caches(g)
            t_r.append(rs.run(g)); rs.stop()
            sh(f"cd '{g}' && git checkout -q main")
        row("S4", "git checkout of another branch, then sync", med(t_o), "rsync re-run", med(t_r))

    if "S5" in only:
        big = os.path.join(work, "src100k")
        if not os.path.isdir(big):
            sh(f"python3 '{GEN}' '{big}' --files {a.s5_files} --seed 9 >/dev/null")
        d = os.path.join(work, "dst-s5"); rmtree(d); os.makedirs(d); state = os.path.join(work, "state-s5"); rmtree(state)
        ours.start_server(d); ours.once(big, state)
        cl = ours.start_client(big, state); time.sleep(5)
        c0, _, _ = cpu_rss(cl.pid); time.sleep(a.s5_idle); c1, rss, hwm = cpu_rss(cl.pid)
        cl.terminate(); cl.wait(); ours.stop_server()
        ours_cpu = (c1 - c0) / a.s5_idle * 100
        st_txt = "n/a"
        if not a.no_syncthing:
            d2 = os.path.join(work, "dst-st5"); rmtree(d2); os.makedirs(d2)
            st = Syncthing(os.path.join(work, "st-s5")); st.start(big, d2)
            if st.wait_synced(big, d2, timeout=1200):
                time.sleep(5)
                pids = [p.pid for p in st.procs]
                kids = [int(x) for p in pids for x in subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout.split()] or pids
                s0 = sum(cpu_rss(p)[0] for p in kids); time.sleep(a.s5_idle); s1 = sum(cpu_rss(p)[0] for p in kids)
                st_txt = f"{(s1 - s0) / a.s5_idle * 100:.2f}% CPU (both), {max(cpu_rss(p)[1] for p in kids):.0f} MB RSS (max)"
            st.stop()
        rows.append(("S5", f"idle {a.s5_idle}s watching {a.s5_files} files", f"{ours_cpu:.2f}% CPU, {rss:.0f} MB RSS (peak {hwm:.0f} MB)", "syncthing", st_txt, "", ""))
        print(rows[-1], file=sys.stderr)

    print("| # | figure | ours | peer | peer | peer ÷ ours |")
    print("|---|---|---|---|---|---|")
    for fig, what, o, peer, pv, ratio, unit in rows:
        fo = f"{o:.3f} s" if isinstance(o, float) else o
        fp = (f"{pv:.3f} s" if pv == pv else "n/a") if isinstance(pv, float) else pv
        fr = (f"{ratio:.2f}×" if ratio == ratio else "n/a") if isinstance(ratio, float) else ratio
        print(f"| {fig} | {what} | {fo} | {peer} | {fp} | {fr} |")


if __name__ == "__main__":
    main()
