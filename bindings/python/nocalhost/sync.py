"""File sync: keep a sync server's root (nhsyncd, the dev sidecar) equal to a local directory.

:func:`start_sync` starts a sync of your own to any nhsyncd;
:meth:`Session.start_sync` (or ``dev_start(local_dir=...)``) makes the dev
session forward to its sidecar and sync, and :meth:`Session.sync` returns
that running sync. Both are a :class:`Sync`::

    with nocalhost.start_sync("src", "127.0.0.1:7710", token) as sync:
        sync.flush(timeout=60)
        print(sync.status().files_synced)

The sync runs on its own thread: it scans, watches the directory with
inotify, reconnects with backoff and never loses an edit.
"""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Sequence, Union

from . import _native
from ._enum import NamedIntEnum

if TYPE_CHECKING:
    from .client import Cancel

PathLike = Union[str, "os.PathLike[str]"]


class SyncMode(NamedIntEnum):
    """``nh_sync_mode``: SEND (local is the master) or TWO_WAY (conflicts keep the server's copy beside)."""

    SEND = 0
    TWO_WAY = 1


class SyncCompression(NamedIntEnum):
    """``nh_sync_compression``: AUTO is zstd while the measured link is slow for the compressor."""

    AUTO = 0
    ON = 1
    OFF = 2


class SyncState(NamedIntEnum):
    """``nh_sync_state``."""

    STARTING = 0
    SCANNING = 1
    CONNECTING = 2
    SYNCING = 3
    IDLE = 4
    DISCONNECTED = 5
    PAUSED = 6
    ERROR = 7
    STOPPED = 8


class SyncEventType(NamedIntEnum):
    """``nh_sync_event_type``."""

    STATE = 1
    PROGRESS = 2
    FILE_ERROR = 3
    CONFLICT = 4
    REMOTE_CHANGE = 5


@dataclass(frozen=True)
class SyncStatus:
    """The state and counters of a sync (``nh_sync_status``).

    ``files_done/files_total/bytes_done/bytes_total`` count the current round
    and restart at 0 when the sync becomes idle; the others count since the start.
    ``files_done`` counts files the server acknowledged; ``bytes_done`` counts bytes
    sent, so it moves while a large file is on its way.
    """

    state: SyncState
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    files_synced: int
    file_errors: int
    conflicts: int
    reconnects: int
    #: The last connection or fatal error (an :class:`ErrorCode` value), or 0.
    error_code: int

    @classmethod
    def _of(cls, t: Any) -> "SyncStatus":
        return cls(SyncState(t[0]), *t[1:])


@dataclass(frozen=True)
class SyncEvent:
    """One sync event: a state change, progress, a path that failed or conflicted, a remote change."""

    type: SyncEventType
    #: Relative to the local directory, or "".
    path: str
    #: Details ("" if none); for CONFLICT the conflict copy's name.
    message: str
    #: FILE_ERROR: an :class:`ErrorCode` value; else 0.
    code: int
    status: Optional[SyncStatus]


def sync_options(
    *,
    mode: SyncMode = SyncMode.SEND,
    ignore: Sequence[str] = (),
    include: Sequence[str] = (),
    use_gitignore: bool = False,
    state_dir: Optional[PathLike] = None,
    compression: SyncCompression = SyncCompression.AUTO,
    connect_timeout: Optional[float] = None,
    max_backoff: Optional[float] = None,
    delete_protection: bool = False,
    once: bool = False,
    on_event: Optional[Callable[[SyncEvent], Any]] = None,
) -> Dict[str, Any]:
    """The options of a sync, as passed to the native layer (see :func:`start_sync`)."""
    callback = None
    if on_event is not None:
        callback = lambda t, path, message, code, status: on_event(  # noqa: E731
            SyncEvent(SyncEventType(t), path, message, code, SyncStatus._of(status) if status else None)
        )
    return {
        "mode": int(mode),
        "ignore": list(ignore),
        "include": list(include),
        "use_gitignore": use_gitignore,
        "state_dir": os.fspath(state_dir) if state_dir is not None else None,
        "compression": int(compression),
        "connect_timeout_ms": 0 if connect_timeout is None else max(1, int(connect_timeout * 1000)),
        "max_backoff_ms": 0 if max_backoff is None else max(1, int(max_backoff * 1000)),
        "delete_protection": bool(delete_protection),
        "once": bool(once),
        "on_event": callback,
    }


