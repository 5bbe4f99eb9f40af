"""Start a child interpreter through an emulator when the machine cannot run it natively.

Two cases, one answer:

* edgedoctor itself runs under qemu-user (an emulated Raspberry Pi userland: `qemu-aarch64-static -L ROOT
  ROOT/usr/bin/python3 -m edgedoctor check`). Without binfmt_misc the emulated process cannot exec another ARM
  program ("Exec format error"), so its worker is started through the same emulator with the same `-L`
  sysroot (and the same CPU model). qemu answers `/proc/self/exe` with the emulated program; the real
  emulator is read through `readlinkat(/proc, "self/exe")`, which qemu does not rewrite, and its options from
  the real command line the same way.
* `--python` names an interpreter of another architecture (an aarch64 venv examined from an x86_64 PC). Its
  ELF header names the machine; when no binfmt_misc entry runs it, `qemu-<arch>-static` (or `qemu-<arch>`)
  starts it, with the sysroot that holds the interpreter's program loader (`PT_INTERP`), or
  `$QEMU_LD_PREFIX`.

`command(argv)` is the one entry point: it returns argv unchanged whenever the program runs natively (or is not
an ELF file, or no emulator is installed, in which case the exec error tells the story).
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

# ELF e_machine values (elf.h) and the qemu-user target that runs them.
EM_386, EM_ARM, EM_X86_64, EM_AARCH64 = 3, 40, 62, 183
EM_MIPS, EM_PPC64, EM_S390, EM_RISCV = 8, 21, 22, 243

MACHINE_NAMES = {
    EM_386: "i386",
    EM_ARM: "arm",
    EM_X86_64: "x86_64",
    EM_AARCH64: "aarch64",
    EM_MIPS: "mips",
    EM_PPC64: "ppc64",
    EM_S390: "s390x",
    EM_RISCV: "riscv",
}

# Machines a CPU of the key runs natively besides its own (a 64-bit kernel with the 32-bit ABI enabled).
NATIVE_ALSO = {EM_X86_64: {EM_386}, EM_AARCH64: {EM_ARM}}

# qemu-user options (linux-user/main.c) that take an argument; the others are flags.
_OPTIONS_WITH_ARGUMENT = {
    "L",
    "s",
    "cpu",
    "E",
    "U",
    "0",
    "r",
    "g",
    "B",
    "R",
    "d",
    "D",
    "dfilter",
    "p",
    "seed",
    "trace",
    "plugin",
}
# The ones a child must get again to see the same machine: sysroot, CPU model, stack size, uname release,
# guest base and reserved size, page size.
_REPEATED = ("L", "cpu", "s", "r", "B", "R", "p")

BINFMT_DIR = "/proc/sys/fs/binfmt_misc"


@dataclass(frozen=True)
class ElfInfo:
    machine: int
    bits: int  # 32 or 64
    little_endian: bool
    interpreter: Optional[str]  # PT_INTERP, e.g. /lib/ld-linux-aarch64.so.1

    @property
    def qemu_target(self) -> Optional[str]:
        """The qemu-user target name for this machine (qemu-<target>)."""
        if self.machine == EM_ARM:
            return "arm" if self.little_endian else "armeb"
        if self.machine == EM_AARCH64:
            return "aarch64" if self.little_endian else "aarch64_be"
        if self.machine == EM_PPC64:
            return "ppc64le" if self.little_endian else "ppc64"
        if self.machine == EM_MIPS:
            base = "mips64" if self.bits == 64 else "mips"
            return base + ("el" if self.little_endian else "")
        if self.machine == EM_RISCV:
            return f"riscv{self.bits}"
        return {EM_386: "i386", EM_X86_64: "x86_64", EM_S390: "s390x"}.get(self.machine)


@dataclass(frozen=True)
class Emulator:
    path: str  # the emulator program on the host, e.g. /usr/bin/qemu-aarch64-static
    options: Tuple[str, ...] = ()  # repeated for every program it starts, e.g. ("-L", "/srv/pi-root")
    sysroot: Optional[str] = None
    machine: Optional[int] = None  # the ELF machine it emulates
    origin: str = "found"  # "self": edgedoctor runs under it; "found": looked up for a foreign program

    def command(self, argv: Sequence[str]) -> List[str]:
        return [self.path, *self.options, self.host_path(argv[0]), *argv[1:]]

    def host_path(self, program: str) -> str:
        """The emulator opens its program on the host, while the emulated process sees `/usr/bin/python3` in
        the sysroot (qemu looks in `-L` first): name the file the emulated process meant."""
        if (
            self.sysroot
            and os.path.isabs(program)
            and not _inside(program, self.sysroot)
            and os.path.exists(self.sysroot.rstrip("/") + program)
        ):
            return self.sysroot.rstrip("/") + program
        return program

    def to_fact(self) -> Dict[str, object]:
        return {
            "emulator": self.path,
            "machine": MACHINE_NAMES.get(self.machine or -1),
            "sysroot": self.sysroot,
            "options": list(self.options),
            "origin": self.origin,
        }


def _inside(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") + "/"
    return path.startswith(folder)


# --- ELF ------------------------------------------------------------------------------------------------------


def parse_elf(head: bytes, read_at=None) -> Optional[ElfInfo]:
    """The machine, class and byte order of an ELF header; the program interpreter when `read_at(offset,
    size)` can read further into the file."""
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    bits = 64 if head[4] == 2 else 32
    little = head[5] == 1
    order = "<" if little else ">"
    machine = struct.unpack_from(order + "H", head, 18)[0]
    interpreter = None
    if read_at is not None:
        try:
            interpreter = _interpreter(head, bits, order, read_at)
        except (struct.error, OSError, ValueError):
            interpreter = None
    return ElfInfo(machine, bits, little, interpreter)


def _interpreter(head: bytes, bits: int, order: str, read_at) -> Optional[str]:
    if bits == 64:
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
    else:
        (phoff,) = struct.unpack_from(order + "I", head, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
    if not phoff or phnum > 256 or phentsize < (56 if bits == 64 else 32):
        return None
    table = read_at(phoff, phentsize * phnum)
    for index in range(phnum):
        entry = table[index * phentsize : (index + 1) * phentsize]
        if len(entry) < phentsize:
            break
        if struct.unpack_from(order + "I", entry, 0)[0] != 3:  # PT_INTERP
            continue
        if bits == 64:
            (offset,) = struct.unpack_from(order + "Q", entry, 8)
            (size,) = struct.unpack_from(order + "Q", entry, 32)
        else:
            (offset,) = struct.unpack_from(order + "I", entry, 4)
            (size,) = struct.unpack_from(order + "I", entry, 16)
        if 0 < size <= 4096:
            return read_at(offset, size).split(b"\0", 1)[0].decode("utf-8", "replace") or None
    return None


def elf_info(path: str) -> Optional[ElfInfo]:
    """ElfInfo of a file (symlinks followed), None when it is not ELF or cannot be read."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)

            def read_at(offset: int, size: int) -> bytes:
                handle.seek(offset)
                return handle.read(size)

            return parse_elf(head, read_at)
    except OSError:
        return None


