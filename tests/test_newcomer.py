"""A newcomer's first ten minutes: the interpreter examined by default, `--python` refusing what is not a Python,
a "did you mean" for a mistyped command, the line that says what to do next, `models fetch` filling the cache."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgedoctor import exitcodes
from edgedoctor.machine import interpreter
from edgedoctor.render import terminal

SHARED_MODELS = Path(__file__).resolve().parent.parent.parent / "shared" / "models"


def make_venv_folder(root: Path, name: str) -> Path:
    """A folder shaped like a venv whose python is the test interpreter (a symlink, as venv makes it)."""
    bindir = root / name / "bin"
    bindir.mkdir(parents=True)
    (bindir / "python").symlink_to(sys.executable)
    (root / name / "pyvenv.cfg").write_text("home = %s\n" % Path(sys.executable).parent)
    return bindir / "python"


def fake_identity(path: str) -> interpreter.Identity:
    return interpreter.Identity(
        path=path,
        executable=path,
        version="3.11.7",
        implementation="cpython",
        in_venv=True,
        prefix=str(Path(path).parent.parent),
    )


def test_an_active_virtual_environment_comes_first(tmp_path):
    active = make_venv_folder(tmp_path, "proj-venv")
    make_venv_folder(tmp_path, ".venv")
    choice, _, _ = interpreter.choose(
        env={"VIRTUAL_ENV": str(tmp_path / "proj-venv")},
        cwd=str(tmp_path),
        which=lambda name: "/usr/bin/python3",
        check=fake_identity,
    )
    assert choice.path == str(active) and choice.source == "virtual_env"
    assert "$VIRTUAL_ENV" in choice.reason


def test_conda_then_the_venv_in_the_current_folder_then_python3_on_path(tmp_path):
    conda = tmp_path / "conda"
    (conda / "bin").mkdir(parents=True)
    (conda / "bin" / "python").symlink_to(sys.executable)
    choice, _, _ = interpreter.choose(
        env={"CONDA_PREFIX": str(conda)}, cwd=str(tmp_path), which=lambda name: None, check=fake_identity
    )
    assert choice.source == "conda"
    local = make_venv_folder(tmp_path, "venv")
    choice, _, _ = interpreter.choose(env={}, cwd=str(tmp_path), which=lambda name: None, check=fake_identity)
    assert (choice.path, choice.source) == (str(local), "cwd_venv") and "./venv" in choice.reason
    empty = tmp_path / "empty"
    empty.mkdir()
    choice, _, _ = interpreter.choose(env={}, cwd=str(empty), which=lambda name: sys.executable, check=fake_identity)
    assert choice.source == "path" and "python3" in choice.reason


def test_edgedoctors_own_interpreter_only_when_nothing_else_exists(tmp_path):
    choice, identity, _ = interpreter.choose(env={}, cwd=str(tmp_path), which=lambda name: None, check=fake_identity)
    assert choice.source == "own" and choice.is_own and identity is None
    assert "no other Python" in choice.reason


def test_a_candidate_that_is_not_a_python_is_passed_over_with_the_reason(tmp_path):
    broken = tmp_path / ".venv" / "bin"
    broken.mkdir(parents=True)
    (broken / "python").write_text("#!/bin/sh\necho hello\n")
    (broken / "python").chmod(0o755)
    choice, _, passed_over = interpreter.choose(env={}, cwd=str(tmp_path), which=lambda name: sys.executable)
    assert choice.source == "path"
    assert len(passed_over) == 1 and "not a Python interpreter" in passed_over[0]


def test_a_real_venv_is_not_mistaken_for_edgedoctors_own_environment(tmp_path):
    venv = tmp_path / "proj"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    identity = interpreter.identify(str(venv / "bin" / "python"))
    assert identity.in_venv and not interpreter.is_own(identity)
    assert interpreter.is_own(interpreter.identify(sys.executable))


def test_the_report_says_which_interpreter_was_examined_and_why(run_cli, tmp_path, monkeypatch):
    venv = tmp_path / "proj"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("check", "--offline", "--no-models", "--format", "json", env={"VIRTUAL_ENV": str(venv)})
    report = json.loads(out)
    selected = report["facts"]["python_env"]["selected"]
    assert selected["source"] == "virtual_env" and selected["path"] == str(venv / "bin" / "python")
    assert report["facts"]["python_env"]["python"]["in_venv"] is True
    finding = next(f for f in report["findings"] if f["id"] == "python.selected")
    assert "active virtual environment" in finding["title"] and "--python PATH" in finding["title"]
    code, out, err = run_cli("check", "--offline", "--no-models", "--format", "text", "--python", str(venv))
    assert "Examined because it is named with --python" in out


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: "/bin/ls",
        lambda tmp: _script(tmp, "#!/bin/sh\necho 'Python 3.11.7'\n"),
        lambda tmp: _script(tmp, "#!/bin/sh\nsetsid sleep 40 &\nexit 0\n"),
        lambda tmp: _script(tmp, "#!/bin/sh\nexec sleep 40\n"),
        lambda tmp: str(tmp / "no-such-python"),
        lambda tmp: str(tmp),  # a folder that is no venv
    ],
    ids=["ls", "liar", "daemonising", "hangs", "missing", "plain-folder"],
)
def test_python_must_name_a_real_python_interpreter(make, tmp_path, run_cli):
    target = make(tmp_path)
    start = time.monotonic()
    code, out, err = run_cli("check", "--offline", "--no-models", "--timeout", "3", "--python", target)
    assert code == exitcodes.USAGE_ERROR, (out, err)
    assert time.monotonic() - start < 10
    assert "--python" in err and "Traceback" not in err and out == ""


def test_python_2_is_refused_with_the_reason(run_cli):
    from venvs import find_python

    python2 = find_python("2.7")
    if not python2:
        pytest.skip("Python 2.7 is not installed on this machine")
    code, _, err = run_cli("check", "--offline", "--no-models", "--python", python2)
    assert code == exitcodes.USAGE_ERROR and "older than the 3.6" in err


def test_python_keeps_the_users_spelling_of_a_relative_path(tmp_path, monkeypatch):
    link = tmp_path / "py"
    link.symlink_to(sys.executable)
    monkeypatch.chdir(tmp_path)
    choice, identity = interpreter.from_option("./py")
    assert choice.path == "./py" and choice.source == "option"


def _script(tmp: Path, text: str) -> str:
    path = tmp / "fake-python"
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    "typed,suggested", [("chek", "check"), ("explian", "explain"), ("modles", "models"), ("sumarize", "summarize")]
)
def test_a_mistyped_command_gets_a_did_you_mean(typed, suggested, run_cli):
    code, out, err = run_cli(typed)
    assert code == exitcodes.USAGE_ERROR and f"did you mean '{suggested}'" in err and out == ""


def test_an_unknown_word_lists_the_commands(run_cli):
    code, _, err = run_cli("frobnicate")
    assert code == exitcodes.USAGE_ERROR and "check" in err and "explain" in err and "did you mean" not in err


def test_the_end_of_check_says_what_to_do_next():
    broken = {"summary": {"pass": 3, "warn": 1, "fail": 2}, "exit_code": 1, "findings": [], "tool": {}}
    healthy = {"summary": {"pass": 9, "warn": 0, "fail": 0}, "exit_code": 0, "findings": [], "tool": {}}
    planned = dict(broken, plan={"target": {}, "steps": [{"title": "Install", "commands": ["true"]}]})

    def last_two(report, fancy=False):
        import re

        lines = terminal.render(report, fancy=fancy).rstrip().splitlines()[-2:]
        return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]

    for report in (broken, healthy, planned):
        for fancy in (False, True):
            nxt, ticket = last_two(report, fancy)
            assert nxt.startswith("Next: ") and len(nxt) <= 80 and len(ticket) <= 80
            assert ticket.endswith("edgedoctor check --format markdown -o edgedoctor-report.md")
    assert "first one first" in last_two(broken)[0]
    assert "nothing to fix" in last_two(healthy)[0]
    assert "edgedoctor plan --format sh" in last_two(planned)[0]


@pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="../shared/models is not beside the repository")
def test_models_fetch_from_a_mirror_folder_fills_the_cache(run_cli, tmp_path):
    cache = tmp_path / "cache"
    code, out, err = run_cli("models", "fetch", "--models-dir", SHARED_MODELS, "--cache-dir", cache)
    assert code == exitcodes.SUCCESS, out + err
    assert "copied into the cache" in out
    code, out, err = run_cli("models", "fetch", "--offline", "--cache-dir", cache, "--format", "json")
    files = json.loads(out)["files"]
    assert code == exitcodes.SUCCESS and files and all(f["origin"] == "cache" for f in files)


def test_the_readme_set_up_commands_are_what_ci_runs():
    """.ci/run runs the README's two set-up blocks as written (a missing install step fails CI, not a newcomer)."""
    repo = Path(__file__).resolve().parent.parent
    readme = (repo / "README.md").read_text()
    ci = (repo / ".ci" / "run").read_text()
    from readme_blocks import setup_blocks

    install, tests = setup_blocks(readme)
    assert "edgedoctor check" in install and "venv" in install
    assert "pytest" in tests and "venv" in tests and ".[test]" in tests
    assert "readme_blocks.py install" in ci and "readme_blocks.py tests" in ci


