"""Held-out evaluation: real Coral error texts from public threads that no matrix entry was written from,
each labelled with the cause its thread established, plus unrelated errors that share words with Coral
failures. A user pasting a real Coral error should get the right cause first at least nine times in ten, and
an unrelated error must match nothing.

Three rounds are evaluated the same way:
- tests/fixtures/holdout.toml: the first round (mostly google-coral threads).
- tests/fixtures/holdout2.toml: a second round from different sources (projects that use Coral, other Q&A
  pages), collected after the first round had been used to improve the matrix.
- tests/fixtures/holdout3.toml: a third round (google-coral threads neither earlier round cited, gasket-dkms
  forks and packagers, frigate/viseron/HA add-ons, C++ examples), collected after rounds 1-2 had been used.

Rounds 1 and 2 each scored about 0.5 before their fixes. Round 3, measured on the matrix as rounds 1-2 left it
and before any change, scored 11/48 = 0.229 top-1 (0/20 unrelated matched): 31 of the 37 misses matched nothing,
because signatures had been fitted to the exact wording of the texts already seen. That baseline is the honest
estimate of accuracy on unseen reports. The fix was structural rather than per-text: low-confidence family
entries (matrix/entries/families.toml) and "Coral context near a symptom family" signatures on existing entries,
so variants of a message family match and facts pick the cause; specific entries still outrank them.
Round 3's post-fix score is fitted to it and is not an estimate. A check on 37 further unseen (unlabelled) Coral
reports showed how little the first fixes generalised: 14/37 matched anything before them and still 14/37 after;
families for segfaults near Coral context and for a PCIe card absent from lspci, plus other apps' "Edge TPU not
found" wordings, raised that to 27/37 (designed while looking at those texts, so also optimistic). The next
unseen round is the real test.

Rounds 4 and 5 (holdout4.toml, holdout5.toml) are that test: measurement-only, never used to change anything;
10/16 and 5/8 top-1, 15/24 together (tests/test_causemodel.py guards that level).

Round 6 (holdout6.toml, 2026-12-04) was collected and frozen before issue #13's matrix changes and measured on
the matrix as it stood (3/3 top-1); rounds 4-6 together: 18/27 top-1 and 18/27 top-3 (0.667) before the changes.
`test_untouched_rounds_top1_and_top3` prints the current numbers over all three."""

import re
from pathlib import Path

import pytest

from edgedoctor import matrix
from edgedoctor.facts import factview
from edgedoctor.util.tomlcompat import load_toml

FIXTURES = Path(__file__).parent / "fixtures"
HOLDOUT = load_toml(FIXTURES / "holdout.toml")
HOLDOUT2 = load_toml(FIXTURES / "holdout2.toml")
HOLDOUT3 = load_toml(FIXTURES / "holdout3.toml")
# name -> (data, minimum number of labelled errors, minimum number of unrelated errors)
ROUNDS = {"holdout": (HOLDOUT, 60, 15), "holdout2": (HOLDOUT2, 50, 15), "holdout3": (HOLDOUT3, 45, 15)}
TABLE = matrix.load()
MIN_TOP1 = 0.9


def _facts(case):
    return factview.from_pairs(
        [f"{k}={v}" for k, v in (case.get("facts") or {}).items() if k in factview.KEYS and not isinstance(v, list)]
    )


def _unrelated_cases():
    return [
        pytest.param(
            name, case, id=name + "-" + case["source"].rsplit("/", 3)[-3:][0] + "-" + case["source"].rsplit("/", 1)[-1]
        )
        for name, (data, _, _) in ROUNDS.items()
        for case in data.get("unrelated") or []
    ]


@pytest.mark.parametrize("name", list(ROUNDS))
def test_holdout_is_well_formed(name):
    data, min_errors, min_unrelated = ROUNDS[name]
    errors, unrelated = data.get("error") or [], data.get("unrelated") or []
    assert len(errors) >= min_errors and len(unrelated) >= min_unrelated
    known = set(matrix.known_causes())
    for case in errors:
        assert case["cause"] in known, (case["cause"], case["source"])
        assert case["source"].startswith(("http://", "https://")) and case["text"].strip()
    for case in unrelated:
        assert case["source"].startswith(("http://", "https://")) and case["text"].strip()


def _sources(data):
    return [case["source"] for case in (data.get("error") or []) + (data.get("unrelated") or [])]


