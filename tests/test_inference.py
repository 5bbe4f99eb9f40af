"""Real model runs on a real tflite-runtime 2.14 (CPU), the known-good answers, the verbatim failure texts and
how the checks judge them. The Edge TPU path with a fake libedgetpu is in test_inference_tpu.py."""

import json

import pytest
from helpers_models import (  # noqa: F401
    SHARED_MODELS,
    finding,
    model_server,
    no_proxy,
    part_files,
    require_shared_models,
    run_probe,
    tflite_venv,
)

from edgedoctor.checks import inference as check_inference
from edgedoctor.machine import workerproc
from edgedoctor.probes import inference

pytestmark = pytest.mark.venv


@pytest.mark.parametrize(
    "model_set,top_id,label",
    [("inat-bird", 923, "Ara macao (Scarlet Macaw)"), ("mobilenet-v1-025", 89, "macaw"), ("mnist-lstm", 9, "9")],
)
def test_known_good_sets_on_the_cpu(tflite_venv, tmp_path, model_set, top_id, label):
    section, findings = run_probe(
        tflite_venv, tmp_path, models_dir=str(require_shared_models()), model_set=model_set, offline=True
    )
    cpu = section["cpu"]
    assert cpu["status"] == "pass", cpu["error"]
    assert cpu["top1"]["id"] == top_id and cpu["top1"]["label"] == label
    assert cpu["module"] == "tflite_runtime" and cpu["module_version"] == "2.14.0"
    lat = cpu["latency_ms"]
    assert cpu["iterations"] == 3 and 0 < lat["min"] <= lat["median"] <= lat["p90"] and lat["first"] > 0
    assert cpu["load_ms"] > 0
    assert section["tpu"]["status"] == "skip" and section["tpu"]["error"] == "no Edge TPU device found"
    assert section["model_info"]["tpu"]["min_runtime_version"] == 12
    assert section["fallback"] is None
    assert finding(findings, "models.cpu").status == "pass"
    assert finding(findings, "models.source").status == "pass"
    assert finding(findings, "models.tpu").status == "skip"
    if model_set == "inat-bird":
        assert cpu["top1"]["score"] == pytest.approx(0.81641, abs=0.03)
    if model_set == "mnist-lstm":  # the first inference's answer (the LSTM keeps state between runs)
        assert cpu["top1"]["score"] == pytest.approx(0.996, abs=0.01)


def test_edgetpu_model_without_the_delegate_is_delegate_not_loaded(tflite_venv):
    model = require_shared_models() / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"
    outcome = workerproc.run_worker(
        tflite_venv,
        "infer",
        {"module": "tflite_runtime", "model_path": str(model), "input": [0] * (128 * 128 * 3)},
        timeout=60,
    )
    run = inference.apply_outcome(inference.empty_run(model.name, {"id": 89, "label": "macaw"}, "fail"), outcome, None)
    assert run["status"] == "fail"
    assert "Encountered unresolved custom op: edgetpu-custom-op" in run["error"]
    assert "Node number 0 (edgetpu-custom-op) failed to prepare" in run["error"]
    assert run["error"].startswith("RuntimeError: ")
    facts = {
        "platform": {"os": "linux"},
        "inference": {"set": "mobilenet-v1-025", "cpu": None, "tpu": run, "speedup": None},
    }
    tpu = finding(check_inference.check(facts), "models.tpu")
    assert tpu.status == "fail"
    assert tpu.causes[0] == "delegate-not-loaded"
    assert "Encountered unresolved custom op: edgetpu-custom-op" in tpu.detail
    assert "load_delegate" in tpu.remedy


def test_downloaded_set_runs(tflite_venv, tmp_path, model_server):
    section, findings = run_probe(tflite_venv, tmp_path, models_url=model_server.url, model_set="mobilenet-v1-025")
    assert section["cpu"]["status"] == "pass" and section["cpu"]["top1"]["label"] == "macaw"
    assert {f["origin"] for f in section["source"]["files"].values()} == {"download"}
    assert "a download" in finding(findings, "models.source").title
    again, _ = run_probe(tflite_venv, tmp_path, models_url=model_server.url, model_set="mobilenet-v1-025")
    assert {f["origin"] for f in again["source"]["files"].values()} == {"cache"}


