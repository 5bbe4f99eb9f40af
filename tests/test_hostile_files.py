"""Every read is bounded (issue #15): under `--root`, symlinks are followed inside the root (a mounted SD card
never gets the analysing machine's OS), FIFOs and devices are never opened to wait on, metadata files that
are malformed or endless are no traceback."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgedoctor import exitcodes
from edgedoctor.machine.system import System, read_regular, resolve_in_root

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "platform" / "raspios-bookworm-pi5"
POSIX = pytest.mark.skipif(os.name != "posix", reason="symlinks, FIFOs and /dev/zero")


@pytest.fixture
def image(tmp_path):
    root = tmp_path / "image"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


def _check(root, *extra, timeout=60):
    proc = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "check", "--root", str(root), "--offline", "--format", "json", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=str(REPO),
    )
    return proc.returncode, proc.stdout, proc.stderr


@POSIX
def test_an_absolute_symlink_is_followed_inside_the_root(image):
    os_release = image / "etc" / "os-release"
    real = image / "usr" / "lib" / "os-release"
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text(os_release.read_text())
    os_release.unlink()
    os_release.symlink_to("/usr/lib/os-release")  # as on Debian: absolute, meant for the image
    system = System.from_root(image)
    assert system.read_text("/etc/os-release") == real.read_text()
    assert system.realpath("/etc/os-release") == "/usr/lib/os-release"


@POSIX
def test_dot_dot_and_link_loops_stay_in_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("in the root\n")
    (root / "a").symlink_to("../../../../../../etc/passwd")
    (root / "loop").symlink_to("/loop")
    assert resolve_in_root(root, "/a") == root / "etc" / "passwd"
    assert System.from_root(root).read_text("/a") == "in the root\n"
    assert System.from_root(root).read_text("/loop") is None  # too many links: not read, not a hang


@POSIX
def test_a_fifo_inside_the_root_is_never_opened(image):
    (image / "etc" / "os-release").unlink()
    os.mkfifo(image / "etc" / "os-release")
    serial = image / "sys" / "bus" / "usb" / "devices"
    code, out, err = _check(image, timeout=60)  # it hung forever before
    assert code in (exitcodes.SUCCESS, exitcodes.FAILURE) and "Traceback" not in err
    assert System.from_root(image).read_text("/etc/os-release") is None
    del serial


@POSIX
@pytest.mark.parametrize("name", [".edgedoctor/platform", ".edgedoctor/page_size", ".edgedoctor/env", "etc/os-release"])
def test_a_metadata_file_linking_to_dev_zero_is_not_read(image, name):
    """It ate 3.7 GB, then a MemoryError traceback."""
    target = image / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    os.symlink("/dev/zero", target)  # inside the root: <root>/dev/zero does not exist
    code, out, err = _check(image)
    assert code in (exitcodes.SUCCESS, exitcodes.FAILURE) and "Traceback" not in err and "MemoryError" not in err


@POSIX
def test_a_device_is_never_read():
    assert read_regular("/dev/zero", 1 << 30) is None
    assert read_regular("/dev/null", 10) is None


@pytest.mark.parametrize(
    "name,content",
    [
        (".edgedoctor/page_size", "four kilobytes"),
        (".edgedoctor/page_size", "-1"),
        (".edgedoctor/platform", "\x00\xff amiga"),
        (".edgedoctor/env", "\x00=\x00\nNOEQUALS\n=\n"),
        (".edgedoctor/commands/uname_-m.rc", "not a number"),
    ],
)
def test_malformed_root_metadata_is_no_traceback(image, name, content):
    target = image / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8", errors="surrogateescape")
    code, out, err = _check(image)
    assert code in (exitcodes.SUCCESS, exitcodes.FAILURE), err
    assert "Traceback" not in err


def test_a_file_is_read_up_to_its_limit(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * 5000)
    assert read_regular(big, 100) == b"x" * 100
    assert read_regular(tmp_path, 100) is None  # a folder
    assert read_regular(tmp_path / "missing", 100) is None


def test_a_file_that_stat_cannot_see_but_open_can_is_still_read(tmp_path, monkeypatch):
    """qemu-arm answers stat() of /proc/device-tree/model from the host (no such file) but open() from the
    emulated Pi's sysroot: the file is read, and fstat still refuses what is not a regular file."""
    import os as _os

    from edgedoctor.machine import system

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    fifo = tmp_path / "fifo"
    _os.mkfifo(fifo)
    real_stat = _os.stat

    def blind_stat(path, *args, **kwargs):
        if str(path) in (str(model), str(fifo)):
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(system.os, "stat", blind_stat)
    assert system.read_regular(str(model), 100) == b"Raspberry Pi 4 Model B Rev 1.4\x00"
    assert system.read_regular(str(fifo), 100) is None  # opened without blocking, refused by fstat