def test_holdout_rounds_do_not_share_sources():
    first = {case["source"] for case in (HOLDOUT.get("error") or []) + (HOLDOUT.get("unrelated") or [])}
    second = [case["source"] for case in (HOLDOUT2.get("error") or []) + (HOLDOUT2.get("unrelated") or [])]
    assert not first & set(second)
    assert len(second) == len(set(second))
    third = _sources(HOLDOUT3)
    assert not (first | set(second)) & set(third)
    assert len(third) == len(set(third))
    seen = first | set(second) | set(third)
    for later in ("holdout4.toml", "holdout5.toml", "holdout6.toml"):  # the measurement-only rounds
        sources = _sources(load_toml(FIXTURES / later))
        assert len(sources) == len(set(sources)) and not seen & set(sources), later
        seen |= set(sources)


@pytest.mark.parametrize("name", ["holdout4.toml", "holdout5.toml", "holdout6.toml"])
def test_measurement_only_rounds_back_nothing(name):
    """Rounds 4, 5 and 6 measure unseen reports: no matrix entry or real-error fixture may cite their threads."""
    cited = "\n".join(
        p.read_text(encoding="utf-8")
        for p in sorted((Path(__file__).parent.parent / "matrix").rglob("*.toml"))
        + sorted((FIXTURES / "real_errors").glob("*.toml"))
    )
    for source in _sources(load_toml(FIXTURES / name)):
        assert not re.search(re.escape(source) + r"(?![0-9A-Za-z_-])", cited), source


def test_holdout3_sources_back_no_matrix_entry():
    """Round 3 measures unseen reports, so no matrix entry or real-error fixture may cite one of its threads."""
    cited = "\n".join(
        p.read_text(encoding="utf-8")
        for p in sorted((Path(__file__).parent.parent / "matrix").rglob("*.toml"))
        + sorted((FIXTURES / "real_errors").glob("*.toml"))
    )
    for source in _sources(HOLDOUT3):
        assert not re.search(re.escape(source) + r"(?![0-9A-Za-z_-])", cited), source


@pytest.mark.parametrize("name", list(ROUNDS))
def test_top1_cause_accuracy_on_holdout(name):
    errors = ROUNDS[name][0]["error"]
    misses = []
    for case in errors:
        found = TABLE.match(case["text"], _facts(case))
        if not found or found[0].entry.cause != case["cause"]:
            misses.append(
                (
                    case["cause"],
                    case["source"],
                    [(m.entry.id, m.entry.cause, round(m.confidence, 2)) for m in found[:3]],
                )
            )
    accuracy = 1 - len(misses) / len(errors)
    print(f"\n{name} top-1 cause accuracy: {len(errors) - len(misses)}/{len(errors)} = {accuracy:.3f}")
    for expected, source, top in misses:
        print(f"  MISS expected {expected} from {source}: got {top or 'nothing'}")
    assert accuracy >= MIN_TOP1, f"{name}: top-1 cause accuracy {accuracy:.3f} < {MIN_TOP1}; misses: {misses}"


@pytest.mark.parametrize("name,case", _unrelated_cases())
def test_unrelated_holdout_error_matches_nothing(name, case):
    found = TABLE.match(case["text"], {})
    if found:
        print(f"\nFALSE POSITIVE in {name} from {case['source']}: {[(m.entry.id, m.matched_text) for m in found]}")
    assert not found, [(m.entry.id, m.matched_text) for m in found]


UNTOUCHED = ("holdout4.toml", "holdout5.toml", "holdout6.toml")


def test_untouched_rounds_top1_and_top3():
    """Rounds 4-6 together, as `explain` answers them (curated entries and the statistical lead): top-1 and top-3
    cause accuracy. Measured 18/27 both before issue #13's changes; the guard is a floor, not a target."""
    from edgedoctor.diagnosis import explain

    top1 = top3 = total = 0
    for name in UNTOUCHED:
        for case in load_toml(FIXTURES / name)["error"]:
            matches = explain.explain_text(case["text"], _facts(case))["matches"]
            top1 += bool(matches) and matches[0]["cause"] == case["cause"]
            top3 += any(m["cause"] == case["cause"] for m in matches[:3])
            total += 1
    print(f"\nrounds 4-6: top-1 {top1}/{total} = {top1 / total:.3f}, top-3 {top3}/{total} = {top3 / total:.3f}")
    assert total >= 27
    assert top1 / total >= 0.6 and top3 >= top1
