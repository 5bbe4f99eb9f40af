"""The Python side for real: throwaway venvs with real package combinations from PyPI, examined through
`check --python`. Each venv is built once and cached (tests/venvs.py)."""

import json

import pytest
from venvs import make_venv, require_python

pytestmark = pytest.mark.venv

TFLITE_NUMPY2 = ["tflite-runtime==2.14.0", "numpy>=2"]
TFLITE_NUMPY1 = ["tflite-runtime==2.14.0", "numpy<2"]


def check_json(run_cli, python, *extra):
    code, out, err = run_cli("check", "--python", python, "--no-models", "--format", "json", "--timeout", "120", *extra)
    report = json.loads(out)
    return code, report


def finding(report, finding_id):
    found = [f for f in report["findings"] if f["id"] == finding_id]
    assert found, f"no finding {finding_id}: {[f['id'] for f in report['findings']]}"
    return found[0]


def test_numpy2_with_tflite_runtime_built_for_numpy1_is_numpy_abi(run_cli, validate_report):
    python = make_venv("3.11", TFLITE_NUMPY2, name="tflite214-np2")
    code, report = check_json(run_cli, python)
    validate_report(report)
    env = report["facts"]["python_env"]
    assert env["tflite"]["module"] == "tflite_runtime" and env["tflite"]["version"] == "2.14.0"
    assert env["numpy"]["version"].startswith("2.")
    # numpy is the cause, so numpy fails (never [ OK ]); the model run it breaks refers to it
    numpy = finding(report, "python.numpy")
    assert numpy["status"] == "fail" and numpy["causes"] == ["numpy-abi"]
    assert "numpy<2" in numpy["remedy"] and numpy["remedy"].startswith(python)
    smoke = finding(report, "python.smoke")
    assert smoke["status"] == "info" and "python.numpy" in smoke["title"]
    # the verbatim text the interpreter printed is kept in Facts, and the matrix names it too
    assert "NumPy 1.x" in env["smoke"]["stderr"] or "_ARRAY_API" in env["smoke"]["stderr"]
    assert any(d["cause"] == "numpy-abi" for d in report["diagnoses"])
    assert code == 1


def test_numpy1_with_tflite_runtime_passes(run_cli, validate_report):
    python = make_venv("3.11", TFLITE_NUMPY1, name="tflite214-np1")
    code, report = check_json(run_cli, python)
    validate_report(report)
    assert finding(report, "python.tflite")["status"] == "pass"
    assert "2.14.0" in finding(report, "python.tflite")["title"]
    assert report["facts"]["python_env"]["numpy"]["version"].startswith("1.")
    assert finding(report, "python.smoke")["status"] == "pass"
    assert report["facts"]["platform"]["python_executable"].startswith(str(python).rsplit("/bin/", 1)[0])
    assert all(f["status"] != "fail" for f in report["findings"] if f["id"].startswith("python."))


def test_pypi_pycoral_impostor_is_named(run_cli):
    # --no-deps: the impostor's own dependencies (pandas, geopandas...) say nothing about its identity.
    python = make_venv("3.11", ["pycoral==0.2.0"], pip_args=["--no-deps"], name="pypi-pycoral")
    code, report = check_json(run_cli, python)
    pycoral = report["facts"]["python_env"]["pycoral"]
    assert pycoral["identity"] == "pypi-impostor"
    assert pycoral["version"] == "0.2.0"
    found = finding(report, "python.pycoral")
    assert found["status"] == "fail" and found["causes"] == ["pycoral-wrong-package"]
    assert "uninstall -y pycoral" in found["remedy"]
    # Python 3.11 has no Google pycoral (apt's python3-pycoral needs python3 < 3.10): the remedy says where one is
    assert "python3-pycoral" not in found["remedy"] and "python3.9 -m venv" in found["remedy"]
    assert "google-coral.github.io/py-repo" in found["remedy"]
    assert code == 1


def test_python37_with_its_tflite_runtime_is_examined_by_a_37_worker(run_cli):
    python = make_venv("3.7", ["tflite-runtime", "numpy<2"], name="py37-tflite")
    code, report = check_json(run_cli, python)
    env = report["facts"]["python_env"]
    assert env["python"]["version"].startswith("3.7.")
    assert env["tflite"]["module"] == "tflite_runtime"
    assert env["tflite"]["version"]  # whatever PyPI's newest cp37 wheel is, it is reported
    assert env["numpy"]["version"].startswith("1.")
    assert finding(report, "python.smoke")["status"] == "pass"
    # pycoral has wheels for 3.7, so no python-unsupported warning
    assert finding(report, "python.version")["status"] == "pass"


def test_python312_without_tflite_is_python_unsupported(run_cli):
    python = make_venv("3.12", [], name="py312-empty")
    code, report = check_json(run_cli, python)
    version = finding(report, "python.version")
    assert version["status"] == "warn" and version["causes"] == ["python-unsupported"]
    tflite = finding(report, "python.tflite")
    assert tflite["status"] == "fail"
    assert tflite["causes"] == ["python-unsupported"]
    assert "ai-edge-litert" in tflite["remedy"]
    assert code == 1


