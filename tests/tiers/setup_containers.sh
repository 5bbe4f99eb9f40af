#!/bin/sh
# Container tier (pytest -m container_tier): a podman that runs containers on this kind of sandbox, three test
# images built locally from Debian packages (no registry is needed), and three running test containers:
#   ed-py    Debian 12 with python3 3.11, tflite-runtime 2.14.0 and numpy<2 (from PyPI); no device passed in
#   ed-usb   the same image with a /dev/bus/usb passed in (--device DIR:/dev/bus/usb; the folder holds one
#            usb_device node, 002/003, c 189:130, since this machine has no USB bus of its own) and a runtime:
#            tests/fake_libedgetpu.c built with gcc, bind-mounted as /usr/lib/x86_64-linux-gnu/libedgetpu.so.1
#            (RuntimeVersion 14, one USB device), as a Frigate-like image carries its own libedgetpu
#   ed-nopy  busybox only: no python3 (the fake libedgetpu at /usr/lib/libedgetpu.so.1, to be found from outside)
# Idempotent; run as root. Needs Debian's apt (deb.debian.org) and PyPI.
#
# Why the options below (measured on the Firecracker sandbox, Debian 12, podman 4.3.1, crun 1.8.1):
# - crun sets the container's RLIMIT_NOFILE to 1048576 by default; this sandbox lacks CAP_SYS_RESOURCE, so any
#   limit above the current hard limit fails ("crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted").
#   Lower limits work: --ulimit nofile=1024:1024 --ulimit nproc=4096:4096.
# - /sys/fs/cgroup is a hybrid hierarchy (v1 controllers plus a cgroup2 at /sys/fs/cgroup/unified holding
#   hugetlb); crun refuses it ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"),
#   even with --cgroups=disabled. Starting the container in a private mount namespace without that cgroup2
#   mount (unshare -m; umount /sys/fs/cgroup/unified) lets crun use cgroup v1. Nothing changes outside.
# - --network=none: the netns podman would create lives in that private namespace; `podman exec` from outside
#   would fail to join it.
set -eu

STATE=${EDGEDOCTOR_CONTAINER_STATE:-/var/tmp/edgedoctor-containers}
PYTHON=${PYTHON:-python3}
mkdir -p "$STATE"

need=""
command -v podman >/dev/null || need="$need podman"
command -v debootstrap >/dev/null || need="$need debootstrap"
command -v gcc >/dev/null || need="$need gcc libc6-dev"
[ -x /bin/busybox ] || need="$need busybox-static"
if [ -n "$need" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi

if ! podman image exists localhost/edgedoctor-test/py:1; then
    rootfs="$STATE/py-rootfs"
    [ -x "$rootfs/usr/bin/python3" ] || debootstrap --variant=minbase --include=python3 bookworm "$rootfs" \
        http://deb.debian.org/debian
    # Debian 12's python3 is 3.11: the CPU stack a Frigate-like image would carry, from PyPI's wheels
    "$PYTHON" -m pip install -q --no-compile --target "$rootfs/usr/local/lib/python3.11/dist-packages" \
        --python-version 3.11 --implementation cp --only-binary=:all: --platform manylinux2014_x86_64 \
        tflite-runtime==2.14.0 "numpy<2"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | podman import - localhost/edgedoctor-test/py:1
fi
if ! podman image exists localhost/edgedoctor-test/nopy:1; then
    rootfs="$STATE/nopy-rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/usr/lib"
    cp /bin/busybox "$rootfs/bin/"
    for c in sh ls cat readlink sleep test; do ln -sf busybox "$rootfs/bin/$c"; done
    printf 'PRETTY_NAME="edgedoctor test image without python3 (busybox)"\nID=busybox\nVERSION_ID=1\n' \
        > "$rootfs/etc/os-release"
    tar -C "$rootfs" -c . | podman import - localhost/edgedoctor-test/nopy:1
fi

HERE=$(cd "$(dirname "$0")/.." && pwd)
gcc -shared -fPIC -O2 -Wl,-soname,libedgetpu.so.1 -o "$STATE/libedgetpu.so.1" "$HERE/fake_libedgetpu.c"

mkdir -p "$STATE/usb/002"
[ -c "$STATE/usb/002/003" ] || mknod -m 0664 "$STATE/usb/002/003" c 189 130

start() {  # NAME ARGS...: (re)start a test container in a private mount namespace (see above)
    name=$1; shift
    # "running" in podman's database is not enough: after the machine was restored from a snapshot the
    # database still says running while the container's processes are gone and every exec fails with
    # "crun: the container ... is not running". Only a working exec counts.
    if podman exec "$name" sh -c : >/dev/null 2>&1; then
        return 0
    fi
    podman rm -f "$name" >/dev/null 2>&1 || true
    unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null || true; exec "$@"' sh \
        podman run -d --name "$name" --network=none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@" >/dev/null
}
start ed-py localhost/edgedoctor-test/py:1 sleep infinity
start ed-usb --device "$STATE/usb:/dev/bus/usb" \
    -v "$STATE/libedgetpu.so.1:/usr/lib/x86_64-linux-gnu/libedgetpu.so.1:ro" \
    -e FAKE_EDGETPU_DEVICES=usb:/sys/bus/usb/devices/2-1 localhost/edgedoctor-test/py:1 sleep infinity
start ed-nopy -v "$STATE/libedgetpu.so.1:/usr/lib/libedgetpu.so.1:ro" localhost/edgedoctor-test/nopy:1 sleep 1000000
podman ps --format '{{.Names}} {{.Status}} {{.Image}}'
