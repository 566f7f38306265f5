"""Network addresses: one grammar for a host, a port and `host:port`. Pure.

Every place dockspec reads an address uses this module: DOCKER_HOST (hosts),
docker contexts and podman connections (contexts), ssh:// URLs (_io.ssh),
the TCP channel (_io.net) and the CLI's `ADDR:PORT` targets.

Grammar (a small tokenizer in the style of packaging's; every error is an
InvalidAddress with a caret under the offending character):

    host_port = host [":" [port]] | "[" ipv6 "]" [":" [port]]
    host      = 1*hostchar          ; a name or an IPv4 address
    hostchar  = ALPHA / DIGIT / "-" / "." / "_" / "~" / "%" / "!" / "$"
              / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
    ipv6      = what ipaddress.IPv6Address reads (a "%zone" allowed)
    port      = 1*5 DIGIT           ; 1 to 65535

    ssh_authority = [user "@"] host_port      ; an ssh:// URL's authority
    user      = userchar *userchar ; not starting with "-"
    userchar  = hostchar except "%"; no ":" (a password) and no whitespace

An ssh host, user or port goes onto ssh's command line: none may start with
"-" (ssh would read it as an option, as OpenSSH refuses too), and none may
hold whitespace or a control character (the docker CLI's url.Parse refuses
those before ssh is spawned).

ALPHA and DIGIT are ASCII only (RFC 3986): a fullwidth digit, a space, a
control character or any other non-ASCII character is an error, never a
port or host that some lower layer quietly normalises (the system resolver
reads `\uff11\uff12\uff17.0.0.1`, in fullwidth digits, as 127.0.0.1) or wraps (a
port of 70000 is 4464 to a socket). A missing host or port is an error unless the caller
gives a default.
"""

from __future__ import annotations

import attrs

from dockspec.errors import InvalidAddress
from dockspec.models import Protocol

__all__ = [
    "MAX_PORT",
    "HostPort",
    "InvalidAddress",
    "join_host_port",
    "parse_authority",
    "parse_host_port",
    "parse_port",
    "parse_port_target",
    "parse_ssh_authority",
    "split_host_port",
]

MAX_PORT = 65535
_DIGITS = frozenset("0123456789")
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HOST = frozenset(_LETTERS + "0123456789-._~%!$&'()*+,;=")
_USER = _HOST - {"%"}
_IPV6 = frozenset("0123456789abcdefABCDEF:.")
_ZONE = frozenset(_LETTERS + "0123456789-._~")


def _what(char: str) -> str:
    kind = "non-ASCII character" if not char.isascii() and char.isprintable() else "invalid character"
    return f"{kind} {char!r}"


class _Tokenizer:
    """A cursor over `text`, which starts at `start` in `source` (the value an error shows)."""

    def __init__(self, text: str, source: str | None, start: int) -> None:
        self.text = text
        self.source = text if source is None else source
        self.start = start
        self.position = 0

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def next_char(self) -> str:
        return self.text[self.position]

    def take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.position):
            self.position += len(literal)
            return True
        return False

    def read(self, chars: frozenset[str]) -> str:
        """The longest run of `chars` from here (possibly empty)."""
        begin = self.position
        while self.position < len(self.text) and self.text[self.position] in chars:
            self.position += 1
        return self.text[begin : self.position]

    def rest(self) -> str:
        return self.text[self.position :]

    def error(self, message: str, position: int | None = None) -> InvalidAddress:
        index = self.position if position is None else position
        return InvalidAddress(message, self.source, self.start + index)


def _port_value(tokens: _Tokenizer, digits: str, at: int) -> int:
    if len(digits) > len(str(MAX_PORT)) or not 1 <= int(digits) <= MAX_PORT:
        raise tokens.error(f"port {digits} is out of range (1-{MAX_PORT})", at)
    return int(digits)


def parse_port(text: str, *, source: str | None = None, start: int = 0) -> int:
    """A port number, 1-65535, in ASCII digits; InvalidAddress otherwise."""
    tokens = _Tokenizer(text, source, start)
    bad = next((i for i, char in enumerate(text) if char not in _DIGITS), None)
    if not text or bad is not None:
        raise tokens.error(f"invalid port {text!r} (1-{MAX_PORT}, ASCII digits)", bad or 0)
    return _port_value(tokens, text, 0)


