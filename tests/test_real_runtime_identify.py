"""Google's real prebuilt runtimes (../shared/runtimes, test data never copied here) identified from their
bytes alone: release, RuntimeVersion and max/std flavour for every file, whatever its architecture, and inside
a `--root` image of a Raspberry Pi or a Mac (the seed's machine: the 20200331 runtime). Fast: no loading."""

from pathlib import Path

import pytest
from helpers_hw import by_id, make_root, root_context

from edgedoctor.checks import runtime as runtime_check
from edgedoctor.matrix import releases
from edgedoctor.probes import libfile, runtime

RUNTIMES = Path(__file__).resolve().parents[1].parent / "shared" / "runtimes"

# file -> (release, RuntimeVersion, flavour, format, arch), as ../shared/runtimes/README.md states them.
EXPECTED = {
    "linux-x86_64/diploria2/max/libedgetpu.so.1.0": ("diploria2", 12, "max", "elf", "x86_64"),
    "linux-x86_64/diploria2/std/libedgetpu.so.1.0": ("diploria2", 12, "std", "elf", "x86_64"),
    "linux-x86_64/diploria3/max/libedgetpu.so.1.0": ("diploria3", 13, "max", "elf", "x86_64"),
    "linux-x86_64/diploria3/std/libedgetpu.so.1.0": ("diploria3", 13, "std", "elf", "x86_64"),
    "linux-x86_64/eel2/max/libedgetpu.so.1.0": ("eel2", 13, "max", "elf", "x86_64"),
    "linux-x86_64/eel2/std/libedgetpu.so.1.0": ("eel2", 13, "std", "elf", "x86_64"),
    "linux-aarch64/eel2/max/libedgetpu.so.1.0": ("eel2", 13, "max", "elf", "aarch64"),
    "linux-aarch64/eel2/std/libedgetpu.so.1.0": ("eel2", 13, "std", "elf", "aarch64"),
    "linux-armv7a/eel2/max/libedgetpu.so.1.0": ("eel2", 13, "max", "elf", "armv7l"),
    "linux-armv7a/eel2/std/libedgetpu.so.1.0": ("eel2", 13, "std", "elf", "armv7l"),
    "darwin/eel-20200331/max/libedgetpu.1.0.dylib": ("zip-20200331", 13, "max", "mach-o", "x86_64"),
    "darwin/eel-20200331/std/libedgetpu.1.0.dylib": ("zip-20200331", 13, "std", "mach-o", "x86_64"),
    "darwin/eel2/max/libedgetpu.1.0.dylib": ("eel2", 13, "max", "mach-o", "x86_64"),
    "darwin/eel2/std/libedgetpu.1.0.dylib": ("eel2", 13, "std", "mach-o", "x86_64"),
    "windows/eel-20200331/max/edgetpu.dll": ("zip-20200331", 13, "max", "pe", "x86_64"),
    "windows/eel-20200331/std/edgetpu.dll": ("zip-20200331", 13, "std", "pe", "x86_64"),
    "windows/eel2/max/edgetpu.dll": ("eel2", 13, "max", "pe", "x86_64"),
    "windows/eel2/std/edgetpu.dll": ("eel2", 13, "std", "pe", "x86_64"),
}

needs_runtimes = pytest.mark.skipif(not RUNTIMES.is_dir(), reason=f"no real runtimes at {RUNTIMES}")


@needs_runtimes
def test_every_file_in_the_folder_is_expected():
    present = {
        str(p.relative_to(RUNTIMES))
        for p in RUNTIMES.rglob("*")
        if p.is_file() and ("libedgetpu" in p.name or p.name == "edgetpu.dll")
    }
    assert present == set(EXPECTED)


@needs_runtimes
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_identified_from_bytes_alone(rel):
    release, version, flavor, fmt, arch = EXPECTED[rel]
    found = libfile.inspect((RUNTIMES / rel).read_bytes())
    assert (found["format"], found["arch"], found["flavor"]) == (fmt, arch, flavor)
    assert found["is_libedgetpu"] and found["build_label"].startswith("COMPILER=")
    published = releases.binary(found["sha256"])
    assert published and published["release"] == release and published["flavor"] == flavor
    assert releases.get(release)["runtime_version"] == version
    # By the label alone too (a rebuilt file with another hash): the release, or a tie that holds it.
    facts = {"build_label": found["build_label"], "cl_number": found["cl_number"]}
    detail = releases.identify_detail(facts)
    assert release in (detail["candidates"] or [detail["release"]]), detail


