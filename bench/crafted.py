"""Crafted text against an ordinary log (issue #15): `edgedoctor explain --file` over SIZE of text built from the
slowest matrix entry's own literals (and over the issue's 'gasket apex lockdown' text), beside an ordinary log
of the same size from genlog.py. Measures; asserts nothing. Linear matching means the same order of time.

    python bench/crafted.py                 # 100 MB each
    python bench/crafted.py --size 20M
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

LOCKDOWN = "gasket apex lockdown:  : unsigned module loading is restricted "


def size_of(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def write_repeated(path: Path, unit: str, size: int) -> None:
    block = (unit * ((1 << 20) // max(1, len(unit)) + 1))[: 1 << 20].encode()
    with open(path, "wb") as out:
        written = 0
        while written < size:
            piece = block[: size - written]
            out.write(piece)
            written += len(piece)


def timed(argv, env) -> float:
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - began


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100M")
    args = parser.parse_args(argv)
    size = size_of(args.size)

    import genlog

    from edgedoctor import matrix
    from edgedoctor.matrix import signatures

    table = matrix.load()
    worst = max(matrix.entry_times(table, 1 << 16, screen=False), key=lambda pair: pair[1])[0]
    texts = signatures.crafted_texts([sig.pattern for sig in worst.signatures], 1 << 16)
    slowest = max(texts, key=lambda text: _scan(worst, table, text))
    unit = slowest[: max(1, len(slowest) // 64)]
    env = dict(os.environ, PYTHONPATH=str(REPO), EDGEDOCTOR_NO_MATRIX_CACHE="0")
    ed = [sys.executable, "-m", "edgedoctor", "explain", "--format", "json", "--file"]
    with tempfile.TemporaryDirectory() as work:
        cases = {}
        ordinary = Path(work) / "ordinary.log"
        genlog.generate(ordinary, size)
        cases["ordinary log (genlog.py)"] = ordinary
        crafted = Path(work) / "crafted.log"
        write_repeated(crafted, unit, size)
        cases[f"crafted from entry {worst.id}"] = crafted
        lockdown = Path(work) / "lockdown.log"
        write_repeated(lockdown, LOCKDOWN, size)
        cases["the issue's 'gasket apex lockdown' text (one line)"] = lockdown
        print(f"explain --file, {size / 1e6:.0f} MB each")
        for name, path in cases.items():
            seconds = timed(ed + [str(path)], env)
            print(f"  {name:60} {seconds:7.2f} s  {path.stat().st_size / seconds / 1e6:6.1f} MB/s")
    return 0


def _scan(entry, table, text) -> float:
    from edgedoctor import matrix

    single = matrix.Matrix([entry], [], table.folder)
    began = time.perf_counter()
    single.first_hits([text])
    return time.perf_counter() - began


if __name__ == "__main__":
    raise SystemExit(main())
