"""Dev mode and exec against the real test cluster: the round trip start -> exec -> end.

kwok runs exec'd commands on this machine (a ClusterExec object selects the
test namespace), so the commands' working directory is a local temp dir.
"""

import os
import threading
import time

import pytest

import nocalhost
from nocalhost import DevEndResult, DevEventType, DevMode, ErrorCode

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

        assert session.target == f"deployment/{name}"
        assert dev_client.resolve_target(session.target) == session.pod
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
    # A mistyped kind is an invalid argument (NH_EINVAL, no HTTP status), as in every binding.
    with pytest.raises(nocalhost.InvalidArgument) as info:
        dev_client.dev_start("service", "x", image=DEV_IMAGE)
    assert (info.value.code, info.value.http_status) == (ErrorCode.EINVAL, 0)
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


def wait_deployment_ready(client, ns, name, replicas, timeout=60.0):
    """The Deployment once its controller is done with it (so that its resourceVersion stays put)."""
    deadline = time.monotonic() + timeout
    while True:
        d = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        st = d.get("status", {})
        if (
            st.get("readyReplicas") == replicas
            and st.get("availableReplicas") == replicas
            and st.get("replicas") == replicas
            and st.get("updatedReplicas", replicas) == replicas
            and st.get("observedGeneration") == d["metadata"]["generation"]
        ):
            return d
        assert time.monotonic() < deadline, f"deployment {name} not ready: {st}"
        time.sleep(0.2)


def deployment_exists(client, ns, name):
    try:
        client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        return True
    except nocalhost.NotFound:
        return False


def test_duplicate_mode_for_two_developers_leaves_the_original_untouched(dev_client, dev_ns):
    name = unique("dup")
    create_deployment(dev_client, dev_ns, name)
    original = wait_deployment_ready(dev_client, dev_ns, name, 2)
    path = f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}"

    common = dict(image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120)
    alice = dev_client.dev_start("deployment", name, mode="duplicate", developer="alice@laptop", **common)
    bob = dev_client.dev_start("deployment", name, mode=DevMode.DUPLICATE, developer="bob@desk", **common)
    try:
        for session, who in ((alice, "alice"), (bob, "bob")):
            assert session.mode is DevMode.DUPLICATE
            assert session.developer == {"alice": "alice@laptop", "bob": "bob@desk"}[who]
            assert (session.kind, session.name, session.namespace) == ("Deployment", name, dev_ns)
            assert session.workload.startswith(f"{name}-dup-{who}-"), session.workload
            assert session.workload in repr(session)
            assert session.pod
            assert deployment_exists(dev_client, dev_ns, session.workload)
        assert alice.workload != bob.workload
        assert dev_client.get(path)["metadata"]["resourceVersion"] == original["metadata"]["resourceVersion"]

        status = dev_client.dev_status("deployment", name, mode="duplicate", developer="alice@laptop")
        assert status["dev_mode"] is True and status["mode"] == "duplicate", status
        with dev_client.dev_attach("deployment", name, mode="duplicate", developer="bob@desk") as attached:
            assert attached.mode is DevMode.DUPLICATE
            assert attached.workload == bob.workload
            assert attached.developer == "bob@desk"
        # Exec goes to the developer's copy, whose dev pod runs the command (locally, by kwok).
        result = alice.exec(["cat", "hello.txt"])
        assert (result.exit_code, result.text) == (0, "hello from the dev pod\n")
        assert alice.target == f"deployment/{alice.workload}"
        assert dev_client.resolve_target(alice.target) == alice.pod

        # Session.end() ends this developer's copy only.
        alice_copy = alice.workload
        assert alice.end() == DevEndResult.RESTORED
        assert not deployment_exists(dev_client, dev_ns, alice_copy)
        assert dev_client.dev_status("deployment", name, mode="duplicate", developer="alice@laptop")["dev_mode"] is False
        assert dev_client.dev_status("deployment", name, mode="duplicate", developer="bob@desk")["dev_mode"] is True
        assert deployment_exists(dev_client, dev_ns, bob.workload)

        bob_copy = bob.workload
        assert dev_client.dev_end("deployment", name, mode="duplicate", developer="bob@desk") == DevEndResult.RESTORED
        assert not deployment_exists(dev_client, dev_ns, bob_copy)
        assert (
            dev_client.dev_end("deployment", name, mode="duplicate", developer="bob@desk")
            == DevEndResult.NOT_IN_DEV_MODE
        )
    finally:
        for session, who in ((alice, "alice@laptop"), (bob, "bob@desk")):
            session.close()
            dev_client.dev_end("deployment", name, mode="duplicate", developer=who)
    assert dev_client.get(path)["metadata"]["resourceVersion"] == original["metadata"]["resourceVersion"]


