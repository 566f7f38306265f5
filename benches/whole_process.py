"""Whole-process wall times of shell commands, interleaved, for ratios measured in one run.

    python benches/whole_process.py N 'ss -ltnup' '.venv/bin/dockspec ports' ...

Each of N rounds runs every command once (the order rotated each round, so
a change in the machine's load touches every command alike), after one
warm-up run each. Prints each command's median and minimum wall time and
their ratios to the first command's. Commands are split with shlex and run
without a shell, stdout and stderr discarded; a failing command stops the run.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import time


def measure(rounds: int, commands: list[str]) -> list[list[float]]:
    argvs = [shlex.split(c) for c in commands]
    for argv in argvs:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times: list[list[float]] = [[] for _ in argvs]
    for i in range(rounds):
        for j in range(len(argvs)):
            k = (i + j) % len(argvs)
            started = time.perf_counter()
            subprocess.run(argvs[k], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[k].append(time.perf_counter() - started)
    return times


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not argv[1].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    commands = argv[2:]
    times = measure(int(argv[1]), commands)
    base_median, base_min = statistics.median(times[0]), min(times[0])
    for command, ts in zip(commands, times, strict=True):
        median = statistics.median(ts)
        print(
            f"median {median * 1e3:7.1f} ms ({median / base_median:5.2f}x)  "
            f"min {min(ts) * 1e3:7.1f} ms ({min(ts) / base_min:5.2f}x)  {command}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
