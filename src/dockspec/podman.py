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
import re
from collections.abc import Iterable
from typing import Any

import attrs

from dockspec._generated.models import Spec
from dockspec.containers import short_container_id
from dockspec.env import Env
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, Limits
from dockspec.spec import builtin_spec

__all__ = [
    "RootlessPodmanResolver",
    "is_storage_id",
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


_STORAGE_ID = re.compile(r"[0-9a-f]{64}")


def is_storage_id(value: object) -> bool:
    """Whether `value` is a container id as Podman's storage writes it (64 lowercase hex): safe in a path."""
    return isinstance(value, str) and _STORAGE_ID.fullmatch(value) is not None


def _as_list(data: bytes) -> list[Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return []
    return value if isinstance(value, list) else []


def parse_storage_index(data: bytes, max_entries: int | None = None) -> list[StoredContainer]:
    """Containers of a storage index, each id once; unusable entries are skipped.

    An id must be 64 lowercase hex (it becomes a path: no NUL, no `..`, no
    `/`). At most `max_entries` entries are looked at (usable or not); the
    rest are ignored.
    """
    result = []
    seen: set[str] = set()
    items = _as_list(data)
    if max_entries is not None:
        items = items[:max_entries]
    for item in items:
        if not isinstance(item, dict) or not is_storage_id(item.get("id")) or item["id"] in seen:
            continue
        seen.add(item["id"])
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
    linux = doc.get("linux") if isinstance(doc, dict) else None
    namespaces = linux.get("namespaces") if isinstance(linux, dict) else None
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
    """Resolves rootlessport pids to containers, caching per (pid, start time) and per (owner uid, netns).

    `reader` does the file reads (dockspec._io.podman_fs.FsReader by
    default). A match is accepted only from storage owned by the uid that
    runs the process, so one user's files never name another user's
    socket. A cached pid is served only while its start time is the one
    seen (a reused pid is resolved afresh); a cache hit reads no storage.
    One resolution is bounded by `limits` (max_index_entries,
    max_index_bytes, max_oci_config_bytes, max_resolve_bytes,
    resolve_deadline) and reads each path at most once.
    """

    def __init__(self, reader: Any = None, spec: Spec | None = None, limits: Limits | None = None) -> None:
        if reader is None:
            from dockspec._io.podman_fs import FsReader

            reader = FsReader()
        self.reader = reader
        self.spec = spec or builtin_spec()
        self.limits = limits or DEFAULT_LIMITS
        self._by_pid: dict[int, tuple[int, ContainerInfo | None]] = {}
        self._by_netns: dict[tuple[int, str], ContainerInfo] = {}

    def resolve(self, pid: int, env: Env) -> ContainerInfo | None:
        started = self.reader.start_time(pid)
        cached = self._by_pid.get(pid)
        if cached is not None and started is not None and cached[0] == started:
            return cached[1]
        self.reader.begin(self.limits.resolve_deadline)
        info = None
        uid = self.reader.owner(pid)
        netns = netns_from_links(self.reader.fd_links(pid), self.spec.podman_storage.netns_marker)
        if netns is not None and uid is not None:
            info = self._by_netns.get((uid, netns))
            if info is None:
                info = self._scan(netns, env, uid)
        if started is not None:
            self._by_pid[pid] = (started, info)
        return info

    def _scan(self, netns: str, env: Env, uid: int) -> ContainerInfo | None:
        storage = self.spec.podman_storage
        limits = self.limits
        home = self.reader.home_of(uid)
        budget = limits.max_resolve_bytes
        read: set[str] = set()

        def take(path: str, limit: int) -> bytes | None:
            nonlocal budget
            if path in read or budget <= 0 or self.reader.expired():
                return None
            read.add(path)
            data: bytes | None = self.reader.read(path, min(limit, budget), uid)
            if data is not None:
                budget -= len(data)
            return data

        for directory in storage_dirs(env, self.spec, [home] if home else []):
            index = take(os.path.join(directory, storage.containers_file), limits.max_index_bytes)
            if index is None:
                continue
            for stored in parse_storage_index(index, limits.max_index_entries):
                config = take(os.path.join(directory, stored.id, storage.config_file), limits.max_oci_config_bytes)
                if config is None:
                    if budget <= 0 or self.reader.expired():
                        return None
                    continue
                path = network_namespace_of(config)
                if path is None:
                    continue
                info = ContainerInfo(stored.id, stored.name, stored.image)
                self._by_netns.setdefault((uid, path), info)
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
