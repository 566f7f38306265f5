"""Reads of /proc for socket attribution: a process's cgroup file, bounded."""

from __future__ import annotations

import os
import stat

__all__ = ["CHUNK", "owner_of", "read_cgroup", "read_proc_file"]

CHUNK = 64 * 1024


def owner_of(path: str) -> int | None:
    """The uid owning `path` (a process's /proc/PID directory, a daemon's socket file), or None: gone or unreadable."""
    try:
        return os.stat(path).st_uid
    except (OSError, ValueError):
        return None


def read_cgroup(pid: int, max_bytes: int, proc: str = "/proc") -> str | None:
    """The text of /proc/PID/cgroup, or None: gone, not ours, not a regular file, or over `max_bytes`."""
    try:
        path = os.path.join(proc, str(int(pid)), "cgroup")
    except ValueError:
        return None
    return read_proc_file(path, max_bytes)


def read_proc_file(path: str, max_bytes: int) -> str | None:
    """The text of a /proc file, or None: gone, not ours, not a regular file, or over `max_bytes`.

    Opened without following a symlink and without blocking; at most
    `max_bytes` + 1 bytes are read. Undecodable bytes are replaced (the
    parser then finds no id in them).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(CHUNK, max_bytes + 1 - total))  # a chunk at a time: the cap is no allocation
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            return None
        return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