class Sync:
    """A running sync (``nh_sync``): status, flush, pause/resume, stop.

    A sync of your own (:func:`start_sync`) is stopped by :meth:`stop` or
    :meth:`close`; a dev session's (:meth:`Session.sync`) by
    :meth:`Session.stop_sync` (its own :meth:`close` only drops the reference).
    """

    def __init__(self, native: Any, events: Optional["queue.Queue[Any]"] = None) -> None:
        self._native = native
        self._events = events

    def status(self) -> SyncStatus:
        """The current state and counters."""
        return SyncStatus._of(self._native.status())

    @property
    def state(self) -> SyncState:
        return self.status().state

    @property
    def last_error(self) -> str:
        """The message of the last connection or fatal error ("" if none)."""
        return self._native.last_error()

    def flush(self, timeout: Optional[float] = None, *, cancel: Optional["Cancel"] = None) -> None:
        """Block until every change made before the call (and the first full sync) is durable on the server.

        Raises :class:`Timeout`, :class:`Cancelled` (``cancel``, Ctrl-C),
        :class:`InvalidState` (stopped), the fatal error (e.g.
        :class:`Unauthorized` for a wrong token), or what ``on_event`` raised.
        Files the server refused don't make it fail: see ``status().file_errors``.
        """
        self._native.flush(-1 if timeout is None else max(0, int(timeout * 1000)), cancel)

    def pause(self) -> None:
        """Stop sending (and, two-way, applying) changes; they are kept."""
        self._native.pause()

    def resume(self) -> None:
        """Resume after :meth:`pause`; what changed meanwhile is synced."""
        self._native.resume()

    def stop(self) -> None:
        """Stop the sync and save its index (the next start resumes from it). Idempotent."""
        self._native.stop()

    def events(self, timeout: Optional[float] = None) -> Iterator[SyncEvent]:
        """The events of a sync started with ``events=True``, as they come; ends after ``timeout``
        seconds without one, or when the sync is closed."""
        if self._events is None:
            raise ValueError("start the sync with events=True to iterate over its events")
        while not self.closed:
            try:
                yield self._events.get(timeout=0.1 if timeout is None else timeout)
            except queue.Empty:
                if timeout is not None:
                    return

    def close(self) -> None:
        """Stop (own sync) and release. Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Sync":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<nocalhost.Sync closed>"
        return f"<nocalhost.Sync {self.state.name.lower()}>"


def start_sync(
    local_dir: PathLike,
    address: str,
    token: str,
    *,
    events: bool = False,
    on_event: Optional[Callable[[SyncEvent], Any]] = None,
    **options: Any,
) -> Sync:
    """Start syncing ``local_dir`` to the nhsyncd at ``address`` ("host:port"), authenticating with ``token``.

    Returns at once; the first full sync happens in the background (see
    :meth:`Sync.flush`). Options (keywords): ``mode`` (:class:`SyncMode`),
    ``ignore`` and ``include`` (gitignore-syntax patterns), ``use_gitignore``,
    ``state_dir`` (where the index is kept), ``compression``,
    ``connect_timeout`` and ``max_backoff`` (seconds), ``delete_protection``
    (two-way only: a deletion made on the server never deletes the local
    file; the local copy is sent back, reported as a REMOTE_CHANGE event
    whose message says "delete protection"), ``once`` (a one-shot sync: the
    tree as it is now, nothing watched; flush, then stop). ``on_event(SyncEvent)``
    is called on the sync's own thread (it must not stop the sync);
    ``events=True`` queues them for :meth:`Sync.events` instead.
    Raises :class:`InvalidArgument`, :class:`LocalIOError` (``local_dir`` unreadable).
    """
    q: Optional["queue.Queue[Any]"] = None
    if events:
        if on_event is not None:
            raise ValueError("give on_event or events=True, not both")
        q = queue.Queue()
        on_event = q.put
    spec = sync_options(on_event=on_event, **options)
    return Sync(_native.sync_start(os.fspath(local_dir), address, token, spec), q)
