"""`edgedoctor explain`: paste an error (or point at logs) and get the known cause, remedy and sources."""

from __future__ import annotations

import argparse
import json
import sys

from edgedoctor import exitcodes

NAME = "explain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="*", help="the error text; '-' reads standard input")
    parser.add_argument("--file", "-f", action="append", default=[], metavar="LOG",
                        help="read a log file (any size, gzip too; repeatable)")
    parser.add_argument("--report", metavar="REPORT.json", help="facts from a saved edgedoctor report")
    parser.add_argument("--fact", action="append", default=[], metavar="KEY=VALUE",
                        help="a fact that helps rank causes: os, arch, python, tflite_runtime, tensorflow, pycoral, "
                             "numpy, runtime_version, runtime_release, runtime_package, kernel, link (usb2/usb3/pcie), "
                             "container (yes/no), device (none/present/inaccessible) ...")
    parser.add_argument("--format", choices=["terminal", "json"], default="terminal")
    parser.add_argument("--limit", type=int, default=10, help="at most this many matches (default 10)")


def run(args: argparse.Namespace) -> int:
    from edgedoctor import explain

    try:
        facts = explain.facts_view(args.report, args.fact)
    except ValueError as exc:
        print(f"edgedoctor explain: {exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if not args.text and not args.file:
        if sys.stdin.isatty():
            print("edgedoctor explain: give the error text, '-' for standard input, or --file LOG", file=sys.stderr)
            return exitcodes.USAGE_ERROR
        args.text = ["-"]
    try:
        if args.file:
            blocks = explain.blocks_from_files(args.file)
        elif args.text == ["-"]:
            blocks = explain.blocks_from_stream(sys.stdin)
        else:
            blocks = iter([" ".join(args.text)])
        result = explain.explain_blocks(blocks, facts, limit=max(1, args.limit))
    except OSError as exc:
        print(f"edgedoctor explain: {getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(explain.render_terminal(result))
    return exitcodes.SUCCESS
