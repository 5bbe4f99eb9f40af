"""The embedded tiny model: rebuilt from its script it is byte-identical, the manifest holds what the script
computed, and a real tflite-runtime gives the output the script's reference arithmetic predicted."""

import hashlib
import importlib.util
import subprocess
import sys

import pytest
from helpers_models import REPO, tflite_venv  # noqa: F401  (pytest fixture)

from edgedoctor import models
from edgedoctor.machine import workerproc

pytestmark = pytest.mark.venv
SCRIPT = REPO / "models" / "build_tiny_model.py"


def _builder_python():
    """An interpreter with numpy and the pinned flatbuffers for the build script: this one when it has exactly
    that version, else a small cached venv."""
    pinned = models.load_manifest().embedded["flatbuffers"]
    if importlib.util.find_spec("numpy") and importlib.util.find_spec("flatbuffers"):
        import flatbuffers

        if getattr(flatbuffers, "__version__", None) == pinned:
            return sys.executable
    from venvs import make_venv

    return make_venv("3.11", ["numpy<2", f"flatbuffers=={pinned}"], name="tiny-build")


def test_rebuild_is_byte_identical_and_matches_the_manifest(tmp_path):
    python = _builder_python()
    proc = subprocess.run(
        [python, str(SCRIPT), "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    manifest = models.load_manifest()
    embedded = manifest.embedded
    rebuilt = (tmp_path / embedded["file"]).read_bytes()
    committed = (REPO / "models" / embedded["file"]).read_bytes()
    assert rebuilt == committed
    assert hashlib.sha256(rebuilt).hexdigest() == embedded["sha256"] and len(rebuilt) == embedded["size"]
    block = (tmp_path / "embedded.toml").read_text()
    assert block in (REPO / "models" / "manifest.toml").read_text()
    check = subprocess.run([python, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "up to date" in check.stdout


def test_real_tflite_runtime_gives_the_expected_output(tflite_venv):
    manifest = models.load_manifest()
    embedded = manifest.embedded
    # The payload the python-env probe sends: {"model_path", "input"}; it compares raw_output.
    outcome = workerproc.run_worker(
        tflite_venv, "infer", {"model_path": str(manifest.embedded_path()), "input": embedded["input"]}, timeout=60
    )
    assert outcome.ok, outcome.error
    result = outcome.result
    assert result["status"] == "pass", result.get("error")
    assert result["module"] == "tflite_runtime" and result["module_version"] == "2.14.0"
    assert result["raw_output"] == embedded["expected_output"]  # exact, tolerance unused
    assert len(embedded["input"]) == 16 and embedded["input_shape"] == [1, 16]
    assert embedded["output_shape"] == [1, 4] and embedded["tolerance"] == 1


def _builder_module():
    if not (importlib.util.find_spec("numpy") and importlib.util.find_spec("flatbuffers")):
        pytest.skip("numpy and flatbuffers are needed to import the build script here")
    import flatbuffers

    assert flatbuffers.__version__
    spec = importlib.util.spec_from_file_location("build_tiny_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_arithmetic_is_tflites():
    import numpy as np

    m = _builder_module()
    # QuantizeMultiplier: 0.5 -> (2^30, 0); 0.25 -> (2^30, -1); 1.0 -> (2^30, 1)
    assert m.quantize_multiplier(0.5) == (1 << 30, 0)
    assert m.quantize_multiplier(0.25) == (1 << 30, -1)
    assert m.quantize_multiplier(1.0) == (1 << 30, 1)
    # gemmlowp RoundingDivideByPOT rounds half away from zero
    x = np.array([5, 6, 7, -5, -6, -7, 4, -4], dtype=np.int64)
    assert m.rounding_divide_by_pot(x, 1).tolist() == [3, 3, 4, -3, -3, -4, 2, -2]
    # SaturatingRoundingDoublingHighMul(a, 2^30) == a / 2 with gemmlowp's nudge: 1.5 -> 2, but -1.5 -> -1
    high = m.saturating_rounding_doubling_high_mul(np.array([3, -3, -5, 100], dtype=np.int64), 1 << 30)
    assert high.tolist() == [2, -1, -2, 50]
    # the chosen data stay clear of rounding ties, so kernels that round differently agree
    data = m.choose_data()
    assert data["margin"] >= m.MIN_MARGIN
    assert data["output"].tolist() == models.load_manifest().embedded["expected_output"]