def test_dev_mode_option_values_are_checked(dev_client):
    with pytest.raises(ValueError):
        dev_client.dev_status("deployment", "x", mode="sideways")
    with pytest.raises(TypeError):
        dev_client.dev_pvc_list("deployment")


NOCALHOST_CONFIG = """\
name: {name}
serviceType: deployment
containers:
  - name: app
    dev:
      image: registry.example/dev-from-config:2
      workDir: /home/dev/src
      shell: bash
      env:
        - name: FROM_CONFIG
          value: "yes"
        - name: LEVEL
          value: debug
      portForward:
        - "8080:8080"
        - "39229:9229"
      gitUrl: https://example.com/ignored.git
"""


def test_dev_config_resolve_reads_a_nocalhost_config_file(dev_client, dev_ns, tmp_path):
    name = unique("cfg")
    create_deployment(dev_client, dev_ns, name)
    (tmp_path / ".nocalhost").mkdir()
    (tmp_path / ".nocalhost" / "config.yaml").write_text(NOCALHOST_CONFIG.format(name=name))

    resolved = dev_client.dev_config_resolve("deployment", name, config_path=tmp_path)
    assert resolved["sources"] == [str(tmp_path / ".nocalhost" / "config.yaml")]
    assert resolved["container"] == "app"
    assert resolved["image"] == "registry.example/dev-from-config:2"
    assert resolved["workDir"] == "/home/dev/src"
    assert resolved["shell"] == "bash"
    assert resolved["env"] == [{"name": "FROM_CONFIG", "value": "yes"}, {"name": "LEVEL", "value": "debug"}]
    assert resolved["portForward"] == ["8080:8080", "39229:9229"]
    assert [i["field"] for i in resolved["ignored"]] == ["containers[0].dev.gitUrl"], resolved["ignored"]

    # Explicit options win over the file; the file itself may be named too.
    resolved = dev_client.dev_config_resolve(
        "deployment", name, config_path=tmp_path / ".nocalhost" / "config.yaml", image=DEV_IMAGE,
        env={"LEVEL": "info"}, image_pull_policy="Never",
        persistent_dirs=[{"path": "/root/.m2", "capacity": "2Gi"}],
    )
    assert resolved["image"] == DEV_IMAGE
    assert resolved["imagePullPolicy"] == "Never"
    assert {"name": "LEVEL", "value": "info"} in resolved["env"]
    assert resolved["persistentVolumeDirs"] == [{"path": "/root/.m2", "capacity": "2Gi", "storageClass": ""}]

    # Nothing configured for another workload; an invalid file names file, line and field.
    assert dev_client.dev_config_resolve("deployment", "other", config_path=tmp_path, ignore_cluster_config=True)[
        "sources"
    ] == []
    (tmp_path / "bad.yaml").write_text("name: x\ncontainers:\n  - name: app\n    dev:\n      imagePullPolicy: Sometimes\n")
    with pytest.raises(nocalhost.ConfigError) as info:
        dev_client.dev_config_resolve("deployment", "x", config_path=tmp_path / "bad.yaml")
    assert "bad.yaml:5" in info.value.message and "imagePullPolicy" in info.value.message, info.value.message


def test_dev_start_takes_the_image_and_workdir_from_the_config(dev_client, dev_ns, tmp_path):
    name = unique("cfgstart")
    create_deployment(dev_client, dev_ns, name)
    (tmp_path / ".nocalhost").mkdir()
    (tmp_path / ".nocalhost" / "config.yaml").write_text(NOCALHOST_CONFIG.format(name=name))
    with dev_client.dev_start(
        "deployment", name, config_path=tmp_path, sidecar_image=SIDECAR_IMAGE, timeout=120,
        patches=[{"type": "merge", "patch": {"metadata": {"annotations": {"example.com/patched": "yes"}}}}],
    ) as session:
        assert session.mode is DevMode.REPLACE and session.workload == "" and session.developer == ""
        assert session.workdir == "/home/dev/src"
        assert session.status()["image"] == "registry.example/dev-from-config:2"
        live = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
        assert live["metadata"]["annotations"]["example.com/patched"] == "yes"
        assert session.end() == DevEndResult.RESTORED


