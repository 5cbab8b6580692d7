# Type stubs of the private native layer (src/*.cpp). Use the public API of
# the nocalhost package instead of this module.
from typing import Callable, Optional, Tuple

LIBRARY_VERSION: str
LIBRARY_VERSION_INFO: Tuple[int, int, int]
HEADER_VERSION: str
ABI: int

def error_name(code: int) -> str: ...
def _set_error_table(table: dict, base: type) -> None: ...
def _set_log_handler(handler: Optional[Callable[[int, str], None]], max_level: int) -> None: ...
def _finalize() -> None: ...

class Cancel:
    def __init__(self) -> None: ...
    def trigger(self) -> None: ...
    def reset(self) -> None: ...
    @property
    def triggered(self) -> bool: ...

class Client:
    def __init__(
        self,
        kubeconfig: Optional[str],
        context: Optional[str],
        namespace: Optional[str],
        timeout_ms: int,
        max_retries: int,
        user_agent: Optional[str],
    ) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def namespace(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def context(self) -> str: ...
    def server_version(self, cancel: Optional[Cancel] = None) -> str: ...
    def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes],
        content_type: Optional[str],
        timeout_ms: int,
        cancel: Optional[Cancel] = None,
    ) -> Tuple[int, bytes]: ...
    def watch(
        self,
        path: str,
        callback: Callable[[int, str], object],
        resource_version: Optional[str],
        label_selector: Optional[str],
        field_selector: Optional[str],
        duration_ms: int,
        cancel: Optional[Cancel] = None,
    ) -> None: ...
