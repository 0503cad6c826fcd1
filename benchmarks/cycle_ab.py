"""The cycle benchmark for this tree and a baseline tree, run alternately, with the ratio of each phase.

On a shared machine two runs of the same code minutes apart differ by 10-20% (the pull alone by a quarter),
more than most changes. Alternating the two trees, the order flipped each round, lets the drift hit both
alike; the medians and their ratios are what to quote.

    .venv/bin/python -m benchmarks.cycle_ab --baseline /tmp/base [--rounds 2] [--crm salesforce]
        [--leads 100000] [--cache /tmp/cb/cache]

`--baseline` is another checkout of leadq (e.g. `git worktree add /tmp/base HEAD~1`, or `git archive`
unpacked). Each run is `python -m benchmarks.cycle --quick` in that tree (its own code, this interpreter)
on the same cached org; the figures are read from the full cycle's line each run prints, which every
version since session 12 writes the same way. Prints a table per CRM (median seconds and the ratio this /
baseline for the whole cycle and each phase), then one JSON line:
{"full_s": ..., "baseline_full_s": ..., "ratio": ..., "phases": {phase: [this, baseline, ratio]}, "runs": N}
(medians of the first CRM's full cycle).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parents[1]
# "  salesforce: 108.4 s, pulled 784,035, ... (write 24.3 pull 29.2 ...; gc 3.6; peak RSS 1,535 MB)"
_LINE = re.compile(r"^\s+(?P<crm>\w+): (?P<seconds>[\d.]+) s, pulled [\d,]+,.*\((?P<phases>[^;]*);")

Figures = dict[str, float]  # "total" and each phase, in seconds


def full_cycles(output: str) -> dict[str, Figures]:
    """The full cycle's figures per CRM from a cycle benchmark's output: the first line of each CRM."""
    found: dict[str, Figures] = {}
    for line in output.splitlines():
        match = _LINE.match(line)
        if match is None or match["crm"] in found:
            continue
        words = match["phases"].split()
        figures = {name: float(value) for name, value in zip(words[::2], words[1::2], strict=True)}
        found[match["crm"]] = {"total": float(match["seconds"]), **figures}
    return found


def _run(tree: Path, args: argparse.Namespace, console: Console) -> dict[str, Figures]:
    command = [sys.executable, "-m", "benchmarks.cycle", "--quick", "--leads", str(args.leads)]
    command += ["--crm", args.crm] if args.crm else []
    command += ["--cache", args.cache] if args.cache else []
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    found = full_cycles(done.stderr + done.stdout)
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SystemExit(
            f"the cycle benchmark in {tree} failed (exit {done.returncode}): " + " | ".join(tail)
        )
    for crm, figures in found.items():
        console.print(f"  {tree}: {crm} {figures['total']:.1f} s")
    return found


def _median(runs: list[dict[str, Figures]], crm: str, name: str) -> float | None:
    values = [run[crm][name] for run in runs if crm in run and name in run[crm]]
    return round(statistics.median(values), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", required=True, help="another checkout of leadq to compare with")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tree (alternating)")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--crm", help="one CRM only (salesforce or hubspot)")
    parser.add_argument("--cache", help="seeded orgs, shared by both trees (see benchmarks.cycle)")
    args = parser.parse_args()
    console = Console(stderr=True)
    baseline = Path(args.baseline).resolve()
    if not (baseline / "benchmarks" / "cycle.py").exists():
        raise SystemExit(f"{baseline} is not a leadq checkout (no benchmarks/cycle.py)")
    runs: dict[str, list[dict[str, Figures]]] = {"this": [], "baseline": []}
    for n in range(args.rounds):
        order = [("this", HERE), ("baseline", baseline)]
        for name, tree in order if n % 2 == 0 else order[::-1]:
            runs[name].append(_run(tree, args, console))
    crms = list(dict.fromkeys(crm for run in runs["this"] for crm in run))
    summary: dict[str, object] = {}
    for crm in crms:
        names = list(dict.fromkeys(p for run in runs["this"] + runs["baseline"] for p in run.get(crm, {})))
        table = Table(title=f"{crm}: full cycle, medians of {args.rounds} alternating runs each")
        for column in ("", "this (s)", "baseline (s)", "this / baseline"):
            table.add_column(column, justify="right")
        phases: dict[str, list[float | None]] = {}
        for name in names:
            mine, theirs = _median(runs["this"], crm, name), _median(runs["baseline"], crm, name)
            ratio = round(mine / theirs, 3) if mine is not None and theirs else None
            phases[name] = [mine, theirs, ratio]
            table.add_row(name, _cell(mine), _cell(theirs), "" if ratio is None else f"{ratio:.3f}")
        console.print(table)
        if not summary:
            total = phases.pop("total")
            summary = {"full_s": total[0], "baseline_full_s": total[1], "ratio": total[2], "phases": phases,
                       "runs": args.rounds}  # fmt: skip
    print(json.dumps(summary))


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
