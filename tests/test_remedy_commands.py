"""The commands in the matrix's remedies, checked as far as this machine can check them (issue #13).

- Every pip line that installs pycoral or a tflite_runtime built against NumPy 1 pins "numpy<2": pycoral 2.0.0
  asks only for numpy>=1.16.0, so pip would pick NumPy 2 and the modules built for NumPy 1 would fail.
- Every pip line that needs only PyPI resolves: `pip install --dry-run --only-binary=:all:` for the Python the
  line is written for (marked `venv`: it needs PyPI; results are cached in tests/.cache/pip-dry-run.json and
  the test skips with its reason when PyPI cannot be reached). Lines that use Coral's index
  (google-coral.github.io/py-repo) or a downloaded wheel cannot be resolved from here (network: PyPI only).
- Every package an apt line installs exists: in Debian (checked with `apt-cache policy` when this machine has
  Debian package lists) or, for the others, in the repository the remedy names (Coral's coral-edgetpu-stable,
  Raspberry Pi OS, Proxmox), listed here with where each was seen.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgedoctor import matrix

TABLE = matrix.load()
CACHE = Path(__file__).parent / ".cache" / "pip-dry-run.json"

# Packages apt installs from repositories other than Debian's, and where each is documented.
NOT_IN_DEBIAN = {
    "libedgetpu1-std": "coral-edgetpu-stable (google-coral/edgetpu#893 shows the suite; coral.ai get-started)",
    "libedgetpu1-max": "coral-edgetpu-stable",
    "gasket-dkms": "coral-edgetpu-stable (gasket-dkms 1.0-18, google/gasket-driver#51)",
    "python3-pycoral": "coral-edgetpu-stable (google-coral/pycoral#81: Depends python3 (< 3.10))",
    "python3-tflite-runtime": "coral-edgetpu-stable (google-coral/pycoral#133)",
    "python3-edgetpu": "coral-edgetpu-stable (the retired edgetpu API)",
    "edgetpu-compiler": "coral-edgetpu-stable (x86_64 only; google-coral/tutorials#24)",
    "linux-headers-rpi-2712": "Raspberry Pi OS (archive.raspberrypi.com), Raspberry Pi 5 kernel headers",
    "linux-headers-rpi-v8": "Raspberry Pi OS (archive.raspberrypi.com), 64-bit Pi 3/4 kernel headers",
    "proxmox-default-headers": "Proxmox VE (download.proxmox.com), headers of the default Proxmox kernel",
}


def _remedy_lines():
    for entry in TABLE.entries:
        for platform, text in entry.remedy.items():
            lines = text.splitlines()
            for index, line in enumerate(lines):
                yield entry, platform, line, lines[index - 1] if index else ""


def _pip_lines():
    """(entry, platform, the command without its comment, the line before and the line itself)."""
    return [
        (e, p, line.split("#", 1)[0].strip(), before + "\n" + line)
        for e, p, line, before in _remedy_lines()
        if re.search(r"\bpip install\b", line)
    ]


def _requirements(line):
    """The requirement arguments of a pip command line ('' when it is not one pip can resolve alone)."""
    found = re.search(r"\bpip install\b(.*)$", line)
    words = re.findall(r'"[^"]*"|\'[^\']*\'|\S+', found.group(1) if found else "")
    return [w.strip("\"'") for w in words if not w.startswith("-") and not w.startswith("http")]


def _needs_numpy1(requirement):
    req = requirement.lower().replace("_", "-")
    if "pycoral" in req:
        return True
    version = re.search(r"tflite-runtime[-=~]=*(\d+)\.(\d+)", req)
    return bool(version) and (int(version.group(1)), int(version.group(2))) <= (2, 14)


def test_pip_lines_of_numpy1_builds_pin_numpy_below_2():
    missing = []
    for entry, platform, line, _ in _pip_lines():
        reqs = _requirements(line)
        if any(_needs_numpy1(r) for r in reqs) and "numpy<2" not in reqs:
            missing.append((entry.id, platform, line))
    assert not missing, missing


def test_the_pip_line_reader_reads_what_it_must():
    assert _requirements(
        'python3 -m pip install --extra-index-url https://x/ "tflite_runtime==2.5.0.post1" pycoral~=2.0 "numpy<2"'
    ) == ["tflite_runtime==2.5.0.post1", "pycoral~=2.0", "numpy<2"]
    assert _needs_numpy1("pycoral~=2.0") and _needs_numpy1("tflite_runtime==2.5.0.post1")
    assert not _needs_numpy1("tflite-runtime==2.17.1") and not _needs_numpy1("ai-edge-litert")


def _python_for(entry, line, context):
    """The Python a PyPI-only line is written for: named in the command, in a 'Python 3.a-3.b' note on the
    line (or, failing that, the line before), or by the entry's `when.python`; else 3.11."""
    named = re.search(r"python(3\.\d+)\b|py -(3\.\d+)\b", line)
    if named:
        return named.group(1) or named.group(2)
    notes = re.findall(r"Python (3\.\d+)-(3\.\d+)", context)
    span = notes[-1] if notes else None
    if span:
        low, high = (tuple(int(x) for x in v.split(".")) for v in span)
        return "3.9" if low <= (3, 9) <= high else span[0]
    spec = entry.when.get("python")
    if spec:
        from packaging.specifiers import SpecifierSet

        for candidate in ("3.9", "3.10", "3.11", "3.12", "3.13"):
            if SpecifierSet(spec).contains(candidate):
                return candidate
    return "3.11"


