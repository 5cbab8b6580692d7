#!/usr/bin/env python3
"""Cross-check `nh exec` and `nh port-forward` against the official Python
`kubernetes` client (which speaks the same WebSocket protocols) on one pod of
the test cluster. Exit 0 when the outputs match.

    source <(scripts/test-cluster env)
    tests/stream/crosscheck_python.py path/to/nh
"""
import os, socket, subprocess, sys, tempfile, time

from kubernetes import client, config
from kubernetes.stream import stream, portforward

nh = sys.argv[1]
kubeconfig = os.environ.get("NH_TEST_KUBECONFIG")
if not kubeconfig:
    sys.exit("NH_TEST_KUBECONFIG is not set: source <(scripts/test-cluster env)")
ns = "nh-xcheck-%d" % os.getpid()
workdir = tempfile.mkdtemp()
with open(os.path.join(workdir, "data.txt"), "w") as f:
    f.write("".join("line %d: %s\n" % (i, "x" * (i % 50)) for i in range(5000)))

# An echo server standing in for the pod's port 8080.
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
port = srv.getsockname()[1]
import threading
def serve():
    while True:
        c, _ = srv.accept()
        def echo(c):
            while True:
                d = c.recv(65536)
                if not d: break
                c.sendall(d)
            c.close()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()

yaml = f"""apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata: {{name: {ns}}}
spec:
  selector: {{matchNamespaces: [{ns}]}}
  execs: [{{local: {{workDir: {workdir}}}}}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata: {{name: {ns}}}
spec:
  selector: {{matchNamespaces: [{ns}]}}
  forwards: [{{ports: [8080], target: {{address: 127.0.0.1, port: {port}}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: p1, namespace: {ns}}}
spec:
  containers: [{{name: main, image: busybox}}]
"""
kc = ["kubectl", "--kubeconfig", kubeconfig]
subprocess.run(kc + ["apply", "-f", "-"], input=yaml.encode(), check=True, capture_output=True)
failures = 0
try:
    subprocess.run(kc + ["-n", ns, "wait", "--for=condition=Ready", "pod/p1", "--timeout=60s"], check=True,
                   capture_output=True)
    config.load_kube_config(config_file=kubeconfig)
    api = client.CoreV1Api()
    cmd = ["sh", "-c", "cat data.txt; echo to-stderr >&2"]
    py = stream(api.connect_get_namespaced_pod_exec, "p1", ns, command=cmd, container="main",
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    py_out, py_err = "", ""
    while py.is_open():
        py.update(timeout=1)
        py_out += py.read_stdout() if py.peek_stdout() else ""
        py_err += py.read_stderr() if py.peek_stderr() else ""
    ours = subprocess.run([nh, "--kubeconfig", kubeconfig, "-n", ns, "exec", "pod/p1", "--"] + cmd,
                          capture_output=True)
    if ours.stdout.decode() != py_out or ours.stderr.decode() != py_err:
        failures += 1
        print("exec output differs: ours %d/%d bytes, python %d/%d bytes" %
              (len(ours.stdout), len(ours.stderr), len(py_out), len(py_err)))
    else:
        print("exec: identical stdout (%d bytes) and stderr" % len(py_out))

    pf = portforward(api.connect_get_namespaced_pod_portforward, "p1", ns, ports="8080")
    s = pf.socket(8080); s.setblocking(True)
    msg = b"hello via python " * 1000
    s.sendall(msg); got = b""
    while len(got) < len(msg):
        got += s.recv(65536)
    s.close()
    proc = subprocess.Popen([nh, "--kubeconfig", kubeconfig, "-n", ns, "port-forward", "pod/p1", ":8080"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode()
    local = int(line.split("127.0.0.1:")[1].split()[0])
    c = socket.create_connection(("127.0.0.1", local)); c.sendall(msg); ours_got = b""
    while len(ours_got) < len(msg):
        ours_got += c.recv(65536)
    c.close(); proc.terminate(); proc.wait()
    if got != msg or ours_got != msg:
        failures += 1
        print("port-forward echo differs")
    else:
        print("port-forward: both echo %d bytes identically" % len(msg))
finally:
    subprocess.run(kc + ["delete", "namespace", ns, "--wait=false"], capture_output=True)
    subprocess.run(kc + ["delete", "clusterexec,clusterportforward", ns, "--wait=false"], capture_output=True)
sys.exit(1 if failures else 0)
