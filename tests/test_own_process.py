"""edgedoctor never imports numpy, a TFLite interpreter or pycoral in its own process: a broken numpy in the
examined environment must not be able to take the doctor down. Everything risky happens in the worker."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models"

PROGRAM = r"""
import json, sys
from edgedoctor.cli import main
code = main(sys.argv[1:])
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "tflite_runtime", "ai_edge_litert", "tensorflow", "pycoral"))
sys.stderr.write("\nIMPORTED=" + json.dumps(bad) + "\n")
"""


def imported_by(*argv, cwd):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, *map(str, argv)], capture_output=True, text=True, timeout=600, cwd=cwd
    )
    line = [text for text in result.stderr.splitlines() if text.startswith("IMPORTED=")]
    assert line, result.stderr[-2000:]
    return json.loads(line[-1][len("IMPORTED=") :]), result


def test_check_with_models_imports_none_of_the_patients_stack(tmp_path):
    imported, result = imported_by(
        "check", "--offline", "--models-dir", SHARED_MODELS, "--format", "json", "--iterations", "1", cwd=REPO
    )
    assert imported == [], imported
    report = json.loads(result.stdout)
    assert report["facts"]["inference"]["model_info"]  # the models were inspected (flatbuffers) in-process


def test_model_info_and_explain_import_none_of_it(tmp_path):
    model = SHARED_MODELS / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"
    assert imported_by("model-info", model, cwd=REPO)[0] == []
    assert imported_by("explain", "AttributeError: _ARRAY_API not found", cwd=REPO)[0] == []
