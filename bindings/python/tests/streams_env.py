"""Helpers for the stream and sync tests: local servers kwok forwards to, nhsyncd, waiting for pods."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    """A loopback TCP server echoing what it receives, on its own threads."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def nhsyncd_path() -> str:
    """NH_NHSYNCD, else the release build's nhsyncd."""
    path = os.environ.get("NH_NHSYNCD") or str(REPO / "build" / "tools" / "nhsyncd" / "nhsyncd")
    if not os.access(path, os.X_OK):
        pytest.fail(f"nhsyncd not found at {path}: build it (ninja -C build) or set NH_NHSYNCD")
    return path


class Nhsyncd:
    """A local nhsyncd serving `root` on 127.0.0.1:port."""

    def __init__(self, root: Path, token: str, port: Optional[int] = None, argv: Optional[List[str]] = None,
                 env: Optional[dict] = None) -> None:
        self.port = port or free_port()
        root.mkdir(parents=True, exist_ok=True)
        if argv is None:
            token_file = root.parent / f"token-{self.port}"
            token_file.write_text(token)
            argv = [nhsyncd_path(), "--root", str(root), "--listen", f"127.0.0.1:{self.port}",
                    "--token-file", str(token_file)]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nhsyncd exited: {self.proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nhsyncd did not listen within 20 s")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_for(predicate: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
