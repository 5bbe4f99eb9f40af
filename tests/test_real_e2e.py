"""End to end with real parts (slow tier): `edgedoctor check --python VENV` on a real venv, with Google's real
runtime (../shared/runtimes) and a fake USB Accelerator (tests/fake_libusb.c) whose answer the test chooses.

- Python 3.7 + tensorflow-cpu 2.1.4 (protobuf<3.21) + the real diploria2 runtime: the known-good Edge TPU model
  runs through TensorFlow's real tf.lite and the real runtime; the right output bytes pass, wrong ones are a
  golden-answer failure.
- The same venv with the real eel2 runtime: the seed's error (`Unsupported data type in custom op handler: 0
  Node number 1 (EdgeTpuDelegateForCustomOp) failed to prepare.`), named runtime-tflite-mismatch with
  Coral's tflite_runtime 2.1.0.post1 as the remedy, and the combination known-bad.
- tflite-runtime 2.14 with eel2 and a device present: SIGSEGV inside Interpreter(...), named tflite-too-new.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import helpers_fakeusb
import pytest
from venvs import make_venv

pytestmark = pytest.mark.runtime_tier

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
RUNTIMES = SHARED / "runtimes"
MODELS = SHARED / "models"
# mobilenet_v2_1.0_224_inat_bird_quant_edgetpu.tflite: 965 classes, padded to 968 bytes on the device.
OUTPUT_SIZE = 968
SCARLET_MACAW = 923


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    reason = helpers_fakeusb.skip_reason((RUNTIMES, MODELS))
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("e2e")
    helpers_fakeusb.build(folder)
    for release in ("diploria2", "eel2"):
        (folder / release).mkdir()
        (folder / release / "libedgetpu.so.1").symlink_to(
            RUNTIMES / "linux-x86_64" / release / "max" / "libedgetpu.so.1.0"
        )
    for name, top in (("right", SCARLET_MACAW), ("wrong", 17)):
        data = bytearray(OUTPUT_SIZE)
        data[top] = 209
        (folder / f"{name}.bin").write_bytes(bytes(data))
    return folder


@pytest.fixture(scope="module")
def tf21():
    return make_venv("3.7", ["tensorflow-cpu==2.1.4", "protobuf<3.21"], pip_args=["--no-binary=gast"], name="tf214")


def check(parts, python, release, answer="right", timeout=600, scenario="ok"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "LD_", "PYTHON"))}
    env.update(
        LD_LIBRARY_PATH=f"{parts / release}:{parts / 'usb'}",
        LD_PRELOAD=str(parts / "fast_sleep.so"),
        FAKE_USB_SCENARIO=scenario,
        FAKE_USB_OUTPUT=str(parts / f"{answer}.bin"),
        FAKE_USB_OUTPUT_SIZE=str(OUTPUT_SIZE),
        PYTHONPATH=str(REPO),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgedoctor",
            "check",
            "--python",
            python,
            "--models-dir",
            str(MODELS),
            "--offline",
            "--iterations",
            "3",
            "--format",
            "json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(parts),
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return json.loads(proc.stdout)


def finding(report, finding_id):
    found = [f for f in report["findings"] if f["id"] == finding_id]
    assert found, [f["id"] for f in report["findings"]]
    return found[0]


def tpu_finding(report):
    found = [f for f in report["findings"] if f["id"] == "models.tpu"]
    assert found, [(f["id"], f["title"]) for f in report["findings"]]
    return found[0]


def test_diploria2_with_tf21_runs_the_known_good_model_and_the_right_answer_passes(parts, tf21):
    report = check(parts, tf21, "diploria2", "right")
    runtime = report["facts"]["runtime"]
    assert (runtime["release"], runtime["runtime_version"], runtime["flavor"]) == ("diploria2", 12, "max")
    assert runtime["open"]["ok"] is True
    tpu = report["facts"]["inference"]["tpu"]
    assert tpu["status"] == "pass" and tpu["top1"]["id"] == SCARLET_MACAW, tpu
    assert report["exit_code"] == 0
    assert finding(report, "combination.release")["status"] == "pass"  # known-good: diploria2 with TF 2.1


def test_a_wrong_answer_from_the_device_is_a_golden_answer_failure(parts, tf21):
    report = check(parts, tf21, "diploria2", "wrong")
    tpu = report["facts"]["inference"]["tpu"]
    assert tpu["status"] == "fail" and tpu["top1"]["id"] == 17
    assert "wrong answer" in tpu["error"]
    assert report["exit_code"] == 1
    assert report["facts"]["inference"]["cpu"]["top1"]["id"] == SCARLET_MACAW  # the CPU still answers right


def test_a_device_unplugged_mid_run_aborts_the_runtime_and_is_named_usb_power(parts, tf21):
    report = check(parts, tf21, "diploria2", "right", scenario="unplug-mid-run")
    tpu = report["facts"]["inference"]["tpu"]
    assert tpu["status"] == "fail" and "SIGABRT" in tpu["error"]
    failure = tpu_finding(report)
    assert "usb-power" in failure["causes"]
    assert "USB error -4 [AsyncBulkOutTransfer]" in failure["detail"]  # the runtime's F line, printed on abort


def test_eel2_with_tf21_gives_the_seeds_error_with_the_seeds_cause_and_remedy(parts, tf21):
    report = check(parts, tf21, "eel2", "right")
    tpu = report["facts"]["inference"]["tpu"]
    assert tpu["status"] == "fail"
    assert (
        "Unsupported data type in custom op handler: 0Node number 1 (EdgeTpuDelegateForCustomOp) failed to prepare."
    ) in tpu["error"]
    failure = tpu_finding(report)
    assert failure["causes"] == ["runtime-tflite-mismatch"]
    combination = finding(report, "combination.release")
    assert combination["status"] == "fail" and "runtime-tflite-mismatch" in combination["causes"]
    # The remedy is said once: on the TPU finding, or on the combination it defers to.
    remedies = (failure.get("remedy") or "") + (combination.get("remedy") or "")
    assert "tflite_runtime-2.1.0.post1" in remedies
    assert report["diagnoses"][0]["cause"] == "runtime-tflite-mismatch"


def test_tflite_runtime_214_with_a_device_present_segfaults_and_is_tflite_too_new(parts):
    python = make_venv("3.11", ["tflite-runtime==2.14.0", "numpy<2"], name="tflite214-np1")
    report = check(parts, python, "eel2", "right")
    tpu = report["facts"]["inference"]["tpu"]
    assert tpu["status"] == "fail" and "SIGSEGV" in (tpu["error"] or "")
    failure = tpu_finding(report)
    assert failure["causes"] == ["tflite-too-new"]
    assert "hardware-fault" not in json.dumps([f["causes"] for f in report["findings"]])
