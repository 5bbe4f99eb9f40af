"""The curated matrix: valid, covering every cause, each entry backed by a real public error text that it
ranks first, no unrelated error forced onto a Coral cause, and the matcher's mechanics."""

import gzip
import json
import re
import textwrap
from pathlib import Path

import pytest

from edgedoctor import matrix
from edgedoctor.diagnosis import explain
from edgedoctor.facts import factview
from edgedoctor.matrix import signatures
from edgedoctor.util.tomlcompat import load_toml

FIXTURES = Path(__file__).parent / "fixtures"
TABLE = matrix.load()


def real_errors():
    cases = []
    for path in sorted((FIXTURES / "real_errors").glob("*.toml")):
        for index, case in enumerate(load_toml(path).get("error") or []):
            cases.append(pytest.param(case, id=f"{path.stem}-{index}-{case['entry']}"))
    return cases


def unrelated_errors():
    data = load_toml(FIXTURES / "unrelated_errors.toml")
    return [pytest.param(case, id=f"unrelated-{i}") for i, case in enumerate(data["error"])]


def test_matrix_validates_cleanly():
    assert matrix.validate() == []


def test_at_least_45_entries_covering_every_cause():
    assert len(TABLE.entries) >= 45
    assert {e.cause for e in TABLE.entries} == set(matrix.known_causes())


def test_every_entry_is_backed_by_a_real_public_error_text():
    backed = {case.values[0]["entry"] for case in real_errors()}
    missing = [e.id for e in TABLE.entries if e.id not in backed]
    assert not missing, f"entries without a real error text: {missing}"
    for case in real_errors():
        assert re.match(r"https?://", case.values[0]["source"]), case.values[0]["source"]


@pytest.mark.parametrize("case", real_errors())
def test_real_error_ranks_its_entry_first(case):
    facts = factview.from_pairs(
        [f"{k}={v}" for k, v in (case.get("facts") or {}).items() if k in factview.KEYS and not isinstance(v, list)]
    )
    entry = TABLE.get(case["entry"])
    assert entry is not None, f"unknown entry {case['entry']}"
    if entry.is_fact_entry:
        assert any(m.entry.id == entry.id for m in TABLE.fact_matches(facts) + TABLE.match(case["text"], facts))
        return
    found = TABLE.match(case["text"], facts)
    assert found, f"nothing matched the text from {case['source']}"
    assert found[0].entry.id == case["entry"], [(m.entry.id, round(m.confidence, 2)) for m in found[:4]]


@pytest.mark.parametrize("case", unrelated_errors())
def test_unrelated_errors_match_nothing(case):
    found = TABLE.match(case["text"], {})
    assert not found, [(m.entry.id, m.matched_text) for m in found]


def test_the_seed_case():
    text = (
        "RuntimeError: Internal: Unsupported data type: 0Node number 1 (EdgeTpuDelegateForCustomOp) failed to prepare."
    )
    facts = factview.from_pairs(["os=darwin", "tflite_runtime=2.1.0.post1", "runtime_version=13"])
    best = TABLE.match(text, facts)[0]
    assert best.entry.cause == "runtime-tflite-mismatch"
    remedy = best.entry.remedy_for("darwin")
    assert "20200331" in remedy
    assert "2.5.0" in remedy


@pytest.mark.parametrize(
    "given", ["edgetpu_runtime_20201204", "edgetpu_runtime_20201204.zip", "20201204", "zip-20201204"]
)
def test_the_seed_case_with_the_runtime_named_as_users_name_it(given):
    """The user knows the zip's name; the matrix speaks of release ids. The fact must count for the Frogfish
    entry, not against it."""
    text = (
        "RuntimeError: Internal: Unsupported data type: 0Node number 1 (EdgeTpuDelegateForCustomOp) failed to prepare."
    )
    facts = factview.from_pairs(["os=darwin", "tflite_runtime=2.1.0.post1", f"runtime_release={given}"])
    assert facts["runtime_release"] == "zip-20201204"
    found = {m.entry.id: m for m in TABLE.match(text, facts)}
    frogfish = found["frogfish-runtime-with-tflite-2-1"]
    assert not frogfish.contradicted and "runtime_release: zip-20201204" in frogfish.evidence
    assert TABLE.match(text, facts)[0].entry.cause == "runtime-tflite-mismatch"
    assert factview.from_pairs(["runtime_release=Frogfish"])["runtime_release"] == "frogfish"
    assert factview.from_pairs(["runtime_release=my-own-build"])["runtime_release"] == "my-own-build"


