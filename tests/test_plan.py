"""The plan: for every recorded scenario, every fixture root (with the Python stacks users really have) and the
rules a Coral expert would insist on, applying the plan's changes to the facts and judging again leaves no
failing finding in the python, runtime or combination areas. Plans for recorded machines are golden files.

Regenerate the plan golden files after an intended change with:
    EDGEDOCTOR_REGEN_GOLDEN=1 python3 -m pytest tests/test_plan.py -k golden
"""

import copy
import json
import os
import re
from pathlib import Path

import pytest
from helpers_hw import read_facts, root_names

from edgedoctor.diagnosis import plan as planner
from edgedoctor.diagnosis.judge import judge

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
PLATFORMS = Path(__file__).parent / "fixtures" / "platform"
GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "plans"
SCOPE = ("python", "runtime", "combination")


def env(
    version,
    executable,
    *,
    venv=True,
    tflite=None,
    litert=None,
    tensorflow=None,
    numpy=None,
    numpy_found=None,
    pycoral="absent",
    pycoral_version=None,
    packages=None,
    managed=None,
):
    """A python_env section as the worker reports it."""
    candidates = {}
    for module, value in (("tflite_runtime", tflite), ("ai_edge_litert", litert), ("tensorflow", tensorflow)):
        candidates[module] = (
            {"found": True, "version": value, "dist_version": value, "imported": True, "shadowed": False}
            if value
            else {"found": False}
        )
    chosen = next((m for m in ("tflite_runtime", "ai_edge_litert", "tensorflow") if candidates[m]["found"]), None)
    broken = bool(chosen == "tflite_runtime" and numpy and numpy.startswith("2."))
    python = {"version": version, "implementation": "CPython", "executable": executable, "in_venv": venv}
    if managed is not None:
        python["externally_managed"] = managed
    dists = dict(packages or {})
    for name, value in (
        ("tflite-runtime", tflite),
        ("ai-edge-litert", litert),
        ("tensorflow", tensorflow),
        ("numpy", numpy),
    ):
        if value:
            dists[name] = value
    return {
        "python": python,
        "tflite": {
            "module": chosen,
            "version": candidates[chosen]["version"] if chosen else None,
            "error": None if chosen else "no TFLite interpreter is installed",
            "candidates": candidates,
        },
        "numpy": {"version": numpy, "found": bool(numpy) if numpy_found is None else numpy_found, "error": None},
        "pycoral": {"identity": pycoral, "version": pycoral_version, "error": None, "shadowed": False},
        "smoke": (
            {
                "status": "fail",
                "error": "SystemError: <built-in method CreateWrapperFromFile of PyCapsule "
                "object> returned a result with an exception set",
                "stderr": "A module that was compiled using "
                "NumPy 1.x cannot be run in\nNumPy 2.1.3 as it may crash.\nAttributeError: _ARRAY_API not found",
            }
            if broken
            else {"status": "pass"}
            if chosen and numpy
            else {"status": "skip", "error": "no TFLite interpreter could be imported"}
        ),
        "worker": {"status": "ok", "error": None, "crashes": []},
        "packages": dists,
        "cwd": "/home/me/project",
    }


VENV = "/home/me/proj/.venv/bin/python"
# The Python stacks users have (and the follow-through venvs of test_plan_venvs.py), on Linux.
LINUX_ENVS = {
    "nothing-3.11": env("3.11.2", VENV),
    "tflite214-numpy2": env("3.11.2", VENV, tflite="2.14.0", numpy="2.1.3"),
    "tflite214-numpy1": env("3.11.2", VENV, tflite="2.14.0", numpy="1.26.4"),
    "tflite214-numpy-missing": env("3.11.2", VENV, tflite="2.14.0", numpy_found=False),
    "pypi-pycoral": env("3.11.2", VENV, pycoral="pypi-impostor", pycoral_version="0.2.0"),
    "tflite214-tensorflow-numpy2": env(
        "3.11.2", VENV, tflite="2.14.0", tensorflow="2.21.0", numpy="2.4.6", packages={"ml-dtypes": "0.5.4"}
    ),
    "py312-nothing": env("3.12.1", VENV),
    "py312-litert": env("3.12.1", VENV, litert="2.1.0", numpy="2.2.6"),
    "system-python-3.11": env("3.11.2", "/usr/bin/python3", venv=False),
    "system-python-3.9-pycoral": env(
        "3.9.2",
        "/usr/bin/python3",
        venv=False,
        tflite="2.5.0.post1",
        numpy="1.19.5",
        pycoral="google",
        pycoral_version="2.0.0",
        managed=False,
    ),
    "venv-3.9-tflite21": env("3.9.18", VENV, tflite="2.1.0.post1", numpy="1.19.5"),
}
MAC_ENVS = {
    "mac-nothing-3.11": env("3.11.7", "/Users/me/proj/.venv/bin/python"),
    "mac-tflite250post1-3.9": env("3.9.18", "/Users/me/proj/.venv/bin/python", tflite="2.5.0.post1", numpy="1.26.4"),
}
WINDOWS_ENVS = {
    "win-nothing-3.11": env("3.11.7", "C:\\Users\\me\\proj\\.venv\\Scripts\\python.exe"),
    "win-tflite250post1-3.9": env(
        "3.9.13", "C:\\Users\\me\\proj\\.venv\\Scripts\\python.exe", tflite="2.5.0.post1", numpy="1.26.4"
    ),
}


