"""Dev mode: put a workload into dev mode and back (``Client.dev_*``).

Kinds: "deployment", "statefulset", "replicaset", "daemonset", "job",
"cronjob", "pod" (with their short names), or a custom kind as
"<resource>.<group>" (e.g. "rollouts.argoproj.io"). Modes: replace the
workload itself (the default) or develop on a private copy per developer
(``mode="duplicate"``).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native
from ._enum import NamedIntEnum
from .errors import ConfigError, ErrorCode, InvalidArgument, InvalidState, NocalhostError, NotFound
from .sync import PathLike, Sync, SyncEvent, sync_options

if TYPE_CHECKING:
    from .client import Cancel, Client
    from .stream import Exec, ExecResult

DEFAULT_WORKDIR: str = _native.DEV_DEFAULT_WORKDIR
DEFAULT_SYNC_PORT: int = _native.DEV_DEFAULT_SYNC_PORT


def default_sidecar_image() -> str:
    """The sync sidecar's image used when none is given."""
    return _native.dev_default_sidecar_image()


class DevEventType(NamedIntEnum):
    """The values of ``nh_dev_event_type``."""

    PHASE = 1
    POD = 2
    WARNING = 3
    INFO = 4


class DevMode(NamedIntEnum):
    """``nh_dev_mode``: REPLACE changes the workload itself; DUPLICATE develops on a private copy.

    Wherever a mode is taken, the strings "replace" and "duplicate" work too.
    """

    REPLACE = 0
    DUPLICATE = 1


DevModeLike = Union[DevMode, int, str]


def _mode(mode: Optional[DevModeLike]) -> int:
    if mode is None:
        return int(DevMode.REPLACE)
    if isinstance(mode, str):
        try:
            return int(DevMode[mode.upper()])
        except KeyError:
            raise ValueError(f"unknown dev mode {mode!r} (valid: 'replace', 'duplicate')") from None
    return int(DevMode(mode))


def workload(kind: str, name: Optional[str] = None) -> Tuple[str, str]:
    """``(kind, name)`` from the CLI's "KIND/NAME" ("deployment/web") or from kind and name given apart.

    Raises :class:`InvalidArgument` (``NH_EINVAL``, as the C library does for
    bad arguments) for "web", "deployment/", or a "KIND/NAME" given with a name too.
    """
    if name is not None:
        if "/" in kind:
            raise InvalidArgument(
                f"give the workload as 'KIND/NAME' or as kind and name, not both (got {kind!r} and {name!r})",
                ErrorCode.EINVAL,
            )
        return kind, name
    head, slash, tail = kind.partition("/")
    if not slash or not head or not tail:
        raise InvalidArgument(f"expected KIND/NAME, e.g. deployment/web, got {kind!r}", ErrorCode.EINVAL)
    return head, tail


#: ``nh dev run``'s commands and their names in the Nocalhost dev config.
RUN_COMMANDS = {
    "build": "build",
    "run": "run",
    "debug": "debug",
    "hot-reload-run": "hotReloadRun",
    "hot-reload-debug": "hotReloadDebug",
}


#: Errors that end the shell probe of :meth:`Client.terminal` (others: try the next shell).
_SHELL_PROBE_FATAL = (ErrorCode.ENOTFOUND, ErrorCode.EFORBIDDEN, ErrorCode.ECANCELLED, ErrorCode.EUNAUTHORIZED)


def _config_command(command: str) -> str:
    key = RUN_COMMANDS.get(command, command)
    if key not in RUN_COMMANDS.values():
        raise InvalidArgument(
            f"unknown dev command {command!r} (valid: {', '.join(RUN_COMMANDS)})", ErrorCode.EINVAL
        )
    return key


