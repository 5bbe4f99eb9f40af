"""`edgedoctor diagnose REPORT.json`: re-judge a saved report's Facts with today's matrix and checks."""

from __future__ import annotations

import argparse
import sys

from edgedoctor import exitcodes
from edgedoctor.commands import common

NAME = "diagnose"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "report",
        metavar="REPORT.json",
        help="a report from `edgedoctor check --format json` "
        "(a Markdown report with the JSON in its <details> block works too)",
    )
    parser.add_argument("--require", action="append", default=[], metavar="NAME[,NAME...]")
    parser.add_argument("--config", metavar="FILE", help=argparse.SUPPRESS)
    common.add_report_arguments(parser)


def load_report(path: str) -> dict:
    """A saved report's dict; raises ValueError naming what is wrong. What was chosen in it (one JSON block of
    several in a Markdown file) is said on stderr."""
    from edgedoctor.report.reading import load_report as _load

    notes: list = []
    report = _load(path, notes)
    for note in notes:
        print(f"edgedoctor diagnose: {note}", file=sys.stderr)
    return report


def run(args: argparse.Namespace) -> int:
    from edgedoctor.diagnosis.judge import judge

    unwritable = common.unwritable_outputs(args)
    if unwritable:
        print(f"edgedoctor: {unwritable}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    try:
        saved = load_report(args.report)
        requirements = common.requirements_from(args)
    except ValueError as exc:
        print(f"edgedoctor diagnose: {exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    report = judge(saved["facts"], strict=args.strict, requirements=requirements)
    report["rejudged_from"] = {"created": saved.get("created"), "tool": saved.get("tool")}
    return common.emit_report(report, args)