def with_env(facts, python_env):
    facts = copy.deepcopy(facts)
    facts["python_env"] = copy.deepcopy(python_env)
    python = python_env["python"]
    platform = facts.setdefault("platform", {})
    platform.update(
        {"python_version": python["version"], "python_executable": python["executable"], "in_venv": python["in_venv"]}
    )
    # as collect does: the worker's machine names the architecture when the root does not
    platform["arch"] = platform.get("arch") or {"windows": "x86_64", "darwin": "arm64"}.get(
        platform.get("os"), "x86_64"
    )
    python["machine"] = platform["arch"]
    return facts


def envs_for(os_name):
    return {"darwin": MAC_ENVS, "windows": WINDOWS_ENVS}.get(os_name, LINUX_ENVS)


def failing_in_scope(report):
    return [
        (f["id"], f["title"]) for f in report["findings"] if f["status"] == "fail" and f["id"].split(".")[0] in SCOPE
    ]


def assert_plan_holds(facts, where):
    report = judge(facts)
    plan = report["plan"]
    assert plan["target"] and plan["steps"], (where, plan)
    after = judge(planner.apply_changes(facts, planner.changes_of(plan)), with_plan=False)
    assert not failing_in_scope(after), (where, failing_in_scope(after), plan)
    assert_commands_are_for_the_examined_interpreter(facts, plan, where)
    return report


def assert_commands_are_for_the_examined_interpreter(facts, plan, where):
    executable = facts["platform"]["python_executable"]
    python = facts["python_env"]["python"]
    commands = [c for step in plan["steps"] for c in step["commands"]]
    created = [c for c in commands if " -m venv " in c]
    for command in commands:
        assert "--break-system-packages" not in command, where
        if " -m pip " in command:
            interpreter = command.split(" -m pip ", 1)[0]
            assert interpreter in (
                executable,
                "~/coral-venv/bin/python",
                "%USERPROFILE%\\coral-venv\\Scripts\\python",
            ), (where, command)
            assert interpreter != executable or not created, (where, command)
        assert not re.match(r"^(python3?|pip3?|py) ", command) or " -m venv " in command, (where, command)
        if "python3-pycoral" in command:
            assert executable.startswith("/usr/bin/python3") and not python["in_venv"], (where, command)
            assert tuple(map(int, python["version"].split(".")[:2])) < (3, 10), (where, command)
    if python.get("externally_managed") or (
        executable == "/usr/bin/python3"
        and python.get("externally_managed") is not False
        and python["version"].startswith(("3.11", "3.12"))
    ):
        assert created, (where, "PEP 668: the plan must create a venv")


def root_cases():
    for name in root_names():
        facts = read_facts(name)
        for env_name, python_env in envs_for(facts["platform"]["os"]).items():
            yield name, env_name, facts, python_env


@pytest.fixture(scope="module")
def roots():
    return list(root_cases())


def test_every_root_with_every_python_stack_has_a_plan_that_holds(roots):
    assert len(roots) >= 17 * 2
    for name, env_name, facts, python_env in roots:
        assert_plan_holds(with_env(facts, python_env), f"{name} + {env_name}")


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.json")))
def test_every_recorded_scenario_has_a_plan_that_holds(name):
    facts = json.loads((SCENARIOS / f"{name}.json").read_text())["facts"]
    assert_plan_holds(facts, name)


def test_numpy2_is_fixed_in_the_examined_venv_by_path():
    facts = with_env(read_facts("no-device"), LINUX_ENVS["tflite214-numpy2"])
    plan = judge(facts)["plan"]
    commands = [c for s in plan["steps"] for c in s["commands"]]
    assert f'{VENV} -m pip install "numpy<2"' in commands
    numpy_step = next(s for s in plan["steps"] if '"numpy<2"' in " ".join(s["commands"]))
    assert numpy_step["fixes"] == ["python.numpy"]


