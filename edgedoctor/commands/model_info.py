"""`edgedoctor model-info FILE`: look inside a .tflite model without hardware, TensorFlow or numpy."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from edgedoctor import exitcodes

NAME = "model-info"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the .tflite model to inspect")
    parser.add_argument("--format", choices=["terminal", "text", "json"], default="terminal")
    parser.add_argument(
        "--runtime-version",
        type=_runtime_version,
        metavar="N",
        help="also say whether an Edge TPU runtime with RuntimeVersion(N) can load the model",
    )


def _runtime_version(text: str) -> int:
    """A RuntimeVersion: a whole number from 0 (libedgetpu's are 10 to 14 so far)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"must be a RuntimeVersion from 0 to 10000, not {value}")
    return value


def _quant(q: Optional[Dict[str, Any]]) -> str:
    if not q:
        return "not quantized"
    scale = q.get("scale")
    zero = q.get("zero_point")
    if q.get("per_channel"):
        return f"per-channel ({len(scale)} scales, axis {q.get('quantized_dimension')})"  # type: ignore[arg-type]
    return f"scale {scale:.6g}, zero point {zero}"


def _tensors(title: str, tensors: List[Dict[str, Any]]) -> List[str]:
    lines = [f"{title}:"]
    for t in tensors:
        lines.append(f"  {t.get('name')}  {t.get('shape')}  {t.get('dtype')}  {_quant(t.get('quantization'))}")
    return lines


def known_file(sha256: Optional[str]) -> Optional[str]:
    """The manifest's name for a file with this sha256, if it is one of Coral's known-good files."""
    if not sha256:
        return None
    try:
        from edgedoctor import models

        manifest = models.load_manifest()
    except (OSError, ValueError):
        return None
    return manifest.known_as(sha256)


def render_text(info: Dict[str, Any]) -> str:
    lines = _identity_lines(info)
    if not info.get("is_tflite"):
        return "\n".join(lines + _not_usable_lines(info)) + "\n"
    subgraphs = info.get("subgraphs") or []
    lines.append(
        f"TFLite model, schema version {info.get('schema_version')}, {len(subgraphs)} subgraph(s), "
        f"{info.get('buffers')} buffers" + (f": {info['description']}" if info.get("description") else "")
    )
    counts = info.get("operators") or {}
    listed = ", ".join(f"{name} x{count}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1]))
    lines.append(f"Operators ({info.get('operator_count')}): {listed}")
    tpu = info.get("edgetpu")
    if tpu:
        lines += _edgetpu_lines(tpu)
    else:
        lines.append("Not compiled for the Edge TPU (no edgetpu-custom-op): it runs on the CPU only.")
    custom = [c for c in info.get("custom_ops") or [] if c != "edgetpu-custom-op"]
    if custom:
        lines.append(f"Other custom operators (need their own kernels): {', '.join(custom)}")
    lines += _tensors("Inputs", info.get("inputs") or [])
    lines += _tensors("Outputs", info.get("outputs") or [])
    verdict = info.get("runtime_check")
    if verdict:
        lines.append(_runtime_verdict(verdict))
    return "\n".join(lines) + "\n"


def _identity_lines(info: Dict[str, Any]) -> List[str]:
    """The file: its size and sha256, and whether it is one of the manifest's."""
    lines = [
        f"{info.get('path')}: {info.get('size'):,} bytes, sha256 {info.get('sha256')}"
        if info.get("size") is not None
        else f"{info.get('path')}"
    ]
    known = info.get("known_as")
    if known and known.startswith("embedded:"):
        lines.append("This is edgedoctor's embedded tiny model (sha256 matches the manifest).")
    elif known:
        lines.append(f"This is Coral's known-good file {known} (sha256 matches edgedoctor's manifest).")
    return lines


def _not_usable_lines(info: Dict[str, Any]) -> List[str]:
    lines = [f"NOT USABLE: {info.get('error')}"]
    if info.get("cause"):
        lines.append(f"cause: {info['cause']}")
        lines.append(
            "Download the model again from its raw URL (on GitHub: the 'Raw' / '?raw=true' link, not "
            "the page), and compare its size and sha256 with the publisher's."
        )
    return lines


def _edgetpu_lines(tpu: Dict[str, Any]) -> List[str]:
    """What the Edge TPU part of the model maps, needs, and holds."""
    mapped = (
        "fully mapped to the Edge TPU"
        if tpu.get("fully_mapped")
        else f"{tpu.get('cpu_ops')} operations run on the CPU ({', '.join(tpu.get('cpu_op_names') or [])}); "
        "cause: model-cpu-fallback"
    )
    lines = [f"Edge TPU model: {tpu.get('tpu_ops')} edgetpu-custom-op, {mapped}"]
    # Coral's public compilers write "cl/" with the changelist number left out: nothing to tell then.
    compilers = [v for v in tpu.get("compiler_versions") or [] if v.strip().rstrip("/") not in ("", "cl")]
    lines.append(
        f"  needs Edge TPU runtime version >= {tpu.get('min_runtime_version')}"
        + (
            f" (compiler version {', '.join(compilers)})"
            if compilers
            else " (the compiler left no version in the model)"
        )
    )
    for number, package in enumerate(tpu.get("packages") or []):
        lines.append(_package_line(number, package))
    return lines


def _package_line(number: int, package: Dict[str, Any]) -> str:
    if package.get("error"):
        return f"  package {number}: {package['error']}"
    exes = ", ".join(
        f"{e.get('type')} on {e.get('chip')} ({e.get('parameters_bytes'):,} bytes of parameters)"
        for e in package.get("executables") or []
    )
    return (
        f"  package {number}: min_runtime_version {package.get('min_runtime_version')}, "
        f"virtual chip {package.get('virtual_chip_id')}; {exes}"
    )


def _runtime_verdict(verdict: Dict[str, Any]) -> str:
    return f"Runtime {verdict['runtime_version']}: " + (
        "can load this model"
        if verdict["loads"]
        else f"CANNOT load it (needs {verdict['min_runtime_version']}; cause: model-needs-newer-runtime; "
        f"recompile with edgetpu_compiler -m {verdict['runtime_version']} or upgrade the runtime)"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgedoctor.models import tflite_inspect

    path = Path(args.file)
    if not path.is_file():
        print(f"edgedoctor model-info: {args.file}: no such file", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    info = tflite_inspect.inspect_file(path)
    info["known_as"] = known_file(info.get("sha256"))
    info["runtime_check"] = tflite_inspect.judge_runtime(info, args.runtime_version) if info.get("is_tflite") else None
    if args.format == "json":
        sys.stdout.write(json.dumps({"schema_version": 1, "model": info}, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(info))
    if not info.get("is_tflite"):
        return exitcodes.FAILURE
    if info["runtime_check"] and not info["runtime_check"]["loads"]:
        return exitcodes.FAILURE
    return exitcodes.SUCCESS
