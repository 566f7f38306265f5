"""The spec the runtime reads: built in (generated literals) or loaded from YAML.

`builtin_spec()` returns the rules tools/codegen.py turned into Python
literals (dockspec._generated.tables), imported at the first call, not at
`import dockspec`. `load_spec()` reads the YAML files themselves
(for overrides and for the test that both loaders agree); PyYAML, cattrs and
pathlib are imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockspec.errors import SpecError

if TYPE_CHECKING:
    from pathlib import Path

    from dockspec._generated.models import Spec

__all__ = ["Spec", "builtin_spec", "load_spec"]

# spec field -> rules file, mirrored from spec/schema.yaml's rules_files.
RULES_FILES = {
    "endpoints": "endpoints.yaml",
    "docker_host": "docker_host.yaml",
    "daemons": "daemons.yaml",
    "wire": "wire.yaml",
    "helpers": "helpers.yaml",
    "podman_storage": "podman_storage.yaml",
    "discovery": "discovery.yaml",
    "cgroups": "cgroups.yaml",
    "events": "events.yaml",
}


_BUILTIN: list[Spec] = []


def builtin_spec() -> Spec:
    """The rules dockspec was built with (one value, loaded at the first call)."""
    if not _BUILTIN:
        from dockspec._generated.tables import SPEC

        _BUILTIN.append(SPEC)
    return _BUILTIN[0]


def __getattr__(name: str) -> Any:
    if name == "Spec":  # the record type: its module is imported at first use, as the rules are
        from dockspec._generated.models import Spec

        return Spec
    raise AttributeError(f"module 'dockspec.spec' has no attribute {name!r}")


def _default_dir() -> Path:
    from pathlib import Path

    shipped = Path(__file__).parent / "_spec"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parents[2] / "spec"


def load_spec(directory: str | Path | None = None) -> Spec:
    """Read the rules YAML files of `directory` into a Spec; SpecError if they don't fit."""
    from pathlib import Path

    import attrs
    import cattrs
    import yaml

    from dockspec._generated import models

    base = Path(directory) if directory is not None else _default_dir()
    for value in vars(models).values():
        if isinstance(value, type) and attrs.has(value):
            attrs.resolve_types(value, vars(models))
    data: dict[str, Any] = {}
    for field_name, file_name in RULES_FILES.items():
        path = base / file_name
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SpecError(f"{path}: {exc}") from exc
        if not isinstance(doc, dict) or set(doc) != {field_name}:
            raise SpecError(f"{path}: the only top-level key must be {field_name!r}")
        data[field_name] = doc[field_name]
    converter = cattrs.Converter(forbid_extra_keys=True)
    try:
        return converter.structure(data, models.Spec)
    except Exception as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            raise SpecError("\n".join(cattrs.transform_error(exc))) from exc
        raise SpecError(str(exc)) from exc
