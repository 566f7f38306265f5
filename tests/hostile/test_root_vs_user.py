"""Root's dockspec against an unprivileged local user (issue 14's "Done when").

The test creates the user `dshostile` (idempotent: `useradd` only when it is
missing) and its runtime dir /run/user/<uid>. Every attack of issue 14 is set
up by that user: its files are made by a child process running as the user
in its home and runtime dir, its processes run under `setpriv` as the user
(/usr/bin/python3 naming itself `rootlessport` or `docker-proxy`, holding an
fd on a `/netns/` path of its own), and its daemons are fake daemons on real
Unix sockets in its runtime dir, served by a child running as the user.
Root's call (the CLI's `main` or a library entry point) then runs in a
forked child of its own (root), timed and traced there (tracemalloc peak,
and the growth of ru_maxrss), and killed if it outlives its bound.

Each attack must end within its deadline plus MARGIN, with a peak within
FEW_MIB of the good call's peak for the same entry point, in a documented
outcome: a DockspecError, an unnamed row, or a best-effort empty result;
`start_detection()` returns at once and `await_detection()` never raises.
The hostile suite's summary lists each attack's worst time and peak.

Root only (it creates a user and runs processes as it); the `root` marker
turns a skip into a failure when CI is set.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from dockspec import DEFAULT_LIMITS, Env, await_detection, detect_containers, start_detection, stop_container
from dockspec.contexts import context_digest
from dockspec.errors import DockspecError
from tests.fakedaemon import DOCKER_HEADERS, FakeDaemon, http_response
from tests.hostile.harness import ChildTimeout, in_child
from tests.hostile.measure import RECORDS, Measured

pytestmark = pytest.mark.root

USER = "dshostile"
PYTHON = "/usr/bin/python3"  # the user cannot exec an interpreter under /root
MARGIN = 1.0
"""Scheduling slack on a loaded 2-core runner (seven agents, tracemalloc): far under any hang."""
FEW_MIB = 4 * 1024 * 1024
"""How far above the good call's peak an attack's peak may go (the attacks were unbounded: 2 GB, 16 MiB a read)."""
LIBRARY_DEADLINE = 0.5
ID = "e" * 64
DEEP_JSON = "[" * 1000 + "]" * 1000  # 2 KB, past json's recursion limit
DEEP_TOML = "x = " + "[" * 1000 + "]" * 1000 + "\n"


@attrs.frozen
class User:
    name: str
    uid: int
    gid: int
    home: Path
    runtime: Path

    @property
    def ids(self) -> tuple[int, int]:
        return self.uid, self.gid

    @property
    def storage(self) -> Path:
        return self.home / ".local" / "share" / "containers" / "storage" / "vfs-containers"

    @property
    def netns(self) -> Path:
        return self.runtime / "netns" / "netns-dshostile"


def _ensure_user() -> User:
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", USER], check=True,
                       capture_output=True, timeout=60)
        entry = pwd.getpwnam(USER)
    home = Path(entry.pw_dir)
    runtime = Path(f"/run/user/{entry.pw_uid}")
    for path in (home, runtime):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return User(USER, entry.pw_uid, entry.pw_gid, home, runtime)


@pytest.fixture(scope="module")
def user() -> User:
    if os.geteuid() != 0:
        pytest.skip("root against a user: needs root (creates the user dshostile)")
    for tool in ("useradd", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    if not os.path.exists(PYTHON):
        pytest.skip(f"needs {PYTHON} for the user's processes")
    import psutil  # noqa: F401

    import dockspec.cli  # noqa: F401  (imported before any fork: the children measure the call, not imports)

    return _ensure_user()


def _wipe(user: User) -> None:
    for path in (user.home / ".local", user.home / ".docker", user.home / ".config", user.runtime / "netns"):
        shutil.rmtree(path, ignore_errors=True)
    for path in user.runtime.glob("dockspec-*"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def attacker(user: User) -> Iterator[User]:
    """The user, with none of its attack files left from another test (before and after)."""
    _wipe(user)
    yield user
    _wipe(user)


# ---------------------------------------------------------------- what the user does


def as_user(user: User, work: Callable[[], Any]) -> Any:
    """Run `work` in a child process as the user (its files are then its own)."""
    return in_child(work, user=user.ids)


def _makedirs(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)


FIFO = None


def files_of_user(user: User, files: dict[Path, str | None]) -> None:
    """The user writes each file (text, or FIFO for a FIFO), its directories made."""

    def work() -> None:
        for path, text in files.items():
            _makedirs(path.parent)
            if text is FIFO:
                os.mkfifo(path)
            else:
                path.write_text(text)

    as_user(user, work)


def storage_with(user: User, index: object | None, configs: dict[str, object] | None = None,
                 kind: str = "file") -> None:
    """The user's storage: containers.json (JSON of `index`, or a FIFO, or a link to /dev/zero), configs by id."""

    def work() -> None:
        _makedirs(user.storage, user.netns.parent)
        user.netns.write_text("")
        path = user.storage / "containers.json"
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "file":
            path.write_text(json.dumps(index))
        for container_id, doc in (configs or {}).items():
            config = user.storage / container_id / "userdata" / "config.json"
            config.parent.mkdir(parents=True, exist_ok=True)
            if doc == "/dev/zero":
                config.symlink_to("/dev/zero")
            else:
                config.write_text(doc if isinstance(doc, str) else json.dumps(doc))

    as_user(user, work)


