"""The runtime reader and the `runtime` worker task, with a fake libedgetpu compiled from tests/fake_libedgetpu.c:
what it reports, what it lists, and how a crash, a hang or a failing API come back as facts (never a traceback).
Also the release table lookup (edgedoctor.releases)."""

import ctypes
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_hw import (  # noqa: F401
    FROGFISH_VERSION,
    GROUPER_VERSION,
    by_id,
    compile_fake_libedgetpu,
    fake_env,
    fake_libedgetpu,
    fake_libedgetpu_max,
    fake_libedgetpu_plain,
    findings_for,
    host_context,
    make_root,
    read_facts,
    root,
    root_context,
)

from edgedoctor.checks import runtime as runtime_check
from edgedoctor.matrix import releases
from edgedoctor.probes import runtime
from edgedoctor.worker import WORKER_DIR


def probe(env, timeout=10.0):
    facts = runtime.read(host_context(env, timeout=timeout))
    text = json.dumps(facts)  # Facts are JSON
    assert "Traceback" not in text
    return facts


def judged(facts, **extra):
    return runtime_check.check(dict({"platform": {"os": "linux"}, "runtime": facts}, **extra))


@pytest.fixture(scope="module")
def wk_runtime():
    sys.path.insert(0, WORKER_DIR)
    try:
        yield importlib.import_module("wk_runtime")
    finally:
        sys.path.remove(WORKER_DIR)


# --- the fake library itself -------------------------------------------------------------------------------------


def test_fake_library_exports_the_real_names(fake_libedgetpu):
    lib = ctypes.CDLL(str(fake_libedgetpu))
    for name in (
        "edgetpu_version",
        "edgetpu_list_devices",
        "edgetpu_free_devices",
        "edgetpu_create_delegate",
        "edgetpu_free_delegate",
        "edgetpu_verbosity",
        "tflite_plugin_create_delegate",
        "tflite_plugin_destroy_delegate",
    ):
        assert hasattr(lib, name), name
    assert b"PERFORMANCE=THROTTLED" in fake_libedgetpu.read_bytes()
    head = Path(__file__).with_name("fake_libedgetpu.c").read_text()[:4000]
    for var in (
        "FAKE_EDGETPU_VERSION",
        "FAKE_EDGETPU_DEVICES",
        "FAKE_EDGETPU_MODE",
        "FAKE_EDGETPU_DELEGATE",
        "FAKE_EDGETPU_ERROR",
    ):
        assert var in head  # documented at the top of the C file


def test_fake_delegate_reports_errors_through_the_callback(fake_libedgetpu, monkeypatch):
    lib = ctypes.CDLL(str(fake_libedgetpu))
    create = lib.tflite_plugin_create_delegate
    callback_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
    create.restype = ctypes.c_void_p
    create.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, callback_type]
    seen = []
    report = callback_type(lambda text: seen.append(text.decode()))
    monkeypatch.setenv("FAKE_EDGETPU_DELEGATE", "fail")
    monkeypatch.setenv("FAKE_EDGETPU_ERROR", "Failed to open device: no Edge TPU")
    assert create(None, None, 0, report) is None
    assert seen == ["Failed to open device: no Edge TPU"]
    monkeypatch.setenv("FAKE_EDGETPU_DELEGATE", "null")
    assert create(None, None, 0, report) is None and len(seen) == 1
    monkeypatch.setenv("FAKE_EDGETPU_DELEGATE", "ok")
    delegate = create(None, None, 0, report)
    assert delegate
    lib.tflite_plugin_destroy_delegate.argtypes = [ctypes.c_void_p]
    lib.tflite_plugin_destroy_delegate(delegate)


def test_fake_delegate_crash_is_a_real_segfault(fake_libedgetpu):
    code = "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); lib.tflite_plugin_create_delegate(None, None, 0, None)"
    env = fake_env(fake_libedgetpu, delegate="crash")
    proc = subprocess.run([sys.executable, "-c", code, str(fake_libedgetpu)], env=env, capture_output=True)
    assert proc.returncode == -11  # SIGSEGV


# --- through the worker ------------------------------------------------------------------------------------------