@pytest.fixture
def persistent_volume(dev_client):
    """A hostPath PersistentVolume of a storage class of its own (kwok has no provisioner): its class."""
    storage_class = unique("nh-py-pvc")
    pv = f"{storage_class}-pv"
    dev_client.create(
        "/api/v1/persistentvolumes",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": storage_class,
                "hostPath": {"path": f"/tmp/{pv}"},
            },
        },
    )
    yield storage_class
    dev_client.delete(f"/api/v1/persistentvolumes/{pv}")


def test_persistent_dir_claim_outlives_dev_mode_and_is_listed_and_deleted(dev_client, dev_ns, persistent_volume):
    name = unique("pvc")
    create_deployment(dev_client, dev_ns, name)
    dirs = [{"path": "/root/.cache", "capacity": "1Gi", "storageClass": persistent_volume}]
    with dev_client.dev_start(
        "deployment", name, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120, persistent_dirs=dirs,
    ) as session:
        claims = dev_client.dev_pvc_list("deployment", name)
        assert len(claims) == 1, claims
        claim = claims[0]
        assert (claim["namespace"], claim["workload"], claim["path"]) == (dev_ns, f"Deployment/{name}", "/root/.cache")
        assert (claim["capacity"], claim["storage_class"], claim["phase"]) == ("1Gi", persistent_volume, "Bound")
        assert session.end() == DevEndResult.RESTORED

    # The claim outlives dev mode; listed for the namespace too, not for another workload.
    assert [c["name"] for c in dev_client.dev_pvc_list("deployment", name)] == [claim["name"]]
    assert claim["name"] in [c["name"] for c in dev_client.dev_pvc_list()]
    assert dev_client.dev_pvc_list("deployment", "other") == []
    with pytest.raises(nocalhost.NotFound):
        dev_client.dev_pvc_delete("deployment", name, "no-such-claim")
    assert dev_client.dev_pvc_delete("deployment", name, "/root/.cache") == [claim["name"]]
    deadline = time.monotonic() + 60
    while dev_client.dev_pvc_list("deployment", name):
        assert time.monotonic() < deadline, "the claim was not deleted"
        time.sleep(0.25)


def in_dev_mode(client, name):
    return client.dev_status(f"deployment/{name}")["dev_mode"]


def test_a_scoped_session_ends_dev_mode_when_the_block_raises(dev_client, dev_ns):
    name = unique("scoped")
    create_deployment(dev_client, dev_ns, name)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with dev_client.dev_start(
            f"deployment/{name}", image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120, end_on_exit=True
        ) as session:
            assert session.end_on_exit and in_dev_mode(dev_client, name)
            raise Boom("the script failed half-way")
    assert session.closed
    assert not in_dev_mode(dev_client, name)
    restored = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
    assert restored["spec"]["replicas"] == 2
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:1.0"

    # Closing the handle inside the block does not give up the scope; an end inside it is not repeated.
    with dev_client.dev_start(f"deployment/{name}", image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120,
                              end_on_exit=True) as session:
        session.close()
    assert not in_dev_mode(dev_client, name)
    with dev_client.dev_start(f"deployment/{name}", image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120,
                              end_on_exit=True) as session:
        assert session.end() == DevEndResult.RESTORED
    assert not in_dev_mode(dev_client, name)

    # The handle-only form (the default, and dev_attach's) leaves dev mode on for later.
    with pytest.raises(Boom):
        with dev_client.dev_start(f"deployment/{name}", image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120):
            raise Boom("leave it running")
    assert in_dev_mode(dev_client, name)
    with dev_client.dev_attach(f"deployment/{name}", end_on_exit=True):
        pass
    assert not in_dev_mode(dev_client, name)


