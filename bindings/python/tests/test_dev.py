"""Dev mode and exec against the real test cluster: the round trip start -> exec -> end.

kwok runs exec'd commands on this machine (a ClusterExec object selects the
test namespace), so the commands' working directory is a local temp dir.
"""

import os
import threading

import pytest

import nocalhost
from nocalhost import DevEndResult, DevEventType

from conftest import unique

DEV_IMAGE = "registry.example/dev:1"
SIDECAR_IMAGE = "registry.example/nhsyncd:test"


@pytest.fixture(scope="module")
def dev_ns(kubeconfig, tmp_path_factory):
    """A namespace whose pods run exec'd commands locally in a temp dir, with a Deployment "web"."""
    name = f"nh-pydev-{os.getpid()}-{unique('x')[-4:]}"
    workdir = tmp_path_factory.mktemp("exec")
    (workdir / "hello.txt").write_text("hello from the dev pod\n")
    with nocalhost.Client(kubeconfig, timeout=15) as c:
        c.create("/api/v1/namespaces", {"metadata": {"name": name}})
        c.create(
            "/apis/kwok.x-k8s.io/v1alpha1/clusterexecs",
            {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "ClusterExec",
                "metadata": {"name": name},
                "spec": {"selector": {"matchNamespaces": [name]}, "execs": [{"local": {"workDir": str(workdir)}}]},
            },
        )
        yield name
        c.delete(f"/apis/kwok.x-k8s.io/v1alpha1/clusterexecs/{name}")
        c.delete(f"/api/v1/namespaces/{name}")


def create_deployment(client, ns, name):
    client.create(
        f"/apis/apps/v1/namespaces/{ns}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
                },
            },
        },
    )


@pytest.fixture
def dev_client(kubeconfig, dev_ns):
    with nocalhost.Client(kubeconfig, namespace=dev_ns, timeout=15) as c:
        yield c


def test_dev_mode_round_trip_start_exec_end(dev_client, dev_ns):
    name = unique("web")
    create_deployment(dev_client, dev_ns, name)
    original = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")

    events = []
    with dev_client.dev_start(
        "deployment", name, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, env={"GREETING": "hi"},
        timeout=120, on_event=events.append,
    ) as session:
        assert (session.kind, session.name, session.namespace) == ("Deployment", name, dev_ns)
        assert session.container == "app"
        assert session.pod
        assert session.workdir == nocalhost.dev.DEFAULT_WORKDIR
        assert session.sync_port == nocalhost.dev.DEFAULT_SYNC_PORT
        assert session.token and session.token not in repr(session)
        phases = [e.phase for e in events if e.type == DevEventType.PHASE]
        assert "lock" in phases and "ready" in phases, phases

        status = dev_client.dev_status("deployment", name)
        assert status["dev_mode"] is True and status["image"] == DEV_IMAGE
        assert any(s["name"] == name for s in dev_client.dev_list())
        assert session.status()["dev_mode"] is True

        assert dev_client.resolve_target(f"deployment/{name}") == session.pod
        result = session.exec(["cat", "hello.txt"])
        assert (result.exit_code, result.text) == (0, "hello from the dev pod\n")
        result = dev_client.exec(f"deployment/{name}", ["sh", "-c", "echo out; echo err >&2"], container="app")
        assert (result.exit_code, result.stdout, result.stderr) == (0, b"out\n", b"err\n")

        with dev_client.dev_attach("deployment", name) as attached:
            assert attached.pod == session.pod

        assert session.end() == DevEndResult.RESTORED
    assert session.closed

    assert dev_client.dev_status("deployment", name)["dev_mode"] is False
    restored = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
    assert restored["metadata"]["uid"] == original["metadata"]["uid"]
    assert restored["spec"]["replicas"] == 2
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:1.0"
    assert dev_client.dev_end("deployment", name) == DevEndResult.NOT_IN_DEV_MODE


def test_dev_start_errors_are_typed(dev_client):
    with pytest.raises(nocalhost.NotFound):
        dev_client.dev_start("deployment", "no-such-workload", image=DEV_IMAGE, timeout=30)
    # An unknown kind: NH_EUNSUPPORTED before the library learnt more kinds, NH_EINVAL since.
    with pytest.raises((nocalhost.Unsupported, nocalhost.InvalidArgument)):
        dev_client.dev_start("service", "x", image=DEV_IMAGE)
    with pytest.raises(nocalhost.NotFound):
        dev_client.dev_attach("deployment", "no-such-workload")


def test_a_dev_event_callback_exception_stops_the_start_and_rolls_back(dev_client, dev_ns):
    name = unique("stop")
    create_deployment(dev_client, dev_ns, name)

    class Stop(Exception):
        pass

    def on_event(event):
        if event.phase == "patch":
            raise Stop("stop here")

    with pytest.raises(Stop):
        dev_client.dev_start("deployment", name, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, on_event=on_event)
    assert dev_client.dev_status("deployment", name)["dev_mode"] is False


def test_exec_errors_and_exit_codes(dev_client, dev_ns):
    name = unique("pod")
    dev_client.create(
        f"/api/v1/namespaces/{dev_ns}/pods",
        {"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}},
    )
    for _ in range(100):
        if dev_client.get(f"/api/v1/namespaces/{dev_ns}/pods/{name}").get("status", {}).get("phase") == "Running":
            break
        threading.Event().wait(0.1)
    assert dev_client.exec(name, ["head", "-c", "5"], stdin=b"12345").stdout == b"12345"
    with pytest.raises(nocalhost.NotFound):
        dev_client.exec("pod/does-not-exist", ["true"])
    with pytest.raises(nocalhost.InvalidArgument):
        dev_client.exec(name, [])
