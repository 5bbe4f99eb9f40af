"""edgedoctor/emulation.py without qemu: ELF headers, qemu's command line, binfmt_misc entries, the sysroot of a
foreign interpreter, and the worker started through an emulator. The real thing (edgedoctor under
qemu-aarch64-static starting its own worker) is the pi tier: tests/test_pi_tier.py."""

from __future__ import annotations

import os
import stat
import struct
import sys
from pathlib import Path

import pytest

from edgedoctor.machine import emulation, workerproc
from edgedoctor.machine.emulation import EM_AARCH64, EM_ARM, EM_X86_64, Emulator


def elf_bytes(machine: int, bits: int = 64, little: bool = True, interpreter: str = "") -> bytes:
    """A minimal ELF executable header with one PT_INTERP program header."""
    order = "<" if little else ">"
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little else 2, 1]) + b"\0" * 9
    payload = interpreter.encode() + b"\0" if interpreter else b""
    if bits == 64:
        ehsize, phentsize = 64, 56
        header = ident + struct.pack(
            order + "HHIQQQIHHHHHH", 2, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, 1, 0, 0, 0
        )
        data_offset = ehsize + phentsize
        phdr = struct.pack(
            order + "IIQQQQQQ", 3 if interpreter else 1, 4, data_offset, 0, 0, len(payload), len(payload), 1
        )
    else:
        ehsize, phentsize = 52, 32
        header = ident + struct.pack(
            order + "HHIIIIIHHHHHH", 2, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, 1, 0, 0, 0
        )
        data_offset = ehsize + phentsize
        phdr = struct.pack(
            order + "IIIIIIII", 3 if interpreter else 1, data_offset, 0, 0, len(payload), len(payload), 4, 1
        )
    return header + phdr + payload


def test_elf_headers_name_machine_class_order_and_loader(tmp_path):
    arm64 = tmp_path / "python-arm64"
    arm64.write_bytes(elf_bytes(EM_AARCH64, 64, True, "/lib/ld-linux-aarch64.so.1"))
    info = emulation.elf_info(str(arm64))
    assert (info.machine, info.bits, info.little_endian, info.interpreter) == (
        EM_AARCH64,
        64,
        True,
        "/lib/ld-linux-aarch64.so.1",
    )
    assert info.qemu_target == "aarch64"
    armhf = tmp_path / "python-armhf"
    armhf.write_bytes(elf_bytes(EM_ARM, 32, True, "/lib/ld-linux-armhf.so.3"))
    info = emulation.elf_info(str(armhf))
    assert (info.machine, info.bits, info.interpreter, info.qemu_target) == (
        EM_ARM,
        32,
        "/lib/ld-linux-armhf.so.3",
        "arm",
    )
    assert emulation.parse_elf(elf_bytes(EM_ARM, 32, False)).qemu_target == "armeb"
    script = tmp_path / "python-shim"
    script.write_text('#!/bin/sh\nexec python3 "$@"\n')
    assert emulation.elf_info(str(script)) is None
    assert emulation.elf_info(str(tmp_path / "absent")) is None
    assert emulation.parse_elf(b"\x7fELF\x09") is None


def test_this_interpreter_is_read_as_the_machine_it_runs_on():
    info = emulation.elf_info(os.path.realpath(sys.executable))
    if info is None:
        pytest.skip("the running interpreter is not an ELF file")
    assert info.machine == emulation.host_machine()
    assert emulation.emulator_for(sys.executable) is None  # native: nothing to wrap
    assert emulation.command([sys.executable, "-c", "pass"]) == [sys.executable, "-c", "pass"]


def test_not_emulated_natively():
    emulation.running_under.cache_clear()
    try:
        assert emulation.running_under() is None
    finally:
        emulation.running_under.cache_clear()


def test_qemu_command_line_options_and_program():
    argv = [
        "qemu-aarch64-static",
        "-L",
        "pi/root",
        "-cpu",
        "cortex-a72",
        "-strace",
        "--",
        "pi/root/usr/bin/python3",
        "-m",
        "edgedoctor",
    ]
    options, program = emulation.parse_qemu_command_line(argv, cwd="/srv")
    assert options == {"L": "/srv/pi/root", "cpu": "cortex-a72", "strace": ""}
    assert program == "pi/root/usr/bin/python3"
    options, program = emulation.parse_qemu_command_line(["qemu-arm", "/usr/bin/python3"], cwd="/")
    assert (options, program) == ({}, "/usr/bin/python3")
    assert emulation.parse_qemu_command_line(["qemu-arm", "-L"], cwd="/") == ({}, None)


AARCH64_ENTRY = (
    "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: OCF\noffset 0\n"
    "magic 7f454c460201010000000000000000000200b700\n"
    "mask ffffffffffffff00fffffffffffffffffeffffff\n"
)


