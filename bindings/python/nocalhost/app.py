"""Applications (``nh_app_*``): a set of objects installed into a namespace from manifests, a
Kustomize directory or a Helm chart, with Kubernetes as the only state (docs/apps.md)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from . import _native

if TYPE_CHECKING:
    from ._native import Cancel


def _app_args(
    namespace: Optional[str] = None,
    *,
    values_files: Sequence[str] = (),
    set_values: Sequence[str] = (),
    config_path: Optional[str] = None,
    all_namespaces: bool = False,
) -> Dict[str, Any]:
    return {
        "namespace": namespace,
        "values_files": list(values_files),
        "set": list(set_values),
        "config_path": config_path,
        "all_namespaces": all_namespaces,
    }


class AppMixin:
    """Applications of :class:`Client`. An application is {"name", "namespace", "type", "state",
    "objects": [{"apiVersion", "kind", "name"}], "workloads": [{"kind", "name"}]}."""

    _native: Any

    def install_app(
        self,
        name: str,
        source: str,
        *,
        namespace: Optional[str] = None,
        values_files: Sequence[str] = (),
        set_values: Sequence[str] = (),
        config_path: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """Install application ``name`` from ``source`` (``nh_app_install``); ``values_files`` and
        ``set_values`` ("key=value") are Helm's. A failed install removes what it made."""
        args = _app_args(namespace, values_files=values_files, set_values=set_values, config_path=config_path)
        return json.loads(_native.app_install(self._native, name, source, args, cancel))

    def upgrade_app(
        self,
        name: str,
        source: str,
        *,
        namespace: Optional[str] = None,
        values_files: Sequence[str] = (),
        set_values: Sequence[str] = (),
        config_path: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """Apply ``source`` to application ``name`` and delete what left it (``nh_app_upgrade``)."""
        args = _app_args(namespace, values_files=values_files, set_values=set_values, config_path=config_path)
        return json.loads(_native.app_upgrade(self._native, name, source, args, cancel))

    def apps(self, *, namespace: Optional[str] = None, all_namespaces: bool = False,
             cancel: Optional["Cancel"] = None) -> List[Dict[str, Any]]:
        """The applications of the namespace, or of all (``nh_app_list``)."""
        return json.loads(_native.app_list(self._native, _app_args(namespace, all_namespaces=all_namespaces), cancel))

    def uninstall_app(self, name: str, *, namespace: Optional[str] = None, cancel: Optional["Cancel"] = None) -> None:
        """Delete exactly what application ``name`` installed (``nh_app_uninstall``)."""
        _native.app_uninstall(self._native, name, _app_args(namespace), cancel)
