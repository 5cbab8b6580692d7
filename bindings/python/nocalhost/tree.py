"""The workload tree with its dev-mode overlay, its watch, and pod logs (``Client.tree*``, ``Client.logs``).

``Client.tree()`` lists the workloads of a namespace (or of all) as dicts
(see ``nh_tree_list`` in nocalhost.h for every key); ``Client.tree_events()``
keeps a view current: every entry as ADDED, then SYNCED, then each change;
``Client.logs()`` iterates over a pod's log lines, following them if asked.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from . import _native
from ._enum import NamedIntEnum
from .errors import Cancelled

if TYPE_CHECKING:
    from .client import Cancel


class TreeEventType(NamedIntEnum):
    """The values of ``nh_tree_event_type``."""

    ADDED = 1
    MODIFIED = 2
    DELETED = 3
    #: The first list was delivered; ``entry`` is the whole tree (a list).
    SYNCED = 4


@dataclass(frozen=True)
class TreeEvent:
    """One change of the tree: its type and the entry (for SYNCED, the list of every entry)."""

    type: TreeEventType
    entry: Any


def _tree_args(
    kinds: Union[None, str, Sequence[str]], namespace: Optional[str], all_namespaces: bool, selector: Optional[str]
) -> Dict[str, Any]:
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k]
    return {
        "kinds": list(kinds) if kinds else None,
        "namespace": namespace,
        "all_namespaces": all_namespaces,
        "label_selector": selector,
    }


def _logs_args(
    namespace: Optional[str],
    container: Optional[str],
    follow: bool,
    tail: Optional[int],
    since: Optional[float],
    previous: bool,
    timestamps: bool,
) -> Dict[str, Any]:
    if tail is not None and tail < 0:
        raise ValueError("tail must be >= 0")
    if since is not None and since <= 0:
        raise ValueError("since must be a positive number of seconds")
    return {
        "namespace": namespace,
        "container": container,
        "follow": follow,
        "tail_lines": -1 if tail is None else int(tail),
        "since_seconds": 0 if since is None else max(1, int(since)),
        "previous": previous,
        "timestamps": timestamps,
    }


_END = object()


class Feed:
    """An iterator fed by a blocking call on a background thread; close() stops the call.

    Iteration ends when the call returns, and raises the error that ended it, if any.
    """

    def __init__(self, run: Callable[[Callable[[Any], bool], "Cancel"], None], name: str, max_pending: int = 4096) -> None:
        self._cancel = _native.Cancel()
        self._queue: "queue.Queue[Any]" = queue.Queue(max_pending)
        self._closed = False
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(run,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._closed:
            try:
                self._queue.put(item, timeout=0.1)
                return False
            except queue.Full:
                continue
        return True  # closed: stop the call

    def _run(self, run: Callable[[Callable[[Any], bool], "Cancel"], None]) -> None:
        try:
            run(self._put, self._cancel)
        except BaseException as e:  # handed to the iterating thread
            if not (isinstance(e, Cancelled) and self._closed):
                self._error = e
        finally:
            self._put(_END)

    def __iter__(self) -> "Feed":
        return self

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._closed = True
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the call and wait for its thread. Idempotent."""
        self._closed = True
        self._cancel.trigger()
        if self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._cancel.trigger()


