"""`edgedoctor summarize REPORT.json ... | FOLDER`: the fleet view."""

from __future__ import annotations

import argparse
import json
import sys

from edgedoctor import exitcodes

NAME = "summarize"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="REPORT|FOLDER", help="saved reports, or folders of them")
    parser.add_argument("--format", choices=["terminal", "markdown", "json"], default="terminal")


def run(args: argparse.Namespace) -> int:
    from edgedoctor import summarize

    result = summarize.summarize(args.paths)
    if not result["machines"] and not result["errors"]:
        print("edgedoctor summarize: no reports found", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(summarize.render_markdown(result))
    else:
        sys.stdout.write(summarize.render_terminal(result))
    return exitcodes.FAILURE if result["failing"] or result["errors"] else exitcodes.SUCCESS