def _pypi_only_lines():
    cases = []
    for entry, platform, line, context in _pip_lines():
        if "py-repo" in line or ".whl" in line or " -r " in line or platform == "darwin":
            continue
        reqs = [r for r in _requirements(line) if r not in ("pip",)]
        if reqs:
            cases.append(
                pytest.param(
                    entry.id, _python_for(entry, line, context), reqs, id=f"{entry.id}-{platform}-{'+'.join(reqs)}"
                )
            )
    return cases


@pytest.mark.venv
@pytest.mark.parametrize("entry_id,python,requirements", _pypi_only_lines())
def test_pypi_only_pip_lines_resolve(entry_id, python, requirements, tmp_path):
    key = f"{python} {' '.join(requirements)}"
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    if key not in cache:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--quiet",
                "--no-input",
                "--disable-pip-version-check",
                "--only-binary=:all:",
                "--python-version",
                python,
                "--target",
                str(tmp_path / "t"),
                *requirements,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode and re.search(
            r"NewConnectionError|Temporary failure in name resolution|"
            r"Network is unreachable|Max retries exceeded",
            done.stderr,
        ):
            pytest.skip(f"PyPI cannot be reached from here: {done.stderr.strip().splitlines()[-1]}")
        cache[key] = {"ok": done.returncode == 0, "error": done.stderr.strip()[-800:]}
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True))
    assert cache[key]["ok"], f"{entry_id}: pip cannot resolve {requirements} for Python {python}: {cache[key]['error']}"


def test_apt_lines_name_packages_that_exist():
    named = set()
    for _entry, _platform, line, _ in _remedy_lines():
        for found in re.finditer(r"\bapt(?:-get)? install ([^\n`;&|#()]*)", line):
            for word in found.group(1).split():
                if word.startswith("-") or "=" in word or "$" in word or word == "install":
                    continue
                named.add(word.strip("\"'."))
    debian = sorted(named - set(NOT_IN_DEBIAN))
    assert debian, "no Debian package named at all: the reader is broken"
    if not shutil.which("apt-cache"):
        pytest.skip(f"apt-cache is not available to check {debian}")
    listed = subprocess.run(["apt-cache", "policy", *debian], capture_output=True, text=True).stdout
    if "Candidate:" not in listed:
        pytest.skip("this machine has no Debian package lists (run apt-get update)")
    missing = [
        name
        for name in debian
        if not re.search(rf"^{re.escape(name)}:\n\s+Installed: .*\n\s+Candidate: (?!\(none\))", listed, re.M)
    ]
    assert not missing, f"not in Debian's package lists here (and not a known Coral/Pi/Proxmox package): {missing}"