def test_the_cli_kind_name_form_is_taken_by_every_dev_call(dev_client, dev_ns):
    name = unique("kn")
    create_deployment(dev_client, dev_ns, name)
    target = f"deployment/{name}"
    assert dev_client.dev_config_resolve(target, ignore_cluster_config=True)["sources"] == []
    with dev_client.dev_start(target, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120) as session:
        assert (session.kind, session.name) == ("Deployment", name)
        assert dev_client.dev_status(target)["dev_mode"] is True
        with dev_client.dev_attach(f"deploy/{name}") as attached:
            assert attached.pod == session.pod
    assert dev_client.dev_pvc_list(target) == []
    with pytest.raises(nocalhost.NotFound):
        dev_client.dev_pvc_delete(target, "no-such-claim")
    assert dev_client.dev_end(target) == DevEndResult.RESTORED

    for bad in ("web", "deployment/", "/web"):
        with pytest.raises(nocalhost.InvalidArgument, match="KIND/NAME"):
            dev_client.dev_status(bad)
    with pytest.raises(nocalhost.InvalidArgument, match="not both"):
        dev_client.dev_end(target, name)


def test_enums_print_as_their_names():
    assert str(DevEndResult.RESTORED) == "RESTORED"
    assert f"{DevMode.DUPLICATE}" == "DUPLICATE"
    assert repr(DevMode.REPLACE) == "DevMode.REPLACE"
    assert f"{ErrorCode.ENOTFOUND} ({ErrorCode.ENOTFOUND:d})" == "ENOTFOUND (-9)"
    assert str(nocalhost.SyncState.IDLE) == "IDLE" and str(nocalhost.LogLevel.WARN) == "WARN"
    assert "%s" % nocalhost.ForwardEventType.POD_LOST == "POD_LOST"
    assert DevEndResult.RESTORED == 1 and int(DevMode.DUPLICATE) == 1  # still the C values


RUN_CONFIG = """\
name: {name}
serviceType: deployment
containers:
  - name: app
    dev:
      image: registry.example/dev-from-config:2
      workDir: {workdir}
      shell: echo shell-from-config
      command:
        build: ["sh", "-c", "echo built > built.txt && echo build-ok"]
        # $$ is a literal $: the config is rendered as nhctl renders it, where $0 would be a variable.
        run: ["sh", "-c", "echo run-args: $$0 $$@", "first"]
"""


def test_dev_run_and_terminal_use_the_dev_config(dev_client, dev_ns, tmp_path):
    name = unique("run")
    create_deployment(dev_client, dev_ns, name)
    workdir = tmp_path / "work"  # kwok runs the command on this machine: the work dir is local
    workdir.mkdir()
    (tmp_path / ".nocalhost").mkdir()
    (tmp_path / ".nocalhost" / "config.yaml").write_text(RUN_CONFIG.format(name=name, workdir=workdir))
    with dev_client.dev_start(
        f"deployment/{name}", config_path=tmp_path, sidecar_image=SIDECAR_IMAGE, timeout=120, end_on_exit=True
    ) as session:
        result = session.run("build")
        assert (result.exit_code, result.text) == (0, "build-ok\n"), result
        assert (workdir / "built.txt").read_text() == "built\n"

        (workdir / "built.txt").unlink()
        result = dev_client.dev_run("run", f"deployment/{name}", args=["more"])
        assert (result.exit_code, result.text) == (0, "run-args: first more\n"), result

        with pytest.raises(nocalhost.ConfigError, match="no command.hotReloadRun"):
            session.run("hot-reload-run")
        with pytest.raises(nocalhost.InvalidArgument, match="unknown dev command"):
            session.run("deploy")

        for term in (session.terminal(), dev_client.terminal(f"deployment/{name}")):
            with term:
                assert term.wait(timeout=30) == 0
                output = b"".join(data for _, data in term)
            assert b"shell-from-config" in output, output
    assert not in_dev_mode(dev_client, name)