@pytest.mark.parametrize(
    "facts,cause",
    [
        (["device=none"], "no-device"),
        (["device=inaccessible", "os=linux"], "usb-permissions"),
        (["container=yes", "device=none"], "container-device"),
        (["runtime_found=no"], "runtime-missing"),
    ],
)
def test_one_ambiguous_text_is_ordered_by_facts(facts, cause):
    text = "ValueError: Failed to load delegate from libedgetpu.so.1"
    assert len({m.entry.cause for m in TABLE.match(text, {})}) >= 3  # several causes when nothing is known
    found = TABLE.match(text, factview.from_pairs(facts))
    assert found[0].entry.cause == cause, [(m.entry.id, round(m.confidence, 2)) for m in found[:4]]


def test_literal_prefilter_never_hides_a_match():
    texts = [case.values[0]["text"] for case in real_errors()]
    for entry in TABLE.entries:
        for sig in entry.signatures:
            for text in texts + entry.examples:
                normalised = text.replace("\r\n", "\n")
                if sig.regex.search(normalised) and sig.literals is not None:
                    assert any(lit in normalised.lower() for lit in sig.literals), (entry.id, sig.pattern)


@pytest.mark.parametrize(
    "pattern,literals",
    [
        (r"Unsupported data type.*EdgeTpuDelegateForCustomOp", ("edgetpudelegateforcustomop",)),
        (r"Failed to load delegate from (libedgetpu\.so\.1|edgetpu\.dll)", ("failed to load delegate from ",)),
        (r"(?:apex|gasket)\s*: error", (": error",)),  # the longer of the two requirements
        (r"(?:apex_chip|gasket_core)\d", ("apex_chip", "gasket_core")),
        (r"\d+", None),
        (r"a|b", None),
    ],
)
def test_required_literals(pattern, literals):
    assert signatures.required_literals(pattern) == literals


# --- a malformed matrix -------------------------------------------------------------------------------


def write_matrix(folder, entries_text):
    (folder / "entries").mkdir(parents=True)
    (folder / "causes.toml").write_text('[cause.no-device]\nsummary = "x"\n[cause.numpy-abi]\nsummary = "y"\n')
    (folder / "SCHEMA.md").write_text("x")
    (folder / "entries" / "a.toml").write_text(textwrap.dedent(entries_text))


GOOD = """
[[entry]]
id = "good-one"
cause = "numpy-abi"
title = "t"
explanation = "e"
remedy = { all = "pip install 'numpy<2'" }
references = ["https://example.org/1"]
signatures = ['_ARRAY_API not found']
examples = ["AttributeError: _ARRAY_API not found"]
verification = { status = "verified", date = "2026-12-04", how = "measured: numpy 2 under a NumPy 1 build" }
"""


def test_malformed_entries_are_named_and_the_rest_still_loads(tmp_path):
    write_matrix(
        tmp_path,
        GOOD
        + """
[[entry]]
id = "bad-regex"
cause = "no-device"
title = "t"
explanation = "e"
remedy = { all = "x" }
references = ["https://example.org/2"]
signatures = ['([unclosed']

[[entry]]
id = "bad-cause"
cause = "not-a-cause"
title = "t"
explanation = "e"
remedy = { all = "x" }
references = ["not a url"]
signatures = ['x']
when = { flux = ["on"], python = "not a spec" }

[[entry]]
id = "good-one"
cause = "numpy-abi"
title = "duplicate"
explanation = "e"
remedy = { all = "x" }
references = ["https://example.org/3"]
signatures = ['y']

[[entry]]
id = "bad-example"
cause = "numpy-abi"
title = "t"
explanation = "e"
remedy = { all = "x" }
references = ["https://example.org/4"]
signatures = ['only this']
examples = ["something else"]
""",
    )
    problems = matrix.validate(tmp_path)
    shown = [str(p) for p in problems]
    assert any("entries/a.toml [bad-regex] signatures[0]: does not compile" in s for s in shown), shown
    assert any("[bad-cause] cause: unknown cause code 'not-a-cause'" in s for s in shown)
    assert any("[bad-cause] references" in s for s in shown)
    assert any("[bad-cause] when.flux: unknown condition" in s for s in shown)
    assert any("[bad-cause] when.python: not a version specifier" in s for s in shown)
    assert any("[good-one] id: duplicate id" in s for s in shown)
    assert any("[bad-example] examples[0]" in s for s in shown)
    table = matrix.load(tmp_path)
    # an entry whose example does not match is reported but still usable; broken ones are left out
    assert [e.id for e in table.entries] == ["good-one", "bad-example"]
    assert table.match("AttributeError: _ARRAY_API not found")[0].entry.id == "good-one"


