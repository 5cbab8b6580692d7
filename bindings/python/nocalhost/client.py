"""The cluster client: raw API requests, the server version and watches."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from . import _native
from ._enum import NamedIntEnum
from .dev import DevModeMixin
from .errors import InvalidArgument
from .app import AppMixin
from .space import SpaceMixin
from .stream import StreamMixin
from .tree import Feed, TreeMixin
from .ide import IdeMixin

Cancel = _native.Cancel

JSONBody = Union[None, str, bytes, dict, list]
PathLike = Union[str, "os.PathLike[str]"]


def _ms(seconds: Optional[float]) -> int:
    return 0 if seconds is None else max(1, int(seconds * 1000))


def _encode(body: JSONBody) -> Optional[bytes]:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class WatchEventType(NamedIntEnum):
    """The values of ``nh_watch_event_type``."""

    ADDED = 1
    MODIFIED = 2
    DELETED = 3
    #: The watch fell behind (410 Gone) and listed again: ``object`` is the full list.
    RELISTED = 4


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: its type and the object's JSON (parsed on first use of ``object``)."""

    type: WatchEventType
    raw: str = field(repr=False)

    @property
    def object(self) -> Any:
        return json.loads(self.raw)


@dataclass(frozen=True)
class Response:
    """The answer to :meth:`Client.request`."""

    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client(DevModeMixin, StreamMixin, TreeMixin, IdeMixin, SpaceMixin, AppMixin):
    """A connection to one cluster, as a kubeconfig context describes it.

    ``kubeconfig`` is a path or a list of paths (merged like ``KUBECONFIG``);
    ``None`` follows kubectl's rules ($KUBECONFIG, ~/.kube/config, in-cluster).
    ``kubeconfig_data`` is the kubeconfig as text held in memory instead.
    ``context`` and ``namespace`` default to the kubeconfig's. ``timeout`` is
    the per-request timeout in seconds (default 30; watches are not bound by
    it). Loading errors raise :class:`ConfigError` or :class:`TLSError`; no
    request is made until a method needs one.

    Use it as a context manager or call :meth:`close`; ``close()`` is
    idempotent, cancels calls still running on other threads, and any use
    afterwards raises :class:`InvalidState`.
    """

    def __init__(
        self,
        kubeconfig: Union[None, PathLike, Sequence[PathLike]] = None,
        context: Optional[str] = None,
        namespace: Optional[str] = None,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        user_agent: Optional[str] = None,
        kubeconfig_data: Optional[str] = None,
    ) -> None:
        if kubeconfig is not None and not isinstance(kubeconfig, (str, os.PathLike)):
            kubeconfig = os.pathsep.join(os.fspath(p) for p in kubeconfig)
        elif kubeconfig is not None:
            kubeconfig = os.fspath(kubeconfig)
        if kubeconfig_data is not None and kubeconfig is not None:
            raise InvalidArgument("give the kubeconfig as a path or as kubeconfig_data, not both")
        self._native = _native.Client(
            kubeconfig, context, namespace, _ms(timeout), -1 if max_retries is None else max_retries, user_agent,
            kubeconfig_data,
        )
        # The agent makes a client of its own and needs the text again (the library keeps none).
        self._kubeconfig_data = kubeconfig_data
        #: The kubeconfig path(s) as given (None: the defaults, or kubeconfig_data), for associations.
        self._kubeconfig = kubeconfig

    # -- lifetime -----------------------------------------------------------

    def close(self) -> None:
        """Release the client. Idempotent; calls running on other threads are cancelled."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<nocalhost.Client closed>"
        return f"<nocalhost.Client context={self.context!r} server={self.server!r} namespace={self.namespace!r}>"

    # -- what the kubeconfig resolved to -----------------------------------

    @property
    def namespace(self) -> str:
        """The namespace in effect."""
        return self._native.namespace

    @property
    def server(self) -> str:
        """The API server URL in effect."""
        return self._native.server

    @property
    def context(self) -> str:
        """The kubeconfig context in effect ("" in-cluster)."""
        return self._native.context

    # -- requests -----------------------------------------------------------

    def server_version(self, *, cancel: Optional[Cancel] = None) -> dict:
        """The server's ``/version`` object, e.g. ``{"gitVersion": "v1.30.0", ...}``."""
        return json.loads(self._native.server_version(cancel))

    def request(
        self,
        method: str,
        path: str,
        body: JSONBody = None,
        *,
        content_type: Optional[str] = None,
        timeout: Optional[float] = None,
        cancel: Optional[Cancel] = None,
    ) -> Response:
        """Send one request to the API server and return its 2xx answer.

        ``body`` may be bytes, text, or a dict/list sent as JSON. Any other
        status raises the matching :class:`NocalhostError` subclass (NotFound,
        Conflict, Forbidden, ...) with ``http_status`` and ``reason``.
        Idempotent methods are retried on 429, 5xx and connection resets.
        """
        status, answer = self._native.request(
            method, path, _encode(body), content_type, _ms(timeout), cancel
        )
        return Response(status, answer)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` and return the parsed JSON."""
        return self.request("GET", path, **kwargs).json()

    def create(self, path: str, body: JSONBody, **kwargs: Any) -> Any:
        """POST ``body`` to the collection ``path`` and return the created object."""
        return self.request("POST", path, body, **kwargs).json()

    def replace(self, path: str, body: JSONBody, **kwargs: Any) -> Any:
        """PUT ``body`` to ``path`` and return the stored object."""
        return self.request("PUT", path, body, **kwargs).json()

    def patch(self, path: str, body: JSONBody, *, patch_type: str = "merge", **kwargs: Any) -> Any:
        """PATCH ``path``; ``patch_type`` is "merge", "strategic", "json" or "apply"."""
        types = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "json": "application/json-patch+json",
            "apply": "application/apply-patch+yaml",
        }
        return self.request("PATCH", path, body, content_type=types[patch_type], **kwargs).json()

    def delete(self, path: str, **kwargs: Any) -> Any:
        """DELETE ``path`` and return the server's answer."""
        return self.request("DELETE", path, **kwargs).json()

    # -- watches ------------------------------------------------------------

    def watch(
        self,
        path: str,
        callback: Callable[[WatchEvent], Any],
        *,
        resource_version: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        timeout: Optional[float] = None,
        cancel: Optional[Cancel] = None,
    ) -> None:
        """Watch the collection ``path``, calling ``callback(event)`` for each event.

        Blocks until ``timeout`` seconds have passed (None: forever), the
        callback returns a true value, ``cancel`` is triggered (raises
        :class:`Cancelled`) or an error retrying cannot fix. Without
        ``resource_version`` the objects that exist are delivered as ADDED
        first. The callback runs on a library thread; an exception it raises
        stops the watch and is re-raised here. Ctrl-C stops it too.
        """
        self._native.watch(
            path,
            lambda t, raw: callback(WatchEvent(WatchEventType(t), raw)),
            resource_version,
            label_selector,
            field_selector,
            _ms(timeout),
            cancel,
        )

    def events(
        self,
        path: str,
        *,
        resource_version: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> "Watch":
        """Watch ``path`` as an iterator of :class:`WatchEvent` (see :meth:`watch`).

        The watch runs on a background thread from the moment this returns;
        iteration ends after ``timeout`` seconds or on :meth:`Watch.close`,
        and raises the error that ended the watch, if any::

            with client.events(path, timeout=10) as events:
                for event in events:
                    ...
        """
        return Watch(self, path, resource_version, label_selector, field_selector, timeout)


class Watch(Feed):
    """An iterator of watch events fed by a background thread; close() stops it."""

    def __init__(
        self,
        client: Client,
        path: str,
        resource_version: Optional[str],
        label_selector: Optional[str],
        field_selector: Optional[str],
        timeout: Optional[float],
        max_pending: int = 1024,
    ) -> None:
        self._client = client  # kept alive while the watch runs

        def run(put: Callable[[Any], bool], cancel: Cancel) -> None:
            client.watch(
                path,
                put,
                resource_version=resource_version,
                label_selector=label_selector,
                field_selector=field_selector,
                timeout=timeout,
                cancel=cancel,
            )

        super().__init__(run, f"nocalhost-watch {path}", max_pending)

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        return super().__next__()

    def __enter__(self) -> "Watch":
        return self
