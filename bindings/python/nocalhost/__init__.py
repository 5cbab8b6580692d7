"""libnocalhost for Python: put Kubernetes workloads into dev mode.

A thin, idiomatic layer over the C library (``include/nocalhost.h``)::

    import nocalhost

    with nocalhost.Client(namespace="default") as client:
        print(client.server_version()["gitVersion"])

Every blocking call releases the GIL, accepts ``cancel=`` (a :class:`Cancel`
triggered from any thread) and is interrupted by Ctrl-C. Errors raise
subclasses of :class:`NocalhostError` (see :mod:`nocalhost.errors`).
"""

from . import _native
from . import agent
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .client import Cancel, Client, Response, Watch, WatchEvent, WatchEventType
from .dev import DevEndResult, DevEvent, DevEventType, DevMode, Session, default_sidecar_image
from .log import LogLevel, log_to_logging, set_log_handler
from .stream import (
    Exec,
    ExecResult,
    ExecStream,
    ForwardEvent,
    ForwardEventType,
    PortForward,
    ReverseEvent,
    ReverseEventType,
    ReverseForward,
)
from .tree import Feed, TreeEvent, TreeEventType
from .ide import associate, association, associations, dissociate, find_associations
from .sync import Sync, SyncCompression, SyncEvent, SyncEventType, SyncMode, SyncState, SyncStatus, start_sync

#: The version of the libnocalhost this package was built against.
__version__ = _native.HEADER_VERSION


def library_version() -> str:
    """The run-time version of the loaded libnocalhost, e.g. ``"0.1.0"``."""
    return _native.LIBRARY_VERSION


__all__ = [
    "agent",
    "Cancel",
    "Client",
    "DevEndResult",
    "DevEvent",
    "DevEventType",
    "DevMode",
    "Exec",
    "Feed",
    "ExecResult",
    "ExecStream",
    "ForwardEvent",
    "ForwardEventType",
    "PortForward",
    "ReverseEvent",
    "ReverseEventType",
    "ReverseForward",
    "Sync",
    "SyncCompression",
    "SyncEvent",
    "SyncEventType",
    "SyncMode",
    "SyncState",
    "SyncStatus",
    "start_sync",
    "Session",
    "default_sidecar_image",
    "LogLevel",
    "Response",
    "TreeEvent",
    "TreeEventType",
    "Watch",
    "WatchEvent",
    "WatchEventType",
    "associate",
    "association",
    "associations",
    "dissociate",
    "find_associations",
    "library_version",
    "log_to_logging",
    "set_log_handler",
] + list(_errors_all)
