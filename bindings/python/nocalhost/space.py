"""Dev spaces (``nh_space_*``): a namespace, the rights dev mode needs there, a quota and each
developer's kubeconfig, with Kubernetes as the only state (docs/spaces.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from . import _native

if TYPE_CHECKING:
    from ._native import Cancel


def _space_args(
    developer: Optional[str] = None,
    *,
    existing_namespace: bool = False,
    cpu: Optional[str] = None,
    memory: Optional[str] = None,
    storage: Optional[str] = None,
    pods: int = 0,
    extra_rules: Optional[Sequence[Dict[str, Any]]] = None,
    token_seconds: int = 0,
    revoke: bool = False,
) -> Dict[str, Any]:
    return {
        "developer": developer,
        "existing_namespace": existing_namespace,
        "cpu": cpu,
        "memory": memory,
        "storage": storage,
        "pods": pods,
        "extra_rules_json": None if extra_rules is None else json.dumps(list(extra_rules)),
        "token_seconds": token_seconds,
        "revoke": revoke,
    }


class SpaceMixin:
    """Dev spaces of :class:`Client`. The access the create, share and renew calls return is
    {"developer", "service_account", "namespace", "kubeconfig", "expires"}; its "kubeconfig" holds
    a token (open it with ``Client(kubeconfig_data=access["kubeconfig"])``)."""

    _native: Any

    def create_space(
        self,
        name: str,
        developer: str,
        *,
        existing_namespace: bool = False,
        cpu: Optional[str] = None,
        memory: Optional[str] = None,
        storage: Optional[str] = None,
        pods: int = 0,
        extra_rules: Optional[Sequence[Dict[str, Any]]] = None,
        token_seconds: int = 0,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """Create space ``name`` for ``developer`` (``nh_space_create``); their access."""
        args = _space_args(developer, existing_namespace=existing_namespace, cpu=cpu, memory=memory,
                           storage=storage, pods=pods, extra_rules=extra_rules, token_seconds=token_seconds)
        return json.loads(_native.space_create(self._native, name, args, cancel))

    def share_space(self, name: str, developer: str, *, token_seconds: int = 0,
                    cancel: Optional["Cancel"] = None) -> Dict[str, Any]:
        """Give ``developer`` access to space ``name`` too (``nh_space_share``); their access."""
        args = _space_args(developer, token_seconds=token_seconds)
        return json.loads(_native.space_share(self._native, name, args, cancel))

    def renew_space(self, name: str, developer: str, *, revoke: bool = False, token_seconds: int = 0,
                    cancel: Optional["Cancel"] = None) -> Dict[str, Any]:
        """A new token for ``developer`` in space ``name`` (``nh_space_renew``); ``revoke`` ends
        every earlier one."""
        args = _space_args(developer, revoke=revoke, token_seconds=token_seconds)
        return json.loads(_native.space_renew(self._native, name, args, cancel))

    def spaces(self, developer: Optional[str] = None, *, cancel: Optional["Cancel"] = None) -> List[Dict[str, Any]]:
        """The spaces (only ``developer``'s when given) (``nh_space_list``)."""
        return json.loads(_native.space_list(self._native, _space_args(developer), cancel))

    def delete_space(self, name: str, developer: Optional[str] = None, *, cancel: Optional["Cancel"] = None) -> None:
        """Delete space ``name``, everything it made and nothing else; with ``developer``, only
        their access (``nh_space_delete``)."""
        _native.space_delete(self._native, name, _space_args(developer), cancel)
