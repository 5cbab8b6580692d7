#!/usr/bin/env python3
"""Sync through the API server's tunnel: the client here, the server in a pod on the test cluster's real node.

usage: bench/tunnel_bench.py --build BUILD_DIR [--files 20000] [--runs 1] [--only S1,S3]
                             [--peers tunnel,direct,rsync,syncthing] [--st-timeout 900] [--work DIR]
                             [--compress auto|on|off|none] [--client CMD]

BUILD_DIR as for bench/sync_bench.py (nh, nh-sync-client; -DNOCALHOST_BUILD_BENCH=ON). The cluster
is the one of NH_TEST_KUBECONFIG / NH_TEST_REAL_NODE / NH_TEST_REAL_TAINT / NH_TEST_IMAGE_SIDECAR /
NH_TEST_CONTAINERD_ADDRESS (else this tree's `scripts/test-cluster env`); it needs the real node.

Every peer writes into the same host directory, mounted into its pod (hostPath), so the trees are
compared here with `diff -r` after every run; a difference stops the benchmark.
  tunnel     our client (`nh sync run` on the C ABI) through `nh port-forward` (the library's
             port-forward: API server, kubelet streaming, containerd) to nhsyncd in a pod (the test
             sidecar image: the static nhsyncd the library runs in dev pods)
  direct     the same client to the same nhsyncd at the pod's IP (the node's pod bridge is
             reachable from here): what the tunnel costs
  rsync      `rsync -az` to an rsync daemon in a pod, through `kubectl port-forward`
  syncthing  syncthing configured as Nocalhost configures it, the container's device in a pod,
             the laptop's here dialling it through `kubectl port-forward`
The pod of rsync and syncthing runs an image made here from this machine's binaries (rsync,
syncthing and the libraries they load), written by scripts/images/oci-archive into a cache
outside the tree and imported into the real node's containerd.
S1 initial sync of the tree into an empty directory (the pod is created fresh for every run);
S3 edit-to-visible p50/p90 of 30 edits of 100 bytes (syncthing: 10).
"""
import argparse, hashlib, os, re, shutil, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_bench as sb  # noqa: E402
import shaped_bench as shb  # noqa: E402

ROOT = os.path.abspath(os.path.join(sb.HERE, ".."))
CACHE = os.environ.get("NH_BENCH_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nocalhost-bench")


def cluster_env():
    env = {k: v for k, v in os.environ.items() if k.startswith("NH_TEST_")}
    if "NH_TEST_KUBECONFIG" not in env:
        out = subprocess.run([os.path.join(ROOT, "scripts", "test-cluster"), "env"], capture_output=True, text=True).stdout
        env.update(re.findall(r"^export (NH_TEST_\w+)=(.*)$", out, re.M))
    for k in ("NH_TEST_KUBECONFIG", "NH_TEST_REAL_NODE", "NH_TEST_REAL_TAINT", "NH_TEST_IMAGE_SIDECAR",
              "NH_TEST_CONTAINERD_ADDRESS"):
        if not env.get(k):
            raise SystemExit(f"{k} is not set: the benchmark needs the test cluster with its real node "
                             "(scripts/test-cluster up --real-node; source <(scripts/test-cluster env))")
    return env


def peers_image(sock):
    """nh.test/nh-bench-peers:KEY: rsync and syncthing of this machine with the libraries they load."""
    bins = [shutil.which("rsync"), shutil.which("syncthing")]
    files = set(bins)
    for b in bins:
        out = subprocess.run(["ldd", b], capture_output=True, text=True).stdout
        files.update(m for m in re.findall(r"(/\S+) \(0x", out))
    files = sorted(os.path.realpath(f) if f.startswith("/lib64") else f for f in files)
    h = hashlib.sha256(open(os.path.join(ROOT, "scripts", "images", "oci-archive"), "rb").read())
    for f in files:
        h.update(f.encode()); h.update(open(f, "rb").read())
    ref = "nh.test/nh-bench-peers:" + h.hexdigest()[:16]
    have = subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "images", "ls", "-q"], capture_output=True,
                          text=True, check=True).stdout.split()
    if ref in have:
        return ref
    os.makedirs(CACHE, exist_ok=True)
    archive = os.path.join(CACHE, "bench-peers-" + ref.split(":")[1] + ".tar")
    if not os.path.exists(archive):
        tmp = tempfile.mkdtemp(dir=CACHE)
        root = os.path.join(tmp, "rootfs")
        for f in files + ["/lib64/ld-linux-x86-64.so.2"]:
            d = os.path.join(root, f.lstrip("/"))
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(f, d)  # follows symlinks: the loader's name is a file in the image
        os.makedirs(os.path.join(root, "etc")); os.makedirs(os.path.join(root, "tmp"), mode=0o1777)
        open(os.path.join(root, "etc", "passwd"), "w").write("root:x:0:0:root:/root:/bin/sh\n")
        open(os.path.join(root, "etc", "group"), "w").write("root:x:0:\n")
        subprocess.run([os.path.join(ROOT, "scripts", "images", "oci-archive"), root, archive + ".part", "--name", ref],
                       check=True, stdout=subprocess.DEVNULL)
        os.rename(archive + ".part", archive)
        sb.rmtree(tmp)
    subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "images", "import", archive], check=True,
                   stdout=subprocess.DEVNULL)
    return ref


