"""Run a known-good model set on the CPU and on the Edge TPU, in the worker, and time it.

Reads after the other probes: `python_env` (which TFLite module imports), `runtime` (where libedgetpu is),
`usb` / `pcie` (whether an Edge TPU is attached, and how) and `platform` (the board). The set's files come
from the mirror folder, the cache or the network (edgedoctor.models), verified by sha256; the test image is
decoded here with Pillow (edgedoctor.models.imageprep) and handed to the worker as raw tensor bytes.

CPU run: model load, first inference, a warm-up, `options.iterations` timed inferences (median, p90, min), the
top-1 class. Edge TPU run (only with a device and a runtime): the same through the delegate
{"library": <libedgetpu path>, "options": {}}; its first inference also loads the model onto the TPU and is
reported on its own. When no verified set can be had, the embedded tiny model runs on the CPU instead and the
facts say what could not be verified. Every failure keeps the exact error text, the stderr and the worker's
outcome (signal, timeout, stage). This never raises for the machine's sake.
"""

from __future__ import annotations

import math
import os
import statistics
from typing import Any, Dict, List, Optional, Tuple

from edgedoctor import models
from edgedoctor.machine import workerproc
from edgedoctor.models import imageprep, tflite_inspect
from edgedoctor.probes import ProbeContext

CORAL_USB_IDS = {("1a6e", "089a"): "bootloader", ("18d1", "9302"): "runtime"}
CORAL_PCI_IDS = {("1ac1", "089a")}
TOP_K = 5


def empty_run(
    model: Optional[str], expected: Optional[Dict[str, Any]], status: str = "skip", error: Optional[str] = None
) -> Dict[str, Any]:
    return {
        "model": model,
        "status": status,
        "top1": None,
        "expected": expected,
        "latency_ms": None,
        "iterations": 0,
        "error": error,
        "stderr": "",
        "stage": None,
        "module": None,
        "module_version": None,
        "load_ms": None,
        "delegate_load_ms": None,
        "top": None,
        "worker": None,
        "traceback": None,
    }


def empty() -> Dict[str, Any]:
    return {
        "set": None,
        "title": None,
        "cpu": None,
        "tpu": None,
        "speedup": None,
        "source": None,
        "model_info": {"cpu": None, "tpu": None},
        "min_runtime_version": None,
        "link": None,
        "reference": None,
        "fallback": None,
        "error": None,
    }


# --- reading the other sections ---------------------------------------------------------------------------
def tflite_module(facts: Dict[str, Any]) -> Tuple[Optional[str], Optional[str], bool]:
    """(module to use, why none, whether python_env was examined at all)."""
    env = facts.get("python_env")
    if not isinstance(env, dict):
        return None, None, False
    tflite = env.get("tflite") or {}
    module = tflite.get("module")
    if module:
        return module, None, True
    reason = tflite.get("error") or env.get("error") or "no TFLite interpreter could be imported"
    return None, reason, True


def _norm_id(value: Any) -> str:
    return str(value or "").lower().replace("0x", "").zfill(4)


