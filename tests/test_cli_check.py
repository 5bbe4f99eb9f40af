"""check end to end through the CLI: JSON against the schema, every renderer once, exit codes, --root,
colour rules, --output, --strict and the config file."""

import json
import sys
from pathlib import Path

import pytest

from edgedoctor import exitcodes
from edgedoctor.render import terminal

PLATFORM_ROOTS = Path(__file__).parent / "fixtures" / "platform"


def test_json_report_follows_the_schema(run_cli, validate_report):
    code, out, _ = run_cli("check", "--no-models", "--format", "json", "--timeout", "60")
    report = validate_report(json.loads(out))
    assert report["exit_code"] == code
    assert set(report["summary"]) == {"pass", "warn", "fail", "skip", "info"}
    assert sum(report["summary"].values()) == len(report["findings"])
    for finding in report["findings"]:
        assert finding["status"] in ("pass", "warn", "fail", "skip", "info")
        if finding["status"] in ("warn", "fail"):
            assert finding["remedy"], finding


@pytest.mark.parametrize("fmt", ["terminal", "json", "markdown", "junit"])
def test_every_renderer_runs_end_to_end(run_cli, fmt):
    code, out, err = run_cli("check", "--no-models", "--format", fmt, "--root", PLATFORM_ROOTS / "ubuntu-22.04")
    assert code in (0, 1)
    assert out.strip()
    assert "Traceback" not in err


def test_root_drives_the_platform_facts(run_cli):
    code, out, _ = run_cli(
        "check", "--no-models", "--format", "json", "--root", PLATFORM_ROOTS / "raspios-bullseye-pi4"
    )
    report = json.loads(out)
    platform = report["facts"]["platform"]
    assert platform["board"] == "raspberry-pi-4"
    assert platform["root"].endswith("raspios-bullseye-pi4")
    power = next(f for f in report["findings"] if f["id"] == "platform.power")
    assert power["status"] == "fail" and code == 1


def test_plain_text_when_piped_or_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    assert terminal.use_fancy(Tty(), env={}) is True
    assert terminal.use_fancy(Tty(), env={"NO_COLOR": "1"}) is False
    assert terminal.use_fancy(Tty(), env={"CI": "true"}) is False
    assert terminal.use_fancy(object(), env={}) is False


def test_terminal_report_shows_cause_and_remedy_under_failures():
    from edgedoctor.report.document import build
    from edgedoctor.report.findings import Finding

    report = build(
        {},
        [
            Finding(
                "python.numpy",
                "fail",
                "numpy broke",
                detail="why",
                remedy="pip install 'numpy<2'",
                causes=["numpy-abi"],
            ),
            Finding("platform.os", "info", "Linux"),
        ],
        [],
    )
    plain = terminal.render(report, fancy=False)
    assert "[FAIL] numpy broke" in plain
    assert "cause: numpy-abi" in plain and "pip install 'numpy<2'" in plain
    assert "\x1b[" not in plain
    fancy = terminal.render(report, fancy=True)
    assert "\x1b[" in fancy and "✘" in fancy
    assert plain.strip().splitlines()[-3].startswith("Summary: 1 problem found")
    assert plain.strip().splitlines()[-2].startswith("Next: ")


def test_usage_errors_exit_2(run_cli):
    assert run_cli("check", "--timeout", "-1")[0] == exitcodes.USAGE_ERROR
    assert run_cli("check", "--no-such-option")[0] == exitcodes.USAGE_ERROR
    assert run_cli("check", "--require", "warp-drive")[0] == exitcodes.USAGE_ERROR
    assert run_cli("no-such-command")[0] == exitcodes.USAGE_ERROR
    assert run_cli("check", "--root", "/no/such/folder")[0] == exitcodes.USAGE_ERROR
    assert run_cli("check", "--model-set", "no-such-set")[0] == exitcodes.USAGE_ERROR


def test_version_and_module_entry_point():
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "edgedoctor", "--version"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert out.returncode == 0 and out.stdout.startswith("edgedoctor ")


def test_strict_makes_warnings_count():
    from edgedoctor.report.document import build
    from edgedoctor.report.findings import Finding

    findings = [Finding("platform.glibc", "warn", "old", remedy="upgrade")]
    assert build({}, findings, [])["exit_code"] == 0
    assert build({}, findings, [], strict=True)["exit_code"] == 1


def test_internal_error_exit_code(monkeypatch, run_cli):
    from edgedoctor.diagnosis import judge

    def broken(*a, **k):
        raise RuntimeError("a bug in edgedoctor")

    monkeypatch.setattr(judge, "judge", broken)
    code, out, err = run_cli("check", "--no-models", "--root", PLATFORM_ROOTS / "ubuntu-22.04")
    assert code == exitcodes.INTERNAL_ERROR
    assert "internal error" in err


def test_a_check_module_bug_is_exit_3_but_the_report_is_still_printed(monkeypatch, run_cli):
    from edgedoctor.checks import platform as platform_checks

    monkeypatch.setattr(platform_checks, "check", lambda facts: 1 / 0)
    code, out, err = run_cli("check", "--no-models", "--format", "json", "--root", PLATFORM_ROOTS / "ubuntu-22.04")
    report = json.loads(out)
    assert code == exitcodes.INTERNAL_ERROR == report["exit_code"]
    assert any(f["id"] == "edgedoctor.check-platform" for f in report["findings"])
    assert any(f["id"].startswith("python.") for f in report["findings"])


def test_output_files_take_their_format_from_the_extension(run_cli, tmp_path):
    json_out, md_out, xml_out = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.xml"
    code, out, _ = run_cli(
        "check", "--no-models", "--root", PLATFORM_ROOTS / "ubuntu-22.04", "-o", json_out, "-o", md_out, "-o", xml_out
    )
    assert json.loads(json_out.read_text())["schema_version"] == 1
    assert md_out.read_text().lstrip().startswith("#") or "|" in md_out.read_text()
    assert xml_out.read_text().lstrip().startswith("<?xml")
    assert "Summary:" in out
