"""The ssh:// transport: the URL, the docker CLI's command line, and the channel over a stand-in program.

The stand-in is `sh -c SCRIPT` named as the spec's ssh program: the deadline,
ssh's failures, no zombie and no leaked fd are exercised for real; the real
sshd is in tests/integration/test_discovery_live.py.
"""

from __future__ import annotations

import os
import sys
import time

import attrs
import pytest

from dockspec import DaemonNotFound, Env, builtin_spec, detect_containers
from dockspec._io.exchange import exchange
from dockspec._io.ssh import SshChannel, parse_ssh_url, ssh_argv
from dockspec._io.transport import Unreachable
from dockspec.errors import InvalidResponse
from dockspec.models import DEFAULT_LIMITS, Credentials, Endpoint, Limits
from dockspec.spec import Spec
from tests.fakedaemon import DOCKER_HEADERS, http_response

SPEC = builtin_spec()
POSIX = pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX only")


# ------------------------------------------------------------------ the ssh command line


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://host", (None, "host", None, "")),
        ("ssh://me@host:2222", ("me", "host", 2222, "")),
        ("ssh://me@[::1]:22/run/docker.sock", ("me", "::1", 22, "/run/docker.sock")),
        ("ssh://Build-Box", (None, "Build-Box", None, "")),
    ],
)
def test_parse_ssh_url(url: str, expected: tuple[object, ...]) -> None:
    target = parse_ssh_url(url)
    assert (target.user, target.host, target.port, target.path) == expected


@pytest.mark.parametrize("url", ["ssh://me:pw@host", "ssh://", "ssh://host:99999", "ssh://host?x=1", "tcp://host"])
def test_parse_ssh_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_ssh_url(url)


def test_ssh_argv_is_the_docker_cli_one() -> None:
    def argv(url: str, engine: str | None = "docker", identity: str | None = None) -> list[str]:
        credentials = Credentials(ssh_identity=identity) if identity else None
        endpoint = Endpoint(url=url, transport="ssh", address=url[6:], engine=engine, credentials=credentials)
        return ssh_argv(endpoint, SPEC, 3)

    head = ["ssh", "-o", "ConnectTimeout=3", "-o", "BatchMode=yes", "-T"]
    assert argv("ssh://box") == [*head, "--", "box", "docker", "system", "dial-stdio"]
    assert argv("ssh://me@box:2222", engine=None) == [
        *head,
        "-l",
        "me",
        "-p",
        "2222",
        "--",
        "box",
        "docker",
        "system",
        "dial-stdio",
    ]
    assert argv("ssh://box/var/run/my docker.sock") == [
        *head,
        "--",
        "box",
        "docker",
        "'--host=unix:///var/run/my docker.sock'",
        "system",
        "dial-stdio",
    ]
    assert argv("ssh://core@m:5022/run/podman/podman.sock", engine="podman", identity="/k") == [
        *head,
        "-l",
        "core",
        "-p",
        "5022",
        "-i",
        "/k",
        "--",
        "m",
        "podman",
        "--url=unix:///run/podman/podman.sock",
        "system",
        "dial-stdio",
    ]
    with pytest.raises(ValueError, match="socket path"):
        argv("ssh://m", engine="podman")


# ------------------------------------------------------------------ the ssh channel over a stand-in


def fake_ssh(script: str) -> Spec:
    """A spec whose ssh program is `sh -c SCRIPT`: the usual ssh arguments become $0, $1, ..."""
    rules = attrs.evolve(SPEC.discovery.ssh, program="/bin/sh", options=("-c", script))
    return attrs.evolve(SPEC, discovery=attrs.evolve(SPEC.discovery, ssh=rules))


