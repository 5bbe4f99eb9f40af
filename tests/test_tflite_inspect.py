"""Looking inside .tflite files without TensorFlow: the real Coral models, the embedded model, and the files
that only pretend to be models (an HTML page, a cut download)."""

import json

import pytest
from helpers_models import CPU_MODELS, EDGETPU_MODELS, REPO, require_shared_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgedoctor.models import tflite_inspect

EXPECTED_IO = {
    "mobilenet_v2_1.0_224_inat_bird_quant": ([1, 224, 224, 3], 0.0078125, 128, [1, 965]),
    "mobilenet_v1_0.25_128_quant": ([1, 128, 128, 3], 0.0078125, 128, [1, 1001]),
    "keras_lstm_mnist_ptq": ([1, 28, 28], 1 / 255, 0, [1, 10]),
}


def _stem(name):
    return name.replace("_edgetpu", "").replace(".tflite", "")


@pytest.mark.parametrize("name", EDGETPU_MODELS)
def test_edgetpu_models_are_fully_mapped_and_need_runtime_12(name):
    info = tflite_inspect.inspect_file(require_shared_models() / name)
    assert info["is_tflite"] and info["error"] is None
    assert info["operators"] == {"edgetpu-custom-op": 1}
    tpu = info["edgetpu"]
    assert tpu["fully_mapped"] and tpu["tpu_ops"] == 1 and tpu["cpu_ops"] == 0
    assert tpu["min_runtime_version"] == 12
    assert tpu["compiler_versions"] == ["cl/"]
    package = tpu["packages"][0]
    assert package["identifier"] == "DWN1" and package["virtual_chip_id"] == 0
    assert {e["chip"] for e in package["executables"]} == {"beagle"}
    shape, scale, zero, out_shape = EXPECTED_IO[_stem(name)]
    (inp,), (out,) = info["inputs"], info["outputs"]
    assert inp["shape"] == shape and inp["dtype"] == "uint8"
    assert inp["quantization"]["scale"] == pytest.approx(scale) and inp["quantization"]["zero_point"] == zero
    assert out["shape"] == out_shape and out["dtype"] == "uint8"
    json.dumps(info)
    summary = tflite_inspect.summary(info)
    assert summary["min_runtime_version"] == 12 and summary["edgetpu"]["fully_mapped"]


@pytest.mark.parametrize("name", CPU_MODELS)
def test_cpu_models_are_plain_tflite(name):
    info = tflite_inspect.inspect_file(require_shared_models() / name)
    assert info["is_tflite"] and not info["is_edgetpu"] and info["edgetpu"] is None
    assert "edgetpu-custom-op" not in info["operators"]
    assert info["operator_count"] > 1
    shape, _, _, out_shape = EXPECTED_IO[_stem(name)]
    assert info["inputs"][0]["shape"] == shape and info["outputs"][0]["shape"] == out_shape
    if "mobilenet_v2" in name:
        assert info["operators"]["CONV_2D"] == 35 and info["operators"]["DEPTHWISE_CONV_2D"] == 17
    if "lstm" in name:
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in info["operators"]


def test_embedded_model():
    info = tflite_inspect.inspect_file(REPO / "models" / "edgedoctor_tiny_fc.tflite")
    assert info["is_tflite"]
    assert info["operators"] == {"FULLY_CONNECTED": 2}
    assert info["inputs"][0]["shape"] == [1, 16] and info["outputs"][0]["shape"] == [1, 4]


@pytest.mark.parametrize(
    "content,kind",
    [
        (b"<!DOCTYPE html>\n<html lang='en'><head><title>test_data/parrot.tflite at master</title>", "html"),
        (b"\n\n  <html><body>404</body></html>", "html"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", "git-lfs-pointer"),
        (b"PK\x03\x04" + b"\0" * 40, "zip"),
        (b"", "empty"),
        (b"\x1c\x00\x00\x00", "truncated"),
        (b'{"message": "API rate limit exceeded"}', "json"),
        (b"\x00" * 64, "unknown"),
    ],
)
def test_files_that_are_not_tflite(content, kind):
    info = tflite_inspect.inspect_bytes(content, "model.tflite")
    assert not info["is_tflite"]
    assert info["cause"] == "model-not-tflite"
    assert info["not_tflite"] == kind
    assert info["error"].startswith("not a TFLite model")


@pytest.mark.parametrize("fraction", [0.001, 0.25, 0.5, 0.9, 0.999])
def test_truncated_download_is_named(fraction):
    data = (require_shared_models() / "mobilenet_v1_0.25_128_quant.tflite").read_bytes()
    info = tflite_inspect.inspect_bytes(data[: int(len(data) * fraction)])
    assert not info["is_tflite"]
    assert info["cause"] == "model-not-tflite" and info["not_tflite"] == "truncated"
    assert "truncated" in info["error"]


def test_one_byte_short_edgetpu_model_is_named():
    data = (require_shared_models() / "keras_lstm_mnist_ptq_edgetpu.tflite").read_bytes()
    assert not tflite_inspect.inspect_bytes(data[:-1])["is_tflite"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=13927))
