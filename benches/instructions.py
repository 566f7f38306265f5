"""Instruction-count gate: every benchmarked operation under callgrind, against benches/baseline.json.

    python benches/instructions.py            # measure, compare, exit 1 on a regression
    python benches/instructions.py --update   # measure and rewrite benches/baseline.json

Each operation of benches/ops.py (and `import dockspec`) runs in its own
interpreter under `valgrind --tool=callgrind`: once with N calls and once
with the same setup and warm-up followed by N calls of an empty function of
the same arity. (A - B) / N is the operation's instruction count, with the
interpreter's start-up, the imports, the input set-up and the loop itself
subtracted out. Instruction counts do not depend on the machine's load, so
two runs on one machine agree (see docs/performance.md for two runs).

Determinism: PYTHONHASHSEED=0 (str hashes, so dict and set layouts), no
bytecode writes (a run never changes what the next one imports), a fixed
locale, a minimal fixed environment, inputs written to fixed paths before
the runs (benches/make_inputs.py, checked against its committed digests),
and a lean daemon in a separate, unmeasured process for the detect
operation. Counts depend on the Python build, the dependency versions and
the C library, so baseline.json records them and a run under another
environment stops with exit 1 and asks for --update rather than comparing.

A regression is a per-operation count above the baseline by more than
THRESHOLD_PCT percent (see docs/performance.md for why 1%).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_inputs  # noqa: E402
import ops  # noqa: E402
from lean_daemon import start  # noqa: E402

BASELINE = HERE / "baseline.json"
WORK = Path(tempfile.gettempdir()) / "dockspec-instructions"
THRESHOLD_PCT = 1.0

# Calls per measured run: enough that the per-call count is exact to well under
# 0.1% (the subtraction is exact; N only averages away gc passes that land in
# one call or another), few enough for a CI run of a few minutes.
ITERATIONS = {"parse.docker-10": 40, "parse.docker-100": 8, "parse.docker-1000": 2, "parse.libpod-1000": 2,
              "lookup.": 2000, "detect.": 8, ops.IMPORT_OP: 1}
DEPENDENCIES = ("attrs", "cattrs", "h11", "msgspec", "PyYAML")


def iterations(name: str) -> int:
    return next(n for prefix, n in ITERATIONS.items() if name.startswith(prefix))


def gated_ops() -> list[str]:
    """Every dockspec operation of benches/ops.py (the baselines are json.loads, dict.get... not ours)."""
    return [name for name, spec in ops.SPECS.items() if spec.baseline is not None] + [ops.IMPORT_OP]


def environment() -> dict[str, str]:
    """What instruction counts depend on besides dockspec's code; a baseline is valid only for the same."""
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    deps = {}
    for dist in DEPENDENCIES:
        try:
            deps[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            deps[dist] = "missing"
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()} {platform.python_build()[0]}",
        "machine": platform.machine(),
        "libc": " ".join(platform.libc_ver()),
        "valgrind": valgrind,
        **{f"dep:{k}": v for k, v in sorted(deps.items())},
    }


