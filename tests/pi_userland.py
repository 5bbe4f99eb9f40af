"""Emulated Raspberry Pi userlands for the pi tier: Debian's ARM packages and PyPI's ARM wheels, run by qemu-user.

A userland is a folder ROOT holding Debian's arm64 or armhf packages unpacked with `dpkg -x` (the C library,
Python and what it links, libusb), so `qemu-aarch64-static -L ROOT ROOT/usr/bin/python3.11` is the Python of
Raspberry Pi OS Bookworm 64-bit. The packages come from a private apt state (its own sources list, lists and
cache under the cache folder), so the host's dpkg is never touched and Debian's older suites (bullseye, glibc
2.31) can be fetched beside bookworm. The Pi itself (the device tree model, the firmware's throttle flags) is
laid into ROOT from tests/fixtures/platform/raspios-*: qemu looks for absolute paths in ROOT first, so the
emulated edgedoctor reads a Raspberry Pi 5's /proc/device-tree/model.

Wheels: `pip download --only-binary=:all: --platform ... --python-version ...` unpacked into a folder that goes
on PYTHONPATH. Everything is cached under tests/.cache/pi (or $EDGEDOCTOR_TEST_PI_CACHE), built once under a
lock; tests skip with the reason when qemu or the packages cannot be had.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "platform"
CACHE = Path(os.environ.get("EDGEDOCTOR_TEST_PI_CACHE", Path(__file__).parent / ".cache" / "pi"))
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBIAN_MIRROR = os.environ.get("EDGEDOCTOR_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITES = ("bookworm", "bullseye")
ARCHS = ("arm64", "armhf")

# What edgedoctor itself needs in the emulated process (pyproject's dependencies); Pillow only to run models.
EDGEDOCTOR_DEPENDENCIES = ("packaging", "rich", "requests", "pyusb", "platformdirs", "flatbuffers")


@dataclass(frozen=True)
class Userland:
    name: str
    suite: str
    arch: str  # Debian's architecture
    qemu: str
    python: str  # e.g. python3.11
    packages: Tuple[str, ...]
    board: str  # fixture folder under tests/fixtures/platform that supplies the Pi
    wheel_platforms: Tuple[str, ...]
    # Debian's update-alternatives links that a postinst would make (dpkg -x runs no scripts): link -> target
    alternatives: Tuple[Tuple[str, str], ...] = ()

    @property
    def python_version(self) -> str:
        return self.python.replace("python", "")

    @property
    def folder(self) -> Path:
        """Keyed by what goes in, so a changed package list builds a new root instead of reusing a stale one."""
        key = hashlib.sha256(
            json.dumps([self.suite, self.arch, sorted(self.packages), self.alternatives, self.board]).encode()
        ).hexdigest()[:10]
        return CACHE / "roots" / f"{self.name}-{key}"


def _manylinux(machine: str, newest: int) -> Tuple[str, ...]:
    """Every manylinux tag a glibc 2.<newest> machine accepts, newest first (what pip on that machine uses)."""
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, 16, -1)]
    return tuple(tags + [f"manylinux2014_{machine}"])


# python3-minimal: /usr/bin/python3, the `python3` on PATH that check examines by default
_BOOKWORM_PYTHON = (
    "python3-minimal",
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libffi8",
    "libssl3",
)
_COMMON = (
    "base-files",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libstdc++6",
    "libgcc-s1",
    "libbz2-1.0",
    "liblzma5",
    "libusb-1.0-0",
    "libudev1",
)

# Debian's numpy for armhf (PyPI has no armv7l numpy wheel) and the BLAS/LAPACK it links, with the links that
# update-alternatives makes on a real system.
_DEBIAN_NUMPY = ("python3-numpy", "libblas3", "liblapack3", "libgfortran5")
_ARMHF_BLAS = (
    ("usr/lib/arm-linux-gnueabihf/libblas.so.3", "blas/libblas.so.3"),
    ("usr/lib/arm-linux-gnueabihf/liblapack.so.3", "lapack/liblapack.so.3"),
)

USERLANDS: Dict[str, Userland] = {
    # Raspberry Pi OS Bookworm 64-bit on a Pi 5
    "bookworm-arm64": Userland(
        "bookworm-arm64",
        "bookworm",
        "arm64",
        "qemu-aarch64-static",
        "python3.11",
        _COMMON + _BOOKWORM_PYTHON,
        "raspios-bookworm-pi5",
        _manylinux("aarch64", 36),
    ),
    # Raspberry Pi OS Bookworm 32-bit (armhf) on a Pi 4
    "bookworm-armhf": Userland(
        "bookworm-armhf",
        "bookworm",
        "armhf",
        "qemu-arm-static",
        "python3.11",
        _COMMON + _BOOKWORM_PYTHON,
        "raspios-bullseye-pi4",
        _manylinux("armv7l", 36),
    ),
    # the same with Debian's python3-numpy installed (apt-get install python3-numpy)
    "bookworm-armhf-numpy": Userland(
        "bookworm-armhf-numpy",
        "bookworm",
        "armhf",
        "qemu-arm-static",
        "python3.11",
        _COMMON + _BOOKWORM_PYTHON + _DEBIAN_NUMPY,
        "raspios-bullseye-pi4",
        _manylinux("armv7l", 36),
        _ARMHF_BLAS,
    ),
    # Raspberry Pi OS Bullseye 64-bit (glibc 2.31, Python 3.9) on a Pi 4
    "bullseye-arm64": Userland(
        "bullseye-arm64",
        "bullseye",
        "arm64",
        "qemu-aarch64-static",
        "python3.9",
        _COMMON
        + (
            "python3-minimal",
            "python3.9-minimal",
            "libpython3.9-minimal",
            "libpython3.9-stdlib",
            "libffi7",
            "libssl1.1",
        ),
        "raspios-bullseye-pi4",
        _manylinux("aarch64", 31),
    ),
}


# --- plumbing ---------------------------------------------------------------------------------------------------


class Unavailable(Exception):
    """What the tier needs cannot be had here (no qemu, no network to Debian or PyPI): tests skip."""


class _Lock:
    def __init__(self, name: str):
        CACHE.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / f".{name}.lock"

    def __enter__(self):
        self.handle = open(self.path, "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _run(argv: Sequence[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{argv[0]}: {exc}") from None


def qemu_path(userland: Userland) -> str:
    found = shutil.which(userland.qemu)
    if not found:
        raise Unavailable(
            f"{userland.qemu} is not installed (tests/tiers/setup_pi.sh: apt-get install qemu-user-static)"
        )
    return found


# --- Debian packages through a private apt state -----------------------------------------------------------------


def _apt_dir() -> Path:
    return CACHE / "apt"


def _apt_env() -> Dict[str, str]:
    return dict(os.environ, APT_CONFIG=str(_apt_dir() / "apt.conf"), DEBIAN_FRONTEND="noninteractive")


def apt_update(max_age_s: float = 7 * 86400) -> None:
    """The private apt state: arm64 and armhf package lists of bookworm and bullseye, refreshed weekly."""
    if not shutil.which("apt-get"):
        raise Unavailable(
            "apt-get is not available (a Debian or Ubuntu machine is needed to fetch Debian's ARM packages)"
        )
    if not os.path.exists(DEBIAN_KEYRING):
        raise Unavailable(f"{DEBIAN_KEYRING} is missing (apt-get install debian-archive-keyring)")
    folder = _apt_dir()
    stamp = folder / ".updated"
    with _Lock("apt"):
        if stamp.exists() and time.time() - stamp.stat().st_mtime < max_age_s:
            return
        for sub in ("lists/partial", "cache/archives/partial", "parts", "prefs"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "status").touch()
        (folder / "sources.list").write_text(
            "".join(
                f"deb [arch={','.join(ARCHS)} signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {suite} main\n"
                for suite in SUITES
            )
        )
        (folder / "apt.conf").write_text(
            "\n".join(
                [
                    'APT::Architecture "arm64";',
                    'APT::Architectures { "arm64"; "armhf"; };',
                    f'Dir::State "{folder}";',
                    f'Dir::State::Lists "{folder}/lists";',
                    f'Dir::State::status "{folder}/status";',
                    f'Dir::Cache "{folder}/cache";',
                    f'Dir::Etc::SourceList "{folder}/sources.list";',
                    f'Dir::Etc::SourceParts "{folder}/parts";',
                    f'Dir::Etc::Preferences "{folder}/prefs/none";',
                    f'Dir::Etc::PreferencesParts "{folder}/prefs";',
                    'APT::Sandbox::User "root";' if os.geteuid() == 0 else "",
                    'Acquire::Languages "none";',
                    'Acquire::Retries "2";',
                ]
            )
            + "\n"
        )
        result = _run(["apt-get", "update"], env=_apt_env(), timeout=900)
        if result.returncode != 0 or "Err:" in result.stdout:
            raise Unavailable(
                f"apt-get update of Debian's ARM package lists failed: {(result.stderr or result.stdout)[-600:]}"
            )
        stamp.touch()


def build_userland(name: str) -> Path:
    """ROOT of the named userland, built once: Debian's packages unpacked and the Pi's fixture files laid in."""
    userland = USERLANDS[name]
    qemu_path(userland)
    root = userland.folder
    ready = root / ".edgedoctor-userland.json"
    if ready.exists():
        return root
    apt_update()
    with _Lock(f"root-{name}"):
        if ready.exists():
            return root
        started = time.monotonic()
        debs = CACHE / "debs" / name
        shutil.rmtree(debs, ignore_errors=True)
        debs.mkdir(parents=True)
        wanted = [f"{package}:{userland.arch}/{userland.suite}" for package in userland.packages]
        result = _run(["apt-get", "download", *wanted], cwd=debs, env=_apt_env(), timeout=900)
        if result.returncode != 0:
            raise Unavailable(f"apt-get download for {name} failed: {(result.stderr or result.stdout)[-800:]}")
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for deb in sorted(debs.glob("*.deb")):
            result = _run(["dpkg-deb", "-x", str(deb), str(root)])
            if result.returncode != 0:
                raise Unavailable(f"dpkg-deb -x {deb.name}: {result.stderr[-400:]}")
        for link, target in userland.alternatives:
            (root / link).symlink_to(target)
        lay_board(root, FIXTURES / userland.board)
        python = root / "usr" / "bin" / userland.python
        probe = _run(
            [
                qemu_path(userland),
                "-L",
                str(root),
                str(python),
                "-c",
                "import platform, sys; print(platform.machine(), platform.libc_ver()[1], sys.version.split()[0])",
            ],
            timeout=120,
        )
        if probe.returncode != 0:
            raise Unavailable(f"the {name} Python does not start under {userland.qemu}: {probe.stderr[-600:]}")
        machine, libc, version = probe.stdout.split()
        ready.write_text(
            json.dumps(
                {
                    "packages": sorted(p.name for p in debs.glob("*.deb")),
                    "machine": machine,
                    "glibc": libc,
                    "python": version,
                    "build_s": round(time.monotonic() - started, 1),
                },
                indent=1,
            )
        )
        shutil.rmtree(debs, ignore_errors=True)
    return root


def userland_info(name: str) -> Dict[str, object]:
    return json.loads((USERLANDS[name].folder / ".edgedoctor-userland.json").read_text())


def lay_board(root: Path, board: Path) -> None:
    """The Pi's own files (device tree model, firmware throttle flags) from a fixture root, where the emulated
    process looks first. Not the fixture's /etc/os-release (base-files' says what the userland is) nor its
    recorded command answers (.edgedoctor/)."""
    for relative in ("proc/device-tree/model", "sys/devices/platform/soc/soc:firmware/get_throttled"):
        source = board / relative
        if source.exists():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / relative)


def add_file(name: str, relative: str, source: Path) -> Path:
    """Install one more file into a userland (idempotent), e.g. a runtime into /usr/lib/aarch64-linux-gnu."""
    target = USERLANDS[name].folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    return target


def private_root(name: str, folder: Path) -> Path:
    """A test's own copy of the userland (hard links where it can, so it costs no space and a second): files the test lays
    into it, e.g. a USB device under /sys/bus/usb/devices, are seen by no other test. Replace a file there
    with a new one, never write into one (that would write into the shared userland)."""
    source = build_userland(name)
    target = folder / f"root-{name}"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        result = _run(["cp", "-al", str(source), str(target)])
        if result.returncode != 0:  # another file system: a real copy (about 60 MB)
            shutil.rmtree(target, ignore_errors=True)
            result = _run(["cp", "-a", str(source), str(target)])
        if result.returncode != 0:
            raise Unavailable(f"cp -a {source}: {result.stderr[-400:]}")
    return target


# --- wheels ------------------------------------------------------------------------------------------------------


def wheels(name: str, requirements: Sequence[str], label: str, platforms: Optional[Sequence[str]] = None) -> Path:
    """A folder for PYTHONPATH with `requirements` from PyPI's wheels for the userland's platform and Python
    (or for other `platforms`: a wheel made for a newer glibc than the userland has)."""
    userland = USERLANDS[name]
    tags = list(platforms or userland.wheel_platforms)
    key = hashlib.sha256(json.dumps([tags, userland.python_version, sorted(requirements)]).encode()).hexdigest()[:12]
    folder = CACHE / "sites" / f"{name}-{label}-{key}"
    ready = folder / ".ready"
    if ready.exists():
        return folder
    with _Lock(f"site-{folder.name}"):
        if ready.exists():
            return folder
        download = CACHE / "wheels" / f"{name}-{label}-{key}"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        result = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
                *[arg for tag in tags for arg in ("--platform", tag)],
                "--python-version",
                userland.python_version,
                "--implementation",
                "cp",
                "-d",
                str(download),
                *requirements,
            ],
            timeout=900,
        )
        if result.returncode != 0:
            raise Unavailable(
                f"pip download {' '.join(requirements)} for {name}: {(result.stderr or result.stdout)[-800:]}"
            )
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for wheel in sorted(download.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(folder)
                for info in archive.infolist():  # zipfile drops the execute bits
                    mode = info.external_attr >> 16
                    if mode & 0o111:
                        os.chmod(folder / info.filename, mode & 0o777)
        ready.write_text(json.dumps(sorted(p.name for p in download.glob("*.whl"))))
    return folder


def wheel_names(site: Path) -> List[str]:
    return json.loads((site / ".ready").read_text())


def pip_finds(name: str, requirement: str) -> Tuple[bool, str]:
    """Whether PyPI has a wheel of `requirement` for the userland (what `pip install` there would find)."""
    userland = USERLANDS[name]
    platforms = [arg for tag in userland.wheel_platforms for arg in ("--platform", tag)]
    scratch = CACHE / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    result = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            userland.python_version,
            "--implementation",
            "cp",
            "-d",
            str(scratch),
            requirement,
        ],
        timeout=300,
    )
    return result.returncode == 0, (result.stderr or result.stdout)


# --- edgedoctor on the emulated Pi -------------------------------------------------------------------------------


@dataclass
class EmulatedRun:
    returncode: int
    report: Optional[dict]
    stderr: str
    seconds: float


def run_edgedoctor(
    name: str,
    sites: Sequence[Path],
    args: Sequence[str],
    timeout: float = 600,
    extra_env: Optional[Dict[str, str]] = None,
    root: Optional[Path] = None,
) -> EmulatedRun:
    """`python -m edgedoctor check ... --format json` as the emulated Pi's own process: its Python under qemu
    with edgedoctor (this source tree) and the wheel folders on PYTHONPATH. No wrapper: edgedoctor must start
    its worker through the emulator by itself. `root`: another sysroot for the same userland (private_root)."""
    userland = USERLANDS[name]
    root = root or build_userland(name)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "QEMU_"))}
    # The Pi's own PATH: qemu looks for /usr/bin/python3 in the sysroot first, so the `python3` on PATH that
    # check examines by default is the emulated Pi's, as on a real one (not this machine's pyenv shims).
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(REPO), *map(str, sites)]),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "COLUMNS": "120",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        }
    )
    env.pop("VIRTUAL_ENV", None)
    env.pop("CONDA_PREFIX", None)
    env.update(extra_env or {})
    argv = [
        qemu_path(userland),
        "-L",
        str(root),
        str(root / "usr" / "bin" / userland.python),
        "-m",
        "edgedoctor",
        "check",
        "--format",
        "json",
        "--quiet",
        *args,
    ]
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(CACHE))
    seconds = time.monotonic() - started
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = None
    return EmulatedRun(result.returncode, report, result.stderr, seconds)


def record_time(what: str, seconds: float) -> None:
    """Measured times of the tier (tests/.cache/pi/timings.jsonl), for the notes; nothing asserts them."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "timings.jsonl", "a") as handle:
        handle.write(
            json.dumps({"what": what, "seconds": round(seconds, 1), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n"
        )


def finding(report: dict, finding_id: str) -> dict:
    for item in report["findings"]:
        if item["id"] == finding_id:
            return item
    raise AssertionError(f"no finding {finding_id}: {[f['id'] for f in report['findings']]}")


def require(callable_, *args, **kw):
    """Run a builder; a missing prerequisite becomes a skip with its reason."""
    try:
        return callable_(*args, **kw)
    except Unavailable as exc:
        pytest.skip(str(exc))