def test_binfmt_misc_entries_claim_by_magic_and_mask(tmp_path):
    head = elf_bytes(EM_AARCH64, 64, True, "/lib/ld-linux-aarch64.so.1")[:64]
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "register").write_text("")
    assert not emulation.binfmt_runs(head, str(tmp_path))
    (tmp_path / "qemu-aarch64").write_text(AARCH64_ENTRY)
    assert emulation.binfmt_runs(head, str(tmp_path))
    assert not emulation.binfmt_runs(elf_bytes(EM_ARM, 32)[:64], str(tmp_path))
    (tmp_path / "qemu-aarch64").write_text(AARCH64_ENTRY.replace("enabled", "disabled", 1))
    assert not emulation.binfmt_runs(head, str(tmp_path))
    (tmp_path / "qemu-aarch64").write_text(AARCH64_ENTRY)
    (tmp_path / "status").write_text("disabled\n")
    assert not emulation.binfmt_runs(head, str(tmp_path))
    assert not emulation.binfmt_runs(head, str(tmp_path / "absent"))


def _pi_root(tmp_path: Path) -> Path:
    root = tmp_path / "pi" / "root"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "ld-linux-aarch64.so.1").write_bytes(b"")
    (root / "usr" / "bin").mkdir(parents=True)
    python = root / "usr" / "bin" / "python3.11"
    python.write_bytes(elf_bytes(EM_AARCH64, 64, True, "/lib/ld-linux-aarch64.so.1"))
    python.chmod(0o755)
    return root


def _fake_qemu(folder: Path, name: str = "qemu-aarch64-static") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    qemu = folder / name
    qemu.write_text("#!/bin/sh\nexit 0\n")
    qemu.chmod(qemu.stat().st_mode | stat.S_IEXEC)
    return qemu


def test_a_foreign_interpreter_is_started_by_qemu_with_its_sysroot(tmp_path, monkeypatch):
    if emulation.host_machine() in (EM_AARCH64, None):
        pytest.skip("this machine runs aarch64 natively (or is not Linux)")
    root = _pi_root(tmp_path)
    python = root / "usr" / "bin" / "python3.11"
    assert emulation.find_sysroot(str(python), "/lib/ld-linux-aarch64.so.1") == str(root)
    qemu = _fake_qemu(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("QEMU_LD_PREFIX", raising=False)
    monkeypatch.setattr(emulation, "BINFMT_DIR", str(tmp_path / "no-binfmt"))
    emulator = emulation.emulator_for(str(python))
    assert emulator == Emulator(str(qemu), ("-L", str(root)), str(root), EM_AARCH64, "found")
    assert emulation.command([str(python), "-B", "worker", "env"]) == [
        str(qemu),
        "-L",
        str(root),
        str(python),
        "-B",
        "worker",
        "env",
    ]
    # $QEMU_LD_PREFIX names the sysroot when the user has one
    monkeypatch.setenv("QEMU_LD_PREFIX", "/srv/elsewhere")
    assert emulation.emulator_for(str(python)).options == ("-L", "/srv/elsewhere")
    # binfmt_misc runs it: nothing to wrap
    binfmt = tmp_path / "binfmt"
    binfmt.mkdir()
    (binfmt / "status").write_text("enabled\n")
    (binfmt / "qemu-aarch64").write_text(AARCH64_ENTRY)
    monkeypatch.setattr(emulation, "BINFMT_DIR", str(binfmt))
    assert emulation.emulator_for(str(python)) is None


def test_no_emulator_installed_leaves_the_exec_error_to_tell(tmp_path, monkeypatch):
    if emulation.host_machine() in (EM_AARCH64, None):
        pytest.skip("this machine runs aarch64 natively (or is not Linux)")
    python = _pi_root(tmp_path) / "usr" / "bin" / "python3.11"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(emulation, "BINFMT_DIR", str(tmp_path / "no-binfmt"))
    assert emulation.emulator_for(str(python)) is None
    outcome = workerproc.run_worker(str(python), "env", {}, timeout=30)
    assert outcome.status == workerproc.NOT_STARTED and "Exec format error" in outcome.error


def test_the_emulated_view_of_a_sysroot_path_is_named_on_the_host(tmp_path):
    root = _pi_root(tmp_path)
    emulator = Emulator("/usr/bin/qemu-aarch64-static", ("-L", str(root)), str(root), EM_AARCH64, "self")
    # the emulated process says /usr/bin/python3.11 and means the sysroot's
    assert emulator.host_path("/usr/bin/python3.11") == str(root / "usr" / "bin" / "python3.11")
    assert emulator.host_path(str(root / "usr" / "bin" / "python3.11")) == str(root / "usr" / "bin" / "python3.11")
    assert emulator.host_path("/opt/venv/bin/python") == "/opt/venv/bin/python"
    assert emulator.host_path("relative/python") == "relative/python"
    assert emulator.to_fact()["machine"] == "aarch64"


def test_the_worker_is_started_through_the_emulator(tmp_path, monkeypatch):
    """The hook in workerproc: an emulator that must start the interpreter gets the worker's whole argv."""
    log = tmp_path / "argv.txt"
    qemu = tmp_path / "qemu-fake"
    qemu.write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$@" > {log}\nshift 2\nexec "$@"\n')
    qemu.chmod(0o755)
    emulator = Emulator(str(qemu), ("-L", str(tmp_path)), str(tmp_path), EM_X86_64, "found")
    monkeypatch.setattr(emulation, "emulator_for", lambda program: emulator if program == sys.executable else None)
    outcome = workerproc.run_worker(sys.executable, "env", {}, timeout=120)
    assert outcome.ok, outcome.error
    assert outcome.result["python"]["executable"]
    argv = log.read_text().splitlines()
    assert argv[:3] == ["-L", str(tmp_path), sys.executable] and argv[-1] == "env"
