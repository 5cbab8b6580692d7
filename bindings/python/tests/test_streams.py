"""Interactive exec and port-forward against the real test cluster.

kwok runs exec'd commands on this machine (ClusterExec) and forwards a pod's
port 8080 to a loopback echo server of this test (ClusterPortForward). kwok
never delivers stdin EOF, so every command here ends on its own.
"""

import os
import socket
import threading

import pytest

import nocalhost
from nocalhost import ExecStream, ForwardEventType

from conftest import unique
from streams_env import EchoServer, wait_for


@pytest.fixture(scope="module")
def stream_ns(kubeconfig, tmp_path_factory):
    """A namespace with a Running pod "p1" whose execs run locally and whose port 8080 reaches an echo server."""
    name = f"nh-pystream-{os.getpid()}-{unique('x')[-4:]}"
    workdir = tmp_path_factory.mktemp("exec")
    echo = EchoServer()
    kwok = "/apis/kwok.x-k8s.io/v1alpha1"
    with nocalhost.Client(kubeconfig, timeout=15) as c:
        c.create("/api/v1/namespaces", {"metadata": {"name": name}})
        c.create(f"{kwok}/clusterexecs", {
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec", "metadata": {"name": name},
            "spec": {"selector": {"matchNamespaces": [name]}, "execs": [{"local": {"workDir": str(workdir)}}]},
        })
        c.create(f"{kwok}/clusterportforwards", {
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward", "metadata": {"name": name},
            "spec": {"selector": {"matchNamespaces": [name]},
                     "forwards": [{"ports": [8080], "target": {"address": "127.0.0.1", "port": echo.port}}]},
        })
        c.create(f"/api/v1/namespaces/{name}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "labels": {"app": "p1"}},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        })
        wait_for(lambda: c.get(f"/api/v1/namespaces/{name}/pods/p1").get("status", {}).get("phase") == "Running",
                 60, "pod p1 to run")
        yield name, echo
        c.delete(f"{kwok}/clusterexecs/{name}")
        c.delete(f"{kwok}/clusterportforwards/{name}")
        c.delete(f"/api/v1/namespaces/{name}")
    echo.close()


@pytest.fixture
def sclient(kubeconfig, stream_ns):
    with nocalhost.Client(kubeconfig, namespace=stream_ns[0], timeout=15) as c:
        yield c


def test_interactive_exec_writes_stdin_and_reads_output(sclient):
    script = 'read a; echo "got:$a"; read b; echo "err:$b" >&2; exit 0'
    with sclient.exec_start("pod/p1", ["sh", "-c", script], timeout=30) as proc:
        assert proc.pod == "p1"
        assert proc.protocol.endswith("channel.k8s.io")
        proc.write("hello\n")
        assert proc.read_until("got:hello\n", timeout=30) == b"got:hello\n"
        proc.write(b"bye\n")
        assert proc.wait(timeout=30) == 0
        rest = list(proc)
        assert b"".join(d for s, d in rest if s == ExecStream.STDERR) == b"err:bye\n"
        with pytest.raises(nocalhost.InvalidState):
            proc.write("too late\n")
    assert proc.closed
    with pytest.raises(nocalhost.InvalidState):
        proc.wait()


def test_interactive_exec_output_callback_and_binary_data(sclient):
    chunks = []
    payload = bytes(range(256)) * 4
    with sclient.exec_start("pod/p1", ["head", "-c", str(len(payload))], on_output=lambda s, d: chunks.append((s, d))) as proc:
        proc.write(payload[:100])
        proc.write(payload[100:])
        assert proc.wait(timeout=30) == 0
    assert b"".join(d for s, d in chunks if s == ExecStream.STDOUT) == payload


def test_interactive_exec_callback_that_raises_stops_the_command(sclient):
    def boom(stream, data):
        raise RuntimeError("stop here")

    with sclient.exec_start("pod/p1", ["sh", "-c", "read a; echo $a; sleep 2"], on_output=boom) as proc:
        proc.write("x\n")
        with pytest.raises(RuntimeError, match="stop here"):
            proc.wait(timeout=30)


def test_exec_wait_timeout_and_cancel_leave_the_command_running(sclient):
    with sclient.exec_start("pod/p1", ["head", "-c", "2"]) as proc:
        with pytest.raises(nocalhost.Timeout):
            proc.wait(timeout=0.2)
        cancel = nocalhost.Cancel()
        threading.Timer(0.2, cancel.trigger).start()
        with pytest.raises(nocalhost.Cancelled):
            proc.wait(cancel=cancel)
        proc.write("ok")
        assert proc.wait(timeout=30) == 0
        assert proc.read_until("ok", timeout=5) == b"ok"


def test_port_forward_to_a_local_server(sclient, stream_ns):
    events = []
    with sclient.port_forward("pod/p1", "0:8080", on_event=events.append) as fwd:
        assert fwd.local_port > 0 and fwd.local_ports == [fwd.local_port]
        assert fwd.pod == "p1"
        for i in range(3):
            with socket.create_connection(("127.0.0.1", fwd.local_port), timeout=10) as s:
                msg = f"ping {i}\n".encode() * 1000
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    data = s.recv(65536)
                    assert data, "connection closed early"
                    got += data
                assert got == msg
        with pytest.raises(nocalhost.Timeout):
            fwd.wait(timeout=0.1)
        wait_for(lambda: sum(e.type == ForwardEventType.CONNECTED for e in events) >= 3, 10, "3 CONNECTED events")
        assert all(e.pod == "p1" and e.remote_port == 8080 for e in events if e.type == ForwardEventType.CONNECTED)
    assert fwd.closed
    with pytest.raises(ConnectionError):
        socket.create_connection(("127.0.0.1", fwd.local_port), timeout=2).close()


def test_port_forward_bad_port_and_busy_port(sclient):
    with pytest.raises(nocalhost.InvalidArgument):
        sclient.port_forward("pod/p1", "not-a-port")
    with sclient.port_forward("pod/p1", ":8080") as fwd:
        with pytest.raises(nocalhost.Busy):
            sclient.port_forward("pod/p1", f"{fwd.local_port}:8080")


def test_reverse_forward_needs_dev_mode_and_valid_ports(sclient, stream_ns):
    # p1 is no workload in dev mode: the sidecar that would serve the listener is missing.
    with pytest.raises(nocalhost.InvalidState, match="not in dev mode"):
        sclient.reverse_forward("pod", "p1", "5678:5678", timeout=5)
    with pytest.raises(nocalhost.InvalidArgument, match="REMOTE:LOCAL"):
        sclient.reverse_forward("pod", "p1", "5678:x")
