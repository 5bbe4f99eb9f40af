"""Reports for bug tickets and lab CI: Markdown and JUnit golden files per scenario, JUnit read by a real
reader, redaction both ways, requirements, the fleet summary, and the pytest plugin.

Regenerate the golden files after an intended change with:
    EDGEDOCTOR_REGEN_GOLDEN=1 python3 -m pytest tests/test_reports.py -k golden
"""

import copy
import json
import os
from pathlib import Path

import pytest

from edgedoctor.diagnosis.judge import judge
from edgedoctor.render import render
from edgedoctor.report import redact

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
NAMES = sorted(p.stem for p in SCENARIOS.glob("*.json"))
CREATED = "2026-11-29T12:00:00Z"


def scenario_facts(name):
    return json.loads((SCENARIOS / f"{name}.json").read_text())["facts"]


def judged(name, **kwargs):
    report = judge(scenario_facts(name), created=CREATED, **kwargs)
    for finding in report["findings"]:
        finding["duration_ms"] = 0.0  # timings are not part of the golden text
    return report


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt,ext", [("markdown", "md"), ("junit", "xml")])
def test_golden(name, fmt, ext):
    text = render(redact.redact_report(judged(name)), fmt)
    golden = GOLDEN / f"{name}.{ext}"
    if os.environ.get("EDGEDOCTOR_REGEN_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; regenerate with EDGEDOCTOR_REGEN_GOLDEN=1"
    assert text == golden.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_junit_is_read_by_a_real_reader(name, tmp_path):
    from junitparser import Failure, JUnitXml, Skipped

    report = judged(name)
    path = tmp_path / "report.xml"
    path.write_text(render(report, "junit"))
    xml = JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(report["findings"])
    by_id = {case.name: case for case in cases}
    for finding in report["findings"]:
        case = by_id[finding["id"]]
        assert case.classname == "edgedoctor." + finding["id"].split(".")[0]
        results = case.result
        if finding["status"] == "fail":
            assert results and isinstance(results[0], Failure)
            assert finding["title"] in results[0].message
            if finding["remedy"]:
                assert finding["remedy"].splitlines()[0] in results[0].text
        elif finding["status"] == "skip":
            assert results and isinstance(results[0], Skipped)
        else:
            assert not results


def test_markdown_carries_the_json_for_diagnose(tmp_path, run_cli):
    report = judged("seed-macos-20201204")
    md = tmp_path / "ticket.md"
    md.write_text(render(report, "markdown"))
    text = md.read_text()
    assert text.startswith("## edgedoctor report: ")
    assert "<details>" in text and "```json" in text
    for fact in ("TFLite interpreter", "Edge TPU runtime", "Edge TPU devices", "numpy", "pycoral", "Python"):
        assert f"| {fact} |" in text
    code, out, err = run_cli("diagnose", md, "--format", "json", "--no-redact")
    rejudged = json.loads(out)
    assert rejudged["facts"] == json.loads(json.dumps(report["facts"]))
    assert {d["entry"] for d in rejudged["diagnoses"]} == {d["entry"] for d in report["diagnoses"]}


PLANTED = {
    "user": "zelda",
    "home": "/home/zelda",
    "host": "zelda-workstation-42",
    "serial": "5E0C1A2B9F77",
    "ip": "192.168.41.17",
    "mac": "3c:22:fb:9a:10:07",
}


def planted_report():
    text = json.dumps(scenario_facts("healthy-usb3"))
    text = text.replace("alice-lab-07", PLANTED["host"]).replace("alice", PLANTED["user"])
    facts = json.loads(text)
    facts["usb"]["devices"][0]["serial"] = PLANTED["serial"]
    # A failing finding whose detail every format shows, carrying all the private values.
    planted_error = (
        f"ImportError: {PLANTED['home']}/coral/.venv/lib/_x.so: fetched from {PLANTED['ip']} "
        f"({PLANTED['mac']}) by {PLANTED['user']} on {PLANTED['host']}, serial {PLANTED['serial']}"
    )
    facts["python_env"]["tflite"].update({"module": None, "version": None, "error": planted_error})
    facts["python_env"]["tflite"]["candidates"]["tflite_runtime"].update({"imported": False, "error": planted_error})
    return judge(facts, created=CREATED)


@pytest.mark.parametrize("fmt", ["terminal", "json", "markdown", "junit"])
def test_redaction_is_on_by_default_in_every_format(fmt):
    text = render(redact.redact_report(planted_report()), fmt, fancy=False)
    for value in PLANTED.values():
        assert value not in text, (value, fmt)
    assert "~/coral/.venv" in text


@pytest.mark.parametrize("fmt", ["terminal", "json", "markdown", "junit"])
def test_no_redact_keeps_everything(fmt):
    text = render(planted_report(), fmt, fancy=False)
    for key in ("user", "home", "host", "serial", "ip", "mac"):
        assert PLANTED[key] in text, (key, fmt)


def test_redaction_through_the_cli(run_cli, tmp_path):
    report = planted_report()
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps(report))
    code, redacted_out, _ = run_cli("diagnose", saved, "--format", "markdown")
    code, raw_out, _ = run_cli("diagnose", saved, "--format", "markdown", "--no-redact")
    assert PLANTED["host"] not in redacted_out and PLANTED["serial"] not in redacted_out
    assert PLANTED["host"] in raw_out and PLANTED["serial"] in raw_out


