"""Test helpers for the device and runtime probes: the fake libedgetpu (compiled once per session), fixture
roots (the static trees in tests/fixtures/roots and tmp variations of them), a fake pyusb backend, and
shortcuts from a root to facts and findings.

Test files import what they use explicitly, e.g.::

    from helpers_hw import fake_libedgetpu, read_facts, findings_for  # noqa: F401  (pytest fixtures)

`fake_libedgetpu` is a session fixture returning the path of a compiled fake `libedgetpu.so.1`; its
behaviour is set with FAKE_EDGETPU_* environment variables, documented at the top of tests/fake_libedgetpu.c.
`fake_env(lib, mode="crash")` builds such an environment (with LD_LIBRARY_PATH pointing at the library).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import pytest

from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System, recorded_name
from edgedoctor.probes import ProbeContext
from edgedoctor.report.findings import Finding

TESTS = Path(__file__).resolve().parent
ROOTS = TESTS / "fixtures" / "roots"
FAKE_LIBEDGETPU_C = TESTS / "fake_libedgetpu.c"

GROUPER_VERSION = "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted), RuntimeVersion(14)"
FROGFISH_VERSION = "BuildLabel(COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted), RuntimeVersion(13)"


# --- the fake libedgetpu ---------------------------------------------------------------------------------------


def compile_fake_libedgetpu(folder: Path, defines: Sequence[str] = ()) -> Path:
    """Compile tests/fake_libedgetpu.c into FOLDER/libedgetpu.so.1 and return its path (skips without gcc)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (gcc) to build the fake libedgetpu")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "libedgetpu.so.1"
    argv = [compiler, "-shared", "-fPIC", "-O1", "-o", str(target), str(FAKE_LIBEDGETPU_C)]
    argv += [f"-D{d}" for d in defines]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling the fake libedgetpu failed:\n{proc.stderr}")
    return target


@pytest.fixture(scope="session")
def fake_libedgetpu(tmp_path_factory) -> Path:
    """A fake libedgetpu.so.1 built like libedgetpu1-std (embeds PERFORMANCE=THROTTLED and the Grouper
    CL_NUMBER). Returns the .so path; set FAKE_EDGETPU_* variables to choose its behaviour."""
    return compile_fake_libedgetpu(
        tmp_path_factory.mktemp("fake-libedgetpu-std"), ["FAKE_PERFORMANCE_THROTTLED", 'FAKE_CL_NUMBER="385816442"']
    )


@pytest.fixture(scope="session")
def fake_libedgetpu_max(tmp_path_factory) -> Path:
    """The same, built like libedgetpu1-max (embeds PERFORMANCE=DIRECT)."""
    return compile_fake_libedgetpu(tmp_path_factory.mktemp("fake-libedgetpu-max"), ["FAKE_PERFORMANCE_DIRECT"])


@pytest.fixture(scope="session")
def fake_libedgetpu_plain(tmp_path_factory) -> Path:
    """The same with no embedded build strings (as Frogfish and older binaries)."""
    return compile_fake_libedgetpu(tmp_path_factory.mktemp("fake-libedgetpu-plain"))


