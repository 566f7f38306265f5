"""Bounded file reads: a file larger than expected costs at most the bound, not its size."""

from __future__ import annotations

__all__ = ["read_bounded"]

CHUNK = 64 * 1024


def read_bounded(path: str, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `limit`; OSError as open() raises it.

    Reads in chunks so that a small file never costs a `limit`-sized buffer.
    """
    chunks: list[bytes] = []
    total = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(min(CHUNK, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                return None
    return b"".join(chunks)
