"""File reads for the rootless Podman resolver: fd links, process owners and start times, storage files.

Everything here is best effort: what cannot be read, or is refused by
dockspec._io.files (not a regular file, a symlink where Podman writes
none, owned by someone else, over its size cap, past the resolution's
deadline), is None, and the reason is kept in `refusals` for tests and
debugging. One resolution's clock starts at `begin(seconds)`.
"""

from __future__ import annotations

import os
import time

from dockspec._io.files import Refused, read_file

__all__ = ["MAX_FDS", "FsReader"]

# A process's descriptors looked at for its network namespace; rootlessport holds a handful.
MAX_FDS = 4096
# /proc/<pid>/stat is one line of ~300 bytes.
_STAT_BYTES = 4096


class FsReader:
    """Reads what dockspec.podman needs.

    `reads` counts fd listings, owner lookups and storage reads, so tests
    can see that a cache hit reads no storage; `checks` counts the start
    time reads a cache hit does make (a reused pid is not served a stale
    answer).
    """

    def __init__(self, proc: str = "/proc") -> None:
        self.proc = proc
        self.reads = 0
        self.checks = 0
        self.refusals: list[str] = []
        self._deadline: float | None = None

    def begin(self, seconds: float) -> None:
        """Start one resolution's clock: reads after `seconds` from now are refused."""
        self._deadline = time.monotonic() + seconds

    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def fd_links(self, pid: int) -> list[str]:
        """The link targets of `pid`'s descriptors (at most MAX_FDS of them, within the deadline)."""
        self.reads += 1
        fd_dir = os.path.join(self.proc, str(pid), "fd")
        links: list[str] = []
        try:
            with os.scandir(fd_dir) as entries:
                for entry in entries:
                    if len(links) >= MAX_FDS or self.expired():
                        break
                    try:
                        links.append(os.readlink(entry.path))
                    except OSError:
                        continue
        except OSError:
            return []
        return links

    def owner(self, pid: int) -> int | None:
        """The uid running `pid`, or None when it is gone."""
        self.reads += 1
        try:
            return os.stat(os.path.join(self.proc, str(pid))).st_uid
        except OSError:
            return None

    def start_time(self, pid: int) -> int | None:
        """`pid`'s start time in clock ticks since boot (/proc/<pid>/stat field 22), or None."""
        self.checks += 1
        try:
            data = read_file(os.path.join(self.proc, str(pid), "stat"), _STAT_BYTES)
        except Refused:
            return None
        if data is None:
            return None
        fields = data[data.rfind(b")") + 1 :].split()
        try:
            return int(fields[19])
        except (IndexError, ValueError):
            return None

    def home_of(self, uid: int) -> str | None:
        """The home directory of `uid` (its rootless storage lives there)."""
        self.reads += 1
        try:
            import pwd

            return pwd.getpwuid(uid).pw_dir
        except (KeyError, ImportError, OverflowError):
            return None

    def read(self, path: str, limit: int, owner: int) -> bytes | None:
        """The storage file at `path`: a regular file (no symlink) owned by `owner`, at most `limit` bytes."""
        self.reads += 1
        if self.expired():
            self.refusals.append(f"{path}: the resolution passed its deadline")
            return None
        try:
            return read_file(path, limit, follow=False, owners=frozenset({owner}), deadline=self._deadline)
        except Refused as exc:
            self.refusals.append(str(exc))
            return None