@pytest.mark.parametrize("mode", ["tamper", "truncate", "404", "stall"])
def test_probe_completes_when_the_download_fails(tflite_venv, tmp_path, model_server, monkeypatch, mode):
    monkeypatch.setenv("EDGEDOCTOR_DOWNLOAD_TIMEOUT", "0.5")
    monkeypatch.setenv("EDGEDOCTOR_DOWNLOAD_RETRIES", "2")
    model_server.behaviour["mobilenet_v1_0.25_128_quant.tflite"] = mode
    model_server.stall_seconds = 2.0
    section, findings = run_probe(tflite_venv, tmp_path, models_url=model_server.url, model_set="mobilenet-v1-025")
    assert section["probe_s"] < 30
    file = section["source"]["files"]["mobilenet_v1_0.25_128_quant.tflite"]
    assert not file["ok"] and file["error"]
    # the embedded model ran instead, and the report says what could not be verified
    assert section["fallback"]["used"]
    cpu = section["cpu"]
    assert cpu["model"] == "embedded:edgedoctor_tiny_fc.tflite" and cpu["status"] == "pass", cpu["error"]
    assert section["tpu"]["status"] == "skip"
    source = finding(findings, "models.source")
    assert source.status == "warn" and "could not be obtained" in source.title
    assert "edgedoctor models fetch" in source.remedy and "not verified" in source.detail
    if mode == "tamper":
        assert "sha256" in source.detail and "nothing was kept" in source.detail
    assert finding(findings, "models.cpu").status == "pass"
    assert not (tmp_path / "cache" / "models" / "mobilenet_v1_0.25_128_quant.tflite").exists()
    assert part_files(tmp_path / "cache") == []


def test_offline_without_models_falls_back(tflite_venv, tmp_path):
    section, findings = run_probe(tflite_venv, tmp_path, offline=True)
    assert section["fallback"]["used"] and section["cpu"]["status"] == "pass"
    assert "--offline" in finding(findings, "models.source").remedy


def test_no_tflite_interpreter_means_skip(tflite_venv, tmp_path):
    facts = {"python_env": {"tflite": {"module": None, "error": "tflite_runtime: ModuleNotFoundError: nope"}}}
    section, findings = run_probe(
        tflite_venv, tmp_path, facts=facts, models_dir=str(require_shared_models()), offline=True
    )
    assert section["cpu"]["status"] == "skip" and "ModuleNotFoundError" in section["cpu"]["error"]
    assert section["tpu"]["status"] == "skip"
    assert finding(findings, "models.cpu").status == "skip"


def test_numpy2_venv_fails_with_the_verbatim_text(tmp_path):
    from venvs import make_venv

    python = make_venv("3.11", ["tflite-runtime==2.14.0", "numpy>=2"], name="tflite214-np2")
    section, findings = run_probe(
        python, tmp_path, models_dir=str(require_shared_models()), offline=True, model_set="mnist-lstm"
    )
    cpu = section["cpu"]
    assert cpu["status"] == "fail"
    assert "NumPy 1.x" in cpu["stderr"] or "_ARRAY_API" in cpu["stderr"]
    found = finding(findings, "models.cpu")
    assert found.status == "fail" and "numpy-abi" in found.causes
    assert "numpy<2" in found.remedy


def test_check_command_runs_the_models(run_cli, tflite_venv, validate_report):
    code, out, err = run_cli(
        "check",
        "--python",
        tflite_venv,
        "--models-dir",
        require_shared_models(),
        "--offline",
        "--model-set",
        "mobilenet-v1-025",
        "--iterations",
        "3",
        "--format",
        "json",
    )
    report = json.loads(out)
    validate_report(report)
    inference_facts = report["facts"]["inference"]
    assert inference_facts["cpu"]["status"] == "pass" and inference_facts["cpu"]["top1"]["label"] == "macaw"
    ids = {f["id"]: f for f in report["findings"]}
    assert ids["models.cpu"]["status"] == "pass" and ids["models.source"]["status"] == "pass"


