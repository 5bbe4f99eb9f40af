"""The terminal report: grouped by area, one line per finding with a status mark, cause and remedy under
every warning or failure, diagnoses, and a summary line. Colour and symbols only on a real terminal; plain
text when piped, with NO_COLOR, or in CI."""

from __future__ import annotations

import io
import os
import shutil
import sys
import textwrap
from typing import Any, Dict, List, Optional

from edgedoctor.report.document import findings_of, verdict
from edgedoctor.report.findings import AREAS, Finding
from edgedoctor.util import safetext

MARKS_FANCY = {
    "pass": ("✔", "green"),
    "warn": ("⚠", "yellow"),
    "fail": ("✘", "bold red"),
    "skip": ("○", "dim"),
    "info": ("ℹ", "cyan"),
}
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


def terminal_width(stream=None) -> Optional[int]:
    """The real width of the terminal the report goes to; None when it goes to a file or a pipe."""
    stream = stream or sys.stdout
    if not getattr(stream, "isatty", lambda: False)():
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return shutil.get_terminal_size().columns


def render(report: Dict[str, Any], fancy: Optional[bool] = None, width: Optional[int] = None, **_: Any) -> str:
    """Prose wraps to `width` (default: the real terminal's, no wrapping when not on a terminal); commands
    (remedies and plan steps) are never wrapped: each is printed whole on one line."""
    fancy = use_fancy() if fancy is None else fancy
    report = safetext.deep(report, safetext.terminal)  # no escape sequence from a report reaches the terminal
    width = width or terminal_width()
    findings = findings_of(report)
    if fancy:
        return _render_rich(report, findings, width or 100)
    return _render_plain(report, findings, width)


def _wrapper(width: Optional[int]):
    """wrap(text, first_indent, next_indent) -> lines, to `width` (no wrapping without one)."""

    def wrap(text: str, first: str, rest: str) -> List[str]:
        if not width:
            return [first + text]
        return textwrap.wrap(
            text,
            width=max(width - 1, 20),
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [first]

    return wrap


def _prose(text: str, prefix: str, width: Optional[int]) -> List[str]:
    wrap = _wrapper(width)
    out: List[str] = []
    for line in text.strip().splitlines():
        out.extend(wrap(line.strip(), prefix, prefix) if line.strip() else [""])
    return out


def next_steps_plain(report: Dict[str, Any], width: Optional[int] = None) -> List[str]:
    from edgedoctor.render import plantext

    plan = report.get("plan")
    if not isinstance(plan, dict) or not (plan.get("steps") or plan.get("notes")):
        return []
    return ["Next steps"] + plantext.render_text(plan, wrap=_wrapper(width)).rstrip("\n").splitlines() + [""]


def _indent(text: str, prefix: str) -> List[str]:
    return [prefix + line for line in text.strip().splitlines()]


def _render_plain(report: Dict[str, Any], findings: List[Finding], width: Optional[int] = None) -> str:
    tool = report.get("tool") or {}
    out = [f"edgedoctor {tool.get('version', '')} report ({report.get('created', '')})", ""]
    for area, items in _grouped(findings):
        out.append(AREAS.get(area, area))
        for finding in items:
            out.extend(_wrapper(width)(f"{MARKS_PLAIN[finding.status]} {finding.title}", "  ", "         "))
            if finding.status in ("warn", "fail"):
                if finding.detail:
                    out.extend(_prose(finding.detail, "         ", width))
                if finding.causes:
                    out.append(f"         cause: {', '.join(finding.causes)}")
                if finding.remedy:
                    out.append("         remedy:")
                    out.extend(_indent(finding.remedy, "           "))
            elif finding.status == "skip" and finding.detail:
                out.extend(_prose(finding.detail, "         ", width))
        out.append("")
    diagnoses = report.get("diagnoses") or []
    covered = covered_causes(findings)
    if diagnoses:
        out.append("Known causes (from the compatibility matrix)")
        for diagnosis in diagnoses:
            out.append(
                f"  - {diagnosis['title']} [{diagnosis['cause']}, {diagnosis['entry']}, "
                f"confidence {diagnosis['confidence']:.2f}]"
            )
            if diagnosis.get("matched_text"):
                out.append(f"      matched: {diagnosis['matched_text']}")
            if diagnosis["cause"] not in covered:  # otherwise the finding above already gives the remedy
                out.append("      remedy:")
                out.extend(_indent(diagnosis.get("remedy") or "", "        "))
            for ref in diagnosis.get("references") or []:
                out.append(f"      see: {ref}")
        out.append("")
    out.extend(next_steps_plain(report, width))
    out.extend(_wrapper(width)(_summary_line(report), "", "  "))
    out.extend(next_step_lines(report))
    return "\n".join(out) + "\n"


def _summary_line(report: Dict[str, Any]) -> str:
    summary = report.get("summary") or {}
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("pass", "warn", "fail", "skip", "info"))
    return f"Summary: {verdict(report)} ({counts}); exit code {report.get('exit_code')}"


def next_step_lines(report: Dict[str, Any]) -> List[str]:
    """What to do next, in short lines (each fits 80 columns, commands whole): the plan when there is one,
    and how to attach the report to a ticket."""
    summary = report.get("summary") or {}
    if (report.get("plan") or {}).get("steps"):
        first = "Next: follow the Next steps above (as a script: edgedoctor plan --format sh)."
    elif summary.get("fail") or summary.get("warn"):
        first = "Next: fix the failures above, first one first."
    else:
        first = "Next: nothing to fix."
    return [first, "For a ticket: edgedoctor check --format markdown -o edgedoctor-report.md"]


def _render_rich(report: Dict[str, Any], findings: List[Finding], width: int) -> str:
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width, highlight=False, soft_wrap=False)
    tool = report.get("tool") or {}
    console.print(
        Text(f"edgedoctor {tool.get('version', '')}", style="bold"), Text(f" {report.get('created', '')}", style="dim")
    )
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
                    console.print(
                        Text("\n".join(_indent(finding.remedy, "        ")), style="cyan"), soft_wrap=True
                    )  # commands are printed whole
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
                console.print(
                    Text("\n".join(_indent(diagnosis.get("remedy") or "", "      ")), style="cyan"), soft_wrap=True
                )
            for ref in diagnosis.get("references") or []:
                console.print(Text(f"      {ref}", style="blue underline"))
    _next_steps_rich(console, report)
    console.print()
    exit_code = report.get("exit_code")
    console.print(Text(_summary_line(report), style="bold green" if exit_code == 0 else "bold red"))
    for step_line in next_step_lines(report):
        console.print(Text(step_line, style="bold"), soft_wrap=True)  # never split a command
    return buffer.getvalue()


def _next_steps_rich(console, report: Dict[str, Any]) -> None:
    from rich.text import Text

    from edgedoctor.render import plantext

    plan = report.get("plan")
    if not isinstance(plan, dict) or not (plan.get("steps") or plan.get("notes")):
        return
    console.print()
    console.print(Text("Next steps", style="bold underline"))
    for kind, text in plantext.blocks(plan):
        if kind == "command":
            console.print(Text("     " + text, style="cyan"), soft_wrap=True)  # whole, never split
        elif kind == "heading":
            console.print(Text("  " + text, style="bold"))
        elif kind == "top":
            console.print(Text("  " + text))
        else:
            console.print(Text("     " + text, style="dim"))
