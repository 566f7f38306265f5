"""The benchmarked operations, and the baseline each one is a ratio against.

One table shared by the pytest-codspeed benches, the instruction-count gate
(benches/instructions.py runs `python benches/ops.py OP N` under callgrind)
and benches/compare.py, so all three measure the same calls on the same
inputs (benches/make_inputs.py).

An operation is a function and its arguments; `loop(op, n)` calls it n times
from generated code that calls the function directly, ten calls per loop
turn, so a 150 ns dict.get and a lookup pay the same, small, harness cost.

    python benches/ops.py list
    python benches/ops.py OP N [--empty] [--inputs DIR] [--socket PATH]

runs OP's setup, one warm-up call (lazy imports, caches), then N calls (or N
calls of an empty function of the same arity with --empty: the difference of
the two runs is N operations).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_inputs  # noqa: E402
from make_inputs import BODIES, LOOKUP_CASES, LOOKUP_SIZES  # noqa: E402

UNROLL = 10


@dataclass(frozen=True)
class Op:
    """fn(*args) is one operation."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Spec:
    """A benchmarked operation: its group (what the ratio is about) and its baseline's name."""

    name: str
    group: str
    baseline: str | None
    make: Callable[[Context], Op]


@dataclass(frozen=True)
class Context:
    inputs: Path | None = None  # pre-written bodies (make_inputs.py --out); generated when None
    socket: str | None = None  # a lean daemon serving the docker-100 body, for detect ops

    def body(self, shape: str, n: int) -> bytes:
        if self.inputs is not None:
            return (self.inputs / f"{shape}-{n}.json").read_bytes()
        return make_inputs.body(shape, n)


_LOOPS: dict[int, Callable[..., None]] = {}


def _loop_for(arity: int) -> Callable[..., None]:
    """def run(n, fn, a0, ...): n // 10 turns of ten direct calls fn(a0, ...), then the rest."""
    loop = _LOOPS.get(arity)
    if loop is None:
        params = ", ".join(f"a{i}" for i in range(arity))
        call = f"fn({params})"
        source = (
            f"def run(n, fn{', ' if params else ''}{params}):\n"
            f"    for _ in range(n // {UNROLL}):\n"
            + "".join(f"        {call}\n" for _ in range(UNROLL))
            + f"    for _ in range(n % {UNROLL}):\n"
            f"        {call}\n"
        )
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<benches loop {arity}>", "exec"), namespace)
        loop = _LOOPS[arity] = namespace["run"]
    return loop


def loop(op: Op, n: int) -> None:
    """Call op n times."""
    _loop_for(len(op.args))(n, op.fn, *op.args)


def empty_like(op: Op) -> Op:
    """An operation of the same arity that does nothing: the harness cost alone."""
    namespace: dict[str, Any] = {}
    params = ", ".join(f"a{i}" for i in range(len(op.args)))
    exec(f"def empty({params}):\n    return None\n", namespace)
    return Op(namespace["empty"], op.args)


def _refresh(shape: str, n: int, decoder: str) -> Callable[[Context], Op]:
    """One refresh, as a port viewer makes it: parse a list body, then look up every binding it publishes.

    `dockspec.parse_containers_json(body, decoder=...)` (the shape told from
    the body), then an exact lookup of each key of the map it returns (the
    first one builds the lookup index).
    """

    def make(ctx: Context) -> Op:
        import inspect

        import dockspec

        parse = dockspec.parse_containers_json
        lookup = dockspec.lookup_published_container
        if "decoder" not in inspect.signature(parse).parameters:
            raise SystemExit(f"parse.{shape}-{n}.{decoder}: this dockspec's parse_containers_json lacks decoder=")

        def refresh(body: bytes) -> None:
            port_map = parse(body, decoder=decoder)
            for ip, port, protocol in port_map:
                lookup(port_map, (ip, port), protocol)

        body = ctx.body(shape, n)
        if not parse(body, decoder=decoder):
            raise SystemExit(f"parse.{shape}-{n}.{decoder}: the body publishes no binding")
        return Op(refresh, (body,))

    return make


def _json_loads(shape: str, n: int) -> Callable[[Context], Op]:
    def make(ctx: Context) -> Op:
        return Op(json.loads, (ctx.body(shape, n),))

    return make


def _lookup(size: int, case: str) -> Callable[[Context], Op]:
    def make(ctx: Context) -> Op:
        from dockspec import ContainerPortMap, Protocol, lookup_published_container

        bindings, queries = make_inputs.lookup_map(size)
        ip, port, fallback = queries[case]
        return Op(lookup_published_container, (ContainerPortMap(bindings), (ip, port), Protocol.TCP, fallback))

    return make


def _dict_get(size: int, case: str) -> Callable[[Context], Op]:
    def make(ctx: Context) -> Op:
        from dockspec import Protocol

        bindings, queries = make_inputs.lookup_map(size)
        ip, port, _ = queries[case]
        return Op(bindings.get, ((ip, port, Protocol.TCP),))

    return make


def _socket(ctx: Context) -> str:
    if not ctx.socket:
        raise SystemExit("detect operations need --socket (a lean daemon: benches/lean_daemon.py)")
    return ctx.socket


def _detect(ctx: Context) -> Op:
    import dockspec

    os.environ["DOCKER_HOST"] = "unix://" + _socket(ctx)
    return Op(dockspec.detect_containers, ())


def _raw(ctx: Context) -> Op:
    from lean_daemon import raw_list

    return Op(raw_list, (_socket(ctx),))


def _specs() -> dict[str, Spec]:
    specs: list[Spec] = []
    for shape, n in BODIES:  # parse.* ops are one refresh each (the names predate the lookups)
        group = f"parse {shape}-{n}"
        base = f"baseline.json.loads.{shape}-{n}"
        specs.append(Spec(base, group, None, _json_loads(shape, n)))
        for decoder in ("stdlib", "fast"):
            specs.append(Spec(f"parse.{shape}-{n}.{decoder}", group, base, _refresh(shape, n, decoder)))
    for size in LOOKUP_SIZES:
        for case in LOOKUP_CASES:
            base = f"baseline.dict.get.{size}.{case}"
            specs.append(Spec(base, f"lookup {size} {case}", None, _dict_get(size, case)))
            specs.append(Spec(f"lookup.{size}.{case}", f"lookup {size} {case}", base, _lookup(size, case)))
    specs.append(Spec("baseline.raw.docker-100", "detect docker-100", None, _raw))
    specs.append(Spec("detect.docker-100", "detect docker-100", "baseline.raw.docker-100", _detect))
    return {s.name: s for s in specs}


SPECS = _specs()
IMPORT_OP = "import.dockspec"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmarked operation N times (for callgrind).")
    parser.add_argument("op", help=f"an operation name, {IMPORT_OP}, or `list`")
    parser.add_argument("n", type=int, nargs="?", default=1)
    parser.add_argument("--empty", action="store_true", help="same setup and warm-up, then N empty calls")
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--socket")
    args = parser.parse_args(argv)
    if args.op == "list":
        print("\n".join([*SPECS, IMPORT_OP]))
        return 0
    if args.op == IMPORT_OP:
        if not args.empty:
            import dockspec  # noqa: F401
        return 0
    op = SPECS[args.op].make(Context(args.inputs, args.socket))
    loop(op, 1)  # warm-up: lazy imports, per-spec caches
    loop(empty_like(op) if args.empty else op, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