@needs_runtimes
def test_a_raspberry_pi_image_examined_from_another_machine(tmp_path):
    """An aarch64 eel2 runtime inside a --root of a Pi's SD card: release, RuntimeVersion, flavour."""
    data = (RUNTIMES / "linux-aarch64/eel2/std/libedgetpu.so.1.0").read_bytes()
    path = make_root(
        tmp_path,
        "usb3-runtime",
        files={
            ".edgedoctor/runtime.json": None,
            ".edgedoctor/arch": "aarch64\n",
            "/usr/lib/x86_64-linux-gnu/libedgetpu.so.1.0": None,
            "/usr/lib/x86_64-linux-gnu/libedgetpu.so.1": None,
            "/usr/lib/aarch64-linux-gnu/libedgetpu.so.1": data,
            ".edgedoctor/commands/ldconfig_-p.out": "\tlibedgetpu.so.1 (libc6,AArch64) => "
            "/usr/lib/aarch64-linux-gnu/libedgetpu.so.1\n",
        },
    )
    for name in (path / ".edgedoctor" / "commands").glob("dpkg-query*.out"):
        name.write_text("")
    facts = runtime.read(root_context(path))
    assert facts["path"] == "/usr/lib/aarch64-linux-gnu/libedgetpu.so.1", facts["candidates"]
    assert facts["loaded"] is None and facts["binary"]["arch"] == "aarch64"
    assert (facts["release"], facts["release_by"], facts["runtime_version"], facts["flavor"]) == (
        "eel2",
        "sha256",
        13,
        "std",
    )
    assert "CL_NUMBER=317268237" in facts["build_label"]
    version = by_id(
        runtime_check.check({"platform": {"os": "linux", "arch": "aarch64"}, "runtime": facts}), "runtime.version"
    )
    assert version.status == "pass" and "(eel2)" in version.title


@needs_runtimes
def test_the_seed_mac_has_the_20200331_runtime(tmp_path):
    data = (RUNTIMES / "darwin/eel-20200331/std/libedgetpu.1.0.dylib").read_bytes()
    path = make_root(tmp_path, "darwin-usb3", files={"/usr/local/lib/libedgetpu.1.dylib": data})
    facts = runtime.read(root_context(path))
    assert facts["release"] == "zip-20200331" and facts["runtime_version"] == 13 and facts["flavor"] == "std"
    compatible = releases.get("zip-20200331")["compatible"]
    assert any(c.get("tflite_runtime") == "==2.1.0.post1" for c in compatible)  # the seed's working pair


def test_wrong_architecture_is_runtime_broken():
    facts = {
        "platform": {"os": "linux", "arch": "x86_64"},
        "runtime": {
            "found": True,
            "loaded": False,
            "path": "/usr/lib/libedgetpu.so.1",
            "binary": {"format": "elf", "arch": "aarch64"},
            "load_error": "OSError: /usr/lib/libedgetpu.so.1: cannot open shared object file: "
            "No such file or directory",
        },
    }
    failure = by_id(runtime_check.check(facts), "runtime.load")
    assert failure.causes == ["runtime-broken"]
    assert "built for aarch64, this machine is x86_64" in failure.detail
    assert "--reinstall libedgetpu1-std" in failure.remedy


def test_flavour_and_format_from_synthetic_bytes():
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x03\x00\xb7\x00" + b"\x00" * 40
    assert libfile.binary_format(elf) == {"format": "elf", "arch": "aarch64"}
    assert libfile.flavor_from_bytes(b"..Performance expectation: Max..") == "max"
    assert libfile.flavor_from_bytes(b"..when USB connected EdgeTpu is throttled..Performance expectation") == "std"
    assert libfile.flavor_from_bytes(b"PERFORMANCE=DIRECT") == "max"
    assert libfile.flavor_from_bytes(b"nothing here") is None
    assert libfile.inspect(None)["sha256"] is None
