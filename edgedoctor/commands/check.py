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
    parser.add_argument("--python", metavar="PATH", default=sys.executable,
                        help="examine this interpreter or venv (a venv folder or its python); default: the one "
                             "running edgedoctor")
    parser.add_argument("--root", metavar="DIR",
                        help="read /sys, /dev, /etc, /proc from this folder instead of the machine (a fixture tree "
                             "or a mounted SD-card image); commands are answered from DIR/.edgedoctor/commands")
    parser.add_argument("--offline", action="store_true",
                        help="never open a network connection (models come only from the cache or --models-dir)")
    parser.add_argument("--timeout", type=common.positive_float, default=60.0, metavar="SECONDS",
                        help="time limit for each child-process probe (default: 60)")
    parser.add_argument("--no-models", action="store_true", help="do not run the known-good models")
    parser.add_argument("--models-dir", metavar="DIR", help="read the known-good model files from this mirror folder")
    parser.add_argument("--models-url", metavar="URL",
                        help="download the known-good files from this mirror base URL (env: EDGEDOCTOR_MODELS_URL)")
    parser.add_argument("--model-set", metavar="NAME", help="which known-good set to run (see `edgedoctor models list`)")
    parser.add_argument("--iterations", type=common.positive_int, default=10, metavar="N",
                        help="timed inferences per model run (default: 10)")
    parser.add_argument("--cache-dir", metavar="DIR", help="where downloads are cached (default: the user cache folder)")
    parser.add_argument("--require", action="append", default=[], metavar="NAME[,NAME...]",
                        help="fail unless these hold: device, usb3, pcie, runtime, tpu-inference, speedup=N, "
                             "max-tpu-ms=X (repeatable; also read from edgedoctor.toml / [tool.edgedoctor])")
    parser.add_argument("--config", metavar="FILE", help="read requirements and defaults from this TOML file")
    common.add_report_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from edgedoctor import matrix
    from edgedoctor.collect import collect
    from edgedoctor.judge import judge
    from edgedoctor.options import CheckOptions
    from edgedoctor.system import System

    unwritable = common.unwritable_outputs(args)
    if unwritable:
        print(f"edgedoctor: {unwritable}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    python = common.resolve_python(args.python)
    if python is None:
        print(f"edgedoctor: --python {args.python}: no Python interpreter there", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if args.root and not Path(args.root).is_dir():
        print(f"edgedoctor: --root {args.root}: not a folder", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    try:
        requirements = common.requirements_from(args)
    except ValueError as exc:
        print(f"edgedoctor: {exc}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if args.model_set:
        from edgedoctor.models import load_manifest

        try:
            load_manifest().get_set(args.model_set)
        except KeyError as exc:
            print(f"edgedoctor: --model-set: {exc.args[0]}", file=sys.stderr)
            return exitcodes.USAGE_ERROR
    system = System.from_root(Path(args.root)) if args.root else System.host()
    options = CheckOptions(
        python=python, timeout=args.timeout, offline=args.offline, models_dir=args.models_dir,
        models_url=args.models_url or os.environ.get("EDGEDOCTOR_MODELS_URL"), model_set=args.model_set,
        iterations=args.iterations, cache_dir=args.cache_dir, run_models=not args.no_models,
        requirements=requirements,
    )
    # The matrix is loaded while the probes wait for their child processes; judge finds it ready.
    threading.Thread(target=matrix.preload, name="edgedoctor-preload", daemon=True).start()
    with common.progress(args) as say:
        facts = collect(system, options, progress=say)
    report = judge(facts, strict=args.strict, requirements=requirements)
    return common.emit_report(report, args)
