"""The spec holds together: rules fit the schema, observations carry sources."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from dockspec import builtin_spec, load_spec
from dockspec.env import Env

ROOT = Path(__file__).resolve().parents[1]
OBSERVATIONS = sorted((ROOT / "spec" / "vectors").glob("*.yaml")) + sorted((ROOT / "spec" / "fixtures").glob("*.yaml"))


def test_loaders_agree() -> None:
    """The generated tables and a fresh YAML load give the same Spec, of the same types."""
    loaded = load_spec(ROOT / "spec")
    assert builtin_spec() == loaded

    def types(value: Any) -> list[str]:
        if attrs.has(type(value)):
            fields = attrs.fields(type(value))
            return [type(value).__name__] + [t for f in fields for t in types(getattr(value, f.name))]
        if isinstance(value, tuple):
            return ["tuple"] + [t for v in value for t in types(v)]
        return [type(value).__name__]

    assert types(builtin_spec()) == types(loaded)


def test_endpoint_placeholders_are_known() -> None:
    known = set(Env(uid=1, home="/h", xdg_runtime_dir="/x", xdg_data_home="/d").placeholders())
    for rule in builtin_spec().endpoints:
        names = {n for _, n, _, _ in string.Formatter().parse(rule.template) if n}
        if rule.scope == "every-user":  # {user_uid} once, and a cap
            assert "user_uid" in names and rule.max_users, rule.id
            names.discard("user_uid")
        else:
            assert rule.scope == "caller", rule.id
        assert names <= known, rule.id


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in builtin_spec().endpoints]
    assert len(ids) == len(set(ids))


def test_every_engine_has_a_fixture() -> None:
    shapes = {yaml.safe_load(p.read_text()).get("shape") for p in OBSERVATIONS}
    assert {"docker", "libpod"} <= shapes


@pytest.mark.parametrize("path", OBSERVATIONS, ids=lambda p: p.name)
def test_every_observation_has_a_source(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    cases = doc.get("vectors") or doc.get("outcomes") or [doc]
    for case in cases:
        assert case.get("source") or doc.get("source"), f"{path.name}: {case.get('id')} has no source"


def test_outcome_names_exist() -> None:
    from dockspec import StopOutcome

    for profile in builtin_spec().daemons:
        for rule in profile.outcomes:
            assert rule.outcome in StopOutcome.__members__


def test_the_wheel_ships_every_rules_file() -> None:
    """load_spec() of an installed dockspec reads dockspec/_spec/: pyproject must force-include each rules file."""
    import tomllib

    from dockspec.spec import RULES_FILES

    root = Path(__file__).resolve().parents[1]
    included = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "force-include"
    ]
    for file_name in [*RULES_FILES.values(), "schema.yaml"]:
        assert included.get(f"spec/{file_name}") == f"dockspec/_spec/{file_name}", file_name
