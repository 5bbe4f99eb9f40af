"""`edgedoctor summarize` for a lab: one machine per report whatever its formats, the exit code says whether any
machine failed its requirements, JUnit with one suite per machine, a bad file named without hiding the rest, a
missing path a usage error on stderr, an unreadable folder named."""

import json
import os
import time
from pathlib import Path

import pytest

from edgedoctor import exitcodes
from edgedoctor.diagnosis.judge import judge
from edgedoctor.render import fleet as render_fleet
from edgedoctor.render import render
from edgedoctor.report import fleet as summarize
from edgedoctor.report import redact

SCENARIOS = Path(__file__).parent / "fixtures" / "scenarios"
CREATED = "2026-11-29T12:00:00Z"


def report_of(name, requirements=(), hostname=None):
    facts = json.loads((SCENARIOS / f"{name}.json").read_text())["facts"]
    report = redact.redact_report(judge(facts, created=CREATED, requirements=list(requirements)))
    if hostname is not None:
        report["facts"]["platform"]["hostname"] = hostname
    return report


def save(folder, stem, report, formats=("json",)):
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        ext = {"json": "json", "markdown": "md", "junit": "xml"}[fmt]
        (folder / f"{stem}.{ext}").write_text(render(report, fmt, fancy=False) if fmt != "json" else json.dumps(report))


@pytest.fixture
def lab(tmp_path):
    """Three machines as the README's CI recipe saves them (.json, .md and .xml each): one healthy, one without
    a device that requires it, one with the macOS seed case."""
    fleet = tmp_path / "reports"
    save(fleet, "lab-01", report_of("healthy-usb3", ["device", "usb3"]), ("json", "markdown", "junit"))
    save(fleet, "lab-02", report_of("no-device-numpy2", ["device"]), ("json", "markdown", "junit"))
    save(fleet, "lab-03", report_of("seed-macos-20201204"), ("json", "markdown"))
    return fleet


def test_a_machine_saved_in_several_formats_counts_once(lab, run_cli):
    code, out, err = run_cli("summarize", lab, "--format", "json")
    summary = json.loads(out)
    assert summary["machines"] == 3, [r["file"] for r in summary["reports"]]
    assert [r["machine"] for r in summary["reports"]] == ["lab-01", "lab-02", "lab-03"]
    assert all(r["file"].endswith(".json") for r in summary["reports"])  # the JSON is preferred
    assert summary["errors"] == [] and err == ""
    # the same machine named twice on the command line (both files) is still one machine
    code, out, _ = run_cli("summarize", lab / "lab-01.json", lab / "lab-01.md", "--format", "json")
    assert json.loads(out)["machines"] == 1


def test_the_markdown_is_read_when_the_json_is_broken(lab, run_cli):
    (lab / "lab-03.json").write_text("{truncated")
    code, out, err = run_cli("summarize", lab, "--format", "json")
    summary = json.loads(out)
    assert summary["machines"] == 3
    assert [r["file"] for r in summary["reports"] if r["machine"] == "lab-03"] == [str(lab / "lab-03.md")]
    assert [e["file"] for e in summary["errors"]] == [str(lab / "lab-03.json")]  # still named
    assert "lab-03.json" in err and code == exitcodes.FAILURE


def test_exit_code_says_whether_any_machine_failed_its_requirements(tmp_path, run_cli):
    good = tmp_path / "good"
    save(good, "a", report_of("healthy-usb3", ["device", "usb3", "runtime"]))
    save(good, "b", report_of("healthy-usb3", ["device"]))
    code, out, _ = run_cli("summarize", good, "--format", "json")
    assert code == exitcodes.SUCCESS and json.loads(out)["failing"] == 0
    save(good, "c", report_of("no-device-numpy2", ["device", "runtime"]))
    code, out, _ = run_cli("summarize", good, "--format", "json")
    summary = json.loads(out)
    assert code == exitcodes.FAILURE and summary["failing"] == 1
    row = next(r for r in summary["reports"] if r["machine"] == "c")
    assert row["failed"] and row["failed_requirements"] == ["device", "runtime"]
    assert summary["failed_requirements"] == {"device": 1, "runtime": 1}
    code, text, _ = run_cli("summarize", good)
    assert "missed: device, runtime" in text and "Requirements missed:" in text


def test_junit_has_one_suite_per_machine(lab, run_cli, tmp_path):
    from junitparser import Error, Failure, JUnitXml

    (lab / "broken.json").write_text("[]")
    code, out, _ = run_cli("summarize", lab, "--format", "junit")
    assert code == exitcodes.FAILURE
    path = tmp_path / "fleet.xml"
    path.write_text(out)
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    assert sorted(suites) == ["lab-01", "lab-02", "lab-03", "unreadable reports"]
    lab02 = json.loads((lab / "lab-02.json").read_text())
    assert len(list(suites["lab-02"])) == len(lab02["findings"])
    failed = {case.name for case in suites["lab-02"] if any(isinstance(r, Failure) for r in case.result)}
    assert "require.device" in failed
    assert not any(isinstance(r, Failure) for case in suites["lab-01"] for r in case.result)
    errored = [case for case in suites["unreadable reports"] if any(isinstance(r, Error) for r in case.result)]
    assert [case.name for case in errored] == [str(lab / "broken.json")]


