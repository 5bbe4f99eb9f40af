"""Command line: argparse, options and exit codes; nothing else. Commands live in edgedoctor.commands and are
imported only when they run, so `edgedoctor --version` and `explain` start fast."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import List, Optional

from edgedoctor import __version__, exitcodes
from edgedoctor.commands import COMMANDS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: exit code 2, as the contract says
        self.print_usage(sys.stderr)
        self.exit(exitcodes.USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="edgedoctor", description="Diagnose Google Coral Edge TPU setups.")
    parser.add_argument("--version", action="version", version=f"edgedoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name, name, help_text in COMMANDS:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module_name)
        if only == name:
            importlib.import_module(f"edgedoctor.commands.{module_name}").add_arguments(command)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only the command that runs has its module imported (and its options registered).
    names = {name for _, name, _ in COMMANDS}
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen is not None and chosen not in names:
        return _unknown_command(chosen, sorted(names))
    parser = build_parser(only=chosen if chosen in names else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help()
        return exitcodes.USAGE_ERROR
    module = importlib.import_module(f"edgedoctor.commands.{args._module}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return exitcodes.SUCCESS
    except Exception:
        print("edgedoctor: internal error (please report it with the text below):", file=sys.stderr)
        traceback.print_exc()
        return exitcodes.INTERNAL_ERROR


def _unknown_command(word: str, names: List[str]) -> int:
    import difflib

    close = difflib.get_close_matches(word, names, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; the commands are: {', '.join(names)}"
    print(f"edgedoctor: unknown command '{word}'{hint}\n(edgedoctor --help lists them)", file=sys.stderr)
    return exitcodes.USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
