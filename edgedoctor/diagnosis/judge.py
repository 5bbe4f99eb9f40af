"""From Facts to a judged Report: run the checks, the matcher and the requirements. Pure (no I/O), so
`check`, `diagnose REPORT.json` and the tests share it."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from edgedoctor.checks import run_checks
from edgedoctor.diagnosis import diagnose
from edgedoctor.report import document as report
from edgedoctor.report.findings import Finding


def judge(
    facts: Dict[str, Any],
    strict: bool = False,
    requirements: Sequence[str] = (),
    created: Optional[str] = None,
    with_plan: bool = True,
) -> Dict[str, Any]:
    findings: List[Finding] = run_checks(facts)
    diagnoses = diagnose.diagnose(facts)
    findings.extend(_from_diagnoses(findings, diagnoses))
    _one_verdict_per_cause(findings)
    if requirements:
        from edgedoctor.diagnosis import requirements as req

        findings.extend(req.evaluate(requirements, facts, findings))
    built = report.build(facts, findings, diagnoses, strict=strict, created=created)
    if with_plan:
        built["plan"] = _plan(facts, built["findings"])
        _runtime_remedies_follow_the_plan(built)
        built["exit_code"] = built.pop("exit_code")  # the contract's order: exit_code last
    return built


def _plan(facts: Dict[str, Any], findings: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The plan for this machine; a bug in the planner must not take the report with it."""
    from edgedoctor.diagnosis import plan

    try:
        return plan.build(facts, lambda changed: judge(changed, with_plan=False)["findings"], findings)
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
        extra.append(
            Finding(
                f"combination.{diagnosis['entry']}",
                diagnosis.get("severity") or "warn",
                diagnosis["title"],
                detail=diagnosis.get("explanation") or "",
                remedy=diagnosis["remedy"],
                causes=[diagnosis["cause"]],
            )
        )
    return extra


# Areas whose failures stand on their own even when their cause failed elsewhere: requirements a lab set, and
# edgedoctor's own bugs.
OWN_VERDICT = ("require", "edgedoctor")
SYMPTOMS = ("models",)


def _one_verdict_per_cause(findings: List[Finding]) -> None:
    """One cause, one failing finding: the first failure that names a cause keeps it; a later failure whose
    causes all failed above refers to that finding instead of failing again (and gives no second remedy)."""
    first: Dict[str, Finding] = {}
    # A cause is held by the finding about the thing that is wrong (stack, runtime, combination, device),
    # before the symptom it produces (a model run).
    ranked = sorted(range(len(findings)), key=lambda i: (findings[i].area in SYMPTOMS, i))
    for finding in (findings[i] for i in ranked):
        if finding.status != "fail" or finding.area in OWN_VERDICT:
            continue
        owners = [first.get(cause) for cause in finding.causes]
        if finding.causes and all(owner is not None and owner is not finding for owner in owners):
            owner = owners[0]
            finding.status = "info"
            finding.title += f" (same cause as {owner.id})"  # type: ignore[union-attr]
            finding.detail = f"Same cause as {owner.id} ({owner.title}); its remedy applies." + (  # type: ignore[union-attr]
                f"\n{finding.detail}" if finding.detail else ""
            )
            finding.remedy = ""
            continue
        for cause in finding.causes:
            first.setdefault(cause, finding)


def _runtime_remedies_follow_the_plan(built: Dict[str, Any]) -> None:
    """A runtime finding the plan fixes gets the plan's runtime step as its remedy: the runtime to install is
    the one that fits this interpreter (installing Google's runtime under tflite_runtime 2.14 would lead
    straight into a known-bad combination)."""
    steps = (built.get("plan") or {}).get("steps") or []
    for number, step in enumerate(steps, 1):
        if not any(key.startswith("runtime_") for key in step.get("changes") or {}):
            continue
        for finding in built["findings"]:
            # A build this CPU cannot run (wheel-mismatch, SIGILL) keeps its own remedy: another build of the
            # runtime is no answer for a processor that lacks the instructions.
            if (
                finding["id"] in step.get("fixes", [])
                and finding["id"].startswith("runtime.")
                and "wheel-mismatch" not in (finding.get("causes") or [])
            ):
                finding["remedy"] = "\n".join(
                    [f"# step {number} of Next steps: {step['title']}"] + list(step.get("commands") or [])
                )
