"""The terminal report on a real terminal (tmux) at 80 and 160 columns: every command of the JSON plan is
printed whole on one line (a copied line is the exact command), and prose wraps to the real width."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "tests" / "fixtures" / "roots" / "no-device"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def run_in_tmux(tmp_path, width, env_extra):
    session = f"edgedoctor-plan-{os.getpid()}-{width}-{len(env_extra)}"
    report = tmp_path / f"report-{width}-{len(env_extra)}.json"
    done = tmp_path / f"done-{width}-{len(env_extra)}"
    command = (
        f"{sys.executable} -m edgedoctor check --root {ROOT} --no-models --offline --quiet "
        f"--python {sys.executable} -o {report}; touch {done}"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), **env_extra)
    env.pop("CI", None)
    if "NO_COLOR" not in env_extra:
        env.pop("NO_COLOR", None)
    subprocess.run(
        [
            "tmux",
            "-L",
            session,
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(width),
            "-y",
            "50",
            "sh",
            "-c",
            command + "; sleep 600",
        ],
        check=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists(), "edgedoctor did not finish in tmux"
        joined = subprocess.run(
            ["tmux", "-L", session, "capture-pane", "-p", "-J", "-S", "-", "-t", session],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True)
    return json.loads(report.read_text()), joined.splitlines()


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("mode", ["fancy", "plain"])
def test_plan_commands_are_whole_lines_and_prose_wraps_to_the_terminal(tmp_path, width, mode):
    report, lines = run_in_tmux(tmp_path, width, {"NO_COLOR": "1"} if mode == "plain" else {})
    commands = [c for step in report["plan"]["steps"] for c in step["commands"]]
    assert commands and any(len(c) > 80 for c in commands)  # a command longer than the narrow terminal
    stripped = [line.strip() for line in lines]
    for command in commands:
        assert command in stripped, (command, [text for text in lines if command[:20] in text])
    start = next(i for i, line in enumerate(lines) if line.strip() == "Next steps")
    prose = [line for line in lines[start:] if line.strip() and line.strip() not in commands]
    # headings, fixes and notes are wrapped by edgedoctor to the terminal's width (a joined line never
    # exceeds it), commands are not
    assert all(len(line.rstrip()) <= width for line in prose), [line for line in prose if len(line.rstrip()) > width]
    assert any(line.strip().startswith("Note:") for line in prose)
