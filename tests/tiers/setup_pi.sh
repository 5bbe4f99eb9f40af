#!/bin/sh
# Setup of the pi tier (tests marked pi_tier): qemu-user to run Debian's arm64/armhf binaries without binfmt_misc.
# The emulated userlands themselves are built by the tests (tests/pi_userland.py) from Debian's packages through
# a private apt state (the host's dpkg architectures are not changed) and from PyPI's ARM wheels, cached under
# tests/.cache/pi or $EDGEDOCTOR_TEST_PI_CACHE. With --warm the caches are built here too.
#   sh tests/tiers/setup_pi.sh [--warm]
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need=""
command -v qemu-aarch64-static >/dev/null 2>&1 || need="$need qemu-user-static"
command -v dpkg-deb >/dev/null 2>&1 || need="$need dpkg"
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need="$need debian-archive-keyring"
# gcc-aarch64-linux-gnu: the fake USB device of the runtime tier cross-compiled for the emulated Pi.
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need="$need gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
if [ -n "$need" ]; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $need
fi
qemu-aarch64-static --version | head -n 1
qemu-arm-static --version | head -n 1
if [ "${1:-}" = "--warm" ]; then
    cd "$(dirname "$0")/../.."
    python3 - <<'PY'
import sys, time
sys.path.insert(0, "tests")
import pi_userland as pu
for name in pu.USERLANDS:
    started = time.monotonic()
    root = pu.build_userland(name)
    print(f"{name}: {root} ({time.monotonic() - started:.1f} s)", flush=True)
PY
fi
