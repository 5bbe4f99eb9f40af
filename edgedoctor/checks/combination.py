"""The detected combination (runtime release, TFLite interpreter, pycoral, numpy, Python, platform) judged
against the release table before anything fails: known-good, known-bad (a matrix fact entry), or untested."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from edgedoctor import matrix
from edgedoctor.checks.python_env import for_interpreter
from edgedoctor.facts import factview
from edgedoctor.matrix import releases
from edgedoctor.report.findings import FAIL, INFO, PASS, SKIP, WARN, Finding

VERSION_KEYS = ("tflite_runtime", "tensorflow", "pycoral", "python", "numpy")
# What a combination entry must speak of besides the runtime: the Python stack, or the OS it runs on.
COMBINATION_KEYS = frozenset(matrix.STACK_KEYS) | {"os", "pycoral_identity"}


def row_holds(row: Dict[str, Any], view: Dict[str, Any]) -> Optional[bool]:
    """Whether a `[[release.compatible]]` row describes this machine. pycoral only counts when installed."""
    conditions = {}
    for key in VERSION_KEYS:
        if key in row:
            if key == "pycoral" and view.get("pycoral_identity") != "google":
                continue
            conditions[key] = row[key]
    if "os" in row:
        conditions["os"] = row["os"]
    if "arch" in row:  # the table says arm64 (Apple's word); facts say aarch64
        conditions["arch"] = [factview._arch(a) for a in row["arch"]]
    satisfied, contradicted, unknown = matrix.evaluate(conditions, view)
    if contradicted:
        return False
    if unknown:
        return None
    return True


def describe_row(row: Dict[str, Any]) -> str:
    parts = [f"{key.replace('_', '-')} {row[key]}" for key in VERSION_KEYS if key in row]
    if row.get("os"):
        parts.append("on " + "/".join(row["os"]))
    return ", ".join(parts)


def _combination_text(view: Dict[str, Any], release: Dict[str, Any]) -> str:
    parts = [f"{release.get('name') or release.get('id')} (RuntimeVersion {release.get('runtime_version')})"]
    for key, label in (
        ("tflite_runtime", "tflite_runtime"),
        ("ai_edge_litert", "LiteRT"),
        ("tensorflow", "tensorflow"),
        ("pycoral", "pycoral"),
        ("numpy", "numpy"),
        ("python", "Python"),
    ):
        if view.get(key):
            parts.append(f"{label} {view[key]}")
    if view.get("os"):
        parts.append(view["os"])
    return ", ".join(parts)


def check(facts: Dict[str, Any]) -> List[Finding]:
    runtime = facts.get("runtime") or {}
    view = factview.from_facts(facts)
    if not runtime.get("found"):
        return [Finding("combination.release", SKIP, "Version combination not judged: no Edge TPU runtime found")]
    release = releases.get(runtime.get("release"))
    if release is None:
        return [_unknown_release(runtime)]
    bad = _known_bad_matches(matrix.load(), view)
    text = _combination_text(view, release)
    if bad:
        return [_known_bad(bad[0], text, view, facts)]
    return [_judged_by_release_table(release, view, text)]


def _unknown_release(runtime: Dict[str, Any]) -> Finding:
    return Finding(
        "combination.release",
        INFO,
        "Version combination not judged: the runtime is not a release edgedoctor knows",
        detail=f"build label: {runtime.get('build_label') or 'unknown'}",
        remedy="Run `edgedoctor matrix list` to see the known releases.",
    )


def _known_bad_matches(table: matrix.Matrix, view: Dict[str, Any]) -> List[matrix.Match]:
    """The failing or warning matrix entries that judge this combination, worst first."""
    # Only entries about the runtime together with the Python stack judge the combination (a USB 2 link or a
    # permission is a finding of its own, never the text of this one).
    bad = [
        m
        for m in table.combination_matches(view) + table.fact_matches(view)
        if m.entry.severity in (FAIL, WARN)
        and set(m.entry.when) & matrix.RUNTIME_KEYS
        and set(m.entry.when) & COMBINATION_KEYS
    ]
    bad.sort(key=lambda m: (m.entry.severity != FAIL, -m.confidence))
    return bad


def _known_bad(worst: matrix.Match, text: str, view: Dict[str, Any], facts: Dict[str, Any]) -> Finding:
    """The heading names the worst entry, and the text and remedy are its own."""
    return Finding(
        "combination.release",
        worst.entry.severity,
        f"Known-bad combination: {worst.entry.title}",
        detail=f"{text}. {worst.entry.shown_explanation} (matrix entry {worst.entry.id})",
        remedy=for_interpreter(worst.entry.remedy_for(view.get("os")), facts),
        causes=[worst.entry.cause],
    )


def _judged_by_release_table(release: Dict[str, Any], view: Dict[str, Any], text: str) -> Finding:
    """Known-good when a `compatible` row of the release describes this machine, else untested."""
    rows = release.get("compatible") or []
    verdicts = [(row_holds(row, view), row) for row in rows]
    good = [row for verdict, row in verdicts if verdict]
    if good:
        return Finding(
            "combination.release",
            PASS,
            f"Known-good combination: {text}",
            detail="Listed in the release table: " + describe_row(good[0]),
        )
    known = "\n".join(f"- {describe_row(row)}" for row in rows) or "(none recorded)"
    return Finding(
        "combination.release",
        WARN,
        f"Untested combination: {text}",
        detail="No known-good or known-bad record matches this combination; it may work. If it fails, "
        "the combinations known to work with this runtime are the safest change.",
        remedy=f"Known-good with {release.get('name') or release.get('id')}:\n{known}",
    )