def netns_config(user: User) -> dict[str, object]:
    return {"linux": {"namespaces": [{"type": "network", "path": str(user.netns)}]}}


PROCESS = r"""
import os, socket, sys, time
name, netns, pty_link = sys.argv[1], sys.argv[2], sys.argv[3]
with open("/proc/self/comm", "w") as comm:
    comm.write(name)
if netns:
    keep = os.open(netns, os.O_RDONLY)
if pty_link:
    main, replica = os.openpty()
    os.symlink(os.ttyname(replica), pty_link)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(1)
print(sock.getsockname()[1], flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def user_process(
    user: User, name: str, *args: str, netns: bool = True, pty_link: str = ""
) -> Iterator[tuple[int, int]]:
    """A listening process run by the user, named `name`, with `args` on its command line: (pid, port)."""
    if netns:
        files_of_user(user, {user.netns: ""})
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", PYTHON, "-c", PROCESS,
         name, str(user.netns) if netns else "", pty_link, *args],
        stdout=subprocess.PIPE, text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": str(user.home)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"the user's {name} did not start"
        yield proc.pid, int(line)
    finally:
        proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def user_daemon(user: User, routes: dict[tuple[str, str], bytes]) -> Iterator[str]:
    """A fake daemon (tests/fakedaemon.py) served by the user on a socket in its runtime dir: its unix:// URL."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.gid)
            os.setuid(user.uid)
            import tempfile

            tempfile.tempdir = str(user.runtime)  # FakeDaemon's socket directory: the user's runtime dir
            daemon = FakeDaemon(routes)
            os.write(write_end, daemon.url.encode() + b"\n")
            while True:
                time.sleep(1)
        finally:
            os._exit(1)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            url = reader.readline().decode().strip()
        assert url.startswith(f"unix://{user.runtime}/"), url
        yield url
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# ---------------------------------------------------------------- what root does, measured in a child


def _in_root_child(call: Callable[[], Any]) -> dict[str, Any]:
    """Time and trace `call` in this (forked) child; DockspecError is an outcome, anything else fails the test."""
    import resource
    import tracemalloc

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.monotonic()
    value: Any = None
    error: str | None = None
    try:
        value = call()
    except DockspecError as exc:
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"elapsed": elapsed, "peak": peak, "rss_growth_kib": growth, "value": value, "error": error}


@attrs.frozen
class RootCall:
    label: str
    elapsed: float
    peak: int
    rss_growth_kib: int
    value: Any
    error: str | None


def root_calls(attack: str, label: str, call: Callable[[], Any], bound: float) -> RootCall:
    """Root's `call` in a child, killed after `bound` + 10 s (a hang fails the test, it does not stop the suite)."""
    try:
        got = in_child(lambda: _in_root_child(call), timeout=bound + 10)
    except ChildTimeout:
        pytest.fail(f"{label}: still running after {bound + 10} s (the hang is back)")
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    RECORDS.append(Measured(f"{attack}: {label}", got["elapsed"], got["peak"], test=test, attack=attack))
    return RootCall(label, got["elapsed"], got["peak"], got["rss_growth_kib"], got["value"], got["error"])