def test_one_cause_one_failing_finding_and_the_cause_is_never_ok():
    """numpy 2 under tflite_runtime 2.14: numpy itself fails (never [ OK ]), the model run that it breaks
    refers to it, and no second finding fails for the same cause."""
    facts = json.loads((SCENARIOS / "no-device-numpy2.json").read_text())["facts"]
    report = judge(facts)
    by_id = {f["id"]: f for f in report["findings"]}
    assert by_id["python.numpy"]["status"] == "fail" and by_id["python.numpy"]["causes"] == ["numpy-abi"]
    assert by_id["python.smoke"]["status"] == "info" and "python.numpy" in by_id["python.smoke"]["detail"]
    failing = [c for f in report["findings"] if f["status"] == "fail" for c in f["causes"]]
    assert len(failing) == len(set(failing)), failing
    assert report["summary"]["fail"] == 3  # numpy, the device, the runtime


def test_combination_heading_text_and_remedy_are_one_entry():
    from edgedoctor import matrix

    facts = with_env(read_facts("usb2-runtime"), env("3.9.2", VENV, tflite="2.14.0", numpy="1.26.4"))
    finding = next(f for f in judge(facts)["findings"] if f["id"] == "combination.release")
    assert finding["status"] == "fail"
    entry_id = re.search(r"matrix entry ([\w-]+)", finding["detail"]).group(1)
    entry = matrix.load().get(entry_id)
    assert finding["title"] == f"Known-bad combination: {entry.title}"
    from edgedoctor.checks.python_env import for_interpreter

    assert entry.explanation in finding["detail"]
    assert finding["remedy"] == for_interpreter(entry.remedy_for("linux"), facts)
    assert "usb2" not in entry.cause and "USB 2" not in finding["remedy"]


def test_python311_never_gets_the_official_runtime_with_tflite_214():
    """tflite_runtime 2.14 (the only wheel for 3.11) with Google's TF 2.5 runtime is known-bad: the plan pairs
    it with a runtime built for it, and never `apt-get install libedgetpu1-std` from Coral's repository."""
    facts = with_env(read_facts("no-device"), LINUX_ENVS["nothing-3.11"])
    report = judge(facts)
    plan = report["plan"]
    assert plan["target"]["tflite_runtime"] == "2.14.0"
    assert plan["target"]["runtime_release"].startswith("feranick-")
    commands = [c for s in plan["steps"] for c in s["commands"]]
    assert "sudo apt-get install libedgetpu1-std" not in commands
    # and the runtime finding's own remedy is that step, not Google's runtime
    found = next(f for f in report["findings"] if f["id"] == "runtime.found")
    assert "sudo apt-get install libedgetpu1-std" not in found["remedy"].splitlines()
    assert "feranick/libedgetpu" in found["remedy"]


def test_official_runtime_with_tflite_214_is_replaced_not_kept():
    facts = with_env(read_facts("usb3-runtime"), LINUX_ENVS["tflite214-numpy1"])
    report = judge(facts)
    assert any(f["id"] == "combination.release" and f["status"] == "fail" for f in report["findings"])
    plan = report["plan"]
    runtime_step = next(s for s in plan["steps"] if s["title"].startswith("Replace the Edge TPU runtime"))
    assert "combination.release" in runtime_step["fixes"]


def test_tensorflow_with_numpy2_keeps_its_numpy_and_gets_a_separate_venv():
    facts = with_env(read_facts("no-device"), LINUX_ENVS["tflite214-tensorflow-numpy2"])
    plan = judge(facts)["plan"]
    commands = [c for s in plan["steps"] for c in s["commands"]]
    assert f"{VENV} -m venv ~/coral-venv" in commands
    assert not any(c.startswith(VENV + " -m pip") for c in commands)  # nothing pinned under tensorflow


def test_pep668_system_python_gets_a_venv_never_break_system_packages():
    facts = with_env(read_facts("no-device"), LINUX_ENVS["system-python-3.11"])
    plan = judge(facts)["plan"]
    commands = [c for s in plan["steps"] for c in s["commands"]]
    # Debian ships venv apart from python3: without python3-venv, `python3 -m venv` stops at ensurepip.
    assert commands[:2] == ["sudo apt-get install -y python3-venv", "/usr/bin/python3 -m venv ~/coral-venv"]
    assert any(c.startswith("~/coral-venv/bin/python -m pip install") for c in commands)
    assert "PEP 668" in plan["steps"][0]["title"]