def test_reports_version_devices_flavour_and_release(fake_libedgetpu):
    facts = probe(
        fake_env(fake_libedgetpu, version=GROUPER_VERSION, devices="usb:/sys/bus/usb/devices/2-1,pci:/dev/apex_0")
    )
    assert facts["found"] is True and facts["loaded"] is True
    assert facts["path"] == str(fake_libedgetpu)
    assert facts["candidates"][0] == {
        "path": str(fake_libedgetpu),
        "source": "LD_LIBRARY_PATH",
        "exists": True,
        "realpath": str(fake_libedgetpu.resolve()),
    }
    assert facts["version"] == GROUPER_VERSION
    assert facts["runtime_version"] == 14
    assert facts["build_label"] == "COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted"
    assert facts["devices"] == [
        {"type": "usb", "path": "/sys/bus/usb/devices/2-1"},
        {"type": "pci", "path": "/dev/apex_0"},
    ]
    assert facts["performance"] == "THROTTLED" and facts["flavor"] == "std"
    assert facts["cl_number"] == "385816442"
    assert facts["release"] == "grouper" and facts["release_by"] == "build_label"
    assert facts["worker"] is None and facts["error"] is None
    found = judged(facts)
    assert by_id(found, "runtime.found").status == "pass"
    version = by_id(found, "runtime.version")
    assert version.status == "pass" and "grouper" in version.title and "RuntimeVersion(14)" in version.detail
    assert by_id(found, "runtime.devices").status == "pass"


def test_chosen_version_string_frogfish(fake_libedgetpu_plain):
    facts = probe(fake_env(fake_libedgetpu_plain, version=FROGFISH_VERSION))
    assert facts["runtime_version"] == 13 and facts["release"] == "frogfish"
    assert facts["flavor"] is None and facts["devices"] == []


def test_max_flavour_gives_a_thermal_note(fake_libedgetpu_max):
    facts = probe(fake_env(fake_libedgetpu_max))
    assert facts["performance"] == "DIRECT" and facts["flavor"] == "max"
    note = by_id(judged(facts), "runtime.flavor")
    assert note.status == "info" and note.causes == ["thermal"] and "25 °C" in note.detail


def test_runtime_stderr_is_captured(fake_libedgetpu):
    facts = probe(fake_env(fake_libedgetpu, stderr="I driver.cc:42] hello from the runtime"))
    assert "hello from the runtime" in facts["stderr"]


def test_segfault_is_reported_with_its_signal_and_stage(fake_libedgetpu):
    facts = probe(fake_env(fake_libedgetpu, mode="crash"))
    worker = facts["worker"]
    assert worker["status"] == "crashed" and worker["signal"] == "SIGSEGV"
    assert worker["stage"] == "edgetpu_version"
    assert facts["found"] is True and facts["loaded"] is False and "SIGSEGV" in facts["error"]
    failure = by_id(judged(facts), "runtime.load")
    assert failure.status == "fail" and "crashed" in failure.title and "SIGSEGV" in failure.detail
    assert failure.causes == ["runtime-broken"] and "--reinstall" in failure.remedy


def test_segfault_while_loading(fake_libedgetpu):
    facts = probe(fake_env(fake_libedgetpu, mode="crash-load"))
    assert facts["worker"]["stage"] == "load-libedgetpu" and facts["worker"]["signal"] == "SIGSEGV"


def test_hang_honours_the_timeout(fake_libedgetpu):
    start = time.monotonic()
    facts = probe(fake_env(fake_libedgetpu, mode="hang"), timeout=3.0)
    elapsed = time.monotonic() - start
    assert 2.5 <= elapsed < 8.0
    assert facts["worker"]["status"] == "timeout" and facts["worker"]["stage"] == "edgetpu_version"
    assert "no answer within 3 s" in facts["error"]
    failure = by_id(judged(facts), "runtime.load")
    assert failure.status == "fail" and "timeout" in failure.title


def test_hang_while_listing_devices_points_at_usb(fake_libedgetpu):
    facts = probe(fake_env(fake_libedgetpu, mode="hang-list"), timeout=3.0)
    assert facts["worker"]["stage"] == "edgetpu_list_devices"
    failure = by_id(judged(facts), "runtime.load")
    assert failure.causes == ["usb-power", "vm-passthrough"]


