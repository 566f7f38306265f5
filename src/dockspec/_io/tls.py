"""TLS channel to a tcp:// daemon (DOCKER_TLS_VERIFY, or a context with TLS files).

The daemon's certificate is verified against the endpoint's CA (or the
system trust store when none is given) and its host name, unless a docker
context says SkipTLSVerify. The socket is non-blocking and every wait,
handshake included, is a select() bounded by the one absolute deadline. A
failed handshake is an error carrying ssl's own message; nothing is ever
retried in plaintext, and the only bytes sent before the handshake
completes are TLS records.
"""

from __future__ import annotations

import os
import selectors
import ssl
import time
from typing import NoReturn

from dockspec._io.config_fs import config_owners
from dockspec._io.files import Refused, open_regular, read_file
from dockspec._io.net import RECV_SIZE, Unreachable, connect_tcp, describe
from dockspec.addresses import split_host_port
from dockspec.errors import ContextError, InvalidResponse
from dockspec.models import Credentials, Endpoint

__all__ = ["TlsChannel", "client_context", "connect_tls", "no_cert_hint", "ssl_message"]


def _no_password() -> NoReturn:
    raise ContextError("the TLS client key is encrypted; dockspec (like the docker CLI) needs an unencrypted key")


# A PEM certificate, key or CA bundle; Debian's whole system bundle is ~220 KiB.
MAX_PEM_BYTES = 1024 * 1024


def _exists(path: str) -> bool:
    """Whether a regular file is at `path` (dockspec._io.files' checks; a FIFO or device is refused)."""
    try:
        fd = open_regular(path, MAX_PEM_BYTES, owners=config_owners())
    except Refused as exc:
        raise ContextError(f"TLS file {exc.path} cannot be used: {exc.reason}") from None
    if fd is None:
        return False
    os.close(fd)
    return True


def client_cert_files(credentials: Credentials) -> tuple[str, str] | None:
    """(cert, key) when both files exist: the docker CLI drops a default pair that is missing."""
    cert, key = credentials.cert_file, credentials.key_file
    if cert is not None and key is not None and _exists(cert) and _exists(key):
        return cert, key
    return None


def _read_pem(path: str) -> str:
    try:
        data = read_file(path, MAX_PEM_BYTES, owners=config_owners())
    except Refused as exc:
        raise ContextError(f"TLS file {exc.path} cannot be used: {exc.reason}") from None
    if data is None:
        raise ContextError(f"TLS CA file {path} does not exist (set DOCKER_CERT_PATH?)")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ContextError(f"TLS CA file {path} is not PEM text") from None


def _load_cert_chain(context: ssl.SSLContext, cert: str, key: str) -> None:
    """load_cert_chain on descriptors checked by dockspec._io.files (via /proc/self/fd), not on the paths.

    ssl opens what it is given with a plain open(): a path swapped for a FIFO
    after the check would block it. /proc/self/fd/N reopens the very file
    checked. Where there is no /proc, the checked paths are passed.
    """
    if not os.path.isdir("/proc/self/fd"):
        context.load_cert_chain(cert, key, password=_no_password)
        return
    fds: list[int] = []
    try:
        for path in (cert, key):
            try:
                fd = open_regular(path, MAX_PEM_BYTES, owners=config_owners())
            except Refused as exc:
                raise ContextError(f"TLS file {exc.path} cannot be used: {exc.reason}") from None
            if fd is None:
                raise ContextError(f"TLS file {path} does not exist")
            fds.append(fd)
        context.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}", password=_no_password)
    finally:
        for fd in fds:
            os.close(fd)


def client_context(credentials: Credentials) -> ssl.SSLContext:
    """An SSLContext for `credentials`: TLS 1.2+, CA and host name checked unless verify is off.

    Raises ContextError when a named CA file is missing or unreadable, or the
    client certificate and key cannot be loaded. Every file is read through
    dockspec._io.files (a regular file owned by the user or root, at most
    MAX_PEM_BYTES), never opened by ssl itself.
    """
    try:
        if credentials.verify:
            cadata = None if credentials.ca_file is None else _read_pem(credentials.ca_file)
            context = ssl.create_default_context(cadata=cadata)
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        pair = client_cert_files(credentials)
        if pair is not None:
            _load_cert_chain(context, pair[0], pair[1])
    except ssl.SSLError as exc:
        raise ContextError(f"TLS files of the endpoint cannot be loaded: {exc.reason or exc}") from None
    except OSError as exc:
        raise ContextError(f"TLS files of the endpoint cannot be read: {describe(exc)} ({exc.filename})") from None
    return context


