"""The fleet summary (`edgedoctor.report.fleet.summarize`) as text: terminal, Markdown and JUnit (one
<testsuite> per machine). Every string from a report is made safe to print first: reports come from strangers."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

COLUMNS: List[Tuple[str, str]] = [
    ("machine", "Machine"),
    ("verdict", "Verdict"),
    ("os", "OS"),
    ("arch", "Arch"),
    ("python", "Python"),
    ("tflite", "TFLite"),
    ("runtime_version", "Runtime"),
    ("link", "Link"),
    ("failed_requirements", "Missed requirements"),
    ("causes", "Causes"),
]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: Any) -> str:
    """A value from a report (a stranger's file): no escape sequences reach the terminal, no line breaks."""
    return _CONTROL.sub("", str(text)).replace("\n", " ").replace("\r", " ")


def _md(text: Any) -> str:
    """The same for a Markdown table cell: HTML and table syntax escaped."""
    return (
        clean(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("`", "'")
    )


def _value(row: Dict[str, Any], key: str) -> str:
    value = row.get(key)
    if isinstance(value, list):
        return clean(", ".join(str(v) for v in value)) or "–"
    return "–" if value in (None, "") else clean(value)


def _headline(summary: Dict[str, Any]) -> str:
    unread = len(summary["errors"])
    return f"{summary['machines']} machine{'s' if summary['machines'] != 1 else ''}, {summary['failing']} failing" + (
        f", {unread} file{'s' if unread != 1 else ''} not read" if unread else ""
    )


def render_markdown(summary: Dict[str, Any]) -> str:
    out = [f"## edgedoctor fleet summary: {_headline(summary)}", ""]
    if summary["causes"]:  # the overview first: what goes wrong how often, then each machine
        out += ["| Cause | Machines |", "|---|---|"]
        out += [f"| `{_md(cause)}` | {count} |" for cause, count in summary["causes"].items()]
        out.append("")
    if summary.get("failed_requirements"):
        out += ["| Requirement missed | Machines |", "|---|---|"]
        out += [f"| `{_md(req)}` | {count} |" for req, count in summary["failed_requirements"].items()]
        out.append("")
    out.append("| " + " | ".join(title for _, title in COLUMNS) + " |")
    out.append("|" + "---|" * len(COLUMNS))
    for row in summary["reports"]:
        out.append("| " + " | ".join(_md(_value(row, key)) for key, _ in COLUMNS) + " |")
    for error in summary["errors"]:
        out.append(f"\n- could not read {_md(error['file'])}: {_md(error['error'])}")
    return "\n".join(out) + "\n"


def render_terminal(summary: Dict[str, Any]) -> str:
    out = [_headline(summary), ""]
    if summary["causes"]:  # the overview first: what goes wrong how often, then each machine
        out += ["Causes across the fleet:"]
        out += [f"  {count:4d}  {clean(cause)}" for cause, count in summary["causes"].items()]
        out.append("")
    if summary.get("failed_requirements"):
        out += ["Requirements missed:"]
        out += [f"  {count:4d}  {clean(req)}" for req, count in summary["failed_requirements"].items()]
        out.append("")
    for row in summary["reports"]:
        out.append(f"{'FAIL' if row['failed'] else ' OK '}  {clean(row['machine'])}: {clean(row['verdict'])}")
        out.append(
            f"      {_value(row, 'os')}, {_value(row, 'arch')}, Python {_value(row, 'python')}, "
            f"{_value(row, 'tflite')}, runtime {_value(row, 'runtime_version')}, link {_value(row, 'link')}"
        )
        if row["failed_requirements"]:
            out.append(f"      missed: {_value(row, 'failed_requirements')}")
        if row["causes"]:
            out.append(f"      causes: {_value(row, 'causes')}")
    for error in summary["errors"]:
        out.append(f"could not read {clean(error['file'])}: {clean(error['error'])}")
    return "\n".join(out) + "\n"


def render_junit(summary: Dict[str, Any], reports: Dict[str, Dict[str, Any]]) -> str:
    """One <testsuite> per machine (named by the machine, its findings as test cases, as `check --format junit`
    gives for one), and one suite `unreadable reports` with an errored case per file that could not be read."""
    import xml.etree.ElementTree as ET

    from edgedoctor.render import junit

    suites = ET.Element("testsuites", name="edgedoctor fleet")
    total = {"tests": 0, "failures": 0, "skipped": 0, "ms": 0.0}
    for row in summary["reports"]:
        counts = junit.add_suite(suites, reports[row["file"]], name=clean(row["machine"]))
        for key in total:
            total[key] += counts[key]
    if summary["errors"]:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name="unreadable reports",
            tests=str(len(summary["errors"])),
            failures="0",
            errors=str(len(summary["errors"])),
            skipped="0",
            time="0.000",
        )
        for error in summary["errors"]:
            case = ET.SubElement(
                suite, "testcase", classname="edgedoctor.summarize", name=clean(error["file"]), time="0.000"
            )
            ET.SubElement(case, "error", message="could not read this report", type="unreadable").text = clean(
                error["error"]
            )
        total["tests"] += len(summary["errors"])
    for key in ("tests", "failures", "skipped"):
        suites.set(key, str(total[key]))
    suites.set("errors", str(len(summary["errors"])))
    suites.set("time", f"{total['ms'] / 1000:.3f}")
    return junit.to_text(suites)
