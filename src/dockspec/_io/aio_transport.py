"""dockspec.aio's I/O: byte channels over asyncio streams and the one exchange pump.

The counterpart of transport.py, tls.py, ssh.py and exchange.py for an event
loop: Unix sockets (asyncio.open_unix_connection), TCP and TLS
(asyncio.open_connection, the SSLContext tls.client_context builds from the
same files with the same checks), ssh (the same argv, run with
asyncio.create_subprocess_exec). The bytes go into the same sans-IO reader
(dockspec._http.ResponseReader) through exchange.feed, so the caps, the
error texts and the one deadline (connect, send and the whole read, as
asyncio.timeout_at on the loop's monotonic clock) are the sync ones.

Named pipes (Windows) and the `fd` transport are sync-only: an endpoint of
either is Unreachable here. A channel is closed in a `finally`, so a task
cancelled mid-call aborts its socket (or kills and reaps its ssh) before the
cancellation propagates.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import attrs

from dockspec._generated.models import Spec
from dockspec._http import Response, ResponseReader, StreamReader, build_request
from dockspec._io.exchange import answer_error, feed, host_header
from dockspec._io.net import RECV_SIZE, Unreachable, describe, peer_of
from dockspec._io.ssh import MAX_STDERR, ssh_argv, ssh_failure, ssh_timeout
from dockspec._io.stream import feed_stream, no_head, send_error
from dockspec.addresses import InvalidAddress, split_host_port
from dockspec.errors import InvalidResponse
from dockspec.models import Credentials, Endpoint, Limits

__all__ = ["AioChannel", "AioStream", "exchange", "open_channel", "within"]

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def within(deadline: float, make: Callable[[], Awaitable[T]]) -> T:
        """`await make()` before the absolute loop-clock `deadline`; TimeoutError when it passes."""
        async with asyncio.timeout_at(deadline):
            return await make()

else:  # pragma: no cover - Python 3.10 has no asyncio.timeout_at

    async def within(deadline: float, make: Callable[[], Awaitable[T]]) -> T:
        """`await make()` before the absolute loop-clock `deadline`; TimeoutError when it passes."""
        left = deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(make(), max(left, 0.0))
        except asyncio.TimeoutError:
            raise TimeoutError("deadline passed") from None


class AioChannel(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    def timeout_error(self) -> Exception: ...

    async def aclose(self) -> None: ...


class StreamChannel:
    """A connected asyncio stream (Unix socket, TCP or TLS)."""

    __slots__ = ("no_cert_hint", "reader", "tls", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, no_cert_hint: str | None = None):
        self.reader = reader
        self.writer = writer
        self.tls = no_cert_hint is not None
        self.no_cert_hint = no_cert_hint or ""

    async def send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except OSError as exc:  # ssl.SSLError included
            if not self.tls:
                raise
            raise InvalidResponse(
                f"the daemon closed the TLS session while dockspec was sending: {describe(exc)}{self.no_cert_hint}"
            ) from None

    async def recv(self) -> bytes:
        try:
            return await self.reader.read(RECV_SIZE)
        except ssl.SSLError as exc:
            # TLS 1.3: a client certificate the daemon refuses is only reported once the client reads.
            raise InvalidResponse(f"the daemon ended the TLS session: {_ssl_text(exc)}{self.no_cert_hint}") from None
        except OSError as exc:
            if not self.tls:
                raise
            raise InvalidResponse(f"the daemon ended the TLS session: {describe(exc)}{self.no_cert_hint}") from None

    def timeout_error(self) -> Exception:
        return TimeoutError("deadline passed")

    @property
    def sock(self) -> object:
        """The connection's socket (asyncio's TransportSocket), for who serves it (dockspec._io.net.peer_of)."""
        return self.writer.get_extra_info("socket")

    async def aclose(self) -> None:
        # abort, not close: nothing more is sent, and a TLS close would wait for the peer's close_notify.
        self.writer.transport.abort()


def _ssl_text(exc: ssl.SSLError) -> str:
    from dockspec._io.tls import ssl_message

    return ssl_message(exc)


async def _connect_unix(path: str) -> StreamChannel:
    try:
        reader, writer = await asyncio.open_unix_connection(path, limit=RECV_SIZE)
    except OSError as exc:
        raise Unreachable(f"{path}: {describe(exc)}") from None
    return StreamChannel(reader, writer)


async def _connect_tcp(endpoint: Endpoint) -> StreamChannel:
    """TCP, or TLS when the endpoint says so (never plaintext then): every address of the host in turn.

    An IP literal needs no lookup; a name is resolved by the loop's
    getaddrinfo (asyncio runs it in its default executor).
    """
    address = endpoint.address
    try:
        host, port = split_host_port(address)
    except InvalidAddress as exc:
        raise Unreachable(f"{address}: {exc.summary()}") from None
    context: ssl.SSLContext | None = None
    hint: str | None = None
    if endpoint.tls:
        from dockspec._io.tls import client_context, no_cert_hint

        credentials = endpoint.credentials or Credentials()
        context = client_context(credentials)  # ContextError when its files cannot be used
        hint = no_cert_hint(credentials)

    try:
        if context is None:
            reader, writer = await asyncio.open_connection(host, port, limit=RECV_SIZE)
        else:
            reader, writer = await asyncio.open_connection(
                host, port, limit=RECV_SIZE, ssl=context, server_hostname=host
            )
    except ssl.SSLError as exc:  # before OSError: ssl.SSLError is one
        raise InvalidResponse(f"{endpoint.url}: TLS handshake failed: {_ssl_text(exc)}") from None
    except OSError as exc:
        raise Unreachable(f"{address}: {_connect_failure(exc)}") from None
    return StreamChannel(reader, writer, hint)


def _connect_failure(exc: OSError) -> str:
    """describe(), with the errno's own words: asyncio says `Connect call failed (addr)` for every errno."""
    if exc.errno:
        return os.strerror(exc.errno)
    return describe(exc)


