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

__all__ = ["MAX_FDS", "MAX_UNIX_TABLE", "FsReader"]

# A process's descriptors looked at for its network namespace; rootlessport holds a handful.
MAX_FDS = 4096
# /proc/net/unix: about 150 bytes a socket; a busy host has a few thousand.
MAX_UNIX_TABLE = 8 * 1024 * 1024
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

    def unix_tables(self, pid: int) -> list[bytes]:
        """The unix socket tables (/proc/net/unix) of `pid`'s network namespace and of ours, as read.

        A socket stays in the namespace it was made in: Podman 5's
        rootlessport makes its id socket on the host side and then lives in
        another namespace, so both tables are read (each at most
        MAX_UNIX_TABLE bytes, within the deadline); what cannot be read is left out.
        """
        self.reads += 1
        tables = []
        for path in (os.path.join(self.proc, str(pid), "net", "unix"), os.path.join(self.proc, "self", "net", "unix")):
            if self.expired():
                break
            try:
                data = read_file(path, MAX_UNIX_TABLE, deadline=self._deadline)
            except Refused as exc:
                self.refusals.append(str(exc))
                continue
            if data is not None:
                tables.append(data)
        return tables

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
