"""pyusb against a real libusb, not a fake: the libusb-package wheel (and Debian's libusb-1.0-0 when CI
installed it). These machines have no USB bus, so a real backend must answer "no devices", which check
reports as no Edge TPU (not as a missing backend)."""

import pytest

from edgedoctor.checks import device as device_checks
from edgedoctor.machine.options import CheckOptions
from edgedoctor.machine.system import System
from edgedoctor.probes import ProbeContext, usb


def _read(backend):
    system = System.host()
    system.usb_backend = backend
    return usb.read(ProbeContext(system, CheckOptions()))


def test_libusb_package_backend_is_a_real_backend():
    libusb_package = pytest.importorskip("libusb_package")
    backend = libusb_package.get_libusb1_backend()
    if backend is None:
        pytest.skip("the libusb-package wheel has no libusb for this platform")
    facts = _read(backend)
    assert facts["backend"]["available"] is True
    assert "NoBackendError" not in str(facts["backend"].get("error"))
    coral = [d for d in facts["devices"] if (d["vendor_id"], d["product_id"]) in usb.CORAL_USB_IDS]
    findings = device_checks.check({"usb": facts, "pcie": {"devices": []}, "platform": {"os": "linux"}})
    if not coral:
        assert any("no-device" in f.causes for f in findings)
        assert not any(f.id == "device.usb-backend" and f.status in ("warn", "fail") for f in findings)


def test_debian_libusb_when_installed():
    import usb.backend.libusb1

    backend = usb.backend.libusb1.get_backend()
    if backend is None:
        pytest.skip("no system libusb-1.0 (CI installs Debian's libusb-1.0-0)")
    facts = _read(backend)
    assert facts["backend"]["available"] is True


def test_no_libusb_at_all_is_a_fact(monkeypatch):
    import usb.core

    def no_backend(*args, **kwargs):
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setattr(usb.core, "find", no_backend)
    facts = _read(None)
    assert facts["backend"]["available"] is False
    assert "NoBackendError" in facts["backend"]["error"]
