"""Reads the configuration files dockspec.contexts resolves: docker's config.json
and context store (meta.json, TLS PEM files), podman's containers.conf and
podman-connections.json. Every read goes through dockspec._io.files.read_file."""

from __future__ import annotations

import os

from dockspec._io.files import Refused, nesting_depth, read_file
from dockspec.errors import ContextError

__all__ = ["MAX_CONFIG_BYTES", "MAX_CONFIG_DEPTH", "FsConfigFiles", "config_owners"]

# config.json, a context's meta.json, a PEM file or containers.conf are a few
# KiB; Debian's commented /usr/share/containers/containers.conf is ~30 KiB.
MAX_CONFIG_BYTES = 1024 * 1024
# The deepest real one (a context's meta.json) nests 4 levels; json and
# tomllib recurse per level and raise RecursionError near 1000.
MAX_CONFIG_DEPTH = 64


def config_owners(uid: int | None = None) -> frozenset[int]:
    """Whose configuration files are read: the user they are resolved for (`uid`; default: the process's), or root.

    The caller's files are its environment's (its home, DOCKER_CONFIG,
    CONTAINERS_CONF...), so they should be that user's own; root's are the
    system's (/etc, /usr/share). A file owned by anyone else, as when root
    runs with another user's HOME, is refused. An `Env` built for another
    user (`Env(uid=1001, home=...)`) names that user: pass its uid.
    """
    return frozenset({os.geteuid() if uid is None else uid, 0})


class FsConfigFiles:
    """`ConfigFiles` over the real file system, each path read at most once.

    A missing file (or a missing directory on its path) is None; any other
    failure (permissions, anything but a regular file: a directory, a FIFO,
    a device, a symlink to one; an owner outside `owners`; a file over
    MAX_CONFIG_BYTES or nested deeper than MAX_CONFIG_DEPTH; bytes that are
    not UTF-8; a read past `deadline`) is a ContextError naming the path: a
    configuration dockspec cannot read is reported, not skipped. Links are
    followed (dotfile managers link config.json), and the file they lead to
    is checked. `owners` defaults to config_owners(uid). `reads` lists the
    paths actually read, in order.
    """

    def __init__(
        self, owners: frozenset[int] | None = None, deadline: float | None = None, *, uid: int | None = None
    ) -> None:
        self.owners = config_owners(uid) if owners is None else owners
        self.deadline = deadline
        self.reads: list[str] = []
        self._seen: dict[str, str | ContextError | None] = {}

    def read_text(self, path: str) -> str | None:
        if path in self._seen:
            seen = self._seen[path]
            if isinstance(seen, ContextError):
                raise ContextError(str(seen))
            return seen
        self.reads.append(path)
        try:
            result: str | None = self._read(path)
        except ContextError as exc:
            self._seen[path] = exc
            raise
        self._seen[path] = result
        return result

    def _read(self, path: str) -> str | None:
        try:
            data = read_file(path, MAX_CONFIG_BYTES, owners=self.owners, deadline=self.deadline)
        except Refused as exc:
            raise ContextError(f"cannot read {exc.path}: {exc.reason}") from None
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContextError(f"{path} is not UTF-8 text: {exc}") from None
        # Text with no more brackets than the cap cannot nest past it: the byte loop (0.2 ms on
        # Debian's 24 KiB containers.conf, which has 47) runs only when the count allows it.
        brackets = data.count(b"[") + data.count(b"{")
        if brackets > MAX_CONFIG_DEPTH and nesting_depth(data, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH:
            raise ContextError(f"{path} nests deeper than {MAX_CONFIG_DEPTH} levels")
        return text
