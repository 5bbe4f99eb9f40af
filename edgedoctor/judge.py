"""From Facts to a judged Report: run the checks, the matcher and the requirements. Pure (no I/O), so
`check`, `diagnose REPORT.json` and the tests share it."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from edgedoctor import diagnose, report
from edgedoctor.checks import run_checks
from edgedoctor.findings import Finding


def judge(facts: Dict[str, Any], strict: bool = False, requirements: Sequence[str] = (),
          created: Optional[str] = None, with_plan: bool = True) -> Dict[str, Any]:
    findings: List[Finding] = run_checks(facts)
    diagnoses = diagnose.diagnose(facts)
    findings.extend(_from_diagnoses(findings, diagnoses))
    if requirements:
        from edgedoctor import requirements as req

        findings.extend(req.evaluate(requirements, facts, findings))
    built = report.build(facts, findings, diagnoses, strict=strict, created=created)
    if with_plan:
        built["plan"] = _plan(facts, built["findings"])
        built["exit_code"] = built.pop("exit_code")  # the contract's order: exit_code last
    return built


def _plan(facts: Dict[str, Any], findings: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The plan for this machine; a bug in the planner must not take the report with it."""
    from edgedoctor import plan

    try:
        return plan.build(facts, findings)
    except Exception as exc:  # noqa: BLE001
        return {"target": {}, "steps": [], "notes": [f"edgedoctor could not make a plan: {type(exc).__name__}: {exc}"]}


def _from_diagnoses(findings: List[Finding], diagnoses: List[Dict[str, Any]]) -> List[Finding]:
    """Fact entries that judge the version combination become findings of their own, unless a check already
    named the same cause."""
    named = {cause for f in findings for cause in f.causes}
    extra = []
    for diagnosis in diagnoses:
        if not diagnosis["evidence"] or not diagnosis["evidence"][0].startswith("facts:"):
            continue
        if diagnosis["cause"] in named:
            continue
        named.add(diagnosis["cause"])
        extra.append(Finding(f"combination.{diagnosis['entry']}", diagnosis.get("severity") or "warn",
                             diagnosis["title"], detail=diagnosis.get("explanation") or "",
                             remedy=diagnosis["remedy"], causes=[diagnosis["cause"]]))
    return extra
