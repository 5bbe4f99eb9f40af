#!/bin/sh
# Setup for the runtime tier (python3 -m pytest -m runtime_tier): Google's real libedgetpu from ../shared/runtimes
# driven through tests/fake_libusb.c. Idempotent; run as root in CI (or with sudo).
#
# Needs: gcc and the C library headers (the fake libusb and the sleep shim are compiled at test time).
# No real libusb is needed: the fake one is put first on LD_LIBRARY_PATH. The end-to-end tests also need
# CPython 3.7 (tensorflow-cpu 2.1.4) and 3.11 (tflite-runtime 2.14), found through pyenv or on PATH; their venvs
# are built from PyPI on first use and cached under $EDGEDOCTOR_TEST_VENVS (tests/.cache/venvs).
# Tests skip with a reason when ../shared/runtimes, ../shared/models, gcc or an interpreter is absent.
set -eu

if ! command -v gcc >/dev/null 2>&1 || [ ! -e /usr/include/stdio.h ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev
fi

for version in 3.7 3.11; do
    if ! command -v "python$version" >/dev/null 2>&1 && ! ls "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$version".* >/dev/null 2>&1; then
        echo "setup_runtime: no Python $version (pyenv install $version); the end-to-end tests that need it will skip" >&2
    fi
done
