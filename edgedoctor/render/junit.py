"""JUnit XML: one testcase per finding (classname the area, name the finding id); failures carry the detail
and remedy; skips are skipped. Readable by GitHub Actions, GitLab and Jenkins JUnit readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Dict

from edgedoctor.render import safetext
from edgedoctor.report import findings_of


def _text(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def render(report: Dict[str, Any], **_: Any) -> str:
    report = safetext.deep(report, safetext.xml)  # a control character in a captured text breaks the XML
    findings = findings_of(report)
    strict = bool(report.get("strict"))
    failing = [f for f in findings if f.status == "fail" or (strict and f.status == "warn")]
    skipped = [f for f in findings if f.status == "skip"]
    total_ms = sum(f.duration_ms or 0 for f in findings)
    suites = ET.Element("testsuites", name="edgedoctor", tests=str(len(findings)), failures=str(len(failing)),
                        errors="0", skipped=str(len(skipped)), time=f"{total_ms / 1000:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="edgedoctor check", tests=str(len(findings)),
                          failures=str(len(failing)), errors="0", skipped=str(len(skipped)),
                          time=f"{total_ms / 1000:.3f}", timestamp=str(report.get("created", "")).rstrip("Z"),
                          hostname=str(((report.get("facts") or {}).get("platform") or {}).get("hostname") or "-"))
    props = ET.SubElement(suite, "properties")
    tool = report.get("tool") or {}
    ET.SubElement(props, "property", name="edgedoctor.version", value=str(tool.get("version", "")))
    ET.SubElement(props, "property", name="exit_code", value=str(report.get("exit_code")))
    for finding in findings:
        case = ET.SubElement(suite, "testcase", classname=f"edgedoctor.{finding.area}", name=finding.id,
                             time=f"{(finding.duration_ms or 0) / 1000:.3f}")
        body = _text(finding.detail, f"cause: {', '.join(finding.causes)}" if finding.causes else "",
                     f"remedy:\n{finding.remedy}" if finding.remedy else "")
        if finding in failing:
            failure = ET.SubElement(case, "failure", message=finding.title,
                                    type=(finding.causes[0] if finding.causes else finding.status))
            failure.text = body
        elif finding.status == "skip":
            ET.SubElement(case, "skipped", message=_text(finding.title, finding.detail))
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _text(f"[{finding.status}] {finding.title}", body if finding.status == "warn" else "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
