"""Dev mode: put a Deployment or StatefulSet into dev mode and back (``Client.dev_*``)."""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Mapping, Optional, Sequence, Union

from . import _native
from .sync import PathLike, Sync, SyncEvent, sync_options

if TYPE_CHECKING:
    from .client import Cancel, Client

DEFAULT_WORKDIR: str = _native.DEV_DEFAULT_WORKDIR
DEFAULT_SYNC_PORT: int = _native.DEV_DEFAULT_SYNC_PORT


def default_sidecar_image() -> str:
    """The sync sidecar's image used when none is given."""
    return _native.dev_default_sidecar_image()


class DevEventType(enum.IntEnum):
    """The values of ``nh_dev_event_type``."""

    PHASE = 1
    POD = 2
    WARNING = 3
    INFO = 4


class DevEndResult(enum.IntEnum):
    """What :meth:`Client.dev_end` did (``nh_dev_end_result``)."""

    NOT_IN_DEV_MODE = 0
    RESTORED = 1
    RESTORED_OVERWRITING = 2
    WORKLOAD_GONE = 3


@dataclass(frozen=True)
class DevEvent:
    """Progress of a start or an end: a phase ("lock", "patch", "wait", ...), a message, facts as JSON."""

    type: DevEventType
    phase: str
    message: str
    detail: Optional[Any]


def _ms(seconds: Optional[float]) -> int:
    return 0 if seconds is None else max(1, int(seconds * 1000))


def _event_adapter(on_event: Optional[Callable[[DevEvent], Any]]):
    if on_event is None:
        return None
    return lambda t, phase, message, detail: on_event(
        DevEvent(DevEventType(t), phase, message, json.loads(detail) if detail else None)
    )