def test_worker_runs_on_python36(run_cli):
    python = require_python("3.6")
    code, report = check_json(run_cli, python)
    env = report["facts"]["python_env"]
    assert env["python"]["version"].startswith("3.6.")
    assert env["worker"]["status"] == "ok"


def test_source_tree_shadowing_from_the_current_folder(run_cli, tmp_path, monkeypatch):
    python = make_venv("3.11", TFLITE_NUMPY1, name="tflite214-np1")
    clone = tmp_path / "pycoral-clone"
    (clone / "pycoral" / "utils").mkdir(parents=True)
    (clone / "pycoral" / "__init__.py").write_text("__version__ = '2.0.0'\n")
    (clone / "pycoral" / "utils" / "__init__.py").write_text("")
    (clone / "pycoral" / "utils" / "edgetpu.py").write_text("from pycoral.pybind import _pywrap_coral\n")
    monkeypatch.chdir(clone)
    code, report = check_json(run_cli, python)
    pycoral = report["facts"]["python_env"]["pycoral"]
    assert pycoral["shadowed"] is True
    assert "pycoral.pybind" in pycoral["error"]
    shadow = finding(report, "python.shadowing")
    assert shadow["status"] == "fail" and shadow["causes"] == ["source-tree-shadowing"]


def test_python312_with_litert_runs_the_embedded_model(run_cli):
    python = make_venv("3.12", ["ai-edge-litert", "numpy<2.3"], name="py312-litert")
    code, report = check_json(run_cli, python)
    env = report["facts"]["python_env"]
    assert env["tflite"]["module"] == "ai_edge_litert"
    assert env["tflite"]["version"]
    assert finding(report, "python.tflite")["status"] == "pass"
    assert finding(report, "python.smoke")["status"] == "pass"
    # LiteRT is the way on 3.12: no failure about the interpreter, only the pycoral wheel warning
    assert finding(report, "python.version")["causes"] == ["python-unsupported"]


@pytest.mark.parametrize(
    "python,module,package,numpy",
    [
        ("3.11.7", "tflite_runtime", 'tflite-runtime "numpy<2"', '"numpy<2"'),
        ("3.9.18", None, 'tflite-runtime "numpy<2"', '"numpy<2"'),
        ("3.12.1", None, "ai-edge-litert", "numpy"),
        ("3.12.1", "ai_edge_litert", "ai-edge-litert", "numpy"),
        ("3.11.7", "ai_edge_litert", "ai-edge-litert", "numpy"),
    ],
)
def test_remedies_install_what_exists_for_this_python(python, module, package, numpy):
    """numpy<2 belongs to tflite-runtime (built against NumPy 1.x); Python 3.12+ has no tflite-runtime, so its
    remedies name LiteRT and a plain numpy."""
    from edgedoctor.checks import python_env as check_python_env

    env = {
        "python": {"version": python, "executable": "/usr/bin/python3"},
        "tflite": {
            "module": module,
            "version": "2.14.0" if module else None,
            "candidates": {"tflite_runtime": {"found": module == "tflite_runtime"}},
        },
        "numpy": {"found": False, "error": None},
        "smoke": {"status": "fail", "error": "RuntimeError: something nobody has seen before"},
        "pycoral": {"identity": "absent"},
    }
    findings = {f.id: f for f in check_python_env.check({"python_env": env, "platform": {"os": "linux"}})}
    assert findings["python.numpy"].remedy.endswith(f"install {numpy}")
    if module:
        assert findings["python.smoke"].remedy.endswith(f"install --force-reinstall {package}")


@pytest.mark.parametrize(
    "os_name,library,venv",
    [
        ("linux", "libedgetpu.so.1", "python3.9 -m venv ~/coral-venv"),
        ("darwin", "libedgetpu.1.dylib", "python3.9 -m venv ~/coral-venv"),
        ("windows", "edgetpu.dll", "py -3.9 -m venv %USERPROFILE%\\coral-venv"),
    ],
)
def test_python_remedies_speak_the_examined_os(os_name, library, venv):
    from edgedoctor.checks import python_env as check_python_env

    env = {
        "python": {"version": "3.11.7", "executable": "python"},
        "tflite": {"module": None, "candidates": {}},
        "numpy": {"found": True, "version": "1.26.4"},
        "smoke": None,
        "pycoral": {"identity": "absent"},
    }
    findings = {
        f.id: f for f in check_python_env.check({"python_env": env, "platform": {"os": os_name, "arch": "x86_64"}})
    }
    assert f"load_delegate('{library}')" in findings["python.version"].remedy
    assert venv in findings["python.version"].remedy and venv in findings["python.pycoral"].remedy
