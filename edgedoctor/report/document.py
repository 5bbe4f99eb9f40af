"""The Report: Facts, Findings and Diagnoses in one JSON-serialisable document (schema_version 1), with
its summary and exit code. Renderers only read it."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Iterable, List, Optional

from edgedoctor import __version__, exitcodes
from edgedoctor.report.findings import FAIL, STATUSES, WARN, Finding

SCHEMA_VERSION = 1


def summarize_findings(findings: Iterable[Finding]) -> Dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for finding in findings:
        counts[finding.status] += 1
    return counts


def exit_code(findings: List[Finding], strict: bool = False) -> int:
    if any(f.id.startswith("edgedoctor.") and f.status == FAIL for f in findings):
        return exitcodes.INTERNAL_ERROR
    if any(f.status == FAIL for f in findings):
        return exitcodes.FAILURE
    if strict and any(f.status == WARN for f in findings):
        return exitcodes.FAILURE
    return exitcodes.SUCCESS


def build(
    facts: Dict[str, Any],
    findings: List[Finding],
    diagnoses: List[Dict[str, Any]],
    strict: bool = False,
    created: Optional[str] = None,
) -> Dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "edgedoctor", "version": __version__},
        "created": created
        or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "facts": facts,
        "findings": [f.to_dict() for f in findings],
        "diagnoses": diagnoses,
        "summary": summarize_findings(findings),
        "exit_code": exit_code(findings, strict),
        "strict": strict,
    }


def findings_of(report: Dict[str, Any]) -> List[Finding]:
    return [Finding.from_dict(f) for f in report.get("findings") or []]


def verdict(report: Dict[str, Any]) -> str:
    summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
    fails, warns = summary.get("fail", 0), summary.get("warn", 0)  # type: ignore[union-attr]
    fails = fails if isinstance(fails, int) else 0
    warns = warns if isinstance(warns, int) else 0
    if report.get("exit_code") == exitcodes.INTERNAL_ERROR:
        return "edgedoctor hit an internal error; the report below is partial"
    if fails:
        return f"{fails} problem{'s' if fails != 1 else ''} found" + (
            f", {warns} warning{'s' if warns != 1 else ''}" if warns else ""
        )
    if warns:
        return f"working, with {warns} warning{'s' if warns != 1 else ''}"
    return "no problems found"
