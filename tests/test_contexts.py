"""Docker contexts over real temporary files: the store, the selection, DOCKER_CERT_PATH.

The selection rules themselves are vectors (spec/vectors/contexts.yaml); here
resolve_endpoints reads a real context store written to a temporary home.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from dockspec import DaemonNotFound, Env, builtin_spec, detect_containers
from dockspec.contexts import ContextError, Credentials, StaticFiles, context_digest, with_env_tls
from dockspec.detect import resolve_endpoints
from dockspec.endpoints import table_endpoints
from dockspec.models import Endpoint

SPEC = builtin_spec()


def write_context(config: Path, name: str, host: str, skip_verify: bool = False) -> Path:
    meta = config / "contexts" / "meta" / context_digest(name) / "meta.json"
    meta.parent.mkdir(parents=True)
    body = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}}
    meta.write_text(json.dumps(body))
    return meta


def test_context_digest_is_the_store_directory_docker_wrote() -> None:
    # docker 28.2.2 `docker context create ctx1` made contexts/meta/8f9d61fa.../meta.json
    assert context_digest("ctx1") == "8f9d61fac39402898f831bfec31c774438bb77be6a0cbd47c83cf53d31858372"


def test_recorded_context_is_probed_first_then_the_table(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    config.mkdir()
    (config / "config.json").write_text('{"currentContext": "work"}')
    write_context(config, "work", "unix:///run/work.sock")
    env = Env(home=str(tmp_path), uid=1000, environ={})
    endpoints, explicit = resolve_endpoints(env, SPEC)
    assert not explicit
    assert endpoints[0].url == "unix:///run/work.sock"
    assert endpoints[0].origin == "context:work"
    assert endpoints[1:] == table_endpoints(env, SPEC)


def test_docker_context_variable_is_the_only_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    write_context(config, "ci", "tcp://10.1.2.3:2375")
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "ci"})
    endpoints, explicit = resolve_endpoints(env, SPEC)
    assert explicit
    assert [(e.url, e.origin, e.tls) for e in endpoints] == [("tcp://10.1.2.3:2375", "context:ci", False)]


def test_missing_context_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONTEXT": "nope"})
    with pytest.raises(ContextError, match=r"'nope'.*does not exist"):
        resolve_endpoints(env, SPEC)
    with pytest.raises(ContextError):
        detect_containers(env=env)


def test_context_tls_files_are_found_in_the_store(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    write_context(config, "secure", "tcp://10.1.2.3:2376")
    tls = config / "contexts" / "tls" / context_digest("secure") / "docker"
    tls.mkdir(parents=True)
    (tls / "ca.pem").write_text("x")
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONTEXT": "secure"})
    (endpoint,), _ = resolve_endpoints(env, SPEC)
    assert endpoint.credentials is not None
    assert endpoint.tls
    assert endpoint.credentials == Credentials(ca_file=str(tls / "ca.pem"))


def test_env_tls_uses_docker_cert_path_then_the_config_dir() -> None:
    tls_endpoint = Endpoint(url="tcp://h:2376", transport="tcp", address="h:2376", origin="DOCKER_HOST", tls=True)
    env = Env(home="/home/u", environ={"DOCKER_CERT_PATH": "/certs"})
    got = with_env_tls(tls_endpoint, env, SPEC)
    assert got.credentials == Credentials(
        ca_file="/certs/ca.pem", cert_file="/certs/cert.pem", key_file="/certs/key.pem"
    )
    assert got.origin == "DOCKER_HOST"
    got = with_env_tls(tls_endpoint, Env(home="/home/u"), SPEC)
    assert got.credentials is not None
    assert got.credentials.ca_file == "/home/u/.docker/ca.pem"
    got = with_env_tls(tls_endpoint, Env(home="/home/u", environ={"DOCKER_CONFIG": "/c"}), SPEC)
    assert got.credentials is not None
    assert got.credentials.ca_file == "/c/ca.pem"
    plain = attrs.evolve(tls_endpoint, tls=False)
    assert with_env_tls(plain, env, SPEC) is plain


def test_env_tls_checks_the_files_it_is_given() -> None:
    tls_endpoint = Endpoint(url="tcp://h:2376", transport="tcp", address="h:2376", origin="DOCKER_HOST", tls=True)
    env = Env(home="/home/u", environ={"DOCKER_CERT_PATH": "/certs"})
    with pytest.raises(ContextError, match=r"DOCKER_HOST uses TLS \(DOCKER_TLS_VERIFY\) but the CA file /certs/ca.pem"):
        with_env_tls(tls_endpoint, env, SPEC, StaticFiles({}))
    got = with_env_tls(tls_endpoint, env, SPEC, StaticFiles({"/certs/ca.pem": "x", "/certs/cert.pem": "x"}))
    assert got.credentials == Credentials(ca_file="/certs/ca.pem")  # no key.pem: no client certificate
    files = StaticFiles({"/certs/ca.pem": "x", "/certs/cert.pem": "x", "/certs/key.pem": "x"})
    got = with_env_tls(tls_endpoint, env, SPEC, files)
    assert got.credentials is not None
    assert got.credentials.key_file == "/certs/key.pem"


def test_daemon_not_found_names_the_context(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    write_context(config, "dead", f"unix://{tmp_path}/nothing.sock")
    env = Env(home=str(tmp_path), uid=1000, environ={"DOCKER_CONTEXT": "dead"})
    with pytest.raises(DaemonNotFound, match="context:dead"):
        detect_containers(env=env)
