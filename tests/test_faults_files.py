"""Files that fight back: sysfs entries this user may not read (for real, without root's override, and through
the seam at random), devices unplugged between listing and reading, a read-only or full cache folder, no home
folder at all, and a models mirror with missing or corrupt files. edgedoctor reports; it never dies."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers_hw import ROOTS, read_facts, root_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgedoctor import matrix, models
from edgedoctor.machine.system import CommandResult, System
from edgedoctor.matrix import engine

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models"
ROOT_NAMES = ("usb3-runtime", "usb-no-permission", "pcie-ok", "pcie-hung-temp", "pi5-16k-pages", "usb3-bootloader")
MISMATCH = (
    "RuntimeError: Internal: Unsupported data type in custom op handler: 0Node number 1 "
    "(EdgeTpuDelegateForCustomOp) failed to prepare."
)


def no_internal_errors(facts):
    """No reader raised (a raise becomes {"internal_error": ...} in collect), and the checks ran cleanly."""
    from edgedoctor.checks import run_checks

    json.dumps(facts)
    for name, section in facts.items():
        assert not (isinstance(section, dict) and section.get("internal_error")), (name, section)
    findings = run_checks(facts)
    broken = [f for f in findings if f.id.startswith("edgedoctor.check-")]
    assert not broken, [(f.id, f.detail) for f in broken]


# --- permission denied, for real ----------------------------------------------------------------------------------
def without_root_override(argv):
    """argv run as root but without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: file modes apply to it, as they
    do to an ordinary user. None when this machine cannot drop them."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    probe = tempfile.NamedTemporaryFile(delete=False)
    probe.close()
    os.chmod(probe.name, 0)
    try:
        done = subprocess.run(
            [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", "cat", probe.name], capture_output=True
        )
    finally:
        os.unlink(probe.name)
    if done.returncode == 0 and os.geteuid() == 0:
        return None
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"] + list(argv)


@pytest.fixture
def unreadable_root(tmp_path):
    """usb3-runtime with some sysfs files and a whole device folder unreadable (mode 000)."""
    target = tmp_path / "root"
    shutil.copytree(ROOTS / "usb3-runtime", target, symlinks=True)
    devices = target / "sys" / "bus" / "usb" / "devices"
    locked = []
    for rel in ("2-1/speed", "2-1/idVendor", "usb1/idProduct", "1-3/product"):
        path = devices / rel
        if path.exists():
            path.chmod(0)
            locked.append(path)
    folder = devices / "1-3"
    if folder.is_dir() and not folder.is_symlink():
        folder.chmod(0)
        locked.append(folder)
    for extra in ("proc/modules", "etc/os-release", ".edgedoctor/usb_backend.json"):
        if (target / extra).exists():
            (target / extra).chmod(0)
            locked.append(target / extra)
    yield target
    for path in locked:
        path.chmod(0o755)


def test_unreadable_sysfs_entries_for_a_user_without_root_override(unreadable_root):
    argv = without_root_override(
        [
            sys.executable,
            "-m",
            "edgedoctor",
            "check",
            "--root",
            str(unreadable_root),
            "--no-models",
            "--offline",
            "--format",
            "json",
            "--timeout",
            "10",
        ]
    )
    if argv is None:
        pytest.skip("cannot drop root's file-permission override here (no setpriv, or not permitted)")
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, cwd=str(REPO), env=dict(os.environ, PYTHONPATH=str(REPO))
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["schema_version"] == 1 and report["facts"]["usb"] is not None


# --- permission denied and vanishing files, through the seam -------------------------------------------------------
class Flaky(System):
    """A System whose files and commands fail for a pseudo-random set of paths (`seed`): reads give nothing
    (denied, or unplugged after `exists` said yes), listings come back empty, commands cannot run."""

    def setup(self, seed: int, share: int):
        self.seed, self.share = seed, share
        return self

    def _fails(self, path) -> bool:
        return hash((self.seed, str(path))) % self.share == 0

    def read_text(self, absolute, limit=1 << 20):
        return None if self._fails(absolute) else super().read_text(absolute, limit)

    def read_bytes(self, absolute, limit=1 << 20):
        return None if self._fails(absolute) else super().read_bytes(absolute, limit)

    def listdir(self, absolute):
        return [] if self._fails("ls:" + str(absolute)) else super().listdir(absolute)

    def access(self, absolute, mode):
        return False if self._fails("access:" + str(absolute)) else super().access(absolute, mode)

    def realpath(self, absolute):
        return str(absolute) if self._fails("real:" + str(absolute)) else super().realpath(absolute)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ROOT_NAMES), st.integers(0, 10_000), st.sampled_from([2, 3, 5]))
