"""What an editor keeps beside dev mode: folder associations, and the rights dev mode needs.

A local directory belongs to a workload: :func:`associate` records it in the store every
process of the user shares (``$XDG_CONFIG_HOME/nocalhost/associations.json``, the file
``nh dev associate`` writes too), :func:`association` finds the association of a directory (its
nearest associated ancestor), :func:`find_associations` those of a workload. Each association
is a dict: {"dir", "namespace", "kind", "name", "container", "kubeconfig", "context",
"updated"}. ``Client.dev_required_rights`` and ``Client.dev_access_check`` tell the rights
:meth:`Client.dev_start` and its end need, and which of them the caller lacks.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Mapping, Union

from . import _native
from .dev import DevModeLike, _start_args, workload
from .errors import NotFound
from .sync import PathLike

if TYPE_CHECKING:
    from .client import Cancel


def _options(store: Optional[PathLike], **values: Optional[str]) -> "_native.AssociationOptions":
    return _native.AssociationOptions(store=None if store is None else os.fspath(store), **values)


def associate(
    dir: PathLike,
    kind: str,
    name: Optional[str] = None,
    *,
    namespace: Optional[str] = None,
    container: Optional[str] = None,
    kubeconfig: Optional[str] = None,
    context: Optional[str] = None,
    store: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Associate the existing directory ``dir`` with the workload ("KIND/NAME", or kind and name)
    (``nh_association_set``); replaces the directory's earlier association. Returns the entry.
    Raises :class:`InvalidArgument` (unknown kind), :class:`NotFound` (no such directory),
    :class:`ConfigError` (the store file is not one; it is left as it is)."""
    kind, name = workload(kind, name)
    opts = _options(store, namespace=namespace, container=container, kubeconfig=kubeconfig, context=context)
    return json.loads(_native.association_set(os.fspath(dir), kind, name, opts))


def association(dir: PathLike, *, store: Optional[PathLike] = None) -> Optional[Dict[str, Any]]:
    """The association of ``dir`` or of its nearest associated ancestor, or None (``nh_association_get``)."""
    try:
        return json.loads(_native.association_get(os.fspath(dir), _options(store)))
    except NotFound:
        return None


def find_associations(
    kind: str,
    name: Optional[str] = None,
    *,
    namespace: Optional[str] = None,
    context: Optional[str] = None,
    kubeconfig: Optional[str] = None,
    store: Optional[PathLike] = None,
) -> List[Dict[str, Any]]:
    """The associations of a workload (and of ``namespace``, ``context``, ``kubeconfig``, those
    given) (``nh_association_find``)."""
    kind, name = workload(kind, name)
    opts = _options(store, namespace=namespace, context=context, kubeconfig=kubeconfig)
    return json.loads(_native.association_find(kind, name, opts))


def associations(*, store: Optional[PathLike] = None) -> List[Dict[str, Any]]:
    """Every association (``nh_association_list``)."""
    return json.loads(_native.association_list(_options(store)))


def dissociate(dir: PathLike, *, store: Optional[PathLike] = None) -> bool:
    """Remove the association of exactly ``dir``; False when it had none (``nh_association_remove``)."""
    try:
        _native.association_remove(os.fspath(dir), _options(store))
        return True
    except NotFound:
        return False


