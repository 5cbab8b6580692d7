"""Sync to a locally started nhsyncd, and a dev session's sync (the whole loop) on the test cluster.

kwok runs no containers, so the dev-loop test plays the kubelet for the sync
sidecar: it starts nhsyncd locally with the command and token the library
put into the pod spec, and a ClusterPortForward sends the pod's sync port to it.
"""

import base64
import os
import threading

import pytest

import nocalhost
from nocalhost import SyncEventType, SyncMode, SyncState

from conftest import unique
from streams_env import Nhsyncd, free_port, nhsyncd_path, wait_for

TOKEN = "py-test-token-0123456789"


@pytest.fixture
def dirs(tmp_path):
    src, root, state = tmp_path / "src", tmp_path / "root", tmp_path / "state"
    (src / "sub").mkdir(parents=True)
    (src / "hello.txt").write_text("hello v1\n")
    (src / "sub" / "data.bin").write_bytes(os.urandom(100_000))
    (src / "skip.log").write_text("ignored\n")
    return src, root, state


@pytest.fixture
def server(dirs):
    d = Nhsyncd(dirs[1], TOKEN)
    yield d
    d.close()


def test_sync_flush_status_pause_resume_stop(dirs, server):
    src, root, state = dirs
    events = []
    with nocalhost.start_sync(src, server.address, TOKEN, state_dir=state, ignore=["*.log"],
                              on_event=events.append) as sync:
        sync.flush(timeout=60)
        assert (root / "hello.txt").read_text() == "hello v1\n"
        assert (root / "sub" / "data.bin").read_bytes() == (src / "sub" / "data.bin").read_bytes()
        assert not (root / "skip.log").exists()
        status = sync.status()
        assert status.files_synced >= 2 and status.file_errors == 0 and status.error_code == 0
        assert status.state in (SyncState.IDLE, SyncState.SYNCING)
        assert sync.last_error == ""

        (src / "hello.txt").write_text("hello v2\n")
        sync.flush(timeout=60)
        assert (root / "hello.txt").read_text() == "hello v2\n"

        sync.pause()
        wait_for(lambda: sync.state == SyncState.PAUSED, 10, "PAUSED")
        (src / "later.txt").write_text("made while paused\n")
        sync.resume()
        sync.flush(timeout=60)
        assert (root / "later.txt").read_text() == "made while paused\n"

        sync.stop()
        assert sync.state == SyncState.STOPPED
        with pytest.raises(nocalhost.InvalidState):
            sync.flush(timeout=5)
    assert sync.closed
    with pytest.raises(nocalhost.InvalidState):
        sync.status()
    types = {e.type for e in events}
    assert SyncEventType.STATE in types
    assert any(e.status and e.status.state == SyncState.IDLE for e in events if e.type == SyncEventType.STATE)


def test_sync_event_iterator_and_two_way(dirs, server):
    src, root, state = dirs
    with nocalhost.start_sync(src, server.address, TOKEN, state_dir=state, mode=SyncMode.TWO_WAY, events=True) as sync:
        sync.flush(timeout=60)
        states = [e.status.state for e in sync.events(timeout=0.5) if e.type == SyncEventType.STATE and e.status]
        assert SyncState.IDLE in states or sync.state == SyncState.IDLE


def test_sync_two_way_delete_protection_keeps_the_local_file_and_sends_it_back(dirs, server):
    src, root, state = dirs
    events = []
    with nocalhost.start_sync(src, server.address, TOKEN, state_dir=state, mode=SyncMode.TWO_WAY,
                              delete_protection=True, on_event=events.append) as sync:
        sync.flush(timeout=60)
        assert (root / "hello.txt").read_text() == "hello v1\n"
        (root / "hello.txt").unlink()  # deleted on the server side
        wait_for(lambda: (root / "hello.txt").exists(), 10, "the local copy sent back to the server")
        assert (root / "hello.txt").read_text() == "hello v1\n"
        assert (src / "hello.txt").read_text() == "hello v1\n"
        wait_for(lambda: any(e.type == SyncEventType.REMOTE_CHANGE and "delete protection" in e.message
                             for e in list(events)), 10, "the delete-protection event")
        assert any(e.path == "hello.txt" for e in events if e.type == SyncEventType.REMOTE_CHANGE)


def inotify_watches():
    """The inotify watches this process holds (every "inotify wd:" line of /proc/self/fdinfo)."""
    n = 0
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                n += sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            pass  # closed meanwhile
    return n


def test_sync_once_syncs_the_tree_and_watches_nothing(dirs, server):
    src, root, state = dirs
    before = inotify_watches()
    with nocalhost.start_sync(src, server.address, TOKEN, state_dir=state, once=True) as sync:
        sync.flush(timeout=60)
        assert (root / "hello.txt").read_text() == "hello v1\n"
        assert inotify_watches() == before
    with nocalhost.start_sync(src, server.address, TOKEN, state_dir=state) as sync:
        sync.flush(timeout=60)
        assert inotify_watches() >= before + 2  # src and src/sub


