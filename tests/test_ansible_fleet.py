"""contrib/ansible/edgedoctor.yml run by a real ansible-core against a lab of four hosts on this machine (local
connection), each a different recorded machine (`--root` fixture trees), so the lab's summary shows different
causes per host and the play fails exactly the hosts that missed their requirements.

Container tier (slow: pipx installs edgedoctor from this clone): `python3 -m pytest -m container_tier`.
Set up with tests/tiers/setup_ansible.sh (ansible-core and pipx from PyPI)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.container_tier

REPO = Path(__file__).resolve().parent.parent
ROOTS = REPO / "tests" / "fixtures" / "roots"
PLAYBOOK = REPO / "contrib" / "ansible" / "edgedoctor.yml"

# host: (recorded machine, its requirements)
LAB = {
    "coral-01": ("usb3-runtime", "device,usb3"),  # meets them
    "coral-02": ("usb2-runtime", "device,usb3"),  # accelerator on a USB 2 port: misses usb3
    "coral-03": ("no-device", "device,runtime"),  # nothing plugged in, no runtime
    "coral-04": ("pcie-ok", "pcie"),  # meets it
}


def _tool(name):
    venv = Path(os.environ.get("EDGEDOCTOR_ANSIBLE_VENV", "/var/tmp/edgedoctor-ansible")) / "bin" / name
    return str(venv) if venv.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def lab_python():
    from venvs import find_python, make_venv

    if not find_python("3.7"):
        pytest.skip("no Python 3.7 (pyenv) for the hosts' examined interpreter")
    return make_venv("3.7", ["tflite-runtime", "numpy<2"], name="py37-tflite")


def test_the_playbook_examines_the_lab_and_fails_the_machines_that_miss_requirements(tmp_path, lab_python):
    playbook, pipx = _tool("ansible-playbook"), _tool("pipx")
    if not playbook or not pipx:
        pytest.skip("ansible-playbook / pipx not installed: run tests/tiers/setup_ansible.sh")
    pipx_bin = tmp_path / "pipx-bin"
    environment = {"PIPX_HOME": str(tmp_path / "pipx-home"), "PIPX_BIN_DIR": str(pipx_bin)}
    hosts = {}
    for host, (root, require) in LAB.items():
        hosts[host] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "edgedoctor_install_pipx": False,
            "edgedoctor_pipx": pipx,
            "edgedoctor_package": str(REPO),
            "edgedoctor_install_throttle": 1,  # one pipx home shared by the four "machines"
            "edgedoctor_bin": str(pipx_bin / "edgedoctor"),
            "edgedoctor_environment": environment,
            "edgedoctor_require": require,
            "edgedoctor_check_args": ["--root", str(ROOTS / root), "--python", lab_python, "--offline", "--no-models"],
            "edgedoctor_reports_dir": str(tmp_path / "reports"),
        }
    inventory = tmp_path / "inventory.json"
    inventory.write_text(
        json.dumps(
            {
                "coral": {"hosts": hosts},
                "all": {
                    "hosts": {
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                    }
                },
            }
        )
    )
    extra = {"edgedoctor_reports_dir": str(tmp_path / "reports"), "edgedoctor_controller": str(pipx_bin / "edgedoctor")}
    env = dict(
        os.environ,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"),
        ANSIBLE_STDOUT_CALLBACK="default",
    )
    env.pop("PYTHONPATH", None)  # the hosts run the pipx-installed edgedoctor, not this tree's
    proc = subprocess.run(
        [playbook, "-i", str(inventory), str(PLAYBOOK), "-e", json.dumps(extra)],
        env=env,
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=1200,
    )
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 2, out[-6000:]  # ansible-playbook: some hosts failed
    recap = out[out.index("PLAY RECAP") :]
    for host in ("coral-01", "coral-04"):
        assert f"{host}" in recap and "failed=0" in next(line for line in recap.splitlines() if host in line), recap
    for host in ("coral-02", "coral-03"):
        assert "failed=1" in next(line for line in recap.splitlines() if host in line), recap
    assert "edgedoctor check failed on coral-02 (exit 1): missed usb3 (report: " in out
    assert "edgedoctor check failed on coral-03 (exit 1): missed device, runtime; No Edge TPU found" in out

    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.glob("*.json")) == [f"{h}.json" for h in LAB]
    summary = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "summarize", str(reports), "--format", "json"],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=60,
    )
    assert summary.returncode == 1
    rows = {row["machine"]: row for row in json.loads(summary.stdout)["reports"]}
    assert sorted(rows) == sorted(LAB)
    assert rows["coral-01"]["failed"] is False and rows["coral-04"]["failed"] is False
    assert rows["coral-02"]["failed_requirements"] == ["usb3"] and "usb2-link" in rows["coral-02"]["causes"]
    assert rows["coral-03"]["failed_requirements"] == ["device", "runtime"]
    assert {"no-device", "runtime-missing"} <= set(rows["coral-03"]["causes"])
    assert rows["coral-04"]["link"] == "pcie"
    # the lab's view as the play wrote it on the controller, and as it printed it
    assert "| `usb2-link` | 1 |" in (tmp_path / "reports-summary.md").read_text()
    assert (tmp_path / "reports-summary.xml").read_text().count("<testsuite ") == 4
    assert "4 machines, 2 failing" in out
