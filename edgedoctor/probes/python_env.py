"""The examined interpreter's Python stack, read by the worker in a child process.

Runs `edgedoctor/worker` task `env` under `ctx.options.python`: which TFLite interpreter imports and its
version (or the verbatim error), numpy, pycoral (Google's, the PyPI impostor, or absent), shadowing source
trees, and a smoke run of the embedded tiny model (the numpy 2 ABI failure shows only when an interpreter is
created). A crash, hang or garbage from the worker becomes facts with the error; this never raises.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from edgedoctor.machine import workerproc
from edgedoctor.probes import ProbeContext
from edgedoctor.util import datafiles


def embedded_model_spec(iterations: int = 3) -> Optional[Dict[str, Any]]:
    """The smoke-run payload for the embedded tiny model, from models/manifest.toml `[embedded]`."""
    from edgedoctor.util.tomlcompat import load_toml

    manifest = datafiles.models_dir() / "manifest.toml"
    try:
        embedded = load_toml(manifest).get("embedded")
    except (OSError, ValueError):
        return None
    if not embedded or not embedded.get("file"):
        return None
    path = datafiles.models_dir() / embedded["file"]
    if not path.exists():
        return None
    return {
        "model_path": str(path),
        "input": list(embedded.get("input") or []),
        "expected_output": list(embedded.get("expected_output") or []),
        "tolerance": int(embedded.get("tolerance", 1)),
        "iterations": iterations,
        "warmup": 1,
        "top_k": 3,
    }


def _section(name: str, data: Optional[Dict[str, Any]], keys) -> Dict[str, Any]:
    data = data or {}
    return {key: data.get(key) for key in keys}


def summarise(result: Dict[str, Any]) -> Dict[str, Any]:
    """Worker answer -> the `python_env` facts section of the report contract (plus the details)."""
    tflite = result.get("tflite") or {}
    candidates = tflite.get("candidates") or {}
    module = tflite.get("module")
    error = None
    own = False
    stderr = ""
    if module is None:
        # The most telling import error: of the first candidate that is installed.
        for name, info in candidates.items():
            if info.get("found") and info.get("error"):
                error = f"{name}: {info['error']}"
                stderr = info.get("stderr") or ""
                break
        if error is None:
            error = "no TFLite interpreter (tflite_runtime, ai_edge_litert or tensorflow) is installed"
            own = True
    numpy = result.get("numpy") or {}
    pycoral = result.get("pycoral") or {}
    return {
        "python": result.get("python"),
        "tflite": {
            "module": module,
            "version": tflite.get("version"),
            "path": tflite.get("path"),
            "error": error,
            "stderr": stderr,
            "candidates": candidates,
            # edgedoctor's own sentence, not a captured error text: never fed to the matcher
            **({"error_source": "edgedoctor"} if own else {}),
        },
        "numpy": {
            "version": numpy.get("version") or numpy.get("dist_version"),
            "path": numpy.get("path"),
            "found": numpy.get("found"),
            "error": numpy.get("error"),
            "stderr": numpy.get("stderr", ""),
        },
        "pycoral": {
            "version": pycoral.get("version"),
            "identity": pycoral.get("identity", "unknown"),
            "path": pycoral.get("path"),
            "error": pycoral.get("error"),
            "summary": pycoral.get("summary"),
            "shadowed": pycoral.get("shadowed", False),
            "imported": pycoral.get("imported"),
            "stderr": pycoral.get("stderr", ""),
        },
        "legacy_edgetpu": result.get("legacy_edgetpu"),
        "packages": result.get("packages") or {},
        "smoke": result.get("smoke"),
        "cwd": result.get("cwd"),
    }


def read(ctx: ProbeContext) -> Dict[str, Any]:
    smoke = embedded_model_spec(ctx.options.iterations)
    payload: Dict[str, Any] = {"cwd": ctx.options.cwd}
    if smoke:
        payload["smoke"] = smoke
    attempts = workerproc.run_worker_resilient(
        ctx.options.python, "env", payload, timeout=ctx.options.timeout, cwd=ctx.options.cwd
    )
    last = attempts[-1]
    crashes: List[Dict[str, Any]] = [a.to_fact() for a in attempts if not a.ok]
    if last.ok and isinstance(last.result, dict):
        facts = summarise(last.result)
    else:
        facts = summarise({})
        facts["tflite"]["error"] = None
        facts["error"] = last.error
    facts.setdefault("error", None)
    facts["python_executable_requested"] = ctx.options.python
    facts["selected"] = ctx.options.python_choice
    facts["worker"] = {
        "status": last.status,
        "error": last.error,
        "crashes": crashes,
        "duration_ms": round(sum(a.duration_ms for a in attempts), 1),
    }
    # A stage that crashed the worker is a fact about that stage (an import that segfaults, a smoke run
    # that hangs): put the verbatim reason where the checks and the matcher look.
    for attempt in attempts[:-1] if last.ok else attempts:
        stage = attempt.stage or ""
        reason = f"{attempt.error}" + (f"\n{attempt.stderr}" if attempt.stderr else "")
        if stage.startswith("import-") and stage[7:] in facts["tflite"]["candidates"]:
            facts["tflite"]["candidates"][stage[7:]].update({"error": attempt.error, "crashed": True})
            if facts["tflite"]["module"] is None:
                facts["tflite"]["error"] = f"{stage[7:]}: {attempt.error}"
                facts["tflite"]["stderr"] = attempt.stderr
        elif stage == "import-numpy":
            facts["numpy"].update({"error": reason, "crashed": True})
        elif stage == "import-pycoral":
            facts["pycoral"].update({"error": reason, "crashed": True})
        elif stage in ("smoke", "load-model", "invoke", "load-delegate"):
            facts["smoke"] = {
                "status": "fail",
                "error": attempt.error,
                "stderr": attempt.stderr,
                "crashed": True,
                "stage": stage,
            }
    return facts
