"""`edgedoctor plan`: examine like `check` (same options), then print only the plan: text, JSON or a commented
shell script. edgedoctor never runs it."""

from __future__ import annotations

import argparse
import json
import sys

from edgedoctor import exitcodes
from edgedoctor.commands import check

NAME = "plan"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    check.add_examine_arguments(parser)
    parser.add_argument(
        "--format",
        choices=["text", "json", "sh"],
        default="text",
        help="text (default), json (the report's `plan` key) or sh (a commented script with set -e)",
    )
    parser.add_argument("--no-redact", action="store_true", help="keep user name, home and host name in the commands")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress messages on stderr")


def render(plan: dict, fmt: str, python: str = "", os_name: str = "") -> str:
    from edgedoctor.render import plantext

    if fmt == "json":
        return json.dumps(plan, indent=2) + "\n"
    if fmt == "sh":
        return plantext.render_sh(plan, python, os_name)
    return "Plan" + (f" for {python}" if python else "") + "\n" + plantext.render_text(plan)


def run(args: argparse.Namespace) -> int:
    from edgedoctor.report import redact

    report = check.examine(args)
    if isinstance(report, int):
        return report
    shown = report if args.no_redact else redact.redact_report(report)
    platform = (shown.get("facts") or {}).get("platform") or {}
    sys.stdout.write(
        render(
            shown.get("plan") or {"target": {}, "steps": []},
            args.format,
            platform.get("python_executable") or "",
            platform.get("os") or "",
        )
    )
    sys.stdout.flush()
    return exitcodes.SUCCESS
