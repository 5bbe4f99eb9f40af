"""Options and output shared by the commands that produce a report (check, diagnose)."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from edgedoctor import exitcodes


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):  # nan, inf, 1e309
        raise argparse.ArgumentTypeError(f"must be a finite number: {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SECONDS} (a week)")
    return value


MAX_SECONDS = 7 * 24 * 3600


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=["terminal", "text", "json", "markdown", "junit"],
        default=None,
        help="report format on stdout (default: terminal; with --output, from the file's extension)",
    )
    parser.add_argument(
        "--output",
        "-o",
        action="append",
        default=[],
        metavar="FILE",
        help="also write the report to FILE (format from --format or the extension; repeatable)",
    )
    parser.add_argument("--strict", action="store_true", help="warnings count as failures for the exit code")
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="keep user name, home, host name, serial numbers and addresses in the report",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress messages on stderr")


def examined_python(option: Optional[str], timeout: float = 15.0):
    """The interpreter to examine: `--python` (checked to be a Python; ValueError otherwise) or the one the user
    means (edgedoctor.machine.interpreter.choose). Returns an interpreter.Choice."""
    from edgedoctor.machine import interpreter

    def check(path: str) -> "interpreter.Identity":
        return interpreter.identify(path, timeout=min(timeout, interpreter.ID_TIMEOUT))

    if option:
        return interpreter.from_option(option, check=check)[0]
    return interpreter.choose(check=check)[0]


def requirements_from(args: argparse.Namespace) -> List[str]:
    from edgedoctor.diagnosis import requirements

    listed: List[str] = []
    for item in args.require:
        listed.extend(x.strip() for x in item.split(",") if x.strip())
    config = requirements.load_config(getattr(args, "config", None), Path.cwd())
    listed = list(config.get("require", [])) + listed
    requirements.parse_all(listed)  # raises ValueError on a malformed one
    return listed


@contextlib.contextmanager
def progress(args: argparse.Namespace) -> Iterator:
    """Progress messages on stderr, only on a terminal and without --quiet."""
    show = not args.quiet and sys.stderr.isatty() and not os.environ.get("CI")
    if not show:
        yield None
        return
    from rich.console import Console

    console = Console(file=sys.stderr)
    with console.status("examining...") as status:
        yield lambda step: status.update(f"examining: {step}")


def format_for(path: str, explicit: Optional[str]) -> str:
    from edgedoctor.render import EXTENSIONS

    if explicit:
        return explicit
    return EXTENSIONS.get(Path(path).suffix.lower(), "text")


def unwritable_outputs(args: argparse.Namespace) -> Optional[str]:
    """Why an --output file cannot be written (checked before the run, so a long check is not wasted), or
    None. A file this creates to find out is removed again."""
    for path in list(getattr(args, "output", None) or []):
        target = Path(path)
        existed = target.exists()
        try:
            if target.is_dir():
                return f"cannot write {path}: it is a folder"
            with open(target, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            return f"cannot write {path}: {exc.strerror or exc}"
        if not existed:
            try:
                target.unlink()
            except OSError:
                pass
    return None


def write_stdout(text: str) -> bool:
    """Write to standard output; False (said on stderr) when it cannot be written: a full device, a closed
    pipe's sibling errors. Later writes and the flush at exit then go nowhere instead of raising."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        raise
    except OSError as exc:
        try:
            sys.stdout = open(os.devnull, "w", encoding="utf-8")
        except OSError:
            pass
        print(f"edgedoctor: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        return False


def emit_report(report: Dict[str, Any], args: argparse.Namespace) -> int:
    from edgedoctor.render import render
    from edgedoctor.report import redact

    shown = report if args.no_redact else redact.redact_report(report)
    outputs = list(args.output)
    for path in outputs:
        # One --output with --format: that format. Otherwise each file's extension decides.
        file_format = format_for(path, args.format if len(outputs) == 1 else None)
        try:
            Path(path).write_text(render(shown, file_format, fancy=False), encoding="utf-8")
        except OSError as exc:
            print(f"edgedoctor: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return exitcodes.USAGE_ERROR
    if not write_stdout(render(shown, args.format or "terminal")):
        return exitcodes.USAGE_ERROR
    return int(report["exit_code"])
