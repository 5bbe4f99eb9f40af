"""`edgedoctor explain`: paste an error (or point at logs) and get the known cause, remedy and sources."""

from __future__ import annotations

import argparse
import io
import json
import sys

from edgedoctor import exitcodes

NAME = "explain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="*", help="the error text; '-' reads standard input")
    parser.add_argument(
        "--file",
        "-f",
        action="append",
        default=[],
        metavar="LOG",
        help="read a log file (any size, gzip too; repeatable)",
    )
    parser.add_argument("--report", metavar="REPORT.json", help="facts from a saved edgedoctor report")
    parser.add_argument(
        "--fact",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fact that helps rank causes: os, arch, python, tflite_runtime, tensorflow, pycoral, "
        "numpy, runtime_version, runtime_release (e.g. edgetpu_runtime_20201204 or frogfish), "
        "runtime_package, kernel, link (usb2/usb3/pcie), "
        "container (yes/no), device (none/present/inaccessible) ...",
    )
    parser.add_argument("--format", choices=["terminal", "json"], default="terminal")
    parser.add_argument("--limit", type=int, default=10, help="at most this many matches (default 10)")


def run(args: argparse.Namespace) -> int:
    from edgedoctor.diagnosis import explain

    try:
        facts = explain.facts_view(args.report, args.fact)
    except ValueError as exc:
        print(f"edgedoctor explain: {exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if not args.text and not args.file:
        if sys.stdin is None or sys.stdin.isatty():
            print("edgedoctor explain: give the error text, '-' for standard input, or --file LOG", file=sys.stderr)
            return exitcodes.USAGE_ERROR
        args.text = ["-"]
    if args.text == ["-"] and sys.stdin is None:
        print("edgedoctor explain: '-' given but there is no standard input", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    problems: list = []
    try:
        if args.file:
            result = explain.explain_files(args.file, facts, limit=max(1, args.limit), problems=problems)
        elif args.text == ["-"] and not isinstance(getattr(sys.stdin, "buffer", sys.stdin), io.TextIOBase):
            # bytes: read once, a long stream scanned in segments side by side
            result = explain.explain_stream(
                getattr(sys.stdin, "buffer", sys.stdin), facts, limit=max(1, args.limit), problems=problems
            )
        else:
            blocks = explain.blocks_from_stream(sys.stdin) if args.text == ["-"] else iter([" ".join(args.text)])
            result = explain.explain_blocks(blocks, facts, limit=max(1, args.limit))
    except OSError as exc:
        where = getattr(exc, "filename", None)
        print(f"edgedoctor explain: {where + ': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    for problem in problems:
        print(f"edgedoctor explain: {problem}", file=sys.stderr)
    if problems:
        result["problems"] = problems
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(explain.render_terminal(result))
    return exitcodes.SUCCESS
