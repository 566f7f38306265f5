"""Docker contexts and podman connections: the daemon a user selected. Pure.

The docker CLI picks its daemon in this order (docker/cli
cli/command/cli.go, resolveContextName): DOCKER_HOST (the `default`
context, with DOCKER_HOST's address), DOCKER_CONTEXT, `currentContext` in
config.json of the config directory (DOCKER_CONFIG, else ~/.docker), and
finally `default`. A context other than `default` is read from the context
store: `contexts/meta/<sha256(name)>/meta.json` (`Endpoints.docker.Host`,
`SkipTLSVerify`) and its TLS files in `contexts/tls/<sha256(name)>/docker/`.
Podman 4.3 picks CONTAINER_HOST, then CONTAINER_CONNECTION, then the
default connection of `podman system connection` (containers.conf
`[engine] active_service`; Podman 5's podman-connections.json first).

`select()` turns these into endpoints. What an environment variable chose
(DOCKER_CONTEXT, CONTAINER_HOST, CONTAINER_CONNECTION) is `explicit`: only
those daemons are asked, as with DOCKER_HOST. What is only recorded in a
file (currentContext, the default connection) is `recorded`: asked first,
before the platform table, so the daemons the table knows are still found.
A context or connection that is named but missing is a ContextError, never a
silent fallback.

Every rule comes from spec/discovery.yaml; the files are read through a
`ConfigFiles` (dockspec._io.config_fs reads the real ones; tests pass
`StaticFiles` with literal contents), so this module does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import os.path
import string
import sys
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from dockspec._generated.models import Discovery, Spec
from dockspec.addresses import InvalidAddress, parse_host_port, parse_ssh_authority
from dockspec.env import Env
from dockspec.errors import ContextError, InvalidConnectionAddress, InvalidDockerHost
from dockspec.hosts import parse_docker_host
from dockspec.models import Credentials, Endpoint

__all__ = [
    "ConfigFiles",
    "ContextError",
    "Credentials",
    "Selection",
    "StaticFiles",
    "context_digest",
    "context_endpoint",
    "docker_config_dir",
    "docker_context_name",
    "podman_connection_endpoint",
    "select",
    "toml_supported",
    "with_env_tls",
]

if sys.version_info >= (3, 11):
    import tomllib

    def _load_toml(text: str, path: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise ContextError(f"containers.conf {path} is not valid TOML: {exc}") from None

else:  # pragma: no cover - Python 3.10 has no tomllib: containers.conf is not read

    def _load_toml(text: str, path: str) -> dict[str, Any]:
        raise ContextError(f"{path}: reading containers.conf needs Python 3.11 (tomllib)")


_FORMATTER = string.Formatter()


class ConfigFiles(Protocol):
    """Read access to configuration files: their text, or None when absent."""

    def read_text(self, path: str) -> str | None: ...


@attrs.frozen
class StaticFiles:
    """Files given as values ({path: text}): for tests and for callers with their own reads."""

    files: Mapping[str, str] = attrs.field(factory=dict)

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)


@attrs.frozen(kw_only=True)
class Selection:
    """What the contexts and connections select.

    `explicit`: chosen by an environment variable; only these are probed.
    `recorded`: recorded defaults; probed first, then the platform table.
    """

    explicit: tuple[Endpoint, ...] = ()
    recorded: tuple[Endpoint, ...] = ()


def context_digest(name: str) -> str:
    """The context store's directory name for a context (sha256 hex of the name)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def _expand(template: str, values: Mapping[str, str]) -> str | None:
    needed = [name for _, name, _, _ in _FORMATTER.parse(template) if name]
    if any(name not in values for name in needed):
        return None
    return template.format(**{name: values[name] for name in needed})


def _values(env: Env) -> dict[str, str]:
    values = env.placeholders()
    xdg_config = env.environ.get("XDG_CONFIG_HOME") or (os.path.join(env.home, ".config") if env.home else None)
    if xdg_config:
        values["xdg_config_home"] = xdg_config
    return values


