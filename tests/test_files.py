"""The one file reader (dockspec._io.files) and the config-file reader contexts use, on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockspec._io.config_fs import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, FsConfigFiles
from dockspec._io.files import Refused, nesting_depth, read_file
from dockspec.errors import ContextError

NOBODY = 65534


@pytest.mark.parametrize(("size", "limit", "kept"), [(0, 10, True), (10, 10, True), (11, 10, False),
                                                     (200_000, 200_000, True), (200_001, 200_000, False)])
def test_read_file_size_cap(tmp_path: Path, size: int, limit: int, kept: bool) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    if kept:
        assert b"x" * size == read_file(str(path), limit)
    else:
        with pytest.raises(Refused, match=f"larger than {limit} bytes"):
            read_file(str(path), limit)


def test_read_file_missing_is_none(tmp_path: Path) -> None:
    assert read_file(str(tmp_path / "missing"), 10) is None
    (tmp_path / "f").write_text("x")
    assert read_file(str(tmp_path / "f" / "below-a-file"), 10) is None


def test_read_file_refuses_a_nul(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="NUL"):
        read_file(str(tmp_path) + "/a\0b", 10)


def test_read_file_symlink_followed_or_refused(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("hello")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert b"hello" == read_file(str(tmp_path / "link"), 10)
    with pytest.raises(Refused, match="symbolic link"):
        read_file(str(tmp_path / "link"), 10, follow=False)


def test_read_file_owner(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    os.chown(path, NOBODY, NOBODY)
    assert b"x" == read_file(str(path), 10, owners=frozenset({NOBODY}))
    with pytest.raises(Refused, match=f"owned by uid {NOBODY}, not by uid 0"):
        read_file(str(path), 10, owners=frozenset({0}))


def test_read_file_deadline(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    with pytest.raises(Refused, match="deadline"):
        read_file(str(path), 10, deadline=0.0)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": 2}]}', 3),
        ('["]]]]", [[1]]]', 3),
        ('"[[[["', 0),
        ('["\\"[[", 1]', 1),
        ("a = [[1], [2]]\n[table]\n", 2),
        ("# [[[[[[\nx = '[[[['\n", 0),
        ('x = """[[[\n"]]]"""\ny = [1]', 1),
        ("x = '''[[['''\n", 0),
    ],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert depth == nesting_depth(text, 100)


def test_nesting_depth_stops_past_the_cap() -> None:
    assert 11 == nesting_depth("[" * 100_000, 10)


def test_fs_config_files(tmp_path: Path) -> None:
    files = FsConfigFiles()
    assert files.read_text(str(tmp_path / "missing")) is None
    assert files.read_text(str(tmp_path / "missing" / "deeper")) is None
    (tmp_path / "f").write_text("hello")
    assert files.read_text(str(tmp_path / "f")) == "hello"
    assert files.read_text(str(tmp_path / "f" / "not-a-dir")) is None
    with pytest.raises(ContextError, match="is a directory, not a regular file"):
        files.read_text(str(tmp_path))
    (tmp_path / "big").write_bytes(b"x" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ContextError, match="larger than"):
        files.read_text(str(tmp_path / "big"))
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(ContextError, match="UTF-8"):
        files.read_text(str(tmp_path / "bin"))
    (tmp_path / "deep.json").write_text("[" * (MAX_CONFIG_DEPTH + 1) + "]" * (MAX_CONFIG_DEPTH + 1))
    with pytest.raises(ContextError, match="nests deeper"):
        files.read_text(str(tmp_path / "deep.json"))


def test_fs_config_files_reads_each_path_once(tmp_path: Path) -> None:
    files = FsConfigFiles()
    (tmp_path / "f").write_text("hello")
    assert files.read_text(str(tmp_path / "f")) == files.read_text(str(tmp_path / "f")) == "hello"
    for _ in range(2):
        with pytest.raises(ContextError, match="directory"):
            files.read_text(str(tmp_path))
    assert [str(tmp_path / "f"), str(tmp_path)] == files.reads


def test_fs_config_files_refuses_another_users_file(tmp_path: Path) -> None:
    """Root reading its configuration does not take a file owned by another user."""
    (tmp_path / "config.json").write_text("{}")
    os.chown(tmp_path / "config.json", NOBODY, NOBODY)
    with pytest.raises(ContextError, match=f"owned by uid {NOBODY}"):
        FsConfigFiles(owners=frozenset({0})).read_text(str(tmp_path / "config.json"))
    assert "{}" == FsConfigFiles(owners=frozenset({0, NOBODY})).read_text(str(tmp_path / "config.json"))


def test_fs_config_files_reads_the_files_of_the_user_it_is_for(tmp_path: Path) -> None:
    """An Env built for another user (uid) reads that user's files; root's run with that HOME does not."""
    (tmp_path / "config.json").write_text("{}")
    os.chown(tmp_path / "config.json", NOBODY, NOBODY)
    assert "{}" == FsConfigFiles(uid=NOBODY).read_text(str(tmp_path / "config.json"))
    with pytest.raises(ContextError, match=f"owned by uid {NOBODY}"):
        FsConfigFiles(uid=0).read_text(str(tmp_path / "config.json"))
    (tmp_path / "system.conf").write_text("")
    assert "" == FsConfigFiles(uid=NOBODY).read_text(str(tmp_path / "system.conf"))  # root's files always count