def test_crash_while_listing_devices(fake_libedgetpu):
    facts = probe(fake_env(fake_libedgetpu, mode="crash-list"))
    assert facts["worker"]["status"] == "crashed" and facts["worker"]["stage"] == "edgetpu_list_devices"


def test_fail_mode_returns_no_version(fake_libedgetpu):
    facts = probe(fake_env(fake_libedgetpu, mode="fail"))
    assert facts["loaded"] is True and facts["version"] is None and facts["runtime_version"] is None
    assert facts["devices"] == [] and "Failed to open /sys/class/apex" in facts["stderr"]
    assert "edgetpu_version() returned NULL" in facts["error"]
    warning = by_id(judged(facts), "runtime.load")
    assert warning.status == "warn" and warning.causes == ["runtime-broken"]


def test_a_file_that_is_not_a_library(tmp_path):
    bogus = tmp_path / "libedgetpu.so.1"
    bogus.write_text("<html>404 Not Found</html>\n")
    facts = probe(fake_env(bogus))
    assert facts["found"] is True and facts["loaded"] is False
    assert "invalid ELF header" in facts["load_error"] or "file too short" in facts["load_error"]
    failure = by_id(judged(facts), "runtime.load")
    assert failure.status == "fail"


def test_missing_libusb_dependency(tmp_path):
    """A runtime linked against a libusb (as libedgetpu1-std is linked against libusb-1.0.so.0) on a machine
    without it. The soname is one no machine has, so the test means the same where CI installed libusb."""
    soname = "libusb-1.0.so.99"
    stub_src = tmp_path / "stub.c"
    stub_src.write_text("int libusb_init(void *ctx) { return 0; }\n")
    stub = compile_fake_libedgetpu(tmp_path / "stub", []).with_name(soname)  # skips without gcc
    subprocess.run(["gcc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(stub), str(stub_src)], check=True)
    lib = tmp_path / "lib" / "libedgetpu.so.1"
    lib.parent.mkdir()
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-o",
            str(lib),
            str(Path(__file__).with_name("fake_libedgetpu.c")),
            "-Wl,--no-as-needed",
            str(stub),
        ],
        check=True,
    )
    stub.unlink()
    facts = probe(fake_env(lib))
    assert facts["found"] is True and facts["loaded"] is False
    assert f"{soname}: cannot open shared object file" in facts["load_error"]
    failure = by_id(judged(facts), "runtime.load")
    assert failure.causes == ["runtime-broken"] and failure.remedy == "sudo apt-get install libusb-1.0-0"


def test_not_installed_on_this_machine():
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH",) and not k.startswith("FAKE_")}
    facts = probe(env)
    if any(c["exists"] for c in facts["candidates"]) or facts["loaded"]:
        pytest.skip("this machine has a libedgetpu installed")
    assert facts["found"] is False and facts["path"] is None
    assert "libedgetpu.so.1" in facts["load_error"]
    failure = by_id(judged(facts), "runtime.found")
    assert failure.status == "fail" and failure.causes == ["runtime-missing"]
    assert "coral-edgetpu-stable" in failure.remedy and "apt-get install libedgetpu1-std" in failure.remedy


def test_worker_directly(fake_libedgetpu):
    from edgedoctor.machine.workerproc import run_worker

    outcome = run_worker(
        sys.executable,
        "runtime",
        {"library": None, "names": [str(fake_libedgetpu)]},
        timeout=10,
        env=fake_env(fake_libedgetpu, devices="usb:/sys/bus/usb/devices/20-8"),
    )
    assert outcome.ok, outcome.error
    assert outcome.result["devices"] == [{"type": "usb", "path": "/sys/bus/usb/devices/20-8"}]
    assert outcome.result["stages_done"] == ["load-libedgetpu", "edgetpu_version", "edgetpu_list_devices"]


