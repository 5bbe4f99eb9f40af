"""`edgedoctor summarize REPORT.json ... | FOLDER`: the fleet view.

Exit code: 0 when every machine met its requirements and every report was read, 1 when a machine failed (or a
report could not be read: the lab does not know that machine), 2 when a named path does not exist or nothing
was found. Errors go to stderr; stdout holds only the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, Optional

from edgedoctor import exitcodes

NAME = "summarize"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="REPORT|FOLDER", help="saved reports, or folders of them")
    parser.add_argument(
        "--format",
        choices=["terminal", "markdown", "json", "junit"],
        default="terminal",
        help="junit: one test suite per machine, its findings as test cases",
    )


def run(args: argparse.Namespace) -> int:
    from edgedoctor.render import fleet as render_fleet
    from edgedoctor.report import fleet as summarize

    reports: Optional[Dict[str, Any]] = {} if args.format == "junit" else None
    try:
        result = summarize.summarize(args.paths, keep=reports)
    except summarize.MissingPath as exc:
        print(f"edgedoctor summarize: {exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if not result["machines"] and not result["errors"]:
        print("edgedoctor summarize: no reports found (.json or .md) in " + ", ".join(args.paths), file=sys.stderr)
        return exitcodes.USAGE_ERROR
    for error in result["errors"]:
        print(
            f"edgedoctor summarize: could not read {render_fleet.clean(error['file'])}: "
            f"{render_fleet.clean(error['error'])}",
            file=sys.stderr,
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_fleet.render_markdown(result))
    elif args.format == "junit":
        sys.stdout.write(render_fleet.render_junit(result, reports or {}))
    else:
        sys.stdout.write(render_fleet.render_terminal(result))
    return summarize.exit_code(result)
