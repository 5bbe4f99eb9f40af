"""A statistical fallback for texts that no curated signature names: which cause do real reports with these
words have? A multinomial naive-Bayes model over word presence, trained on the labelled real error texts the
project keeps (tests/fixtures), shipped as data (matrix/cause_model.json), rebuilt by
`python -m edgedoctor.matrix.causemodel_build`.

It only speaks when the text has Coral context (edgetpu, coral, apex, gasket, the USB ids...), and with low
confidence, so a curated signature always wins and an unrelated error is never forced onto a Coral cause.
Pure: no I/O except loading its JSON.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

MODEL_FILE = "cause_model.json"
CONTEXT = re.compile(
    r"edge[ _-]?tpu|edgetpu|\bcoral\b|libedgetpu|pycoral|/dev/apex|/sys/class/apex|\bapex_\d|apex\.ko|"
    r"\bapex (?:\d{4}:|driver|module)|modprobe apex|gasket|1a6e|18d1[:\s]9302|global unichip|edgetpu-custom-op",
    re.IGNORECASE,
)  # "apex" alone is a keyboard, a game, a Salesforce language: not context
TOKEN = re.compile(r"[a-z][a-z0-9_]{1,29}")
STOP = frozenset(
    """
my me we us he she him her is am be to of in on at an as or if so no do up by it its i'm im ive i've
this these those here now then again after before while because about into over under same both each few
any all may might must shall can't cannot don't doesn't didn't isn't wasn't won't
please thanks thank help hi hello anyone someone something anything tried trying try know think see seems
the and for you are with this that was not but have has had from can all any its it's out use using used
what when where which who will would could should there then than them they their our your yours into onto
been being were also just only some more most other such very one two get got does did doing done how why
https http www com github org html issue issues comment line file files usr lib local home pi root lib64
python3 python site packages dist self none true false
""".split()
)
# Confidence of a model guess: below every curated entry's base, so a signature match wins.
BASE, SPAN = 0.18, 0.2


def has_context(text: str) -> bool:
    return bool(CONTEXT.search(text))


def tokens(text: str) -> set:
    return {t for t in TOKEN.findall(text.lower()) if t not in STOP and not t.isdigit()}


class CauseModel:
    def __init__(self, data: Dict[str, Any]):
        self.causes: Dict[str, Dict[str, Any]] = data["causes"]
        self.vocabulary: set = set(data["vocabulary"])
        self.documents: int = data["documents"]
        self.alpha: float = data.get("alpha", 0.5)

    @classmethod
    def load(cls, folder: Path) -> Optional["CauseModel"]:
        try:
            return cls(json.loads((Path(folder) / MODEL_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError):
            return None

    def scores(self, text: str) -> List[Tuple[str, float]]:
        """(cause, posterior) best first, over the words of `text` that the model knows."""
        words = tokens(text) & self.vocabulary
        if not words:
            return []
        logs = []
        size = len(self.vocabulary)
        for cause, info in self.causes.items():
            counts = info["words"]
            denominator = info["total"] + self.alpha * size
            score = math.log(info["documents"] + 1.0) * 0.5  # a damped prior: rare causes are not drowned
            for word in words:
                score += math.log((counts.get(word, 0) + self.alpha) / denominator)
            logs.append((cause, score))
        top = max(score for _, score in logs)
        weights = [(cause, math.exp(score - top)) for cause, score in logs]
        norm = sum(w for _, w in weights)
        return sorted(((cause, w / norm) for cause, w in weights), key=lambda item: item[1], reverse=True)

    def guess(self, text: str) -> Optional[Tuple[str, float, List[str]]]:
        """(cause, confidence, telling words) for a text with Coral context, or None."""
        if not has_context(text):
            return None
        ranked = self.scores(text)
        if not ranked:
            return None
        cause, posterior = ranked[0]
        words = sorted(tokens(text) & set(self.causes[cause]["words"]), key=lambda w: -self.causes[cause]["words"][w])[
            :8
        ]
        return cause, BASE + SPAN * posterior, words


def build(cases: Iterable[Tuple[str, str]], alpha: float = 0.5, min_df: int = 2) -> Dict[str, Any]:
    """A model from (cause, text) pairs. Words seen in fewer than `min_df` texts are left out."""
    cases = list(cases)
    document_frequency: Dict[str, int] = {}
    per_text = []
    for cause, text in cases:
        words = tokens(text)
        per_text.append((cause, words))
        for word in words:
            document_frequency[word] = document_frequency.get(word, 0) + 1
    vocabulary = sorted(w for w, n in document_frequency.items() if n >= min_df)
    known = set(vocabulary)
    causes: Dict[str, Dict[str, Any]] = {}
    for cause, words in per_text:
        info = causes.setdefault(cause, {"documents": 0, "words": {}})
        info["documents"] += 1
        for word in words & known:
            info["words"][word] = info["words"].get(word, 0) + 1
    for info in causes.values():
        info["words"] = dict(sorted(info["words"].items()))
        info["total"] = sum(info["words"].values())
    return {
        "schema": 1,
        "alpha": alpha,
        "documents": len(per_text),
        "vocabulary": vocabulary,
        "causes": dict(sorted(causes.items())),
    }
