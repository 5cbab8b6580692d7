"""What needs no cluster: versions, the error table, tokens, lifetimes, config errors."""

import gc
import json
import os
import subprocess
import sys
import threading
import weakref

import pytest

import nocalhost
from nocalhost import _native
from nocalhost.errors import ERROR_CLASSES, ErrorCode


def test_versions():
    assert nocalhost.library_version() == nocalhost.__version__
    assert _native.LIBRARY_VERSION_INFO == tuple(int(x) for x in nocalhost.__version__.split("."))
    assert _native.ABI == 0


def test_every_code_has_a_class_named_like_the_c_code():
    for code in ErrorCode:
        assert _native.error_name(int(code)) == f"NH_{code.name}"
        if code not in (ErrorCode.OK, ErrorCode.ERROR):
            assert issubclass(ERROR_CLASSES[code], nocalhost.NocalhostError)
    assert _native.error_name(-999) == "NH_UNKNOWN"


def test_exceptions_fit_python_hierarchies():
    assert issubclass(nocalhost.NotFound, LookupError)
    assert issubclass(nocalhost.Forbidden, PermissionError)
    assert issubclass(nocalhost.Timeout, TimeoutError)
    assert issubclass(nocalhost.ConnectError, ConnectionError)
    assert issubclass(nocalhost.InvalidArgument, ValueError)
    e = nocalhost.Conflict("stale", int(ErrorCode.ECONFLICT), 409, "Conflict")
    assert (e.code, e.http_status, e.reason, str(e)) == (ErrorCode.ECONFLICT, 409, "Conflict", "stale")
    assert e.code_name == "NH_ECONFLICT"


def test_missing_kubeconfig_is_a_config_error_naming_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(nocalhost.ConfigError) as info:
        nocalhost.Client(missing)
    assert info.value.code == ErrorCode.ECONFIG
    assert "nope.yaml" in str(info.value)


