"""The workload tree, its watch and pod logs against the real test cluster.

The tree: a namespace with every workload kind and a Deployment in nhctl's dev
mode; the watch reports a workload added, scaled, put into dev mode and
deleted. Logs: a pod on the real node writes while its lines are followed.
"""

import json
import os
import re
import threading
import time

import pytest

import nocalhost
from nocalhost import TreeEventType

from conftest import cluster_env, unique

DEV_IMAGE = "registry.example/dev:1"
SIDECAR_IMAGE = "registry.example/nhsyncd:test"


def template(app, restart="Always"):
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
        },
    }


def deployment(name, replicas=1, annotations=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template(name)},
    }


@pytest.fixture
def tree_ns(kubeconfig):
    name = unique(f"nh-pytree-{os.getpid()}")
    with nocalhost.Client(kubeconfig, timeout=15) as admin:
        admin.create("/api/v1/namespaces", {"metadata": {"name": name}})
        try:
            yield name
        finally:
            admin.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def tree_client(kubeconfig, tree_ns):
    with nocalhost.Client(kubeconfig, namespace=tree_ns, timeout=15) as c:
        yield c


def by_name(entries, kind, name):
    return next((e for e in entries if e["kind"] == kind and e["name"] == name), None)


def test_the_tree_lists_every_kind_with_applications_and_nhctl_dev_mode(tree_client, tree_ns):
    c = tree_client
    apps = f"/apis/apps/v1/namespaces/{tree_ns}"
    batch = f"/apis/batch/v1/namespaces/{tree_ns}"
    c.create(f"{apps}/deployments", deployment("web", 2, {"dev.nocalhost/application-name": "shop"}))
    sts = deployment("db", 1, {"meta.helm.sh/release-name": "data"})
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    c.create(f"{apps}/statefulsets", sts)
    c.create(f"{apps}/daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
                                     "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent")}})
    c.create(f"{batch}/jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
                               "spec": {"suspend": True, "template": template("once", "Never")}})
    c.create(f"{batch}/cronjobs", {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
                                   "spec": {"schedule": "0 0 1 1 *",
                                            "jobTemplate": {"spec": {"template": template("nightly", "Never")}}}})
    c.create(f"/api/v1/namespaces/{tree_ns}/pods",
             {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo", "labels": {"app": "solo"}},
              "spec": template("solo")["spec"]})
    legacy = deployment("legacy", 1, {"dev.nocalhost/origin-workload-definition": json.dumps(deployment("legacy"))})
    legacy["spec"]["template"]["spec"]["containers"][0]["name"] = "nocalhost-dev"
    c.create(f"{apps}/deployments", legacy)

    entries = c.tree()
    assert sorted((e["kind"], e["name"]) for e in entries) == sorted([
        ("Deployment", "web"), ("Deployment", "legacy"), ("StatefulSet", "db"), ("DaemonSet", "agent"),
        ("Job", "once"), ("CronJob", "nightly"), ("Pod", "solo")])
    web = by_name(entries, "Deployment", "web")
    assert web["application"] == "shop" and web["replicas"] == 2 and not web["dev_mode"]
    assert web["containers"] == [{"name": "app", "image": "registry.example/app:1.0"}]
    assert by_name(entries, "StatefulSet", "db")["application"] == "data"
    assert by_name(entries, "Job", "once")["suspended"] is True
    nhctl = by_name(entries, "Deployment", "legacy")
    assert nhctl["dev_mode"] and nhctl["dev"][0]["tool"] == "nhctl"

    assert [e["name"] for e in c.tree("pods")] == ["solo"]
    assert [e["name"] for e in c.tree(["deploy", "sts"], selector="app")] == []  # no workload has labels
    with pytest.raises(nocalhost.InvalidArgument, match="service"):
        c.tree("service")


def test_the_tree_watch_reports_add_scale_dev_mode_and_delete(tree_client, tree_ns):
    c = tree_client
    path = f"/apis/apps/v1/namespaces/{tree_ns}/deployments"
    c.create(path, deployment("first"))
    with c.tree_events("deployments") as events:
        first = next(events)
        assert first.type is TreeEventType.ADDED and first.entry["name"] == "first"
        synced = next(events)
        assert synced.type is TreeEventType.SYNCED and [e["name"] for e in synced.entry] == ["first"]

        def until(type_, name, pred=lambda e: True, limit=60):
            deadline = time.monotonic() + limit
            for ev in events:
                if ev.type is type_ and ev.entry["name"] == name and pred(ev.entry):
                    return ev.entry
                assert time.monotonic() < deadline, f"no {type_} of {name}"
            raise AssertionError("the watch ended")

        c.create(path, deployment("late"))
        until(TreeEventType.ADDED, "late")
        c.patch(f"{path}/late", {"spec": {"replicas": 3}}, patch_type="merge")
        until(TreeEventType.MODIFIED, "late", lambda e: e["replicas"] == 3)
        with c.dev_start("deployment/late", image=DEV_IMAGE, sidecar_image=SIDECAR_IMAGE, owner="py@host/1",
                         timeout=90) as session:
            pod = session.pod
        entry = until(TreeEventType.MODIFIED, "late",
                      lambda e: e["dev_mode"] and (e["dev"][0]["pod"] or {}).get("name") == pod)
        assert entry["dev"][0]["owner"] == "py@host/1" and entry["replicas"] == 1
        c.dev_end("deployment/late")
        until(TreeEventType.MODIFIED, "late", lambda e: not e["dev_mode"])
        c.delete(f"{path}/late")
        until(TreeEventType.DELETED, "late")
    assert events.closed


