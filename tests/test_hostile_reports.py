"""Untrusted reports are data (issue #15): size, depth and type limits before anything judges or renders them
(a bad report is exit 2 naming the place, never exit 3 or a traceback); nothing from a report reaches the
terminal as an escape sequence, Markdown as HTML or a broken table, JUnit as XML a parser refuses; `diagnose`
of Markdown uses the report's own JSON block."""

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edgedoctor import exitcodes
from edgedoctor.render import markdown, terminal
from edgedoctor.report import reading as reportio
from edgedoctor.util import safetext

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "tests" / "fixtures" / "scenarios" / "no-device-numpy2.json"
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07<script>alert(1)</script>|x|\n</details>\u202e"


def _saved(tmp_path, data, name="report.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _scenario():
    return json.loads(SCENARIO.read_text())


@pytest.mark.parametrize(
    "content,words",
    [
        ('{"schema_version": 1.0, "facts": {}}', "schema_version"),
        ('{"schema_version": true, "facts": {}}', "schema_version"),
        ('{"schema_version": 1, "facts": {"platform": {"os": NaN}}}', "not valid JSON"),
        ('{"schema_version": 1, "facts": {"platform": {"os": Infinity}}}', "not valid JSON"),
        ('{"schema_version": 1, "facts": {"platform": 5}}', "facts.platform"),
        ('{"schema_version": 1, "facts": {"usb": {"devices": "none"}}}', "facts.usb.devices"),
        ('{"schema_version": 1, "facts": {"usb": {"devices": [5]}}}', "facts.usb.devices[0]"),
        ('{"schema_version": 1, "facts": {"runtime": {"runtime_version": "13"}}}', "facts.runtime.runtime_version"),
        ('{"schema_version": 1, "facts": {"inference": {"tpu": {"latency_ms": "slow"}}}}', "latency_ms"),
        ('{"schema_version": 1, "facts": {"python_env": {"tflite": "x"}}}', "facts.python_env.tflite"),
        ('{"schema_version": 1, "facts": {}, "findings": [{"status": "bad"}]}', "findings[0].status"),
    ],
)
def test_a_malformed_report_is_exit_2_naming_the_place(run_cli, tmp_path, content, words):
    path = _saved(tmp_path, content)
    code, out, err = run_cli("diagnose", path)
    assert code == exitcodes.USAGE_ERROR and words in err and str(path) in err and "Traceback" not in err
    loaded = reportio.read_report(str(path))
    assert loaded.report is None and words in loaded.error


def test_deeply_nested_json_is_named_not_a_recursion_error(run_cli, tmp_path):
    deep = '{"schema_version": 1, "facts": {"platform": {"x": ' + "[" * 50_000 + "]" * 50_000 + "}}}"
    code, out, err = run_cli("diagnose", _saved(tmp_path, deep))
    assert code == exitcodes.USAGE_ERROR and "nested" in err and "Traceback" not in err
    code, out, err = run_cli("diagnose", _saved(tmp_path, '{"a": ' * 100 + "1" + "}" * 100, "b.json"))
    assert code == exitcodes.USAGE_ERROR and "nested more than" in err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_and_fifos_are_not_read(run_cli, tmp_path):
    code, out, err = run_cli("diagnose", "/dev/zero")  # it ate 3.7 GB, then a MemoryError traceback
    assert code == exitcodes.USAGE_ERROR and "not a regular file" in err
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    code, out, err = run_cli("diagnose", fifo)  # would block forever on open
    assert code == exitcodes.USAGE_ERROR and "not a regular file" in err


def test_a_report_bigger_than_the_cap_is_named(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(reportio, "MAX_BYTES", 1000)
    path = _saved(tmp_path, _scenario())
    code, out, err = run_cli("diagnose", path)
    assert code == exitcodes.USAGE_ERROR and "more than a report can be" in err


def test_real_reports_still_load():
    for path in list((REPO / "tests" / "fixtures" / "scenarios").glob("*.json")) + list(
        (REPO / "tests" / "fixtures" / "golden").glob("*.md")
    ):
        loaded = reportio.read_report(str(path))
        assert loaded.error is None, loaded.error


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "os",
                    "arch",
                    "devices",
                    "tflite",
                    "numpy",
                    "cpu",
                    "tpu",
                    "found",
                    "latency_ms",
                    "median",
                    "speed_mbps",
                    "runtime_version",
                    "top1",
                    "state",
                    "accessible",
                    "error",
                    "version",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(["platform", "python_env", "usb", "pcie", "runtime", "inference"]), json_values, max_size=4
    )
)
@example({"inference": {"cpu": {"top1": [1]}}})
@example({"usb": {"devices": [{"speed_mbps": "fast"}]}})
def test_wrong_typed_facts_are_exit_2_or_judged_never_an_internal_error(run_cli, tmp_path_factory, facts):
    """Before: 269 of 600 such reports gave exit 3 (a check tripped over a value); now none."""
    path = tmp_path_factory.mktemp("r") / "report.json"
    path.write_text(json.dumps({"schema_version": 1, "facts": facts}))
    code, out, err = run_cli("diagnose", path, "--format", "json")
    assert code in (0, 1, exitcodes.USAGE_ERROR) and "Traceback" not in err, (code, err, out[-2000:])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
