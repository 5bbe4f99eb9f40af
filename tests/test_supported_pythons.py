"""edgedoctor itself on the oldest and newest Python it supports (3.9: Raspberry Pi OS Bullseye and Debian 11,
where Coral users stay because pycoral stops at 3.9; 3.13: the newest). The matrix's search engine reads the
regex parser's internals, which differ between these versions, so its answers are checked against a plain
`re.search` there too. edgedoctor runs from this checkout (PYTHONPATH) in a cached venv holding only its
dependencies."""

import json
import subprocess
from pathlib import Path

import pytest
from venvs import make_venv

from edgedoctor.util.tomlcompat import load_toml

pytestmark = pytest.mark.venv

REPO = Path(__file__).resolve().parent.parent
DEPENDENCIES = load_toml(REPO / "pyproject.toml")["project"]["dependencies"]

# Run inside the examined interpreter: every real error text and a big log, scanned as explain scans them,
# against a plain re.search over the whole text.
SAME_ANSWERS = r"""
import json, re, sys
from pathlib import Path
from edgedoctor import matrix
from edgedoctor.util.tomlcompat import load_toml

table = matrix.load()
texts = []
for path in sorted(Path(sys.argv[1]).glob("*.toml")):
    texts += [str(e["text"]) for e in load_toml(path).get("error", []) if e.get("text")]
noise = "Nov 29 06:08:00 host kernel: usb 1-1: new high-speed USB device number 3 using xhci_hcd\n" * 12000
texts.append(noise + texts[0] + "\n" + noise)
wrong = []
for text in texts:
    norm = matrix.engine._normalise(text)
    expected = {e.id for e in table.entries if not (e.require_facts and e.when)
                and any(s.regex.search(norm) for s in e.signatures)}
    found = {m.entry.id for m in table.scan(matrix.read_blocks(__import__("io").BytesIO(text.encode())), {},
                                            limit=10000)}
    if found != expected:
        wrong.append([text[:80], sorted(found ^ expected)])
print(json.dumps({"texts": len(texts), "wrong": wrong}))
"""


@pytest.fixture(scope="module", params=["3.9", "3.13"])
def python(request):
    return make_venv(request.param, DEPENDENCIES, name="deps")


def run(python, *args, input=None):
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
        "HOME": str(REPO / "tests" / ".cache"),
        "NO_COLOR": "1",
        "EDGEDOCTOR_NO_MATRIX_CACHE": "1",
    }
    return subprocess.run([python, *args], capture_output=True, text=True, timeout=600, env=env, input=input)


def test_the_cli_runs(python, tmp_path):
    assert run(python, "-m", "edgedoctor", "--version").stdout.startswith("edgedoctor ")
    explained = run(
        python, "-m", "edgedoctor", "explain", "--format", "json", "Failed to load delegate from libedgetpu.so.1"
    )
    assert json.loads(explained.stdout)["matches"][0]["cause"] == "runtime-missing", explained.stderr
    check = run(python, "-m", "edgedoctor", "check", "--python", python, "--offline", "--no-models", "--format", "json")
    assert "Traceback" not in check.stderr and check.returncode in (0, 1), check.stderr
    report = json.loads(check.stdout)
    assert report["facts"]["python_env"]["python"]["version"].startswith(
        subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.strip()
    )


def test_the_search_engine_answers_as_a_plain_search_does(python):
    done = run(python, "-c", SAME_ANSWERS, str(REPO / "tests" / "fixtures" / "real_errors"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["texts"] > 100 and result["wrong"] == []
