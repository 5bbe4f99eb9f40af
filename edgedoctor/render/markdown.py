"""Markdown report, paste-ready for a GitHub issue: verdict, the facts triagers ask for, findings, diagnoses,
and the full JSON in a collapsed block so a maintainer can run `edgedoctor diagnose` on it."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from edgedoctor.facts.factview import get_path
from edgedoctor.render.jsonfmt import finite
from edgedoctor.report.document import findings_of, verdict
from edgedoctor.report.findings import AREAS
from edgedoctor.util import safetext

ICONS = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail", "skip": "⏭️ skip", "info": "ℹ️ info"}


def _cell(text: Any) -> str:
    if text is None or text == "":
        return "–"
    return safetext.markdown(text)


_SAFE_URL = re.compile(r"https?://[^\s<>`|\\]+\Z")


def _code(text: Any) -> str:
    """An inline code span that cannot be closed early or break a table: no backticks, pipes or newlines."""
    text = safetext.terminal(text).replace("`", "'").replace("|", "¦").replace("\n", " ")
    return f"`{text}`"


def _runtime_line(facts: Dict[str, Any]) -> str:
    runtime = facts.get("runtime") or {}
    if not runtime.get("found"):
        return "not found" + (f" ({runtime['error']})" if runtime.get("error") else "")
    parts = [
        runtime.get("package") and f"{runtime['package']} {runtime.get('package_version') or ''}".strip(),
        runtime.get("runtime_version") is not None and f"RuntimeVersion({runtime['runtime_version']})",
        runtime.get("release") and f"release {runtime['release']}",
        runtime.get("flavor"),
    ]
    return ", ".join(p for p in parts if p) or str(runtime.get("path"))


def _devices_line(facts: Dict[str, Any]) -> str:
    out = []
    for device in (facts.get("usb") or {}).get("devices") or []:
        speed = device.get("speed_mbps")
        out.append(
            f"USB {device.get('vendor_id')}:{device.get('product_id')} ({device.get('state')}, "
            f"{'%g Mbit/s' % speed if speed else 'speed unknown'}"
            f"{', not accessible' if device.get('accessible') is False else ''})"
        )
    for device in (facts.get("pcie") or {}).get("devices") or []:
        out.append(
            f"PCIe {device.get('address')} (driver {device.get('driver') or 'none'}, "
            f"{device.get('dev_node') or 'no /dev/apex'})"
        )
    return "; ".join(out) or "none found"


def _run_line(run: Optional[Dict[str, Any]]) -> str:
    if not run:
        return "not run"
    top1 = run.get("top1") or {}
    latency = run.get("latency_ms") or {}
    text = f"{run.get('status')}: {run.get('model')}"
    if top1.get("label"):
        text += f" → {top1['label']} ({top1.get('score')})"
    if latency.get("median") is not None:
        text += f", median {latency['median']:.2f} ms"
        if latency.get("first") is not None:
            text += f", first {latency['first']:.1f} ms"
    if run.get("error"):
        text += f" — {run['error']}"
    return text


def facts_table(facts: Dict[str, Any]) -> List[str]:
    platform = facts.get("platform") or {}
    env = facts.get("python_env") or {}
    inference = facts.get("inference") or {}
    tflite = env.get("tflite") or {}
    pycoral = env.get("pycoral") or {}
    rows = [
        ("OS", platform.get("pretty_name") or platform.get("os")),
        ("Architecture", platform.get("arch")),
        ("Kernel", platform.get("kernel")),
        ("libc", " ".join(filter(None, [platform.get("libc"), platform.get("libc_version")]))),
        ("Board", platform.get("board_model") or platform.get("board")),
        ("Container", platform.get("container") if platform.get("in_container") else "no"),
        ("Python", f"{platform.get('python_version') or '?'} ({platform.get('python_executable') or '?'})"),
        (
            "TFLite interpreter",
            f"{tflite.get('module')} {tflite.get('version') or ''}".strip()
            if tflite.get("module")
            else f"none ({tflite.get('error') or 'not importable'})",
        ),
        ("numpy", get_path(env, "numpy", "version") or get_path(env, "numpy", "error")),
        ("pycoral", f"{pycoral.get('identity')} {pycoral.get('version') or ''}".strip() if pycoral else None),
        ("Edge TPU runtime", _runtime_line(facts)),
        ("Edge TPU devices", _devices_line(facts)),
        ("CPU inference", _run_line(inference.get("cpu"))),
        ("Edge TPU inference", _run_line(inference.get("tpu"))),
        ("Speed-up", f"{inference['speedup']:.1f}x" if inference.get("speedup") else None),
    ]
    out = ["| Fact | Value |", "|---|---|"]
    out.extend(f"| {name} | {_cell(value)} |" for name, value in rows)
    return out


def plan_section(plan: Any) -> List[str]:
    """### Next steps: the plan's target, notes and ordered steps, commands in shell blocks."""
    from edgedoctor.render.plantext import target_line

    if not isinstance(plan, dict) or not (plan.get("steps") or plan.get("notes")):
        return []
    out = ["", "### Next steps", ""]
    if plan.get("target"):
        out += [f"Target: {target_line(plan)}", ""]
    for note in plan.get("notes") or []:
        out += [f"> {note}", ""]
    for number, step in enumerate(plan.get("steps") or [], 1):
        fixes = ", ".join(f"`{i}`" for i in step.get("fixes") or [])
        out.append(f"{number}. {step.get('title')}" + (f" (fixes {fixes})" if fixes else ""))
        if step.get("commands"):
            out += ["", "   ```sh"] + [f"   {c}" for c in step["commands"]] + ["   ```"]
        out.append("")
    return out