def test_sync_wrong_token_raises_unauthorized(dirs, server):
    src, _, state = dirs
    with nocalhost.start_sync(src, server.address, "wrong-token", state_dir=state) as sync:
        with pytest.raises(nocalhost.Unauthorized):
            sync.flush(timeout=30)
        assert sync.state == SyncState.ERROR
        assert sync.last_error


def test_sync_bad_arguments(tmp_path):
    with pytest.raises(nocalhost.LocalIOError):
        nocalhost.start_sync(tmp_path / "missing", "127.0.0.1:1", TOKEN)
    with pytest.raises(nocalhost.InvalidArgument):
        nocalhost.start_sync(tmp_path, "no-port", TOKEN)


@pytest.fixture
def loop_ns(kubeconfig, tmp_path):
    """A namespace whose pods' sync port 7710 reaches a local port, and a Deployment "web"."""
    nhsyncd_path()
    name = f"nh-pyloop-{os.getpid()}-{unique('x')[-4:]}"
    port = free_port()
    kwok = "/apis/kwok.x-k8s.io/v1alpha1"
    with nocalhost.Client(kubeconfig, timeout=15) as c:
        c.create("/api/v1/namespaces", {"metadata": {"name": name}})
        c.create(f"{kwok}/clusterportforwards", {
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward", "metadata": {"name": name},
            "spec": {"selector": {"matchNamespaces": [name]},
                     "forwards": [{"ports": [7710], "target": {"address": "127.0.0.1", "port": port}}]},
        })
        c.create(f"/apis/apps/v1/namespaces/{name}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"terminationGracePeriodSeconds": 0,
                                           "containers": [{"name": "app", "image": "registry.example/web:1"}]}}},
        })
        yield name, port
        c.delete(f"{kwok}/clusterportforwards/{name}")
        c.delete(f"/api/v1/namespaces/{name}")


def start_sidecar(client, ns, port, root):
    """Plays the kubelet for the sync sidecar: nhsyncd with the spec's command and the Secret's token."""
    def sidecar():
        d = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
        return next((c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "nh-sync"), None)

    spec = wait_for(sidecar, 60, "the dev spec's sync sidecar")
    argv = list(spec.get("command", [])) + list(spec.get("args", []))
    assert argv[0] == "nhsyncd"
    argv[0] = nhsyncd_path()
    for i, a in enumerate(argv[:-1]):
        if a == "--root":
            argv[i + 1] = str(root)
        if a == "--listen":
            argv[i + 1] = f"127.0.0.1:{port}"
        if a == "--state-dir":
            argv[i + 1] = str(root) + ".state"
    env = dict(os.environ)
    for e in spec.get("env", []):
        ref = e["valueFrom"]["secretKeyRef"]
        secret = client.get(f"/api/v1/namespaces/{ns}/secrets/{ref['name']}")
        env[e["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return Nhsyncd(root, "", port=port, argv=argv, env=env)


def test_dev_start_with_local_dir_syncs_and_session_owns_the_sync(kubeconfig, loop_ns, dirs):
    ns, port = loop_ns
    src, root, state = dirs
    with nocalhost.Client(kubeconfig, namespace=ns, timeout=15) as client:
        result = {}
        phases = []

        def start():
            try:
                result["session"] = client.dev_start(
                    "deployment", "web", image="registry.example/dev:1", timeout=120, local_dir=src,
                    sidecar_image="registry.example/nhsyncd:test",
                    sync={"state_dir": state, "ignore": ["*.log"], "delete_protection": True},
                    on_event=lambda e: phases.append(e.phase),
                )
            except BaseException as e:  # noqa: BLE001
                result["error"] = e

        starter = threading.Thread(target=start)
        starter.start()
        sidecar = start_sidecar(client, ns, port, root)
        try:
            starter.join(150)
            assert "error" not in result, result.get("error")
            session = result["session"]
            assert {"forward", "sync", "synced"} <= set(phases), phases
            assert (root / "hello.txt").read_text() == "hello v1\n"
            assert not (root / "skip.log").exists()

            sync = session.sync()
            assert sync is not None
            (src / "hello.txt").write_text("hello v2\n")
            sync.flush(timeout=60)
            assert (root / "hello.txt").read_text() == "hello v2\n"
            assert sync.status().files_synced >= 2

            session.stop_sync()
            assert session.sync() is None
            with pytest.raises(nocalhost.InvalidState):
                sync.status()

            # The whole loop again on the same session.
            again = session.start_sync(src, state_dir=state, timeout=60)
            (src / "new.txt").write_text("new\n")
            again.flush(timeout=60)
            assert (root / "new.txt").read_text() == "new\n"
            assert session.end() == nocalhost.DevEndResult.RESTORED
            assert session.closed
        finally:
            sidecar.close()
