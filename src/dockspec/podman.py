"""Rootless Podman: which container a `rootlessport` process serves. Pure.

Rule: no I/O here; dockspec._io.podman_fs reads the files. A rootlessport
process holds an fd on its container's network namespace file
(`.../netns/netns-<uuid>`); the container whose OCI config names the same
namespace path is the one. Storage layout (roots, drivers, file names) is
spec data (spec/podman_storage.yaml).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import attrs

from dockspec._generated.models import Spec
from dockspec.containers import short_container_id
from dockspec.env import Env
from dockspec.models import ContainerInfo
from dockspec.spec import builtin_spec

__all__ = [
    "RootlessPodmanResolver",
    "StoredContainer",
    "is_podman_rootlessport_process",
    "lookup_rootless_podman_container",
    "netns_from_links",
    "network_namespace_of",
    "parse_storage_index",
    "storage_dirs",
]


def is_podman_rootlessport_process(name: str, spec: Spec | None = None) -> bool:
    """Whether a process name is Podman's rootless port forwarder."""
    spec = spec or builtin_spec()
    return any(h.name == name and h.resolve == "rootless-netns" for h in spec.helpers)


def netns_from_links(links: Iterable[str], marker: str) -> str | None:
    """The network namespace file among a process's fd link targets, if any."""
    for target in links:
        if marker in target:
            return target
    return None


@attrs.frozen
class StoredContainer:
    """One entry of the storage index (containers.json)."""

    id: str
    name: str
    image: str


def _as_list(data: bytes) -> list[Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return []
    return value if isinstance(value, list) else []


def parse_storage_index(data: bytes) -> list[StoredContainer]:
    """Containers of a storage index; unusable entries are skipped."""
    result = []
    for item in _as_list(data):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        names = item.get("names")
        name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
        image = ""
        metadata = item.get("metadata")
        if isinstance(metadata, str):
            try:
                meta = json.loads(metadata)
            except (ValueError, RecursionError):
                meta = None
            if isinstance(meta, dict) and isinstance(meta.get("image-name"), str):
                image = meta["image-name"]
            if not name and isinstance(meta, dict) and isinstance(meta.get("name"), str):
                name = meta["name"]
        container_id = item["id"]
        result.append(StoredContainer(container_id, name or short_container_id(container_id), image))
    return result


def network_namespace_of(config: bytes) -> str | None:
    """The network namespace path in an OCI runtime config, if it names one."""
    try:
        doc = json.loads(config)
    except (ValueError, RecursionError):
        return None
    namespaces = doc.get("linux", {}).get("namespaces") if isinstance(doc, dict) else None
    if not isinstance(namespaces, list):
        return None
    for ns in namespaces:
        if isinstance(ns, dict) and ns.get("type") == "network" and isinstance(ns.get("path"), str):
            return str(ns["path"])
    return None


def storage_dirs(env: Env, spec: Spec, extra_homes: Iterable[str] = ()) -> list[str]:
    """`<root>/<driver>-containers` directories to search, in order, each once."""
    storage = spec.podman_storage
    contexts = [env.placeholders()]
    contexts += [{"home": home} for home in extra_homes]
    result: list[str] = []
    for values in contexts:
        for root in storage.roots:
            try:
                base = root.template.format(**values)
            except KeyError:
                continue
            for driver in storage.drivers:
                path = os.path.join(base, f"{driver}-containers")
                if path not in result:
                    result.append(path)
    return result


class RootlessPodmanResolver:
    """Resolves rootlessport pids to containers, caching per pid and per netns.

    `reader` does the file reads (dockspec._io.podman_fs.FsReader by
    default); a cache hit reads nothing.
    """

    def __init__(self, reader: Any = None, spec: Spec | None = None) -> None:
        if reader is None:
            from dockspec._io.podman_fs import FsReader

            reader = FsReader()
        self.reader = reader
        self.spec = spec or builtin_spec()
        self._by_pid: dict[int, ContainerInfo | None] = {}
        self._by_netns: dict[str, ContainerInfo] = {}

    def resolve(self, pid: int, env: Env) -> ContainerInfo | None:
        if pid in self._by_pid:
            return self._by_pid[pid]
        storage = self.spec.podman_storage
        netns = netns_from_links(self.reader.fd_links(pid), storage.netns_marker)
        info = None
        if netns is not None:
            info = self._by_netns.get(netns)
            if info is None:
                info = self._scan(netns, env, pid)
        self._by_pid[pid] = info
        return info

    def _scan(self, netns: str, env: Env, pid: int) -> ContainerInfo | None:
        storage = self.spec.podman_storage
        owner_home = self.reader.owner_home(pid)
        for directory in storage_dirs(env, self.spec, [owner_home] if owner_home else []):
            index = self.reader.read(os.path.join(directory, storage.containers_file))
            if index is None:
                continue
            for stored in parse_storage_index(index):
                config = self.reader.read(os.path.join(directory, stored.id, storage.config_file))
                if config is None:
                    continue
                path = network_namespace_of(config)
                if path is None:
                    continue
                info = ContainerInfo(stored.id, stored.name, stored.image)
                self._by_netns.setdefault(path, info)
                if path == netns:
                    return info
        return None


def lookup_rootless_podman_container(
    pid: int,
    name: str,
    resolver: RootlessPodmanResolver,
    home: str | os.PathLike[str] | None = None,
    *,
    env: Env | None = None,
) -> ContainerInfo | None:
    """The container a rootlessport process forwards for, or None (not one, or unknown)."""
    if not is_podman_rootlessport_process(name, resolver.spec):
        return None
    return resolver.resolve(pid, env or Env.from_os(home))
