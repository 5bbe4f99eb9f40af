"""Fleet view over many saved reports: per machine the verdict and key versions, per cause code how many
machines have it. Pure over the loaded reports; a malformed report is named, never a traceback."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Tuple

from edgedoctor.reportio import load_report

SCHEMA_VERSION = 1


def find_reports(paths: Iterable[str]) -> List[Path]:
    found: List[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".md") and p.is_file()))
        else:
            found.append(path)
    return found


def machine_row(path: Path, report: Dict[str, Any]) -> Dict[str, Any]:
    from edgedoctor import factview
    from edgedoctor.report import verdict

    obj = factview._obj
    facts = obj(report.get("facts"))
    view = factview.from_facts(facts)
    platform = obj(facts.get("platform"))
    env = obj(facts.get("python_env"))
    tflite = obj(env.get("tflite"))
    findings = [f for f in factview._list(report.get("findings")) if isinstance(f, dict)]
    diagnoses = [d for d in factview._list(report.get("diagnoses")) if isinstance(d, dict)]
    causes = sorted({str(c) for f in findings if f.get("status") in ("fail", "warn")
                     for c in factview._list(f.get("causes"))}
                    | {str(d["cause"]) for d in diagnoses if d.get("cause")})
    tpu = obj(obj(facts.get("inference")).get("tpu"))
    return {
        "file": str(path),
        # A redacted report (the default) has no host name: the file's name is how the lab told them apart.
        "machine": platform.get("hostname") if platform.get("hostname") not in (None, "", "<host>") else path.stem,
        "created": report.get("created"),
        "exit_code": report.get("exit_code"),
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
        "tpu_median_ms": obj(tpu.get("latency_ms")).get("median"),
        "causes": causes,
    }


def summarize(paths: Iterable[str]) -> Dict[str, Any]:
    rows: List[Dict[str, Any]] = []
    errors: List[Dict[str, str]] = []
    for path in find_reports(paths):
        try:
            report = load_report(str(path))
        except ValueError as exc:
            errors.append({"file": str(path), "error": str(exc)})
            continue
        rows.append(machine_row(path, report))
    causes = Counter(cause for row in rows for cause in row["causes"])
    return {
        "schema_version": SCHEMA_VERSION,
        "machines": len(rows),
        "failing": sum(1 for row in rows if row["exit_code"] not in (0, None)),
        "causes": dict(sorted(causes.items(), key=lambda item: (-item[1], item[0]))),
        "reports": rows,
        "errors": errors,
    }


COLUMNS: List[Tuple[str, str]] = [("machine", "Machine"), ("verdict", "Verdict"), ("os", "OS"), ("arch", "Arch"),
                                  ("python", "Python"), ("tflite", "TFLite"), ("runtime_version", "Runtime"),
                                  ("link", "Link"), ("causes", "Causes")]


def _value(row: Dict[str, Any], key: str) -> str:
    value = row.get(key)
    if isinstance(value, list):
        return ", ".join(value) or "–"
    return "–" if value in (None, "") else str(value)


def render_markdown(summary: Dict[str, Any]) -> str:
    out = [f"## edgedoctor fleet summary: {summary['machines']} machines, {summary['failing']} failing", ""]
    if summary["causes"]:  # the overview first: what goes wrong how often, then each machine
        out += ["| Cause | Machines |", "|---|---|"]
        out += [f"| `{cause}` | {count} |" for cause, count in summary["causes"].items()]
        out.append("")
    out.append("| " + " | ".join(title for _, title in COLUMNS) + " |")
    out.append("|" + "---|" * len(COLUMNS))
    for row in summary["reports"]:
        out.append("| " + " | ".join(_value(row, key).replace("|", "\\|") for key, _ in COLUMNS) + " |")
    for error in summary["errors"]:
        out.append(f"\n- could not read {error['file']}: {error['error']}")
    return "\n".join(out) + "\n"


def render_terminal(summary: Dict[str, Any]) -> str:
    out = [f"{summary['machines']} machines, {summary['failing']} failing", ""]
    if summary["causes"]:  # the overview first: what goes wrong how often, then each machine
        out += ["Causes across the fleet:"]
        out += [f"  {count:4d}  {cause}" for cause, count in summary["causes"].items()]
        out.append("")
    for row in summary["reports"]:
        out.append(f"{'FAIL' if row['exit_code'] else ' OK '}  {row['machine']}: {row['verdict']}")
        out.append(f"      {_value(row, 'os')}, {_value(row, 'arch')}, Python {_value(row, 'python')}, "
                   f"{_value(row, 'tflite')}, runtime {_value(row, 'runtime_version')}, link {_value(row, 'link')}")
        if row["causes"]:
            out.append(f"      causes: {', '.join(row['causes'])}")
    for error in summary["errors"]:
        out.append(f"could not read {error['file']}: {error['error']}")
    return "\n".join(out) + "\n"