def cli(argv: list[str], environ: dict[str, str]) -> Callable[[], dict[str, Any]]:
    """main() as a call for a child: its status, stdout and stderr."""

    def call() -> dict[str, Any]:
        from dockspec.cli import main

        out, err = io.StringIO(), io.StringIO()
        status = main(argv, environ, out, err)
        return {"status": status, "out": out.getvalue(), "err": err.getvalue()}

    return call


GOOD: dict[str, RootCall] = {}
"""The good call of each entry point, measured once (the baseline an attack's peak is held to)."""


def good(name: str, make: Callable[[], RootCall]) -> RootCall:
    if name not in GOOD:
        GOOD[name] = make()
    return GOOD[name]


def assert_bounded(got: RootCall, bound: float, baseline: RootCall, extra: int = 0) -> None:
    assert got.elapsed < bound + MARGIN, got
    assert got.peak < baseline.peak + FEW_MIB + extra, (got, baseline.peak)


# ---------------------------------------------------------------- the root side's set-ups


@pytest.fixture(scope="module")
def root_daemon() -> Iterator[str]:
    """Root's own (good, empty) daemon, so `ports` asks none of the machine's real daemons."""
    daemon = FakeDaemon({("GET", "/containers/json"): http_response(200, "[]", DOCKER_HEADERS)})
    try:
        yield daemon.url
    finally:
        daemon.close()


