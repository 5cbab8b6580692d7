"""Streams: commands in containers and target resolution (``Client.exec``, ``Client.resolve_target``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from . import _native

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
