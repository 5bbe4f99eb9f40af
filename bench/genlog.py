"""Generate a large, realistic log with real Coral errors scattered through it.

    python bench/genlog.py OUT.log --size 100M [--errors-every 1M] [--seed 1]

The noise is what a Raspberry Pi, a Frigate container or a CI job prints all day: syslog and kernel lines,
Python logging, unrelated tracebacks, apt and pip output. Much of it says "error", "failed", "usb",
"device" or "delegate", as real logs do, so the literal prefilter cannot skip it for free. Every
`errors-every` bytes (on average) one real error text from tests/fixtures/real_errors/*.toml is inserted
verbatim. The generator is deterministic for a seed and writes at disk speed (it repeats shuffled blocks of
generated lines), so a 1 GB log takes seconds, not minutes.

Standard library only. Used by bench/run.py and by tests/test_faults_input.py.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
REAL_ERRORS = REPO / "tests" / "fixtures" / "real_errors"

HOSTS = ["raspberrypi", "frigate", "coral-ci-07", "jetson-lab", "nvr01"]
DAEMONS = [
    "systemd[1]",
    "kernel",
    "dockerd[812]",
    "containerd[640]",
    "sshd[2231]",
    "cron[519]",
    "NetworkManager[701]",
    "avahi-daemon[455]",
    "frigate[1377]",
    "python3[4012]",
    "rngd[330]",
]
NOISE = [
    "Started Session {n} of user pi.",
    "Failed to start Bluetooth service; retrying in {n} s.",
    "usb 1-1.{d}: new high-speed USB device number {n} using xhci_hcd",
    "usb 1-1.{d}: New USB device found, idVendor=046d, idProduct=0825, bcdDevice= 0.{d}",
    "usb 1-1.{d}: USB disconnect, device number {n}",
    "hid-generic 0003:046D:C52B.{n:04X}: input,hidraw0: USB HID v1.11 Keyboard [Logitech USB Receiver]",
    "EXT4-fs (mmcblk0p2): re-mounted. Opts: (null). Quota mode: none.",
    "eth0: Link is Up - 1Gbps/Full - flow control rx/tx",
    "Accepted publickey for pi from 192.0.2.{d} port {n} ssh2",
    "error: kex_exchange_identification: Connection closed by remote host",
    "pam_unix(sshd:session): session opened for user pi(uid=1000) by (uid=0)",
    "(CRON) INFO (No MTA installed, discarding output)",
    "docker0: port {d}(veth{n:x}) entered forwarding state",
    'level=error msg="Handler for GET /v1.41/containers/json returned error: context canceled"',
    'level=warning msg="Your kernel does not support swap limit capabilities"',
    "[INFO] detector.coral: Starting detection process: {n}",
    "[INFO] camera.front: Camera processor started for front: {n}",
    "[WARNING] watchdog.front: No frames received from front in 20 seconds. Exiting ffmpeg...",
    "[ERROR] ffmpeg.front.detect: [rtsp @ 0x55d4c{n:x}] method DESCRIBE failed: 401 Unauthorized",
    "[ERROR] ffmpeg.front.detect: rtsp://192.0.2.{d}:554/stream1: Invalid data found when processing input",
    "[INFO] frigate.app: Output process started: {n}",
    "[DEBUG] urllib3.connectionpool: Starting new HTTPS connection (1): api.example.org:443",
    '[DEBUG] urllib3.connectionpool: https://api.example.org:443 "GET /v2/status HTTP/1.1" 200 {n}',
    "[ERROR] app.worker: job {n} failed: TimeoutError: operation timed out after 30 s",
    "[ERROR] app.db: OperationalError: could not connect to server: Connection refused",
    "[INFO] app.infer: loaded model ssd_mobilenet_v2_coco_quant_postprocess.tflite in {d}.{n} ms",
    "[INFO] app.infer: delegate list: [] (cpu fallback), {d} threads",
    "[INFO] app.infer: inference {n} took {d}.{n} ms",
    "WARNING: Retrying (Retry(total=4, connect=None, read=None)) after connection broken: /simple/numpy/",
    "Collecting numpy>=1.{d}",
    "  Downloading numpy-1.26.{d}-cp311-cp311-manylinux_2_17_x86_64.whl (18.2 MB)",
    "Successfully installed numpy-1.26.{d} pillow-10.{d}.0",
    "Get:{d} http://deb.debian.org/debian bookworm/main arm64 Packages [8,{n} kB]",
    "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process {n} (apt-get)",
    "W: Some index files failed to download. They have been ignored, or old ones used instead.",
    "Setting up libusb-1.0-0:arm64 (2:1.0.26-1) ...",
    "CUDA error: out of memory (device {d}); falling back to the CPU",
    "RuntimeError: CUDA error: device-side assert triggered",
    "OSError: [Errno 28] No space left on device: '/var/lib/frigate/recordings/{n}.mp4'",
    "PermissionError: [Errno 13] Permission denied: '/home/pi/.cache/pip/http/{n:x}'",
    "ModuleNotFoundError: No module named 'cv2'",
    "ImportError: libGL.so.1: cannot open shared object file: No such file or directory",
    "thermal thermal_zone0: critical temperature reached ({d}5 C), shutting down",
    "mmc0: Timeout waiting for hardware cmd interrupt.",
    "brcmfmac: brcmf_set_channel: set chanspec 0x100{d} fail, reason -52",
    'audit: type=1400 audit({n}.{d}:{n}): apparmor="DENIED" operation="open" profile="snap"',
]
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/opt/app/worker.py", line {n}, in run',
    "    result = self.handler(job)",
    '  File "/opt/app/handlers.py", line {d}{n}, in handle',
    '    raise ValueError(f"bad job {{job.id}}")',
    "ValueError: bad job {n}",
]


def load_real_errors(folder: Path = REAL_ERRORS) -> List[Tuple[str, str]]:
    """(entry id, verbatim text) of every real error fixture."""
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    found = []
    for path in sorted(folder.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for item in data.get("error") or []:
            text = str(item.get("text") or "").strip("\n")
            if text:
                found.append((str(item.get("entry")), text))
    return found


def _noise_block(rng: random.Random, size: int) -> List[str]:
    """Lines of noise adding up to about `size` bytes."""
    lines: List[str] = []
    total = 0
    clock = rng.randrange(0, 86400)
    while total < size:
        clock += rng.randrange(0, 3)
        stamp = "Nov 29 %02d:%02d:%02d" % (clock // 3600 % 24, clock // 60 % 60, clock % 60)
        host = rng.choice(HOSTS)
        if rng.random() < 0.02:
            for template in TRACEBACK:
                line = template.format(n=rng.randrange(10, 99999), d=rng.randrange(0, 9)) + "\n"
                lines.append(line)
                total += len(line)
            continue
        template = rng.choice(NOISE)
        line = "%s %s %s: %s\n" % (
            stamp,
            host,
            rng.choice(DAEMONS),
            template.format(n=rng.randrange(10, 99999), d=rng.randrange(0, 9)),
        )
        lines.append(line)
        total += len(line)
    return lines


def generate(
    out: Path, size: int, errors_every: int = 1 << 20, seed: int = 1, errors: Optional[List[Tuple[str, str]]] = None
) -> List[str]:
    """Write about `size` bytes to `out`; returns the entry ids of the errors inserted, in order."""
    rng = random.Random(seed)
    errors = errors if errors is not None else load_real_errors()
    pool = [_noise_block(rng, 256 * 1024) for _ in range(4)]
    inserted: List[str] = []
    written = 0
    next_error = rng.randrange(errors_every // 2, errors_every + errors_every // 2) if errors else None
    with open(out, "w", encoding="utf-8", newline="\n") as handle:
        while written < size:
            lines = pool[rng.randrange(len(pool))]
            start = rng.randrange(len(lines))
            chunk = "".join(lines[start:] + lines[:start])
            handle.write(chunk)
            written += len(chunk.encode("utf-8"))
            if next_error is not None and written >= next_error:
                entry, text = errors[rng.randrange(len(errors))]
                block = text + "\n"
                handle.write(block)
                written += len(block.encode("utf-8"))
                inserted.append(entry)
                next_error = written + rng.randrange(errors_every // 2, errors_every + errors_every // 2)
    return inserted


def parse_size(text: str) -> int:
    text = text.strip().upper().rstrip("B")
    factor = 1
    for suffix, value in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if text.endswith(suffix):
            factor, text = value, text[:-1]
    return int(float(text) * factor)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--size", default="100M")
    parser.add_argument("--errors-every", default="1M")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    inserted = generate(Path(args.out), parse_size(args.size), parse_size(args.errors_every), args.seed)
    print(f"{args.out}: {len(inserted)} real errors inserted ({len(set(inserted))} distinct entries)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
