"""Held-out evaluation: real Coral error texts from public threads that no matrix entry was written from
(tests/fixtures/holdout.toml), each labelled with the cause its thread established, plus unrelated errors
that share words with Coral failures. A user pasting a real Coral error should get the right cause first at
least nine times in ten, and an unrelated error must match nothing."""

from pathlib import Path

import pytest

from edgedoctor import factview, matrix
from edgedoctor.tomlcompat import load_toml

HOLDOUT = load_toml(Path(__file__).parent / "fixtures" / "holdout.toml")
TABLE = matrix.load()
MIN_TOP1 = 0.9


def _facts(case):
    return factview.from_pairs([f"{k}={v}" for k, v in (case.get("facts") or {}).items()
                                if k in factview.KEYS and not isinstance(v, list)])


def test_holdout_is_well_formed():
    errors, unrelated = HOLDOUT.get("error") or [], HOLDOUT.get("unrelated") or []
    assert len(errors) >= 60 and len(unrelated) >= 15
    known = set(matrix.known_causes())
    for case in errors:
        assert case["cause"] in known, (case["cause"], case["source"])
        assert case["source"].startswith(("http://", "https://")) and case["text"].strip()
    for case in unrelated:
        assert case["source"].startswith(("http://", "https://")) and case["text"].strip()


def test_top1_cause_accuracy_on_holdout():
    errors = HOLDOUT["error"]
    misses = []
    for case in errors:
        found = TABLE.match(case["text"], _facts(case))
        if not found or found[0].entry.cause != case["cause"]:
            misses.append((case["cause"], case["source"],
                           [(m.entry.id, m.entry.cause, round(m.confidence, 2)) for m in found[:3]]))
    accuracy = 1 - len(misses) / len(errors)
    print(f"\nholdout top-1 cause accuracy: {len(errors) - len(misses)}/{len(errors)} = {accuracy:.3f}")
    for expected, source, top in misses:
        print(f"  MISS expected {expected} from {source}: got {top or 'nothing'}")
    assert accuracy >= MIN_TOP1, f"top-1 cause accuracy {accuracy:.3f} < {MIN_TOP1}; misses: {misses}"


@pytest.mark.parametrize("case", HOLDOUT.get("unrelated") or [],
                         ids=lambda case: case["source"].rsplit("/", 3)[-3:][0] + "-" + case["source"].rsplit("/", 1)[-1])
def test_unrelated_holdout_error_matches_nothing(case):
    found = TABLE.match(case["text"], {})
    if found:
        print(f"\nFALSE POSITIVE from {case['source']}: "
              f"{[(m.entry.id, m.matched_text) for m in found]}")
    assert not found, [(m.entry.id, m.matched_text) for m in found]