# --- the emulator edgedoctor itself runs under ---------------------------------------------------------------


def _proc_self_fd() -> Optional[int]:
    # The folder itself, not a file in it: qemu rewrites only `/proc/self/<file>`, and it looks for absolute
    # paths in the -L sysroot first (a Pi fixture there may well have a /proc, never a /proc/self).
    try:
        return os.open("/proc/self", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None


def _real_self(entry: str, link: bool = False) -> Any:
    """/proc/self/<entry> as the kernel has it: qemu-user rewrites `/proc/self/...` paths for the emulated
    program, not a name relative to a directory descriptor of /proc/self."""
    fd = _proc_self_fd()
    if fd is None:
        return None
    try:
        if link:
            return os.readlink(entry, dir_fd=fd)
        inner = os.open(entry, os.O_RDONLY, dir_fd=fd)
        with os.fdopen(inner, "rb") as handle:
            return handle.read()
    except (OSError, NotImplementedError):
        return None
    finally:
        os.close(fd)


def parse_qemu_command_line(argv: Sequence[str], cwd: str = "/") -> Tuple[Dict[str, str], Optional[str]]:
    """qemu-user's own options (name -> value, flags -> "") and the emulated program, from its command line."""
    options: Dict[str, str] = {}
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == "--":
            index += 1
            break
        if not word.startswith("-") or word == "-":
            break
        name = word.lstrip("-")
        if name in _OPTIONS_WITH_ARGUMENT:
            if index + 1 >= len(argv):
                return options, None  # an option without its value: no program named
            options[name] = argv[index + 1]
            index += 2
        else:
            options[name] = ""
            index += 1
    program = argv[index] if index < len(argv) else None
    if options.get("L"):
        options["L"] = os.path.normpath(os.path.join(cwd, options["L"]))
    return options, program


def _environ_of(raw: Optional[bytes]) -> Dict[str, str]:
    values = {}
    for item in (raw or b"").split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            values[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return values


@lru_cache(maxsize=1)
def running_under() -> Optional[Emulator]:
    """The qemu-user emulator this process runs under, or None when it runs natively (or is not on Linux)."""
    real = _real_self("exe", link=True)
    try:
        seen = os.readlink("/proc/self/exe")
    except OSError:
        return None
    if not isinstance(real, str) or real == seen or "qemu" not in os.path.basename(real):
        return None
    raw = _real_self("cmdline")
    argv = [word.decode("utf-8", "replace") for word in (raw or b"").split(b"\0")[:-1]]
    options, _program = parse_qemu_command_line(argv, os.getcwd())
    sysroot = options.get("L") or _environ_of(_real_self("environ")).get("QEMU_LD_PREFIX") or None
    repeated: List[str] = []
    for name in _REPEATED:
        if name == "L":
            if sysroot:
                repeated += ["-L", sysroot]
        elif name in options:
            repeated += [f"-{name}", options[name]]
    emulated = elf_info(seen)
    return Emulator(real, tuple(repeated), sysroot, emulated.machine if emulated else None, "self")


def host_machine() -> Optional[int]:
    """The ELF machine the CPU really runs: the emulator's own when edgedoctor is emulated."""
    current = running_under()
    path = current.path if current else (_real_self("exe", link=True) or "/proc/self/exe")
    info = elf_info(str(path))
    return info.machine if info else None


# --- a foreign program -----------------------------------------------------------------------------------------


def binfmt_runs(head: bytes, folder: Optional[str] = None) -> bool:
    """Whether an enabled binfmt_misc entry (magic and mask at an offset) claims a file with this header."""
    folder = folder or BINFMT_DIR
    if (_read_text(os.path.join(folder, "status")) or "").strip() != "enabled":
        return False
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        if name in ("status", "register"):
            continue
        text = _read_text(os.path.join(folder, name))
        if not text:
            continue
        fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
        if not text.startswith("enabled") or "magic" not in fields:
            continue
        try:
            magic = bytes.fromhex(fields["magic"].strip())
            mask = bytes.fromhex(fields.get("mask", "").strip()) or b"\xff" * len(magic)
            offset = int(fields.get("offset", "0").strip())
        except ValueError:
            continue
        window = head[offset : offset + len(magic)]
        if len(window) == len(magic) and all((b & m) == (g & m) for b, m, g in zip(window, mask, magic)):
            return True
    return False


def _read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def find_sysroot(program: str, interpreter: Optional[str]) -> Optional[str]:
    """The folder that holds the program's loader (PT_INTERP) among the program's ancestors, e.g.
    /srv/pi-root for /srv/pi-root/usr/bin/python3.11 and /lib/ld-linux-aarch64.so.1."""
    if not interpreter or not os.path.isabs(interpreter):
        return None
    folder = os.path.dirname(os.path.abspath(program))
    while True:
        if folder != "/" and os.path.exists(folder + interpreter):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _installed_qemu(target: str) -> Optional[str]:
    for name in (f"qemu-{target}-static", f"qemu-{target}"):
        found = shutil.which(name)
        if found:
            return found
    return None


def emulator_for(program: str) -> Optional[Emulator]:
    """The emulator that must start `program`, or None when the machine runs it as it is."""
    try:
        with open(program, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return None
    info = elf_info(program)
    if info is None:
        return None
    host = host_machine()
    if host is None or info.machine == host or info.machine in NATIVE_ALSO.get(host, ()):
        return None
    if binfmt_runs(head):
        return None
    current = running_under()
    if current is not None and current.machine == info.machine:
        return current
    target = info.qemu_target
    qemu = _installed_qemu(target) if target else None
    if qemu is None:
        return None
    sysroot = os.environ.get("QEMU_LD_PREFIX") or find_sysroot(program, info.interpreter)
    return Emulator(qemu, ("-L", sysroot) if sysroot else (), sysroot, info.machine, "found")


def command(argv: Sequence[str]) -> List[str]:
    """argv of a child program, put behind the emulator that must start it (unchanged when none must)."""
    emulator = emulator_for(argv[0]) if argv else None
    return emulator.command(argv) if emulator else list(argv)