def fake_env(lib: Path, base: Optional[Mapping[str, str]] = None, **settings: str) -> Dict[str, str]:
    """An environment for a process that should find LIB: LD_LIBRARY_PATH=its folder, plus FAKE_EDGETPU_<KEY>
    for each keyword (mode="crash", devices="usb:/sys/bus/usb/devices/2-1", version=..., delegate="fail")."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("FAKE_EDGETPU_")}
    env["LD_LIBRARY_PATH"] = str(Path(lib).parent)
    for key, value in settings.items():
        env[f"FAKE_EDGETPU_{key.upper()}"] = str(value)
    return env


def host_context(env: Mapping[str, str], timeout: float = 10.0, **system_kw) -> ProbeContext:
    """A ProbeContext on this machine (root "/") with ENV as the examined environment."""
    system = System(env=dict(env), page_size=os.sysconf("SC_PAGE_SIZE"), **system_kw)
    return ProbeContext(system, CheckOptions(timeout=timeout))


# --- fixture roots ----------------------------------------------------------------------------------------------


def root(name: str) -> Path:
    path = ROOTS / name
    assert path.is_dir(), f"no fixture root {name}"
    return path


def root_names() -> List[str]:
    return sorted(p.name for p in ROOTS.iterdir() if p.is_dir())


Content = Union[str, bytes]
Recorded = Union[str, tuple]  # stdout, or (stdout, stderr, returncode)


def make_root(
    tmp_path: Path,
    base: Optional[str] = None,
    files: Optional[Mapping[str, Optional[Content]]] = None,
    commands: Optional[Mapping[tuple, Optional[Recorded]]] = None,
    name: str = "root",
) -> Path:
    """A fixture root under TMP_PATH: a copy of the static root BASE (if given), then FILES written
    (relative or absolute machine paths; None removes the file or folder) and COMMANDS recorded
    (argv tuple -> stdout, or (stdout, stderr, returncode); None removes the recording)."""
    target = Path(tmp_path) / name
    if target.exists():
        shutil.rmtree(target)
    if base:
        shutil.copytree(root(base), target, symlinks=True)
    else:
        target.mkdir(parents=True)
    for rel, content in (files or {}).items():
        path = target / str(rel).lstrip("/")
        if content is None:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    folder = target / ".edgedoctor" / "commands"
    for argv, recorded in (commands or {}).items():
        stem = recorded_name(list(argv))
        for suffix in (".out", ".err", ".rc"):
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)
        if recorded is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        out, err, rc = (recorded, None, None) if isinstance(recorded, str) else recorded
        (folder / f"{stem}.out").write_text(out)
        if err is not None:
            (folder / f"{stem}.err").write_text(err)
        if rc is not None:
            (folder / f"{stem}.rc").write_text(f"{rc}\n")
    return target


def root_context(path: Path, timeout: float = 5.0, usb_backend: Any = None) -> ProbeContext:
    system = System.from_root(path)
    system.usb_backend = usb_backend
    return ProbeContext(system, CheckOptions(timeout=timeout))


def platform_facts(system: System) -> Dict[str, Any]:
    """The few platform facts the device and runtime checks read (the platform probe has its own tests)."""
    model = (system.read_text("/proc/device-tree/model") or "").replace("\x00", "").strip()
    board = None
    if model.startswith("Raspberry Pi 5"):
        board = "raspberry-pi-5"
    elif model.startswith("Raspberry Pi 3"):
        board = "raspberry-pi-3"
    os_release = {}
    for line in (system.read_text("/etc/os-release") or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            os_release[key] = value.strip('"')
    return {
        "os": system.platform,
        "in_container": system.exists("/.dockerenv") or system.exists("/run/.containerenv"),
        "board": board,
        "board_model": model or None,
        "kernel": (system.read_text("/proc/sys/kernel/osrelease") or "").strip() or None,
        "arch": (system.read_text("/.edgedoctor/arch") or "").strip() or None,
        "page_size": system.page_size,
        "os_release": os_release or None,
    }


def read_facts(where: Union[str, Path, ProbeContext], timeout: float = 5.0, usb_backend: Any = None) -> Dict[str, Any]:
    """Facts (platform, usb, pcie, runtime) of a fixture root name, a root path, or a ready ProbeContext."""
    from edgedoctor.probes import pcie, runtime, usb

    if isinstance(where, ProbeContext):
        ctx = where
    else:
        path = root(where) if isinstance(where, str) and os.sep not in where else Path(where)
        ctx = root_context(path, timeout=timeout, usb_backend=usb_backend)
    facts = {"platform": platform_facts(ctx.system)}
    ctx.facts = facts
    facts["usb"] = usb.read(ctx)
    facts["pcie"] = pcie.read(ctx)
    facts["runtime"] = runtime.read(ctx)
    json.dumps(facts)  # Facts must be JSON-serialisable
    return facts


def findings_for(facts: Dict[str, Any]) -> List[Finding]:
    from edgedoctor.checks import device, runtime

    return device.check(facts) + runtime.check(facts)


def causes_of(findings: Iterable[Finding], statuses: Iterable[str] = ("warn", "fail")) -> set:
    statuses = set(statuses)
    return {c for f in findings if f.status in statuses for c in f.causes}


def by_id(findings: Iterable[Finding], finding_id: str) -> Finding:
    matches = [f for f in findings if f.id == finding_id]
    assert matches, f"no finding {finding_id} in {[f.id for f in findings]}"
    return matches[0]


def ids(findings: Iterable[Finding], status: Optional[str] = None) -> List[str]:
    return [f.id for f in findings if status is None or f.status == status]


def assert_actionable(findings: Iterable[Finding]) -> None:
    """Every warn/fail names a cause from causes.md, says what is wrong and what to run."""
    known = set(_cause_codes())
    for finding in findings:
        if finding.status in ("warn", "fail"):
            assert finding.causes, finding
            assert set(finding.causes) <= known, (finding.id, finding.causes)
            assert finding.detail.strip() and finding.remedy.strip(), finding


def _cause_codes() -> List[str]:
    import re

    for candidate in (TESTS.parent.parent / "shared" / "causes.md", TESTS.parent / "matrix" / "causes.toml"):
        if candidate.exists():
            text = candidate.read_text()
            if candidate.suffix == ".md":
                return re.findall(r"^\| `([a-z0-9-]+)` \|", text, re.MULTILINE)
            return re.findall(r"^\[cause\.([a-z0-9-]+)\]", text, re.MULTILINE)
    raise AssertionError("no causes list found")


# --- a fake pyusb backend -------------------------------------------------------------------------------------

SPEED_LOW, SPEED_FULL, SPEED_HIGH, SPEED_SUPER, SPEED_SUPER_PLUS = 1, 2, 3, 4, 5


class FakeUsbDevice:
    """One device as a libusb backend would report it (ids as ints, speed as libusb_speed)."""

    def __init__(
        self,
        vendor: int,
        product: int,
        bus: int,
        address: int,
        speed: int = SPEED_SUPER,
        port_numbers: Sequence[int] = (1,),
    ):
        self.vendor, self.product, self.bus, self.address = vendor, product, bus, address
        self.speed, self.port_numbers = speed, tuple(port_numbers)


class _Descriptor:
    pass


def _fake_backend_class():
    import usb.backend

    class FakeBackend(usb.backend.IBackend):
        """A pyusb backend presenting FakeUsbDevices; `error` makes enumeration raise it."""

        def __init__(self, devices: Sequence[FakeUsbDevice] = (), error: Optional[BaseException] = None):
            self.devices = list(devices)
            self.error = error

        def enumerate_devices(self):
            if self.error is not None:
                raise self.error
            return iter(self.devices)

        def get_device_descriptor(self, dev):
            desc = _Descriptor()
            desc.bLength, desc.bDescriptorType = 18, 1
            desc.bcdUSB = 0x0310 if dev.speed >= SPEED_SUPER else 0x0210
            desc.bDeviceClass = desc.bDeviceSubClass = desc.bDeviceProtocol = 0
            desc.bMaxPacketSize0 = 9 if dev.speed >= SPEED_SUPER else 64
            desc.idVendor, desc.idProduct, desc.bcdDevice = dev.vendor, dev.product, 0x0100
            desc.iManufacturer = desc.iProduct = desc.iSerialNumber = 0
            desc.bNumConfigurations = 1
            desc.bus, desc.address, desc.speed = dev.bus, dev.address, dev.speed
            desc.port_number = dev.port_numbers[-1] if dev.port_numbers else None
            desc.port_numbers = dev.port_numbers
            return desc

    return FakeBackend


def fake_backend(devices: Sequence[FakeUsbDevice] = (), error: Optional[BaseException] = None):
    return _fake_backend_class()(devices, error)
