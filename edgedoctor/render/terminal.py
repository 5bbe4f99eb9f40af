"""The terminal report: grouped by area, one line per finding with a status mark, cause and remedy under
every warning or failure, diagnoses, and a summary line. Colour and symbols only on a real terminal; plain
text when piped, with NO_COLOR, or in CI."""

from __future__ import annotations

import io
import os
import sys
from typing import Any, Dict, List, Optional

from edgedoctor.findings import AREAS, Finding
from edgedoctor.render import safetext
from edgedoctor.report import findings_of, verdict

MARKS_FANCY = {"pass": ("✔", "green"), "warn": ("⚠", "yellow"), "fail": ("✘", "bold red"), "skip": ("○", "dim"),
               "info": ("ℹ", "cyan")}
MARKS_PLAIN = {"pass": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]", "skip": "[SKIP]", "info": "[INFO]"}


def use_fancy(stream=None, env=None) -> bool:
    env = os.environ if env is None else env
    stream = stream or sys.stdout
    if env.get("NO_COLOR") or env.get("CI") or env.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def covered_causes(findings: List[Finding]) -> set:
    """Causes that a warning or failure above already explains with its remedy."""
    return {cause for f in findings if f.status in ("warn", "fail") for cause in f.causes}


def _grouped(findings: List[Finding]):
    order = list(AREAS)
    groups: Dict[str, List[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.area, []).append(finding)
    return sorted(groups.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def render(report: Dict[str, Any], fancy: Optional[bool] = None, width: int = 100, **_: Any) -> str:
    fancy = use_fancy() if fancy is None else fancy
    report = safetext.deep(report, safetext.terminal)  # no escape sequence from a report reaches the terminal
    findings = findings_of(report)
    if fancy:
        return _render_rich(report, findings, width)
    return _render_plain(report, findings)


def _indent(text: str, prefix: str) -> List[str]:
    return [prefix + line for line in text.strip().splitlines()]


def _render_plain(report: Dict[str, Any], findings: List[Finding]) -> str:
    tool = report.get("tool") or {}
    out = [f"edgedoctor {tool.get('version', '')} report ({report.get('created', '')})", ""]
    for area, items in _grouped(findings):
        out.append(AREAS.get(area, area))
        for finding in items:
            out.append(f"  {MARKS_PLAIN[finding.status]} {finding.title}")
            if finding.status in ("warn", "fail"):
                if finding.detail:
                    out.extend(_indent(finding.detail, "         "))
                if finding.causes:
                    out.append(f"         cause: {', '.join(finding.causes)}")
                if finding.remedy:
                    out.append("         remedy:")
                    out.extend(_indent(finding.remedy, "           "))
            elif finding.status == "skip" and finding.detail:
                out.extend(_indent(finding.detail, "         "))
        out.append("")
    diagnoses = report.get("diagnoses") or []
    covered = covered_causes(findings)
    if diagnoses:
        out.append("Known causes (from the compatibility matrix)")
        for diagnosis in diagnoses:
            out.append(f"  - {diagnosis['title']} [{diagnosis['cause']}, {diagnosis['entry']}, "
                       f"confidence {diagnosis['confidence']:.2f}]")
            if diagnosis.get("matched_text"):
                out.append(f"      matched: {diagnosis['matched_text']}")
            if diagnosis["cause"] not in covered:  # otherwise the finding above already gives the remedy
                out.append("      remedy:")
                out.extend(_indent(diagnosis.get("remedy") or "", "        "))
            for ref in diagnosis.get("references") or []:
                out.append(f"      see: {ref}")
        out.append("")
    out.append(_summary_line(report))
    return "\n".join(out) + "\n"


def _summary_line(report: Dict[str, Any]) -> str:
    summary = report.get("summary") or {}
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("pass", "warn", "fail", "skip", "info"))
    return f"Summary: {verdict(report)} ({counts}); exit code {report.get('exit_code')}"


def _render_rich(report: Dict[str, Any], findings: List[Finding], width: int) -> str:
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width, highlight=False, soft_wrap=False)
    tool = report.get("tool") or {}
    console.print(Text(f"edgedoctor {tool.get('version', '')}", style="bold"), Text(f" {report.get('created', '')}",
                                                                                    style="dim"))
    for area, items in _grouped(findings):
        console.print()
        console.print(Text(AREAS.get(area, area), style="bold underline"))
        for finding in items:
            mark, style = MARKS_FANCY[finding.status]
            line = Text(f"  {mark} ", style=style)
            line.append(finding.title, style="bold" if finding.status == "fail" else "")
            console.print(line)
            if finding.status in ("warn", "fail"):
                if finding.detail:
                    console.print(Text("\n".join(_indent(finding.detail, "      ")), style="dim"))
                if finding.causes:
                    console.print(Text(f"      cause: {', '.join(finding.causes)}", style="magenta"))
                if finding.remedy:
                    console.print(Text("      remedy:", style="bold"))
                    console.print(Text("\n".join(_indent(finding.remedy, "        ")), style="cyan"))
    diagnoses = report.get("diagnoses") or []
    covered = covered_causes(findings)
    if diagnoses:
        console.print()
        console.print(Text("Known causes (from the compatibility matrix)", style="bold underline"))
        for diagnosis in diagnoses:
            line = Text(f"  • {diagnosis['title']}", style="bold")
            line.append(f"  [{diagnosis['cause']}, {diagnosis['confidence']:.2f}]", style="magenta")
            console.print(line)
            if diagnosis.get("matched_text"):
                console.print(Text(f"      matched: {diagnosis['matched_text']}", style="dim"))
            if diagnosis["cause"] not in covered:
                console.print(Text("\n".join(_indent(diagnosis.get("remedy") or "", "      ")), style="cyan"))
            for ref in diagnosis.get("references") or []:
                console.print(Text(f"      {ref}", style="blue underline"))
    console.print()
    exit_code = report.get("exit_code")
    console.print(Text(_summary_line(report), style="bold green" if exit_code == 0 else "bold red"))
    return buffer.getvalue()
