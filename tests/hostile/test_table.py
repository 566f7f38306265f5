"""The text table against names built to hurt (issue 14, "Memory").

Every row used to be padded to the widest cell: one container named with
2^20 characters gave 210 MB of output, and a 1.3 MB answer ran out of
memory. Cells are now cut to MAX_CELL characters with an ellipsis, so the
output and the memory of `dockspec ps` stay bounded whatever the names, and
one row that cannot be rendered does not abort the table.
"""

from __future__ import annotations

import io
import json

import pytest

from dockspec.cli import ELLIPSIS, MAX_CELL, _table, main
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response
from tests.hostile.measure import measure

SIZES: dict[str, int] = {}


def _answer(names: list[str]) -> bytes:
    body = [{"Id": f"{i:064x}", "Names": ["/" + name], "Image": "bb:latest", "State": "running",
             "Ports": [{"IP": "0.0.0.0", "PublicPort": 40000 + i, "PrivatePort": 80, "Type": "tcp"}]}
            for i, name in enumerate(names)]
    return http_response(200, json.dumps(body), DOCKER_HEADERS)


def _ps(names: list[str], label: str, *args: str) -> tuple[int, str, str, int]:
    answer = _answer(names)
    SIZES[label] = len(answer)
    with fake_daemon({("GET", "/containers/json"): answer}) as fake:
        def call() -> tuple[int, str, str]:
            out, err = io.StringIO(), io.StringIO()
            status = main(["ps", *args], {"DOCKER_HOST": fake.url, "HOME": "/nonexistent"}, out, err)
            return status, out.getvalue(), err.getvalue()

        got = measure(label, call, default_limits=True)
    assert got.value is not None
    return (*got.value, got.peak)


@pytest.mark.parametrize("char", ["a", "\x1b", "名"], ids=["ascii", "escaped", "wide"])
def test_a_name_of_2_to_the_20_characters(char: str) -> None:
    _, _, _, good_peak = _ps(["web", "db"], "dockspec ps: good names")
    label = f"dockspec ps: a name of 2^20 {char!r}"
    status, out, err, peak = _ps([char * 2**20, "db"], label)
    assert (0, "") == (status, err)
    lines = out.splitlines()
    assert 3 == len(lines)
    assert all(len(line) < 6 * (MAX_CELL + 2) for line in lines)
    assert ELLIPSIS in lines[1] or ELLIPSIS in lines[2]
    # what is left is the answer's own cost (its bytes, the parse, the name once as a str): 210 MB of table before
    assert peak < good_peak + 4 * SIZES[label]


def test_many_long_names_cost_their_cap_each() -> None:
    status, out, _, _ = _ps(["n" * 10_000 + str(i) for i in range(300)], "dockspec ps: 300 names of 10 000")
    assert 0 == status
    assert len(out) < 301 * 6 * (MAX_CELL + 2)


def test_json_keeps_the_whole_name() -> None:
    status, out, _, _ = _ps(["x" * 2**16], "dockspec ps --json: a name of 2^16", "--json")
    assert (0, "x" * 2**16) == (status, json.loads(out)[0]["name"])


def test_cells_are_cut_with_an_ellipsis() -> None:
    table = _table(["A", "B"], [["x" * 1000, "y" * 1000], ["\x1b" * 1000, "ok"]])
    _, first, second = table.splitlines()
    assert first == "x" * (MAX_CELL - 1) + ELLIPSIS + "  " + "y" * (MAX_CELL - 1) + ELLIPSIS
    assert second.startswith("\\x1b" * ((MAX_CELL - 1) // 4)) and second.endswith(ELLIPSIS + "  ok")
    assert len(second) == MAX_CELL + 2 + 2


class Bad:
    def __str__(self) -> str:
        raise RuntimeError("a cell that cannot be shown")


def test_one_bad_row_does_not_abort_the_table() -> None:
    table = _table(["A", "B", "C"], [["1", "2", "3"], ["x", Bad(), "z"], ["only one"], ["4", "5", "6", "extra"]])
    expected = ["A         B  C", "1         2  3", "?         -  -", "only one  -  -", "4         5  6"]
    assert expected == table.splitlines()
