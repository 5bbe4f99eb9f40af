"""JUnit XML: one testcase per finding (classname the area, name the finding id); failures carry the detail
and remedy; skips are skipped. Readable by GitHub Actions, GitLab and Jenkins JUnit readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Dict

from edgedoctor.report.document import findings_of
from edgedoctor.util import safetext


def _text(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def add_suite(parent: ET.Element, report: Dict[str, Any], name: str = "edgedoctor check") -> Dict[str, float]:
    """One <testsuite> for one report (one machine) under `parent`; returns its counts for the enclosing
    <testsuites>. `edgedoctor summarize --format junit` adds one per machine of a fleet."""
    report = safetext.deep(report, safetext.xml)  # a control character in a captured text breaks the XML
    findings = findings_of(report)
    strict = bool(report.get("strict"))
    failing = [f for f in findings if f.status == "fail" or (strict and f.status == "warn")]
    skipped = [f for f in findings if f.status == "skip"]
    total_ms = sum(f.duration_ms or 0 for f in findings)
    facts = report.get("facts") if isinstance(report.get("facts"), dict) else {}
    platform = facts.get("platform") if isinstance(facts.get("platform"), dict) else {}  # type: ignore[union-attr]
    suite = ET.SubElement(
        parent,
        "testsuite",
        name=name,
        tests=str(len(findings)),
        failures=str(len(failing)),
        errors="0",
        skipped=str(len(skipped)),
        time=f"{total_ms / 1000:.3f}",
        timestamp=str(report.get("created", "")).rstrip("Z"),
        hostname=str(platform.get("hostname") or "-"),  # type: ignore[union-attr]
    )
    props = ET.SubElement(suite, "properties")
    tool = report.get("tool") if isinstance(report.get("tool"), dict) else {}
    ET.SubElement(props, "property", name="edgedoctor.version", value=str(tool.get("version", "")))  # type: ignore[union-attr]
    ET.SubElement(props, "property", name="exit_code", value=str(report.get("exit_code")))
    for finding in findings:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"edgedoctor.{finding.area}",
            name=finding.id,
            time=f"{(finding.duration_ms or 0) / 1000:.3f}",
        )
        body = _text(
            finding.detail,
            f"cause: {', '.join(finding.causes)}" if finding.causes else "",
            f"remedy:\n{finding.remedy}" if finding.remedy else "",
        )
        if finding in failing:
            failure = ET.SubElement(
                case, "failure", message=finding.title, type=(finding.causes[0] if finding.causes else finding.status)
            )
            failure.text = body
        elif finding.status == "skip":
            ET.SubElement(case, "skipped", message=_text(finding.title, finding.detail))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _text(f"[{finding.status}] {finding.title}", body if finding.status == "warn" else "")
    return {"tests": len(findings), "failures": len(failing), "skipped": len(skipped), "ms": total_ms}


def _xml_safe(element: ET.Element) -> None:
    """Characters XML 1.0 forbids (a captured text or a report from elsewhere may hold them) are dropped, so the
    document stays well-formed for every JUnit reader."""
    for node in element.iter():
        for key, value in node.attrib.items():
            node.set(key, safetext.xml(value))
        if node.text:
            node.text = safetext.xml(node.text)


def to_text(suites: ET.Element) -> str:
    _xml_safe(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(report: Dict[str, Any], **_: Any) -> str:
    suites = ET.Element("testsuites", name="edgedoctor")
    counts = add_suite(suites, report)
    suites.set("tests", str(counts["tests"]))
    suites.set("failures", str(counts["failures"]))
    suites.set("errors", "0")
    suites.set("skipped", str(counts["skipped"]))
    suites.set("time", f"{counts['ms'] / 1000:.3f}")
    return to_text(suites)