def test_denied_and_vanishing_files_never_break_a_reader(name, seed, share):
    base = System.from_root(ROOTS / name)
    system = Flaky(root=base.root, env=base.env, run=base.run, platform=base.platform, page_size=base.page_size).setup(
        seed, share
    )
    inner = system.run

    def run(argv, timeout=10.0):
        if system._fails("cmd:" + " ".join(argv)):
            return CommandResult(list(argv), None, error=f"{argv[0]}: Permission denied")
        return inner(argv, timeout)

    system.run = run
    ctx = root_context(ROOTS / name)
    ctx.system = system
    facts = read_facts(ctx)
    from edgedoctor.probes import platform

    facts["platform"] = platform.read(ctx)
    no_internal_errors(facts)


def test_a_device_unplugged_between_listing_and_reading(tmp_path):
    """The USB Accelerator's sysfs folder disappears right after the bus was listed (someone pulled it)."""
    target = tmp_path / "root"
    shutil.copytree(ROOTS / "usb3-runtime", target, symlinks=True)
    base = System.from_root(target)

    class Unplugging(System):
        def listdir(self, absolute):
            names = super().listdir(absolute)
            if str(absolute).rstrip("/").endswith("usb/devices"):
                for name in names:
                    shutil.rmtree(self.path(f"{absolute}/{name}"), ignore_errors=True)
            return names

    system = Unplugging(root=base.root, env=base.env, run=base.run, platform=base.platform, page_size=base.page_size)
    ctx = root_context(target)
    ctx.system = system
    facts = read_facts(ctx)
    no_internal_errors(dict(facts, platform=dict(facts["platform"], os="linux")))


