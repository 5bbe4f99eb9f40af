"""`check --container` against live podman containers (container tier: `python3 -m pytest -m container_tier`).
Set up with tests/tiers/setup_containers.sh (podman, the three test images from Debian packages and PyPI, the
containers ed-py, ed-usb, ed-nopy). Skips with the reason when podman or the containers are absent."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.container_tier

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO.parent / "shared" / "models"


def _running(name):
    """A container that answers an exec: podman's own "running" can outlive the container's processes (a
    machine restored from a snapshot), and then every exec fails."""
    if not shutil.which("podman"):
        return False
    proc = subprocess.run(
        ["podman", "exec", name, "sh", "-c", ":"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
    )
    return proc.returncode == 0


@pytest.fixture(scope="module")
def live():
    missing = [n for n in ("ed-py", "ed-usb", "ed-nopy") if not _running(n)]
    if missing:
        pytest.skip(
            f"podman test containers not answering exec ({', '.join(missing)}): run tests/tiers/setup_containers.sh"
        )


def check(name, *extra):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgedoctor",
            "check",
            "--container",
            name,
            "--engine",
            "podman",
            "--offline",
            "--timeout",
            "120",
            "--format",
            "json",
            *extra,
        ],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return json.loads(proc.stdout)


def diff(name):
    return subprocess.run(["podman", "diff", name], stdout=subprocess.PIPE, timeout=60).stdout.decode()


def test_the_python_stack_and_models_of_the_container(live):
    before = diff("ed-py")
    extra = ["--models-dir", str(MODELS), "--iterations", "2"] if MODELS.is_dir() else ["--no-models"]
    report = check("ed-py", *extra)
    facts = report["facts"]
    env = facts["python_env"]
    assert env["python"]["executable"] == "/usr/bin/python3"
    assert env["tflite"]["module"] == "tflite_runtime" and env["tflite"]["version"] == "2.14.0"
    assert env["smoke"]["status"] == "pass"
    assert facts["container"]["engine"] == "podman" and facts["container"]["dev_bus_usb"] is False
    if MODELS.is_dir():
        assert facts["inference"]["cpu"]["top1"]["label"] == "Ara macao (Scarlet Macaw)"
    assert diff("ed-py") == before  # nothing installed or left behind in the container


def test_the_usb_bus_passed_in_and_the_containers_runtime(live):
    facts = check("ed-usb", "--no-models")["facts"]
    assert [n["path"] for n in facts["container"]["usb_nodes"]] == ["/dev/bus/usb/002/003"]
    assert facts["runtime"]["loaded"] is True and facts["runtime"]["runtime_version"] == 14


def test_a_container_without_python(live):
    report = check("ed-nopy")
    found = {f["id"]: f for f in report["findings"]}
    assert found["container.python"]["status"] == "warn"
    assert found["python.interpreter"]["status"] == "skip"
    assert report["facts"]["container"]["os_release"]["ID"] == "busybox"


def test_an_unknown_container_is_a_usage_error(live):
    proc = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "check", "--container", "no-such-container-here", "--engine", "podman"],
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    assert proc.returncode == 2 and b"no such container" in proc.stderr and proc.stdout == b""
