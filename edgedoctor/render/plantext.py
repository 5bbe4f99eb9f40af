"""The plan as text: the "Next steps" of the terminal report, `edgedoctor plan --format text` and `--format sh`.

Commands are printed whole, one per line, never wrapped (a copied line is the exact command); prose may be
wrapped by the caller to the terminal's width.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

TARGET_LABELS = (
    ("python", "Python"),
    ("tflite_runtime", "tflite_runtime"),
    ("ai_edge_litert", "LiteRT"),
    ("numpy", "numpy"),
    ("pycoral", "pycoral"),
    ("runtime_release", "runtime"),
    ("runtime_package", "package"),
)


def target_line(plan: Dict[str, Any]) -> str:
    target = plan.get("target") or {}
    parts = [f"{label} {target[key]}" for key, label in TARGET_LABELS if target.get(key)]
    return ", ".join(parts)


def blocks(plan: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(kind, text) in reading order; kind is `top`, `heading`, `prose` or `command`."""
    out: List[Tuple[str, str]] = []
    if not isinstance(plan, dict):
        return out
    if plan.get("target"):
        out.append(("top", f"Target: {target_line(plan)}"))
    for note in plan.get("notes") or []:
        out.append(("top", f"Note: {note}"))
    for number, step in enumerate(plan.get("steps") or [], 1):
        out.append(("heading", f"{number}. {step.get('title')}"))
        if step.get("fixes"):
            out.append(("prose", "fixes: " + ", ".join(step["fixes"])))
        for command in step.get("commands") or []:
            out.append(("command", command))
    return out


def render_text(plan: Dict[str, Any], wrap=None) -> str:
    """Plain text; `wrap(text, indent)` (optional) wraps prose."""
    lines: List[str] = []
    for kind, text in blocks(plan):
        if kind == "command":
            lines.append("     " + text)
        elif kind in ("heading", "top"):
            lines.extend(wrap(text, "  ", "     ") if wrap else ["  " + text])
        else:
            lines.extend(wrap(text, "     ", "     ") if wrap else ["     " + text])
    if not lines:
        lines.append("  No plan: " + "; ".join(plan.get("notes") or ["nothing to do"]))
    return "\n".join(lines) + "\n"


def render_sh(plan: Dict[str, Any], python: str = "", os_name: str = "") -> str:
    """A commented shell script with `set -e`. edgedoctor never runs it."""
    lines = [
        "#!/bin/sh",
        "# Plan made by edgedoctor" + (f" for {python}" if python else "") + ".",
        "# edgedoctor never runs this script: read it, then run it yourself (or step by step).",
    ]
    if os_name == "windows":
        lines.append("# These are Windows commands: run them one by one in a Command Prompt, not with sh.")
    lines += ["set -e", ""]
    for kind, text in blocks(plan):
        if kind == "command":
            lines.append(text)
        elif kind == "heading":
            lines.extend(["", "# " + text])
        else:
            lines.append("# " + text)
    if not plan.get("steps"):
        lines.append("# No plan: " + "; ".join(plan.get("notes") or ["nothing to do"]))
    return "\n".join(lines) + "\n"