def test_python312_changes_python_and_says_so():
    facts = with_env(read_facts("no-device"), LINUX_ENVS["py312-nothing"])
    plan = judge(facts)["plan"]
    assert plan["target"]["python"] == "3.11"
    assert any("change of Python is unavoidable" in n for n in plan["notes"])
    assert plan["steps"][0]["commands"] == ["python3.11 -m venv ~/coral-venv"]


def test_apt_pycoral_only_for_the_system_python3_below_310():
    system = with_env(read_facts("no-device"), LINUX_ENVS["system-python-3.9-pycoral"])
    commands = [c for s in judge(system)["plan"]["steps"] for c in s["commands"]]
    venv = with_env(
        read_facts("no-device"),
        env("3.9.18", VENV, tflite="2.5.0.post1", numpy="1.19.5", pycoral="pypi-impostor", pycoral_version="0.2.0"),
    )
    venv_commands = [c for s in judge(venv)["plan"]["steps"] for c in s["commands"]]
    assert not any("python3-pycoral" in c for c in venv_commands)
    assert any("pycoral==2.0.0" in c and c.startswith(VENV) for c in venv_commands)
    assert any("libedgetpu1-std" in c for c in commands)


def test_windows_plan_uses_py_launcher_and_the_runtime_that_works_there():
    facts = with_env(read_facts("windows-usb"), WINDOWS_ENVS["win-nothing-3.11"])
    plan = judge(facts)["plan"]
    commands = [c for s in plan["steps"] for c in s["commands"]]
    assert commands[0] == "py -3.9 -m venv %USERPROFILE%\\coral-venv"
    assert plan["target"]["runtime_release"] == "zip-20210119"


def test_self_diagnosis_is_gone():
    """edgedoctor's own skip reason 'no Edge TPU device found' is not an error text the matcher sees."""
    facts = json.loads((SCENARIOS / "no-device-numpy2.json").read_text())["facts"]
    facts.setdefault("inference", {})["tpu"] = {"status": "skip", "error": "no Edge TPU device found"}
    report = judge(facts)
    assert not any("inference.tpu" in " ".join(d.get("evidence") or []) for d in report["diagnoses"])


# --- golden plans for recorded machines ------------------------------------------------------------------------


def platform_facts(name):
    from edgedoctor.machine.options import CheckOptions
    from edgedoctor.machine.system import System
    from edgedoctor.probes import ProbeContext
    from edgedoctor.probes import platform as probe

    return probe.read(ProbeContext(System.from_root(PLATFORMS / name), CheckOptions()))


def machine(name):
    """Recorded machines: (facts) from the platform and hardware fixture roots with a Python stack."""
    if name == "debian-12-numpy2":
        facts = read_facts("no-device")
        facts["platform"].update(
            {
                k: v
                for k, v in platform_facts("debian-12-docker").items()
                if k in ("os_release", "distro", "distro_version", "libc", "libc_version")
            }
        )
        return with_env(facts, LINUX_ENVS["tflite214-numpy2"])
    if name == "debian-12-system-python":
        return with_env(read_facts("usb3-runtime"), LINUX_ENVS["system-python-3.11"])
    if name == "ubuntu-24.04-numpy2":
        return json.loads((SCENARIOS / "no-device-numpy2.json").read_text())["facts"]
    if name == "raspios-bookworm-aarch64":
        facts = read_facts("pi5-16k-pages")
        facts["platform"].update(platform_facts("raspios-bookworm-pi5"))
        return with_env(facts, env("3.11.2", "/usr/bin/python3", venv=False, managed=True))
    if name == "macos-arm64":
        return with_env(read_facts("darwin-usb3"), MAC_ENVS["mac-nothing-3.11"])
    if name == "windows":
        return with_env(read_facts("windows-usb"), WINDOWS_ENVS["win-nothing-3.11"])
    raise KeyError(name)


MACHINES = (
    "debian-12-numpy2",
    "debian-12-system-python",
    "ubuntu-24.04-numpy2",
    "raspios-bookworm-aarch64",
    "macos-arm64",
    "windows",
)


