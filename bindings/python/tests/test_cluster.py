"""The client against the real test cluster: requests, typed errors, watches, cancellation."""

import gc
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import nocalhost
from nocalhost import ErrorCode, WatchEventType

from conftest import unique


def test_client_and_server_version(client, namespace, kubeconfig):
    assert client.namespace == namespace
    assert client.server.startswith("https://127.0.0.1:")
    assert client.context
    version = client.server_version()
    assert version["gitVersion"].startswith("v1.")
    assert int(version["major"]) == 1


def test_configmap_crud(client, cm_path):
    name = unique("crud")
    created = client.create(cm_path(), {"metadata": {"name": name}, "data": {"a": "1"}})
    assert created["metadata"]["name"] == name
    assert client.get(cm_path(name))["data"] == {"a": "1"}

    created["data"]["a"] = "2"
    replaced = client.replace(cm_path(name), created)
    assert replaced["data"]["a"] == "2"

    assert client.patch(cm_path(name), {"data": {"b": "3"}})["data"] == {"a": "2", "b": "3"}
    assert client.patch(cm_path(name), {"data": {"c": "4"}}, patch_type="strategic")["data"]["c"] == "4"
    ops = [{"op": "remove", "path": "/data/a"}]
    assert "a" not in client.patch(cm_path(name), ops, patch_type="json")["data"]

    names = [i["metadata"]["name"] for i in client.get(cm_path())["items"]]
    assert name in names

    response = client.request("DELETE", cm_path(name))
    assert response.status == 200
    with pytest.raises(nocalhost.NotFound):
        client.get(cm_path(name))


def test_request_returns_status_and_raw_body(client, cm_path):
    name = unique("raw")
    response = client.request("POST", cm_path(), f'{{"metadata":{{"name":"{name}"}}}}'.encode())
    assert response.status == 201
    assert isinstance(response.body, bytes)
    assert response.json()["metadata"]["name"] == name
    assert f'"name":"{name}"' in response.text


def test_not_found_carries_status_and_reason(client, cm_path):
    with pytest.raises(nocalhost.NotFound) as info:
        client.get(cm_path("does-not-exist"))
    e = info.value
    assert (e.code, e.http_status, e.reason) == (ErrorCode.ENOTFOUND, 404, "NotFound")
    assert "does-not-exist" in e.message
    assert isinstance(e, LookupError)


def test_conflict_on_stale_resource_version(client, cm_path):
    name = unique("conflict")
    first = client.create(cm_path(), {"metadata": {"name": name}, "data": {"v": "1"}})
    client.patch(cm_path(name), {"data": {"v": "2"}})
    first["data"]["v"] = "stale"
    with pytest.raises(nocalhost.Conflict) as info:
        client.replace(cm_path(name), first)
    assert (info.value.http_status, info.value.reason) == (409, "Conflict")


def test_already_exists(client, cm_path):
    name = unique("exists")
    client.create(cm_path(), {"metadata": {"name": name}})
    with pytest.raises(nocalhost.AlreadyExists) as info:
        client.create(cm_path(), {"metadata": {"name": name}})
    assert (info.value.http_status, info.value.reason) == (409, "AlreadyExists")


def test_invalid_object(client, cm_path):
    with pytest.raises(nocalhost.Invalid) as info:
        client.create(cm_path(), {"metadata": {"name": "Not_A_Valid_Name"}})
    assert info.value.http_status == 422


def test_forbidden_for_an_identity_without_rights(nobody_kubeconfig, namespace):
    with nocalhost.Client(nobody_kubeconfig, timeout=15) as nobody:
        with pytest.raises(nocalhost.Forbidden) as info:
            nobody.get(f"/api/v1/namespaces/{namespace}/configmaps")
    e = info.value
    assert (e.code, e.http_status, e.reason) == (ErrorCode.EFORBIDDEN, 403, "Forbidden")
    assert isinstance(e, PermissionError)


def test_watch_delivers_events_to_a_callback(client, cm_path):
    name = unique("watched")
    events = []
    ready = threading.Event()

    def on_event(event):
        events.append(event)
        if event.type == WatchEventType.ADDED and event.object["metadata"]["name"] == name:
            ready.set()
        return event.type == WatchEventType.DELETED  # stop on the deletion

    def churn():
        client.create(cm_path(), {"metadata": {"name": name}, "data": {"n": "0"}})
        ready.wait(10)
        client.patch(cm_path(name), {"data": {"n": "1"}})
        client.delete(cm_path(name))

    t = threading.Thread(target=churn)
    t.start()
    client.watch(cm_path(), on_event, timeout=20)
    t.join()
    mine = [(e.type, e.object["metadata"]["name"]) for e in events if e.object["metadata"]["name"] == name]
    assert mine == [(WatchEventType.ADDED, name), (WatchEventType.MODIFIED, name), (WatchEventType.DELETED, name)]


def test_watch_lists_existing_objects_first(client, cm_path):
    name = unique("existing")
    client.create(cm_path(), {"metadata": {"name": name, "labels": {"pick": name}}})
    seen = []
    client.watch(cm_path(), lambda e: seen.append(e) or True, label_selector=f"pick={name}", timeout=10)
    assert [(e.type, e.object["metadata"]["name"]) for e in seen] == [(WatchEventType.ADDED, name)]


def test_watch_duration_ends_without_error(client, cm_path):
    t0 = time.monotonic()
    client.watch(cm_path(), lambda e: None, label_selector="none=here", timeout=0.5)
    assert 0.4 < time.monotonic() - t0 < 5


