"""Streams: commands in containers, interactive sessions, port-forwards and target resolution.

``Client.exec`` runs a command to completion; ``Client.exec_start`` starts
an interactive one (:class:`Exec`: write its stdin, read its output, resize
its terminal); ``Client.port_forward`` forwards local ports to a pod
(:class:`PortForward`); ``Client.resolve_target`` names the pod they use.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native
from ._enum import NamedIntEnum
from .errors import Timeout

if TYPE_CHECKING:
    from .client import Cancel


@dataclass(frozen=True)
class ExecResult:
    """How a command ended: its exit code and its output."""

    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        """stdout as text."""
        return self.stdout.decode()


def _ms(seconds: Optional[float]) -> int:
    return 0 if seconds is None else max(1, int(seconds * 1000))


def _wait_ms(seconds: Optional[float]) -> int:
    """A wait's timeout: None waits without limit (-1)."""
    return -1 if seconds is None else max(0, int(seconds * 1000))


class ExecStream(NamedIntEnum):
    """Which output a chunk of an interactive command came from (``nh_exec_stream``)."""

    STDOUT = 1
    STDERR = 2


_END = object()


class Exec:
    """A running interactive command (``nh_exec``), from :meth:`Client.exec_start`.

    Write to its stdin with :meth:`write`; end its input with
    :meth:`close_stdin`; tell its terminal the window size with
    :meth:`resize`; wait for its exit code with :meth:`wait`. Unless the
    start was given ``on_output``, the output is kept for :meth:`read`,
    :meth:`read_until` and iteration (``for stream, data in proc``).
    Closing (or leaving the ``with`` block) stops the command.
    """

    def __init__(self, native: Any, buffered: Optional["queue.Queue[Any]"]) -> None:
        self._native = native
        self._queue = buffered
        self._pending: List[Tuple[ExecStream, bytes]] = []
        self._exit_code: Optional[int] = None

    @property
    def pod(self) -> str:
        """The pod the command runs in."""
        return self._native.pod

    @property
    def protocol(self) -> str:
        """The stream protocol the server chose, e.g. ``"v5.channel.k8s.io"``."""
        return self._native.protocol

    def write(self, data: Union[str, bytes]) -> None:
        """Send ``data`` to the command's stdin (the start needs ``stdin=True``). Thread-safe.

        Raises :class:`InvalidState` once stdin is closed or the command ended.
        """
        self._native.write(data.encode() if isinstance(data, str) else bytes(data))

    def close_stdin(self) -> None:
        """End the command's input. Raises :class:`Unsupported` when the server speaks only v4.channel.k8s.io."""
        self._native.close_stdin()

    def resize(self, width: int, height: int) -> None:
        """Tell the command's terminal its new size (``tty=True`` sessions)."""
        self._native.resize(width, height)

    def wait(self, timeout: Optional[float] = None, *, cancel: Optional["Cancel"] = None) -> int:
        """Wait for the command to end and return its exit code.

        Raises :class:`Timeout` when ``timeout`` seconds pass first (the
        command keeps running; call again), :class:`Cancelled` (``cancel``,
        Ctrl-C; the command keeps running until :meth:`close`), what the
        ``on_output`` callback raised, or the error that ended the session.
        """
        if self._exit_code is None or self._native.closed:  # (after close(): InvalidState)
            self._exit_code = self._native.wait(_wait_ms(timeout), cancel)
        return self._exit_code

    def _next(self, timeout: Optional[float]) -> Optional[Tuple[ExecStream, bytes]]:
        """The next chunk; None at the end of the output; raises queue.Empty on timeout."""
        if self._queue is None:
            raise ValueError("this command's output goes to its on_output callback")
        if self._pending:
            return self._pending.pop(0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._ended():
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        return None
                elif deadline is not None and time.monotonic() >= deadline:
                    raise
                else:
                    continue
            return (ExecStream(item[0]), item[1])

    def _ended(self) -> bool:
        if self._exit_code is not None or self._native.closed:
            return True
        try:
            self.wait(0)
            return True
        except Timeout:
            return False

    def read(self, timeout: Optional[float] = None) -> Optional[Tuple[ExecStream, bytes]]:
        """The next chunk of output as ``(stream, data)``, or None once the command ended and all was read.

        Raises :class:`Timeout` when nothing arrives within ``timeout`` seconds.
        """
        try:
            return self._next(timeout)
        except queue.Empty:
            raise Timeout(f"no output within {timeout} s", -7) from None

    def read_until(
        self, expected: Union[str, bytes], timeout: Optional[float] = None, *, stream: ExecStream = ExecStream.STDOUT
    ) -> bytes:
        """Read ``stream`` until ``expected`` appears; returns what was read, up to and including it.

        Output of the other stream read meanwhile is kept for :meth:`read`.
        Raises :class:`Timeout`, or EOFError when the command ended first.
        """
        want = expected.encode() if isinstance(expected, str) else expected
        deadline = None if timeout is None else time.monotonic() + timeout
        got = b""
        others: List[Tuple[ExecStream, bytes]] = []
        try:
            while want not in got:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                chunk = self.read(left)
                if chunk is None:
                    raise EOFError(f"the command ended before {expected!r}; got {got!r}")
                if chunk[0] == stream:
                    got += chunk[1]
                else:
                    others.append(chunk)
        finally:
            self._pending[:0] = others
        end = got.index(want) + len(want)
        if end < len(got):
            self._pending.insert(0, (stream, got[end:]))
        return got[:end]

    def __iter__(self) -> Iterator[Tuple[ExecStream, bytes]]:
        while True:
            chunk = self._next(None)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        """Stop the command if it still runs and release the session. Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Exec":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<nocalhost.Exec pod={self.pod!r}{' closed' if self.closed else ''}>"


class ForwardEventType(NamedIntEnum):
    """The values of ``nh_forward_event_type``."""

    CONNECTED = 1
    CLOSED = 2
    ERROR = 3
    POD_LOST = 4
    RECONNECTED = 5


@dataclass(frozen=True)
class ForwardEvent:
    """What happened to a forwarded connection (ports are 0 for events about the pod)."""

    type: ForwardEventType
    pod: str
    local_port: int
    remote_port: int
    message: str


class PortForward:
    """Local ports forwarded to a pod (``nh_forward``), from :meth:`Client.port_forward`.

    Serves connections on its own threads until closed. ``local_ports``
    lists the local port of each requested port (useful with ``"0:80"``).
    """

    def __init__(self, native: Any) -> None:
        self._native = native

    @property
    def local_ports(self) -> List[int]:
        return list(self._native.local_ports)

    @property
    def local_port(self) -> int:
        """The local port of the first requested port."""
        return self._native.local_ports[0]

    @property
    def pod(self) -> str:
        """The pod connections currently go to."""
        return self._native.pod()

    def wait(self, timeout: Optional[float] = None, *, cancel: Optional["Cancel"] = None) -> None:
        """Block until forwarding ends and raise what ended it (:class:`Forbidden`, ...).

        Raises :class:`Timeout` when ``timeout`` seconds pass first
        (forwarding goes on), :class:`Cancelled` (``cancel``, Ctrl-C;
        forwarding goes on until :meth:`close`), or what ``on_event`` raised.
        """
        self._native.wait(_wait_ms(timeout), cancel)

    def close(self) -> None:
        """Stop forwarding and close every connection. Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "PortForward":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<nocalhost.PortForward closed>"
        return f"<nocalhost.PortForward local_ports={self.local_ports}>"


class ReverseEventType(NamedIntEnum):
    """The values of ``nh_reverse_event_type``."""

    CONNECTED = 1
    CLOSED = 2
    ERROR = 3
    POD_LOST = 4
    RECONNECTED = 5


@dataclass(frozen=True)
class ReverseEvent:
    """What happened to a reverse-forwarded connection (ports are 0 for events about the tunnel)."""

    type: ReverseEventType
    pod: str
    remote_port: int
    local_port: int
    message: str


class ReverseForward:
    """Listeners in a dev pod carried back to local ports (``nh_reverse``), from
    :meth:`Client.reverse_forward`. Keeps its tunnel up until closed, following the
    workload to its new dev pod."""

    def __init__(self, native: Any) -> None:
        self._native = native

    @property
    def pod(self) -> str:
        """The dev pod the tunnel goes to now ("" while it is opened again)."""
        return self._native.pod()

    def wait(self, timeout: Optional[float] = None, *, cancel: Optional["Cancel"] = None) -> None:
        """Block until reverse forwarding ends and raise what ended it.

        Raises :class:`Timeout` when ``timeout`` seconds pass first (it goes
        on), :class:`Cancelled` (``cancel``, Ctrl-C), or what ``on_event`` raised.
        """
        self._native.wait(_wait_ms(timeout), cancel)

    def close(self) -> None:
        """Close the tunnel, the pod's listeners and every connection. Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "ReverseForward":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<nocalhost.ReverseForward{' closed' if self.closed else ''}>"


class StreamMixin:
    """Stream methods of :class:`Client`."""

    _native: Any

    def resolve_target(self, target: str, *, namespace: Optional[str] = None, cancel: Optional["Cancel"] = None) -> str:
        """The pod that streams to ``target`` ("deployment/web", "pod/p", "p") would use."""
        return _native.target_resolve(self._native, namespace, target, cancel)

    def exec(
        self,
        target: str,
        argv: Sequence[str],
        *,
        stdin: Union[None, str, bytes] = None,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        tty: bool = False,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> ExecResult:
        """Run ``argv`` (no shell) in the target's container and wait for it to end.

        A non-zero exit code is no error: check ``result.exit_code``. Raises
        :class:`NotFound`, :class:`Invalid` (no such container),
        :class:`Forbidden`, :class:`Cancelled` (Ctrl-C too), ...
        """
        data = stdin.encode() if isinstance(stdin, str) else stdin
        timeout_ms = 0 if timeout is None else max(1, int(timeout * 1000))
        code, out, err = _native.exec_run(
            self._native, target, list(argv), data, namespace, container, tty, timeout_ms, cancel
        )
        return ExecResult(code, out, err)

    def exec_start(
        self,
        target: str,
        argv: Sequence[str],
        *,
        stdin: bool = True,
        tty: bool = False,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        on_output: Optional[Callable[[ExecStream, bytes], Any]] = None,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Exec:
        """Start ``argv`` (no shell) in the target's container and return at once with an :class:`Exec`.

        ``tty=True`` allocates a terminal (then stderr arrives as stdout).
        ``on_output(stream, data)`` receives the output on the session's own
        thread, in order (returning a true value or raising stops the
        command; :meth:`Exec.wait` re-raises); without it the output is kept
        for :meth:`Exec.read`. ``timeout`` limits connecting; ``cancel`` (and
        Ctrl-C) stops connecting.
        """
        buffered: Optional["queue.Queue[Any]"] = None
        callback: Optional[Callable[[int, bytes], Any]]
        if on_output is None:
            buffered = queue.Queue()
            callback = lambda stream, data: buffered.put((stream, data))  # noqa: E731
        else:
            callback = lambda stream, data: on_output(ExecStream(stream), data)  # noqa: E731
        native = _native.exec_start(
            self._native, target, list(argv), namespace, container, tty, stdin, _ms(timeout), callback, cancel
        )
        return Exec(native, buffered)

    def port_forward(
        self,
        target: str,
        ports: Union[str, int, Sequence[Union[str, int]]],
        *,
        namespace: Optional[str] = None,
        address: Optional[str] = None,
        follow: bool = True,
        on_event: Optional[Callable[[ForwardEvent], Any]] = None,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> PortForward:
        """Forward local ports to the target's pod, like ``kubectl port-forward``.

        ``ports``: "LOCAL:REMOTE" ("8080:80"), ":REMOTE" or "0:REMOTE" (a free
        local port: see :attr:`PortForward.local_ports`), or a port number
        (the same on both sides). Listens on ``address`` (default 127.0.0.1).
        ``follow``: when the pod goes away, forward new connections to the
        target's new pod. ``on_event(ForwardEvent)`` is called from the
        forwarder's threads; raising in it stops forwarding. Returns once
        every port is bound; raises :class:`Busy` when a local port is taken.
        """
        if isinstance(ports, (str, int)):
            ports = [ports]
        callback = None
        if on_event is not None:
            callback = lambda t, pod, lp, rp, msg: on_event(  # noqa: E731
                ForwardEvent(ForwardEventType(t), pod, lp, rp, msg)
            )
        native = _native.forward_start(
            self._native, target, [str(p) for p in ports], namespace, address, _ms(timeout), follow, callback, cancel
        )
        return PortForward(native)

    def reverse_forward(
        self,
        kind: str,
        name: str,
        ports: Union[str, int, Sequence[Union[str, int]]],
        *,
        namespace: Optional[str] = None,
        mode: int = 0,
        developer: Optional[str] = None,
        address: Optional[str] = None,
        syncd_dir: Optional[str] = None,
        on_event: Optional[Callable[[ReverseEvent], Any]] = None,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> ReverseForward:
        """Listen in the dev pod of ``kind``/``name`` (in dev mode) and carry each
        connection back to a local port, like ``nh reverse-forward``.

        ``ports``: "REMOTE:LOCAL" ("5678:5678") or a port number (the same on
        both sides). The listeners bind ``address`` in the pod (default
        127.0.0.1). ``mode`` and ``developer`` pick the session (``DevMode``).
        ``on_event(ReverseEvent)`` is called from the tunnel's thread; raising
        in it stops forwarding. Returns once every listener is bound in the pod.
        """
        if isinstance(ports, (str, int)):
            ports = [ports]
        callback = None
        if on_event is not None:
            callback = lambda t, pod, rp, lp, msg: on_event(  # noqa: E731
                ReverseEvent(ReverseEventType(t), pod, rp, lp, msg)
            )
        native = _native.reverse_start(
            self._native, kind, name, [str(p) for p in ports], namespace, int(mode), developer, address,
            _ms(timeout), syncd_dir, callback, cancel,
        )
        return ReverseForward(native)
