"""The per-user agent: syncs and port-forwards that outlive their caller (docs/agent.md).

A session's sync handed over with :meth:`Session.detach` and forwards started with
:meth:`Client.agent_forward` keep running in the agent after this process exits; any process
of the user lists, reads and stops them here::

    item_id = session.detach()
    print(nocalhost.agent.status(item_id)["state"])   # 'idle', 'syncing', 'disconnected', ...
    nocalhost.agent.stop(item_id)                      # the sync stops; dev mode stays on

Every call takes the agent's options: ``dir`` (default ``$NH_AGENT_DIR``, else
``$XDG_RUNTIME_DIR/nocalhost``, else ``/tmp/nocalhost-<uid>``), ``agent_path`` and ``timeout``
(seconds).
"""

import json
import os
from typing import Any, Dict, List, Optional

from . import _native

__all__ = ["agent_options", "info", "list", "status", "stop"]

PathLike = Any


def agent_options(
    dir: Optional[PathLike] = None, agent_path: Optional[PathLike] = None, timeout: Optional[float] = None, **more: Any
) -> Dict[str, Any]:
    """The dict the native calls take."""
    o: Dict[str, Any] = {k: v for k, v in more.items() if v is not None}
    if dir is not None:
        o["dir"] = os.fspath(dir)
    if agent_path is not None:
        o["agent_path"] = os.fspath(agent_path)
    if timeout is not None:
        o["timeout_ms"] = int(timeout * 1000)
    return o


def list(**options: Any) -> List[Dict[str, Any]]:  # noqa: A001 - nocalhost.agent.list()
    """Every item's status (``[]`` when no agent runs and none is to be resumed)."""
    return json.loads(_native.agent_list(agent_options(**options)))


def status(item_id: str, **options: Any) -> Dict[str, Any]:
    """One item's status: ``state`` ('connecting', 'syncing', 'idle', 'disconnected', 'error',
    'ended' when its dev mode was ended elsewhere; forwards 'forwarding', 'waiting'), ``message``, ``files_done``/``files_total``,
    ``bytes_done``/``bytes_total``, ``out_of_sync``, ``last_sync``, ``conflicts``; forwards
    ``ports``, ``pod``, ``last_error``. Raises :class:`NotFound`."""
    return json.loads(_native.agent_status(item_id, agent_options(**options)))


def stop(item_id: str, **options: Any) -> None:
    """Stop an item: a sync stops (its index saved; dev mode stays on), a forward closes."""
    _native.agent_stop(item_id, agent_options(**options))


def info(**options: Any) -> Dict[str, Any]:
    """``{"running", "pid", "dir", "socket", "version", "items"}``; never starts the agent."""
    return json.loads(_native.agent_info(agent_options(**options)))