def test_redaction_keeps_versions_and_loopback():
    text = redact.redact_text("tflite 2.14.0 numpy 1.26.4 at 127.0.0.1 and 10.0.0.5", [])
    assert "2.14.0" in text and "1.26.4" in text and "127.0.0.1" in text and "10.0.0.5" not in text


# --- requirements -------------------------------------------------------------------------------------


def status_of(report, finding_id):
    return next(f["status"] for f in report["findings"] if f["id"] == finding_id)


def test_requirements_met_on_a_healthy_lab_machine():
    report = judged(
        "healthy-usb3", requirements=["device", "usb3", "runtime", "tpu-inference", "speedup=10", "max-tpu-ms=5"]
    )
    for name in ("device", "usb3", "runtime", "tpu-inference", "speedup", "max-tpu-ms"):
        assert status_of(report, f"require.{name}") == "pass", name
    assert report["exit_code"] == 0


def test_requirements_unmet_fail_with_what_was_found():
    report = judged("healthy-usb3", requirements=["pcie", "speedup=20", "max-tpu-ms=1"])
    findings = {f["id"]: f for f in report["findings"]}
    assert findings["require.pcie"]["status"] == "fail"
    assert "12.4x" in findings["require.speedup"]["detail"]
    assert "2.90 ms" in findings["require.max-tpu-ms"]["detail"]
    assert report["exit_code"] == 1


def test_requirements_on_a_machine_without_device():
    report = judged("no-device-numpy2", requirements=["device", "usb3", "tpu-inference"])
    assert status_of(report, "require.device") == "fail"
    assert status_of(report, "require.usb3") == "fail"
    assert status_of(report, "require.tpu-inference") == "fail"


def test_requirements_from_config_files(tmp_path, monkeypatch, run_cli):
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps(judged("healthy-usb3")))
    (tmp_path / "pyproject.toml").write_text('[tool.edgedoctor]\nrequire = ["device", "pcie"]\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("diagnose", saved, "--format", "json")
    report = json.loads(out)
    assert status_of(report, "require.pcie") == "fail" and code == 1
    (tmp_path / "edgedoctor.toml").write_text('require = ["device", "usb3"]\n')
    code, out, _ = run_cli("diagnose", saved, "--format", "json")
    assert code == 0 and status_of(json.loads(out), "require.usb3") == "pass"


def test_bad_requirement_is_a_usage_error(run_cli, tmp_path):
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps(judged("healthy-usb3")))
    assert run_cli("diagnose", saved, "--require", "speedup=fast")[0] == 2
    assert run_cli("diagnose", saved, "--require", "teleport")[0] == 2