def test_unparseable_matrix_file_is_named(tmp_path, run_cli):
    write_matrix(tmp_path, GOOD)
    (tmp_path / "entries" / "b.toml").write_text("[[entry]\nid = ")
    code, out, _ = run_cli("matrix", "validate", "--dir", tmp_path)
    assert code == 1
    assert "entries/b.toml: cannot be read" in out
    assert "1 valid entries" in out


def test_matrix_commands(run_cli):
    code, out, _ = run_cli("matrix", "list")
    assert code == 0 and f"{len(TABLE.entries)} entries" in out
    entry = TABLE.entries[0]
    code, out, _ = run_cli("matrix", "show", entry.id, "--format", "json")
    assert json.loads(out)["id"] == entry.id
    assert run_cli("matrix", "show", "no-such-entry")[0] == 2
    assert run_cli("matrix", "validate")[0] == 0


# --- explain through the CLI --------------------------------------------------------------------------

NUMPY_TEXT = """  File "/home/pi/venv/lib/python3.11/site-packages/tflite_runtime/interpreter.py", line 464, in __init__
    self._interpreter = _interpreter_wrapper.CreateWrapperFromFile(
AttributeError: _ARRAY_API not found
ImportError: numpy.core.multiarray failed to import"""


def test_explain_text_json_follows_the_schema(run_cli):
    import jsonschema

    code, out, _ = run_cli("explain", "--format", "json", NUMPY_TEXT)
    result = json.loads(out)
    schema = json.loads((Path(__file__).parent.parent / "edgedoctor" / "schema" / "explain.schema.json").read_text())
    jsonschema.validate(result, schema)
    assert result["matches"][0]["cause"] == "numpy-abi"
    assert "_ARRAY_API" in result["matches"][0]["matched_text"]
    assert code == 0


def test_explain_no_match_says_so(run_cli):
    code, out, _ = run_cli("explain", "CUDA error: out of memory")
    assert "No known Coral Edge TPU cause" in out
    code, out, _ = run_cli("explain", "--format", "json", "CUDA error: out of memory")
    assert json.loads(out)["matches"] == []


def test_explain_stdin_and_files(run_cli, tmp_path, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(NUMPY_TEXT.encode())))
    code, out, _ = run_cli("explain", "-", "--format", "json")
    assert json.loads(out)["matches"][0]["cause"] == "numpy-abi"
    log = tmp_path / "frigate.log.gz"
    noise = b"".join(b"2024-01-01 12:00:%02d INFO all good \xff\xfe\n" % (i % 60) for i in range(20000))
    with gzip.open(log, "wb") as handle:
        handle.write(noise + b"ValueError: Failed to load delegate from libedgetpu.so.1\n" + noise)
    code, out, _ = run_cli("explain", "--file", log, "--fact", "device=none", "--format", "json")
    result = json.loads(out)
    assert result["matches"][0]["cause"] == "no-device"


def test_explain_with_facts_from_a_report(run_cli):
    report = FIXTURES / "scenarios" / "no-device-numpy2.json"
    code, out, _ = run_cli(
        "explain", "--report", report, "--format", "json", "ValueError: Failed to load delegate from libedgetpu.so.1"
    )
    result = json.loads(out)
    assert result["facts"]["device"] == "none"
    assert result["matches"][0]["cause"] in ("no-device", "runtime-missing")


def test_explain_bad_facts_are_usage_errors(run_cli, tmp_path):
    assert run_cli("explain", "--fact", "warp=9", "x")[0] == 2
    assert run_cli("explain", "--fact", "container=maybe", "x")[0] == 2
    bad = tmp_path / "r.json"
    bad.write_text("[1, 2]")
    assert run_cli("explain", "--report", bad, "x")[0] == 2
    assert run_cli("explain", "--file", tmp_path / "missing.log")[0] == 2


# --- how each entry is known: verification, as_of, matrix list --stale ------------------------------------

