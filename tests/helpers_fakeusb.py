"""Build the fake USB Accelerator (tests/fake_libusb.c as libusb-1.0.so.0) and the sleep shim (tests/fast_sleep.c)
that the runtime-tier tests put under Google's real libedgetpu; and the reason to skip when they cannot."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Optional

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
RUNTIMES = SHARED / "runtimes"


def skip_reason(needed: Iterable[Path] = (RUNTIMES,)) -> Optional[str]:
    for path in needed:
        if not Path(path).is_dir():
            return f"no {path}"
    if os.uname().machine != "x86_64":
        return "the real runtimes are loaded on x86_64 Linux only here"
    if not (shutil.which("gcc") or shutil.which("cc")):
        return "no C compiler (gcc) to build the fake libusb"
    return None


def build(folder: Path, cc: Optional[str] = None) -> dict:
    """FOLDER/usb/libusb-1.0.so.0 and FOLDER/fast_sleep.so: {"libusb": the folder for LD_LIBRARY_PATH,
    "shim": the file for LD_PRELOAD}. `cc`: another compiler (aarch64-linux-gnu-gcc for the pi tier)."""
    cc = cc or shutil.which("gcc") or shutil.which("cc")
    (folder / "usb").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            cc,
            "-O1",
            "-shared",
            "-fPIC",
            "-Wl,-soname,libusb-1.0.so.0",
            "-o",
            str(folder / "usb" / "libusb-1.0.so.0"),
            str(HERE / "fake_libusb.c"),
            "-lpthread",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", "-o", str(folder / "fast_sleep.so"), str(HERE / "fast_sleep.c"), "-ldl"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {"libusb": folder / "usb", "shim": folder / "fast_sleep.so"}
