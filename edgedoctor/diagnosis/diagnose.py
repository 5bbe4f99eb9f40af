"""Diagnoses: every captured error text in Facts through the matrix, plus the fact entries that judge the
detected version combination. Pure: Facts in, diagnoses out (so a saved report can be re-judged)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from edgedoctor import matrix
from edgedoctor.facts import factview

TEXT_KEYS = ("error", "stderr", "traceback")


def captured_texts(facts: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """(where, text) for every error text, stderr and traceback the probes kept. edgedoctor's own sentences are
    not captured texts: the reason a step was skipped (`"status": "skip"`) and an error that edgedoctor wrote
    itself (`"error_source": "edgedoctor"`) never reach the matcher, so edgedoctor does not diagnose itself."""
    if isinstance(facts, dict):
        own = facts.get("status") == "skip" or facts.get("error_source") == "edgedoctor"
        for key, value in facts.items():
            if own and key == "error":
                continue
            where = f"{path}.{key}" if path else str(key)
            if key in TEXT_KEYS and isinstance(value, str) and value.strip():
                yield where, value
            elif isinstance(value, (dict, list)):
                yield from captured_texts(value, where)
    elif isinstance(facts, list):
        for index, value in enumerate(facts):
            yield from captured_texts(value, f"{path}[{index}]")


def diagnose(facts: Dict[str, Any], table: Optional["matrix.Matrix"] = None) -> List[Dict[str, Any]]:
    table = table or matrix.load()
    view = factview.from_facts(facts)
    os_name = view.get("os")
    best: Dict[str, Dict[str, Any]] = {}
    for where, text in captured_texts(facts):
        for found in table.match(text, view, limit=1):
            entry = found.to_dict(os_name)
            entry["evidence"] = [f"text at facts.{where}"] + entry["evidence"]
            previous = best.get(entry["entry"])
            if previous is None or entry["confidence"] > previous["confidence"]:
                best[entry["entry"]] = entry
    for found in table.fact_matches(view):
        entry = found.to_dict(os_name)
        entry["evidence"] = ["facts: " + "; ".join(entry["evidence"])]
        if entry["entry"] not in best:
            best[entry["entry"]] = entry
    return sorted(best.values(), key=lambda d: d["confidence"], reverse=True)