UNSURE = """
[[entry]]
id = "unsure-one"
cause = "no-device"
title = "t"
explanation = "The device is probably asleep."
remedy = { all = "wake it" }
references = ["https://example.org/5"]
signatures = ['zzz sleepy tpu']
as_of = "2020-01-31"
verification = { status = "inferred", date = "2026-12-04", how = "one forum post, never confirmed" }
"""


def test_every_real_entry_says_how_it_is_known():
    for entry in TABLE.entries:
        assert entry.verification.get("status") in ("verified", "inferred"), entry.id
        assert len(entry.verification.get("how", "")) >= 10, entry.id


def test_an_entry_without_verification_fails_validate_but_still_serves(tmp_path, run_cli):
    write_matrix(
        tmp_path,
        GOOD.replace("verification = ", "# verification = ")
        + """
[[entry]]
id = "bad-verification"
cause = "no-device"
title = "t"
explanation = "e"
remedy = { all = "x" }
references = ["https://example.org/6"]
signatures = ['x y z']
as_of = "soon"
verification = { status = "sure", date = "2026-13-01", how = "x" }
""",
    )
    shown = [str(p) for p in matrix.validate(tmp_path)]
    assert any("[good-one] verification: missing" in s for s in shown), shown
    assert any("[bad-verification] as_of: must be a date" in s for s in shown), shown
    code, out, _ = run_cli("matrix", "validate", "--dir", tmp_path)
    assert code == 1 and "[good-one] verification: missing" in out
    # a missing verification is named, yet the entry still names its cause in check and explain
    assert [e.id for e in matrix.load(tmp_path).entries] == ["good-one"]


def test_inferred_entries_say_so_in_plain_words_where_users_read_them(tmp_path):
    write_matrix(tmp_path, GOOD + UNSURE)
    table = matrix.load(tmp_path)
    unsure, good = table.get("unsure-one"), table.get("good-one")
    assert unsure.inferred and not good.inferred
    assert "(Not confirmed by a report; see `edgedoctor matrix show unsure-one`.)" in unsure.shown_explanation
    assert good.shown_explanation == good.explanation
    shown = table.match("zzz sleepy tpu")[0].to_dict()
    assert shown["verification"] == "inferred" and "Not confirmed by a report" in shown["explanation"]
    rendered = explain.render_terminal({"matches": [shown]})
    assert "why: The device is probably asleep. (Not confirmed by a report;" in rendered


def test_an_inferred_entry_is_named_so_in_a_check_finding():
    from edgedoctor.checks import python_env
    from edgedoctor.report.findings import Finding

    # any inferred entry whose own example ranks it first (the audit keeps moving entries to verified)
    pairs = [
        (e, x)
        for e in TABLE.entries
        if e.inferred
        for x in e.examples
        if TABLE.match(x) and TABLE.match(x)[0].entry is e
    ]
    assert pairs, "no inferred entry left whose example ranks it first"
    entry, text = pairs[0]
    assert entry.inferred
    finding = python_env._with_cause(Finding("python.x", "fail", "t"), text, {"platform": {"os": "linux"}})
    assert finding.causes == [entry.cause]
    assert "Not confirmed by a report" in finding.detail


def test_matrix_list_stale_names_remedies_older_than_a_year(tmp_path, run_cli):
    import datetime

    write_matrix(tmp_path, GOOD + UNSURE)
    code, out, _ = run_cli("matrix", "list", "--stale", "--dir", tmp_path)
    assert code == 0 and "unsure-one" in out and "as of 2020-01-31" in out and "good-one" not in out
    table = matrix.load(tmp_path)
    assert [e.id for e in matrix.stale(table.entries, today=datetime.date(2020, 6, 1))] == []
    assert [e.id for e in matrix.stale(table.entries, today=datetime.date(2021, 2, 1))] == ["unsure-one"]
    code, out, _ = run_cli("matrix", "list", "--stale")
    assert code == 0 and "last checked more than a year ago" in out


def test_remedies_that_depend_on_other_projects_carry_a_date():
    """A gasket source, a feranick release, Coral's apt keys and suites, the Windows runtime zips: the remedy
    says as of when it was checked."""
    words = ("gasket-driver", "feranick", "apt-key.gpg", "coral-edgetpu-stable", "edgetpu_runtime_2", "COPR", "py-repo")
    for entry in TABLE.entries:
        text = " ".join(entry.remedy.values())
        if any(w in text for w in words):
            assert entry.as_of, f"{entry.id}: its remedy depends on another project's state but has no as_of"