@pytest.mark.parametrize("name", MACHINES)
def test_golden_plan(name):
    from edgedoctor.commands.plan import render

    facts = machine(name)
    report = assert_plan_holds(facts, name)
    text = (
        render(report["plan"], "text", facts["platform"]["python_executable"])
        + "\n"
        + json.dumps(report["plan"], indent=2)
        + "\n"
    )
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("EDGEDOCTOR_REGEN_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; regenerate with EDGEDOCTOR_REGEN_GOLDEN=1"
    assert text == golden.read_text()


def test_plan_command_prints_text_json_and_sh(run_cli):
    root = Path(__file__).parent / "fixtures" / "roots" / "no-device"
    code, out, _ = run_cli("plan", "--root", root, "--no-models", "--offline", "--format", "json", "-q")
    assert code == 0
    plan = json.loads(out)
    assert plan["steps"] and all(set(s) == {"title", "commands", "fixes", "changes"} for s in plan["steps"])
    code, script, _ = run_cli("plan", "--root", root, "--no-models", "--offline", "--format", "sh", "-q")
    assert script.startswith("#!/bin/sh\n") and "\nset -e\n" in script
    for command in (c for s in plan["steps"] for c in s["commands"]):
        assert "\n" + command + "\n" in script
    code, text, _ = run_cli("plan", "--root", root, "--no-models", "--offline", "-q")
    for command in (c for s in plan["steps"] for c in s["commands"]):
        assert command in text.splitlines()[0] or any(line.strip() == command for line in text.splitlines())


def test_finding_remedies_never_pip_into_a_pep668_interpreter():
    from edgedoctor.checks import python_env as check_python_env

    facts = with_env(read_facts("no-device"), LINUX_ENVS["tflite214-numpy-missing"])
    facts["python_env"]["python"].update(
        {"executable": "/usr/bin/python3", "in_venv": False, "externally_managed": True}
    )
    facts["platform"].update({"python_executable": "/usr/bin/python3", "in_venv": False})
    numpy = next(f for f in check_python_env.check(facts) if f.id == "python.numpy")
    assert "/usr/bin/python3 -m pip" not in numpy.remedy
    assert "/usr/bin/python3 -m venv ~/coral-venv" in numpy.remedy
    assert '~/coral-venv/bin/python -m pip install "numpy<2"' in numpy.remedy


@pytest.mark.parametrize("executable,venv,apt", [("/usr/bin/python3", False, True), (VENV, True, False)])
def test_pycoral_remedy_apt_only_for_the_system_python(executable, venv, apt):
    from edgedoctor.checks import python_env as check_python_env

    facts = with_env(
        read_facts("no-device"),
        env("3.9.2", executable, venv=venv, tflite="2.5.0.post1", numpy="1.19.5", managed=False),
    )
    pycoral = next(f for f in check_python_env.check(facts) if f.id == "python.pycoral")
    assert ("sudo apt-get install python3-pycoral" in pycoral.remedy) is apt
    if not apt:
        assert pycoral.remedy.startswith(f"{executable} -m pip install --extra-index-url")


def test_numpy_remedy_never_pins_numpy_under_tensorflow():
    from edgedoctor.checks import python_env as check_python_env

    facts = with_env(read_facts("no-device"), LINUX_ENVS["tflite214-tensorflow-numpy2"])
    numpy = next(f for f in check_python_env.check(facts) if f.id == "python.numpy")
    assert numpy.status == "fail"
    assert f"{VENV} -m pip" not in numpy.remedy
    assert f"{VENV} -m venv ~/coral-venv" in numpy.remedy


def test_tf_lite_is_judged_against_the_runtime():
    """tensorflow 2.21 next to the official runtime is not 'untested, it may work'."""
    facts = with_env(read_facts("usb3-runtime"), env("3.11.2", VENV, numpy="2.2.6", tensorflow="2.21.0"))
    report = judge(facts)
    combination = next(f for f in report["findings"] if f["id"] == "combination.release")
    assert combination["status"] == "warn" and combination["causes"] == ["tflite-too-new"]
    assert combination["title"].startswith("Known-bad combination: ")
    assert not combination["title"].startswith("Untested")


def test_every_installed_interpreter_is_examined():
    from edgedoctor.checks import python_env as check_python_env

    python_env = env("3.11.2", VENV, tflite="2.14.0", numpy="1.26.4", tensorflow="2.21.0")
    python_env["tflite"]["candidates"]["tensorflow"].update(
        {
            "imported": False,
            "version": None,
            "error": "ImportError: numpy.core.umath failed to import",
            "stderr": "A module that was compiled using NumPy 2.x cannot be run in NumPy 1.26.4",
        }
    )
    facts = with_env(read_facts("no-device"), python_env)
    by_id = {f.id: f for f in check_python_env.check(facts)}
    assert by_id["python.tflite"].status == "pass"
    assert by_id["python.tflite-tensorflow"].status == "fail"
    assert "numpy.core.umath" in by_id["python.tflite-tensorflow"].detail