def test_worker_runs_on_python_37_with_its_tflite_runtime(tmp_path):
    from venvs import make_venv

    python = make_venv("3.7", ["tflite-runtime", "numpy<2"], name="py37-tflite")
    section, _ = run_probe(python, tmp_path, offline=True)  # nothing fetched: the embedded model
    cpu = section["cpu"]
    assert cpu["status"] == "pass", cpu["error"]
    from edgedoctor import models

    assert cpu["raw_output"] == models.load_manifest().embedded["expected_output"]
    section, _ = run_probe(
        python, tmp_path, models_dir=str(require_shared_models()), offline=True, model_set="mobilenet-v1-025"
    )
    assert section["cpu"]["status"] == "pass" and section["cpu"]["top1"]["id"] == 89


def test_wk_infer_is_python_36_compatible(tmp_path):
    from venvs import require_python

    python = require_python("3.6")
    outcome = workerproc.run_worker(
        python,
        "infer",
        {"model_path": "x.tflite", "input": [1]},
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
    )
    assert outcome.ok, outcome.error + outcome.stderr
    assert outcome.result["status"] == "fail" and outcome.result["stage"] == "import"


# --- the test input ------------------------------------------------------------------------------------------
def test_image_is_prepared_like_classify_image():
    from PIL import Image

    from edgedoctor.models import imageprep

    parrot = require_shared_models() / "parrot.jpg"
    data = imageprep.image_tensor(parrot, [1, 224, 224, 3], "uint8", "RGB")
    resample = getattr(Image, "Resampling", Image).LANCZOS
    expected = Image.open(parrot).convert("RGB").resize((224, 224), resample).tobytes()
    assert data == expected and len(data) == 224 * 224 * 3
    nine = imageprep.image_tensor(require_shared_models() / "mnist_nine.bmp", [1, 28, 28], "uint8", "L")
    assert nine == Image.open(require_shared_models() / "mnist_nine.bmp").tobytes() and len(nine) == 784
    as_int8 = imageprep.image_tensor(parrot, [1, 8, 8, 3], "int8", "RGB")
    as_uint8 = imageprep.image_tensor(parrot, [1, 8, 8, 3], "uint8", "RGB")
    assert all(((u - 128) & 0xFF) == i for u, i in zip(as_uint8, as_int8))
    assert len(imageprep.image_tensor(parrot, [1, 8, 8, 3], "float32", "RGB")) == 8 * 8 * 3 * 4


@pytest.mark.parametrize("shape,mode", [([1, 10], "RGB"), ([1, 8, 8, 4], "RGB"), ([1, 8, 8, 3], "L")])
def test_image_prep_refuses_inputs_that_are_not_images(shape, mode):
    from edgedoctor.models import imageprep

    with pytest.raises(imageprep.ImagePrepError):
        imageprep.image_tensor(require_shared_models() / "parrot.jpg", shape, "uint8", mode)


def test_image_prep_on_a_broken_image(tmp_path):
    from edgedoctor.models import imageprep

    bad = tmp_path / "parrot.jpg"
    bad.write_bytes(b"<html>not an image</html>")
    with pytest.raises(imageprep.ImagePrepError, match="cannot read the test image"):
        imageprep.image_tensor(bad, [1, 8, 8, 3], "uint8", "RGB")


def test_a_set_that_could_not_be_obtained_is_never_called_verified(tflite_venv, tmp_path):
    """No TFLite interpreter, --offline, an empty cache: nothing ran and nothing was verified; the source finding
    says the set could not be obtained (it once said "verified by sha256 (from )")."""
    facts = {"python_env": {"tflite": {"module": None, "error": "tflite_runtime: ModuleNotFoundError: nope"}}}
    section, findings = run_probe(tflite_venv, tmp_path, facts=facts, offline=True)
    assert section["source"]["ok"] is False and not section["fallback"]
    source = finding(findings, "models.source")
    assert source.status == "warn" and "could not be obtained" in source.title
    assert "verified" not in source.title and "only the embedded model" not in source.title
    assert "--offline" in source.remedy and "not in the mirror folder or the cache" in source.detail
