"""The DOCKER_HOST grammar, as the docker CLI's opts.ParseHost reads it. Pure.

Rule: no I/O here and no os.environ: the value and the Env come in as values.
Every parameter (schemes, default hosts and ports, the variables read) is spec
data (spec/docker_host.yaml); the cases come from the CLI's own hosts_test.go
(spec/vectors/docker_host.yaml).

Grammar (after trimming surrounding whitespace; empty means the platform
default, or the TLS default when TLS is on):

    host_value  = scheme "://" rest | bare
    bare        = path | tcp_address         ; "/..." or "./..." is a unix path
    tcp_address = [userinfo "@"] host_port [path]

`host_port` is dockspec.addresses' grammar (ASCII only, ports 1-65535), with
the platform's default host and port filling what is missing. Where the CLI
is laxer it fails later, at dial time (`tcp://0.0.0.0:1234567890` parses and
then fails with "invalid port"; a non-ASCII host fails to resolve), and
dockspec fails at once, with a caret; Python's resolver would otherwise read
`\uff11\uff12\uff17.0.0.1`, in fullwidth digits, as 127.0.0.1.
"""

from __future__ import annotations

from dockspec._generated.models import DockerHostRules, HostScheme, PlatformValue, Spec
from dockspec.addresses import parse_host_port, parse_ssh_authority
from dockspec.env import Env
from dockspec.errors import InvalidAddress, InvalidDockerHost
from dockspec.models import Endpoint
from dockspec.spec import builtin_spec

__all__ = ["endpoint_from_env", "parse_docker_host"]

SEPARATOR = "://"


class _Error(Exception):
    """Raised inside the parser with a message and an index into the trimmed value."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def _for_platform(values: tuple[PlatformValue, ...], platform: str) -> str:
    for item in values:
        if item.platform == platform:
            return item.value
    return values[0].value


def _scheme(rules: DockerHostRules, name: str) -> HostScheme | None:
    for scheme in rules.schemes:
        if scheme.name == name:
            return scheme
    return None


def _parse_host_value(text: str, rules: DockerHostRules, platform: str) -> str:
    """host_value = scheme "://" rest | bare"""
    proto, sep, rest = text.partition(SEPARATOR)
    start = len(proto) + len(sep)
    if not sep:
        rest, start = proto, 0
        proto = rules.path_scheme if rest.startswith(tuple(rules.path_prefixes)) else rules.bare_scheme
    scheme = _scheme(rules, proto)
    if scheme is None:
        raise _Error(f"invalid bind address format: {text}", 0)
    if scheme.address == "hostport":
        default = f"{_for_platform(rules.default_tcp_host, platform)}:{rules.default_tcp_port}"
        return _parse_tcp(rest, start, default, scheme.name)
    if scheme.address == "path":
        return _parse_path(scheme, rest, start)
    if scheme.address == "ssh":
        _check_ssh(rest, start)
    return text


def _check_ssh(rest: str, start: int) -> None:
    """ssh = ssh_authority [path]: what goes onto ssh's command line, checked before ssh is ever spawned."""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not authority.rpartition("@")[2]:
        raise _Error("hostname is empty", start + len(authority))
    try:
        parse_ssh_authority(authority)
    except InvalidAddress as exc:
        raise _Error(exc.message, start + exc.position) from None


def _parse_path(scheme: HostScheme, addr: str, start: int) -> str:
    """path = any text without "://"; empty means the scheme's default address"""
    prefix = scheme.name + SEPARATOR
    if addr.startswith(prefix):
        addr, start = addr[len(prefix) :], start + len(prefix)
    if SEPARATOR in addr:
        raise _Error(f"invalid proto, expected {scheme.name}: {addr}", start + addr.index(SEPARATOR))
    return f"{scheme.name}{SEPARATOR}{addr or scheme.default_address or ''}"


def _parse_tcp(try_addr: str, start: int, default: str, scheme: str) -> str:
    """tcp_address = [userinfo "@"] hostport [path]; missing host and port come from the default"""
    prefix = scheme + SEPARATOR
    if try_addr in ("", prefix):
        return prefix + default
    addr = try_addr.removeprefix(prefix)
    start += len(try_addr) - len(addr)
    if SEPARATOR in addr or not addr:
        raise _Error(f"invalid proto, expected {scheme}: {try_addr}", start)
    default_host, default_port = default.rsplit(":", 1)
    cut = min((i for i in (addr.find("/"), addr.find("?"), addr.find("#")) if i >= 0), default=len(addr))
    authority, path = addr[:cut], addr[cut:].split("?", 1)[0].split("#", 1)[0]
    at = authority.rfind("@")
    if at >= 0:
        authority, start = authority[at + 1 :], start + at + 1
    if authority.count(":") > 1 and not authority.startswith("["):
        # Go's net.SplitHostPort fails, and the CLI retries JoinHostPort(host, default port):
        # an IPv6 address without brackets is a host without a port.
        authority, start = f"[{authority}]", start - 1
    try:
        parsed = parse_host_port(authority, default_host=default_host, default_port=int(default_port))
    except InvalidAddress as exc:
        raise _Error(exc.message, start + exc.position) from None
    return f"{prefix}{parsed}{path}"


def _endpoint(url: str, rules: DockerHostRules, tls: bool, origin: str) -> Endpoint:
    proto, _, rest = url.partition(SEPARATOR)
    scheme = _scheme(rules, proto)
    transport = scheme.transport if scheme is not None else proto
    address = rest
    if scheme is not None and scheme.address == "hostport":
        address = rest.split("/", 1)[0]
    return Endpoint(url=url, transport=transport, address=address, origin=origin, tls=tls)


def parse_docker_host(
    value: str, *, platform: str = "linux", tls: bool = False, spec: Spec | None = None, origin: str = "DOCKER_HOST"
) -> Endpoint:
    """The endpoint a DOCKER_HOST value names; `.url` is the docker CLI's normalised form.

    Raises InvalidDockerHost (with a caret under the offending character)
    for values the docker CLI rejects.
    """
    rules = (spec or builtin_spec()).docker_host
    text = value.strip()
    if not text:
        url = rules.default_tls_host if tls else _for_platform(rules.default_host, platform)
        return _endpoint(url, rules, tls, origin)
    if any(char < " " or char == "\x7f" for char in text):
        bad = next(i for i, c in enumerate(text) if c < " " or c == "\x7f")
        raise InvalidDockerHost("invalid control character in URL", value, value.index(text) + bad)
    try:
        url = _parse_host_value(text, rules, platform)
    except _Error as exc:
        raise InvalidDockerHost(exc.message, value, value.index(text) + exc.index) from None
    return _endpoint(url, rules, tls, origin)


def endpoint_from_env(env: Env, spec: Spec | None = None) -> Endpoint | None:
    """The endpoint named by the first set variable of the spec's list (DOCKER_HOST), or None.

    An empty variable counts as unset, as it does for the docker CLI. TLS is
    on when the spec's TLS variable (DOCKER_TLS_VERIFY) is non-empty.
    """
    spec = spec or builtin_spec()
    rules = spec.docker_host
    for name in rules.env_vars:
        value = env.environ.get(name, "")
        if value.strip():
            tls = bool(env.environ.get(rules.tls_env_var, ""))
            return parse_docker_host(value, platform=env.platform, tls=tls, spec=spec, origin=name)
    return None
