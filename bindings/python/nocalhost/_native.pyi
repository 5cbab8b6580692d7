# Type stubs of the private native layer (src/*.cpp). Use the public API of
# the nocalhost package instead of this module.
from typing import Callable, List, Optional, Tuple

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

DEV_DEFAULT_WORKDIR: str
DEV_DEFAULT_SYNC_PORT: int

def dev_default_sidecar_image() -> str: ...

class Session:
    def close(self) -> None: ...
    closed: bool
    kind: str
    name: str
    namespace: str
    pod_name: str
    container: str
    sidecar_container: str
    workdir: str
    owner: str
    since: str
    token: str
    sync_port: int
    def status(self) -> str: ...
    def refresh(self, cancel: Optional[Cancel] = None) -> None: ...

def dev_start(
    client: Client, kind: str, name: str, namespace: Optional[str], container: Optional[str], image: str,
    workdir: Optional[str], env: List[str], resources_json: Optional[str], sidecar_image: Optional[str],
    sync_port: int, timeout_ms: int, rollback_on_failure: bool, owner: Optional[str], lease_duration_s: int,
    on_event: Optional[Callable[[int, str, str, Optional[str]], object]], cancel: Optional[Cancel] = None,
) -> Session: ...
def dev_end(
    client: Client, kind: str, name: str, namespace: Optional[str], owner: Optional[str], timeout_ms: int,
    lease_duration_s: int, on_event: Optional[Callable[[int, str, str, Optional[str]], object]],
    cancel: Optional[Cancel] = None,
) -> int: ...
def dev_status(client: Client, kind: str, name: str, namespace: Optional[str], cancel: Optional[Cancel] = None) -> str: ...
def dev_list(client: Client, namespace: Optional[str], all_namespaces: bool, cancel: Optional[Cancel] = None) -> str: ...
def dev_attach(client: Client, kind: str, name: str, namespace: Optional[str], cancel: Optional[Cancel] = None) -> Session: ...
def target_resolve(client: Client, namespace: Optional[str], target: str, cancel: Optional[Cancel] = None) -> str: ...
def exec_run(
    client: Client, target: str, argv: List[str], stdin: Optional[bytes], namespace: Optional[str],
    container: Optional[str], tty: bool, timeout_ms: int, cancel: Optional[Cancel] = None,
) -> Tuple[int, bytes, bytes]: ...
