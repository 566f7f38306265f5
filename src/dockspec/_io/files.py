"""The one reader for every file dockspec opens (configs, contexts, TLS material, Podman storage).

A file another user controls is input from an attacker: it may be a FIFO or
a pty (an open() or read() that never returns), a symlink to /dev/zero (a
read that never ends), a directory, a file that grows while it is read, or
owned by someone it should not be. `read_file` opens nothing but a regular
file, and reads at most `limit` bytes of it before a deadline:

- the path is stat()ed first (lstat() when `follow` is False), and anything
  but a regular file is refused without being opened;
- the open is O_NONBLOCK | O_NOCTTY | O_CLOEXEC (plus O_NOFOLLOW when
  `follow` is False), so a FIFO or terminal swapped in after the stat cannot
  block it or become the controlling terminal, and fstat() of the opened
  descriptor is checked again (regular file, owner, size): what is read is
  what was checked;
- the owner must be one of `owners` (when given);
- the read stops at `limit + 1` bytes and is checked against `deadline`
  (time.monotonic()) between 64 KiB chunks.

Anything refused raises `Refused` with the path and a one-line reason (no
file content in it); a missing file (or a missing directory on its path)
is None. Parsing is the pure modules' business; `nesting_depth` lets a
reader refuse deeply nested text before a recursive parser (json, tomllib)
sees it.
"""

from __future__ import annotations

import errno
import os
import stat
import time

__all__ = ["CHUNK", "Refused", "nesting_depth", "open_regular", "read_file"]

CHUNK = 64 * 1024

_BASE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class Refused(Exception):
    """A file dockspec will not read (or could not): `path` and a one-line `reason`."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _check(path: str, st: os.stat_result, limit: int, owners: frozenset[int] | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise Refused(path, f"is {_kind(st.st_mode)}, not a regular file")
    if owners is not None and st.st_uid not in owners:
        allowed = " or ".join(str(uid) for uid in sorted(owners))
        raise Refused(path, f"is owned by uid {st.st_uid}, not by uid {allowed}")
    if st.st_size > limit:
        raise Refused(path, f"is larger than {limit} bytes")


def open_regular(
    path: str, limit: int, *, follow: bool = True, owners: frozenset[int] | None = None
) -> int | None:
    """A descriptor open on the regular file at `path` (checked as `read_file` says), or None when missing.

    The caller closes it. Raises Refused as `read_file` does.
    """
    if "\0" in path:
        raise Refused(repr(path), "the path holds a NUL byte")
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise Refused(path, getattr(exc, "strerror", None) or str(exc)) from None
    _check(path, st, limit, owners)
    try:
        fd = os.open(path, _BASE_FLAGS | (0 if follow else _NOFOLLOW))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:
            raise Refused(path, "is a symbolic link, not a regular file") from None
        raise Refused(path, exc.strerror or str(exc)) from None
    try:
        _check(path, os.fstat(fd), limit, owners)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(
    path: str,
    limit: int,
    *,
    follow: bool = True,
    owners: frozenset[int] | None = None,
    deadline: float | None = None,
) -> bytes | None:
    """The bytes of the regular file at `path`, or None when it does not exist.

    Raises Refused when it is not a regular file (after following links when
    `follow`; a link is refused when not), is owned by a uid outside
    `owners`, holds more than `limit` bytes, cannot be opened or read, or
    the read passes `deadline`.
    """
    fd = open_regular(path, limit, follow=follow, owners=owners)
    if fd is None:
        return None
    try:
        chunks: list[bytes] = []
        total = 0
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise Refused(path, "the read passed its deadline")
            try:
                chunk = os.read(fd, min(CHUNK, limit + 1 - total))
            except BlockingIOError:
                raise Refused(path, "the read would block") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise Refused(path, f"is larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise Refused(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def nesting_depth(text: str | bytes, cap: int) -> int:
    """How deeply `[` and `{` nest in JSON or TOML text, counting up to `cap + 1` (then it stops).

    Strings ("..." with backslash escapes, '...' and the triple-quoted TOML
    forms) and TOML comments are skipped, so brackets inside them do not
    count, and a closing bracket inside a string cannot hide a deep opening.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = best = 0
    i, n = 0, len(data)
    find = data.find
    while i < n:
        c = data[i]
        if c in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > best:
                best = depth
                if best > cap:
                    return best
        elif c in (0x5D, 0x7D):  # ] }
            depth = max(0, depth - 1)
        elif c == 0x23:  # '#': a TOML comment to the end of the line (JSON refuses it there anyway)
            end = find(b"\n", i)
            i = n if end < 0 else end
        elif c in (0x22, 0x27):  # " '
            quote = bytes([c])
            if data[i : i + 3] == quote * 3:
                close, i = quote * 3, i + 3
            else:
                close, i = quote, i + 1
            while i < n:
                if c == 0x22 and data[i] == 0x5C:  # a backslash escape in a basic string
                    i += 2
                    continue
                if data.startswith(close, i):
                    i += len(close)
                    # TOML allows up to two more quotes right before a closing triple
                    while len(close) == 3 and i < n and data[i] == c:
                        i += 1
                    break
                i += 1
            continue
        i += 1
    return best