class Cluster:
    """A namespace of the benchmark's own; pods on the real node with the host directories mounted."""

    def __init__(self, env, nh):
        self.env = env; self.nh = nh
        self.ns = f"nh-tunnelbench-{os.getpid()}"
        self.kc = ["kubectl", "--kubeconfig", env["NH_TEST_KUBECONFIG"]]
        subprocess.run(self.kc + ["create", "namespace", self.ns], check=True, stdout=subprocess.DEVNULL)

    def pod(self, name, image, args, mounts, env=()):
        """Create pod NAME (deleting an earlier one first), wait until it runs; its IP."""
        self.delete(name)
        taint = self.env["NH_TEST_REAL_TAINT"]
        vols = "".join(f"  - {{name: v{i}, hostPath: {{path: '{h}', type: Directory}}}}\n" for i, (h, _) in enumerate(mounts))
        vmounts = ", ".join(f"{{name: v{i}, mountPath: '{c}'}}" for i, (_, c) in enumerate(mounts))
        envs = ", ".join(f"{{name: {k}, value: '{v}'}}" for k, v in env)
        yaml = (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {self.ns}}}\nspec:\n"
                f"  nodeSelector: {{{taint}: \"true\"}}\n"
                f"  tolerations: [{{key: {taint}, operator: Exists, effect: NoSchedule}}]\n"
                f"  terminationGracePeriodSeconds: 1\n  volumes:\n{vols}"
                f"  containers:\n  - name: main\n    image: {image}\n    args: {list(args)!r}\n"
                f"    env: [{envs}]\n    volumeMounts: [{vmounts}]\n")
        subprocess.run(self.kc + ["apply", "-f", "-"], input=yaml, text=True, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(self.kc + ["-n", self.ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s"],
                       check=True, stdout=subprocess.DEVNULL)
        return subprocess.run(self.kc + ["-n", self.ns, "get", "pod", name, "-o", "jsonpath={.status.podIP}"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def delete(self, name):
        subprocess.run(self.kc + ["-n", self.ns, "delete", "pod", name, "--ignore-not-found", "--wait=true",
                                  "--grace-period=1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def forward(self, tool, pod, *ports):
        """A port-forward by `nh` or `kubectl` to POD's PORTS; (process, [local ports]). kubectl's
        is kept: started again on the same local ports whenever it ends (see KeptForward)."""
        if tool == "nh":
            cmd = [self.nh, "--kubeconfig", self.env["NH_TEST_KUBECONFIG"], "-n", self.ns, "port-forward", pod]
        else:
            cmd = self.kc + ["-n", self.ns, "port-forward", f"pod/{pod}"]
        p, local = self._forward(cmd, [f":{x}" for x in ports], ports, f"{tool} port-forward to {pod}")
        if tool == "kubectl":
            p = KeptForward(lambda: self._forward(cmd, [f"{l}:{x}" for l, x in zip(local, ports)], ports,
                                                  f"kubectl port-forward to {pod}")[0], p)
        return p, local

    @staticmethod
    def _forward(cmd, specs, ports, what):
        p = subprocess.Popen(cmd + specs, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # What it says about its connections (`nh port-forward`: "Handling connection ...", "error: ...").
        p.log = []
        p.log_reader = threading.Thread(target=lambda: p.log.extend(p.stderr), daemon=True)
        p.log_reader.start()
        local = {}
        end = time.time() + 30
        while len(local) < len(ports) and time.time() < end:
            line = p.stdout.readline()
            if not line:
                break
            m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
            if m:
                local[int(m.group(2))] = int(m.group(1))
        if len(local) < len(ports):
            p.kill(); p.wait()
            raise SystemExit(f"{what} did not start")
        threading.Thread(target=p.stdout.read, daemon=True).start()  # keep its pipe drained
        return p, [local[x] for x in ports]

    def close(self):
        subprocess.run(self.kc + ["delete", "namespace", self.ns, "--wait=false"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


PATH_PROCS = ("kube-apiserver", "kubelet", "containerd")


def path_cpu(extra=()):
    """CPU seconds so far of the processes a tunnel crosses on this machine (by name), and of EXTRA pids."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            comm = open(f"/proc/{d}/comm").read().strip()
            if comm in PATH_PROCS or int(d) in extra:
                key = comm if comm in PATH_PROCS else "nh port-forward"
                out[key] = out.get(key, 0) + sb.cpu_rss(int(d))[0]
        except (OSError, ValueError):
            pass
    return out


class KeptForward:
    """`kubectl port-forward` ends for good at the first error on any of its connections ("lost
    connection to pod"; seen here while syncthing's receiver scanned the tree): start it again on the
    same local ports, as a user would; syncthing redials by itself."""

    def __init__(self, restart, proc):
        self.restart, self.proc, self.done, self.restarts = restart, proc, False, 0
        threading.Thread(target=self._watch, daemon=True).start()

    @property
    def pid(self):
        return self.proc.pid

    def _watch(self):
        while True:
            self.proc.wait()
            if self.done:
                return
            self.restarts += 1
            print(f"kubectl port-forward ended; started again ({self.restarts})", file=sys.stderr, flush=True)
            try:
                self.proc = self.restart()
            except SystemExit:
                time.sleep(1)

    def terminate(self):
        self.done = True; self.proc.terminate()

    def wait(self):
        self.proc.wait()


def stop(p):
    p.terminate(); p.wait()


def empty(d):
    """Empty D but keep it: it is mounted into the pods."""
    os.makedirs(d, exist_ok=True)
    for n in os.listdir(d):
        p = os.path.join(d, n)
        sb.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)


class PodSyncthing(sb.Syncthing):
    """The pair of sync_bench.Syncthing, the container's device in a pod; the laptop's dials it through
    `kubectl port-forward`, and its REST API is read through the same forward."""

    def __init__(self, work, cluster, image, cfg):
        super().__init__(work)
        self.cluster, self.image, self.cfg = cluster, image, cfg

    def start(self, src, dst):
        (h1, id1) = self._home("laptop")
        h2 = os.path.join(self.cfg, "st"); sb.rmtree(h2); os.makedirs(h2)
        sb.sh(f"syncthing -generate='{h2}' >/dev/null 2>&1")
        id2 = subprocess.run(["syncthing", f"-home={h2}", "-device-id"], capture_output=True, text=True).stdout.strip()
        open(os.path.join(h2, "config.xml"), "w").write(sb.syncthing_config(
            "/data", "receiveonly", id2, id1, "laptop", "dynamic", "tcp://0.0.0.0:22000", "0.0.0.0:8384", "k2"))
        os.makedirs(os.path.join(dst, ".stfolder"), exist_ok=True)
        self.cluster.pod("syncthing", self.image, ["/usr/bin/syncthing", "-home=/cfg/st", "-no-browser", "-no-restart",
                                                   "-logflags=0"],
                         [(dst, "/data"), (self.cfg, "/cfg")], [("STNODEFAULTFOLDER", "1"), ("HOME", "/cfg")])
        self.fwd, (p_sync, p_gui) = self.cluster.forward("kubectl", "syncthing", 22000, 8384)
        g1, p1 = sb.free_port(), sb.free_port()
        open(os.path.join(h1, "config.xml"), "w").write(sb.syncthing_config(
            src, "sendonly", id1, id2, "container", f"tcp://127.0.0.1:{p_sync}", f"tcp://127.0.0.1:{p1}",
            f"127.0.0.1:{g1}", "k1"))
        os.makedirs(os.path.join(src, ".stfolder"), exist_ok=True)
        self.api = [(f"http://127.0.0.1:{g1}", "k1"), (f"http://127.0.0.1:{p_gui}", "k2")]
        self.procs.append(subprocess.Popen(f"exec syncthing -home='{h1}' -no-browser -no-restart -logflags=0 >/dev/null 2>&1",
                                           shell=True, env=dict(os.environ, STNODEFAULTFOLDER="1")))

    def stop(self):
        super().stop()
        stop(self.fwd); self.cluster.delete("syncthing")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True); ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=1); ap.add_argument("--only", default="S1,S3")
    ap.add_argument("--peers", default="tunnel,direct,rsync,syncthing")
    ap.add_argument("--st-timeout", type=int, default=900, help="seconds syncthing may take for S1")
    ap.add_argument("--work", default=None)
    ap.add_argument("--compress", default="auto", help="our client's --compress: auto|on|off (none: leave it out)")
    ap.add_argument("--client", default=None, help='another client command, e.g. "BUILD/tools/nh/nh sync"')
    a = ap.parse_args()
    only, peers = set(a.only.split(",")), a.peers.split(",")
    bad = set(peers) - {"tunnel", "direct", "rsync", "syncthing"}
    if bad or not peers:
        ap.error(f"unknown peer(s) {', '.join(sorted(bad))}: --peers takes tunnel,direct,rsync,syncthing")
    if only - {"S1", "S3"}:
        ap.error("--only takes S1,S3")
    nh = os.path.join(a.build, "tools", "nh", "nh")
    client = a.client.split() if a.client else [os.path.join(a.build, "bench", "nh-sync-client")]
    for f in (nh, client[0]) if {"tunnel", "direct"} & set(peers) else ():
        if not os.access(f, os.X_OK):
            raise SystemExit(f"{f} is missing: build the targets nh and nh-sync-client with -DNOCALHOST_BUILD_BENCH=ON")
    env = cluster_env()
    sb.ensure_tools()
    work = os.path.abspath(a.work or tempfile.mkdtemp(prefix="nhsync-tunnel-"))
    src, dst, cfg = (os.path.join(work, n) for n in ("src", "dst", "cfg"))
    if not os.path.isdir(src):
        sb.sh(f"python3 '{sb.GEN}' '{src}' --files {a.files} --seed 7 >/dev/null")
    os.makedirs(cfg, exist_ok=True)
    tokf = os.path.join(cfg, "token"); open(tokf, "w").write(sb.TOKEN)
    open(os.path.join(cfg, "rsyncd.conf"), "w").write(
        "use chroot = no\nmunge symlinks = no\n[mod]\npath = /data\nread only = no\nuid = root\ngid = root\n")
    image = peers_image(env["NH_TEST_CONTAINERD_ADDRESS"]) if {"rsync", "syncthing"} & set(peers) else None
    cl = Cluster(env, nh)
    results = {}
    cpu = {}  # peer -> [{process: CPU seconds during the run}]

    def syncd():
        empty(dst)
        return cl.pod("syncd", env["NH_TEST_IMAGE_SIDECAR"], ["--root", "/data", "--listen", "0.0.0.0:7710",
                                                             "--token-file", "/cfg/token"], [(dst, "/data"), (cfg, "/cfg")])

    def client_cmd(to, state, once):
        return client + ["run", src, "--to", to, "--token-file", tokf, "--quiet", "--state-dir", state] + \
            (["--once"] if once else []) + ([] if a.compress == "none" else ["--compress", a.compress])

    def route(peer):
        """The address of nhsyncd for PEER, and the forward to end afterwards (or None)."""
        ip = syncd()
        if peer == "direct":
            return f"{ip}:7710", None
        fwd, (port,) = cl.forward("nh", "syncd", 7710)
        return f"127.0.0.1:{port}", fwd

    def note(*r):
        print(" ".join(str(x) for x in r), file=sys.stderr, flush=True)

    try:
        if "S1" in only:
            for r in range(a.runs):
                for peer in peers:
                    if peer == "syncthing" and r > 0:
                        continue  # minutes per run: one run
                    state = os.path.join(work, f"state-{peer}-{r}"); sb.rmtree(state)
                    if peer in ("tunnel", "direct"):
                        to, fwd = route(peer)
                        sb.drop_caches(src)
                        pids = (fwd.pid,) if fwd else ()
                        c0 = path_cpu(pids); t = time.perf_counter()
                        r0 = os.times()
                        subprocess.run(client_cmd(to, state, True), check=True)
                        took = time.perf_counter() - t
                        c1 = path_cpu(pids); r1 = os.times()
                        c1["client"] = (r1.children_user + r1.children_system) - (r0.children_user + r0.children_system)
                        cpu.setdefault(peer, []).append({k: v - c0.get(k, 0) for k, v in c1.items()})
                        fwd and stop(fwd); cl.delete("syncd")
                        if fwd:
                            # A connection dropped in the tunnel shows as the client connecting again.
                            fwd.log_reader.join(5)
                            conns = sum("Handling connection" in x for x in fwd.log)
                            errors = [x.strip() for x in fwd.log if x.startswith("error")]
                            note("S1", peer, f"run {r + 1}: {conns} connection(s) through the forward, "
                                             f"{len(errors)} error(s)" + (f"; first: {errors[0]}" if errors else ""))
                    elif peer == "rsync":
                        empty(dst)
                        cl.pod("rsyncd", image, ["/usr/bin/rsync", "--daemon", "--no-detach", "--config=/cfg/rsyncd.conf",
                                                 "--port=873"], [(dst, "/data"), (cfg, "/cfg")])
                        fwd, (port,) = cl.forward("kubectl", "rsyncd", 873)
                        sb.drop_caches(src); took = shb.rsync_az(port, src)
                        stop(fwd); cl.delete("rsyncd")
                    else:
                        empty(dst); sb.drop_caches(src)
                        st = PodSyncthing(os.path.join(work, f"st-{r}"), cl, image, cfg)
                        t = time.perf_counter(); st.start(src, dst)
                        ok = st.wait_synced(src, dst, timeout=a.st_timeout)
                        took = time.perf_counter() - t if ok else float("nan")
                        st.stop()
                        if not ok:
                            note("S1", peer, f"not done in {a.st_timeout} s"); results.setdefault(("S1", peer), []).append(took)
                            continue
                    shb.check(src, dst, f"{peer} S1")
                    results.setdefault(("S1", peer), []).append(took)
                    note("S1", peer, f"run {r + 1}: {took:.2f} s")
        if "S3" in only:
            for peer in peers:
                if peer == "rsync":
                    continue  # no watcher: S3 is not a figure of rsync
                state = os.path.join(work, f"state-s3-{peer}"); sb.rmtree(state)
                if peer in ("tunnel", "direct"):
                    to, fwd = route(peer)
                    subprocess.run(client_cmd(to, state, True), check=True)
                    c = subprocess.Popen(client_cmd(to, state, False), stderr=subprocess.DEVNULL); time.sleep(1.5)
                    lat = shb.latency(src, dst); stop(c)
                    fwd and stop(fwd); cl.delete("syncd")
                else:
                    empty(dst); sb.sh(f"cp -a '{src}/.' '{dst}/'")  # S3 measures edits, not the initial sync
                    st = PodSyncthing(os.path.join(work, "st-s3"), cl, image, cfg); st.start(src, dst)
                    lat = None
                    if st.wait_synced(src, dst, timeout=a.st_timeout):
                        time.sleep(2); lat = shb.latency(src, dst, 10, 0.5)
                        end = time.time() + 60  # the edits' deletion, too, must arrive
                        while not sb.same_tree(src, dst) and time.time() < end:
                            time.sleep(0.5)
                    st.stop()
                    if lat is None:
                        note("S3", peer, "never in sync"); continue
                shb.check(src, dst, f"{peer} S3")
                results[("S3", peer)] = lat
                note("S3", peer, f"{shb.pct(lat, 0.5):.1f} / {shb.pct(lat, 0.9):.1f} ms")
    finally:
        cl.close()

    names = {"tunnel": "ours through `nh port-forward`", "direct": "ours to the pod IP (no tunnel)",
             "rsync": "`rsync -az` through `kubectl port-forward`", "syncthing": "syncthing through `kubectl port-forward`"}
    print("| # | peer | time | ours through the tunnel ÷ this |")
    print("|---|---|---|---|")
    base = sb.med(results.get(("S1", "tunnel"), []))
    for peer in peers:
        v = results.get(("S1", peer))
        if v is not None:
            m = sb.med(v)
            runs = f" ({len(v)} run{'s' if len(v) > 1 else ''})"
            print(f"| S1 | {names[peer]} | {m:.2f} s{runs} | {base / m:.2f} |" if m == m else f"| S1 | {names[peer]} | not done | — |")
    for peer in ("tunnel", "direct"):
        if cpu.get(peer):
            keys = sorted({k for run in cpu[peer] for k in run})
            parts = ", ".join(f"{k} {sb.med([run.get(k, 0) for run in cpu[peer]]):.2f} s" for k in keys)
            print(f"| S1 CPU | {names[peer]} | {parts} | — |")
    for peer in peers:
        v = results.get(("S3", peer))
        if v is not None:
            print(f"| S3 | {names[peer]} | p50 {shb.pct(v, 0.5):.1f} ms, p90 {shb.pct(v, 0.9):.1f} ms ({len(v)} edits) | "
                  f"{shb.pct(results[('S3', 'tunnel')], 0.5) / shb.pct(v, 0.5):.2f} at p50 |"
                  if ("S3", "tunnel") in results else f"| S3 | {names[peer]} | p50 {shb.pct(v, 0.5):.1f} ms | — |")


if __name__ == "__main__":
    main()
