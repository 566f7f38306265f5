"""Bounded file reads (storage index, OCI configs), and the config-file reader contexts use."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockspec._io.config_fs import MAX_CONFIG_BYTES, FsConfigFiles
from dockspec._io.files import read_bounded
from dockspec.errors import ContextError


@pytest.mark.parametrize(("size", "limit", "kept"), [(0, 10, True), (10, 10, True), (11, 10, False),
                                                     (200_000, 200_000, True), (200_001, 200_000, False)])
def test_read_bounded(tmp_path: Path, size: int, limit: int, kept: bool) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    assert (b"x" * size if kept else None) == read_bounded(str(path), limit)


def test_read_bounded_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bounded(str(tmp_path / "missing"), 10)


def test_fs_config_files(tmp_path: Path) -> None:
    files = FsConfigFiles()
    assert files.read_text(str(tmp_path / "missing")) is None
    assert files.read_text(str(tmp_path / "missing" / "deeper")) is None
    (tmp_path / "f").write_text("hello")
    assert files.read_text(str(tmp_path / "f")) == "hello"
    assert files.read_text(str(tmp_path / "f" / "not-a-dir")) is None
    with pytest.raises(ContextError, match="cannot read"):
        files.read_text(str(tmp_path))
    (tmp_path / "big").write_bytes(b"x" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ContextError, match="larger than"):
        files.read_text(str(tmp_path / "big"))
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(ContextError, match="UTF-8"):
        files.read_text(str(tmp_path / "bin"))