class Session:
    """A workload in dev mode as seen when started, attached or refreshed.

    Closing the handle does not end dev mode (use :meth:`end` or
    :meth:`Client.dev_end`). It keeps its client alive. ``token`` is a secret:
    never log it.
    """

    def __init__(self, client: "Client", native: Any) -> None:
        self._client = client
        self._native = native

    kind = property(lambda self: self._native.kind, doc="'Deployment' or 'StatefulSet'.")
    name = property(lambda self: self._native.name)
    namespace = property(lambda self: self._native.namespace)
    pod = property(lambda self: self._native.pod_name, doc="The dev pod's name; '' when none exists right now.")
    container = property(lambda self: self._native.container, doc="The dev container's name.")
    sidecar_container = property(lambda self: self._native.sidecar_container)
    workdir = property(lambda self: self._native.workdir)
    owner = property(lambda self: self._native.owner)
    since = property(lambda self: self._native.since, doc="When the session started (RFC 3339).")
    sync_port = property(lambda self: self._native.sync_port)
    token = property(lambda self: self._native.token, doc="The sidecar's sync token: a secret.")

    @property
    def client(self) -> "Client":
        return self._client

    def status(self) -> dict:
        """The session's state, as :meth:`Client.dev_status` reports it, without a request."""
        return json.loads(self._native.status())

    def sync(self) -> Optional[Sync]:
        """The session's running sync (started by ``dev_start(local_dir=...)`` or :meth:`start_sync`), or None."""
        native = self._native.sync()
        return None if native is None else Sync(native)

    def start_sync(
        self,
        local_dir: PathLike,
        *,
        timeout: Optional[float] = None,
        on_event: Optional[Callable[[DevEvent], Any]] = None,
        cancel: Optional["Cancel"] = None,
        sync_events: Optional[Callable[[SyncEvent], Any]] = None,
        **sync_opts: Any,
    ) -> Sync:
        """Forward to the session's sync sidecar, sync ``local_dir`` into the work dir, and wait for the first full sync.

        ``on_event`` gets the phases "forward", "sync" and "synced";
        ``sync_events`` the sync's own events afterwards; other keywords are
        the options of :func:`start_sync`. ``timeout`` (default 5 minutes)
        limits the first sync. Raises :class:`InvalidState` (already
        syncing), :class:`Unauthorized` (the sidecar refused the token),
        :class:`Timeout`, :class:`Cancelled`. Returns :meth:`sync`.
        """
        self._native.start_sync(
            self._client._native,  # type: ignore[attr-defined]
            os.fspath(local_dir),
            sync_options(on_event=sync_events, **sync_opts),
            _ms(timeout),
            _event_adapter(on_event),
            cancel,
        )
        sync = self.sync()
        assert sync is not None
        return sync

    def stop_sync(self) -> None:
        """Stop the session's sync (its index is saved) and its port-forward. Dev mode stays on. Idempotent."""
        self._native.stop_sync()

    def refresh(self, *, cancel: Optional["Cancel"] = None) -> None:
        """Look for the dev pod again (e.g. after it restarted)."""
        self._native.refresh(cancel)

    def exec(self, argv: Sequence[str], **kwargs: Any):
        """Run a command in the dev container (see :meth:`Client.exec`)."""
        kwargs.setdefault("container", self.container)
        return self._client.exec(f"{self.kind.lower()}/{self.name}", argv, namespace=self.namespace, **kwargs)

    def end(self, **kwargs: Any) -> DevEndResult:
        """End dev mode for this workload (see :meth:`Client.dev_end`) and close the handle."""
        result = self._client.dev_end(self.kind, self.name, namespace=self.namespace, **kwargs)
        self.close()
        return result

    def close(self) -> None:
        """Stop the session's sync, if any, and release the handle (dev mode stays on). Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<nocalhost.Session closed>"
        return f"<nocalhost.Session {self.kind}/{self.name} namespace={self.namespace!r} pod={self.pod!r}>"


class DevModeMixin:
    """Dev-mode methods of :class:`Client`."""

    _native: Any

    def dev_start(
        self,
        kind: str,
        name: str,
        *,
        image: str,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        workdir: Optional[str] = None,
        env: Union[None, Mapping[str, str], Sequence[str]] = None,
        resources: Optional[dict] = None,
        sidecar_image: Optional[str] = None,
        sync_port: Optional[int] = None,
        timeout: Optional[float] = None,
        rollback_on_failure: bool = True,
        owner: Optional[str] = None,
        lease_duration: Optional[int] = None,
        on_event: Optional[Callable[[DevEvent], Any]] = None,
        cancel: Optional["Cancel"] = None,
        local_dir: Optional[PathLike] = None,
        sync: Optional[Mapping[str, Any]] = None,
        sync_events: Optional[Callable[[SyncEvent], Any]] = None,
    ) -> Session:
        """Put a workload ("deployment"/"statefulset") into dev mode and wait until its dev pod is ready.

        With ``local_dir``, also forward to the sync sidecar and sync that
        directory into the work dir, returning once the first full sync is
        acknowledged (``on_event`` then also reports "forward", "sync" and
        "synced"); the session owns that sync (:meth:`Session.sync`).
        ``sync`` holds the options of :func:`start_sync` (``mode``,
        ``ignore``, ...), ``sync_events`` receives the sync's events.

        ``on_event(DevEvent)`` reports progress (on the calling thread's
        helper); returning a true value or raising stops the start, which
        then rolls back. Raises :class:`Busy` when someone else holds it,
        :class:`NotFound`, :class:`Forbidden`, :class:`Timeout`,
        :class:`Cancelled` (Ctrl-C too), or :class:`NocalhostError` when the
        dev pod cannot start; after a failure the workload is rolled back.
        """
        if isinstance(env, Mapping):
            env_list: List[str] = [f"{k}={v}" for k, v in env.items()]
        else:
            env_list = list(env or [])
        native = _native.dev_start(
            self._native,
            kind,
            name,
            namespace,
            container,
            image,
            workdir,
            env_list,
            json.dumps(resources) if resources is not None else None,
            sidecar_image,
            sync_port or 0,
            _ms(timeout),
            rollback_on_failure,
            owner,
            lease_duration or 0,
            _event_adapter(on_event),
            None if local_dir is None else os.fspath(local_dir),
            None if local_dir is None else sync_options(on_event=sync_events, **dict(sync or {})),
            cancel,
        )
        return Session(self, native)  # type: ignore[arg-type]

    def dev_end(
        self,
        kind: str,
        name: str,
        *,
        namespace: Optional[str] = None,
        owner: Optional[str] = None,
        timeout: Optional[float] = None,
        lease_duration: Optional[int] = None,
        on_event: Optional[Callable[[DevEvent], Any]] = None,
        cancel: Optional["Cancel"] = None,
    ) -> DevEndResult:
        """End dev mode: restore the original workload in place. Idempotent; works from any process."""
        return DevEndResult(
            _native.dev_end(
                self._native, kind, name, namespace, owner, _ms(timeout), lease_duration or 0,
                _event_adapter(on_event), cancel,
            )
        )

    def dev_status(self, kind: str, name: str, *, namespace: Optional[str] = None, cancel: Optional["Cancel"] = None) -> dict:
        """The dev-mode status of one workload (``{"dev_mode": bool, ...}``)."""
        return json.loads(_native.dev_status(self._native, kind, name, namespace, cancel))

    def dev_list(
        self, *, namespace: Optional[str] = None, all_namespaces: bool = False, cancel: Optional["Cancel"] = None
    ) -> list:
        """Every workload in dev mode in the namespace (or all namespaces)."""
        return json.loads(_native.dev_list(self._native, namespace, all_namespaces, cancel))

    def dev_attach(
        self, kind: str, name: str, *, namespace: Optional[str] = None, cancel: Optional["Cancel"] = None
    ) -> Session:
        """The session of a workload already in dev mode (raises :class:`NotFound` otherwise)."""
        return Session(self, _native.dev_attach(self._native, kind, name, namespace, cancel))  # type: ignore[arg-type]
