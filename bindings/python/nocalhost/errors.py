"""Exceptions raised by nocalhost: one class per C error code of nocalhost.h.

Every exception derives from :class:`NocalhostError` and carries the C
``code`` (an :class:`ErrorCode`), the ``message``, the ``http_status`` (0 when
no HTTP answer was involved) and the Kubernetes Status ``reason`` (``""`` when
there is none)::

    try:
        client.get("/api/v1/namespaces/default/configmaps/missing")
    except nocalhost.NotFound as e:
        print(e.http_status, e.reason)     # 404 NotFound
"""

from __future__ import annotations

from typing import Dict, Type, Union

from . import _native
from ._enum import NamedIntEnum


class ErrorCode(NamedIntEnum):
    """The values of ``nh_error_code`` (``NH_ENOTFOUND`` is ``ErrorCode.ENOTFOUND``)."""

    OK = 0
    ERROR = -1
    EINVAL = -2
    ENOMEM = -3
    ECONFIG = -4
    ECONNECT = -5
    ETLS = -6
    ETIMEOUT = -7
    ECANCELLED = -8
    ENOTFOUND = -9
    EEXISTS = -10
    ECONFLICT = -11
    EUNAUTHORIZED = -12
    EFORBIDDEN = -13
    EINVALID = -14
    EGONE = -15
    ETOOMANY = -16
    ESERVER = -17
    EPROTOCOL = -18
    EIO = -19
    EBUSY = -20
    EUNSUPPORTED = -21
    ESTATE = -22


class NocalhostError(Exception):
    """Base class of every error the library reports."""

    code: Union[ErrorCode, int]
    message: str
    http_status: int
    reason: str

    def __init__(self, message: str, code: int = ErrorCode.ERROR, http_status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        try:
            self.code = ErrorCode(code)
        except ValueError:
            self.code = code
        self.message = message
        self.http_status = http_status
        self.reason = reason

    @property
    def code_name(self) -> str:
        """The C name of the code, e.g. ``"NH_ENOTFOUND"``."""
        return _native.error_name(int(self.code))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code_name}, "
            f"http_status={self.http_status}, reason={self.reason!r})"
        )


class InvalidArgument(NocalhostError, ValueError):
    """NH_EINVAL: an argument is invalid."""


class OutOfMemory(NocalhostError, MemoryError):
    """NH_ENOMEM."""


class ConfigError(NocalhostError):
    """NH_ECONFIG: the kubeconfig or configuration is unusable (file, line and field in the message)."""


class ConnectError(NocalhostError, ConnectionError):
    """NH_ECONNECT: the server could not be reached."""


class TLSError(NocalhostError):
    """NH_ETLS: TLS failed (certificate, key, handshake)."""


class Timeout(NocalhostError, TimeoutError):
    """NH_ETIMEOUT: an operation ran out of time."""


class Cancelled(NocalhostError):
    """NH_ECANCELLED: stopped through a Cancel token, close() or a callback."""


class NotFound(NocalhostError, LookupError):
    """NH_ENOTFOUND: HTTP 404, or a named thing does not exist."""


class AlreadyExists(NocalhostError):
    """NH_EEXISTS: HTTP 409 AlreadyExists."""


class Conflict(NocalhostError):
    """NH_ECONFLICT: HTTP 409 Conflict (stale resourceVersion)."""


class Unauthorized(NocalhostError, PermissionError):
    """NH_EUNAUTHORIZED: HTTP 401, credentials missing, wrong or expired."""


class Forbidden(NocalhostError, PermissionError):
    """NH_EFORBIDDEN: HTTP 403, the identity lacks the RBAC rights."""


class Invalid(NocalhostError, ValueError):
    """NH_EINVALID: HTTP 422 / 400, the server refused the object."""


class Gone(NocalhostError):
    """NH_EGONE: HTTP 410 (a watch's resourceVersion is too old)."""


class TooManyRequests(NocalhostError):
    """NH_ETOOMANY: HTTP 429 after every retry."""


class ServerError(NocalhostError):
    """NH_ESERVER: HTTP 5xx after every retry, or another unexpected status."""


class ProtocolError(NocalhostError):
    """NH_EPROTOCOL: the peer spoke something the library could not understand."""


class LocalIOError(NocalhostError):
    """NH_EIO: a local I/O error (file, socket)."""


class Busy(NocalhostError):
    """NH_EBUSY: held by someone else (e.g. a dev-mode lock; the holder is in the message)."""


class Unsupported(NocalhostError):
    """NH_EUNSUPPORTED: the server or this build does not support the operation."""


class InvalidState(NocalhostError):
    """NH_ESTATE: the object is in the wrong state for the call (e.g. it was closed)."""


#: The one table from C codes to exception classes; codes not in it raise NocalhostError.
ERROR_CLASSES: Dict[int, Type[NocalhostError]] = {
    ErrorCode.EINVAL: InvalidArgument,
    ErrorCode.ENOMEM: OutOfMemory,
    ErrorCode.ECONFIG: ConfigError,
    ErrorCode.ECONNECT: ConnectError,
    ErrorCode.ETLS: TLSError,
    ErrorCode.ETIMEOUT: Timeout,
    ErrorCode.ECANCELLED: Cancelled,
    ErrorCode.ENOTFOUND: NotFound,
    ErrorCode.EEXISTS: AlreadyExists,
    ErrorCode.ECONFLICT: Conflict,
    ErrorCode.EUNAUTHORIZED: Unauthorized,
    ErrorCode.EFORBIDDEN: Forbidden,
    ErrorCode.EINVALID: Invalid,
    ErrorCode.EGONE: Gone,
    ErrorCode.ETOOMANY: TooManyRequests,
    ErrorCode.ESERVER: ServerError,
    ErrorCode.EPROTOCOL: ProtocolError,
    ErrorCode.EIO: LocalIOError,
    ErrorCode.EBUSY: Busy,
    ErrorCode.EUNSUPPORTED: Unsupported,
    ErrorCode.ESTATE: InvalidState,
}

_native._set_error_table({int(k): v for k, v in ERROR_CLASSES.items()}, NocalhostError)

__all__ = ["ErrorCode", "ERROR_CLASSES"] + [c.__name__ for c in ERROR_CLASSES.values()] + ["NocalhostError"]