def docker_config_dir(env: Env, spec: Spec) -> str | None:
    """DOCKER_CONFIG, else ~/.docker; None when neither is known."""
    rules = spec.discovery.docker
    return env.environ.get(rules.config_env) or _expand(rules.config_dir, _values(env))


def _load_json(files: ConfigFiles, path: str, what: str) -> Any:
    text = files.read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ContextError(f"{what} {path} is not valid JSON: {exc}") from None


def docker_context_name(env: Env, spec: Spec, files: ConfigFiles) -> tuple[str, str] | None:
    """The context the docker CLI would use and where that came from, or None.

    None when DOCKER_HOST is set (the CLI then uses `default` with that
    address) or nothing names a context. The second item is the variable's
    name or `currentContext in <config.json path>`.
    """
    rules = spec.discovery.docker
    if env.environ.get(rules.host_env):
        return None
    name = env.environ.get(rules.context_env)
    if name:
        return name, rules.context_env
    config_dir = docker_config_dir(env, spec)
    if config_dir is None:
        return None
    path = os.path.join(config_dir, rules.config_file)
    config = _load_json(files, path, "the docker CLI config")
    if config is None:
        return None
    if not isinstance(config, dict):
        raise ContextError(f"the docker CLI config {path} is not a JSON object")
    current = config.get(rules.current_key)
    if not current:
        return None
    if not isinstance(current, str):
        raise ContextError(f"{rules.current_key} in {path} is not a string")
    return current, f"{rules.current_key} in {path}"


def context_endpoint(
    name: str, env: Env, spec: Spec, files: ConfigFiles, *, source: str = "the context name"
) -> Endpoint | None:
    """The daemon endpoint of docker context `name`; None for `default` (the platform table).

    Raises ContextError when the store has no such context or its metadata
    has no usable docker endpoint.
    """
    rules = spec.discovery.docker
    if name == rules.default_context:
        return None
    config_dir = docker_config_dir(env, spec)
    digest = context_digest(name)
    if config_dir is None:
        raise ContextError(f"docker context {name!r} (from {source}): no config directory (no home, no DOCKER_CONFIG)")
    meta_path = os.path.join(config_dir, rules.meta_file.format(digest=digest))
    meta = _load_json(files, meta_path, f"docker context {name!r} metadata")
    if meta is None:
        raise ContextError(f"docker context {name!r} (from {source}) does not exist: {meta_path} is missing")
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker = endpoints.get(rules.endpoint) if isinstance(endpoints, dict) else None
    if not isinstance(docker, dict):
        raise ContextError(f"docker context {name!r}: {meta_path} has no {rules.endpoint!r} endpoint")
    host = docker.get("Host")
    if host is not None and not isinstance(host, str):
        raise ContextError(f"docker context {name!r}: Host in {meta_path} is not a string")
    if not host:
        return None  # the CLI then uses its default host, as the `default` context does
    try:
        endpoint = parse_docker_host(host, platform=env.platform, spec=spec, origin=f"context:{name}")
    except InvalidDockerHost as exc:
        message = f"docker context {name!r}: invalid Host in {meta_path}: {exc.message}"
        raise InvalidConnectionAddress(message, host, exc.position) from None
    origin = f"context:{name}"
    endpoint = attrs.evolve(endpoint, origin=origin, engine="docker", tls=False)
    if endpoint.transport != "tcp":
        return endpoint
    tls_dir = os.path.join(config_dir, rules.tls_dir.format(digest=digest))
    present = {
        key: os.path.join(tls_dir, file_name)
        for key, file_name in (("ca_file", rules.ca_file), ("cert_file", rules.cert_file), ("key_file", rules.key_file))
        if files.read_text(os.path.join(tls_dir, file_name)) is not None
    }
    skip_verify = docker.get("SkipTLSVerify") is True
    if not present and not skip_verify:
        return endpoint  # the CLI speaks plain HTTP then
    return attrs.evolve(endpoint, tls=True, credentials=Credentials(verify=not skip_verify, **present))