def child_env() -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }
    for name in ("PYTHONPATH", "VIRTUAL_ENV"):  # where dockspec comes from, if set
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def callgrind(argv: list[str]) -> int:
    """Instructions executed by argv under callgrind (the whole process)."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=child_env(), cwd=str(WORK))
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(argv)} failed under callgrind:\n{proc.stderr[-3000:]}")
    return int(found.group(1))


def run_argv(name: str, empty: bool, inputs: Path, socket_path: str) -> list[str]:
    """The driver for one run: N calls of the operation, or (empty) the same set-up and N empty calls."""
    if name == ops.IMPORT_OP:  # a fresh interpreter that imports dockspec, or nothing
        return [sys.executable, "-c", "pass" if empty else "import dockspec"]
    argv = [sys.executable, str(HERE / "ops.py"), name, str(iterations(name)), "--inputs", str(inputs)]
    return [*argv, "--socket", socket_path, *(["--empty"] if empty else [])]


@contextlib.contextmanager
def workspace() -> Iterator[tuple[Path, str]]:
    """Fixed paths (inputs, the daemon socket), one run at a time."""
    WORK.mkdir(exist_ok=True)
    with open(WORK / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inputs = WORK / "inputs"
        shutil.rmtree(inputs, ignore_errors=True)
        if make_inputs.main(["--out", str(inputs), "--check"]) != 0:
            raise SystemExit("benches/make_inputs.py no longer makes the inputs the baseline was measured on")
        socket_path = str(WORK / "daemon.sock")
        with start(socket_path, make_inputs.body("docker", 100), inputs / "docker-100.json"):
            yield inputs, socket_path


def run_all(names: list[str], jobs: int) -> dict[str, int]:
    """Instructions per call of each operation: (full run - empty run) / N, the runs spread over `jobs`."""
    counts: dict[tuple[str, bool], int] = {}
    with workspace() as (inputs, socket_path), concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {
            pool.submit(callgrind, run_argv(name, empty, inputs, socket_path)): (name, empty)
            for name in names
            for empty in (False, True)
        }
        for future in concurrent.futures.as_completed(futures):
            name, empty = futures[future]
            counts[name, empty] = future.result()
            if (name, not empty) in counts:
                per_call = round((counts[name, False] - counts[name, True]) / iterations(name))
                print(f"  {name:36} {per_call:>14,} instructions/call", flush=True)
    return {name: round((counts[name, False] - counts[name, True]) / iterations(name)) for name in names}


def compare(results: dict[str, int], baseline: dict[str, object], threshold: float) -> int:
    base_ops: dict[str, dict[str, int]] = baseline["ops"]  # type: ignore[assignment]
    worst = 0
    print(f"\n{'operation':36} {'baseline':>14} {'now':>14} {'change':>8}")
    for name, count in results.items():
        entry = base_ops.get(name)
        if entry is None or entry.get("n") != iterations(name):
            print(f"{name:36} {'(none)':>14} {count:>14,}    new: run --update")
            continue
        change = (count - entry["instructions"]) / entry["instructions"] * 100
        flag = "  REGRESSION" if change > threshold else ("  faster" if change < -threshold else "")
        print(f"{name:36} {entry['instructions']:>14,} {count:>14,} {change:>+7.2f}%{flag}")
        if change > threshold:
            worst += 1
    if worst:
        print(f"\n{worst} operation(s) regressed by more than {threshold}% in instructions per call")
        return 1
    print(f"\nno operation regressed by more than {threshold}%")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--update", action="store_true", help="rewrite benches/baseline.json with this run")
    parser.add_argument("--only", help="a regular expression: measure the matching operations only")
    parser.add_argument("--threshold", type=float, help=f"percent (default: baseline's, else {THRESHOLD_PCT})")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, help="also write this run's counts here (JSON)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    names = [n for n in gated_ops() if not args.only or re.search(args.only, n)]
    env = environment()
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    if not args.update:
        if baseline is None:
            raise SystemExit(f"no {BASELINE.name}: run `python benches/instructions.py --update` first")
        recorded = baseline["environment"]
        if recorded != env:
            diff = {k: (recorded.get(k), v) for k, v in env.items() if recorded.get(k) != v}
            print(f"baseline measured under another environment: {diff}")
            print("counts are not comparable: run `python benches/instructions.py --update` on the CI machine")
            return 1
    started = time.monotonic()
    print(f"callgrind: {len(names)} operations, 2 runs each, {args.jobs} at a time", flush=True)
    results = run_all(names, args.jobs)
    print(f"measured in {time.monotonic() - started:.0f} s")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    if args.update:
        threshold = args.threshold or (baseline or {}).get("threshold_pct", THRESHOLD_PCT)
        old_ops = (baseline or {}).get("ops", {}) if args.only else {}
        data = {
            "about": "instructions per call under callgrind; written by `python benches/instructions.py --update`",
            "threshold_pct": threshold,
            "environment": env,
            "ops": {**old_ops, **{name: {"n": iterations(name), "instructions": n} for name, n in results.items()}},
        }
        BASELINE.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {BASELINE.relative_to(HERE.parent)}")
        return 0
    assert baseline is not None
    return compare(results, baseline, args.threshold or float(baseline.get("threshold_pct", THRESHOLD_PCT)))


if __name__ == "__main__":
    sys.exit(main())
