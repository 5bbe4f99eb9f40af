"""The statistical fallback for texts no curated signature names: it speaks only with Coral context, stays
below every curated entry, and is measured honestly (trained without the round it is tested on)."""

import json
from pathlib import Path

import pytest

from edgedoctor import matrix
from edgedoctor.matrix import causemodel, causemodel_build
from edgedoctor.util import datafiles
from edgedoctor.util.tomlcompat import load_toml

FIXTURES = Path(__file__).parent / "fixtures"
ENTRY_CAUSES = {e.id: e.cause for e in matrix.load().entries}


def test_the_shipped_model_is_built_from_the_current_fixtures():
    shipped = json.loads((datafiles.matrix_dir() / causemodel.MODEL_FILE).read_text())
    rebuilt = causemodel.build(causemodel_build.labelled_cases(FIXTURES, ENTRY_CAUSES, causemodel_build.HOLDOUTS))
    assert shipped == json.loads(json.dumps(rebuilt)), "run: python -m edgedoctor.matrix.causemodel_build"


@pytest.mark.parametrize(
    "train,test,minimum",
    [((), "holdout", 0.45), (("holdout",), "holdout2", 0.45), (("holdout", "holdout2"), "holdout3", 0.35)],
)
def test_held_out_accuracy_of_the_model_alone(train, test, minimum):
    model = causemodel.CauseModel(causemodel.build(causemodel_build.labelled_cases(FIXTURES, ENTRY_CAUSES, train)))
    cases = load_toml(FIXTURES / f"{test}.toml")["error"]
    right = sum(1 for case in cases if (model.guess(case["text"]) or (None,))[0] == case["cause"])
    print(f"{test}: {right}/{len(cases)}")
    assert right / len(cases) >= minimum


def test_no_coral_context_no_guess():
    model = causemodel.CauseModel.load(datafiles.matrix_dir())
    assert model.guess("CUDA error: out of memory; Segmentation fault (core dumped)") is None
    assert model.guess("usb 1-1: device descriptor read/64, error -71") is None
    guess = model.guess("my coral usb accelerator keeps disconnecting, dmesg shows usb reset every minute")
    assert guess is not None
    cause, confidence, words = guess
    assert confidence < min(e.confidence for e in matrix.load().entries)
    assert words


def test_unrelated_texts_never_get_a_guess():
    model = causemodel.CauseModel.load(datafiles.matrix_dir())
    texts = [c["text"] for c in load_toml(FIXTURES / "unrelated_errors.toml")["error"]]
    for name in causemodel_build.HOLDOUTS:
        texts += [c["text"] for c in load_toml(FIXTURES / f"{name}.toml").get("unrelated") or []]
    guessed = [t[:80] for t in texts if model.guess(t)]
    assert not guessed


def test_explain_offers_the_statistical_lead_only_when_no_curated_entry_names_the_cause(run_cli):
    prose = "my coral usb accelerator keeps disconnecting, dmesg shows usb reset every few minutes"
    code, out, _ = run_cli("explain", "--format", "json", prose)
    matches = json.loads(out)["matches"]
    assert matches and matches[0]["entry"].startswith("statistical.")
    assert matches[0]["confidence"] < 0.4 and matches[0]["remedy"] and matches[0]["references"]
    curated = "ValueError: Failed to load delegate from libedgetpu.so.1"
    code, out, _ = run_cli("explain", "--format", "json", curated)
    matches = json.loads(out)["matches"]
    assert not matches[0]["entry"].startswith("statistical.")
    curated_causes = {m["cause"] for m in matches if not m["entry"].startswith("statistical.")}
    leads = [m for m in matches if m["entry"].startswith("statistical.")]
    assert all(m["cause"] not in curated_causes for m in leads), "a lead never repeats a curated cause"


def test_check_diagnoses_stay_curated():
    from edgedoctor.diagnosis import diagnose

    facts = {"runtime": {"error": "my coral usb accelerator keeps disconnecting, usb reset every few minutes"}}
    assert not any(d["entry"].startswith("statistical.") for d in diagnose.diagnose(facts))


def _top1(name):
    from edgedoctor.diagnosis import explain
    from edgedoctor.facts import factview

    data = load_toml(FIXTURES / name)
    right = 0
    for case in data["error"]:
        facts = factview.from_pairs(
            [f"{k}={v}" for k, v in (case.get("facts") or {}).items() if k in factview.KEYS and not isinstance(v, list)]
        )
        matches = explain.explain_text(case["text"], facts)["matches"]
        right += bool(matches) and matches[0]["cause"] == case["cause"]
    return right, len(data["error"])


def test_measurement_only_rounds_stay_at_their_untouched_level():
    """holdout4.toml and holdout5.toml were collected after everything else and never used to change the matrix
    or the model's data: they are the honest estimate of explain on unseen reports (measured 10/16 and 5/8 on
    2026-11-29, 15/24 together). This guards against falling below that; it is not a target the data was tuned
    to."""
    four, five = _top1("holdout4.toml"), _top1("holdout5.toml")
    print(f"round 4: {four[0]}/{four[1]}, round 5: {five[0]}/{five[1]}")
    assert four[0] / four[1] >= 0.55
    assert (four[0] + five[0]) / (four[1] + five[1]) >= 0.55