def test_watch_tree_blocking_form_stops_when_the_callback_says_so(tree_client, tree_ns):
    tree_client.create(f"/apis/apps/v1/namespaces/{tree_ns}/deployments", deployment("one"))
    seen = []
    tree_client.watch_tree(lambda ev: seen.append(ev) or ev.type is TreeEventType.SYNCED)
    assert [ev.type for ev in seen] == [TreeEventType.ADDED, TreeEventType.SYNCED]


@pytest.fixture
def real_pod(kubeconfig, tree_ns, tree_client):
    """A pod on the real node that writes "tick N" every 200 ms."""
    cluster_env("NH_TEST_REAL_NODE")
    taint = cluster_env("NH_TEST_REAL_TAINT")
    image = cluster_env("NH_TEST_IMAGE_APP")
    tree_client.create(f"/api/v1/namespaces/{tree_ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker"},
        "spec": {
            "nodeSelector": {taint: "true"},
            "tolerations": [{"key": taint, "operator": "Exists", "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": image, "command": [
                "/bin/sh", "-c", 'n=0; while true; do echo "tick $n"; n=$((n+1)); sleep 0.2; done']}],
        },
    })
    deadline = time.monotonic() + 120
    while True:
        lines = list(tree_client.logs("talker")) if _running(tree_client, tree_ns) else []
        if len(lines) >= 2:
            return "talker"
        assert time.monotonic() < deadline, "the real pod did not start writing"
        time.sleep(0.5)


def _running(client, ns):
    return client.get(f"/api/v1/namespaces/{ns}/pods/talker")["status"].get("phase") == "Running"


def test_logs_are_followed_while_a_real_pod_writes(tree_client, real_pod):
    ticks = []
    with tree_client.logs(real_pod, follow=True, tail=1) as lines:
        for line in lines:
            ticks.append(int(re.fullmatch(r"tick (\d+)", line).group(1)))
            if len(ticks) >= 10:
                break
    assert ticks == list(range(ticks[0], ticks[0] + 10)), "lines lost or reordered"
    assert len(list(tree_client.logs("pod/talker", tail=3))) == 3
    stamped = list(tree_client.logs(real_pod, tail=1, timestamps=True))
    assert re.match(r"^20\d\d-\d\d-\d\dT[\d:.]+Z tick \d+$", stamped[0])
    assert tree_client.log_pod(real_pod) == {"pod": "talker", "namespace": tree_client.namespace, "container": "app",
                                             "containers": ["app"], "pods": 1}
    with pytest.raises(nocalhost.NotFound, match="no container 'nope'"):
        list(tree_client.logs(real_pod, container="nope"))

    # The blocking form with a cancel from another thread.
    cancel = nocalhost.Cancel()
    got = []
    timer = threading.Timer(1.5, cancel.trigger)
    timer.start()
    with pytest.raises(nocalhost.Cancelled):
        tree_client.stream_logs(real_pod, got.append, follow=True, cancel=cancel)
    timer.join()
    assert len(got) >= 5


def test_a_kubeconfig_from_memory_and_the_cluster_check(kubeconfig, tree_ns):
    with open(kubeconfig) as f:
        text = f.read()
    with nocalhost.Client(kubeconfig_data=text, namespace=tree_ns) as c:
        assert c.namespace == tree_ns
        assert c.tree() == []
        check = c.check()
        assert check["authenticated"] is True and check["error"] is None
        assert check["version"]["gitVersion"] and check["user"]["username"]
    with pytest.raises(nocalhost.ConfigError, match="kubeconfig data:"):
        nocalhost.Client(kubeconfig_data="apiVersion: v1\nclusters: [\n")
    with pytest.raises(nocalhost.InvalidArgument):
        nocalhost.Client(kubeconfig, kubeconfig_data=text)
    gone = re.sub(r"server: .*", "server: https://127.0.0.1:1", text)
    with nocalhost.Client(kubeconfig_data=gone, max_retries=0) as c:
        with pytest.raises(nocalhost.ConnectError):
            c.check()