SSH_ENDPOINT = Endpoint(url="ssh://box", transport="ssh", address="box", origin="DOCKER_HOST")
ANSWER = http_response(200, b"[]", DOCKER_HEADERS).decode()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def state(pid: int) -> str:
    """The process state letter from /proc, or "gone" once it is reaped."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def gone(pid: int) -> bool:
    """Reaped: no process and no zombie left."""
    return state(pid) == "gone"


@POSIX
def test_ssh_channel_carries_the_exchange() -> None:
    # reads the request head, answers, then stays open as dial-stdio does
    script = (
        'while IFS= read -r line; do [ "$line" = "$(printf \'\\r\')" ] && break; done; '
        f"printf '%s' '{ANSWER}'; sleep 30"
    )
    deadline = time.monotonic() + 5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=fake_ssh(script))
    try:
        channel.send(b"GET /containers/json HTTP/1.1\r\nHost: localhost\r\n\r\n", deadline)
        data = b""
        while b"[]" not in data:
            data += channel.recv(deadline)
    finally:
        channel.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert channel.proc.returncode is not None
    assert gone(channel.proc.pid)


@POSIX
def test_ssh_failure_is_unreachable_with_ssh_stderr() -> None:
    spec = fake_ssh("echo 'ssh: connect to host box port 22: Connection refused' >&2; exit 255")
    deadline = time.monotonic() + 5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
    try:
        refused = r"ssh failed \(exit 255\): ssh: connect to host box port 22: Connection refused"
        with pytest.raises(Unreachable, match=refused):
            # ssh may be gone before the request is written: send or recv reports it, the same way
            channel.send(b"GET / HTTP/1.1\r\n\r\n", deadline)
            channel.recv(deadline)
    finally:
        channel.close()


@POSIX
def test_remote_command_failure_is_reported_with_its_status() -> None:
    spec = fake_ssh("echo 'bash: docker: command not found' >&2; exit 127")
    deadline = time.monotonic() + 5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
    try:
        with pytest.raises(Unreachable, match=r"remote command failed \(exit 127\): bash: docker: command not found"):
            channel.send(b"x" * 1_000_000, deadline)  # a broken pipe, or the error on recv
            channel.recv(deadline)
    finally:
        channel.close()


@POSIX
def test_ssh_channel_honours_the_deadline_and_reaps() -> None:
    spec = fake_ssh("exec sleep 30")
    started = time.monotonic()
    deadline = started + 0.5
    channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
    try:
        channel.send(b"GET / HTTP/1.1\r\n\r\n", deadline)
        with pytest.raises(Unreachable, match="before the deadline"):
            channel.recv(deadline)
    finally:
        channel.close()
    assert time.monotonic() - started < 1.5
    assert gone(channel.proc.pid)


@POSIX
def test_exchange_over_ssh_times_out_as_invalid_response_after_bytes() -> None:
    # a daemon that sends half an answer and hangs: the deadline ends the exchange
    spec = fake_ssh("printf 'HTTP/1.1 200 OK\\r\\n'; exec sleep 30")
    started = time.monotonic()
    with pytest.raises(InvalidResponse, match="deadline"):
        exchange(SSH_ENDPOINT, "GET", "/containers/json", spec=spec, limits=DEFAULT_LIMITS, deadline=started + 0.5)
    assert time.monotonic() - started < 1.5


@POSIX
def test_the_callers_spec_reaches_the_ssh_channel() -> None:
    """detect_containers(spec=...) runs the ssh program of that spec, not the built-in one."""
    spec = fake_ssh("echo 'from the custom spec' >&2; exit 255")
    env = Env(home="/nonexistent", uid=1000, environ={"DOCKER_HOST": "ssh://box"})
    with pytest.raises(DaemonNotFound, match=r"ssh failed \(exit 255\): from the custom spec"):
        detect_containers(env=env, spec=spec, limits=Limits(deadline=2))


@POSIX
def test_ssh_close_kills_the_session_and_leaks_no_fd() -> None:
    spec = fake_ssh("sleep 30 & echo $! >&2; exec sleep 30")
    before = open_fds()
    pids = []
    for _ in range(10):
        deadline = time.monotonic() + 2
        channel = SshChannel.connect(SSH_ENDPOINT, deadline, spec=spec)
        while not channel.stderr:
            with pytest.raises(Unreachable):
                channel.recv(time.monotonic() + 0.2)
        pids.append(int(channel.stderr.decode().split()[0]))
        channel.close()
        pids.append(channel.proc.pid)
    assert open_fds() == before
    for pid in pids[1::2]:
        assert gone(pid)  # ssh itself: killed and reaped by close()
    time.sleep(0.2)
    for pid in pids[0::2]:
        assert state(pid) in ("gone", "Z")  # what it started in its session: killed (init reaps it)


@POSIX
def test_missing_ssh_program_is_unreachable() -> None:
    rules = attrs.evolve(SPEC.discovery.ssh, program="/nonexistent/ssh")
    spec = attrs.evolve(SPEC, discovery=attrs.evolve(SPEC.discovery, ssh=rules))
    with pytest.raises(Unreachable, match="cannot run /nonexistent/ssh"):
        SshChannel.connect(SSH_ENDPOINT, time.monotonic() + 1, spec=spec)