def render(report: Dict[str, Any], **_: Any) -> str:
    findings = findings_of(report)
    tool = report.get("tool") or {}
    exit_code = report.get("exit_code")
    mark = "✅" if exit_code == 0 else "❌"
    out = [
        f"## edgedoctor report: {mark} {verdict(report)}",
        "",
        f"edgedoctor {tool.get('version', '')}, {report.get('created', '')}, exit code {exit_code}",
        "",
        "### Setup",
        "",
    ]
    out.extend(facts_table(report.get("facts") or {}))
    out += ["", "### Findings", "", "| Status | Area | Finding | Cause | Remedy |", "|---|---|---|---|---|"]
    for finding in findings:
        show = finding.status in ("warn", "fail")
        title = _cell(finding.title) + (f"<br><sub>{_cell(finding.detail)}</sub>" if show and finding.detail else "")
        out.append(
            f"| {ICONS.get(finding.status, _cell(finding.status))} | "
            f"{_cell(AREAS.get(finding.area, finding.area))} | {_code(finding.id)} "
            f"{title} | {_cell(', '.join(finding.causes))} | "
            f"{_cell(finding.remedy) if show else '–'} |"
        )
    diagnoses = report.get("diagnoses") or []
    if diagnoses:
        out += ["", "### Known causes", ""]
        for diagnosis in diagnoses:
            out.append(
                f"- **{_cell(diagnosis['title'])}** ({_code(diagnosis['cause'])}, entry "
                f"{_code(diagnosis['entry'])}, confidence {diagnosis['confidence']:.2f})"
            )
            if diagnosis.get("matched_text"):
                out.append(f"  - matched: {_code(str(diagnosis['matched_text'])[:300])}")
            out.append(f"  - remedy: {_cell((diagnosis.get('remedy') or '').strip())}")
            refs = ", ".join(f"<{r}>" for r in diagnosis.get("references") or [] if _SAFE_URL.match(str(r)))
            if refs:
                out.append(f"  - sources: {refs}")
    out.extend(plan_section(report.get("plan")))
    out += [
        "",
        "<details><summary>Full report (JSON) for <code>edgedoctor diagnose</code></summary>",
        "",
        "```json",
        json.dumps(finite(report), indent=2, default=str, allow_nan=False),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(out)