def test_any_truncation_is_reported_not_raised(cut):
    data = (require_shared_models() / "keras_lstm_mnist_ptq.tflite").read_bytes()
    info = tflite_inspect.inspect_bytes(data[:cut])
    assert info["is_tflite"] is False and info["cause"] == "model-not-tflite"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_bytes_never_raise(data):
    original = bytearray((require_shared_models() / "keras_lstm_mnist_ptq_edgetpu.tflite").read_bytes()[:4096])
    positions = data.draw(st.lists(st.integers(min_value=0, max_value=len(original) - 1), min_size=1, max_size=8))
    for position in positions:
        original[position] = data.draw(st.integers(min_value=0, max_value=255))
    info = tflite_inspect.inspect_bytes(bytes(original))
    json.dumps(info)
    assert info["is_tflite"] in (True, False)


def test_missing_file():
    info = tflite_inspect.inspect_file("/nonexistent/model.tflite")
    assert not info["is_tflite"] and "cannot read" in info["error"]


def test_builtin_names_follow_the_schema():
    assert tflite_inspect.builtin_name(9) == "FULLY_CONNECTED"
    assert tflite_inspect.builtin_name(32) == "CUSTOM"
    assert tflite_inspect.builtin_name(87) == "LOGICAL_NOT"
    assert tflite_inspect.builtin_name(126) == "BATCH_MATMUL"
    assert tflite_inspect.builtin_name(150) == "GELU"
    assert tflite_inspect.builtin_name(205) == "REDUCE_WINDOW"
    assert tflite_inspect.builtin_name(999) == "BUILTIN_999"
    assert tflite_inspect.dtype_name(3) == "uint8" and tflite_inspect.dtype_name(9) == "int8"


# --- edgedoctor model-info ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EDGETPU_MODELS + CPU_MODELS)
def test_model_info_on_each_real_model(run_cli, name):
    path = require_shared_models() / name
    code, out, err = run_cli("model-info", path)
    assert code == 0, err
    assert "known-good file " + name in out
    if name in EDGETPU_MODELS:
        assert "fully mapped to the Edge TPU" in out and "runtime version >= 12" in out
        # Coral's compilers wrote "cl/" without a number into these: said plainly, not as "compiler version cl/"
        assert "the compiler left no version in the model" in out and "cl/)" not in out
    else:
        assert "runs on the CPU only" in out
    code, out, _ = run_cli("model-info", path, "--format", "json")
    model = json.loads(out)["model"]
    assert code == 0 and model["is_tflite"] and model["known_as"] == name


def test_model_info_runtime_too_old(run_cli):
    path = require_shared_models() / EDGETPU_MODELS[0]
    code, out, _ = run_cli("model-info", path, "--runtime-version", "11", "--format", "json")
    verdict = json.loads(out)["model"]["runtime_check"]
    assert code == 1 and verdict == {
        "runtime_version": 11,
        "min_runtime_version": 12,
        "loads": False,
        "cause": "model-needs-newer-runtime",
    }
    code, out, _ = run_cli("model-info", path, "--runtime-version", "13")
    assert code == 0 and "Runtime 13: can load this model" in out


def test_model_info_on_an_html_page_renamed_tflite(run_cli, tmp_path):
    page = tmp_path / "mobilenet_v2_1.0_224_inat_bird_quant_edgetpu.tflite"
    page.write_text("<!DOCTYPE html>\n<html><head><title>GitHub</title></head><body>...</body></html>\n")
    code, out, _ = run_cli("model-info", page)
    assert code == 1
    assert "HTML" in out and "model-not-tflite" in out
    code, out, _ = run_cli("model-info", page, "--format", "json")
    model = json.loads(out)["model"]
    assert code == 1 and model["cause"] == "model-not-tflite" and model["not_tflite"] == "html"


def test_model_info_on_a_truncated_file(run_cli, tmp_path):
    data = (require_shared_models() / EDGETPU_MODELS[1]).read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    code, out, _ = run_cli("model-info", cut, "--format", "json")
    model = json.loads(out)["model"]
    assert code == 1 and model["cause"] == "model-not-tflite" and model["not_tflite"] == "truncated"
    assert model["size"] == len(data) // 3


def test_model_info_on_a_missing_file(run_cli, tmp_path):
    code, _, err = run_cli("model-info", tmp_path / "nope.tflite")
    assert code == 2 and "no such file" in err