def with_env_tls(endpoint: Endpoint, env: Env, spec: Spec, files: ConfigFiles | None = None) -> Endpoint:
    """Attach DOCKER_CERT_PATH's files (default: the config dir) to a TLS endpoint from DOCKER_HOST.

    With `files`, the CA file must exist (ContextError otherwise, as the
    docker CLI fails with "could not read CA certificate"), and the client
    certificate is attached only when cert.pem and key.pem both exist, as the
    CLI drops its default pair when it is missing.
    """
    if not endpoint.tls or endpoint.credentials is not None:
        return endpoint
    rules = spec.discovery.docker
    cert_dir = env.environ.get(rules.cert_path_env) or docker_config_dir(env, spec)
    if cert_dir is None:
        return attrs.evolve(endpoint, credentials=Credentials())
    ca, cert, key = (os.path.join(cert_dir, name) for name in (rules.ca_file, rules.cert_file, rules.key_file))
    if files is not None:
        if files.read_text(ca) is None:
            raise ContextError(
                f"{endpoint.origin or 'the endpoint'} uses TLS ({spec.docker_host.tls_env_var}) but the CA file {ca} "
                f"does not exist (set {rules.cert_path_env} to the directory of ca.pem, cert.pem and key.pem)"
            )
        if files.read_text(cert) is None or files.read_text(key) is None:
            cert = key = ""
    credentials = Credentials(ca_file=ca, cert_file=cert or None, key_file=key or None)
    return attrs.evolve(endpoint, credentials=credentials)


def toml_supported() -> bool:
    """Whether containers.conf (TOML) can be read: Python 3.11+ (tomllib)."""
    return sys.version_info >= (3, 11)


@attrs.frozen
class _Connections:
    """Podman's recorded connections: name -> (uri, identity), and the default's name."""

    destinations: dict[str, tuple[str, str | None, str]]
    default: tuple[str, str] | None  # (name, the file that set it)


def _podman_connections(env: Env, rules: Discovery, files: ConfigFiles) -> _Connections:
    podman = rules.podman
    values = _values(env)
    destinations: dict[str, tuple[str, str | None, str]] = {}
    default: tuple[str, str] | None = None
    # containers.conf files, in order: later ones override earlier ones.
    if toml_supported():
        override = env.environ.get(podman.toml_env)
        if override:
            paths = [override]
        else:
            rootless = env.uid != 0
            paths = [
                p
                for f in podman.toml_files
                if (rootless or not f.rootless_only) and (p := _expand(f.template, values)) is not None
            ]
        for path in paths:
            text = files.read_text(path)
            if text is None:
                continue
            doc = _load_toml(text, path)
            engine = doc.get("engine")
            if not isinstance(engine, dict):
                continue
            service_destinations = engine.get("service_destinations")
            if isinstance(service_destinations, dict):
                for name, dest in service_destinations.items():
                    if isinstance(dest, dict) and isinstance(dest.get("uri"), str):
                        identity = dest.get("identity")
                        destinations[name] = (dest["uri"], identity if isinstance(identity, str) else None, path)
            active = engine.get("active_service")
            if isinstance(active, str) and active:
                default = (active, path)
    # Podman 5's JSON file is read first by Podman: its entries and default win.
    json_path = env.environ.get(podman.json_env) or _expand(podman.json_file, values)
    if json_path is not None:
        doc = _load_json(files, json_path, "the podman connections file")
        connection = doc.get("Connection") if isinstance(doc, dict) else None
        if isinstance(connection, dict):
            recorded = connection.get("Connections")
            if isinstance(recorded, dict):
                for name, dest in recorded.items():
                    if isinstance(dest, dict) and isinstance(dest.get("URI"), str):
                        identity = dest.get("Identity")
                        destinations[name] = (dest["URI"], identity if isinstance(identity, str) else None, json_path)
            json_default = connection.get("Default")
            if isinstance(json_default, str) and json_default:
                default = (json_default, json_path)
    return _Connections(destinations, default)


