"""Collect Facts for `check --container NAME`: the host as today (platform, USB, PCIe), and the container's own
Python stack, runtime and model runs, read inside the running container. One snapshot joins both:

- `platform`, `usb`, `pcie`: the host (what the engine could pass in);
- `python_env`, `runtime`, `inference`: the container's interpreter, libedgetpu and models;
- `container`: how it was started (`inspect`) and what it sees (`exec ls/cat`), with what could not be seen.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional

from edgedoctor.facts import collect as host_collect
from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext
from edgedoctor.probes import container as cprobe


def container_section(engine: str, inspected: Dict[str, Any], outside: Dict[str, Any]) -> Dict[str, Any]:
    section = dict(inspected)
    section.pop("env", None)  # the environment is used, not reported (it holds the image's secrets)
    section.update(
        {k: outside[k] for k in ("dev_bus_usb", "usb_nodes", "apex_nodes", "os_release", "python", "libedgetpu")}
    )
    section["exec_errors"] = outside.get("errors") or {}
    unseen = []
    if not outside.get("python"):
        unseen = [
            "the Python stack (TFLite interpreter, numpy, pycoral)",
            "the runtime's version through its C API and the devices it opens",
            "the known-good models on the CPU and the Edge TPU",
        ]
    section["not_seen"] = unseen
    return section


def collect(
    host: System,
    options: CheckOptions,
    name: str,
    engine: Optional[str] = None,
    progress=None,
    engine_run: Optional[cprobe.Runner] = None,
    shim: Optional[Callable[..., cprobe.WorkerShim]] = None,
) -> Dict[str, Any]:
    """Raises container.ContainerError when no engine has a running container of that name. `engine_run` runs
    the engine's commands (default: the host's command runner), `shim` makes the stand-in for the container's
    python3 (default: `WorkerShim`); tests pass recorded ones."""
    say = progress or (lambda message: None)
    run = engine_run or host.run
    engine, inspected = _running_container(name, run, engine)
    say(f"container {name} ({engine})")
    outside = cprobe.outside_view(engine, name, run, timeout=min(options.timeout, 30.0))
    python = outside.get("python")

    ctx = ProbeContext(system=host, options=options)
    for reader in ("platform", "usb", "pcie"):
        say(reader)
        ctx.facts[reader] = host_collect._read(reader, ctx)

    inner_system = cprobe.ContainerSystem(engine, name, inspected.get("env") or {}, run, worker=bool(python))
    facts = ctx.facts
    if python:
        make_shim = shim or cprobe.WorkerShim
        with make_shim(engine, name, python["command"], options.timeout, inspected.get("working_dir") or "/") as made:
            _read_inside(facts, inner_system, dataclasses.replace(options, python=made.path), name, say)
        env = facts.get("python_env") or {}
        env["python_executable_requested"] = python.get("executable")
    else:
        _read_without_python(facts, inner_system, options, name, say)
    facts["container"] = container_section(engine, inspected, outside)
    facts["container"]["host_apex_majors"] = _host_apex_majors(host)
    _judge_for_the_container(facts, python)
    return facts


def _running_container(name: str, run: cprobe.Runner, engine: Optional[str]):
    """(engine, `inspect` of the container); raises ContainerError when none of that name is running."""
    engine, inspected = cprobe.find_container(name, run, engine)
    if not inspected["running"]:
        raise cprobe.ContainerError(
            f"the container {name!r} is not running ({engine} says: "
            f"{inspected.get('status') or 'not running'}); start it, then check again"
        )
    return engine, inspected


def _read_inside(facts, inner_system, inner_options: CheckOptions, name: str, say) -> None:
    """The Python stack, runtime and model runs, read by the worker run with the container's python3 (the
    stand-in `inner_options.python` names)."""
    inner = ProbeContext(system=inner_system, options=inner_options, facts=facts)
    for reader in ("python_env", "runtime"):
        say(f"{reader} in {name}")
        facts[reader] = host_collect._read(reader, inner)
    if inner_options.run_models:
        say(f"inference in {name}")
        facts["inference"] = host_collect._read("inference", inner)
    else:
        facts["inference"] = {"cpu": None, "tpu": None, "speedup": None, "skipped": "--no-models"}


def _read_without_python(facts, inner_system, options, name: str, say) -> None:
    """A container with no python3: its Python stack is unexamined; the runtime is read from outside."""
    inner = ProbeContext(system=inner_system, options=options, facts=facts)
    facts["python_env"] = _unexamined_python_env(name)
    say(f"runtime in {name} (from outside)")
    facts["runtime"] = host_collect._read("runtime", inner)
    facts["inference"] = {
        "cpu": None,
        "tpu": None,
        "speedup": None,
        "skipped": f"the container {name!r} has no python3 to run the models with",
    }


def _unexamined_python_env(name: str) -> Dict[str, Any]:
    from edgedoctor.probes import python_env

    env = python_env.summarise({})
    env["tflite"]["error"] = None
    env["error"] = f"the container {name!r} has no python3 (nor python 3.6+): its Python stack could not be examined"
    env["not_examined"] = True
    env["python_executable_requested"] = None
    return env


def _host_apex_majors(host: System) -> List[int]:
    """The device majors of the host's Edge TPU PCIe devices: the major the LXC cgroup rule must allow (dev
    "120:0")."""
    majors = set()
    for apex in host.listdir("/sys/class/apex"):
        number = (host.read_text(f"/sys/class/apex/{apex}/dev") or "").strip().partition(":")[0]
        uevent = host.read_text(f"/sys/class/apex/{apex}/uevent") or ""
        number = number or next((line[6:].strip() for line in uevent.splitlines() if line.startswith("MAJOR=")), "")
        if number.isdigit():
            majors.add(int(number))
    return sorted(majors)


def _judge_for_the_container(facts: Dict[str, Any], python: Optional[Dict[str, Any]]) -> None:
    """The platform is the host's (kernel, architecture, board), but the examined interpreter and its C library
    are the container's: wheels and the matrix are judged for them. The host's C library is kept aside."""
    platform = facts.get("platform") or {}
    facts["container"]["host_libc"] = {"libc": platform.get("libc"), "libc_version": platform.get("libc_version")}
    python_facts = (facts.get("python_env") or {}).get("python") or {}
    if python_facts.get("libc"):
        platform["libc"], platform["libc_version"] = python_facts.get("libc"), python_facts.get("libc_version")
    host_collect._merge_python_into_platform(facts)
    facts["container"]["python_version"] = python_facts.get("version") or (python or {}).get("version")
    facts["container"]["python_executable"] = python_facts.get("executable") or (python or {}).get("executable")