def ssl_message(exc: ssl.SSLError) -> str:
    """ssl's own message, e.g. `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ...`."""
    return str(exc) or type(exc).__name__


class TlsChannel:
    """A connected, handshaken TLS socket in non-blocking mode."""

    __slots__ = ("no_cert_hint", "selector", "sock")

    def __init__(self, sock: ssl.SSLSocket, no_cert_hint: str = "") -> None:
        self.sock = sock
        self.no_cert_hint = no_cert_hint
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)

    def _wait(self, event: int, deadline: float) -> None:
        self.selector.modify(self.sock, event)
        left = deadline - time.monotonic()
        if left <= 0 or not self.selector.select(left):
            raise TimeoutError("deadline passed")

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except ssl.SSLWantWriteError:
                self._wait(selectors.EVENT_WRITE, deadline)
                continue
            except ssl.SSLWantReadError:
                self._wait(selectors.EVENT_READ, deadline)
                continue
            except ssl.SSLError as exc:
                raise InvalidResponse(
                    f"the TLS session failed while sending: {ssl_message(exc)}{self.no_cert_hint}"
                ) from None
            except OSError as exc:
                raise InvalidResponse(
                    f"the daemon closed the TLS session while dockspec was sending: {describe(exc)}{self.no_cert_hint}"
                ) from None
            view = view[sent:]

    def recv(self, deadline: float) -> bytes:
        while True:
            try:
                return self.sock.recv(RECV_SIZE)
            except ssl.SSLWantReadError:
                self._wait(selectors.EVENT_READ, deadline)
            except ssl.SSLWantWriteError:
                self._wait(selectors.EVENT_WRITE, deadline)
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLError as exc:
                # TLS 1.3: a client certificate the daemon refuses is only
                # reported (as an alert) once the client reads.
                raise InvalidResponse(
                    f"the daemon ended the TLS session: {ssl_message(exc)}{self.no_cert_hint}"
                ) from None
            except OSError as exc:
                reason = describe(exc)
                raise InvalidResponse(f"the daemon ended the TLS session: {reason}{self.no_cert_hint}") from None

    def close(self) -> None:
        self.selector.close()
        self.sock.close()


def _handshake(sock: ssl.SSLSocket, address: str, url: str, deadline: float) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while True:
            try:
                sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                event = selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                event = selectors.EVENT_WRITE
            except ssl.SSLError as exc:
                raise InvalidResponse(f"{url}: TLS handshake failed: {ssl_message(exc)}") from None
            except OSError as exc:
                raise Unreachable(f"{address}: connection failed during the TLS handshake: {describe(exc)}") from None
            selector.modify(sock, event)
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise Unreachable(f"{address}: timed out during the TLS handshake")


def connect_tls(endpoint: Endpoint, deadline: float) -> TlsChannel:
    """Connect, then complete the TLS handshake, before `deadline`.

    Unreachable when nothing answers (or the handshake does not finish in
    time), InvalidResponse when the handshake fails (ssl's message),
    ContextError when the endpoint's TLS files cannot be used.
    """
    credentials = endpoint.credentials or Credentials()
    context = client_context(credentials)
    raw = connect_tcp(endpoint.address, deadline).sock  # Unreachable when nothing answers
    host = split_host_port(endpoint.address)[0]
    try:
        raw.setblocking(False)
        sock = context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
    except (OSError, ValueError) as exc:
        raw.close()
        raise Unreachable(f"{endpoint.address}: {describe(exc)}") from None
    try:
        _handshake(sock, endpoint.address, endpoint.url, deadline)
    except BaseException:
        sock.close()
        raise
    return TlsChannel(sock, no_cert_hint(credentials))


def no_cert_hint(credentials: Credentials) -> str:
    """What a session error adds when no client certificate was offered (else "")."""
    if client_cert_files(credentials) is not None:
        return ""
    named = " and ".join(p for p in (credentials.cert_file, credentials.key_file) if p)
    missing = f"{named} not found" if named else "no cert.pem and key.pem next to the CA"
    return f" (no client certificate was offered: {missing})"
