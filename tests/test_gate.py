"""The instruction-count gate's verdicts (benches/instructions.py), on counts given to it directly.

The counting itself needs valgrind and minutes; CI runs it whole. These
tests pin what the gate decides from two sides' counts and the accepted
changes: a regression fails, an accepted one passes only up to its recorded
change, an operation on one side only is reported and never failed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"


def _load() -> Any:
    sys.path.insert(0, str(BENCHES))
    spec = importlib.util.spec_from_file_location("dockspec_gate", BENCHES / "instructions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gate = _load()
REF = "0" * 40


def test_a_regression_past_the_threshold_fails(capsys: pytest.CaptureFixture[str]) -> None:
    failures, changes = gate.compare({"lookup.500.exact": 1515}, {"lookup.500.exact": 1431}, {}, 1.0, "reference")
    assert failures == 1
    assert changes["lookup.500.exact"] == pytest.approx(5.87, abs=0.01)
    assert "lookup.500.exact" in capsys.readouterr().out


def test_within_the_threshold_passes() -> None:
    failures, _ = gate.compare({"op": 1010}, {"op": 1000}, {}, 1.0, "reference")
    assert failures == 0


def test_an_accepted_change_passes_only_up_to_what_was_accepted() -> None:
    entry = {"op": "op", "reference": REF, "change_pct": 20.0, "reason": "the public call replaces parse_list"}
    assert gate.compare({"op": 1200}, {"op": 1000}, {"op": entry}, 1.0, "reference")[0] == 0
    assert gate.compare({"op": 1205}, {"op": 1000}, {"op": entry}, 1.0, "reference")[0] == 0
    assert gate.compare({"op": 1250}, {"op": 1000}, {"op": entry}, 1.0, "reference")[0] == 1


def test_an_operation_on_one_side_only_is_reported_not_failed(capsys: pytest.CaptureFixture[str]) -> None:
    missing = gate.RunFailed("ops.py refresh.docker-10: AttributeError")
    failures, _ = gate.compare({"new": 10, "both": 5}, {"new": missing, "old": 7, "both": 5}, {}, 1.0, "reference")
    out = capsys.readouterr().out
    assert failures == 0
    assert "head only" in out and "reference only" in out


def test_a_run_that_fails_on_the_head_fails_the_gate() -> None:
    failures, _ = gate.compare({"op": gate.RunFailed("boom")}, {"op": 5}, {}, 1.0, "reference")
    assert failures == 1


def test_acceptances_of_another_reference_do_not_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    accepted = tmp_path / "accepted.json"
    accepted.write_text(json.dumps({"accepted": [
        {"op": "a", "reference": REF, "change_pct": 3.0, "reason": "r"},
        {"op": "b", "reference": "1" * 40, "change_pct": 3.0, "reason": "r"},
    ]}))
    monkeypatch.setattr(gate, "ACCEPTED", accepted)
    entries, notes = gate.load_accepted(REF)
    assert set(entries) == {"a"}
    assert len(notes) == 1 and "b was accepted against" in notes[0]


def test_the_committed_reference_and_acceptances_are_readable() -> None:
    reference = gate.read_reference()
    assert len(reference) == 40 and all(c in "0123456789abcdef" for c in reference)
    entries, _ = gate.load_accepted(reference)
    for entry in entries.values():
        assert entry["reason"] and isinstance(entry["change_pct"], (int, float))
