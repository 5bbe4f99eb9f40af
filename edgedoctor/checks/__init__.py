"""Checks: pure functions of Facts that return Findings. None of them reads the machine.

Each module of this package has `check(facts) -> list[Finding]`; `run_checks` runs them in report order.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Dict, List, Optional

from edgedoctor.report.findings import FAIL, Finding

# Report order. A module that is not there yet is skipped.
CHECK_MODULES = ("platform", "python_env", "device", "container", "runtime", "inference", "combination")


def matched_entry(text: Optional[str], facts: Dict[str, Any]):
    """The best matrix entry (a `matrix.Match`) for a captured error text, or None. Causes of captured texts
    come from the matrix, so that knowledge lives in data; a matrix that fails to load must not hide the
    finding it would have named."""
    if not text or not text.strip():
        return None
    try:
        from edgedoctor import matrix
        from edgedoctor.facts import factview

        found = matrix.load().match(text, factview.from_facts(facts), limit=1)
    except Exception:  # noqa: BLE001
        return None
    return found[0] if found else None


def run_checks(facts: Dict[str, Any]) -> List[Finding]:
    findings: List[Finding] = []
    for name in CHECK_MODULES:
        try:
            module = importlib.import_module(f"edgedoctor.checks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"edgedoctor.checks.{name}":
                continue
            raise
        start = time.perf_counter()
        try:
            produced = module.check(facts)
        except Exception as exc:  # a check's own bug must not hide the others
            produced = [
                Finding(
                    f"edgedoctor.check-{name}",
                    FAIL,
                    f"edgedoctor's {name} check failed",
                    detail=f"{type(exc).__name__}: {exc}",
                    remedy="This is a bug in edgedoctor; please report it with this report attached.",
                )
            ]
        elapsed = (time.perf_counter() - start) * 1000
        for finding in produced:
            if finding.duration_ms is None:
                finding.duration_ms = round(elapsed / max(len(produced), 1), 3)
        findings.extend(produced)
    return findings