@example(b'{"schema_version": 1, "facts": {}}')
def test_read_report_never_raises(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("r") / "x"
    path.write_bytes(data)
    loaded = reportio.read_report(str(path))
    assert (loaded.report is None) != (loaded.error is None)


def test_markdown_diagnose_uses_the_reports_own_block_and_says_so(run_cli, tmp_path):
    real = (REPO / "tests" / "fixtures" / "golden" / "no-device-numpy2.md").read_text()
    fake = {"schema_version": 1, "facts": {"platform": {"os": "windows", "arch": "sparc"}}}
    text = (
        "Here is what I see (ignore this):\n\n```json\n"
        + json.dumps(fake)
        + "\n```\n\n"
        + real
        + '\n\nAnd my config:\n\n```json\n{"schema_version": 1, "facts": {}}\n```\n'
    )
    path = _saved(tmp_path, text, "ticket.md")
    code, out, err = run_cli("diagnose", path, "--format", "json")
    assert code in (0, 1), err
    assert "3 ```json blocks" in err and "Full report (JSON)" in err
    assert json.loads(out)["facts"]["platform"]["os"] != "windows"


# --- escaping ---------------------------------------------------------------------------------------------------
def _hostile_report():
    from edgedoctor.diagnosis.judge import judge

    report = judge(_scenario()["facts"])
    report["facts"]["platform"]["os"] = HOSTILE
    report["facts"]["platform"]["kernel"] = HOSTILE
    report["findings"][0]["title"] = HOSTILE
    report["findings"][0]["detail"] = HOSTILE
    report["findings"][0]["status"] = "fail"
    report["diagnoses"] = [
        {
            "entry": "e",
            "cause": "c" + HOSTILE,
            "confidence": 0.5,
            "title": HOSTILE,
            "remedy": HOSTILE,
            "references": ["https://x.org", "javascript:alert(1)"],
            "evidence": [],
            "matched_text": HOSTILE,
        }
    ]
    return report


@pytest.mark.parametrize("fancy", [False, True])
def test_no_escape_sequence_reaches_the_terminal(fancy):
    out = terminal.render(_hostile_report(), fancy=fancy)
    ours = out.replace("\x1b[", "") if fancy else out  # rich's own colour codes
    assert "\x07" not in out and "]52;" not in out and "]0;pwned" not in out and "\u202e" not in out
    assert "\x1b" not in ours.replace("\x1b[", "") and "[2J" not in out


def test_diagnose_of_a_hostile_report_prints_no_escape_sequence(run_cli, tmp_path):
    report = _scenario()
    report["facts"]["platform"]["os"] = HOSTILE
    report["facts"]["python_env"]["tflite"]["error"] = HOSTILE
    code, out, err = run_cli("diagnose", _saved(tmp_path, report))
    assert code in (0, 1), err
    assert "\x1b" not in out and "\x07" not in out


def test_explain_prints_no_escape_sequence_from_the_log(run_cli):
    code, out, err = run_cli(
        "explain",
        "\x1b]52;c;cm0gLXJmIH4=\x07ValueError: Failed to load delegate from libedgetpu.so.1\x1b[2J\x1b]0;owned\x07",
    )
    assert "Failed to load delegate" in out
    assert "\x1b" not in out and "\x07" not in out


def test_markdown_has_no_html_and_no_broken_table_from_a_report():
    import re

    out = markdown.render(_hostile_report())
    shown = out.split("<details>")[0]
    rendered = re.sub(r"`[^`\n]*`", "", shown)  # code spans show HTML as text (and hold no backtick or pipe)
    tags = set(re.findall(r"<[A-Za-z/!?][^>\s]*", rendered))
    assert tags <= {"<br", "<sub", "</sub", "<https://x.org"}, tags  # only the renderer's own
    assert "javascript:" not in shown and "\x1b" not in shown
    for line in shown.splitlines():
        if line.startswith("| "):  # every table row keeps its columns
            cells = line.replace("\\|", "").count("|")
            assert cells in (3, 6), line


def test_junit_is_well_formed_with_control_characters():
    from edgedoctor.render import junit

    report = _hostile_report()
    report["findings"][0]["detail"] = "a\x00b\x0bc\x1fd\ud800e\ufffe"
    root = ET.fromstring(junit.render(report).encode("utf-8"))
    assert root.tag == "testsuites"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("plain", "plain"),
        ("a\x1b[31mred\x1b[0m", "ared"),
        ("t\x1b]0;title\x07x", "tx"),
        ("c\x1b]52;c;aGk=\x1b\\d", "cd"),
        ("tab\tnew\nline", "tab\tnew\nline"),
        ("bidi\u202eevil", "bidievil"),
        ("c1\x9b31mx", "c1x"),
    ],
)
def test_terminal_text(text, expected):
    assert safetext.terminal(text) == expected


@given(st.text())
def test_terminal_text_never_holds_an_escape_or_control(text):
    cleaned = safetext.terminal(text)
    assert not any(ch in cleaned for ch in "\x1b\x07\x9b\x9d\x00\r")


del sys
