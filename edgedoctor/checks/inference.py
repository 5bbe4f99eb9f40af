"""Model findings: where the known-good models came from, the CPU run, the Edge TPU run, its speed.

Pure: reads facts["inference"] (and facts["runtime"], facts["python_env"], facts["platform"] for context).
Causes of captured error texts come from the matrix; causes that only facts can show (a crash while the
delegate loads, a model that needs a newer runtime than the one installed, a slow USB 2 link) are named here.
Thresholds come from the manifest (facts["inference"]["reference"]).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from edgedoctor.checks import matched_entry
from edgedoctor.checks.runtime import library_name
from edgedoctor.report.findings import FAIL, INFO, PASS, SKIP, WARN, Finding

CRASH_STAGES = ("load-delegate", "load-model", "invoke")
UNRESOLVED_RE = re.compile(r"unresolved custom op:\s*edgetpu-custom-op", re.IGNORECASE)
NEEDS_RUNTIME_RE = re.compile(
    r"Package requires runtime version \((\d+)\), which is newer than this runtime "
    r"version \((\d+)\)",
    re.IGNORECASE,
)
LINK_NAMES = {
    "usb3": "USB 3",
    "usb2": "USB 2",
    "pcie": "PCIe",
    "usb": "USB (speed unknown)",
    "rpi4": "USB 3 on a Raspberry Pi 4",
}
USB3_REMEDY = (
    "Plug the USB Accelerator into a USB 3 port (blue, or marked SS) with the USB 3 cable that came with "
    "it, directly on the computer or through a powered USB 3 hub; avoid USB 2 hubs and extension cables. "
    "Then run edgedoctor again (lsusb -t shows 5000M for a USB 3 link)."
)
FETCH_REMEDY = (
    "Fetch the known-good models once (they are cached): edgedoctor models fetch\n"
    "Without internet access: copy the files listed by `edgedoctor models list` into a folder and run "
    "edgedoctor check --models-dir FOLDER, or serve them and set EDGEDOCTOR_MODELS_URL."
)


def _ms(value: Optional[float]) -> str:
    if value is None:
        return "?"
    if value < 0.1:
        return f"{value:.3f} ms"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _os(facts: Dict[str, Any]) -> Optional[str]:
    return (facts.get("platform") or {}).get("os")


def _run_text(run: Dict[str, Any]) -> str:
    parts = [run.get("error") or "", run.get("stderr") or "", run.get("traceback") or ""]
    worker = run.get("worker") or {}
    if isinstance(worker, dict) and worker.get("stderr"):
        parts.append(worker["stderr"])
    return "\n".join(p for p in parts if p)


def _verbatim(run: Dict[str, Any], limit: int = 1500) -> str:
    lines = []
    if run.get("error"):
        lines.append(run["error"])
    stderr = (run.get("stderr") or "").strip()
    if stderr and stderr not in (run.get("error") or ""):
        tail = stderr[-limit:]
        lines.append("stderr:\n" + ("..." if len(stderr) > limit else "") + tail)
    return "\n".join(lines)


def _tflite_version(facts: Dict[str, Any]) -> Optional[str]:
    tflite = (facts.get("python_env") or {}).get("tflite") or {}
    return tflite.get("version")


def _version_tuple(text: Optional[str]):
    numbers = re.findall(r"\d+", text or "")
    return tuple(int(n) for n in numbers[:3]) if numbers else None


# --- models.source ----------------------------------------------------------------------------------------
def _source(facts: Dict[str, Any], inference: Dict[str, Any]) -> List[Finding]:
    source = inference.get("source") or {}
    if not isinstance(source, dict):  # a report that only named where the set came from
        return [Finding("models.source", INFO, f"Known-good set '{inference.get('set')}' from {source}")]
    fallback = inference.get("fallback") or {}
    if not isinstance(fallback, dict):
        fallback = {}
    files = source.get("files") or {}
    name = inference.get("set")
    bad = [f for f in files.values() if not f.get("ok")]
    if fallback.get("used") or bad or source.get("ok") is False:
        lines = [f"{f['name']}: {f.get('error')}" for f in bad]
        tampered = [f["name"] for f in bad if "sha256" in (f.get("error") or "")]
        cut = [
            f["name"] for f in bad if "truncated" in (f.get("error") or "") or "closed after" in (f.get("error") or "")
        ]
        detail = "\n".join(lines)
        if fallback.get("used"):
            detail += (
                "\nThe embedded tiny model ran on the CPU instead, so these were not verified: "
                + ", ".join(fallback.get("unverified") or [])
                + "."
            )
        if tampered:
            detail += (
                f"\n{', '.join(tampered)}: the downloaded bytes do not match the manifest's sha256 (a changed "
                "or tampered copy, or a proxy's error page); nothing was kept."
            )
        if cut:
            detail += f"\n{', '.join(cut)}: the download was cut short; nothing was kept."
        remedy = FETCH_REMEDY
        if (source.get("where") or {}).get("offline"):
            remedy = "Run once without --offline, or give --models-dir FOLDER with the files.\n" + FETCH_REMEDY
        title = f"The known-good model set '{name}' could not be obtained"
        return [
            Finding(
                "models.source",
                WARN,
                title + ("; only the embedded model was run" if fallback.get("used") else ""),
                detail=detail.strip(),
                remedy=remedy,
            )
        ]
    if not files:
        return []
    origins = sorted({f.get("origin") for f in files.values() if f.get("origin")})
    words = {"mirror": "the mirror folder", "cache": "the cache", "download": "a download"}
    detail = "\n".join(f"{f['name']}: {f.get('origin')} {f.get('path')}" for f in files.values())
    return [
        Finding(
            "models.source",
            PASS,
            f"Known-good set '{name}' verified by sha256 (from {', '.join(words.get(o, o) for o in origins)})",
            detail=detail,
        )
    ]


def _timing_detail(run: Dict[str, Any], what: str, loads, first_name: str) -> str:
    latency = run.get("latency_ms") or {}
    parts = [f"{name} {_ms(value)}" for name, value in loads if value is not None]
    if latency.get("first") is not None:
        parts.append(f"{first_name} {_ms(latency['first'])}")
    if latency.get("median") is not None:
        parts.append(
            f"{run.get('iterations') or '?'} timed runs: median {_ms(latency['median'])}, "
            f"p90 {_ms(latency.get('p90'))}, min {_ms(latency.get('min'))}"
        )
    module = " ".join(str(x) for x in (run.get("module"), run.get("module_version")) if x)
    return f"{what}" + (f" with {module}" if module else "") + (": " + ", ".join(parts) if parts else "") + "."


def _numpy_abi(facts: Dict[str, Any], text: str) -> bool:
    numpy = ((facts.get("python_env") or {}).get("numpy") or {}).get("version") or ""
    return bool(
        re.search(r"compiled using NumPy 1\.x|_ARRAY_API not found|numpy\.core\.multiarray failed to import", text)
    ) or (str(numpy).startswith("2") and "CreateWrapperFromFile" in text)


# --- models.cpu ---------------------------------------------------------------------------------------------
def _failure(
    finding_id: str,
    title: str,
    run: Dict[str, Any],
    facts: Dict[str, Any],
    extra_causes: Optional[List[str]] = None,
    remedy: str = "",
    default_remedy: str = "edgedoctor explain 'ERROR TEXT' names the known causes of an error text.",
) -> Finding:
    text = _run_text(run)
    detail = _verbatim(run)
    worker = run.get("worker") or {}
    if worker.get("status") in ("crashed", "timeout") and worker.get("error") != run.get("error"):
        detail = (detail + "\n" if detail else "") + (
            f"Worker outcome: {worker.get('status')}"
            + (f", {worker.get('signal')}" if worker.get("signal") else "")
            + (f", during {worker.get('stage')}" if worker.get("stage") else "")
            + "."
        )
    causes = list(extra_causes or [])
    match = matched_entry(text, facts)
    if match and match.entry.cause not in causes:
        causes.append(match.entry.cause)
        remedy = remedy or match.entry.remedy_for(_os(facts))
        detail += "\n" + match.entry.shown_explanation
    if not causes and UNRESOLVED_RE.search(text):
        causes.append("delegate-not-loaded")
    return Finding(finding_id, FAIL, title, detail=detail.strip(), remedy=remedy or default_remedy, causes=causes)


def _cpu(facts: Dict[str, Any], inference: Dict[str, Any]) -> List[Finding]:
    run = inference.get("cpu")
    if not isinstance(run, dict):
        return []
    embedded = str(run.get("model") or "").startswith("embedded:")
    what = "the embedded tiny model" if embedded else f"'{inference.get('set')}' ({run.get('model')})"
    if run.get("status") == "skip":
        return [Finding("models.cpu", SKIP, "Known-good model on the CPU: not run", detail=run.get("error") or "")]
    median = (run.get("latency_ms") or {}).get("median")
    if run.get("status") == "pass":
        if embedded:
            title = f"CPU: the embedded tiny model gives the expected output (median {_ms(median)})"
            detail = f"output {run.get('raw_output')} with {run.get('module')} {run.get('module_version')}"
        else:
            top1 = run.get("top1") or {}
            title = (
                f"CPU: {inference.get('set')} top-1 is {top1.get('id')} '{top1.get('label')}' "
                f"({top1.get('score', 0):.3f}), median {_ms(median)}"
            )
            detail = _timing_detail(run, run.get("model"), [("model load", run.get("load_ms"))], "first inference")  # type: ignore[arg-type]
        return [Finding("models.cpu", PASS, title, detail=detail)]
    if run.get("wrong_answer"):
        return [
            Finding(
                "models.cpu",
                FAIL,
                f"CPU: {what} gives a wrong answer",
                detail=run.get("error") or "",
                remedy="The TFLite interpreter computes wrong results: reinstall it in a clean virtual "
                "environment (python3 -m venv .venv && .venv/bin/pip install tflite-runtime 'numpy<2') "
                "and run edgedoctor check --python .venv/bin/python.",
            )
        ]
    causes = []
    remedy = ""
    if run.get("cause"):
        causes.append(run["cause"])
    if _numpy_abi(facts, _run_text(run)):
        causes.append("numpy-abi")
        python = (facts.get("platform") or {}).get("python_executable") or "python3"
        remedy = f"tflite-runtime 2.14 and older are built against NumPy 1.x: {python} -m pip install 'numpy<2'"
    return [_failure("models.cpu", f"CPU: {what} fails to run", run, facts, causes, remedy=remedy)]


# --- models.tpu -----------------------------------------------------------------------------------------------
def _runtime_version(facts: Dict[str, Any]) -> Optional[int]:
    value = (facts.get("runtime") or {}).get("runtime_version")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _compat(facts: Dict[str, Any], inference: Dict[str, Any]) -> List[Finding]:
    info = (inference.get("model_info") or {}).get("tpu") or {}
    needed = info.get("min_runtime_version") if info else inference.get("min_runtime_version")
    have = _runtime_version(facts)
    if needed is None or have is None:
        return []
    model = info.get("path") or (inference.get("tpu") or {}).get("model")
    if needed > have:
        return [
            Finding(
                "models.runtime-version",
                FAIL,
                f"The Edge TPU model needs runtime version {needed}; the installed runtime is {have}",
                detail=f"{model}: min_runtime_version {needed} (DarwiNN package); libedgetpu reports "
                f"RuntimeVersion({have}). libedgetpu refuses it: 'Package requires runtime version "
                f"({needed}), which is newer than this runtime version ({have})'.",
                remedy="Upgrade the Edge TPU runtime to 16.0 (RuntimeVersion 14), or recompile the model "
                f"for the installed runtime: edgetpu_compiler -s -m {have} model.tflite",
                causes=["model-needs-newer-runtime"],
            )
        ]
    return [
        Finding(
            "models.runtime-version",
            PASS,
            f"The Edge TPU model needs runtime version {needed}; the installed runtime is {have}",
        )
    ]


def _tpu_crash_causes(facts: Dict[str, Any], run: Dict[str, Any]) -> List[str]:
    worker = run.get("worker") or {}
    if worker.get("status") != "crashed" or not worker.get("signal"):
        return []
    stage = worker.get("stage") or run.get("stage")
    if stage not in CRASH_STAGES and stage is not None:
        return []
    version = _version_tuple(_tflite_version(facts))
    if version is not None and version < (2, 12):
        return ["runtime-tflite-mismatch"]
    return ["tflite-too-new"]


def _tpu(facts: Dict[str, Any], inference: Dict[str, Any]) -> List[Finding]:
    run = inference.get("tpu")
    if not isinstance(run, dict):
        return []
    if run.get("status") == "skip":
        return [Finding("models.tpu", SKIP, "Known-good model on the Edge TPU: not run", detail=run.get("error") or "")]
    if run.get("status") == "pass":
        return [_tpu_passed(run, inference)]
    if run.get("wrong_answer"):
        return [
            Finding(
                "models.tpu",
                FAIL,
                "Edge TPU: the known-good model gives a wrong answer",
                detail=run.get("error") or "",
                remedy="Use matching runtime and interpreter versions (see the runtime and Python findings); "
                "if they match, try another USB port and cable, and re-seat a PCIe card.",
            )
        ]
    causes = _tpu_crash_causes(facts, run)
    text = _run_text(run)
    if NEEDS_RUNTIME_RE.search(text) and "model-needs-newer-runtime" not in causes:
        causes.append("model-needs-newer-runtime")
    if UNRESOLVED_RE.search(text) and "delegate-not-loaded" not in causes:
        causes.append("delegate-not-loaded")
    title, remedy = _tpu_failure_title_and_remedy(facts, run, causes)
    if "delegate-not-loaded" in causes and not remedy:
        remedy = (
            "The Edge TPU delegate was not applied, so the edgetpu-custom-op has no kernel. Load it: "
            f"tflite.Interpreter(model_path, experimental_delegates=[tflite.load_delegate('{library_name(_os(facts))}')]) "
            "(pycoral.utils.edgetpu.make_interpreter does this), or run the CPU twin of the model."
        )
    if "model-needs-newer-runtime" in causes and not remedy:
        remedy = (
            "Upgrade the Edge TPU runtime to 16.0 (RuntimeVersion 14), or recompile the model with "
            "edgetpu_compiler -s -m <installed runtime version> model.tflite"
        )
    return [_failure("models.tpu", title, run, facts, causes, remedy=remedy)]


def _tpu_passed(run: Dict[str, Any], inference: Dict[str, Any]) -> Finding:
    median = (run.get("latency_ms") or {}).get("median")
    top1 = run.get("top1") or {}
    speedup = inference.get("speedup")
    title = (
        f"Edge TPU: {inference.get('set')} top-1 is {top1.get('id')} '{top1.get('label')}' "
        f"({top1.get('score', 0):.3f}), median {_ms(median)}" + (f", {speedup:g}x the CPU" if speedup else "")
    )
    library = (run.get("delegate") or {}).get("library")
    detail = _timing_detail(
        run,
        f"{run.get('model')}" + (f" through {library}" if library else ""),
        [("delegate load", run.get("delegate_load_ms")), ("interpreter", run.get("load_ms"))],
        "first inference (loads the model onto the Edge TPU)",
    )
    return Finding("models.tpu", PASS, title, detail=detail)


def _tpu_failure_title_and_remedy(facts: Dict[str, Any], run: Dict[str, Any], causes: List[str]):
    """How the Edge TPU run failed (hung, crashed, no delegate, other), and the remedy that goes with it."""
    worker = run.get("worker") or {}
    stage = worker.get("stage") or run.get("stage")
    if worker.get("status") == "timeout":
        title = f"Edge TPU: the known-good model hung ({'while ' + stage if stage else 'no answer'})"
        return title, (
            "Unplug the Edge TPU and plug it in again (a USB 3 port, a powered hub), make sure no other program "
            "uses it, then run edgedoctor again; a runtime that hangs while loading the delegate may not match "
            "this system."
        )
    if worker.get("status") == "crashed":
        title = (
            f"Edge TPU: the run crashed ({worker.get('signal') or 'exit ' + str(worker.get('returncode'))}"
            + (f" while {stage}" if stage else "")
            + ")"
        )
        if "tflite-too-new" not in causes:
            return title, ""
        version = _tflite_version(facts)
        return title, (
            f"The TFLite interpreter ({version or 'unknown version'}) is newer than the official libedgetpu "
            "(built against TensorFlow 2.5) supports. Use a matching pair: tflite-runtime 2.5.0.post1 with "
            "libedgetpu 16.0 on Python 3.6-3.9, or feranick's libedgetpu and tflite_runtime builds of the "
            "same TensorFlow version on newer Python."
        )
    if run.get("stage") == "delegate" or stage == "load-delegate":
        return "Edge TPU: the delegate could not be loaded", (
            "load_delegate() could not open the Edge TPU. Check the device and runtime findings above (the "
            "device listed and accessible to this user: the udev rule and group plugdev, or apex for PCIe; the "
            "runtime installed), unplug the accelerator and plug it into a USB 3 port again, make sure no other "
            "process holds it, then run edgedoctor again."
        )
    return "Edge TPU: the known-good model fails", ""


def _mapping(inference: Dict[str, Any]) -> List[Finding]:
    info = (inference.get("model_info") or {}).get("tpu") or {}
    tpu = info.get("edgetpu") or {}
    if not tpu or tpu.get("fully_mapped", True):
        return []
    return [
        Finding(
            "models.mapping",
            WARN,
            f"{tpu.get('cpu_ops')} operations of the Edge TPU model run on the CPU",
            detail=f"{info.get('path')}: {tpu.get('tpu_ops')} edgetpu-custom-op, CPU ops: "
            f"{', '.join(tpu.get('cpu_op_names') or [])}.",
            remedy="Quantize the whole model to int8/uint8 and use only Edge TPU-supported operations, then "
            "recompile with edgetpu_compiler -s (it lists the ops that stay on the CPU).",
            causes=["model-cpu-fallback"],
        )
    ]


def _cited(entry) -> str:
    return (
        f"{entry['ms']:g} ms published for {LINK_NAMES.get(entry.get('key'), entry.get('key'))} ({entry.get('source')})"
    )


# --- models.speed ---------------------------------------------------------------------------------------------
def _speed(facts: Dict[str, Any], inference: Dict[str, Any]) -> List[Finding]:
    run = inference.get("tpu")
    if not isinstance(run, dict) or run.get("status") != "pass":
        return []
    median = (run.get("latency_ms") or {}).get("median")
    if median is None:
        return []
    link = inference.get("link") if isinstance(inference.get("link"), dict) else None
    reference = inference.get("reference") if isinstance(inference.get("reference"), dict) else None
    if link is None or reference is None:
        link, reference = _rederive(facts, inference, link)
    kind = link.get("link")
    ref = reference.get("tpu")
    usb3 = reference.get("tpu_usb3")
    factor = float(reference.get("slow_factor") or 3.0)
    overhead = float(reference.get("python_overhead_ms") or 1.0)
    where = LINK_NAMES.get(link.get("reference_key") or kind or "", "an unknown link")

    if kind == "usb2":
        detail = f"The Edge TPU is on a USB 2 link ({link.get('speed_mbps')} Mbit/s); median {_ms(median)}."
        if usb3:
            detail += f" On USB 3: {_cited(usb3)}."
        if ref:
            detail += f" On USB 2: {_cited(ref)}."
        return [
            Finding(
                "models.speed",
                WARN,
                f"Edge TPU on USB 2: median {_ms(median)}" + (f" vs {usb3['ms']:g} ms on USB 3" if usb3 else ""),
                detail=detail,
                remedy=USB3_REMEDY,
                causes=["usb2-link"],
            )
        ]
    if not ref and not usb3:
        return [Finding("models.speed", INFO, f"Edge TPU median {_ms(median)} (no published reference for this model)")]
    ref = ref or usb3
    limit = factor * float(ref["ms"]) + overhead
    if median <= limit:
        return [
            Finding(
                "models.speed",
                PASS,
                f"Edge TPU speed as expected: median {_ms(median)} on {where}",
                detail=f"Reference: {_cited(ref)}; judged slow above {limit:.1f} ms.",
            )
        ]
    return [_slower_than_published(facts, median, where, ref, limit, kind, usb3)]


def _slower_than_published(facts, median, where: str, ref, limit: float, kind, usb3) -> Finding:
    causes: List[str] = []
    detail = f"Median {_ms(median)} on {where}; reference: {_cited(ref)}; judged slow above {limit:.1f} ms."
    remedy = (
        "Check for a USB 2 link (lsusb -t), throttling (the libedgetpu1-std runtime runs USB Accelerators at "
        "reduced clock; libedgetpu1-max is faster but hotter), other load on the CPU, and the device temperature."
    )
    if kind in ("usb", "usb3", None) and usb3:
        causes.append("usb2-link")
        detail += " This is what a USB 2 link gives."
        remedy = USB3_REMEDY + "\n" + remedy
    flavor = (facts.get("runtime") or {}).get("flavor")
    if flavor == "std":
        detail += " The installed runtime is the throttled libedgetpu1-std build."
    return Finding(
        "models.speed",
        WARN,
        f"Edge TPU slower than published: median {_ms(median)} on {where}",
        detail=detail,
        remedy=remedy,
        causes=causes,
    )


def _rederive(facts: Dict[str, Any], inference: Dict[str, Any], link: Optional[Dict[str, Any]]):
    """Link and reference latencies for a report that does not carry them: from its device facts and today's
    manifest (the same data the probe would have used)."""
    from edgedoctor import models
    from edgedoctor.probes.inference import link_of

    link = link or link_of(facts)
    reference: Dict[str, Any] = {}
    try:
        manifest = models.load_manifest()
        model_set = manifest.get_set(inference.get("set"))
    except (OSError, ValueError, KeyError):
        return link, reference
    key = link.get("reference_key")
    reference = {
        "tpu": model_set.reference_ms("tpu", key) if key else None,
        "tpu_usb3": model_set.reference_ms("tpu", "usb3"),
        "slow_factor": float(manifest.judging.get("slow_factor", 3.0)),
        "python_overhead_ms": float(manifest.judging.get("python_overhead_ms", 1.0)),
    }
    return link, reference


def check(facts: Dict[str, Any]) -> List[Finding]:
    inference = facts.get("inference")
    if not isinstance(inference, dict):
        return []
    if inference.get("skipped"):
        return [Finding("models.run", SKIP, f"Known-good models not run ({inference['skipped']})")]
    cpu = inference.get("cpu") or {}
    if inference.get("error") and not inference.get("set"):
        return [
            Finding(
                "models.run",
                FAIL if "manifest" in inference["error"] else SKIP,
                "The known-good models could not be run",
                detail=inference["error"],
                remedy="Reinstall edgedoctor (its models/manifest.toml is missing or damaged)."
                if "manifest" in inference["error"]
                else "edgedoctor models list shows the known sets.",
            )
        ]
    if isinstance(cpu, dict) and str(cpu.get("error") or "").startswith("skipped: --no-models"):
        return [Finding("models.run", SKIP, "Known-good models not run (--no-models)")]
    findings: List[Finding] = []
    findings += _source(facts, inference)
    findings += _cpu(facts, inference)
    findings += _compat(facts, inference)
    findings += _mapping(inference)
    findings += _tpu(facts, inference)
    findings += _speed(facts, inference)
    return findings