@attrs.frozen
class HostPort:
    """A host (an IPv6 address without its brackets) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return join_host_port(self.host, self.port)


def _host(tokens: _Tokenizer, default_host: str | None) -> str:
    """ "[" ipv6 "]" | host"""
    if tokens.take("["):
        import ipaddress  # only for a bracketed host: `import dockspec` does not load it

        begin = tokens.position
        host = tokens.read(_IPV6)
        if tokens.take("%"):
            host += "%" + tokens.read(_ZONE)
        if not tokens.take("]"):
            if "]" not in tokens.rest():
                raise tokens.error("missing ']' in host", begin - 1)
            raise tokens.error(f"{_what(tokens.next_char())} in IPv6 address")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise tokens.error(f"invalid IPv6 address {host!r}", begin) from None
        return host
    host = tokens.read(_HOST)
    if not tokens.at_end() and tokens.next_char() != ":":
        raise tokens.error(f"{_what(tokens.next_char())} in host name")
    if not host:
        if default_host is None:
            raise tokens.error("missing host")
        return default_host
    return host


def parse_authority(
    text: str, *, default_host: str | None = None, source: str | None = None, start: int = 0
) -> tuple[str, int | None]:
    """`host[:port]` or `[v6][:port]` (see the module doc): (host, port or None when absent or empty).

    With `default_host` an empty host takes it. `source` and `start` place
    the caret when `text` is part of a longer value. InvalidAddress otherwise.
    """
    tokens = _Tokenizer(text, source, start)
    host = _host(tokens, default_host)
    colon = tokens.position
    if not tokens.at_end() and not tokens.take(":"):
        raise tokens.error(f'invalid port "{tokens.rest()}" after host')
    digits = tokens.rest()
    if not digits:
        return host, None
    bad = next((i for i, char in enumerate(digits) if char not in _DIGITS), None)
    if bad is not None:
        char = digits[bad]
        if char.isascii() and char.isprintable() and not char.isspace():
            raise tokens.error(f'invalid port ":{digits}" after host', colon)
        raise tokens.error(f"{_what(char)} in port", tokens.position + bad)
    return host, _port_value(tokens, digits, tokens.position)


def parse_host_port(
    text: str,
    *,
    default_host: str | None = None,
    default_port: int | None = None,
    source: str | None = None,
    start: int = 0,
) -> HostPort:
    """`host:port` or `[v6]:port` (see the module doc); InvalidAddress otherwise.

    As parse_authority, and a missing (or empty) port is `default_port`,
    an error without one.
    """
    host, port = parse_authority(text, default_host=default_host, source=source, start=start)
    if port is None:
        if default_port is None:
            raise InvalidAddress("missing port", text if source is None else source, start + len(text))
        port = default_port
    return HostPort(host, port)


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` as (host, port); InvalidAddress otherwise."""
    parsed = parse_host_port(address)
    return parsed.host, parsed.port


def join_host_port(host: str, port: int | str) -> str:
    """The inverse of split_host_port: an IPv6 host gets brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_port_target(text: str) -> tuple[str | None, int, Protocol]:
    """The CLI's `PORT[/PROTO]`, `IP:PORT[/PROTO]` or `[IPV6]:PORT[/PROTO]`: (IP or None, port, protocol).

    The IP comes back compressed (`::1`, `10.0.0.1`); PROTO is tcp (the
    default) or udp, in any case. InvalidAddress otherwise.
    """
    body, slash, proto_text = text.partition("/")
    protocol = Protocol.TCP
    if slash:
        try:
            protocol = Protocol(proto_text.lower())
        except ValueError:
            raise InvalidAddress("unknown protocol (tcp or udp)", text, len(body) + 1) from None
    if not body.startswith("[") and ":" not in body:
        return None, parse_port(body, source=text), protocol
    if not body.startswith("[") and body.count(":") > 1:
        raise InvalidAddress("put an IPv6 address in brackets: [ADDR]:PORT", text, 0)
    parsed = parse_host_port(body, source=text)
    import ipaddress

    try:
        ip = ipaddress.ip_address(parsed.host).compressed
    except ValueError:
        raise InvalidAddress(f"not an IP address: {parsed.host!r}", text, int(body.startswith("["))) from None
    return ip, parsed.port, protocol


def parse_ssh_authority(
    text: str, *, source: str | None = None, start: int = 0
) -> tuple[str | None, str, int | None]:
    """An ssh:// URL's `[user@]host[:port]` (see the module doc): (user or None, host, port or None).

    InvalidAddress (caret in `source`, the whole URL) for a password, a user
    or host starting with "-", or a character outside the grammar.
    """
    tokens = _Tokenizer(text, source, start)
    userinfo, at, host_port = text.rpartition("@")
    user: str | None = None
    if at:
        if not userinfo:
            raise tokens.error("empty user before '@'")
        if ":" in userinfo:
            raise tokens.error("plain-text password is not supported", userinfo.index(":"))
        if userinfo.startswith("-"):
            raise tokens.error("a user may not start with '-' (ssh would read it as an option)")
        bad = next((i for i, char in enumerate(userinfo) if char not in _USER), None)
        if bad is not None:
            raise tokens.error(f"{_what(userinfo[bad])} in user", bad)
        user = userinfo
    offset = len(text) - len(host_port)
    if host_port.startswith("-"):
        raise tokens.error("a host may not start with '-' (ssh would read it as an option)", offset)
    host, port = parse_authority(host_port, source=tokens.source, start=start + offset)
    return user, host, port