def test_broken_kubeconfig_names_the_problem(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: [\n")
    with pytest.raises(nocalhost.ConfigError, match="broken.yaml"):
        nocalhost.Client(str(path))


def write_kubeconfig(tmp_path, server="https://127.0.0.1:1"):
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
users:
- name: u
  user: {{token: secret-token}}
contexts:
- name: ctx
  context: {{cluster: c, user: u, namespace: team}}
current-context: ctx
"""
    )
    return path


def test_client_reports_what_the_kubeconfig_resolved_to(tmp_path):
    path = write_kubeconfig(tmp_path)
    with nocalhost.Client([path]) as c:
        assert (c.context, c.server, c.namespace) == ("ctx", "https://127.0.0.1:1", "team")
    with nocalhost.Client(path, namespace="other") as c:
        assert c.namespace == "other"
    with pytest.raises(nocalhost.ConfigError):
        nocalhost.Client(path, context="missing")


def test_unreachable_server_raises_connect_error(tmp_path):
    with nocalhost.Client(write_kubeconfig(tmp_path), timeout=5, max_retries=0) as c:
        with pytest.raises(nocalhost.ConnectError) as info:
            c.server_version()
        assert info.value.http_status == 0


def test_dev_start_headers_and_router_reach_the_library(tmp_path):
    # Refused by the library before any request (the server is unreachable): the options arrived.
    common = dict(image="x", ignore_cluster_config=True, mode="duplicate", developer="a@b")
    with nocalhost.Client(write_kubeconfig(tmp_path), timeout=5, max_retries=0) as c:
        with pytest.raises(nocalhost.InvalidArgument, match="HTTP token"):
            c.dev_start("deployment/web", headers=["x dev=a"], **common)
        with pytest.raises(nocalhost.InvalidArgument, match="given twice"):
            c.dev_start("deployment/web", headers={"x-dev": "a", "X-Dev": "b"}, **common)
        with pytest.raises(nocalhost.InvalidArgument, match="auto, istio, gateway-api"):
            c.dev_start("deployment/web", headers=["x-dev=a"], router="linkerd", **common)


def test_close_is_idempotent_and_use_after_close_raises(tmp_path):
    c = nocalhost.Client(write_kubeconfig(tmp_path))
    assert not c.closed
    c.close()
    c.close()
    assert c.closed
    assert "closed" in repr(c)
    for use in (lambda: c.namespace, c.server_version, lambda: c.get("/api")):
        with pytest.raises(nocalhost.InvalidState, match="closed"):
            use()


def test_context_manager_closes(tmp_path):
    with nocalhost.Client(write_kubeconfig(tmp_path)) as c:
        pass
    assert c.closed


def test_cancel_token():
    cancel = nocalhost.Cancel()
    assert not cancel.triggered
    cancel.trigger()
    cancel.trigger()
    assert cancel.triggered
    cancel.reset()
    assert not cancel.triggered


def test_triggered_token_stops_a_call_at_once(tmp_path):
    cancel = nocalhost.Cancel()
    cancel.trigger()
    with nocalhost.Client(write_kubeconfig(tmp_path)) as c:
        with pytest.raises(nocalhost.Cancelled):
            c.server_version(cancel=cancel)


def test_invalid_path_is_invalid_argument(tmp_path):
    with nocalhost.Client(write_kubeconfig(tmp_path)) as c:
        with pytest.raises(nocalhost.InvalidArgument):
            c.get("no-leading-slash")


def test_unreferenced_client_is_freed(tmp_path):
    c = nocalhost.Client(write_kubeconfig(tmp_path))
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None


def test_log_handler_receives_lines_from_other_threads(tmp_path):
    lines = []
    nocalhost.set_log_handler(lambda level, msg: lines.append((level, msg, threading.get_ident())), nocalhost.LogLevel.DEBUG)
    try:
        with nocalhost.Client(write_kubeconfig(tmp_path), timeout=2, max_retries=1) as c:
            with pytest.raises(nocalhost.ConnectError):
                c.server_version()
    finally:
        nocalhost.set_log_handler(None)
    assert any("retrying GET /version" in msg for _, msg, _ in lines), lines
    assert all(level == nocalhost.LogLevel.DEBUG for level, _, _ in lines)
    assert not any("secret-token" in msg for _, msg, _ in lines)


def test_replacing_the_log_handler_while_another_thread_logs_does_not_hang(tmp_path):
    # A line on its way to the handler waits for the GIL; replacing the handler
    # waits until no line is being delivered: it must do so without the GIL.
    script = f"""
import threading, time, nocalhost
stop = threading.Event()
def busy():
    with nocalhost.Client({str(write_kubeconfig(tmp_path))!r}, timeout=2, max_retries=0) as c:
        while not stop.is_set():
            try:
                c.server_version()
            except nocalhost.NocalhostError:
                pass
t = threading.Thread(target=busy)
t.start()
lines = []
end = time.monotonic() + 3
while time.monotonic() < end:
    nocalhost.set_log_handler(lambda level, msg: lines.append(msg), nocalhost.LogLevel.TRACE)
    nocalhost.set_log_handler(None)
nocalhost.set_log_handler(lambda level, msg: lines.append(msg), nocalhost.LogLevel.TRACE)
time.sleep(0.5)
stop.set()
t.join()
nocalhost.set_log_handler(None)
print(len(lines) > 0)
"""
    try:
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("replacing the log handler hung while another thread was logging")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True", r.stdout  # lines did arrive


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_log_handler_exceptions_do_not_break_calls(tmp_path):
    def bad(level, msg):
        raise RuntimeError("handler bug")

    nocalhost.set_log_handler(bad, nocalhost.LogLevel.DEBUG)
    try:
        with nocalhost.Client(write_kubeconfig(tmp_path), timeout=2, max_retries=1) as c:
            with pytest.raises(nocalhost.ConnectError):
                c.server_version()
    finally:
        nocalhost.set_log_handler(None)


def test_dev_options_become_the_c_abi_json():
    from nocalhost import dev

    assert dev._mode(None) == dev._mode("replace") == dev._mode(nocalhost.DevMode.REPLACE) == 0
    assert dev._mode("Duplicate") == dev._mode(1) == 1
    with pytest.raises(ValueError):
        dev._mode("sideways")
    with pytest.raises(ValueError):
        dev._mode(7)
    patches = dev._patches_json(
        [{"type": "json", "patch": [{"op": "add", "path": "/metadata/labels/x", "value": "y"}]}, {"patch": '{"spec":{}}'}]
    )
    # Serialised once: a patch given as a list or dict stays a JSON value, text stays text.
    assert json.loads(patches) == [
        {"type": "json", "patch": [{"op": "add", "path": "/metadata/labels/x", "value": "y"}]},
        {"patch": '{"spec":{}}'},
    ]
    assert dev._patches_json('[{"patch":"{}"}]') == '[{"patch":"{}"}]'
    assert json.loads(dev._json_or_none([{"path": "/root/.m2"}])) == [{"path": "/root/.m2"}]
    assert dev._json_or_none(None) is None