def test_worker_parse_version(wk_runtime):
    assert wk_runtime.parse_version(GROUPER_VERSION) == ("COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted", 14)
    assert wk_runtime.parse_version("BuildLabel(N/A), RuntimeVersion(13)") == (None, 13)
    assert wk_runtime.parse_version("garbage") == (None, None)


# --- locating and parsing (no worker) -----------------------------------------------------------------------------


def test_parse_ldconfig_and_dpkg():
    text = (
        "812 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibedgetpu.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libedgetpu.so.1\n"
        "\tlibedgetpu.so.1 (libc6) => /usr/lib/i386-linux-gnu/libedgetpu.so.1\n"
        "\tlibusb-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libusb-1.0.so.0\n"
    )
    assert runtime.parse_ldconfig(text, "libedgetpu.so.1") == [
        {"path": "/usr/lib/x86_64-linux-gnu/libedgetpu.so.1", "abi": "libc6,x86-64"},
        {"path": "/usr/lib/i386-linux-gnu/libedgetpu.so.1", "abi": "libc6"},
    ]
    assert runtime.parse_dpkg_query("libedgetpu1-max 16.0 ii \nlibedgetpu1-std 15.0 rc \n") == [
        {"package": "libedgetpu1-max", "version": "16.0", "status": "ii"}
    ]
    assert runtime.flavor_of(None, "libedgetpu1-legacy-max") == "max"
    assert runtime.flavor_of("THROTTLED", "libedgetpu1-max") == "std"  # the binary wins
    assert runtime.flavor_of(None, None) is None
    assert runtime.scan_bytes(b"xx\x00PERFORMANCE=DIRECT\x00CL_NUMBER=339933739\x00") == {
        "performance": "DIRECT",
        "cl_number": "339933739",
    }


def test_roots_package_release_and_flavour():
    facts = runtime.read(root_context(root("usb3-runtime")))
    assert (facts["package"], facts["package_version"]) == ("libedgetpu1-std", "16.0")
    assert facts["release"] == "grouper" and facts["release_by"] == "debian_version"
    assert facts["loaded"] is True and facts["devices"] == [{"type": "usb", "path": "/sys/bus/usb/devices/2-1"}]
    assert [c["source"] for c in facts["candidates"][:2]] == ["ld.so.cache", "standard"]
    pi = runtime.read(root_context(root("usb2-runtime")))
    assert pi["path"] == "/usr/lib/arm-linux-gnueabihf/libedgetpu.so.1"
    assert pi["package"] == "libedgetpu1-max" and pi["flavor"] == "max"


def test_root_without_recording_is_found_but_not_loaded(tmp_path):
    path = make_root(tmp_path, "usb3-runtime", files={".edgedoctor/runtime.json": None})
    facts = runtime.read(root_context(path))
    assert facts["found"] is True and facts["loaded"] is None
    assert facts["performance"] == "THROTTLED" and facts["flavor"] == "std"  # read from the file itself
    assert facts["release"] == "grouper"  # from the Debian package version
    assert facts["runtime_version"] == 14 and facts["runtime_version_by"] == "release"  # not loaded: the table


def test_self_built_runtime_is_not_forced_onto_a_release():
    facts = runtime.read(root_context(root("usb-no-permission")))
    assert facts["package"] is None and facts["path"] == "/usr/local/lib/libedgetpu.so.1"
    assert facts["release"] is None
    assert facts["release_candidates"] and all(c.startswith("feranick-") for c in facts["release_candidates"])
    version = by_id(judged(facts), "runtime.version")
    assert "could not be identified" in version.detail


def test_not_installed_root():
    facts = runtime.read(root_context(root("no-device")))
    assert facts["found"] is False and facts["package"] is None and facts["error"] is None
    assert facts["loaded"] is None


def test_darwin_and_windows_locations():
    mac = runtime.read(root_context(root("darwin-usb3")))
    assert mac["path"] == "/usr/local/lib/libedgetpu.1.dylib" and mac["flavor"] == "std"
    assert [c["path"] for c in mac["candidates"]] == [
        "/usr/local/lib/libedgetpu.1.dylib",
        "/opt/homebrew/lib/libedgetpu.1.dylib",
        "/usr/lib/libedgetpu.1.dylib",
    ]
    win = runtime.read(root_context(root("windows-usb")))
    assert win["path"] == "C:\\Windows\\System32\\edgetpu.dll"
    assert win["candidates"][0]["source"] == "System32"
    assert "C:\\Python39\\edgetpu.dll" in [c["path"] for c in win["candidates"]]
    assert win["release"] == "zip-20210726" and win["runtime_version"] == 14


