"""The users a directory such as /run/user names: its entries that are ASCII digits, bounded."""

from __future__ import annotations

import os

__all__ = ["user_ids_in"]


def user_ids_in(directory: str, cap: int) -> list[int]:
    """The uids named by `directory`'s entries (ASCII digits only), lowest first, at most `cap`; [] when unreadable.

    At most 64 times `cap` entries are looked at, so a directory full of
    other names costs bounded work.
    """
    found: list[int] = []
    try:
        with os.scandir(directory) as entries:
            for looked, entry in enumerate(entries):
                if looked >= 64 * max(cap, 1):
                    break
                name = entry.name
                if name.isascii() and name.isdigit() and len(name) <= 10:
                    found.append(int(name))
    except OSError:
        return []
    return sorted(found)[:cap]
