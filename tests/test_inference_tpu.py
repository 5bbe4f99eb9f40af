"""The Edge TPU path without an Edge TPU: a fake libedgetpu (tests/fake_libedgetpu.c, built by helpers_hw)
whose delegate creation fails with a message, crashes, hangs, or loads but claims no node. Each becomes a
finding with the verbatim text and the worker's outcome, within the timeout. Judging of TPU speed and
runtime compatibility is checked on edited Facts."""

import time

import pytest
from helpers_hw import fake_env, fake_libedgetpu  # noqa: F401  (pytest fixture)
from helpers_models import finding, require_shared_models, run_probe, tflite_venv  # noqa: F401

from edgedoctor.checks import inference as check_inference

pytestmark = pytest.mark.venv

USB3_DEVICE = {"vendor_id": "18d1", "product_id": "9302", "state": "runtime", "speed_mbps": 5000, "accessible": True}


def tpu_facts(lib, runtime_version=14):
    return {
        "usb": {"devices": [dict(USB3_DEVICE)]},
        "pcie": {"devices": []},
        "runtime": {"found": True, "path": str(lib), "runtime_version": runtime_version},
    }


def run_tpu(python, tmp_path, lib, timeout=20.0, runtime_version=14, **fake):
    env = fake_env(lib, devices="usb:/sys/bus/usb/devices/2-1", **fake)
    start = time.monotonic()
    section, findings = run_probe(
        python,
        tmp_path,
        facts=tpu_facts(lib, runtime_version),
        env=env,
        models_dir=str(require_shared_models()),
        offline=True,
        model_set="mnist-lstm",
        timeout=timeout,
    )
    return section, findings, time.monotonic() - start


def test_delegate_creation_fails_with_a_message(tflite_venv, tmp_path, fake_libedgetpu):
    message = "Failed to open device: No Edge TPU device found"
    section, findings, _ = run_tpu(tflite_venv, tmp_path, fake_libedgetpu, delegate="fail", error=message)
    assert section["cpu"]["status"] == "pass"
    tpu = section["tpu"]
    assert tpu["status"] == "fail"
    assert tpu["delegate"] == {"library": str(fake_libedgetpu), "options": {}}
    assert "Failed to load delegate from" in tpu["error"]
    assert message in tpu["error"] + tpu["stderr"]
    assert tpu["stage"] == "delegate"
    found = finding(findings, "models.tpu")
    assert found.status == "fail" and "delegate could not be loaded" in found.title
    assert message in found.detail and found.remedy
    assert "models.speed" not in [f.id for f in findings]


def test_delegate_creation_crashes(tflite_venv, tmp_path, fake_libedgetpu):
    section, findings, _ = run_tpu(tflite_venv, tmp_path, fake_libedgetpu, delegate="crash")
    tpu = section["tpu"]
    assert tpu["status"] == "fail"
    assert tpu["worker"]["status"] == "crashed" and tpu["worker"]["signal"] == "SIGSEGV"
    assert tpu["worker"]["stage"] == "load-delegate"
    found = finding(findings, "models.tpu")
    assert found.status == "fail" and "SIGSEGV" in found.title and "load-delegate" in found.title
    assert found.causes[0] == "tflite-too-new"
    assert "2.14.0" in found.remedy and "libedgetpu" in found.remedy


def test_delegate_creation_hangs(tflite_venv, tmp_path, fake_libedgetpu):
    section, findings, took = run_tpu(tflite_venv, tmp_path, fake_libedgetpu, timeout=4.0, delegate="hang")
    assert took < 30
    tpu = section["tpu"]
    assert tpu["status"] == "fail" and tpu["worker"]["status"] == "timeout"
    assert tpu["worker"]["stage"] == "load-delegate" and "4 s" in tpu["error"]
    found = finding(findings, "models.tpu")
    assert found.status == "fail" and "hung" in found.title and "load-delegate" in found.title
    assert "plug it in again" in found.remedy


def test_delegate_that_claims_no_node_leaves_the_custom_op_unresolved(tflite_venv, tmp_path, fake_libedgetpu):
    section, findings, _ = run_tpu(tflite_venv, tmp_path, fake_libedgetpu, delegate="ok")
    tpu = section["tpu"]
    assert tpu["status"] == "fail"
    assert "Encountered unresolved custom op: edgetpu-custom-op" in tpu["error"]
    assert tpu["delegate_load_ms"] is not None
    assert "delegate-not-loaded" in finding(findings, "models.tpu").causes