def test_a_bad_file_is_named_and_the_rest_summarised(lab, run_cli):
    (lab / "zz-nested.json").write_text("[" * 100_000)
    (lab / "zz-notes.md").write_text("# just notes, no report\n")
    code, out, err = run_cli("summarize", lab, "--format", "json")
    summary = json.loads(out)
    assert summary["machines"] == 3 and code == exitcodes.FAILURE
    assert sorted(Path(e["file"]).name for e in summary["errors"]) == ["zz-nested.json", "zz-notes.md"]
    assert "Traceback" not in err and "zz-nested.json" in err


@pytest.mark.parametrize("fmt", ["terminal", "json", "markdown", "junit"])
def test_a_missing_path_is_a_usage_error_on_stderr(lab, run_cli, fmt):
    code, out, err = run_cli("summarize", lab / "nope.json", "--format", fmt)
    assert code == exitcodes.USAGE_ERROR and out == "" and "nope.json" in err and "no such file" in err
    code, out, err = run_cli("summarize", lab, lab / "missing-folder", "--format", fmt)
    assert code == exitcodes.USAGE_ERROR and out == "" and "missing-folder" in err


def test_an_unreadable_folder_is_named_not_skipped(lab, run_cli, monkeypatch):
    locked = lab / "locked"
    save(locked, "lab-09", report_of("healthy-usb3"))
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = run_cli("summarize", lab, "--format", "json")
    summary = json.loads(out)
    assert summary["machines"] == 3 and code == exitcodes.FAILURE
    assert summary["errors"] == [{"file": str(locked), "error": "cannot read this folder: Permission denied"}]
    assert str(locked) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its mode")
def test_an_unreadable_folder_for_real(lab, run_cli):
    locked = lab / "locked"
    save(locked, "lab-09", report_of("healthy-usb3"))
    locked.chmod(0)
    try:
        code, out, err = run_cli("summarize", lab, "--format", "json")
    finally:
        locked.chmod(0o755)
    assert [e["file"] for e in json.loads(out)["errors"]] == [str(locked)] and code == exitcodes.FAILURE


def test_ci_artifacts_with_the_same_file_name_are_told_apart(tmp_path, run_cli):
    """actions/download-artifact gives edgedoctor-<runner>/edgedoctor.json for every runner."""
    for runner in ("coral-a", "coral-b"):
        save(tmp_path / "artifacts" / f"edgedoctor-{runner}", "edgedoctor", report_of("healthy-usb3"))
    save(tmp_path / "artifacts" / "edgedoctor-coral-c", "edgedoctor", report_of("healthy-usb3", hostname="pi-40"))
    code, out, _ = run_cli("summarize", tmp_path / "artifacts", "--format", "json")
    names = [r["machine"] for r in json.loads(out)["reports"]]
    assert names == ["edgedoctor-coral-a/edgedoctor", "edgedoctor-coral-b/edgedoctor", "pi-40"]


def test_hundreds_of_reports(tmp_path):
    """A fleet of 400 machines, each saved as .json and .md: 400 rows, causes tallied. The time is measured and
    printed (see the report), not asserted."""
    fleet = tmp_path / "fleet"
    names = ["healthy-usb3", "no-device-numpy2", "seed-macos-20201204"]
    reports = [report_of(name, ["device"]) for name in names]
    for number in range(400):
        save(fleet, f"pi-{number:03d}", reports[number % 3], ("json", "markdown"))
    start = time.perf_counter()
    summary = summarize.summarize([str(fleet)])
    elapsed = time.perf_counter() - start
    print(f"summarize: 400 machines (800 files) in {elapsed:.3f} s")
    assert summary["machines"] == 400 and not summary["errors"]
    assert summary["failing"] == sum(1 for n in range(400) if n % 3)
    assert summary["causes"]["numpy-abi"] == sum(1 for n in range(400) if n % 3 == 1)


def test_text_from_a_strangers_report_cannot_drive_the_terminal_or_the_markdown(tmp_path, run_cli):
    """A host name with an OSC 52 clipboard write, a clear screen and HTML: none of it reaches the output."""
    fleet = tmp_path / "fleet"
    hostile = "\x1b]52;c;ZXZpbA==\x07pi\x1b[2J<script>alert(1)</script>|x\nnext"
    save(fleet, "lab-01", report_of("no-device-numpy2", hostname=hostile))
    code, text, err = run_cli("summarize", fleet)
    assert "\x1b" not in text and "\x07" not in text and "\nnext" not in text
    assert "]52;c;ZXZpbA==pi[2J<script>alert(1)</script>|x next" in text  # shown, inert
    code, md, _ = run_cli("summarize", fleet, "--format", "markdown")
    assert "<script>" not in md and "&lt;script&gt;" in md and "\x1b" not in md
    row = next(line for line in md.splitlines() if "script" in line)
    assert row.count(" | ") == len(render_fleet.COLUMNS) - 1  # the | in the name does not add a column
    code, xml, _ = run_cli("summarize", fleet, "--format", "junit")
    import xml.etree.ElementTree as ET

    assert ET.fromstring(xml.split("\n", 1)[1]).find("testsuite").get("name").startswith("]52;c;ZXZpbA==pi[2J")
