"""Fleet view over many saved reports: per cause code how many machines have it, then per machine the verdict,
key versions and the requirements it missed. Pure over the loaded reports; a malformed report is named, never
a traceback, and never hides the rest of the fleet.

One machine is one report, whatever formats it was saved in: `lab-07.json` and `lab-07.md` in one folder (the
README's CI recipe writes both) count once, read from the JSON. A folder that cannot be read is named among
the errors, not skipped.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from edgedoctor.report.reading import load_report

SCHEMA_VERSION = 1

# The formats a saved report is read from, the preferred one first (.xml JUnit carries no facts).
READ_ORDER = (".json", ".md", ".markdown")


class MissingPath(ValueError):
    """A path named on the command line does not exist: a usage error, not an unreadable report."""


def _walk(folder: Path, errors: List[Dict[str, str]]) -> List[Path]:
    found: List[Path] = []

    def failed(exc: OSError) -> None:  # os.walk would skip an unreadable folder silently
        errors.append({"file": str(exc.filename or folder), "error": f"cannot read this folder: {exc.strerror or exc}"})

    for top, dirs, files in os.walk(folder, onerror=failed):
        dirs.sort()
        found.extend(Path(top) / name for name in sorted(files) if Path(name).suffix.lower() in READ_ORDER)
    return found


def find_reports(paths: Iterable[str], errors: Optional[List[Dict[str, str]]] = None) -> List[List[Path]]:
    """Each machine's report files, grouped by folder and file stem, in READ_ORDER. Raises MissingPath for a
    path that does not exist; unreadable folders go into `errors`."""
    errors = [] if errors is None else errors
    groups: Dict[Tuple[str, str], List[Path]] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = _walk(path, errors)
        elif path.exists() or path.is_symlink():
            files = [path]
        else:
            raise MissingPath(f"{raw}: no such file or folder")
        for file in files:
            group = groups.setdefault((str(file.parent), file.stem), [])
            if file not in group:
                group.append(file)
    rank = {suffix: n for n, suffix in enumerate(READ_ORDER)}
    return [sorted(group, key=lambda p: rank.get(p.suffix.lower(), len(rank))) for group in groups.values()]


def _failed_requirements(findings: List[Dict[str, Any]]) -> List[str]:
    return [
        str(f.get("id"))[len("require.") :]
        for f in findings
        if str(f.get("id", "")).startswith("require.") and f.get("status") == "fail"
    ]


def machine_row(path: Path, report: Dict[str, Any]) -> Dict[str, Any]:
    from edgedoctor.facts import factview
    from edgedoctor.report.document import verdict

    obj = factview._obj
    facts = obj(report.get("facts"))
    view = factview.from_facts(facts)
    platform = obj(facts.get("platform"))
    env = obj(facts.get("python_env"))
    tflite = obj(env.get("tflite"))
    findings = [f for f in factview._list(report.get("findings")) if isinstance(f, dict)]
    diagnoses = [d for d in factview._list(report.get("diagnoses")) if isinstance(d, dict)]
    causes = sorted(
        {str(c) for f in findings if f.get("status") in ("fail", "warn") for c in factview._list(f.get("causes"))}
        | {str(d["cause"]) for d in diagnoses if d.get("cause")}
    )
    tpu = obj(obj(obj(facts.get("inference")).get("tpu")).get("latency_ms"))
    hostname = platform.get("hostname")
    exit_code = report.get("exit_code")
    return {
        "file": str(path),
        # A redacted report (the default) has no host name: the file's name is how the lab told them apart.
        "machine": str(hostname) if hostname not in (None, "", "<host>") else path.stem,
        "named_by": "hostname" if hostname not in (None, "", "<host>") else "file",
        "created": report.get("created"),
        "exit_code": exit_code,
        "failed": exit_code not in (0, None),
        "failed_requirements": _failed_requirements(findings),
        "verdict": verdict(report),
        "summary": report.get("summary"),
        "os": platform.get("pretty_name") or view.get("os"),
        "arch": view.get("arch"),
        "python": view.get("python"),
        "tflite": f"{tflite.get('module')} {tflite.get('version')}" if tflite.get("module") else None,
        "numpy": view.get("numpy"),
        "pycoral": view.get("pycoral") or view.get("pycoral_identity"),
        "runtime_version": view.get("runtime_version"),
        "runtime_release": view.get("runtime_release"),
        "device": view.get("device"),
        "link": view.get("link"),
        "tpu_median_ms": tpu.get("median"),
        "causes": causes,
    }


def _load(group: List[Path], errors: List[Dict[str, str]]) -> Optional[Tuple[Path, Dict[str, Any]]]:
    """The first of a machine's files that reads as a report; each one that does not is named."""
    for path in group:
        try:
            return path, load_report(str(path))
        except (ValueError, OSError, RecursionError, MemoryError, UnicodeError) as exc:
            errors.append({"file": str(path), "error": str(exc) or type(exc).__name__})
    return None


def _tell_apart(rows: List[Dict[str, Any]], bases: List[Path]) -> None:
    """Machines named by their files' stems that collide (`runner-1/edgedoctor.json`, `runner-2/edgedoctor.json`,
    as CI artifacts download) are named by their path under the folder given instead."""
    counts = Counter(row["machine"] for row in rows)
    for row in rows:
        if row["named_by"] != "file" or counts[row["machine"]] < 2:
            continue
        path = Path(row["file"])
        for base in bases:
            try:
                row["machine"] = path.relative_to(base).with_suffix("").as_posix()
                break
            except ValueError:
                continue
        else:
            row["machine"] = path.with_suffix("").as_posix()


def summarize(paths: Iterable[str], keep: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Raises MissingPath when a named path does not exist (nothing else is raised for a bad file). `keep`, when
    given, receives each summarised report by its file (for the JUnit form, which shows every finding)."""
    paths = list(paths)
    rows: List[Dict[str, Any]] = []
    errors: List[Dict[str, str]] = []
    for group in find_reports(paths, errors):
        loaded = _load(group, errors)
        if loaded is None:
            continue
        path, report = loaded
        try:
            rows.append(machine_row(path, report))
            if keep is not None:
                keep[str(path)] = report
        except Exception as exc:  # a report shaped in a way not foreseen: named, and the fleet goes on
            errors.append({"file": str(path), "error": f"cannot summarise it: {type(exc).__name__}: {exc}"})
    _tell_apart(rows, [Path(p) for p in paths if Path(p).is_dir()])
    rows.sort(key=lambda row: (row["machine"], row["file"]))
    causes = Counter(cause for row in rows for cause in row["causes"])
    failed_requirements = Counter(req for row in rows for req in row["failed_requirements"])
    return {
        "schema_version": SCHEMA_VERSION,
        "machines": len(rows),
        "failing": sum(1 for row in rows if row["failed"]),
        "causes": dict(sorted(causes.items(), key=lambda item: (-item[1], item[0]))),
        "failed_requirements": dict(sorted(failed_requirements.items(), key=lambda item: (-item[1], item[0]))),
        "reports": rows,
        "errors": errors,
    }


def exit_code(summary: Dict[str, Any]) -> int:
    """0 when every machine met its requirements (no failure in its report) and every file was read; 1 when a
    machine failed or a report could not be read (a lab does not know that machine's state)."""
    from edgedoctor import exitcodes

    return exitcodes.FAILURE if summary["failing"] or summary["errors"] else exitcodes.SUCCESS
