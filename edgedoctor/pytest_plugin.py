"""pytest plugin for hardware-in-the-loop suites.

- fixture `edgedoctor_report`: the judged report of this machine (run once per session; or read from
  `--edgedoctor-report FILE`).
- marker `@pytest.mark.edgetpu`: the test needs an Edge TPU; it is skipped when check finds none (or fails
  with `--edgedoctor-require-tpu`, for lab machines that must have one).

Nothing runs unless a test uses the fixture or the marker, so the plugin costs nothing elsewhere.
"""

from __future__ import annotations

import pytest

_REPORT_KEY = pytest.StashKey[dict]() if hasattr(pytest, "StashKey") else None


def pytest_addoption(parser):
    group = parser.getgroup("edgedoctor")
    group.addoption("--edgedoctor-report", metavar="FILE", help="use this saved edgedoctor JSON report")
    group.addoption(
        "--edgedoctor-require-tpu",
        action="store_true",
        help="fail (instead of skip) tests marked edgetpu when no Edge TPU is usable",
    )
    group.addoption("--edgedoctor-python", metavar="PATH", help="examine this interpreter (default: the running one)")
    group.addoption("--edgedoctor-models", action="store_true", help="also run the known-good models in the check")


def pytest_configure(config):
    config.addinivalue_line("markers", "edgetpu: the test needs a usable Edge TPU (edgedoctor checks for one)")


def _report(config) -> dict:
    cache = config.stash if hasattr(config, "stash") else config.__dict__
    key = _REPORT_KEY if _REPORT_KEY is not None else "_edgedoctor_report"
    try:
        return cache[key]
    except KeyError:
        pass
    saved = config.getoption("--edgedoctor-report")
    if saved:
        from edgedoctor.report.reading import load_report

        report = load_report(saved)
    else:
        import sys

        from edgedoctor.diagnosis.judge import judge
        from edgedoctor.facts.collect import collect
        from edgedoctor.machine.options import CheckOptions
        from edgedoctor.machine.system import System

        options = CheckOptions(
            python=config.getoption("--edgedoctor-python") or sys.executable,
            run_models=bool(config.getoption("--edgedoctor-models")),
            offline=True,
        )
        report = judge(collect(System.host(), options))
    cache[key] = report
    return report


@pytest.fixture(scope="session")
def edgedoctor_report(request) -> dict:
    """The edgedoctor report (dict, schema_version 1) of the machine running the tests."""
    return _report(request.config)


def _missing_tpu(item):
    """Why this machine cannot run an `edgetpu` test, or None when it can."""
    from edgedoctor.diagnosis import requirements

    report = _report(item.config)
    usable, detail = requirements.RULES["device"][1](report.get("facts") or {}, None)
    return None if usable else f"needs an Edge TPU: {detail}"


def pytest_runtest_setup(item):
    if item.get_closest_marker("edgetpu") is None or item.config.getoption("--edgedoctor-require-tpu"):
        return
    message = _missing_tpu(item)
    if message:
        pytest.skip(message)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """With --edgedoctor-require-tpu a missing Edge TPU fails the test itself (not an error in setup)."""
    if item.get_closest_marker("edgetpu") is None or not item.config.getoption("--edgedoctor-require-tpu"):
        return
    message = _missing_tpu(item)
    if message:
        pytest.fail(message, pytrace=False)