class IdeMixin:
    """The Client's part of this module."""

    _native: Any
    _kubeconfig: Optional[str]

    def associate(
        self,
        dir: PathLike,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        container: Optional[str] = None,
        store: Optional[PathLike] = None,
    ) -> Dict[str, Any]:
        """:func:`associate` with this client's namespace (unless given), context and kubeconfig path."""
        return associate(
            dir, kind, name, namespace=namespace or self._native.namespace, container=container,
            kubeconfig=self._kubeconfig or os.environ.get("KUBECONFIG") or "", context=self._native.context,
            store=store,
        )

    def _rights_args(self, kw: Mapping[str, Any]) -> dict:
        return _start_args(
            kw.get("namespace"), kw.get("container"), None, None, None, None, None, None, kw.get("mode"),
            kw.get("developer"), kw.get("api_version"), kw.get("pod_template_path"), kw.get("replicas_path"),
            kw.get("config_path"), kw.get("app_name"), kw.get("ignore_cluster_config", False), None,
            kw.get("patches"), kw.get("persistent_dirs"),
        )

    def dev_required_rights(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        api_version: Optional[str] = None,
        pod_template_path: Optional[str] = None,
        replicas_path: Optional[str] = None,
        config_path: Optional[PathLike] = None,
        app_name: Optional[str] = None,
        ignore_cluster_config: bool = False,
        patches: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        persistent_dirs: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        cancel: Optional["Cancel"] = None,
    ) -> List[Dict[str, Any]]:
        """The rights :meth:`dev_start` with these options and its end need, as the rules of an
        RBAC Role: [{"apiGroups", "resources", "verbs"}...] (``nh_dev_required_rights``)."""
        kind, name = workload(kind, name)
        args = self._rights_args(locals())
        return json.loads(_native.dev_required_rights(self._native, kind, name, args, cancel))

    def dev_access_check(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        mode: Optional[DevModeLike] = None,
        developer: Optional[str] = None,
        api_version: Optional[str] = None,
        pod_template_path: Optional[str] = None,
        replicas_path: Optional[str] = None,
        config_path: Optional[PathLike] = None,
        app_name: Optional[str] = None,
        ignore_cluster_config: bool = False,
        patches: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        persistent_dirs: Union[None, str, Sequence[Mapping[str, Any]]] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """Which of :meth:`dev_required_rights` the caller lacks, as the API server says
        (``nh_dev_access_check``): {"checked", "reason", "missing": [{"verb", "group",
        "resource", "subresource", "why", "needed"}...], "rules"}."""
        kind, name = workload(kind, name)
        args = self._rights_args(locals())
        return json.loads(_native.dev_access_check(self._native, kind, name, args, cancel))

    def dev_config_read(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        namespace: Optional[str] = None,
        app: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """The dev config kept in the cluster (``nh_dev_config_read``): the workload's ``dev.nocalhost``
        annotation, or with ``app`` the ConfigMap ``dev.nocalhost.config.<app>``: {"config" (text or
        None), "resource_version", "source"}."""
        kind, name = workload(kind, name)
        return json.loads(_native.dev_config_read(self._native, kind, name, namespace, app, cancel))

    def dev_config_write(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        config: str,
        resource_version: Optional[str] = None,
        namespace: Optional[str] = None,
        app: Optional[str] = None,
        cancel: Optional["Cancel"] = None,
    ) -> Dict[str, Any]:
        """Write a dev config (YAML) back where :meth:`dev_config_read` reads it (``nh_dev_config_write``),
        only over ``resource_version`` (the one read) or, without it, only where there is none yet.
        Raises :class:`InvalidArgument` (invalid config), :class:`Conflict` (changed since it was
        read; nothing overwritten), :class:`InvalidState` (the workload is in dev mode)."""
        kind, name = workload(kind, name)
        return json.loads(
            _native.dev_config_write(self._native, kind, name, config, namespace, app, resource_version, cancel))

    def dev_profile(self, kind: str, name: Optional[str] = None, *, namespace: Optional[str] = None,
                    store: Optional[PathLike] = None) -> Optional[Dict[str, Any]]:
        """What the user chose for this workload's dev mode last, in this client's context and
        namespace (``nh_dev_profile_get``): {"image", "container", "workdir", ...}, or None."""
        kind, name = workload(kind, name)
        try:
            return json.loads(_native.dev_profile_get(
                kind, name, None if store is None else os.fspath(store), namespace or self._native.namespace,
                self._native.context))
        except NotFound:
            return None

    def remember_dev_profile(
        self,
        kind: str,
        name: Optional[str] = None,
        *,
        image: Optional[str] = None,
        container: Optional[str] = None,
        workdir: Optional[str] = None,
        namespace: Optional[str] = None,
        store: Optional[PathLike] = None,
    ) -> Dict[str, Any]:
        """Remember the dev image, container and work dir (those given) for this workload
        (``nh_dev_profile_set``); returns the entry."""
        kind, name = workload(kind, name)
        return json.loads(_native.dev_profile_set(
            kind, name, None if store is None else os.fspath(store), namespace or self._native.namespace,
            self._native.context, image, container, workdir))
