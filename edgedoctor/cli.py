"""Command line: argparse, options and exit codes; nothing else. Commands live in edgedoctor.commands and are
imported only when they run, so `edgedoctor --version` and `explain` start fast."""

from __future__ import annotations

import argparse
import importlib
import signal
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
    previous = _on_sigterm()
    workerproc = sys.modules.get("edgedoctor.machine.workerproc")
    if workerproc is not None:
        workerproc.STOPPING.clear()  # a run called in-process after an interrupted one
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        _stop_children()
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except Terminated:
        _stop_children()
        print("terminated", file=sys.stderr)
        return TERMINATED
    except BrokenPipeError:
        return exitcodes.SUCCESS
    except Exception:
        print("edgedoctor: internal error (please report it with the text below):", file=sys.stderr)
        traceback.print_exc()
        return exitcodes.INTERNAL_ERROR
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


INTERRUPTED = 128 + 2  # SIGINT (Ctrl-C), as a shell reports it
TERMINATED = 128 + 15  # SIGTERM


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM: unwinds like Ctrl-C, so every `finally` runs (partial downloads
    are removed) and the workers are killed."""


def _on_sigterm() -> dict:
    """Make SIGTERM and SIGINT kill the running workers at once (each leads a process group of its own, which
    Ctrl-C at the terminal does not reach) and unwind: Terminated, KeyboardInterrupt. Returns the handlers it
    replaced (none where they cannot be set: not the main thread)."""

    def terminated(signum, frame):
        _stop_children()
        raise Terminated()

    def interrupted(signum, frame):
        _stop_children()
        raise KeyboardInterrupt()

    replaced = {}
    for number, handler in ((signal.SIGTERM, terminated), (signal.SIGINT, interrupted)):
        try:
            replaced[number] = signal.signal(number, handler)
        except (ValueError, OSError, AttributeError):
            pass
    return replaced


def _stop_children() -> None:
    workerproc = sys.modules.get("edgedoctor.machine.workerproc")
    if workerproc is not None:
        workerproc.kill_all()


def _unknown_command(word: str, names: List[str]) -> int:
    import difflib

    close = difflib.get_close_matches(word, names, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; the commands are: {', '.join(names)}"
    print(f"edgedoctor: unknown command '{word}'{hint}\n(edgedoctor --help lists them)", file=sys.stderr)
    return exitcodes.USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
