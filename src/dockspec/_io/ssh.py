"""ssh:// channel: the HTTP exchange over an ssh subprocess's stdin and stdout.

As the docker CLI does (docker/cli cli/connhelper), dockspec runs
`ssh -o ConnectTimeout=N -T [-l user] [-p port] -- host docker
[--host=unix://PATH] system dial-stdio` and speaks HTTP through it; for a
podman connection (ssh://user@host/run/podman/podman.sock) the remote
command is `podman --url=unix://PATH system dial-stdio`. The argv comes from
spec/discovery.yaml. dockspec adds
BatchMode=yes and starts ssh in its own session, so it never prompts.

Every read and write waits in select() bounded by the absolute deadline.
close() kills the ssh process group and reaps ssh, and closes every pipe: no
zombie, no leaked descriptor. When ssh or the remote command fails before
any answer byte, the error is Unreachable with ssh's own stderr text.
POSIX only (select() on pipes).
"""

from __future__ import annotations

import math
import os
import selectors
import shlex
import signal
import subprocess
import sys
import time
from typing import IO

from dockspec._generated.models import Spec
from dockspec._io.net import RECV_SIZE, Unreachable
from dockspec.addresses import InvalidAddress, parse_ssh_authority
from dockspec.models import Endpoint

__all__ = ["MAX_STDERR", "SshChannel", "SshTarget", "parse_ssh_url", "ssh_argv", "ssh_failure", "ssh_timeout"]

# ssh's stderr kept for the error message (the tail, if it says more).
MAX_STDERR = 16 * 1024


class SshTarget:
    """The parts of an ssh:// URL the ssh command line needs."""

    __slots__ = ("host", "path", "port", "user")

    def __init__(self, user: str | None, host: str, port: int | None, path: str) -> None:
        self.user = user
        self.host = host
        self.port = port
        self.path = path


def parse_ssh_url(url: str) -> SshTarget:
    """ssh://[user@]host[:port][/path] (docker/cli connhelper/ssh ParseURL); ValueError if invalid.

    [user@]host[:port] is dockspec.addresses' ssh_authority (InvalidAddress,
    a ValueError, with the caret in `url`): no password, no user or host
    starting with "-", no whitespace or control character, a port 1-65535.
    """
    scheme, sep, rest = url.partition("://")
    if scheme != "ssh" or not sep:
        raise ValueError(f"not an ssh:// URL: {url!r}")
    if "?" in rest or "#" in rest:
        raise ValueError("query parameters and fragments are not allowed")
    control = next((i for i, char in enumerate(url) if char < " " or char == "\x7f"), None)
    if control is not None:
        raise InvalidAddress("invalid control character in URL", url, control)
    authority, slash, path = rest.partition("/")
    if not authority.rpartition("@")[2]:
        raise ValueError("hostname is empty")
    user, host, port = parse_ssh_authority(authority, source=url, start=len(url) - len(rest))
    return SshTarget(user or None, host, port, slash + path)


def ssh_argv(endpoint: Endpoint, spec: Spec, connect_timeout: int) -> list[str]:
    """The ssh command line that reaches `endpoint` (see the module doc)."""
    rules = spec.discovery.ssh
    target = parse_ssh_url(endpoint.url)
    argv = [rules.program, *(o.format(connect_timeout=connect_timeout) for o in rules.options)]
    if target.user:
        argv += [rules.user_flag, target.user]
    if target.port is not None:
        argv += [rules.port_flag, str(target.port)]
    identity = endpoint.credentials.ssh_identity if endpoint.credentials is not None else None
    if identity:
        argv += [rules.identity_flag, identity]
    if endpoint.engine == "podman":
        if not target.path.strip("/"):
            raise ValueError("a podman ssh:// connection names the remote socket path")
        remote = [part.format(path=target.path) for part in rules.podman_command]
    elif target.path.strip("/"):
        remote = [part.format(path=target.path) for part in rules.docker_command_with_path]
    else:
        remote = list(rules.docker_command)
    # ssh joins the remote command with spaces for the remote shell: quote each word.
    return [*argv, "--", target.host, *(shlex.quote(part) for part in remote)]


