"""The per-user agent through the Python binding: a session's sync handed to the agent, read and
stopped from another process, taken back; a port below 1024 refused. As in test_sync.py, kwok
runs no containers: the test plays the kubelet for the sync sidecar (a real nhsyncd)."""

import json
import subprocess
import sys
import threading

import pytest

import nocalhost

from streams_env import wait_for
from test_sync import dirs, loop_ns, start_sidecar  # noqa: F401 - fixtures


@pytest.fixture
def agent_dir(tmp_path, monkeypatch):
    d = tmp_path / "agent"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("NH_AGENT_GRACE_MS", "1000")
    yield d
    info = nocalhost.agent.info(dir=d)
    if info.get("running"):
        import os
        import signal

        os.kill(info["pid"], signal.SIGKILL)


def other_process(code: str) -> str:
    """`code` run by another Python process (the agent is per user, not per process)."""
    # (From /, so that the installed package is imported, not this checkout's sources.)
    out = subprocess.run([sys.executable, "-c", "import json, sys, nocalhost\n" + code], capture_output=True, text=True,
                         timeout=120, cwd="/")
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_local_port_below_1024_is_refused_and_nothing_starts(tmp_path, agent_dir):
    kc = tmp_path / "kubeconfig"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                  "users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                  "current-context: x\n")
    with nocalhost.Client(str(kc)) as client:
        with pytest.raises(nocalhost.InvalidArgument, match="below 1024"):
            client.agent_forward("deployment/web", ["80:8080"], dir=agent_dir)
    assert nocalhost.agent.list(dir=agent_dir) == []
    assert nocalhost.agent.info(dir=agent_dir)["running"] is False


def test_a_detached_sync_is_read_and_stopped_from_another_process_and_taken_back(kubeconfig, loop_ns, dirs, agent_dir):
    ns, port = loop_ns
    src, root, state = dirs
    with nocalhost.Client(kubeconfig, namespace=ns, timeout=15) as client:
        result = {}

        def start():
            try:
                result["session"] = client.dev_start(
                    "deployment", "web", image="registry.example/dev:1", timeout=120, local_dir=src,
                    sidecar_image="registry.example/nhsyncd:test", sync={"state_dir": state, "ignore": ["*.log"]})
            except BaseException as e:  # noqa: BLE001
                result["error"] = e

        starter = threading.Thread(target=start)
        starter.start()
        sidecar = start_sidecar(client, ns, port, root)
        try:
            starter.join(150)
            assert "error" not in result, result.get("error")
            session = result["session"]

            item = session.detach(dir=agent_dir)
            assert item.startswith("s-")
            assert session.sync() is None
            (src / "by-agent.txt").write_text("agent\n")
            wait_for(lambda: (root / "by-agent.txt").exists(), 30, "the agent's sync of a new file")
            # The settings went along: still ignoring *.log.
            (src / "more.log").write_text("ignored\n")

            status = json.loads(other_process(
                f"print(json.dumps(nocalhost.agent.status({item!r}, dir={str(agent_dir)!r})))"))
            assert status["type"] == "sync" and status["name"] == "web" and status["local_dir"] == str(src)
            assert status["state"] in ("idle", "syncing"), status
            for key in ("files_done", "files_total", "bytes_done", "bytes_total", "out_of_sync", "conflicts",
                        "last_sync", "message"):
                assert key in status, key

            # Taken back into this process, from the index the agent saved.
            back = client.agent_reattach(item, dir=agent_dir)
            assert nocalhost.agent.list(dir=agent_dir) == []
            (src / "back.txt").write_text("back\n")
            back.sync().flush(timeout=60)
            assert (root / "back.txt").read_text() == "back\n"
            assert not (root / "more.log").exists()
            assert back.sync().status().files_synced <= 2

            # Handed over again, and stopped from another process.
            item = back.detach(dir=agent_dir)
            other_process(f"nocalhost.agent.stop({item!r}, dir={str(agent_dir)!r})")
            assert nocalhost.agent.list(dir=agent_dir) == []
            with pytest.raises(nocalhost.NotFound):
                nocalhost.agent.status(item, dir=agent_dir)
            assert back.end() == nocalhost.DevEndResult.RESTORED
        finally:
            sidecar.close()
