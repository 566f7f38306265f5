"""Reads the configuration files dockspec.contexts resolves: docker's config.json
and context store, podman's containers.conf and podman-connections.json."""

from __future__ import annotations

from dockspec._io.files import read_bounded
from dockspec.errors import ContextError

__all__ = ["MAX_CONFIG_BYTES", "FsConfigFiles"]

# config.json, a context's meta.json, a PEM file or containers.conf are a few
# KiB; Debian's commented /usr/share/containers/containers.conf is ~30 KiB.
MAX_CONFIG_BYTES = 1024 * 1024


class FsConfigFiles:
    """`ConfigFiles` over the real file system.

    A missing file (or a missing directory on its path) is None; any other
    failure (permissions, a directory where a file should be, a file over
    MAX_CONFIG_BYTES, bytes that are not UTF-8) is a ContextError naming the
    path: a configuration dockspec cannot read is reported, not skipped.
    """

    def __init__(self) -> None:
        self.reads: list[str] = []

    def read_text(self, path: str) -> str | None:
        self.reads.append(path)
        try:
            data = read_bounded(path, MAX_CONFIG_BYTES)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ContextError(f"cannot read {path}: {exc.strerror or exc}") from None
        if data is None:
            raise ContextError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContextError(f"{path} is not UTF-8 text: {exc}") from None
