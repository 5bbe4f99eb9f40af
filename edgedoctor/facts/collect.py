"""Collect Facts: run every reader once, the independent ones concurrently, and assemble one snapshot.

A reader that raises (a bug, or a machine stranger than expected) leaves its section as
{"error": "..."} and the rest of the check goes on.
"""

from __future__ import annotations

import importlib
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional

from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext

# Readers that do not depend on each other, run side by side (the worker ones spend their time in a child).
INDEPENDENT = ("python_env", "usb", "pcie", "runtime")
# Readers that need the others' facts, in order.
DEPENDENT = ("inference",)

Progress = Optional[Callable[[str], None]]

# What the progress line says while a reader is awaited (its name when not listed here).
WAITING_FOR = {
    "runtime": "runtime (libedgetpu opens the Edge TPU: about 3 s, or about 25 s when the open is refused)",
    "inference": "known-good models (the first Edge TPU inference loads the model)",
}


def _read(name: str, ctx: ProbeContext) -> Dict[str, Any]:
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"edgedoctor.probes.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"edgedoctor.probes.{name}":
            return {"error": "not examined by this version of edgedoctor", "not_implemented": True}
        return {
            "error": f"edgedoctor's {name} probe could not be loaded: {type(exc).__name__}: {exc}",
            "internal_error": traceback.format_exc(limit=6),
        }
    except Exception as exc:  # a broken installation of edgedoctor itself: the rest of the check goes on
        return {
            "error": f"edgedoctor's {name} probe could not be loaded: {type(exc).__name__}: {exc}",
            "internal_error": traceback.format_exc(limit=6),
        }
    try:
        section = module.read(ctx)
    except Exception as exc:  # a reader's bug: a finding, never a traceback
        section = {
            "error": f"edgedoctor's {name} probe failed: {type(exc).__name__}: {exc}",
            "internal_error": traceback.format_exc(limit=6),
        }
    if isinstance(section, dict):
        section.setdefault("probe_ms", round((time.perf_counter() - start) * 1000, 1))
    return section


def collect(system: System, options: CheckOptions, progress: Progress = None) -> Dict[str, Any]:
    ctx = ProbeContext(system=system, options=options)
    say = progress or (lambda message: None)
    say("platform")
    ctx.facts["platform"] = _read("platform", ctx)
    names = list(INDEPENDENT)
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {name: pool.submit(_read, name, ctx) for name in names}
        for name in names:
            say(WAITING_FOR.get(name, name))
            ctx.facts[name] = futures[name].result()
    _merge_python_into_platform(ctx.facts)
    for name in DEPENDENT:
        if name == "inference" and not options.run_models:
            ctx.facts[name] = {"cpu": None, "tpu": None, "speedup": None, "skipped": "--no-models"}
            continue
        say(WAITING_FOR.get(name, name))
        ctx.facts[name] = _read(name, ctx)
    return ctx.facts


def _merge_python_into_platform(facts: Dict[str, Any]) -> None:
    """The report's platform section names the examined interpreter, which only the worker knows."""
    platform = facts.get("platform") or {}
    python = (facts.get("python_env") or {}).get("python") or {}
    platform["python_version"] = python.get("version")
    platform["python_implementation"] = python.get("implementation")
    platform["python_executable"] = python.get("executable") or (facts.get("python_env") or {}).get(
        "python_executable_requested"
    )
    platform["in_venv"] = python.get("in_venv")
    if not platform.get("libc") and python.get("libc") and platform.get("os") in (None, "linux"):
        # (glibc is a Linux fact: a worker's answer is not taken for a macOS or Windows root examined from Linux)
        platform["libc"], platform["libc_version"] = python.get("libc"), python.get("libc_version")
    if python.get("machine") and not platform.get("arch"):
        platform["arch"] = python["machine"]