def test_watch_callback_exception_is_reraised(client, cm_path):
    name = unique("boom")
    client.create(cm_path(), {"metadata": {"name": name}})

    class Boom(Exception):
        pass

    def on_event(event):
        raise Boom(event.object["metadata"]["name"])

    with pytest.raises(Boom, match=name):
        client.watch(cm_path(), on_event, field_selector=f"metadata.name={name}", timeout=10)


def test_events_iterator(client, cm_path):
    name = unique("iter")
    client.create(cm_path(), {"metadata": {"name": name, "labels": {"it": name}}})
    got = []
    with client.events(cm_path(), label_selector=f"it={name}", timeout=30) as events:
        for event in events:
            got.append((event.type, event.object["metadata"]["name"]))
            if event.type == WatchEventType.ADDED:
                client.delete(cm_path(name))
            if event.type == WatchEventType.DELETED:
                break
    assert got[0] == (WatchEventType.ADDED, name)
    assert got[-1] == (WatchEventType.DELETED, name)
    assert events.closed


def test_events_iterator_ends_after_timeout(client, cm_path):
    t0 = time.monotonic()
    assert list(client.events(cm_path(), label_selector="none=here", timeout=0.5)) == []
    assert time.monotonic() - t0 < 5


def test_events_iterator_raises_the_error_that_ended_the_watch(nobody_kubeconfig, namespace):
    with nocalhost.Client(nobody_kubeconfig, timeout=15) as nobody:
        with pytest.raises(nocalhost.Forbidden):
            for _ in nobody.events(f"/api/v1/namespaces/{namespace}/configmaps"):
                pass


def test_cancel_from_another_thread_stops_a_watch(client, cm_path):
    cancel = nocalhost.Cancel()
    threading.Timer(0.3, cancel.trigger).start()
    t0 = time.monotonic()
    with pytest.raises(nocalhost.Cancelled) as info:
        client.watch(cm_path(), lambda e: None, cancel=cancel)
    assert time.monotonic() - t0 < 2
    assert info.value.code == ErrorCode.ECANCELLED


def test_cancel_works_on_a_worker_thread_too(client, cm_path):
    cancel = nocalhost.Cancel()
    result = queue.Queue()

    def watch():
        try:
            client.watch(cm_path(), lambda e: None, cancel=cancel)
            result.put("returned")
        except nocalhost.Cancelled:
            result.put("cancelled")

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    cancel.trigger()
    t.join(5)
    assert result.get_nowait() == "cancelled"


def test_blocking_calls_release_the_gil(client, cm_path):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    client.watch(cm_path(), lambda e: None, label_selector="none=here", timeout=0.5)
    stop.set()
    t.join()
    assert len(ticks) > 20


def test_close_from_another_thread_cancels_running_calls(kubeconfig, cm_path):
    c = nocalhost.Client(kubeconfig)
    threading.Timer(0.3, c.close).start()
    with pytest.raises(nocalhost.Cancelled):
        c.watch(cm_path(), lambda e: None)
    assert c.closed
    with pytest.raises(nocalhost.InvalidState):
        c.server_version()


def test_a_watch_keeps_its_client_alive(kubeconfig, cm_path):
    name = unique("alive")
    events = nocalhost.Client(kubeconfig).events(cm_path(), field_selector=f"metadata.name={name}", timeout=20)
    gc.collect()  # the Client has no other reference now
    with nocalhost.Client(kubeconfig) as other:
        other.create(cm_path(), {"metadata": {"name": name}})
    with events:
        first = next(events)
    assert (first.type, first.object["metadata"]["name"]) == (WatchEventType.ADDED, name)


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time, nocalhost
    # As in a terminal. A child of a shell's background job starts with SIGINT ignored, and
    # Python then installs no KeyboardInterrupt handler, so Ctrl-C would not reach it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client = nocalhost.Client(sys.argv[1])
    path = sys.argv[2]
    print("watching", flush=True)
    t0 = time.monotonic()
    try:
        client.watch(path, lambda e: None)
    except KeyboardInterrupt:
        print("interrupted after %.2f s" % (time.monotonic() - t0), flush=True)
        client.server_version()  # the client is still usable
        print("still usable", flush=True)
    """
)


def _stuck_process_report(p):
    """The signal state and thread stacks of a child that did not end, then kills it."""
    lines = []
    try:
        with open(f"/proc/{p.pid}/status") as f:
            lines += [l.rstrip() for l in f if l.startswith(("State", "Threads", "Sig", "Shd"))]
    except OSError as e:
        lines.append(f"/proc/{p.pid}/status: {e}")
    gdb = shutil.which("gdb")
    if gdb:
        bt = subprocess.run([gdb, "-batch", "-p", str(p.pid), "-ex", "thread apply all bt"],
                            capture_output=True, text=True, timeout=60)
        lines.append(bt.stdout[-20000:])
    p.kill()
    out, err = p.communicate()
    lines += ["stdout: " + out, "stderr: " + err[-4000:]]
    return "\n".join(lines)


def test_ctrl_c_interrupts_a_blocking_call(kubeconfig, cm_path, tmp_path):
    p = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, kubeconfig, cm_path()],
        cwd=tmp_path,  # import the installed package, not the source folder
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "watching"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl-C did not end the watch within 10 s:\n" + _stuck_process_report(p))
    assert p.returncode == 0, err
    assert "interrupted after" in out
    assert "still usable" in out
    elapsed = float(out.split("interrupted after ")[1].split()[0])
    assert elapsed < 3


def test_concurrent_requests_on_one_client(client, cm_path):
    errors = []

    def work(i):
        try:
            name = unique(f"par{i}")
            client.create(cm_path(), {"metadata": {"name": name}})
            assert client.get(cm_path(name))["metadata"]["name"] == name
            client.delete(cm_path(name))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