def test_an_interpreter_the_loader_refuses_is_named_so(tmp_path):
    """A Python copied from a newer system (Bookworm's python3.11 on Bullseye) never starts: the loader's own
    words are the reason, not "not a Python interpreter"."""
    said = "./python3.11: /lib/aarch64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by ./python3.11)"
    (tmp_path / "said.txt").write_text(said + "\n")
    fake = _script(tmp_path, f"#!/bin/sh\ncat {tmp_path / 'said.txt'} >&2\nexit 1\n")
    with pytest.raises(interpreter.NotAnInterpreter) as refused:
        interpreter.identify(fake)
    assert "loader refused it" in str(refused.value) and "GLIBC_2.34" in str(refused.value)


def test_the_progress_line_says_a_refused_open_takes_about_25_s():
    """While check waits for the runtime (whose refused open retries for about 25 s), the progress line says so."""
    from edgedoctor.facts.collect import collect
    from edgedoctor.machine.options import CheckOptions
    from edgedoctor.machine.system import System

    roots = Path(__file__).resolve().parent / "fixtures" / "roots"
    said = []
    collect(
        System.from_root(roots / "no-device"),
        CheckOptions(timeout=30, run_models=False, offline=True),
        progress=said.append,
    )
    runtime = [s for s in said if s.startswith("runtime")]
    assert runtime and "25 s" in runtime[0] and said[0] == "platform"


@pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="../shared/models is not beside the repository")
def test_filling_the_cache_leaves_no_partial_file(run_cli, tmp_path):
    cache = tmp_path / "cache"
    code, out, err = run_cli("models", "fetch", "--models-dir", SHARED_MODELS, "--cache-dir", cache)
    assert code == exitcodes.SUCCESS, out + err
    assert not [p for p in cache.rglob("*") if p.name.endswith(".part")]