def test_runtime_missing_remedy_per_platform(tmp_path):
    mac = make_root(tmp_path, "darwin-usb3", files={"usr/local/lib/libedgetpu.1.dylib": None}, name="mac")
    finding = by_id(findings_for(read_facts(mac)), "runtime.found")
    assert (
        finding.status == "fail" and "edgetpu_runtime_20221024.zip" in finding.remedy and "install.sh" in finding.remedy
    )
    win = make_root(
        tmp_path,
        "windows-usb",
        files={"C:/Windows/System32/edgetpu.dll": None, ".edgedoctor/runtime.json": None},
        name="win",
    )
    finding = by_id(findings_for(read_facts(win)), "runtime.found")
    assert "edgetpu_runtime_20210119.zip" in finding.remedy and "install.bat" in finding.remedy
    fedora = make_root(tmp_path, "no-device", files={"etc/os-release": 'ID=fedora\nVERSION_ID="40"\n'}, name="fedora")
    finding = by_id(findings_for(read_facts(fedora)), "runtime.found")
    assert finding.remedy.startswith("# Coral publishes packages for Debian")


# --- the release table ----------------------------------------------------------------------------------------------


def test_release_table_is_there():
    table = releases.load()
    assert table, "matrix/releases.toml is missing or empty"
    assert releases.get("grouper")["runtime_version"] == 14
    assert releases.get("no-such-release") is None and releases.get(None) is None
    assert releases.load(Path("/nonexistent/releases.toml")) == []


@pytest.mark.parametrize(
    "runtime_facts, expected",
    [
        ({"package_version": "16.0"}, "grouper"),
        ({"package_version": "15.0"}, "frogfish"),
        ({"package_version": "14.1"}, "eel2"),
        ({"package_version": "16.0tf2.17.0-1"}, "feranick-tf2.17.0"),
        ({"build_label": "COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted", "runtime_version": 14}, "grouper"),
        ({"version": GROUPER_VERSION}, "grouper"),
        ({"build_label": "COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted", "runtime_version": 13}, "frogfish"),
        (
            {
                "build_label": "COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted,CL_NUMBER=317268237",
                "runtime_version": 13,
            },
            "eel2",
        ),
        (
            {
                "build_label": "COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted,CL_NUMBER=267685300",
                "runtime_version": 12,
            },
            "diploria2",
        ),
        (
            {"build_label": "COMPILER=MSVC 192528612,DATE=Jul 20 2021,TIME=14:30:22", "runtime_version": 14},
            "zip-20210726",
        ),
        ({"path": "C:\\Users\\me\\edgetpu_runtime_20210119\\edgetpu.dll"}, "zip-20210119"),
        ({"zip": "edgetpu_runtime_20221024.zip"}, "zip-20221024"),
        (
            {
                "build_label": "COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted,CL_NUMBER=291256449",
                "runtime_version": 13,
            },
            None,
        ),  # diploria3 and eel ship the same binary
        ({}, None),
        (None, None),
    ],
)
def test_identify(runtime_facts, expected):
    assert releases.identify(runtime_facts) == expected


def test_identify_detail_explains_an_ambiguous_answer():
    detail = releases.identify_detail(
        {
            "build_label": "COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted,CL_NUMBER=291256449",
            "runtime_version": 13,
        }
    )
    assert detail["release"] is None and detail["by"] == "build_label"
    assert set(detail["candidates"]) == {"diploria3", "eel"}


def test_debian_version_wins_over_the_label():
    facts = {
        "package_version": "16.0",
        "build_label": "COMPILER=5.4.0 20160609,DATE=redacted,TIME=redacted",
        "runtime_version": 13,
    }
    assert releases.identify_detail(facts)["by"] == "debian_version"