def ports_env(root_daemon: str) -> dict[str, str]:
    return {"DOCKER_HOST": root_daemon, "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}


PORTS_BOUND = DEFAULT_LIMITS.resolve_deadline + 1.0
"""`ports`: the resolver's deadline for the user's process, plus listing the host's sockets (~0.3 s here)."""


def row_of(result: dict[str, Any], pid: int) -> dict[str, Any]:
    rows = [r for r in json.loads(result["out"]) if r["pid"] == pid]
    assert rows, result["err"]
    return dict(rows[0])


def good_ports(user: User, root_daemon: str) -> RootCall:
    """The same bed with good storage: the socket is named (so each attack below can fail)."""

    def make() -> RootCall:
        storage_with(user, [{"id": ID, "names": ["evil"]}], {ID: netns_config(user)})
        with user_process(user, "rootlessport") as (pid, _):
            got = root_calls("good", "dockspec ports --json (the user's good storage)",
                             cli(["ports", "--json"], ports_env(root_daemon)), PORTS_BOUND)
        _wipe(user)
        assert 0 == got.value["status"], got
        assert "evil" == (row_of(got.value, pid)["container"] or {}).get("name"), got.value["err"]
        return got

    return good("ports", make)


def good_lookup(user: User) -> RootCall:
    def make() -> RootCall:
        storage_with(user, [{"id": ID, "names": ["evil"]}], {ID: netns_config(user)})
        with user_process(user, "rootlessport") as (pid, _):
            got = root_calls("good", "lookup_rootless_podman_container (good storage)", lookup(pid),
                             DEFAULT_LIMITS.resolve_deadline)
        _wipe(user)
        assert "evil" == got.value, got
        return got

    return good("lookup", make)


def lookup(pid: int) -> Callable[[], str | None]:
    def call() -> str | None:
        from dockspec import RootlessPodmanResolver, lookup_rootless_podman_container

        found = lookup_rootless_podman_container(pid, "rootlessport", RootlessPodmanResolver(),
                                                 env=Env(platform="linux", uid=0, home="/nonexistent", environ={}))
        return None if found is None else found.name

    return call


# ---------------------------------------------------------------- hang forever


@pytest.mark.parametrize("kind", ["fifo", "pty"])
def test_rootlessport_with_a_fifo_or_pty_index_does_not_hang_root(attacker: User, root_daemon: str, kind: str) -> None:
    """A `rootlessport` with a `/netns/` fd, its containers.json a FIFO or a pty: ports and the lookup end, unnamed."""
    baseline, lookup_baseline = good_ports(attacker, root_daemon), good_lookup(attacker)
    index = attacker.storage / "containers.json"
    storage_with(attacker, None, kind="fifo" if kind == "fifo" else "none")
    with user_process(attacker, "rootlessport", pty_link=str(index) if kind == "pty" else "") as (pid, _):
        if kind == "pty":
            assert index.is_symlink() and os.readlink(index).startswith("/dev/pts/")
        got = root_calls(f"containers.json is a {kind}", "dockspec ports --json",
                         cli(["ports", "--json"], ports_env(root_daemon)), PORTS_BOUND)
        assert (0, None) == (got.value["status"], row_of(got.value, pid)["container"]), got.value["err"]
        assert_bounded(got, PORTS_BOUND, baseline)
        direct = root_calls(f"containers.json is a {kind}", "lookup_rootless_podman_container", lookup(pid),
                            DEFAULT_LIMITS.resolve_deadline)
        assert (None, None) == (direct.value, direct.error)
        assert_bounded(direct, DEFAULT_LIMITS.resolve_deadline, lookup_baseline)


def _library_calls(attack: str, env: Env, expect_in_error: str, baseline: RootCall) -> None:
    """detect_containers raises a ContextError; start_detection returns at once; await_detection gives {}."""
    got = root_calls(attack, "detect_containers", lambda: dict(detect_containers(env=env)), LIBRARY_DEADLINE)
    assert got.error is not None and got.error.startswith("ContextError") and expect_in_error in got.error, got
    assert_bounded(got, LIBRARY_DEADLINE, baseline)

    def background() -> dict[str, float | int]:
        started = time.monotonic()
        handle = start_detection(env=env)
        returned = time.monotonic() - started
        result = await_detection(handle)
        return {"returned": returned, "entries": len(result)}

    both = root_calls(attack, "start_detection + await_detection", background, LIBRARY_DEADLINE)
    assert both.error is None, both  # await_detection never raises
    assert both.value["returned"] < 0.3 and both.value["entries"] == 0, both
    assert_bounded(both, LIBRARY_DEADLINE, baseline)


def good_library(user: User) -> RootCall:
    """detect_containers of the user's good daemon, through a configuration file of the user's (resolved for it)."""

    def make() -> RootCall:
        answer = http_response(200, json.dumps([{"Id": ID, "Names": ["/ok"], "Image": "bb", "Ports": []}]),
                               DOCKER_HEADERS)
        files_of_user(user, {user.home / ".docker" / "config.json": '{"auths": {}}'})
        with user_daemon(user, {("GET", "/containers/json"): answer}) as url:
            env = Env(platform="linux", uid=user.uid, home=str(user.home), environ={"DOCKER_HOST": url})
            got = root_calls("good", "detect_containers (the user's good daemon)",
                             lambda: len(detect_containers(env=env)), LIBRARY_DEADLINE)
        _wipe(user)
        assert (0, None) == (got.value, got.error), got
        return got

    return good("library", make)


@pytest.mark.parametrize("which", ["config.json", "ca.pem"])
def test_a_fifo_config_or_ca_does_not_hang_ps_or_start_detection(attacker: User, which: str) -> None:
    """The user's ~/.docker/config.json, or the ca.pem DOCKER_CERT_PATH names, is a FIFO."""
    baseline = good_library(attacker)
    docker = attacker.home / ".docker"
    files_of_user(attacker, {docker / which: FIFO})
    environ = {"HOME": str(attacker.home), "PATH": "/usr/bin:/bin"}
    if which == "ca.pem":
        environ |= {"DOCKER_HOST": "tcp://127.0.0.1:9", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(docker)}
    ps = root_calls(f"{which} is a FIFO", "dockspec ps", cli(["ps"], environ), DEFAULT_LIMITS.deadline)
    assert 3 == ps.value["status"] and "is a FIFO" in ps.value["err"], ps
    assert "Traceback" not in ps.value["err"]
    assert_bounded(ps, DEFAULT_LIMITS.deadline, baseline)
    for uid in (0, attacker.uid):  # root with the user's HOME, and a caller resolving for the user
        env = Env(platform="linux", uid=uid, home=str(attacker.home), environ=environ)
        _library_calls(f"{which} is a FIFO", env, "FIFO", baseline)


# ---------------------------------------------------------------- unbounded work


def test_repeated_index_entries_with_config_json_to_dev_zero(attacker: User, root_daemon: str) -> None:
    """3000 entries of one id whose config.json links to /dev/zero (32 s of 16 MiB reads before)."""
    baseline, lookup_baseline = good_ports(attacker, root_daemon), good_lookup(attacker)
    storage_with(attacker, [{"id": ID, "names": ["evil"]}] * 3000, {ID: "/dev/zero"})
    with user_process(attacker, "rootlessport") as (pid, _):
        got = root_calls("3000 index entries, config.json -> /dev/zero", "dockspec ports --json",
                         cli(["ports", "--json"], ports_env(root_daemon)), PORTS_BOUND)
        assert (0, None) == (got.value["status"], row_of(got.value, pid)["container"]), got.value["err"]
        assert_bounded(got, PORTS_BOUND, baseline)
        direct = root_calls("3000 index entries, config.json -> /dev/zero", "lookup_rootless_podman_container",
                            lookup(pid), DEFAULT_LIMITS.resolve_deadline)
        assert (None, None) == (direct.value, direct.error)
        assert_bounded(direct, DEFAULT_LIMITS.resolve_deadline, lookup_baseline)


# ---------------------------------------------------------------- the traceback list


def test_docker_proxy_with_a_superscript_host_port(attacker: User, root_daemon: str) -> None:
    """The user's `docker-proxy -host-port ²` (isdigit() but not int()): an unnamed row, no traceback."""
    baseline = good_ports(attacker, root_daemon)
    with user_process(attacker, "docker-proxy", "-host-port", "\u00b2", netns=False) as (pid, port):
        got = root_calls("docker-proxy -host-port \u00b2", "dockspec ports --json",
                         cli(["ports", "--json"], ports_env(root_daemon)), PORTS_BOUND)
        row = row_of(got.value, pid)
        assert (0, "docker-proxy", None) == (got.value["status"], row["process"], row["container"]), got.value
        assert_bounded(got, PORTS_BOUND, baseline)
        who = root_calls("docker-proxy -host-port \u00b2", f"dockspec who {port}",
                         cli(["who", str(port)], ports_env(root_daemon)), PORTS_BOUND)
        assert (1, "") == (who.value["status"], who.value["err"]), who
        assert_bounded(who, PORTS_BOUND, baseline)


@pytest.mark.parametrize(
    ("attack", "index", "config"),
    [
        ("a NUL in a storage id", [{"id": "e" * 63 + "\0", "names": ["evil"]}], None),
        ('"linux": [] in a container config', [{"id": ID, "names": ["evil"]}], {"linux": []}),
        ("a 2 KB deeply nested OCI config.json", [{"id": ID, "names": ["evil"]}], DEEP_JSON),
        ("a 2 KB deeply nested containers.json", DEEP_JSON, None),
    ],
    ids=["nul-id", "linux-list", "deep-config", "deep-index"],
)
def test_storage_that_made_tracebacks(attacker: User, root_daemon: str, attack: str, index: object,
                                      config: object) -> None:
    baseline = good_ports(attacker, root_daemon)
    if isinstance(index, str):
        storage_with(attacker, None, kind="none")
        files_of_user(attacker, {attacker.storage / "containers.json": index})
    else:
        storage_with(attacker, index, {ID: config} if config is not None else None)
    with user_process(attacker, "rootlessport") as (pid, _):
        got = root_calls(attack, "dockspec ports --json", cli(["ports", "--json"], ports_env(root_daemon)),
                         PORTS_BOUND)
        assert (0, None) == (got.value["status"], row_of(got.value, pid)["container"]), got.value["err"]
        assert_bounded(got, PORTS_BOUND, baseline)


def _deep(user: User, which: str) -> dict[str, str]:
    """The user's configuration file nested 1000 deep; the variables that make dockspec read it."""
    docker, containers = user.home / ".docker", user.home / ".config" / "containers"

    def work() -> None:
        _makedirs(docker, containers)
        if which == "config.json":
            (docker / "config.json").write_text(DEEP_JSON)
        elif which == "meta.json":
            meta = docker / "contexts" / "meta" / context_digest("evil") / "meta.json"
            meta.parent.mkdir(parents=True)
            meta.write_text(DEEP_JSON)
        elif which == "podman-connections.json":
            (containers / "podman-connections.json").write_text(DEEP_JSON)
        else:
            (containers / "containers.conf").write_text(DEEP_TOML)

    as_user(user, work)
    return {"meta.json": {"DOCKER_CONTEXT": "evil"}, "config.json": {}}.get(
        which, {"CONTAINER_CONNECTION": "evil", "CONTAINERS_CONF": str(containers / "containers.conf")})


@pytest.mark.parametrize("which", ["config.json", "meta.json", "podman-connections.json", "containers.conf"])
def test_deeply_nested_configuration_of_the_user(attacker: User, which: str) -> None:
    """Resolved for the user (its own files, so the owner check passes): the depth cap, a ContextError."""
    baseline = good_library(attacker)
    environ = _deep(attacker, which)
    env = Env(platform="linux", uid=attacker.uid, home=str(attacker.home), environ=environ)
    _library_calls(f"a 2 KB deeply nested {which}", env, "nests deeper than 64 levels", baseline)
    ps = root_calls(f"a 2 KB deeply nested {which}", "dockspec ps (HOME is the user's)",
                    cli(["ps"], {"HOME": str(attacker.home), "PATH": "/usr/bin:/bin", **environ}),
                    DEFAULT_LIMITS.deadline)
    assert 3 == ps.value["status"] and "Traceback" not in ps.value["err"], ps  # root: not root's file, refused
    assert_bounded(ps, DEFAULT_LIMITS.deadline, baseline)


def _b2(status: int, body: str = "") -> bytes:
    headers = [("Server", "Docker/\xb20.10.24 (linux)"), ("Api-Version", "1.41"), ("Content-Type", "application/json")]
    return http_response(status, body, headers).replace(b"\xc2\xb2", b"\xb2")  # the byte 0xB2 alone, not UTF-8


def test_a_user_daemon_whose_version_header_holds_byte_b2(attacker: User) -> None:
    """`Server: Docker/\\xb20.10.24`: ps, stop and stop_container() answer as usual (a ValueError before)."""
    baseline = good_library(attacker)
    body = json.dumps([{"Id": ID, "Names": ["/web"], "Image": "bb", "Ports": []}])
    routes = {("GET", "/containers/json"): _b2(200, body), ("POST", "/containers/web/stop?t=10"): _b2(204),
              ("POST", "/containers/web/stop?t=1"): _b2(304)}
    with user_daemon(attacker, routes) as url:
        environ = {"DOCKER_HOST": url, "HOME": "/nonexistent"}
        ps = root_calls("version header byte 0xB2", "dockspec ps", cli(["ps"], environ), DEFAULT_LIMITS.deadline)
        assert (0, "") == (ps.value["status"], ps.value["err"]) and "web" in ps.value["out"], ps
        stop = root_calls("version header byte 0xB2", "dockspec stop web", cli(["stop", "web"], environ),
                          DEFAULT_LIMITS.deadline)
        assert (0, f"web: stopped (by DOCKER_HOST, {url})\n") == (stop.value["status"], stop.value["out"]), stop
        env = Env(platform="linux", uid=0, environ=environ)
        library = root_calls("version header byte 0xB2", "stop_container(timeout=1)",
                             lambda: stop_container("web", timeout=1, env=env).value, DEFAULT_LIMITS.deadline)
        assert ("already_stopped", None) == (library.value, library.error)
    for got in (ps, stop, library):
        assert_bounded(got, DEFAULT_LIMITS.deadline, baseline)


# ---------------------------------------------------------------- memory


def test_a_1_mb_answer_naming_a_container_with_2_to_the_20_characters(attacker: User) -> None:
    """The user's daemon answers one container named with 2^20 characters: `ps` stays a few MiB (2 GB before)."""
    good_body = json.dumps([{"Id": ID, "Names": ["/web"], "Image": "bb", "Ports": []}])
    name = "a" * 2**20
    bad_body = json.dumps([{"Id": ID, "Names": ["/" + name], "Image": "bb", "Ports": []}])
    assert 2**20 < len(bad_body) < 2**20 + 200
    results = {}
    for which, body in (("good", good_body), ("bad", bad_body)):
        with user_daemon(attacker, {("GET", "/containers/json"): http_response(200, body, DOCKER_HEADERS)}) as url:
            environ = {"DOCKER_HOST": url, "HOME": "/nonexistent"}
            attack = "good" if which == "good" else "a 1 MB answer, a 2^20-character name"
            results[which] = root_calls(attack, "dockspec ps", cli(["ps"], environ), DEFAULT_LIMITS.deadline)
    bad, good_ps = results["bad"], results["good"]
    assert 0 == bad.value["status"], bad
    assert 2 == len(bad.value["out"].splitlines()) and len(bad.value["out"]) < 2000, bad.value["out"][:300]
    # the answer's own cost remains (its 1 MiB of bytes, the name once as a str): 210 MB of output and 2 GB before
    assert_bounded(bad, DEFAULT_LIMITS.deadline, good_ps, extra=len(bad_body))
    assert bad.rss_growth_kib < good_ps.rss_growth_kib + 16 * 1024, (bad, good_ps)
