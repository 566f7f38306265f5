"""File reads for the rootless Podman resolver: fd links, storage files, owners."""

from __future__ import annotations

import os

from dockspec._io.files import read_bounded

__all__ = ["FsReader"]

# A storage index or OCI config larger than this is not Podman's.
MAX_FILE_BYTES = 16 * 1024 * 1024


class FsReader:
    """Reads what dockspec.podman needs; counts reads so tests can see cache hits."""

    def __init__(self, proc: str = "/proc") -> None:
        self.proc = proc
        self.reads = 0

    def fd_links(self, pid: int) -> list[str]:
        self.reads += 1
        fd_dir = os.path.join(self.proc, str(pid), "fd")
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return []
        links = []
        for name in names:
            try:
                links.append(os.readlink(os.path.join(fd_dir, name)))
            except OSError:
                continue
        return links

    def read(self, path: str) -> bytes | None:
        self.reads += 1
        try:
            return read_bounded(path, MAX_FILE_BYTES)
        except OSError:
            return None

    def owner_home(self, pid: int) -> str | None:
        """The home directory of the user running `pid` (its storage lives there)."""
        self.reads += 1
        try:
            uid = os.stat(os.path.join(self.proc, str(pid))).st_uid
            import pwd

            return pwd.getpwuid(uid).pw_dir
        except (OSError, KeyError, ImportError):
            return None