def podman_connection_endpoint(uri: str, origin: str, identity: str | None = None) -> Endpoint:
    """The endpoint of a podman service URI (unix://, tcp:// or ssh://).

    A tcp:// URI's host:port and an ssh:// URI's host[:port] follow
    dockspec.addresses' grammar: InvalidConnectionAddress (a ContextError,
    with a caret in the URI) otherwise.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("unix", "tcp", "ssh"):
        raise ContextError(f"{origin}: unsupported podman URI {uri!r} (expected unix://, tcp:// or ssh://)")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    if scheme == "unix":
        if not rest:
            raise ContextError(f"{origin}: {uri!r} names no socket path")
        return Endpoint(url=f"unix://{rest}", transport="unix", address=rest, origin=origin, engine="podman")
    authority = rest.split("/", 1)[0]
    host_port = authority.rpartition("@")[2]  # podman dials the URL's host:port
    if not host_port:
        raise ContextError(f"{origin}: {uri!r} names no host")
    start = len(scheme) + len(sep) + len(authority) - len(host_port)
    try:
        if scheme == "tcp":
            address = str(parse_host_port(host_port, source=uri, start=start))
            return Endpoint(url=f"tcp://{address}", transport="tcp", address=address, origin=origin, engine="podman")
        parse_ssh_authority(authority, source=uri, start=len(scheme) + len(sep))  # user, host and port go to ssh
    except InvalidAddress as exc:
        raise InvalidConnectionAddress(f"{origin}: {exc.message}", uri, exc.position) from None
    credentials = Credentials(ssh_identity=identity) if identity else None
    return Endpoint(
        url=f"ssh://{rest}", transport="ssh", address=rest, origin=origin, engine="podman", credentials=credentials
    )


def _podman_env_choice(env: Env, spec: Spec) -> tuple[str, str] | None:
    rules = spec.discovery.podman
    host = env.environ.get(rules.host_env)
    connection = env.environ.get(rules.connection_env)
    choices = [("host", host), ("connection", connection)]
    if not rules.host_env_first:
        choices.reverse()
    for kind, value in choices:
        if value:
            return kind, value
    return None


def _podman_named(name: str, source: str, env: Env, spec: Spec, files: ConfigFiles) -> Endpoint:
    connections = _podman_connections(env, spec.discovery, files)
    dest = connections.destinations.get(name)
    if dest is None:
        where = "no connection file was read" if not toml_supported() else "no connection file records it"
        raise ContextError(f"podman connection {name!r} (from {source}) does not exist: {where}")
    uri, identity, _ = dest
    return podman_connection_endpoint(uri, f"connection:{name}", identity)


def select(env: Env, spec: Spec, files: ConfigFiles) -> Selection:
    """The endpoints docker contexts and podman connections select (see the module doc)."""
    docker_choice = docker_context_name(env, spec, files)
    podman_choice = _podman_env_choice(env, spec)
    docker_rules = spec.discovery.docker
    explicit: list[Endpoint] = []
    if docker_choice is not None and docker_choice[1] == docker_rules.context_env:
        endpoint = context_endpoint(docker_choice[0], env, spec, files, source=docker_choice[1])
        if endpoint is not None:
            explicit.append(endpoint)
    if podman_choice is not None:
        kind, value = podman_choice
        podman_rules = spec.discovery.podman
        if kind == "host":
            identity = env.environ.get(podman_rules.sshkey_env) or None
            explicit.append(podman_connection_endpoint(value, podman_rules.host_env, identity))
        else:
            explicit.append(_podman_named(value, podman_rules.connection_env, env, spec, files))
    if explicit:
        return Selection(explicit=tuple(explicit))
    recorded: list[Endpoint] = []
    if docker_choice is not None and docker_choice[1] != docker_rules.context_env:
        endpoint = context_endpoint(docker_choice[0], env, spec, files, source=docker_choice[1])
        if endpoint is not None:
            recorded.append(endpoint)
    connections = _podman_connections(env, spec.discovery, files)
    if connections.default is not None:
        name, path = connections.default
        if name not in connections.destinations:
            raise ContextError(f"the default podman connection {name!r} (set in {path}) does not exist")
        uri, identity, _ = connections.destinations[name]
        recorded.append(podman_connection_endpoint(uri, f"connection:{name}", identity))
    return Selection(recorded=tuple(recorded))