def coral_devices(facts: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    usb = []
    for dev in (facts.get("usb") or {}).get("devices") or []:
        ids = (_norm_id(dev.get("vendor_id")), _norm_id(dev.get("product_id")))
        if ids in CORAL_USB_IDS or not dev.get("vendor_id"):
            usb.append(dev)
    pci = []
    for dev in (facts.get("pcie") or {}).get("devices") or []:
        ids = (_norm_id(dev.get("vendor_id")), _norm_id(dev.get("device_id")))
        if ids in CORAL_PCI_IDS or not dev.get("vendor_id"):
            pci.append(dev)
    runtime = facts.get("runtime") or {}
    if not usb and not pci and runtime.get("loaded"):
        # The runtime enumerates through libusb and /sys/class/apex itself: what it lists is there even when
        # the system listing showed nothing (a container's sysfs).
        for dev in runtime.get("devices") or []:
            entry = {"vendor_id": None, "path": dev.get("path"), "source": "runtime"}
            (usb if dev.get("type") == "usb" else pci).append(entry)
    return {"usb": usb, "pcie": pci}


def link_of(facts: Dict[str, Any]) -> Dict[str, Any]:
    """How the Edge TPU is attached: usb3, usb2, usb (speed unknown), pcie, or None (none, or several kinds).

    The USB Accelerator's speed is read only in its runtime state (18d1:9302): in the bootloader state
    (1a6e:089a) it has not yet re-enumerated at its working speed."""
    found = coral_devices(facts)
    usb, pci = found["usb"], found["pcie"]
    board = str((facts.get("platform") or {}).get("board") or "")
    link: Optional[str] = None
    speed = None
    if pci and not usb:
        link = "pcie"
    elif usb and not pci:
        speeds = [
            d.get("speed_mbps")
            for d in usb
            if CORAL_USB_IDS.get((_norm_id(d.get("vendor_id")), _norm_id(d.get("product_id")))) == "runtime"
            and isinstance(d.get("speed_mbps"), (int, float))
        ]
        speed = max(speeds) if speeds else None  # type: ignore[type-var]
        if speed is None:
            link = "usb"
        elif speed >= 5000:
            link = "usb3"
        else:
            link = "usb2"
    reference_key = link
    if link == "usb3" and board.startswith(("raspberry-pi-4", "rpi4", "raspberry-pi-400")):
        reference_key = "rpi4"
    return {
        "link": link,
        "speed_mbps": speed,
        "usb_devices": len(usb),
        "pcie_devices": len(pci),
        "board": board or None,
        "reference_key": reference_key,
    }


def runtime_library(facts: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    runtime = facts.get("runtime") or {}
    if runtime.get("found") and runtime.get("path"):
        return runtime["path"], None
    return None, runtime.get("error") or "the Edge TPU runtime (libedgetpu) was not found"


def runtime_version(facts: Dict[str, Any]) -> Optional[int]:
    value = (facts.get("runtime") or {}).get("runtime_version")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- turning a worker answer into a run ---------------------------------------------------------------------
def latency(runs: List[float], first: Optional[float]) -> Optional[Dict[str, Any]]:
    if not runs:
        return {"first": _r(first), "median": None, "p90": None, "min": None, "mean": None} if first else None
    ordered = sorted(runs)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "first": _r(first),
        "median": _r(statistics.median(ordered)),
        "p90": _r(p90),
        "min": _r(ordered[0]),
        "mean": _r(statistics.fmean(ordered) if hasattr(statistics, "fmean") else statistics.mean(ordered)),
    }


def _r(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(float(value), 3)


def apply_outcome(
    run: Dict[str, Any], outcome: workerproc.WorkerOutcome, labels: Optional[Dict[int, str]]
) -> Dict[str, Any]:
    """Fill a run from the worker's outcome: pass/fail, the verbatim error, timings, the top classes."""
    run["stderr"] = outcome.stderr or ""
    run["stage"] = outcome.stage
    if not outcome.ok or not isinstance(outcome.result, dict):
        run["status"] = "fail"
        run["error"] = outcome.error or "the worker failed"
        run["worker"] = outcome.to_fact()
        if isinstance(outcome.result, dict) and outcome.result.get("traceback"):
            run["traceback"] = outcome.result.get("traceback")
        return run
    result = outcome.result
    run["worker"] = {"status": outcome.status, "duration_ms": round(outcome.duration_ms, 1)}
    run["module"] = result.get("module")
    run["module_version"] = result.get("module_version")
    run["stage"] = result.get("stage")
    if result.get("stderr"):
        run["stderr"] = (result["stderr"] + ("\n" + run["stderr"] if run["stderr"] else "")).strip("\n")
    timings = result.get("timings_ms") or {}
    run["load_ms"] = _r(timings.get("model_load"))
    run["delegate_load_ms"] = _r(timings.get("delegate_load"))
    run["latency_ms"] = latency(list(timings.get("runs") or []), timings.get("first"))
    run["iterations"] = len(timings.get("runs") or [])
    run["input"] = result.get("input")
    run["output"] = result.get("output")
    if result.get("raw_output") is not None:
        run["raw_output"] = result["raw_output"]
    if result.get("status") != "pass":
        run["status"] = "fail"
        run["error"] = result.get("error") or "the model run failed"
        run["traceback"] = result.get("traceback")
        if result.get("import_errors"):
            run["import_errors"] = result["import_errors"]
        return run
    top = []
    for entry in result.get("top") or []:
        index, raw, score = entry[0], entry[1], entry[2]
        label = (labels or {}).get(int(index)) if labels is not None else str(index)
        top.append({"id": int(index), "label": label, "score": round(float(score), 5), "raw": raw})
    run["top"] = top
    run["top1"] = {k: top[0][k] for k in ("id", "label", "score")} if top else None
    run["status"] = "pass"
    return run


def judge_top1(run: Dict[str, Any]) -> None:
    expected = run.get("expected") or {}
    top1 = run.get("top1")
    if run["status"] != "pass" or "id" not in expected:
        return
    if not top1 or int(top1["id"]) != int(expected["id"]):
        run["status"] = "fail"
        got = f"{top1['id']} {top1['label']!r} ({top1['score']:.3f})" if top1 else "nothing"
        run["error"] = f"wrong answer: top-1 is {got}, expected {expected['id']} {expected.get('label')!r}"
        run["wrong_answer"] = True


# --- the runs ---------------------------------------------------------------------------------------------
def _worker_env(ctx: ProbeContext) -> Optional[Dict[str, str]]:
    return dict(ctx.system.env) if ctx.system.is_host else None


def _run_model(
    ctx: ProbeContext, run: Dict[str, Any], payload: Dict[str, Any], labels: Optional[Dict[int, str]]
) -> Dict[str, Any]:
    payload = dict(payload, cwd=ctx.options.cwd, top_k=TOP_K)
    outcome = workerproc.run_worker(
        ctx.options.python, "infer", payload, timeout=ctx.options.timeout, env=_worker_env(ctx), cwd=ctx.options.cwd
    )
    return apply_outcome(run, outcome, labels)


def _prepare_input(model_set: models.ModelSet, info: Dict[str, Any], image: str) -> Tuple[Optional[str], Optional[str]]:
    inputs = (info or {}).get("inputs") or []
    if not inputs:
        return None, "the model's input could not be read"
    try:
        prepared = imageprep.prepare(image, inputs[0], mode=model_set.input_mode, resample=model_set.resample)
    except imageprep.ImagePrepError as exc:
        return None, str(exc)
    return prepared["input_path"], None


def _run_embedded(
    ctx: ProbeContext, manifest: models.Manifest, module: Optional[str], iterations: int, warmup: int
) -> Dict[str, Any]:
    embedded = manifest.embedded
    path = manifest.embedded_path()
    expected = {
        "raw_output": list(embedded.get("expected_output") or []),
        "tolerance": int(embedded.get("tolerance", 1)),
    }
    run = empty_run(f"embedded:{embedded.get('file')}", expected)
    if path is None or not path.exists():
        run["error"] = "the embedded model is missing from this installation"
        return run
    smoke = (ctx.facts.get("python_env") or {}).get("smoke") or {}
    if (
        smoke.get("status") == "pass"
        and (smoke.get("timings_ms") or {}).get("runs")
        and (module is None or smoke.get("module") == module)
    ):
        # The python-env probe has just run this very model in the examined interpreter: use that run
        # rather than starting another worker for the same answer.
        apply_outcome(run, workerproc.WorkerOutcome("env", workerproc.OK, result=smoke), labels=None)
        run["reused"] = "python_env.smoke"
    else:
        payload = {
            "module": module,
            "model_path": str(path),
            "input": list(embedded.get("input") or []),
            "expected_output": expected["raw_output"],
            "tolerance": expected["tolerance"],
            "iterations": iterations,
            "warmup": warmup,
        }
        _run_model(ctx, run, payload, labels=None)
    if run["status"] == "pass":
        got = run.get("raw_output")
        tolerance = expected["tolerance"]
        ok = (
            got is not None
            and len(got) == len(expected["raw_output"])  # type: ignore[arg-type]
            and all(abs(int(a) - int(b)) <= tolerance for a, b in zip(got, expected["raw_output"]))  # type: ignore[call-overload,operator]
        )
        if not ok:
            run["status"] = "fail"
            run["wrong_answer"] = True
            run["error"] = f"wrong answer: output {got}, expected {expected['raw_output']} (within {tolerance})"
    return run


def read(ctx: ProbeContext) -> Dict[str, Any]:
    facts = empty()
    reason = _not_run_because(ctx)
    if reason:
        return _skipped(facts, f"skipped: {reason}")
    try:
        manifest = models.load_manifest()
    except (OSError, ValueError) as exc:
        facts["error"] = f"cannot read the model manifest: {exc}"
        return _skipped(facts, facts["error"])
    try:
        model_set = manifest.get_set(ctx.options.model_set)
    except KeyError as exc:
        facts["error"] = str(exc.args[0])
        return _skipped(facts, facts["error"])
    job = _prepare(ctx, facts, manifest, model_set)
    facts["cpu"] = _cpu_run(job, facts)
    facts["tpu"] = _tpu_run(job, facts)
    speedup = _speedup(facts["cpu"], facts["tpu"])
    if speedup is not None:
        facts["speedup"] = speedup
    return facts


def _not_run_because(ctx: ProbeContext) -> Optional[str]:
    if not ctx.options.run_models:
        return "--no-models"
    if not ctx.system.is_host:
        return "examining a root folder, not this machine"
    return None


def _skipped(facts: Dict[str, Any], error: str) -> Dict[str, Any]:
    facts["cpu"], facts["tpu"] = empty_run(None, None, error=error), empty_run(None, None, error=error)
    return facts


class _Job:
    """One set's runs: what the CPU and the Edge TPU run share."""

    def __init__(self, ctx: ProbeContext, manifest: Any, model_set: Any, source: Dict[str, Any]) -> None:
        self.ctx, self.manifest, self.model_set, self.source = ctx, manifest, model_set, source
        self.files: Dict[str, Any] = source["files"]
        self.iterations = max(1, int(ctx.options.iterations or 1))
        self.warmup = int(manifest.judging.get("warmup", 1))
        self.module, self.no_module, self.examined = tflite_module(ctx.facts)
        self.expected = dict(model_set.expected)
        self.labels = self._labels()
        self.cpu_ready = all(self.ok(n) for n in (model_set.cpu_model, model_set.test_input))
        if model_set.labels:
            self.cpu_ready = self.cpu_ready and self.labels is not None

    def ok(self, name: Optional[str]) -> bool:
        return bool(name and self.files.get(name, {}).get("ok"))

    def _labels(self) -> Optional[Dict[int, str]]:
        if not (self.model_set.labels and self.ok(self.model_set.labels)):
            return None
        try:
            return models.read_labels(self.files[self.model_set.labels]["path"])
        except OSError:
            return None

    def classify(self, kind: str, info: Optional[Dict[str, Any]], delegate: Optional[Dict[str, Any]]):
        return _classify(
            self.ctx,
            self.model_set,
            kind,
            self.files,
            self.labels,
            self.expected,
            self.module,
            self.iterations,
            self.warmup,
            info,
            delegate=delegate,
        )


def _prepare(ctx: ProbeContext, facts: Dict[str, Any], manifest: Any, model_set: Any) -> _Job:
    """Resolve the set's files and fill the facts every run shares: source, link, references, model info."""
    facts["set"], facts["title"] = model_set.name, model_set.title
    module, _no_module, _examined = tflite_module(ctx.facts)
    facts["tflite_module"] = module
    settings = models.DownloadSettings.from_env(ctx.system.env)
    settings.progress = False  # the check's own progress display owns the terminal
    resolver = models.Resolver.from_options(manifest, ctx.options, env=ctx.system.env, settings=settings)
    source = resolver.resolve_set(model_set)
    facts["source"] = source
    link = link_of(ctx.facts)
    facts["link"] = link
    facts["reference"] = _references(manifest, model_set, link)
    job = _Job(ctx, manifest, model_set, source)
    for kind, name in (("cpu", model_set.cpu_model), ("tpu", model_set.tpu_model)):
        if job.ok(name):
            facts["model_info"][kind] = tflite_inspect.summary(tflite_inspect.inspect_file(job.files[name]["path"]))
    tpu_info = facts["model_info"]["tpu"]
    facts["min_runtime_version"] = tpu_info.get("min_runtime_version") if tpu_info else None
    return job


def _references(manifest: Any, model_set: Any, link: Dict[str, Any]) -> Dict[str, Any]:
    reference = {
        "tpu": model_set.reference_ms("tpu", link["reference_key"]) if link["reference_key"] else None,
        "tpu_usb3": model_set.reference_ms("tpu", "usb3"),
        "cpu": model_set.reference_ms("cpu", "desktop"),
        "slow_factor": float(manifest.judging.get("slow_factor", 3.0)),
        "python_overhead_ms": float(manifest.judging.get("python_overhead_ms", 1.0)),
        "measured_cpu": model_set.raw.get("measured_cpu"),
    }
    if reference["tpu"]:
        reference["tpu"]["source_info"] = manifest.source(reference["tpu"].get("source"))
    return reference


def _cpu_run(job: _Job, facts: Dict[str, Any]) -> Dict[str, Any]:
    model_set = job.model_set
    if job.module is None and job.examined:
        return empty_run(model_set.cpu_model, job.expected, error=f"no TFLite interpreter: {job.no_module}")
    if not job.cpu_ready:
        reasons = "; ".join(f"{n}: {job.files[n]['error']}" for n in job.source["missing"])
        facts["fallback"] = {
            "used": True,
            "reason": f"the known-good set {model_set.name!r} is not available: {reasons}",
            "unverified": ["the known-good model's top-1 answer on the CPU", "the Edge TPU run and its speed"],
        }
        return _run_embedded(job.ctx, job.manifest, job.module, job.iterations, job.warmup)
    return job.classify("cpu", facts["model_info"]["cpu"], delegate=None)


def _tpu_run(job: _Job, facts: Dict[str, Any]) -> Dict[str, Any]:
    tpu_model, expected = job.model_set.tpu_model, job.expected
    library, no_library = runtime_library(job.ctx.facts)
    devices = coral_devices(job.ctx.facts)
    if job.module is None and job.examined:
        return empty_run(tpu_model, expected, error=f"no TFLite interpreter: {job.no_module}")
    if not tpu_model:
        return empty_run(None, expected, error=f"the set {job.model_set.name!r} has no Edge TPU model")
    if not (devices["usb"] or devices["pcie"]):
        return empty_run(tpu_model, expected, error="no Edge TPU device found")
    if library is None:
        return empty_run(tpu_model, expected, error=f"skipped: {no_library}")
    if not (job.ok(tpu_model) and job.cpu_ready):
        return empty_run(
            tpu_model,
            expected,
            error="skipped: the known-good Edge TPU model or its test input is not available (see models.source)",
        )
    tpu = job.classify("tpu", facts["model_info"]["tpu"], delegate={"library": library, "options": {}})
    _compare_with_cpu(tpu, facts["cpu"])
    if tpu.get("latency_ms"):
        tpu["latency_ms"]["model_load_first"] = tpu["latency_ms"].get("first")
    return tpu


def _compare_with_cpu(tpu: Dict[str, Any], cpu: Optional[Dict[str, Any]]) -> None:
    """A passing Edge TPU run whose top-1 differs from the CPU's fails: the accelerator answered wrong."""
    if not (tpu["status"] == "pass" and cpu and cpu.get("status") == "pass" and cpu.get("top1") and tpu.get("top1")):
        return
    if cpu["top1"]["id"] != tpu["top1"]["id"]:
        tpu["status"] = "fail"
        tpu["wrong_answer"] = True
        tpu["error"] = (
            f"the Edge TPU's top-1 ({tpu['top1']['id']} {tpu['top1']['label']!r}) differs from "
            f"the CPU's ({cpu['top1']['id']} {cpu['top1']['label']!r})"
        )


def _speedup(cpu: Optional[Dict[str, Any]], tpu: Optional[Dict[str, Any]]) -> Optional[float]:
    if not (cpu and tpu and cpu.get("status") == "pass" and tpu.get("status") == "pass"):
        return None
    cpu_ms, tpu_ms = (cpu.get("latency_ms") or {}).get("median"), (tpu.get("latency_ms") or {}).get("median")
    return round(cpu_ms / tpu_ms, 2) if cpu_ms and tpu_ms else None


def _classify(
    ctx: ProbeContext,
    model_set: models.ModelSet,
    kind: str,
    files: Dict[str, Any],
    labels: Optional[Dict[int, str]],
    expected: Dict[str, Any],
    module: Optional[str],
    iterations: int,
    warmup: int,
    info: Optional[Dict[str, Any]],
    delegate: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    name = model_set.cpu_model if kind == "cpu" else model_set.tpu_model
    run = empty_run(name, expected)
    if info is None or not info.get("is_tflite"):
        run["status"] = "fail"
        run["error"] = (info or {}).get("error") or f"{name} could not be read"
        run["cause"] = (info or {}).get("cause")
        return run
    input_path, problem = _prepare_input(model_set, info, files[model_set.test_input]["path"])
    if problem:
        run["status"] = "fail"
        run["error"] = f"preparing the test input: {problem}"
        return run
    payload = {
        "module": module,
        "model_path": files[name]["path"],  # type: ignore[index]
        "input_path": input_path,
        "iterations": iterations,
        "warmup": warmup,
        "delegate": delegate,
    }
    try:
        _run_model(ctx, run, payload, labels)
    finally:
        try:
            os.unlink(input_path)  # type: ignore[arg-type]
        except OSError:
            pass
    if delegate:
        run["delegate"] = delegate
    judge_top1(run)
    return run