def test_no_runtime_or_no_device_is_a_skip(tflite_venv, tmp_path):
    facts = {"usb": {"devices": [dict(USB3_DEVICE)]}, "runtime": {"found": False, "path": None}}
    section, findings = run_probe(
        tflite_venv,
        tmp_path,
        facts=facts,
        models_dir=str(require_shared_models()),
        offline=True,
        model_set="mnist-lstm",
    )
    assert section["tpu"]["status"] == "skip" and "libedgetpu" in section["tpu"]["error"]
    assert finding(findings, "models.tpu").status == "skip"


# --- judging on edited Facts -----------------------------------------------------------------------------
def _passing_facts(median, link="usb3", speed=5000, flavor=None, set_name="inat-bird", board=None):
    from edgedoctor import models

    model_set = models.load_manifest().get_set(set_name)
    key = "rpi4" if board == "raspberry-pi-4" and link == "usb3" else link
    run = {
        "model": model_set.tpu_model,
        "status": "pass",
        "top1": {"id": 923, "label": "Ara macao", "score": 0.76},
        "expected": model_set.expected,
        "latency_ms": {"first": 1500.0, "median": median, "p90": median * 1.1, "min": median * 0.9},
        "iterations": 10,
        "error": None,
    }
    return {
        "platform": {"os": "linux", "board": board},
        "runtime": {"runtime_version": 14, "flavor": flavor},
        "inference": {
            "set": set_name,
            "cpu": None,
            "tpu": run,
            "speedup": 25.0,
            "link": {"link": link, "speed_mbps": speed, "reference_key": key},
            "reference": {
                "tpu": model_set.reference_ms("tpu", key),
                "tpu_usb3": model_set.reference_ms("tpu", "usb3"),
                "slow_factor": 3.0,
                "python_overhead_ms": 1.0,
            },
            "model_info": {
                "tpu": {"path": model_set.tpu_model, "min_runtime_version": 12, "edgetpu": {"fully_mapped": True}}
            },
        },
    }


def test_speed_as_published_on_usb3():
    speed = finding(check_inference.check(_passing_facts(3.1)), "models.speed")
    assert speed.status == "pass" and "2.6 ms" in speed.detail and "coral-benchmarks" in speed.detail


def test_usb2_link_is_named():
    speed = finding(check_inference.check(_passing_facts(19.0, link="usb2", speed=480)), "models.speed")
    assert speed.status == "warn" and speed.causes == ["usb2-link"]
    assert "vs 2.6 ms on USB 3" in speed.title and "USB 3 port" in speed.remedy
    assert "18.6 ms" in speed.detail


def test_slow_on_a_link_that_claims_usb3():
    speed = finding(check_inference.check(_passing_facts(15.0, flavor="std")), "models.speed")
    assert speed.status == "warn" and "usb2-link" in speed.causes
    assert "throttled" in speed.detail


def test_raspberry_pi_4_has_its_own_reference():
    speed = finding(check_inference.check(_passing_facts(5.0, board="raspberry-pi-4")), "models.speed")
    assert speed.status == "pass" and "4.55 ms" in speed.detail


def test_no_published_reference_is_info():
    facts = _passing_facts(1.0, set_name="mnist-lstm")
    facts["inference"]["reference"]["tpu"] = facts["inference"]["reference"]["tpu_usb3"] = None
    assert finding(check_inference.check(facts), "models.speed").status == "info"


def test_model_needs_newer_runtime_from_model_info():
    facts = _passing_facts(3.0)
    facts["runtime"]["runtime_version"] = 11
    found = finding(check_inference.check(facts), "models.runtime-version")
    assert found.status == "fail" and found.causes == ["model-needs-newer-runtime"]
    assert "edgetpu_compiler -s -m 11" in found.remedy
    facts["runtime"]["runtime_version"] = 13
    assert finding(check_inference.check(facts), "models.runtime-version").status == "pass"


def test_runtime_refusing_the_package_text():
    facts = _passing_facts(3.0)
    facts["inference"]["tpu"].update(
        status="fail",
        latency_ms=None,
        error=(
            "RuntimeError: Failed to prepare for TPU. Failed precondition: Package requires runtime version (14), "
            "which is newer than this runtime version (13).Node number 0 (edgetpu-custom-op) failed to prepare."
        ),
    )
    found = finding(check_inference.check(facts), "models.tpu")
    assert found.status == "fail" and "model-needs-newer-runtime" in found.causes and found.remedy


def test_tpu_and_cpu_disagree():
    facts = _passing_facts(3.0)
    facts["inference"]["tpu"].update(status="fail", wrong_answer=True, error="the Edge TPU's top-1 differs")
    found = finding(check_inference.check(facts), "models.tpu")
    assert found.status == "fail" and "wrong answer" in found.title