class TreeMixin:
    """The workload tree and pod logs of :class:`Client`."""

    _native: Any

    def tree(
        self,
        kinds: Union[None, str, Sequence[str]] = None,
        *,
        namespace: Optional[str] = None,
        all_namespaces: bool = False,
        selector: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> List[Dict[str, Any]]:
        """The workloads with their application, replicas, containers and dev mode (``nh_tree_list``).

        ``kinds``: "deployment", ["sts", "pod"], "deploy,job" ... (default: every kind);
        ``selector``: a label selector, as kubectl's ``-l``.
        """
        args = _tree_args(kinds, namespace, all_namespaces, selector)
        return json.loads(_native.tree_list(self._native, args, cancel))

    def watch_tree(
        self,
        callback: Callable[[TreeEvent], Any],
        kinds: Union[None, str, Sequence[str]] = None,
        *,
        namespace: Optional[str] = None,
        all_namespaces: bool = False,
        selector: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> None:
        """Deliver the tree and then each change to ``callback(event)`` (``nh_tree_watch``).

        Blocks until the callback returns a true value, ``cancel`` is
        triggered (raises :class:`Cancelled`) or a watch fails for good. The
        callback runs on a library thread; an exception it raises stops the
        watch and is re-raised here.
        """
        args = _tree_args(kinds, namespace, all_namespaces, selector)

        def deliver(t: int, raw: str) -> Any:
            return callback(TreeEvent(TreeEventType(t), json.loads(raw)))

        _native.tree_watch(self._native, args, deliver, cancel)

    def tree_events(
        self,
        kinds: Union[None, str, Sequence[str]] = None,
        *,
        namespace: Optional[str] = None,
        all_namespaces: bool = False,
        selector: Optional[str] = None,
    ) -> Feed:
        """The tree's events as an iterator of :class:`TreeEvent` (see :meth:`watch_tree`)::

            with client.tree_events() as events:
                for event in events:
                    ...
        """
        def run(put: Callable[[Any], bool], cancel: "Cancel") -> None:
            self.watch_tree(put, kinds, namespace=namespace, all_namespaces=all_namespaces, selector=selector,
                            cancel=cancel)

        return Feed(run, "nocalhost-tree-watch")

    def check(self, *, cancel: Optional["Cancel"] = None) -> Dict[str, Any]:
        """Whether the cluster answers and who we are (``nh_client_check``): {"server", "version",
        "authenticated", "user": {"username","uid","groups","extra"} or None, "error"}. Raises when
        the server does not answer (:class:`ConnectError`, :class:`TLSError` ...)."""
        return json.loads(_native.client_check(self._native, cancel))

    def log_pod(
        self,
        target: str,
        *,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """The pod (and container) whose logs ``target`` means, as ``kubectl logs`` picks it
        (``nh_pod_logs_resolve``): {"pod","namespace","container","containers","pods"}."""
        args = _logs_args(namespace, container, False, None, None, False, False)
        return json.loads(_native.pod_logs_resolve(self._native, target, args, cancel))

    def stream_logs(
        self,
        target: str,
        callback: Callable[[str], Any],
        *,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        follow: bool = False,
        tail: Optional[int] = None,
        since: Optional[float] = None,
        previous: bool = False,
        timestamps: bool = False,
        cancel: Optional["Cancel"] = None,
    ) -> None:
        """Call ``callback(line)`` for each log line of ``target`` (a pod name or KIND/NAME) (``nh_pod_logs``).

        ``tail``: the last N lines; ``since``: lines of the last N seconds;
        ``follow``: keep going until the container ends, the callback returns
        a true value or ``cancel`` is triggered (raises :class:`Cancelled`).
        """
        args = _logs_args(namespace, container, follow, tail, since, previous, timestamps)
        _native.pod_logs(self._native, target, args, callback, cancel)

    def logs(
        self,
        target: str,
        *,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        follow: bool = False,
        tail: Optional[int] = None,
        since: Optional[float] = None,
        previous: bool = False,
        timestamps: bool = False,
    ) -> Feed:
        """The log lines of ``target`` as an iterator of str (see :meth:`stream_logs`)::

            with client.logs("deployment/web", follow=True, tail=10) as lines:
                for line in lines:
                    print(line)
        """
        args = _logs_args(namespace, container, follow, tail, since, previous, timestamps)

        def run(put: Callable[[Any], bool], cancel: "Cancel") -> None:
            _native.pod_logs(self._native, target, args, put, cancel)

        return Feed(run, f"nocalhost-logs {target}")
