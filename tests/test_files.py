"""Bounded file reads (storage index, OCI configs, docker and podman config files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockspec._io.files import read_bounded


@pytest.mark.parametrize(("size", "limit", "kept"), [(0, 10, True), (10, 10, True), (11, 10, False),
                                                     (200_000, 200_000, True), (200_001, 200_000, False)])
def test_read_bounded(tmp_path: Path, size: int, limit: int, kept: bool) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    assert (b"x" * size if kept else None) == read_bounded(str(path), limit)


def test_read_bounded_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bounded(str(tmp_path / "missing"), 10)
