#!/usr/bin/env python3
"""How long `edgedoctor summarize` takes over a fleet: N copies of a real `check --format json` report (or of
the scenario reports when none is given), each saved as .json and .md as the README's CI recipe writes them.
Measures the whole command (interpreter start included) for each output format; asserts nothing.

    python3 bench/summarize_fleet.py [--machines 300] [--report REPORT.json]
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=300)
    parser.add_argument("--report", help="a saved JSON report to copy (default: the test scenarios, judged)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from edgedoctor.diagnosis.judge import judge
    from edgedoctor.render import render

    if args.report:
        reports = [json.loads(Path(args.report).read_text())]
    else:
        reports = [
            judge(json.loads(p.read_text())["facts"])
            for p in sorted((REPO / "tests" / "fixtures" / "scenarios").glob("*.json"))
        ]
    folder = Path(tempfile.mkdtemp(prefix="edgedoctor-fleet-"))
    try:
        for number in range(args.machines):
            report = reports[number % len(reports)]
            (folder / f"pi-{number:04d}.json").write_text(json.dumps(report))
            (folder / f"pi-{number:04d}.md").write_text(render(report, "markdown"))
        size = sum(p.stat().st_size for p in folder.glob("*.json")) / args.machines / 1024
        print(f"{args.machines} machines (.json {size:.0f} KB each, and .md)")
        for fmt in ("terminal", "markdown", "json", "junit"):
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "edgedoctor", "summarize", str(folder), "--format", fmt],
                    stdout=subprocess.DEVNULL,
                    cwd=str(REPO),
                )
                times.append(time.perf_counter() - start)
            print(f"  {fmt:9s} best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
