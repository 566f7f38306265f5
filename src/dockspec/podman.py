"""Rootless Podman: which container a `rootlessport` or `pasta` process serves. Pure.

Rule: no I/O here; dockspec._io.podman_fs reads the files. A rootlessport
process holds an fd on its container's network namespace file
(`.../netns/netns-<uuid>`); the container whose OCI config names the same
namespace path is the one. A pasta process names that file after its
`--netns` flag (and holds it open too: the two must agree). Podman 5's
rootlessport also holds a unix socket named by its container id, a second
anchor (spec/helpers.yaml `id_socket`). Storage layout (roots, drivers, file
names) is spec data (spec/podman_storage.yaml).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from dockspec._generated.models import HelperProcess, Spec
from dockspec.containers import short_container_id
from dockspec.env import Env
from dockspec.models import DEFAULT_LIMITS, ContainerInfo, Limits
from dockspec.pasta import flag_values
from dockspec.spec import builtin_spec

__all__ = [
    "RootlessPodmanResolver",
    "is_storage_id",
    "StoredContainer",
    "forwarder_for",
    "ids_of_unix_sockets",
    "is_podman_rootlessport_process",
    "lookup_rootless_podman_container",
    "netns_from_links",
    "socket_inodes",
    "network_namespace_of",
    "parse_storage_index",
    "storage_dirs",
]


def is_podman_rootlessport_process(name: str, spec: Spec | None = None) -> bool:
    """Whether a process name is Podman's rootless port forwarder."""
    spec = spec or builtin_spec()
    return any(h.name == name and h.resolve == "rootless-netns" for h in spec.helpers)


# Helper resolve kinds whose container the rootless Podman resolver finds.
FORWARDER_KINDS = frozenset({"rootless-netns", "pasta"})


def forwarder_for(name: str, spec: Spec) -> HelperProcess | None:
    """The spec's helper record when `name` is a rootless Podman forwarder (rootlessport, pasta)."""
    return next((h for h in spec.helpers if h.name == name and h.resolve in FORWARDER_KINDS), None)


def netns_from_links(links: Iterable[str], marker: str) -> str | None:
    """The network namespace file among a process's fd link targets, if any."""
    for target in links:
        if marker in target:
            return target
    return None


def socket_inodes(links: Iterable[str]) -> set[int]:
    """The inodes of the sockets among a process's fd link targets (`socket:[INODE]`)."""
    inodes = set()
    for target in links:
        if target.startswith("socket:[") and target.endswith("]"):
            digits = target[8:-1]
            if digits.isascii() and digits.isdigit():
                inodes.add(int(digits))
    return inodes


def ids_of_unix_sockets(table: bytes, inodes: set[int]) -> set[str]:
    """The container ids that name unix sockets of `inodes` in a /proc/net/unix table.

    A line is `Num RefCount Protocol Flags Type St Inode [Path]`; a path whose
    last component is a storage id (64 lowercase hex) names that container
    (Podman 5's rootlessport binds `<tmpdir>/rp/<id>`).
    """
    ids = set()
    for line in table.decode("utf-8", "replace").splitlines()[1:]:
        fields = line.split(None, 7)
        if len(fields) < 8 or not fields[6].isdigit() or int(fields[6]) not in inodes:
            continue
        name = fields[7].rstrip().rsplit("/", 1)[-1]
        if is_storage_id(name):
            ids.add(name)
    return ids


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
        self._by_id: dict[tuple[int, str], ContainerInfo] = {}

    def resolve(
        self, pid: int, env: Env, *, netns: str | None = None, id_socket: bool = False
    ) -> ContainerInfo | None:
        """The container `pid` serves: by the network namespace it holds open, or `netns` when given.

        `netns` is what the process's command line claims (pasta's
        `--netns`): it must be the namespace file the process holds, when it
        holds one. With `id_socket`, a unix socket it holds whose name ends
        in a container id is a second anchor: it names the container when
        the namespace does not, and the two must agree when both do.
        """
        started = self.reader.start_time(pid)
        cached = self._by_pid.get(pid)
        if cached is not None and started is not None and cached[0] == started:
            return cached[1]
        self.reader.begin(self.limits.resolve_deadline)
        info = self._resolve(pid, env, netns, id_socket)
        if started is not None:
            self._by_pid[pid] = (started, info)
        return info

    def _resolve(self, pid: int, env: Env, claimed: str | None, id_socket: bool) -> ContainerInfo | None:
        uid = self.reader.owner(pid)
        if uid is None:
            return None
        links = self.reader.fd_links(pid)
        netns = netns_from_links(links, self.spec.podman_storage.netns_marker)
        if claimed is not None:
            if netns is not None and netns != claimed:
                return None  # the command line names another namespace than the one it holds
            netns = claimed
        info = None
        if netns is not None:
            info = self._by_netns.get((uid, netns)) or self._scan(netns, env, uid)
        if not id_socket:
            return info
        inodes = socket_inodes(links)
        ids: set[str] = set()
        if inodes:
            for table in self.reader.unix_tables(pid):
                ids |= ids_of_unix_sockets(table, inodes)
        if info is not None:
            return info if not ids or ids == {info.id} else None
        if len(ids) != 1:
            return None
        (container_id,) = ids
        return (
            self._by_id.get((uid, container_id))
            or self._stored(container_id, env, uid)
            or ContainerInfo(container_id, short_container_id(container_id), "")
        )

    def _stored(self, container_id: str, env: Env, uid: int) -> ContainerInfo | None:
        """The storage index entry of `container_id` (name and image; no config is read)."""
        storage = self.spec.podman_storage
        home = self.reader.home_of(uid)
        for directory in storage_dirs(env, self.spec, [home] if home else []):
            if self.reader.expired():
                return None
            index = self.reader.read(os.path.join(directory, storage.containers_file), self.limits.max_index_bytes, uid)
            for stored in parse_storage_index(index or b"[]", self.limits.max_index_entries):
                if stored.id == container_id:
                    info = ContainerInfo(stored.id, stored.name, stored.image)
                    self._by_id[(uid, stored.id)] = info
                    return info
        return None

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
                self._by_id.setdefault((uid, stored.id), info)
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
    cmdline: Sequence[str] = (),
) -> ContainerInfo | None:
    """The container a rootlessport or pasta process forwards for, or None (not one, or unknown).

    `cmdline` is the process's command line: pasta's network namespace is
    the value of its `netns_flag` there (spec/helpers.yaml).
    """
    helper = forwarder_for(name, resolver.spec)
    if helper is None:
        return None
    netns = None
    if helper.netns_flag:
        claimed = flag_values(cmdline, [helper.netns_flag])
        if len(claimed) != 1:
            return None  # pasta without --netns (or with two) serves no container of Podman's
        netns = claimed[0]
    return resolver.resolve(pid, env or Env.from_os(home), netns=netns, id_socket=helper.id_socket)
