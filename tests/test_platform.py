"""Platform facts from fixture roots taken from real machines, and the pure parsers behind them."""

from pathlib import Path

import pytest

from edgedoctor.checks import platform as platform_checks
from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext
from edgedoctor.probes import platform as probe

ROOTS = Path(__file__).parent / "fixtures" / "platform"


def read_root(name):
    return probe.read(ProbeContext(System.from_root(ROOTS / name), CheckOptions()))


def causes(findings):
    return {c for f in findings for c in f.causes}


def test_raspberry_pi_os_bullseye_pi4_with_under_voltage():
    facts = read_root("raspios-bullseye-pi4")
    assert facts["os"] == "linux"
    assert facts["distro"] == "raspbian" and facts["distro_version"] == "11"
    assert facts["kernel"] == "6.1.21-v7l+" and facts["kernel_version"] == "6.1.21"
    assert facts["arch"] == "armv7l"
    assert (facts["libc"], facts["libc_version"]) == ("glibc", "2.31")
    assert facts["board"] == "raspberry-pi-4"
    assert facts["board_model"] == "Raspberry Pi 4 Model B Rev 1.4"
    assert facts["in_container"] is False
    throttled = facts["pi_throttled"]
    assert throttled["value"] == "0x50005"
    assert "under-voltage now" in throttled["flags"] and throttled["under_voltage"]
    findings = platform_checks.check({"platform": facts})
    power = next(f for f in findings if f.id == "platform.power")
    assert power.status == "fail" and power.causes == ["board-power"]
    assert "thermal" not in causes(findings)  # 0x50005 has no temperature bits


def test_raspberry_pi_5_bookworm_reads_sysfs_throttle_and_page_size():
    facts = read_root("raspios-bookworm-pi5")
    assert facts["board"] == "raspberry-pi-5"
    assert facts["arch"] == "aarch64"
    assert facts["page_size"] == 16384
    assert facts["pi_throttled"] == {"value": "0x0", "flags": [], "under_voltage": False, "thermal": False}
    findings = platform_checks.check({"platform": facts})
    assert [f.status for f in findings if f.id == "platform.power"] == ["pass"]


def test_ubuntu_desktop():
    facts = read_root("ubuntu-22.04")
    assert facts["pretty_name"] == "Ubuntu 22.04.4 LTS"
    assert facts["libc_version"] == "2.35"
    assert facts["board"] is None and facts["pi_throttled"] is None
    assert facts["in_container"] is False
    assert {f.status for f in platform_checks.check({"platform": facts})} <= {"pass", "info"}


def test_docker_container_is_detected_from_dockerenv_and_cgroup():
    facts = read_root("debian-12-docker")
    assert facts["in_container"] is True
    assert facts["container"] == "docker"
    assert set(facts["container_evidence"]) == {"/.dockerenv", "/proc/1/cgroup"}
    findings = platform_checks.check({"platform": facts})
    assert any(f.id == "platform.container" for f in findings)


def test_coral_dev_board():
    facts = read_root("coral-dev-board-mendel")
    assert facts["board"] == "coral-dev-board"
    assert facts["mendel_version"] == "5.3"
    assert facts["distro"] == "mendel"


def test_old_glibc_is_named():
    facts = read_root("ubuntu-16.04-old-glibc")
    assert facts["libc_version"] == "2.23"
    finding = next(f for f in platform_checks.check({"platform": facts}) if f.id == "platform.glibc")
    assert finding.status == "warn" and finding.causes == ["glibc-too-old"]


def test_musl_is_named():
    facts = read_root("alpine-3.19")
    assert facts["libc"] == "musl" and facts["libc_version"] == "1.2.4"
    assert "wheel-mismatch" in causes(platform_checks.check({"platform": facts}))


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
            {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"},
        ),
        ("# comment\n\nNAME='Alpine Linux'\nBROKEN LINE\n", {"NAME": "Alpine Linux"}),
        ('X="a \\"quoted\\" word"\n', {"X": 'a "quoted" word'}),
    ],
)
def test_parse_os_release(text, expected):
    assert probe.parse_os_release(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("ldd (Debian GLIBC 2.36-9+deb12u4) 2.36\nCopyright", ("glibc", "2.36")),
        ("ldd (GNU libc) 2.39\n", ("glibc", "2.39")),
        ("musl libc (aarch64)\nVersion 1.2.3\n", ("musl", "1.2.3")),
        ("", None),
        ("something else", None),
    ],
)
def test_parse_ldd_version(text, expected):
    assert probe.parse_ldd_version(text) == expected


@pytest.mark.parametrize(
    "text,board",
    [
        ("Raspberry Pi 3 Model B Plus Rev 1.3\x00", "raspberry-pi-3"),
        ("Raspberry Pi Zero 2 W Rev 1.0\x00", "raspberry-pi-zero-2-w"),
        ("Raspberry Pi Compute Module 4 Rev 1.0\x00", "raspberry-pi-compute-module-4"),
        ("Freescale i.MX8MQ Phanbell\x00", "coral-dev-board"),
        ("NVIDIA Jetson Nano Developer Kit\x00", "nvidia-jetson"),
        ("", None),
    ],
)
def test_parse_device_tree_model(text, board):
    assert probe.parse_device_tree_model(text)["board"] == board


def test_parse_throttled_bits():
    assert probe.parse_throttled("throttled=0x0")["flags"] == []
    hot = probe.parse_throttled("throttled=0x80008")
    assert hot["thermal"] and not hot["under_voltage"]
    assert probe.parse_throttled("garbage") is None


def test_unreadable_files_do_not_break_the_reader(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").mkdir()  # a folder where a file should be: unreadable
    facts = probe.read(ProbeContext(System.from_root(tmp_path), CheckOptions()))
    assert facts["os_release"] is None and facts["error"] is None


def test_the_workers_glibc_is_a_linux_fact_only():
    """A macOS or Windows root examined from Linux runs the worker on Linux: its glibc is not the root's."""
    from edgedoctor.facts.collect import _merge_python_into_platform

    worker = {"python": {"version": "3.11.7", "libc": "glibc", "libc_version": "2.36", "machine": "x86_64"}}
    for os_name, libc in (("darwin", None), ("windows", None), ("linux", "glibc")):
        facts = {"platform": {"os": os_name, "libc": None}, "python_env": worker}
        _merge_python_into_platform(facts)
        assert facts["platform"]["libc"] == libc, os_name
        assert facts["platform"]["python_version"] == "3.11.7"