def test_the_same_situation_gives_the_same_code_and_status(dev_client, dev_ns, nobody_kubeconfig):
    """The cases every binding's suite checks alike (code, HTTP status)."""
    with pytest.raises(nocalhost.NotFound) as info:
        dev_client.dev_start("deployment/no-such-workload", image=DEV_IMAGE, timeout=30)
    assert (info.value.code, info.value.http_status) == (ErrorCode.ENOTFOUND, 404)
    with pytest.raises(nocalhost.InvalidArgument) as info:
        dev_client.dev_status("services/x")
    assert (info.value.code, info.value.http_status) == (ErrorCode.EINVAL, 0)

    path = f"/api/v1/namespaces/{dev_ns}/configmaps"
    cm = dev_client.create(path, {"metadata": {"name": unique("cm")}, "data": {"a": "1"}})
    with pytest.raises(nocalhost.AlreadyExists) as info:
        dev_client.create(path, {"metadata": {"name": cm["metadata"]["name"]}})
    assert (info.value.code, info.value.http_status) == (ErrorCode.EEXISTS, 409)
    stale = dict(cm, data={"a": "2"})
    dev_client.replace(f"{path}/{cm['metadata']['name']}", stale)
    with pytest.raises(nocalhost.Conflict) as info:
        dev_client.replace(f"{path}/{cm['metadata']['name']}", dict(cm, data={"a": "3"}))
    assert (info.value.code, info.value.http_status, info.value.reason) == (ErrorCode.ECONFLICT, 409, "Conflict")

    with nocalhost.Client(nobody_kubeconfig, namespace=dev_ns, timeout=15) as nobody:
        with pytest.raises(nocalhost.Forbidden) as info:
            nobody.dev_status("deployment/web")
    assert (info.value.code, info.value.http_status, info.value.reason) == (ErrorCode.EFORBIDDEN, 403, "Forbidden")


def test_force_ends_dev_mode_whose_session_record_is_gone(dev_client, dev_ns):
    name = unique("force")
    create_deployment(dev_client, dev_ns, name)
    original = wait_deployment_ready(dev_client, dev_ns, name, 2)
    with dev_client.dev_start("deployment", name, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120) as session:
        record = session.status()["session_object"]
    # The record is gone (deleted by hand, lost to a crash): the workload still looks in dev mode.
    dev_client.delete(f"/api/v1/namespaces/{dev_ns}/secrets/{record}")

    with pytest.raises(nocalhost.InvalidState) as info:
        dev_client.dev_end("deployment", name)
    assert info.value.code == ErrorCode.ESTATE
    assert "force" in str(info.value)
    live = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == DEV_IMAGE, "a refused end changes nothing"

    events = []
    assert dev_client.dev_end("deployment", name, force=True, on_event=events.append) == DevEndResult.RESTORED
    restored = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
    assert restored["metadata"]["uid"] == original["metadata"]["uid"]
    containers = restored["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"], "the sync sidecar is gone"
    assert containers[0]["image"] == "registry.example/app:1.0", "the pod template came back from the rollout history"
    # The replica count was recorded only in the deleted record: the forced end says so.
    warnings = [e for e in events if e.type == DevEventType.WARNING]
    assert any(e.phase == "force" and "replicas" in e.message for e in warnings), events
    assert dev_client.dev_status("deployment", name)["dev_mode"] is False
    assert dev_client.dev_end("deployment", name) == DevEndResult.NOT_IN_DEV_MODE


# A JSON patch whose "test" operation fails: the API server refuses it (422).
REFUSED_PATCH = {"type": "json", "patch": [{"op": "test", "path": "/metadata/labels/app", "value": "other"}]}


def test_a_refused_patch_is_a_warning_unless_patch_errors_are_fatal(dev_client, dev_ns):
    name = unique("patch")
    create_deployment(dev_client, dev_ns, name)
    applied = {"type": "merge", "patch": {"metadata": {"labels": {"patched": "yes"}}}}
    events = []
    with dev_client.dev_start(
        "deployment", name, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120,
        patches=[REFUSED_PATCH, applied], on_event=events.append,
    ) as session:
        assert any(e.type == DevEventType.WARNING and e.phase == "patch" for e in events), events
        live = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
        assert live["metadata"]["labels"]["patched"] == "yes", "the patches after a refused one still apply"
        assert session.end() == DevEndResult.RESTORED

    with pytest.raises(nocalhost.NocalhostError) as info:
        dev_client.dev_start(
            "deployment", name, image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, timeout=120,
            patches=[REFUSED_PATCH], patch_errors_fatal=True,
        )
    assert "patch 1" in str(info.value)
    assert dev_client.dev_status("deployment", name)["dev_mode"] is False
    live = dev_client.get(f"/apis/apps/v1/namespaces/{dev_ns}/deployments/{name}")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:1.0", "rolled back"
