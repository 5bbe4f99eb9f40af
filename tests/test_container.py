"""`check --container NAME` against transcripts recorded from a real podman 4.3.1 on this machine
(tests/fixtures/containers/*, written by tests/tiers/record_container_transcripts.py from the containers that
tests/tiers/setup_containers.sh starts): the engine's commands (inspect, exec ls/cat/python3 -c, ...) and the
worker runs streamed into the container, each verbatim with its exit code and stderr. The host side is a
recorded machine (`tests/fixtures/roots/*`), so one report joins a host that sees the accelerator with the
container that does or does not. The worker streaming itself (bootstrap, models in memory) is run for real
with this machine's python3; tests/test_container_tier.py runs the same against live containers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgedoctor import exitcodes
from edgedoctor.diagnosis.judge import judge
from edgedoctor.facts import collect_container
from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System
from edgedoctor.probes import container as cprobe
from edgedoctor.probes import python_env

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = FIXTURES / "containers"
ROOTS = FIXTURES / "roots"


def runner(label):
    return cprobe.TranscriptRunner.load(RECORDED / label / "engine.json")


def joined(label, root, name=None, **options):
    """Facts of `check --container` for the recorded container `label`, on the recorded host `root`."""
    name = name or {"py": "ed-py", "usb": "ed-usb", "nopy": "ed-nopy"}[label]
    engine_run = runner(label)
    worker = RECORDED / label / "worker.jsonl"
    facts = collect_container.collect(
        System.from_root(ROOTS / root),
        CheckOptions(offline=True, timeout=30, **options),
        name,
        engine_run=engine_run,
        shim=lambda *args: cprobe.ReplayShim(worker),
    )
    assert not [argv for argv in engine_run.missing if argv[:2] != ["docker", "inspect"]], engine_run.missing
    return facts, engine_run


def by_id(report):
    return {f["id"]: f for f in report["findings"]}


# --- inspect and the outside view ---------------------------------------------------------------------------------


def test_the_engine_that_knows_the_container_is_used():
    transcript = runner("usb")
    engine, inspected = cprobe.find_container("ed-usb", transcript)
    assert engine == "podman"  # docker was asked first: "Cannot connect to the Docker daemon"
    assert transcript.calls[0][:2] == ["docker", "inspect"]
    assert inspected["running"] and inspected["image"] == "localhost/edgedoctor-test/py:1"
    assert inspected["oci_runtime"] == "crun" and inspected["privileged"] is False
    assert inspected["env"]["PATH"].startswith("/usr/local/sbin")


def test_a_missing_or_stopped_container_is_named_with_what_each_engine_said():
    transcript = runner("errors")
    with pytest.raises(cprobe.ContainerError) as raised:
        cprobe.find_container("frigate", transcript)
    message = str(raised.value)
    assert "Cannot connect to the Docker daemon" in message and "no such container frigate" in message
    engine, inspected = cprobe.find_container("ed-created", transcript, engine="podman")
    assert engine == "podman" and inspected["running"] is False and inspected["status"] == "created"


def test_what_the_container_sees_from_outside():
    usb = cprobe.outside_view("podman", "ed-usb", runner("usb"))
    assert usb["dev_bus_usb"] is True
    assert [(n["path"], n["major"], n["minor"]) for n in usb["usb_nodes"]] == [("/dev/bus/usb/002/003", 189, 130)]
    assert usb["python"] == {"command": "python3", "executable": "/usr/bin/python3", "version": "3.11.2"}
    assert usb["os_release"]["ID"] == "debian"
    py = cprobe.outside_view("podman", "ed-py", runner("py"))
    assert py["dev_bus_usb"] is False and py["usb_nodes"] == []
    nopy = cprobe.outside_view("podman", "ed-nopy", runner("nopy"))
    assert nopy["python"] is None and "executable file `python3` not found" in nopy["errors"]["python3"]
    assert nopy["os_release"]["ID"] == "busybox"


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "/dev/bus/usb:\ntotal 0\ndrwxr-xr-x 2 0 0 60 Dec  4 16:32 002\n\n/dev/bus/usb/002:\ntotal 0\n"
            "crw-rw-r-- 1 0 0 189, 130 Dec  4 16:32 003\n",
            [("/dev/bus/usb/002", "003", 189, 130)],
        ),
        # busybox ls -lnR (Alpine-based images)
        (
            "/dev/bus/usb:\ndrwxr-xr-x    2 0        0               60 Dec  4 16:32 001\n\n/dev/bus/usb/001:\n"
            "crw-rw-rw-    1 0        0         189,   0 Dec  4 16:32 001\n",
            [("/dev/bus/usb/001", "001", 189, 0)],
        ),
        ("crw-rw---- 1 0 997 120, 0 Dec  4 10:00 apex_0\n", [("", "apex_0", 120, 0)]),
    ],
)
def test_ls_listings_gnu_and_busybox(text, expected):
    found = [(e["folder"], e["name"], e["major"], e["minor"]) for e in cprobe.parse_ls_ln(text) if e["kind"] == "c"]
    assert found == expected


# --- the joined report ----------------------------------------------------------------------------------------------


def test_host_sees_the_accelerator_and_the_container_has_no_usb_bus():
    facts, _ = joined("py", "usb3-runtime")
    report = judge(facts)
    finding = by_id(report)["container.usb"]
    assert finding["status"] == "fail" and finding["causes"] == ["container-device"]
    assert "at 18d1:9302 on bus 2" in finding["detail"] and "'ed-py' has no /dev/bus/usb" in finding["detail"]
    remedy = finding["remedy"]
    assert "# podman run: add --device /dev/bus/usb:/dev/bus/usb to the command that starts 'ed-py'" in remedy
    assert "`podman rm -f ed-py` and run that command again" in remedy
    assert "lxc.cgroup2.devices.allow: c 189:* rwm" in remedy
    assert "lxc.mount.entry: /dev/bus/usb dev/bus/usb none bind,optional,create=dir" in remedy
    assert report["exit_code"] == exitcodes.FAILURE
    # the Python stack is the container's, as its own worker run reported it
    env = facts["python_env"]
    assert env["python"]["executable"] == "/usr/bin/python3" and env["tflite"]["module"] == "tflite_runtime"
    assert env["tflite"]["version"] == "2.14.0" and env["numpy"]["version"] == "1.26.4"
    assert env["smoke"]["status"] == "pass"
    assert facts["platform"]["python_version"] == "3.11.2"
    assert facts["container"]["python_executable"] == "/usr/bin/python3"
    assert facts["runtime"]["found"] is False  # no libedgetpu in the image: looked for inside it
    assert any(c["path"] == "/usr/lib/x86_64-linux-gnu/libedgetpu.so.1" for c in facts["runtime"]["candidates"])


def test_the_container_sees_the_accelerator_through_the_whole_bus():
    facts, _ = joined("usb", "usb3-runtime")
    found = by_id(judge(facts))
    assert found["container.usb"]["status"] == "pass" and "/dev/bus/usb/002/003" in found["container.usb"]["detail"]
    # the container's own libedgetpu (the fake one, bind-mounted), loaded by the worker inside it: C API answers
    runtime = facts["runtime"]
    assert runtime["path"] == "/usr/lib/x86_64-linux-gnu/libedgetpu.so.1" and runtime["loaded"] is True
    assert runtime["runtime_version"] == 14 and runtime["release"] == "grouper"
    assert runtime["devices"] == [{"type": "usb", "path": "/sys/bus/usb/devices/2-1"}]
    assert found["runtime.devices"]["status"] == "pass"


def test_a_bus_without_the_accelerator_node_says_pass_the_whole_bus():
    facts, _ = joined("usb", "usb3-bootloader")  # the host has it at 002/002; the container only 002/003
    finding = by_id(judge(facts))["container.usb"]
    assert finding["status"] == "fail" and "/dev/bus/usb/002/002" in finding["detail"]
    assert "Pass the whole bus" in finding["detail"]


def test_a_pcie_card_not_passed_in():
    facts, _ = joined("py", "pcie-ok")
    finding = by_id(judge(facts))["container.pcie"]
    assert finding["status"] == "fail" and "/dev/apex_0" in finding["detail"]
    assert "--device /dev/apex_0:/dev/apex_0" in finding["remedy"]
    assert "lxc.mount.entry: /dev/apex_0 dev/apex_0 none bind,optional,create=file" in finding["remedy"]
    assert facts["container"]["host_apex_majors"] == [120]  # from the host's /sys/class/apex/apex_0
    assert "lxc.cgroup2.devices.allow: c 120:* rwm" in finding["remedy"] and "is an example" not in finding["remedy"]


def test_models_run_with_the_containers_interpreter():
    models = Path(__file__).resolve().parent.parent.parent / "shared" / "models"
    if not models.is_dir():
        pytest.skip("../shared/models is absent")
    facts, _ = joined("py", "no-device", models_dir=str(models), iterations=3)
    cpu = facts["inference"]["cpu"]
    assert cpu["status"] == "pass" and cpu["top1"]["label"] == "Ara macao (Scarlet Macaw)"
    assert facts["inference"]["tpu"]["status"] == "skip"


def test_a_container_without_python_is_examined_from_outside():
    facts, transcript = joined("nopy", "usb3-runtime")
    report = judge(facts)
    found = by_id(report)
    assert found["python.interpreter"]["status"] == "skip"
    unseen = found["container.python"]
    assert unseen["status"] == "warn" and "Could not be seen: the Python stack" in unseen["detail"]
    assert "the known-good models" in unseen["detail"]
    assert "podman logs ed-nopy 2>&1 | edgedoctor explain -" in unseen["remedy"]
    assert facts["inference"]["skipped"].startswith("the container 'ed-nopy' has no python3")
    assert found["container.usb"]["status"] == "fail"
    # the runtime was found inside with ls, not loaded: nothing ran python there
    assert not any("python3" in argv and "-B" in argv for argv in transcript.calls)
    assert facts["runtime"]["found"] is True and facts["runtime"]["loaded"] is None
    assert facts["runtime"]["path"] == "/usr/lib/libedgetpu.so.1"
    assert facts["container"]["libedgetpu"] == ["/usr/lib/libedgetpu.so.1"]
    assert "libedgetpu at /usr/lib/libedgetpu.so.1" in unseen["detail"]
    assert "executable file `ldconfig` not found" in facts["runtime"]["error"]  # busybox has none: said verbatim


def test_compose_labels_give_the_compose_form():
    """The recorded inspect of ed-py with the labels `docker compose` puts on the containers it starts."""
    entries = json.loads((RECORDED / "py" / "engine.json").read_text())
    inspect = next(e for e in entries if e["argv"][:2] == ["podman", "inspect"])
    data = json.loads(inspect["stdout"])
    data[0]["Config"]["Labels"] = {
        "com.docker.compose.project": "nvr",
        "com.docker.compose.service": "frigate",
        "com.docker.compose.project.working_dir": "/opt/nvr",
        "com.docker.compose.project.config_files": "/opt/nvr/docker-compose.yml",
    }
    inspected = cprobe.parse_inspect(data[0], "docker")
    facts = {
        "container": dict(inspected, dev_bus_usb=False, usb_nodes=[], apex_nodes=[]),
        "usb": {"devices": [{"vendor_id": "18d1", "product_id": "9302", "state": "runtime", "bus": 2, "address": 3}]},
    }
    from edgedoctor.checks import container as check

    finding = {f.id: f for f in check.check(facts)}["container.usb"]
    assert (
        "# /opt/nvr/docker-compose.yml, service 'frigate':\nservices:\n  frigate:\n    devices:\n"
        "      - /dev/bus/usb:/dev/bus/usb" in finding.remedy
    )
    assert "cd /opt/nvr && docker compose up -d frigate" in finding.remedy


def test_cli_refuses_engine_without_container_and_container_with_root(run_cli):
    assert run_cli("check", "--engine", "podman")[0] == exitcodes.USAGE_ERROR
    code, _, err = run_cli("check", "--container", "x", "--root", ROOTS / "no-device")
    assert code == exitcodes.USAGE_ERROR and "--root" in err


# --- the worker streamed in -------------------------------------------------------------------------------------------


def _run_bootstrap(python, task, payload, tmp_path):
    program, carried = cprobe.build_bootstrap(task, payload, deadline=60)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    proc = subprocess.run(
        [python, "-B", "-"],
        input=program.encode(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(scratch),
        timeout=120,
    )
    assert list(scratch.iterdir()) == []  # nothing written where the worker ran
    return proc, carried


def test_the_bootstrap_runs_the_worker_with_the_model_in_memory(tmp_path):
    spec = python_env.embedded_model_spec(3)
    proc, carried = _run_bootstrap(sys.executable, "env", {"cwd": "/", "smoke": spec}, tmp_path)
    assert carried == [os.path.abspath(spec["model_path"])]
    answer = json.loads(proc.stdout)
    assert answer["ok"], proc.stderr
    smoke = answer["result"]["smoke"]
    if answer["result"]["tflite"]["module"]:  # this interpreter has a TFLite stack: the streamed model ran
        assert smoke["status"] == "pass", smoke
    else:
        assert smoke is None or smoke.get("status") != "pass"
    assert b"@@edgedoctor-stage:" in proc.stderr


def test_the_bootstrap_on_the_oldest_python(tmp_path):
    """The worker must run on Python 3.6+: streamed into a Python 3.7 venv when the cache has one."""
    cache = Path(os.environ.get("EDGEDOCTOR_TEST_VENVS", Path(__file__).parent / ".cache" / "venvs"))
    old = sorted(cache.glob("py37-*/bin/python")) if cache.is_dir() else []
    if not old:
        pytest.skip("no Python 3.7 venv in the test venv cache")
    proc, _ = _run_bootstrap(str(old[0]), "runtime", {"library": None, "names": ["libedgetpu.so.1"]}, tmp_path)
    answer = json.loads(proc.stdout)
    assert answer["ok"] and answer["result"]["loaded"] is False, proc.stderr


def test_a_file_too_big_is_not_streamed(tmp_path, monkeypatch):
    big = tmp_path / "big.tflite"
    big.write_bytes(b"x" * 10)
    monkeypatch.setattr(cprobe, "FILE_LIMIT", 5)
    _, carried = cprobe.build_bootstrap("infer", {"model_path": str(big)}, 10)
    assert carried == []


# --- the shim: the worker readers' stand-in for the container's python3 ---------------------------------------------


def _fake_engine(tmp_path, body):
    """An engine client that runs what `exec -i NAME python3 -B -` would run, on this machine."""
    engine = tmp_path / "fake-engine"
    engine.write_text(f"#!/bin/sh\n{body}\n")
    engine.chmod(0o755)
    return str(engine)


def test_the_shim_runs_the_worker_through_the_engine(tmp_path):
    from edgedoctor.machine import workerproc

    log = tmp_path / "argv"
    engine = _fake_engine(tmp_path, f'echo "$@" > {log}\nexec {sys.executable} -B -')
    with cprobe.WorkerShim(engine, "frigate", "python3", 30) as shim:
        outcome = workerproc.run_worker(
            shim.path,
            "runtime",
            {"library": None, "names": ["libedgetpu.so.1"]},
            timeout=60,
            env={"PATH": "/nonexistent"},
        )  # the container's env
        assert outcome.ok and outcome.result["loaded"] is False, outcome.error
        folder = shim.folder
    assert not os.path.exists(folder)  # the shim is removed with its folder
    argv = log.read_text().split()
    assert argv[:2] == ["exec", "-i"] and argv[-4:] == ["frigate", "python3", "-B", "-"]
    assert "TMPDIR=/dev/shm" in argv


def test_a_worker_killed_inside_the_container_reads_as_killed(tmp_path):
    """docker/podman exec report a process killed by SIGSEGV as exit code 139: the caller sees the signal."""
    from edgedoctor.machine import workerproc

    engine = _fake_engine(tmp_path, "cat > /dev/null\necho 'Fatal Python error: Segmentation fault' >&2\nexit 139")
    with cprobe.WorkerShim(engine, "frigate", "python3", 30) as shim:
        outcome = workerproc.run_worker(shim.path, "env", {}, timeout=60)
    assert outcome.status == workerproc.CRASHED and outcome.signal == "SIGSEGV"
    assert "Segmentation fault" in outcome.stderr