class SshChannel:
    """An ssh subprocess (asyncio) whose stdin and stdout carry the exchange; see dockspec._io.ssh.

    On Python before 3.12, asyncio's default child watcher waits for each
    subprocess on a thread of its own: that thread is asyncio's, per ssh
    process, not dockspec's.
    """

    __slots__ = ("_stderr_task", "proc", "received", "stderr", "url")

    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.received = 0
        self.stderr = bytearray()
        self._stderr_task = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def connect(cls, endpoint: Endpoint, deadline: float, spec: Spec) -> SshChannel:
        if sys.platform.startswith("win"):
            raise Unreachable(f"{endpoint.url}: the ssh transport needs a POSIX system")
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise Unreachable(f"{endpoint.url}: the deadline passed before ssh started")
        try:
            argv = ssh_argv(endpoint, spec, max(1, math.ceil(left)))
        except InvalidAddress as exc:
            raise Unreachable(f"{endpoint.url}: invalid ssh URL: {exc.summary()}") from None
        except ValueError as exc:
            raise Unreachable(f"{endpoint.url}: invalid ssh URL: {exc}") from None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=RECV_SIZE,
            )
        except OSError as exc:
            raise Unreachable(f"{endpoint.url}: cannot run {argv[0]}: {exc.strerror or exc}") from None
        return cls(proc, endpoint.url)

    async def _read_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        try:
            while data := await stream.read(RECV_SIZE):
                self.stderr += data
                if len(self.stderr) > MAX_STDERR:
                    del self.stderr[: len(self.stderr) - MAX_STDERR]
        except OSError:  # the pipe broke: what was read is the message
            pass

    async def _exit_code(self) -> int | None:
        """ssh's exit status, waiting at most a second (it exits right after closing its output)."""
        try:
            return await asyncio.wait_for(self.proc.wait(), 1.0)
        except asyncio.TimeoutError:
            return None

    async def _failure(self) -> Unreachable:
        code = await self._exit_code()
        try:
            await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        except (asyncio.TimeoutError, OSError):
            pass
        return ssh_failure(self.url, code, bytes(self.stderr))

    async def send(self, data: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise await self._failure() from None

    async def recv(self) -> bytes:
        stdout = self.proc.stdout
        assert stdout is not None
        data = await stdout.read(RECV_SIZE)
        if data:
            self.received += len(data)
            return data
        if self.received or await self._exit_code() == 0:
            return b""
        raise await self._failure()

    def timeout_error(self) -> Exception:
        return ssh_timeout(self.url, self.received, bytes(self.stderr))

    async def aclose(self) -> None:
        """Kill ssh (and its session), reap it, close the pipes."""
        self._stderr_task.cancel()
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        await self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:  # closes stdout and stderr too
            transport.close()


async def open_channel(endpoint: Endpoint, deadline: float, spec: Spec) -> AioChannel:
    """Connect to `endpoint`; Unreachable when nothing answers. The caller bounds it (`deadline`: ssh's argv)."""
    if endpoint.transport == "unix":
        return await _connect_unix(endpoint.address)
    if endpoint.transport == "tcp":
        return await _connect_tcp(endpoint)
    if endpoint.transport == "ssh":
        return await SshChannel.connect(endpoint, deadline, spec)
    if endpoint.transport == "npipe":
        raise Unreachable(f"{endpoint.url}: named pipes are sync-only (use dockspec.detect_containers)")
    raise Unreachable(f"{endpoint.url}: the {endpoint.transport} transport is not supported")


async def exchange(
    endpoint: Endpoint,
    method: str,
    target: str,
    *,
    spec: Spec,
    limits: Limits,
    deadline: float | None = None,
) -> Response:
    """dockspec._io.exchange.exchange as a coroutine: one request, its answer before the deadline.

    `deadline` is on the loop's clock (time.monotonic, as the sync side's);
    default `limits.deadline` from now. Raises Unreachable when the endpoint
    cannot be connected to, InvalidResponse when the answer is malformed,
    too large, cut short or late.
    """
    loop = asyncio.get_running_loop()
    if deadline is None:
        deadline = loop.time() + limits.deadline
    request = build_request(method, target, host_header(endpoint))
    feed_deadline = time.monotonic() + (deadline - loop.time())  # feed's clock, should a loop keep another
    opened: list[AioChannel] = []

    async def connect_and_pump() -> Response:  # one timeout for the whole call: each costs the loop a timer
        channel = await open_channel(endpoint, deadline, spec)
        opened.append(channel)
        peer_uid, peer_ip = peer_of(getattr(channel, "sock", None))  # the credentials of this very connection
        await channel.send(request)
        reader = ResponseReader(method, limits)
        while (response := feed(reader, await channel.recv(), feed_deadline)) is None:
            pass
        if peer_uid is None and peer_ip is None:
            return response
        return attrs.evolve(response, peer_uid=peer_uid, peer_ip=peer_ip)

    try:
        try:
            return await within(deadline, connect_and_pump)
        except TimeoutError:
            if not opened:
                raise _connect_timeout(endpoint) from None
            raise opened[0].timeout_error() from None
    except (InvalidResponse, OSError) as exc:
        if not opened:
            raise  # the connect's own errors (Unreachable, a TLS handshake's InvalidResponse), as in sync
        raise answer_error(endpoint, exc) from None
    finally:
        if opened:
            await opened[0].aclose()


class AioStream:
    """dockspec._io.stream.Stream over asyncio: `open` connects and sends, `head` awaits the headers, `read` the body.

    The bytes go through the sync stream's reader and slicing
    (_http.StreamReader, _io.stream.feed_stream): the same header cap,
    chunked decoding and error texts. Connecting, sending and the headers
    obey deadlines (the loop's clock); a body read has none: it waits until
    bytes come, the stream ends, or the task is cancelled. `aclose` aborts
    the socket (or kills ssh) at once.
    """

    __slots__ = ("_channel", "_pending", "_reader", "endpoint")

    def __init__(self, endpoint: Endpoint, limits: Limits) -> None:
        self.endpoint = endpoint
        self._reader = StreamReader(limits)
        self._channel: AioChannel | None = None
        self._pending = b""  # body bytes that came with the headers

    async def open(self, target: str, spec: Spec, deadline: float) -> None:
        """Connect and send the request before `deadline`; Unreachable or InvalidResponse."""
        request = build_request("GET", target, host_header(self.endpoint))

        async def connect_and_send() -> None:
            self._channel = await open_channel(self.endpoint, deadline, spec)
            try:
                await self._channel.send(request)
            except OSError as exc:
                raise send_error(self.endpoint.url, exc) from None

        try:
            await within(deadline, connect_and_send)
        except TimeoutError:
            if self._channel is None:
                raise _connect_timeout(self.endpoint) from None
            raise send_error(self.endpoint.url, TimeoutError("deadline passed")) from None

    async def head(self, deadline: float | None) -> Response:
        """The headers, awaited until `deadline` (None: no deadline, for engines that send none until an event).

        InvalidResponse once `deadline` passed without them, or when the
        stream ends or breaks first.
        """

        async def wait() -> Response:
            while self._reader.head is None:
                self._pending += await self._recv()
            return self._reader.head

        if deadline is None:
            return await wait()
        try:
            return await within(deadline, wait)
        except TimeoutError:
            raise no_head(self.endpoint.url) from None

    async def read(self) -> bytes:
        """The next body bytes (maybe b"": a block of framing only); InvalidResponse when the stream ended."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return await self._recv()

    async def _recv(self) -> bytes:
        assert self._channel is not None
        url = self.endpoint.url
        try:
            data = await self._channel.recv()
        except InvalidResponse as exc:
            raise InvalidResponse(f"{url}: {exc}") from None
        except OSError as exc:
            raise InvalidResponse(f"{url}: the stream broke ({exc.strerror or exc})") from None
        return feed_stream(self._reader, data, url)

    @property
    def status(self) -> int | None:
        return None if self._reader.head is None else self._reader.head.status

    async def aclose(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            try:
                await channel.aclose()
            except OSError:
                pass


def _connect_timeout(endpoint: Endpoint) -> Unreachable:
    """The deadline passed before the channel was up (the sync transports' words)."""
    if endpoint.transport == "ssh":
        return Unreachable(f"{endpoint.url}: the deadline passed before ssh started")
    when = "connecting or during the TLS handshake" if endpoint.tls else "connecting"
    return Unreachable(f"{endpoint.address}: timed out {when}")