def _stderr_text(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    return "; ".join(line for line in lines if line) or "no message on stderr"


def ssh_failure(url: str, code: int | None, stderr: bytes) -> Unreachable:
    """ssh ended (or broke the pipe) before answering: its exit status (None: still running) and stderr say why."""
    message = _stderr_text(stderr)
    if code == 255:
        return Unreachable(f"{url}: ssh failed (exit 255): {message}")
    if code is None:
        return Unreachable(f"{url}: ssh closed its output without answering: {message}")
    return Unreachable(f"{url}: the remote command failed (exit {code}): {message}")


def ssh_timeout(url: str, received: int, stderr: bytes) -> Exception:
    """The deadline passed: TimeoutError once answer bytes came, else Unreachable with ssh's stderr."""
    if received:
        return TimeoutError("deadline passed")
    message = _stderr_text(stderr) if stderr else "ssh printed nothing"
    return Unreachable(f"{url}: no answer through ssh before the deadline ({message})")


class SshChannel:
    """An ssh subprocess whose stdin and stdout carry the HTTP exchange."""

    __slots__ = ("argv", "proc", "received", "selector", "stderr", "url")

    def __init__(self, proc: subprocess.Popen[bytes], url: str, argv: list[str]) -> None:
        self.proc = proc
        self.url = url
        self.argv = argv
        self.received = 0
        self.stderr = bytearray()
        self.selector = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        self.selector.register(proc.stdout, selectors.EVENT_READ)
        self.selector.register(proc.stderr, selectors.EVENT_READ)

    @classmethod
    def connect(cls, endpoint: Endpoint, deadline: float, spec: Spec) -> SshChannel:
        """Start ssh for `endpoint` with `spec`'s command line; Unreachable when it cannot be started."""
        if sys.platform.startswith("win"):
            raise Unreachable(f"{endpoint.url}: the ssh transport needs a POSIX system")
        left = deadline - time.monotonic()
        if left <= 0:
            raise Unreachable(f"{endpoint.url}: the deadline passed before ssh started")
        try:
            argv = ssh_argv(endpoint, spec, max(1, math.ceil(left)))
        except InvalidAddress as exc:
            raise Unreachable(f"{endpoint.url}: invalid ssh URL: {exc.summary()}") from None
        except ValueError as exc:
            raise Unreachable(f"{endpoint.url}: invalid ssh URL: {exc}") from None
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise Unreachable(f"{endpoint.url}: cannot run {argv[0]}: {exc.strerror or exc}") from None
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
        return cls(proc, endpoint.url, argv)

    def _failure(self, deadline: float) -> Unreachable:
        """The error when ssh ended (or broke the pipe) before answering: its exit status and stderr."""
        self._drain_stderr(deadline)
        try:
            code = self.proc.wait(timeout=max(0.0, min(deadline - time.monotonic(), 1.0)))
        except subprocess.TimeoutExpired:
            code = None
        return ssh_failure(self.url, code, bytes(self.stderr))

    def _drain_stderr(self, deadline: float) -> None:
        """Read stderr until EOF or the deadline (bounded: ssh exits right after writing it)."""
        stream = self.proc.stderr
        if stream is None or stream.closed:
            return
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while True:
                left = min(deadline - time.monotonic(), 1.0)
                if left <= 0 or not selector.select(left):
                    return
                if not self._read_stderr(stream):
                    return

    def _read_stderr(self, stream: IO[bytes]) -> bool:
        try:
            data = os.read(stream.fileno(), RECV_SIZE)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.stderr += data
        if len(self.stderr) > MAX_STDERR:
            del self.stderr[: len(self.stderr) - MAX_STDERR]
        return True

    def send(self, data: bytes, deadline: float) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        fd = stdin.fileno()
        view = memoryview(data)
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_WRITE)
            while view:
                try:
                    written = os.write(fd, view)
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0 or not selector.select(left):
                        raise self._timeout() from None
                    continue
                except BrokenPipeError:
                    raise self._failure(deadline) from None
                view = view[written:]

    def _timeout(self) -> Exception:
        return ssh_timeout(self.url, self.received, bytes(self.stderr))

    def recv(self, deadline: float) -> bytes:
        stdout, stderr = self.proc.stdout, self.proc.stderr
        assert stdout is not None and stderr is not None
        while True:
            left = deadline - time.monotonic()
            events = self.selector.select(left) if left > 0 else []
            if not events:
                raise self._timeout()
            for key, _ in events:
                if key.fileobj is stderr:
                    if not self._read_stderr(stderr):
                        self.selector.unregister(stderr)
                    continue
                try:
                    data = os.read(stdout.fileno(), RECV_SIZE)
                except BlockingIOError:
                    continue
                if data:
                    self.received += len(data)
                    return data
                if self.received:
                    return b""
                try:
                    code = self.proc.wait(timeout=max(0.0, min(deadline - time.monotonic(), 1.0)))
                except subprocess.TimeoutExpired:
                    code = None
                if code == 0:
                    return b""
                raise self._failure(deadline)

    def close(self) -> None:
        """Kill ssh (and anything it started in its session), reap it, close the pipes."""
        self.selector.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
