"""Check one docker-context / podman-connection selection against its literal expectation."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from dockspec import Env
from dockspec.contexts import ContextError, StaticFiles, select, toml_supported
from dockspec.models import Endpoint
from dockspec.spec import builtin_spec


def view(endpoint: Endpoint) -> dict[str, Any]:
    """The fields a vector states, as plain data."""
    out: dict[str, Any] = {
        "url": endpoint.url,
        "origin": endpoint.origin,
        "engine": endpoint.engine,
        "tls": endpoint.tls,
    }
    if endpoint.credentials is not None:
        out["credentials"] = attrs.asdict(endpoint.credentials)
    return out


def check(case: dict[str, Any]) -> None:
    if case.get("toml") and not toml_supported():
        pytest.skip("containers.conf (TOML) is not read on Python 3.10")
    env = Env(
        platform=case.get("platform", "linux"),
        uid=case.get("uid", 1000),
        home=case.get("home", "/home/u"),
        environ=case.get("environ", {}),
    )
    files = StaticFiles(case.get("files", {}))
    if "error" in case:
        with pytest.raises(ContextError) as info:
            select(env, builtin_spec(), files)
        for text in case["error"]:
            assert text in str(info.value)
        return
    selection = select(env, builtin_spec(), files)
    assert case["expect"]["explicit"] == [view(e) for e in selection.explicit]
    assert case["expect"]["recorded"] == [view(e) for e in selection.recorded]
