"""Check one /proc/PID/cgroup text against the cgroup forms (spec/cgroups.yaml)."""

from __future__ import annotations

from typing import Any

from dockspec.cgroups import container_of_cgroup
from dockspec.spec import builtin_spec


def check(case: dict[str, Any]) -> None:
    found = container_of_cgroup(str(case["cgroup"]), builtin_spec().cgroups)
    expect = case["expect"]
    got = None if found is None else {"id": found.id, "engine": found.engine, "form": found.form}
    assert expect == got
