"""Hand-written checks that the generated observation tests call.

Each module here exposes `check(case)` for one kind of observation; the
expected values come from the YAML (literal, with a source), never from the
rules the runtime reads.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _load(source: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / source).read_text(encoding="utf-8"))
    assert isinstance(doc, dict), source
    return doc


def observation(source: str, case_id: str) -> dict[str, Any]:
    """The observation `case_id` of the YAML file `source` (relative to the repo)."""
    doc = _load(source)
    if doc.get("id") == case_id and "response" in doc:
        return doc
    for key in ("vectors", "outcomes"):
        for case in doc.get(key) or ():
            if case.get("id") == case_id:
                return dict(case)
    raise LookupError(f"{source}: no observation {case_id!r}")