# --- summarize ----------------------------------------------------------------------------------------


def test_summarize_a_folder_of_reports(tmp_path, run_cli):
    import jsonschema

    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for name in NAMES:
        (fleet / f"{name}.json").write_text(json.dumps(judged(name)))
    (fleet / "lab-2.md").write_text(render(judged("healthy-usb3"), "markdown"))
    (fleet / "broken.json").write_text("{not json")
    code, out, _ = run_cli("summarize", fleet, "--format", "json")
    summary = json.loads(out)
    schema = json.loads((Path(__file__).parent.parent / "edgedoctor" / "schema" / "summary.schema.json").read_text())
    jsonschema.validate(summary, schema)
    assert summary["machines"] == len(NAMES) + 1
    assert summary["errors"] and "broken.json" in summary["errors"][0]["file"]
    assert summary["causes"].get("numpy-abi", 0) >= 1
    assert summary["causes"].get("runtime-tflite-mismatch", 0) >= 1
    assert code == 1
    code, md, _ = run_cli("summarize", fleet, "--format", "markdown")
    assert "| Cause | Machines |" in md and "`numpy-abi`" in md
    code, text, _ = run_cli("summarize", fleet)
    assert "machines" in text and "broken.json" in text


def test_summarize_names_redacted_machines_by_their_report_file(tmp_path, run_cli):
    """Reports are redacted by default (host name "<host>"): a fleet is told apart by the reports' file names."""
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for number in (1, 2):
        report = judged("healthy-usb3")
        report["facts"]["platform"]["hostname"] = "<host>"
        (fleet / f"lab-{number:02d}.json").write_text(json.dumps(report))
    named = judged("healthy-usb3")
    named["facts"]["platform"]["hostname"] = "coral-ci-07"
    (fleet / "third.json").write_text(json.dumps(named))
    code, out, _ = run_cli("summarize", fleet, "--format", "json")
    assert sorted(row["machine"] for row in json.loads(out)["reports"]) == ["coral-ci-07", "lab-01", "lab-02"]


def test_summarize_with_nothing_to_read(run_cli, tmp_path):
    assert run_cli("summarize", tmp_path)[0] == 2


# --- pytest plugin ------------------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_pytest_plugin_skips_or_fails_edgetpu_tests(pytester):
    saved = pytester.path / "nodev.json"
    saved.write_text(json.dumps(judged("no-device-numpy2")))
    healthy = pytester.path / "healthy.json"
    healthy.write_text(json.dumps(judged("healthy-usb3")))
    pytester.makepyfile(
        test_hw="""
        import pytest

        @pytest.mark.edgetpu
        def test_needs_tpu(edgedoctor_report):
            assert edgedoctor_report["schema_version"] == 1

        def test_cpu_only(edgedoctor_report):
            assert "facts" in edgedoctor_report
    """
    )
    from importlib.metadata import entry_points

    installed = any(ep.name == "edgedoctor" for ep in entry_points(group="pytest11"))
    args = [] if installed else ["-p", "edgedoctor.pytest_plugin"]  # pip install registers it by entry point
    result = pytester.runpytest(*args, f"--edgedoctor-report={saved}")
    result.assert_outcomes(passed=1, skipped=1)
    result = pytester.runpytest(*args, f"--edgedoctor-report={saved}", "--edgedoctor-require-tpu")
    result.assert_outcomes(passed=1, failed=1)
    result = pytester.runpytest(*args, f"--edgedoctor-report={healthy}")
    result.assert_outcomes(passed=2)


def test_config_files_that_are_not_ours_or_are_wrong(tmp_path, monkeypatch, run_cli):
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps(judged("healthy-usb3")))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project\nname = broken")  # another project's broken file
    code, out, err = run_cli("diagnose", saved, "--format", "json")
    assert code == 0 and "Traceback" not in err
    (tmp_path / "edgedoctor.toml").write_text("require = 5\n")
    code, out, err = run_cli("diagnose", saved, "--format", "json")
    assert code == 2 and "edgedoctor.toml" in err and "Traceback" not in err
