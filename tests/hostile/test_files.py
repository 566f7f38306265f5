"""Hostile files: what a local user can put where dockspec reads (issue 14).

Real files in a temporary directory, as root would meet them in another
user's home: a FIFO (an open() that never returns without O_NONBLOCK), a
pty, a symlink to /dev/zero (a read that never ends), a directory, a
symlink to a FIFO, and 2 KB of deeply nested JSON or TOML (RecursionError in
json and tomllib). Each ends in a documented DockspecError (ContextError
naming the path) or an empty best-effort result within its deadline plus
the suite's margin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockspec import Env, await_detection, detect_containers, start_detection
from dockspec._io.config_fs import FsConfigFiles
from dockspec._io.files import Refused, read_file
from dockspec._io.tls import client_context
from dockspec.contexts import context_digest
from dockspec.errors import ContextError
from dockspec.models import Credentials
from tests.hostile.harness import SPEC
from tests.hostile.measure import LIMITS, MARGIN, measure

DEEP_JSON = "[" * 1000 + "]" * 1000  # 2 KB, past json's recursion limit
DEEP_TOML = "x = " + "[" * 1000 + "]" * 1000 + "\n"

Maker = Callable[[Path], None]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _pty(path: Path) -> None:
    main, replica = os.openpty()
    _PTYS.extend((main, replica))
    path.symlink_to(os.ttyname(replica))


def _zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(path: Path) -> None:
    path.mkdir()


def _link_to_fifo(path: Path) -> None:
    os.mkfifo(str(path) + ".fifo")
    path.symlink_to(str(path) + ".fifo")


_PTYS: list[int] = []
KINDS: dict[str, Maker] = {
    "fifo": _fifo, "pty": _pty, "symlink to /dev/zero": _zero, "directory": _directory,
    "symlink to a fifo": _link_to_fifo,
}


@pytest.fixture(autouse=True)
def _close_ptys() -> Iterator[None]:
    yield
    while _PTYS:
        os.close(_PTYS.pop())


@pytest.mark.parametrize("kind", KINDS)
def test_read_file_refuses_before_reading(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "f"
    KINDS[kind](path)
    started = time.monotonic()
    with pytest.raises(Refused, match="not a regular file"):
        read_file(str(path), 1024 * 1024)
    assert time.monotonic() - started < MARGIN


@pytest.mark.parametrize("kind", KINDS)
def test_config_reader_refuses_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.json"
    KINDS[kind](path)
    got = measure(f"FsConfigFiles: {kind}", lambda: FsConfigFiles().read_text(str(path)))
    assert isinstance(got.error, ContextError) and str(path) in str(got.error)
    assert "not a regular file" in str(got.error)
    assert got.elapsed < MARGIN


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".config" / "containers").mkdir(parents=True)
    return home


def _env(home: Path, **environ: str) -> Env:
    return Env(platform="linux", uid=0, home=str(home), environ=environ)


def _bad_config_json(home: Path, kind: str) -> Env:
    KINDS[kind](home / ".docker" / "config.json")
    return _env(home)


def _deep(home: Path, which: str) -> Env:
    if which == "config.json":
        (home / ".docker" / "config.json").write_text(DEEP_JSON)
        return _env(home)
    if which == "meta.json":
        meta = home / ".docker" / "contexts" / "meta" / context_digest("evil") / "meta.json"
        meta.parent.mkdir(parents=True)
        meta.write_text(DEEP_JSON)
        return _env(home, DOCKER_CONTEXT="evil")
    if which == "podman-connections.json":
        (home / ".config" / "containers" / "podman-connections.json").write_text(DEEP_JSON)
        return _env(home, CONTAINER_CONNECTION="evil")
    conf = home / "containers.conf"
    conf.write_text(DEEP_TOML)
    return _env(home, CONTAINERS_CONF=str(conf), CONTAINER_CONNECTION="evil")


DEEP = ["config.json", "meta.json", "podman-connections.json", "containers.conf"]


def _each_entry_point(env: Env, label: str, reason: str) -> None:
    """detect_containers raises ContextError; start_detection returns at once and await_detection gives {}."""
    got = measure(f"detect_containers: {label}", lambda: detect_containers(env=env, spec=SPEC, limits=LIMITS))
    assert isinstance(got.error, ContextError), got
    assert reason in str(got.error)
    assert got.elapsed < LIMITS.deadline + MARGIN
    started = time.monotonic()
    handle = start_detection(env=env, spec=SPEC, limits=LIMITS)
    assert time.monotonic() - started < MARGIN
    assert {} == await_detection(handle)
    assert time.monotonic() - started < LIMITS.deadline + MARGIN


@pytest.mark.parametrize("kind", KINDS)
def test_config_json_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    _each_entry_point(_bad_config_json(_home(tmp_path), kind), f"config.json is a {kind}", "not a regular file")


@pytest.mark.parametrize("which", DEEP)
def test_deeply_nested_configuration(tmp_path: Path, which: str) -> None:
    env = _deep(_home(tmp_path), which)
    _each_entry_point(env, f"deeply nested {which}", "nests deeper than 64 levels")


@pytest.mark.parametrize("kind", KINDS)
def test_tls_material_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    """A CA, certificate or key that is not a regular file: ContextError at once, never opened by ssl."""
    for role in ("ca_file", "cert_file", "key_file"):
        where = tmp_path / role
        where.mkdir()
        good = {name: str(where / name) for name in ("ca_file", "cert_file", "key_file")}
        for name, value in good.items():
            if name != role:
                Path(value).write_text("-----BEGIN CERTIFICATE-----\n")
        KINDS[kind](Path(good[role]))
        # the CA is only read when verifying; the cert and key are checked without it
        credentials = Credentials(**good, verify=role == "ca_file")
        got = measure(f"client_context: {role} is a {kind}", lambda c=credentials: client_context(c))
        assert isinstance(got.error, ContextError), (role, got)
        assert "not a regular file" in str(got.error)
        assert got.elapsed < MARGIN


@pytest.mark.parametrize("kind", KINDS)
def test_docker_cert_path_ca_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    """DOCKER_TLS_VERIFY with a ca.pem that is a FIFO (it hung `ps`): a ContextError within the deadline."""
    KINDS[kind](tmp_path / "ca.pem")
    env = Env(platform="linux", uid=0, environ={
        "DOCKER_HOST": "tcp://127.0.0.1:9", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    _each_entry_point(env, f"ca.pem is a {kind}", "not a regular file")
