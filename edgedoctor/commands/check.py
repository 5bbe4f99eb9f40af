"""`edgedoctor check`: probe this machine (or a root tree, or another interpreter), judge, report."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from edgedoctor import exitcodes
from edgedoctor.commands import common

NAME = "check"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_examine_arguments(parser)
    common.add_report_arguments(parser)


def add_examine_arguments(parser: argparse.ArgumentParser) -> None:
    """What to examine and how (shared with `edgedoctor plan`)."""
    _add_target_arguments(parser)
    _add_model_arguments(parser)
    _add_requirement_and_container_arguments(parser)


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The interpreter or root tree, the network and the probes' time limit."""
    parser.add_argument(
        "--python",
        metavar="PATH",
        default=None,
        help="examine this interpreter or venv (a venv folder or its python); default: the active "
        "venv or conda env, else ./.venv or ./venv, else the python3 on PATH",
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="read /sys, /dev, /etc, /proc from this folder instead of the machine (a fixture tree "
        "or a mounted SD-card image); commands are answered from DIR/.edgedoctor/commands",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never open a network connection (models come only from the cache or --models-dir)",
    )
    parser.add_argument(
        "--timeout",
        type=common.positive_float,
        default=60.0,
        metavar="SECONDS",
        help="time limit for each child-process probe (default: 60)",
    )


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The known-good models: whether to run them, which set, where the files come from."""
    parser.add_argument("--no-models", action="store_true", help="do not run the known-good models")
    parser.add_argument("--models-dir", metavar="DIR", help="read the known-good model files from this mirror folder")
    parser.add_argument(
        "--models-url",
        metavar="URL",
        help="download the known-good files from this mirror base URL (env: EDGEDOCTOR_MODELS_URL)",
    )
    parser.add_argument(
        "--model-set", metavar="NAME", help="which known-good set to run (see `edgedoctor models list`)"
    )
    parser.add_argument(
        "--iterations",
        type=common.positive_int,
        default=10,
        metavar="N",
        help="timed inferences per model run (default: 10)",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="where downloads are cached (default: the user cache folder)"
    )


def _add_requirement_and_container_arguments(parser: argparse.ArgumentParser) -> None:
    """What must hold (--require, --config) and the running container to examine."""
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="NAME[,NAME...]",
        help="fail unless these hold: device, usb3, pcie, runtime, tpu-inference, speedup=N, "
        "max-tpu-ms=X (repeatable; also read from edgedoctor.toml / [tool.edgedoctor])",
    )
    parser.add_argument(
        "--container",
        metavar="NAME",
        help="examine this running Docker or Podman container (its Python stack, runtime and models, "
        "with the host's devices); nothing is installed into it",
    )
    parser.add_argument(
        "--engine",
        choices=["docker", "podman"],
        help="the engine that runs --container (default: whichever knows the name)",
    )
    parser.add_argument("--config", metavar="FILE", help="read requirements and defaults from this TOML file")


def run(args: argparse.Namespace) -> int:
    report = examine(args)
    if isinstance(report, int):
        return report
    return common.emit_report(report, args)


class _UsageError(Exception):
    """Options that do not go together or name what is not there: said on stderr, exit code USAGE_ERROR."""


def examine(args: argparse.Namespace):
    """Probe and judge as the options say: the report, or a usage-error exit code."""
    from edgedoctor import matrix
    from edgedoctor.diagnosis.judge import judge
    from edgedoctor.machine.system import System

    try:
        choice, requirements = _checked_arguments(args)
    except _UsageError as exc:
        return _usage_error(exc)
    system = System.from_root(Path(args.root)) if args.root else System.host()
    options = _check_options(args, choice, requirements)
    # The matrix is loaded while the probes wait for their child processes; judge finds it ready.
    threading.Thread(target=matrix.preload, name="edgedoctor-preload", daemon=True).start()
    if args.engine and not args.container:
        return _usage_error("--engine goes with --container NAME")
    with common.progress(args) as say:
        try:
            facts = _collect(args, system, options, say)
        except _UsageError as exc:
            return _usage_error(exc)
    return judge(facts, strict=getattr(args, "strict", False), requirements=requirements)


def _usage_error(problem) -> int:
    print(f"edgedoctor: {problem}", file=sys.stderr)
    return exitcodes.USAGE_ERROR


def _checked_arguments(args: argparse.Namespace):
    """(the examined interpreter, the requirements), once the options are known to make sense; raises
    _UsageError (before anything is probed) when they do not."""
    unwritable = common.unwritable_outputs(args)
    if unwritable:
        raise _UsageError(unwritable)
    try:
        choice = common.examined_python(args.python, timeout=args.timeout)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if args.root and not Path(args.root).is_dir():
        raise _UsageError(f"--root {args.root}: not a folder")
    try:
        requirements = common.requirements_from(args)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if args.model_set:
        from edgedoctor.models import load_manifest

        try:
            load_manifest().get_set(args.model_set)
        except KeyError as exc:
            raise _UsageError(f"--model-set: {exc.args[0]}") from None
    return choice, requirements


def _check_options(args: argparse.Namespace, choice, requirements):
    from edgedoctor.machine import interpreter
    from edgedoctor.machine.options import CheckOptions

    return CheckOptions(
        python=choice.path,
        python_choice=interpreter.describe(choice),
        timeout=args.timeout,
        offline=args.offline,
        models_dir=args.models_dir,
        models_url=args.models_url or os.environ.get("EDGEDOCTOR_MODELS_URL"),
        model_set=args.model_set,
        iterations=args.iterations,
        cache_dir=args.cache_dir,
        run_models=not args.no_models,
        requirements=requirements,
    )


def _collect(args: argparse.Namespace, system, options, say):
    """The facts: of this machine (or root tree), or of the running container --container names."""
    from edgedoctor.facts.collect import collect

    if not args.container:
        return collect(system, options, progress=say)
    from edgedoctor.facts import collect_container
    from edgedoctor.probes.container import ContainerError

    if args.root:
        raise _UsageError("--container examines a running container on this machine; not with --root")
    try:
        return collect_container.collect(system, options, args.container, args.engine, progress=say)
    except ContainerError as exc:
        raise _UsageError(f"--container: {exc}") from None