# --- cache folders that cannot be written ---------------------------------------------------------------------------
def test_a_read_only_cache_folder(tmp_path):
    cache = tmp_path / "ro-cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        argv = without_root_override([sys.executable, "-m", "edgedoctor", "explain", MISMATCH, "--format", "json"])
        if argv is None:
            pytest.skip("cannot drop root's file-permission override here")
        env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(cache))
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=str(REPO))
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "tflite-runtime-libedgetpu-mismatch" in done.stdout
        done = subprocess.run(
            argv[:-4]
            + ["check", "--offline", "--format", "json", "--timeout", "20", "--root", str(ROOTS / "usb3-runtime")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=str(REPO),
        )
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
        assert list(cache.iterdir()) == []
    finally:
        cache.chmod(0o755)


@pytest.fixture
def full_disk(monkeypatch, tmp_path):
    """Every file created through tempfile.mkstemp is /dev/full underneath: its writes fail with ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    real = tempfile.mkstemp
    made = []

    def mkstemp(suffix=None, prefix=None, dir=None, text=False):
        fd, name = real(suffix=suffix, prefix=prefix, dir=dir, text=text)
        os.close(fd)
        made.append(name)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return made


def test_a_full_cache_folder_for_the_compiled_matrix(full_disk, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    engine._load_cached.cache_clear()
    try:
        table = matrix.load()
        assert full_disk, "the compiled matrix cache was not written through tempfile.mkstemp"
        assert table.match(MISMATCH)[0].entry.id == "tflite-runtime-libedgetpu-mismatch"
        assert not any(Path(name).exists() for name in full_disk)  # no half-written file left behind
        assert not list((tmp_path / "cache").rglob("compiled-*.json"))
    finally:
        engine._load_cached.cache_clear()


FULL_DISK_DOWNLOAD = pytest.mark.xfail(
    strict=True,
    reason=(
        "bug in models.fetch._fetch_once: an OSError while writing the download (ENOSPC, EIO) is neither _Retryable nor "
        "_Final, so download() -- documented as never raising -- raises; fix in the final report"
    ),
)


def test_a_full_cache_folder_for_downloads(full_disk, tmp_path):
    from helpers_models import MirrorServer

    if not SHARED_MODELS.is_dir():
        pytest.skip("no ../shared/models")
    folder = tmp_path / "served"
    shutil.copytree(SHARED_MODELS, folder)
    server = MirrorServer(folder).start()
    try:
        manifest = models.load_manifest()
        settings_ = models.DownloadSettings(
            connect_timeout=2, read_timeout=2, total_timeout=20, retries=1, progress=False
        )
        resolver = models.Resolver(
            manifest, models_url=server.url, cache_dir=str(tmp_path / "cache"), settings=settings_
        )
        result = resolver.resolve("mnist_nine.bmp")
        assert not result.ok and "No space left" in (result.error or ""), result.error
        assert not (tmp_path / "cache" / "models" / "mnist_nine.bmp").exists()
    finally:
        server.stop()


# --- no home folder -----------------------------------------------------------------------------------------------
@pytest.fixture
def homeless(monkeypatch, tmp_path):
    """No HOME, no XDG_CACHE_HOME, and a user the password database does not know (expanduser gives up)."""
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    real = os.path.expanduser
    monkeypatch.setattr(os.path, "expanduser", lambda p: str(p) if str(p).startswith("~") else real(p))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    engine._load_cached.cache_clear()
    yield work
    engine._load_cached.cache_clear()


def test_no_home_folder_explain_and_check(run_cli, homeless):
    code, out, err = run_cli("explain", MISMATCH, "--format", "json")
    assert code == 0 and "tflite-runtime-libedgetpu-mismatch" in out
    code, out, err = run_cli(
        "check", "--root", ROOTS / "usb3-runtime", "--offline", "--format", "json", "--timeout", "20"
    )
    assert code in (0, 1) and "Traceback" not in err
    assert list(homeless.iterdir()) == [], "something was written under the working folder"


def test_no_home_folder_cache_root_is_absolute_and_never_raises(homeless):
    assert models.cache_root().is_absolute()


# --- a models mirror with missing or corrupt files ------------------------------------------------------------------
def test_a_mirror_with_missing_truncated_and_corrupt_files(run_cli, tmp_path):
    if not SHARED_MODELS.is_dir():
        pytest.skip("no ../shared/models")
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED_MODELS, mirror)
    (mirror / "mobilenet_v2_1.0_224_inat_bird_quant.tflite").unlink()
    labels = mirror / "inat_bird_labels.txt"
    labels.write_bytes(labels.read_bytes()[:100])
    image = mirror / "parrot.jpg"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    (mirror / "mobilenet_v2_1.0_224_inat_bird_quant_edgetpu.tflite").write_bytes(b"")
    code, out, err = run_cli(
        "check",
        "--offline",
        "--models-dir",
        mirror,
        "--cache-dir",
        tmp_path / "cache",
        "--model-set",
        "inat-bird",
        "--format",
        "json",
        "--timeout",
        "30",
    )
    assert code in (0, 1) and "Traceback" not in err
    inference = json.loads(out)["facts"]["inference"]
    files = inference["source"]["files"]
    assert not files["mobilenet_v2_1.0_224_inat_bird_quant.tflite"]["ok"]
    assert "bytes, expected" in " ".join(files["inat_bird_labels.txt"]["attempts"])
    assert "sha256" in " ".join(files["parrot.jpg"]["attempts"])
    assert not files["mobilenet_v2_1.0_224_inat_bird_quant_edgetpu.tflite"]["ok"]
    assert sorted(inference["source"]["missing"]) == sorted(n for n, f in files.items() if not f["ok"])
    # the mirror itself is never modified
    assert not (mirror / "mobilenet_v2_1.0_224_inat_bird_quant.tflite").exists()
    assert (mirror / "parrot.jpg").read_bytes() == bytes(data)