def _json_or_none(value: Any) -> Optional[str]:
    """Lists / dicts as JSON text; text is passed as it is (already JSON)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _patches_json(patches: Union[None, str, Sequence[Mapping[str, Any]]]) -> Optional[str]:
    """``[{"type": ..., "patch": <dict, list or JSON text>}]`` as JSON text, serialised once: the C ABI
    takes each patch as a JSON value or as JSON text."""
    if patches is None or isinstance(patches, str):
        return patches
    return json.dumps([dict(p) for p in patches])


def _env_list(env: Union[None, Mapping[str, str], Sequence[str]]) -> List[str]:
    if isinstance(env, Mapping):
        return [f"{k}={v}" for k, v in env.items()]
    return list(env or [])


class DevEndResult(NamedIntEnum):
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

    Two forms, chosen when the session is made:

    * scoped (``dev_start(..., end_on_exit=True)``): leaving the ``with``
      block ends dev mode, also when the block raises, so a failing script
      leaves the workload restored::

          with client.dev_start("deployment/web", image="golang:1.22", end_on_exit=True) as session:
              session.exec(["go", "test", "./..."])
          # dev mode has ended here, whatever the block did

    * the handle only (the default): leaving the block or :meth:`close`
      releases the handle and dev mode stays on, for sessions meant to
      outlive the script (end them later with :meth:`Client.dev_end` or
      ``nh dev end``, from any process).

    It keeps its client alive. ``token`` is a secret: never log it.
    """

    def __init__(
        self, client: "Client", native: Any, end_on_exit: bool = False
    ) -> None:
        self._client = client
        self._native = native
        self._end_on_exit = end_on_exit
        self._ended = False
        # What ending needs, kept so that the scope still ends dev mode after close().
        self._identity = (self.kind, self.name, self.namespace, self.mode, self.developer or None)

    kind = property(lambda self: self._native.kind, doc="The workload's kind: 'Deployment', 'StatefulSet', 'DaemonSet', ...")
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
    mode = property(lambda self: DevMode(self._native.mode), doc="DevMode.REPLACE or DevMode.DUPLICATE.")
    workload = property(
        lambda self: self._native.workload,
        doc="The Deployment the dev pod runs from when it is not the workload itself: the copy's name in "
        "duplicate mode, the generated Deployment of DaemonSets, Jobs, CronJobs, Pods and custom kinds; else ''.",
    )
    target = property(
        lambda self: self._native.target,
        doc="Where streams to the dev pod go (Client.exec, port_forward, resolve_target): the workload that "
        "runs it, 'deployment/<workload>' or '<kind>/<name>', so that they follow a replaced dev pod.",
    )

    @property
    def developer(self) -> str:
        """Duplicate mode: the developer whose copy this is (what :meth:`end` and
        :meth:`Client.dev_attach` find it by); otherwise ''."""
        return self._native.developer

    @property
    def client(self) -> "Client":
        return self._client

    def status(self) -> dict:
        """The session's state, as :meth:`Client.dev_status` reports it, without a request; while the
        session runs the whole loop, also ``port_forwards``: ``[{"spec", "local_port", "remote_port"}]``,
        the dev config's port-forwards."""
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
        the options of :func:`start_sync` (the dev config's sync settings
        fill what they leave at the defaults). ``timeout`` (default 5 minutes)
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

    def detach(self, **agent: Any) -> str:
        """Hand the session's sync to your agent (docs/agent.md): it stops here (its index saved)
        and the agent syncs the same directory with the same settings from that index, also
        after this process exits. Returns the item's id (see :mod:`nocalhost.agent`) once the
        agent's first sync is acknowledged; dev mode is untouched. ``agent``: dir, agent_path,
        timeout. Raises :class:`InvalidState` when the session never synced."""
        from .agent import agent_options

        opts = agent_options(kubeconfig_data=self._client._kubeconfig_data, **agent)
        return _native.agent_detach(self._native, self._client._native, opts)

    def stop_sync(self) -> None:
        """Stop the session's sync (its index is saved) and its port-forward. Dev mode stays on. Idempotent."""
        self._native.stop_sync()

    def refresh(self, *, cancel: Optional["Cancel"] = None) -> None:
        """Look for the dev pod again (e.g. after it restarted)."""
        self._native.refresh(cancel)

    def exec(self, argv: Sequence[str], **kwargs: Any):
        """Run a command in the dev container (see :meth:`Client.exec`)."""
        kwargs.setdefault("container", self.container)
        return self._client.exec(self.target, argv, namespace=self.namespace, **kwargs)

    def end(self, **kwargs: Any) -> DevEndResult:
        """End dev mode for this workload (this session: its mode and developer) and close the handle.

        Works after :meth:`close` too. See :meth:`Client.dev_end`.
        """
        kind, name, namespace, mode, developer = self._identity
        kwargs.setdefault("mode", mode)
        kwargs.setdefault("developer", developer)
        result = self._client.dev_end(kind, name, namespace=namespace, **kwargs)
        self._ended = True
        self.close()
        return result

    @property
    def end_on_exit(self) -> bool:
        """Whether leaving the ``with`` block ends dev mode (see the class)."""
        return self._end_on_exit

    def run(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        config_path: Optional[PathLike] = None,
        app_name: Optional[str] = None,
        local_port: Optional[int] = None,
        stdin: Union[None, str, bytes] = None,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> "ExecResult":
        """Run the Nocalhost dev config's ``command.<command>`` in the dev container, in its work dir.

        As ``nh dev run``: ``command`` is "build", "run", "debug",
        "hot-reload-run" or "hot-reload-debug" (or the config's names
        "hotReloadRun", "hotReloadDebug"); ``args`` are appended. The command
        comes from the config recorded when dev mode started, or, when that
        has none, from ``config_path`` / ``app_name``. For "debug" and
        "hot-reload-debug", the config's ``debug.remoteDebugPort`` is
        forwarded from 127.0.0.1:``local_port`` (default: the same port)
        while the command runs. Waits for the command; a non-zero exit code
        is no error. Raises :class:`ConfigError` when the config has no such
        command, :class:`InvalidState` when no dev pod runs right now,
        :class:`InvalidArgument` for an unknown ``command``.
        """
        key = _config_command(command)
        self.refresh(cancel=cancel)
        config = self.status().get("config") or {}
        source = "the dev config recorded when dev mode started"
        if config_path is not None or app_name is not None:
            resolved = self._client.dev_config_resolve(
                self.kind, self.name, namespace=self.namespace, config_path=config_path, app_name=app_name,
                container=self.container, cancel=cancel,
            )
            if "command" in resolved or "debug" in resolved:
                config, source = resolved, json.dumps(resolved.get("sources", []))
        words = (config.get("command") or {}).get(key) or []
        if not isinstance(words, list) or not words:
            raise ConfigError(
                f"{self.kind.lower()}/{self.name} has no command.{key} in {source}; add it under "
                "containers[].dev.command" + ("" if config_path is not None else ", or give the config with config_path="),
                ErrorCode.ECONFIG,
            )
        pod = self.pod
        if not pod:
            raise InvalidState(f"{self.kind.lower()}/{self.name} has no dev pod running right now", ErrorCode.ESTATE)
        # sh -c 'cd WORKDIR && exec "$@"' with the command as positional arguments: no quoting of its words.
        argv = ["sh", "-c", f'cd {shlex.quote(self.workdir)} && exec "$@"', "nh-dev-run"]
        argv += [w if isinstance(w, str) else json.dumps(w) for w in words] + list(args)
        forward = None
        remote = int((config.get("debug") or {}).get("remoteDebugPort") or 0)
        if key in ("debug", "hotReloadDebug") and remote > 0:
            forward = self._client.port_forward(
                f"pod/{pod}", f"{local_port or remote}:{remote}", namespace=self.namespace, cancel=cancel
            )
        try:
            return self._client.exec(
                f"pod/{pod}", argv, namespace=self.namespace, container=self.container, stdin=stdin,
                timeout=timeout, cancel=cancel,
            )
        finally:
            if forward is not None:
                forward.close()

    def terminal(self, *, shell: Optional[str] = None, **kwargs: Any) -> "Exec":
        """An interactive shell in the dev container, as ``nh terminal``: ``shell``, else the dev
        config's ``shell``, else zsh, bash or sh, whichever exists. See :meth:`Client.terminal`."""
        if shell is None:
            configured = (self.status().get("config") or {}).get("shell")
            shell = configured if isinstance(configured, str) and configured else None
        kwargs.setdefault("container", self.container)
        return self._client.terminal(self.target, shell=shell, namespace=self.namespace, **kwargs)

    def close(self) -> None:
        """Stop the session's sync, if any, and release the handle (dev mode stays on). Idempotent."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        if not self._end_on_exit or self._ended:
            self.close()
            return
        try:
            self.end()
        except BaseException as end_error:
            self.close()
            if exc is None:
                raise
            # The block's exception goes on; say that ending failed too.
            note = f"ending dev mode on leaving the block failed as well: {end_error!r}"
            if hasattr(exc, "add_note"):
                exc.add_note(note)
            else:  # Python < 3.11
                exc.args = exc.args + (note,)

    def __repr__(self) -> str:
        if self.closed:
            return "<nocalhost.Session closed>"
        copy = f" workload={self.workload!r}" if self.workload else ""
        return f"<nocalhost.Session {self.kind}/{self.name} namespace={self.namespace!r}{copy} pod={self.pod!r}>"


def _start_args(
    namespace: Optional[str],
    container: Optional[str],
    image: Optional[str],
    workdir: Optional[str],
    env: Union[None, Mapping[str, str], Sequence[str]],
    resources: Optional[dict],
    sidecar_image: Optional[str],
    sync_port: Optional[int],
    mode: Optional[DevModeLike],
    developer: Optional[str],
    api_version: Optional[str],
    pod_template_path: Optional[str],
    replicas_path: Optional[str],
    config_path: Optional[PathLike],
    app_name: Optional[str],
    ignore_cluster_config: bool,
    image_pull_policy: Optional[str],
    patches: Union[None, str, Sequence[Mapping[str, Any]]],
    persistent_dirs: Union[None, str, Sequence[Mapping[str, Any]]],
) -> dict:
    """The options shared by dev_start and dev_config_resolve, as the native layer takes them."""
    return {
        "namespace": namespace,
        "container": container,
        "image": image,
        "workdir": workdir,
        "env": _env_list(env),
        "resources_json": _json_or_none(resources),
        "sidecar_image": sidecar_image,
        "sync_port": sync_port or 0,
        "mode": _mode(mode),
        "developer": developer,
        "api_version": api_version,
        "pod_template_path": pod_template_path,
        "replicas_path": replicas_path,
        "config_path": None if config_path is None else os.fspath(config_path),
        "app_name": app_name,
        "ignore_cluster_config": ignore_cluster_config,
        "image_pull_policy": image_pull_policy,
        "patches_json": _patches_json(patches),
        "persistent_dirs_json": _json_or_none(persistent_dirs),
    }


class DevModeMixin:
    """Dev-mode methods of :class:`Client`."""

    _native: Any

    def dev_start(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        image: Optional[str] = None,
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
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        api_version: Optional[str] = None,
        pod_template_path: Optional[str] = None,
        replicas_path: Optional[str] = None,
        config_path: Optional[PathLike] = None,
        app_name: Optional[str] = None,
        ignore_cluster_config: bool = False,
        image_pull_policy: Optional[str] = None,
        patches: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        persistent_dirs: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        patch_errors_fatal: bool = False,
        headers: Union[None, Mapping[str, str], Sequence[str]] = None,
        router: Optional[str] = None,
        end_on_exit: bool = False,
        local: bool = False,
        local_ports: Optional[Sequence[str]] = None,
        forwards: Optional[Sequence[str]] = None,
    ) -> Session:
        """Put a workload into dev mode and wait until its dev pod is ready.

        The workload is ``"KIND/NAME"`` as the CLI takes it
        (``dev_start("deployment/web", image=...)``) or kind and name apart.
        ``end_on_exit=True`` makes the session scoped: leaving its ``with``
        block ends dev mode, also when the block raises (see :class:`Session`);
        by default leaving it only closes the handle and dev mode stays on.

        ``image`` is required unless a Nocalhost dev config names one
        (``config_path``: a ``.nocalhost/config.yaml`` file or a directory
        holding one; the workload's ``dev.nocalhost`` annotation; the
        ``dev.nocalhost.config.<app_name>`` ConfigMap, unless
        ``ignore_cluster_config``). Explicit options win over the config.

        ``mode="duplicate"`` (:class:`DevMode`) leaves the workload untouched
        and develops on a private copy named after ``developer`` (default
        "user@host"); :attr:`Session.workload` is the copy's name. Custom
        kinds ("rollouts.argoproj.io") take ``api_version`` and JSON pointers
        to their pod template (``pod_template_path``, default
        "/spec/template") and replica count (``replicas_path``, default
        "/spec/replicas"). ``patches`` are applied after the switch:
        ``[{"type": "strategic"|"merge"|"json", "patch": <dict/list or JSON
        text>}]``. ``persistent_dirs`` keeps dirs of the dev container on
        PersistentVolumeClaims: ``[{"path": "/root/.m2", "capacity": "10Gi",
        "storageClass": "fast"}]``; they outlive dev mode
        (:meth:`dev_pvc_list`, :meth:`dev_pvc_delete`). Both also take JSON
        text. ``image_pull_policy``: "Always", "IfNotPresent" or "Never".
        A patch the API server refuses is skipped with a warning event
        (phase "patch") and the start goes on, as Nocalhost does;
        ``patch_errors_fatal=True`` makes it fail the start (rolled back).

        ``headers`` (duplicate mode; ``{"x-dev": "alice"}`` or
        ``["x-dev=alice"]``): requests to the workload's Services that carry
        every one of them go to the copy, all others to the original, routed
        by ``router``: "auto" (default: Istio where its API is served, else
        the Gateway API), "istio" or "gateway-api" (docs/traffic.md).

        With ``local_dir``, also forward to the sync sidecar and sync that
        directory into the work dir, returning once the first full sync is
        acknowledged (``on_event`` then also reports "forward", "sync" and
        "synced"); the session owns that sync (:meth:`Session.sync`).
        ``sync`` holds the options of :func:`start_sync` (``mode``,
        ``ignore``, ``delete_protection``, ...), ``sync_events`` receives the
        sync's events. The dev config's sync settings fill what ``sync``
        leaves at its defaults (its ``deleteProtection`` is on unless the
        config turns it off).

        ``local=True`` is local mode (docs/traffic.md): the dev pod runs
        only the sync sidecar, and connections to each of ``local_ports``
        (``"PORT"`` or ``"PORT:LOCAL"``, ports the workload's containers
        declare) in the pod come to ``127.0.0.1:LOCAL`` here for as long as
        the session handle lives; ``image`` is then optional. ``forwards``
        (``"svc/NAME:PORT[:LOCAL]"``, any mode) makes cluster Services
        reachable on 127.0.0.1 for as long as the handle lives, named in a
        hosts file and an env file (:attr:`Session.status` ``hosts_file``,
        ``env_file``).

        ``on_event(DevEvent)`` reports progress (on the calling thread's
        helper); returning a true value or raising stops the start, which
        then rolls back. Raises :class:`Busy` when someone else holds it,
        :class:`NotFound`, :class:`Forbidden`, :class:`Timeout`,
        :class:`Cancelled` (Ctrl-C too), :class:`ConfigError` (an invalid
        dev config: file, line and field in the message), or
        :class:`NocalhostError` when the dev pod cannot start; after a
        failure the workload is rolled back.
        """
        kind, name = workload(kind, name)
        args = _start_args(
            namespace, container, image, workdir, env, resources, sidecar_image, sync_port, mode, developer,
            api_version, pod_template_path, replicas_path, config_path, app_name, ignore_cluster_config,
            image_pull_policy, patches, persistent_dirs,
        )
        args.update(
            timeout_ms=_ms(timeout),
            rollback_on_failure=rollback_on_failure,
            patch_errors_fatal=patch_errors_fatal,
            local=local,
            local_ports=list(local_ports or []),
            forwards=list(forwards or []),
            headers=_env_list(headers),
            router=router,
            owner=owner,
            lease_duration_s=lease_duration or 0,
        )
        native = _native.dev_start(
            self._native,
            kind,
            name,
            args,
            _event_adapter(on_event),
            local_dir=None if local_dir is None else os.fspath(local_dir),
            sync_options=None if local_dir is None else sync_options(on_event=sync_events, **dict(sync or {})),
            cancel=cancel,
        )
        return Session(self, native, end_on_exit)  # type: ignore[arg-type]

    def dev_config_resolve(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        config_path: Optional[PathLike] = None,
        app_name: Optional[str] = None,
        ignore_cluster_config: bool = False,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        image: Optional[str] = None,
        workdir: Optional[str] = None,
        env: Union[None, Mapping[str, str], Sequence[str]] = None,
        resources: Optional[dict] = None,
        sidecar_image: Optional[str] = None,
        sync_port: Optional[int] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        api_version: Optional[str] = None,
        pod_template_path: Optional[str] = None,
        replicas_path: Optional[str] = None,
        image_pull_policy: Optional[str] = None,
        patches: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        persistent_dirs: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        cancel: Optional["Cancel"] = None,
    ) -> dict:
        """The effective Nocalhost dev config of a workload's container, as :meth:`dev_start` would use it.

        Merged from ``config_path``, the workload's ``dev.nocalhost``
        annotation and the ``dev.nocalhost.config.<app_name>`` ConfigMap,
        with the explicit options (those of :meth:`dev_start`) on top:
        ``{"sources": [...], "container", "image", "imagePullPolicy",
        "shell", "workDir", "resources", "env", "persistentVolumeDirs",
        "portForward", "sync": {...}, "sidecarImage", "patches", "command":
        {...}, "debug": {...}, "ignored": [{"field", "file", "line",
        "reason"}]}``. Changes nothing. Raises :class:`ConfigError` (invalid
        config: file, line, field and the valid choices), :class:`NotFound`.
        """
        kind, name = workload(kind, name)
        args = _start_args(
            namespace, container, image, workdir, env, resources, sidecar_image, sync_port, mode, developer,
            api_version, pod_template_path, replicas_path, config_path, app_name, ignore_cluster_config,
            image_pull_policy, patches, persistent_dirs,
        )
        return json.loads(_native.dev_config_resolve(self._native, kind, name, args, cancel))

    def dev_end(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        owner: Optional[str] = None,
        timeout: Optional[float] = None,
        lease_duration: Optional[int] = None,
        on_event: Optional[Callable[[DevEvent], Any]] = None,
        cancel: Optional["Cancel"] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        force: bool = False,
    ) -> DevEndResult:
        """End dev mode: restore the original workload in place. Idempotent; works from any process.

        ``mode="duplicate"`` ends ``developer``'s copy (default "user@host")
        and leaves the workload and other developers' copies alone.

        A workload marked as in dev mode whose session record is gone raises
        :class:`InvalidState` (naming ``force``); ``force=True`` ends it anyway,
        removing every mark of dev mode it finds, and reports what it could
        not restore (e.g. the original image when no revision records it) as
        warning events of phase "force".
        """
        kind, name = workload(kind, name)
        return DevEndResult(
            _native.dev_end(
                self._native, kind, name, namespace, owner, _ms(timeout), lease_duration or 0,
                _event_adapter(on_event), _mode(mode), developer, force, cancel,
            )
        )

    def dev_status(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
    ) -> dict:
        """The dev-mode status of one workload (``{"dev_mode": bool, ...}``); ``mode``/``developer`` pick a copy."""
        kind, name = workload(kind, name)
        return json.loads(_native.dev_status(self._native, kind, name, namespace, _mode(mode), developer, cancel))

    def dev_list(
        self, *, namespace: Optional[str] = None, all_namespaces: bool = False, cancel: Optional["Cancel"] = None
    ) -> list:
        """Every workload in dev mode in the namespace (or all namespaces)."""
        return json.loads(_native.dev_list(self._native, namespace, all_namespaces, cancel))

    def dev_attach(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        end_on_exit: bool = False,
    ) -> Session:
        """The session of a workload already in dev mode (raises :class:`NotFound` otherwise).

        ``mode="duplicate"`` attaches to ``developer``'s copy. ``end_on_exit``
        as in :meth:`dev_start`.
        """
        kind, name = workload(kind, name)
        native = _native.dev_attach(self._native, kind, name, namespace, _mode(mode), developer, cancel)
        return Session(self, native, end_on_exit)  # type: ignore[arg-type]

    def agent_forward(self, target: str, ports: Sequence[str], *, namespace: Optional[str] = None, **agent: Any) -> str:
        """Forward local ports to ``target`` from your agent, so that the forward outlives this
        process; returns its id (see :mod:`nocalhost.agent`). A local port below 1024 raises
        :class:`InvalidArgument` before anything starts. ``agent``: dir, agent_path, timeout."""
        from .agent import agent_options

        opts = agent_options(kubeconfig_data=self._kubeconfig_data, namespace=namespace, **agent)  # type: ignore[attr-defined]
        return _native.agent_forward_start(self._native, target, list(ports), opts)

    def agent_reattach(self, item_id: str, **agent: Any) -> Session:
        """Take the sync ``item_id`` back from your agent: the returned session syncs the same
        directory here, from the index the agent saved."""
        from .agent import agent_options

        return Session(self, _native.agent_reattach(self._native, item_id, agent_options(**agent)))  # type: ignore[arg-type]

    def dev_run(
        self,
        command: str,
        kind: str,
        name: Optional[str] = None,
        *,
        args: Sequence[str] = (),
        namespace: Optional[str] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        config_path: Optional[PathLike] = None,
        app_name: Optional[str] = None,
        local_port: Optional[int] = None,
        stdin: Union[None, str, bytes] = None,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> "ExecResult":
        """``nh dev run``: the dev config's ``command.<command>`` in a workload in dev mode
        (``client.dev_run("build", "deployment/web")``). See :meth:`Session.run`."""
        with self.dev_attach(kind, name, namespace=namespace, mode=mode, developer=developer, cancel=cancel) as s:
            return s.run(
                command, args, config_path=config_path, app_name=app_name, local_port=local_port, stdin=stdin,
                timeout=timeout, cancel=cancel,
            )

    def terminal(
        self,
        target: str,
        *,
        shell: Optional[str] = None,
        container: Optional[str] = None,
        namespace: Optional[str] = None,
        tty: bool = False,
        on_output: Optional[Callable[..., Any]] = None,
        timeout: Optional[float] = None,
        cancel: Optional["Cancel"] = None,
    ) -> "Exec":
        """``nh terminal``: an interactive shell in the target's container, as an :class:`Exec`.

        The shell is ``shell`` (words split as a shell would: "bash -l"), else
        the Nocalhost dev config's ``shell`` recorded when the workload went
        into dev mode, else zsh, bash or sh, whichever ``which`` finds. Give
        ``tty=True`` when a terminal drives it (then call :meth:`Exec.resize`).
        The other keywords are those of :meth:`exec_start`.
        """
        if shell is None:
            shell = self._dev_config_shell(target, namespace, cancel)
        if shell is None:
            shell = "sh"
            for candidate in ("zsh", "bash", "sh"):
                try:
                    found = self.exec(  # type: ignore[attr-defined]
                        target, ["which", candidate], namespace=namespace, container=container, cancel=cancel
                    )
                except NocalhostError as e:  # a missing `which`; kwok reports non-zero exits as errors
                    if e.code in _SHELL_PROBE_FATAL:
                        raise
                    continue
                path = found.stdout.decode(errors="replace").strip()
                if found.exit_code == 0 and path:
                    shell = path
                    break
        return self.exec_start(  # type: ignore[attr-defined]
            target, shlex.split(shell), stdin=True, tty=tty, namespace=namespace, container=container,
            on_output=on_output, timeout=timeout, cancel=cancel,
        )

    def _dev_config_shell(self, target: str, namespace: Optional[str], cancel: Optional["Cancel"]) -> Optional[str]:
        """The dev config's ``shell`` of a KIND/NAME target in dev mode, or None."""
        kind, slash, name = target.partition("/")
        if not slash or kind in ("pod", "po", "pods"):
            return None
        try:
            with self.dev_attach(kind, name, namespace=namespace, cancel=cancel) as session:
                shell = (session.status().get("config") or {}).get("shell")
        except NotFound:  # not in dev mode
            return None
        return shell if isinstance(shell, str) and shell else None

    def dev_pvc_list(
        self,
        kind: Optional[str] = None,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> list:
        """The PersistentVolumeClaims dev mode made for ``persistent_dirs``.

        Of one workload (``kind`` and ``name``) or, without them, of the
        namespace: ``[{"name", "namespace", "workload", "path", "capacity",
        "storage_class", "phase"}]``. They outlive dev mode.
        """
        if kind is not None and name is None and "/" in kind:
            kind, name = workload(kind)
        if (kind is None) != (name is None):
            raise TypeError("dev_pvc_list: give both kind and name (or 'KIND/NAME'), or neither")
        return json.loads(_native.dev_pvc_list(self._native, kind, name, namespace, cancel))

    def dev_env(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        container: Optional[str] = None,
        format: str = "json",
        secrets: bool = False,
        namespace: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Any:
        """The container's environment as the kubelet resolves it, for a local process (``nh dev env``).

        ``format="json"`` (the default) gives a dict ``{"kind", "name",
        "namespace", "container", "pod", "env": [{"name", "source",
        "secret", "value"}], "notes"}``; an entry left out has "withheld" or
        "unresolved" (the reason) instead of "value". ``format="dotenv"``
        gives the text of a dotenv file. Values from Secrets are included
        only with ``secrets=True``. Raises :class:`NotFound` when a
        ConfigMap, Secret or key the container needs is missing.
        """
        if format not in ("json", "dotenv"):
            raise ValueError("dev_env: format is 'json' or 'dotenv', not %r" % (format,))
        kind, name = workload(kind, name)
        text = _native.dev_env(self._native, kind, name, namespace, container, format == "dotenv", secrets, cancel)
        return json.loads(text) if format == "json" else text

    def dev_pvc_delete(
        self,
        kind: str,
        name: Optional[str] = None,
        claim: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> List[str]:
        """Delete a workload's dev-mode PersistentVolumeClaim ``claim`` (its name or its dir), or all of them.

        Returns the names deleted. Raises :class:`NotFound` when there is no
        such claim of dev mode. With ``"KIND/NAME"`` the second argument is the claim:
        ``dev_pvc_delete("deployment/web", "claim-name")``.
        """
        if "/" in kind and claim is None:
            claim = name
            kind, name = workload(kind)
        else:
            kind, name = workload(kind, name)
        return json.loads(_native.dev_pvc_delete(self._native, kind, name, claim, namespace, cancel))
