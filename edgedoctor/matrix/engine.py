"""The curated compatibility matrix: load and validate `matrix/`, match error texts and Facts to entries.

Data lives in `matrix/entries/*.toml` (format: `matrix/SCHEMA.md`); this module holds no Coral knowledge of
its own. Loading is tolerant: an entry with a bad field is left out and named in `Matrix.problems`, so
`check` still runs with what is valid while `edgedoctor matrix validate` reports the file, entry and field.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from edgedoctor.matrix import signatures
from edgedoctor.matrix.signatures import (  # noqa: F401  (re-exported: the matrix's public face)
    CARRY,
    CONTEXT_WORDS,
    FLAGS,
    MAX_WINDOW,
    MIN_LITERAL,
    Signature,
    _fold,
    _make_plan,
    _search,
    _vetoed,
    analyse,
    required_literals,
)
from edgedoctor.matrix.wordindex import Presence
from edgedoctor.util import datafiles


def load_toml(path) -> Dict[str, Any]:
    """tomllib is imported only when a matrix file is parsed (not when the matrix comes from the cache)."""
    from edgedoctor.util.tomlcompat import load_toml as _load_toml

    return _load_toml(path)


SEVERITIES = ("fail", "warn", "info")
LIST_KEYS = {
    "os",
    "arch",
    "link",
    "device",
    "usb_state",
    "board",
    "runtime_release",
    "runtime_package",
    "pycoral_identity",
    "page_size",
}
BOOL_KEYS = {"container", "runtime_found", "require_facts"}
SPEC_KEYS = {
    "python",
    "tflite_runtime",
    "ai_edge_litert",
    "tensorflow",
    "pycoral",
    "numpy",
    "kernel",
    "runtime_version",
}
RUNTIME_KEYS = {"runtime_version", "runtime_release", "runtime_package"}
STACK_KEYS = {"tflite_runtime", "ai_edge_litert", "tensorflow", "pycoral", "numpy", "python"}
CONDITION_KEYS = LIST_KEYS | SPEC_KEYS | {"container", "runtime_found"}
ENTRY_KEYS = {
    "id",
    "cause",
    "title",
    "severity",
    "confidence",
    "signatures",
    "explanation",
    "remedy",
    "references",
    "examples",
    "when",
    "require_facts",
    "verification",
    "as_of",
}
VERIFICATION_KEYS = {"status", "date", "how"}
VERIFICATION_STATUSES = ("verified", "inferred")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INFERRED_WORDS = "Not confirmed by a report"
REMEDY_KEYS = {"all", "linux", "darwin", "windows"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


@dataclass
class Problem:
    file: str
    entry: Optional[str]
    field: Optional[str]
    message: str

    def __str__(self) -> str:
        where = self.file + (f" [{self.entry}]" if self.entry else "") + (f" {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass
class Entry:
    id: str
    cause: str
    title: str
    explanation: str
    remedy: Dict[str, str]
    references: List[str]
    severity: str = "fail"
    confidence: float = 0.6
    signatures: List[Signature] = field(default_factory=list)
    examples: List[str] = field(default_factory=list)
    when: Dict[str, Any] = field(default_factory=dict)
    require_facts: bool = False
    file: str = ""
    verification: Dict[str, str] = field(default_factory=dict)
    as_of: Optional[str] = None

    @property
    def is_fact_entry(self) -> bool:
        return not self.signatures

    @property
    def inferred(self) -> bool:
        return self.verification.get("status") == "inferred"

    @property
    def shown_explanation(self) -> str:
        """The explanation as users see it: an entry no report confirms says so in plain words."""
        if not self.inferred:
            return self.explanation
        return f"{self.explanation} ({INFERRED_WORDS}; see `edgedoctor matrix show {self.id}`.)"

    def remedy_for(self, os_name: Optional[str]) -> str:
        """The remedy for one platform (with the general one), or all of them when the platform is unknown."""
        if os_name and os_name in self.remedy:
            parts = [self.remedy[os_name]]
            if "all" in self.remedy:
                parts.insert(0, self.remedy["all"])
            return "\n".join(parts)
        if "all" in self.remedy and not os_name:
            others = [f"{k}: {v}" for k, v in self.remedy.items() if k != "all"]
            return "\n".join([self.remedy["all"]] + others)
        if "all" in self.remedy:
            return self.remedy["all"]
        return "\n".join(f"{k}: {v}" for k, v in self.remedy.items())


@dataclass
class Match:
    entry: Entry
    confidence: float
    matched_text: Optional[str] = None
    evidence: List[str] = field(default_factory=list)
    contradicted: List[str] = field(default_factory=list)

    def to_dict(self, os_name: Optional[str] = None) -> Dict[str, Any]:
        return {
            "entry": self.entry.id,
            "cause": self.entry.cause,
            "confidence": round(self.confidence, 2),
            "severity": self.entry.severity,
            "title": self.entry.title,
            "explanation": self.entry.shown_explanation,
            "verification": self.entry.verification.get("status"),
            "remedy": self.entry.remedy_for(os_name),
            "references": list(self.entry.references),
            "matched_text": self.matched_text,
            "evidence": list(self.evidence),
            "contradicted": list(self.contradicted),
        }


# --- literal prefilter ------------------------------------------------------------------------------------
#
# A pattern compiled with IGNORECASE can only match a text that contains, in any case, the literal runs that
# every match must contain. `analyse` finds them in the parsed pattern; `scan` checks for them in the
# lower-cased text (one `in` per literal and block, memoised) before it runs any regex, and then runs the
# regex only in windows around where the most selective literal occurs. Only ASCII letters are taken as
# literals; the few non-ASCII characters that IGNORECASE equates with ASCII letters are folded by `_fold`.


def _known_causes(folder: Path) -> set:
    try:
        return set((load_toml(folder / "causes.toml").get("cause") or {}).keys())
    except (OSError, ValueError):
        return set()


def _check_condition(key: str, value: Any) -> Optional[str]:
    if key not in CONDITION_KEYS:
        return f"unknown condition {key!r}"
    if key in LIST_KEYS:
        if not isinstance(value, list) or not value:
            return "must be a non-empty list"
    elif key in BOOL_KEYS:
        if not isinstance(value, bool):
            return "must be true or false"
    elif key in SPEC_KEYS:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        if not isinstance(value, str):
            return "must be a version specifier string such as '>=2.12'"
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            return f"not a version specifier: {value!r}"
    return None


def _build_entry(raw: Any, file: str, causes: set, problems: List[Problem]) -> Optional[Entry]:
    if not isinstance(raw, dict):
        problems.append(Problem(file, None, None, "an [[entry]] is not a table"))
        return None
    entry_id = raw.get("id")
    start = len(problems)

    def bad(fld: Optional[str], message: str) -> None:
        problems.append(Problem(file, entry_id if isinstance(entry_id, str) else None, fld, message))

    if not isinstance(entry_id, str) or not ID_RE.match(entry_id):
        bad("id", "missing or not kebab-case")
    for key in sorted(set(raw) - ENTRY_KEYS):
        bad(key, "unknown field")
    cause = raw.get("cause")
    if not isinstance(cause, str):
        bad("cause", "missing")
    elif causes and cause not in causes:
        bad("cause", f"unknown cause code {cause!r}")
    for key in ("title", "explanation"):
        if not isinstance(raw.get(key), str) or not raw.get(key).strip():  # type: ignore[union-attr]
            bad(key, "missing or empty")
    severity = raw.get("severity", "fail")
    if severity not in SEVERITIES:
        bad("severity", f"must be one of {', '.join(SEVERITIES)}")
    confidence = raw.get("confidence", 0.6)
    if not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        bad("confidence", "must be a number from 0 to 1")
    remedy = raw.get("remedy")
    if (
        not isinstance(remedy, dict)
        or not remedy
        or set(remedy) - REMEDY_KEYS
        or not all(isinstance(v, str) and v.strip() for v in remedy.values())
    ):
        bad("remedy", f"must be a table with keys from {sorted(REMEDY_KEYS)} and text values")
    references = raw.get("references")
    if (
        not isinstance(references, list)
        or not references
        or not all(isinstance(r, str) and re.match(r"https?://", r) for r in references)
    ):
        bad("references", "must list at least one http(s) URL")
    signatures: List[Signature] = []
    raw_signatures = raw.get("signatures") or []
    if not isinstance(raw_signatures, list):
        bad("signatures", "must be a list of regular expressions")
        raw_signatures = []
    for index, pattern in enumerate(raw_signatures):
        if not isinstance(pattern, str) or not pattern:
            bad(f"signatures[{index}]", "must be a non-empty string")
            continue
        try:
            signatures.append(Signature.build(pattern))
        except re.error as exc:
            bad(f"signatures[{index}]", f"does not compile: {exc}")
    when = raw.get("when") or {}
    if not isinstance(when, dict):
        bad("when", "must be a table")
        when = {}
    for key, value in when.items():
        message = _check_condition(key, value)
        if message:
            bad(f"when.{key}", message)
    if not signatures and not when:
        bad("signatures", "an entry needs signatures, or conditions in `when` (a fact entry)")
    examples = raw.get("examples") or []
    if not isinstance(examples, list):
        bad("examples", "must be a list of texts")
        examples = []
    as_of = raw.get("as_of")
    if as_of is not None and not _is_date(as_of):
        bad("as_of", "must be a date string YYYY-MM-DD")
    if len(problems) > start:
        return None
    verification = raw.get("verification")
    message = _check_verification(verification)
    verification = verification if isinstance(verification, dict) and not message else {}
    entry = Entry(
        id=entry_id,  # type: ignore[arg-type]
        cause=cause,  # type: ignore[arg-type]
        title=raw["title"].strip(),
        explanation=raw["explanation"].strip(),
        remedy={k: v.strip() for k, v in remedy.items()},  # type: ignore[union-attr]
        references=list(references),  # type: ignore[arg-type]
        severity=severity,
        confidence=float(confidence),
        signatures=signatures,
        examples=[str(e) for e in examples],
        when=dict(when),
        require_facts=bool(raw.get("require_facts", False)),
        file=file,
        verification={k: str(v) for k, v in verification.items()},
        as_of=as_of,
    )
    for index, example in enumerate(entry.examples):
        if not any(sig.regex.search(_normalise(example)) for sig in entry.signatures):
            bad(f"examples[{index}]", "does not match any of the entry's signatures")
    if message:  # named by validate, but the entry still serves check and explain
        bad("verification", message)
    return entry


def _is_date(value: Any) -> bool:
    import datetime

    if not isinstance(value, str) or not DATE_RE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_verification(value: Any) -> Optional[str]:
    """None when `verification = { status, date, how }` is well formed, else what is wrong."""
    if not isinstance(value, dict):
        return (
            'missing: every entry says how it is known, verification = { status = "verified" | "inferred", '
            'date = "YYYY-MM-DD", how = "..." }'
        )
    if set(value) != VERIFICATION_KEYS:
        return f"must have exactly the keys {sorted(VERIFICATION_KEYS)}"
    if value["status"] not in VERIFICATION_STATUSES:
        return f"status must be one of {', '.join(VERIFICATION_STATUSES)}"
    if not _is_date(value["date"]):
        return "date must be YYYY-MM-DD"
    if not isinstance(value["how"], str) or len(value["how"].strip()) < 10:
        return "how must say what was checked (verified) or why it is believed (inferred)"
    return None


def stale(entries: Iterable[Entry], today=None, days: int = 365) -> List[Entry]:
    """Entries whose remedy depends on another project's state (`as_of`) last checked more than `days` ago."""
    import datetime

    today = today or datetime.date.today()
    return [e for e in entries if e.as_of and (today - datetime.date.fromisoformat(e.as_of)).days > days]


class ContextCollector:
    """Passes text blocks through unchanged and keeps the lines with Coral context (and their neighbours),
    at most `cap` characters, for the statistical cause model: flat memory on logs of any size."""

    KEYWORDS = ("edgetpu", "edge tpu", "edge_tpu", "coral", "apex", "gasket", "1a6e", "18d1", "unichip")

    def __init__(self, blocks: Iterable[str], cap: int = 65536, around: int = 3):
        self._blocks = iter(blocks)
        self.cap, self.around = cap, around
        self.parts: List[str] = []
        self.size = 0

    def __iter__(self) -> "ContextCollector":
        return self

    def __next__(self) -> str:
        block = next(self._blocks)
        if self.size < self.cap:
            self._keep(block)
        return block

    def feed(self, block: str) -> None:
        """Keep what `block` has, for text that reaches the model by another road than this iterator."""
        if self.size < self.cap:
            self._keep(block)

    def drain(self) -> None:
        """Read what the scan left unread (it stops early once every entry matched)."""
        for block in self._blocks:
            if self.size >= self.cap:
                break
            self._keep(block)

    def _keep(self, block: str) -> None:
        lowered = block.lower()
        if not any(word in lowered for word in self.KEYWORDS):
            return
        if len(block) <= self.cap - self.size:
            self.parts.append(block)
            self.size += len(block)
            return
        lines = block.splitlines()
        lowered_lines = lowered.splitlines()
        keep: set = set()
        for number, line in enumerate(lowered_lines):
            if any(word in line for word in self.KEYWORDS):
                keep.update(range(max(0, number - self.around), number + self.around + 1))
        for number in sorted(n for n in keep if n < len(lines)):
            if self.size >= self.cap:
                break
            self.parts.append(lines[number][:2000])
            self.size += len(self.parts[-1]) + 1

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


@dataclass
class Matrix:
    entries: List[Entry]
    problems: List[Problem]
    folder: Path

    def get(self, entry_id: str) -> Optional[Entry]:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        return None

    # --- matching ---
    def match(
        self, text: str, facts: Optional[Dict[str, Any]] = None, limit: int = 10, guess: bool = False
    ) -> List[Match]:
        """Entries whose signatures match `text`, ranked by confidence given the flat `facts` view (with
        `guess`, plus the statistical cause model's lead; see `with_guess`)."""
        return self.scan([text], facts, limit, guess=guess)

    def scan(
        self, blocks: Iterable[str], facts: Optional[Dict[str, Any]] = None, limit: int = 10, guess: bool = False
    ) -> List[Match]:
        """Like `match`, over text that arrives in blocks (a streamed log). Blocks should end at line ends.

        Memory stays flat: one block (plus CARRY characters of the one before) at a time. Each entry is
        reported with its first match; reading stops once every text entry has matched. With `guess`, the
        statistical cause model adds its low-confidence lead from the lines with Coral context."""
        collector = ContextCollector(blocks) if guess else None
        hits = self.first_hits(collector if collector is not None else blocks)
        if collector is not None:
            collector.drain()
        ranked = self._rank([hit[:3] for hit in hits.values()], facts or {}, limit)
        return self.with_guess(ranked, collector.text, facts or {}, limit) if collector is not None else ranked

    @property
    def model(self):
        """The statistical cause model shipped beside the entries (None when missing)."""
        if not hasattr(self, "_model"):
            from edgedoctor.matrix.causemodel import CauseModel

            self._model = CauseModel.load(self.folder)
        return self._model

    def with_guess(self, ranked: List[Match], context_text: str, facts: Dict[str, Any], limit: int) -> List[Match]:
        """`ranked` plus the cause model's lead for `context_text`, unless a curated match already names that
        cause. The lead ranks by its (low) confidence, so curated signatures normally stay first."""
        model = self.model
        found = model.guess(context_text) if model is not None and context_text else None
        if not found or any(m.entry.cause == found[0] for m in ranked):
            return ranked
        cause, confidence, words = found
        lead = Match(
            self._statistical_entry(cause, words), confidence, None, [f"words: {', '.join(words)}"] if words else []
        )
        merged = sorted(ranked + [lead], key=lambda m: m.confidence, reverse=True)
        return merged[:limit]

    def _statistical_entry(self, cause: str, words: List[str]) -> Entry:
        curated = [e for e in self.entries if e.cause == cause]
        model_of = max(curated, key=lambda e: (not e.is_fact_entry, e.confidence)) if curated else None
        summary = known_causes(self.folder).get(cause, cause)
        return Entry(
            id=f"statistical.{cause}",
            cause=cause,
            title=f"Closest known cause (no curated signature matched): {summary}",
            explanation=(
                "No curated signature matches this text. Among the real reports edgedoctor learned from, "
                f"texts with these words ({', '.join(words) or 'none telling'}) most often had this cause; "
                "treat it as a lead and confirm with `edgedoctor check`."
                + (f" The closest curated entry is {model_of.id}: {model_of.explanation}" if model_of else "")
            ),
            remedy=dict(model_of.remedy) if model_of else {"all": "Run `edgedoctor check` on the affected machine."},
            references=list(model_of.references) if model_of else [],
            severity="warn",
            confidence=0.0,
            file="cause_model.json",
        )

    def first_hits(
        self, blocks: Iterable[str], skip: Iterable[str] = (), details: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Tuple[Entry, str, int, Tuple[int, int]]]:
        """The scan itself: entry id -> (entry, matched context, match length, (block number, position)) of
        each text entry's first match (entries in `skip` are not looked for). `scan` ranks these; explain
        merges them across files and across the pieces of a big file scanned side by side.

        A signature of the form "\\A(?![\\s\\S]*X)...REST" says "REST, in a text that nowhere holds X": its
        REST match only counts if no block of the whole stream holds X, so it is kept aside until the end
        (and X is looked for in every later block), as a search over the whole text would decide. Who scans
        one stream in several parts passes `details` to get, per part, the "definite" hits, the "tentative"
        ones ((entry id, signature index) -> hit) and the "vetoed" signatures, and decides at the end."""
        Hit = Tuple[Entry, str, int, Tuple[int, int]]
        hits: Dict[str, Hit] = {}
        tentative: Dict[Tuple[str, int], Hit] = {}
        vetoed: set = set()
        skipped = set(skip)
        pending = [
            (entry, index, sig)
            for entry in self.entries
            if entry.id not in skipped
            for index, sig in enumerate(entry.signatures)
        ]
        watching: List[Tuple[Entry, int, Signature]] = []
        carry = ""
        for number, block in enumerate(blocks):
            if not pending and not watching:
                break
            text = _normalise(carry + block if carry else block)
            lowered: Optional[str] = _fold(text)
            if len(lowered) != len(text):  # type: ignore[arg-type]  # pragma: no cover - a case mapping that changes length
                lowered = None
            present = Presence(lowered if lowered is not None else text.lower())
            context = any(present.has(word) for word in CONTEXT_WORDS)
            for entry, index, sig in watching:
                if _vetoed(sig, text, lowered, present):
                    vetoed.add((entry.id, index))
                    tentative.pop((entry.id, index), None)
            in_block: Dict[str, Hit] = {}  # each entry's earliest match in this block, over all its signatures
            for entry, index, sig in pending:
                if entry.id in hits:
                    continue
                # An X seen before REST ever is vetoes it just the same: look for X even when REST cannot match.
                lead_in = sig.whole_block and lowered is not None and sig.plan.lead_in is not None
                if lead_in and _vetoed(sig, text, lowered, present):
                    vetoed.add((entry.id, index))
                    continue
                if not context and sig.needs_context:
                    continue
                if not all(present.any(group) for group in sig.groups):
                    continue
                found = _search(sig, text, lowered, present)
                if found:
                    hit = (
                        entry,
                        _context(text, found),
                        found.end() - found.start(),
                        (number, found.start() - len(carry)),
                    )
                    if lead_in:
                        tentative[(entry.id, index)] = hit
                    elif entry.id not in in_block or hit[3] < in_block[entry.id][3]:
                        in_block[entry.id] = hit
            hits.update(in_block)
            watching = [(e, i, s) for e, i, s in watching if (e.id, i) not in vetoed] + [
                (e, i, s) for e, i, s in pending if (e.id, i) in tentative
            ]
            pending = [
                (e, i, s)
                for e, i, s in pending
                if e.id not in hits and (e.id, i) not in vetoed and (e.id, i) not in tentative
            ]
            carry = text[-CARRY:] if len(text) > CARRY else text
        if details is not None:
            details.update(definite=dict(hits), tentative=dict(tentative), vetoed=set(vetoed))
        for (entry_id, _), hit in tentative.items():
            if entry_id not in hits or hit[3] < hits[entry_id][3]:
                hits[entry_id] = hit
        return hits

    def _rank(self, hits, facts: Dict[str, Any], limit: int) -> List[Match]:
        ranked: List[Tuple[float, int, Match]] = []
        order = {entry.id: index for index, entry in enumerate(self.entries)}
        for entry, context, span in hits:
            satisfied, contradicted, unknown = evaluate(entry.when, facts)
            if entry.require_facts and (contradicted or unknown):
                continue
            confidence = entry.confidence + 0.08 * len(satisfied)
            for _ in contradicted:
                confidence *= 0.3
            confidence = max(0.01, min(confidence, 0.99))
            specificity = min(span, 200) / 2000.0
            match = Match(
                entry, confidence, context, [f"{k}: {v}" for k, v in satisfied], [f"{k}: {v}" for k, v in contradicted]
            )
            ranked.append((confidence + specificity, -order[entry.id], match))
        ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [item[2] for item in ranked[:limit]]

    def combination_matches(self, facts: Dict[str, Any]) -> List[Match]:
        """Entries that name a version combination (a runtime condition and a Python-stack condition in
        `when`) which holds entirely for these facts: known-bad before anything fails, text or not."""
        return self._holding(facts, lambda e: bool(set(e.when) & RUNTIME_KEYS and set(e.when) & STACK_KEYS))

    def fact_matches(self, facts: Dict[str, Any]) -> List[Match]:
        """Fact entries (no signatures) whose every condition is known and holds."""
        return self._holding(facts, lambda e: e.is_fact_entry)

    def _holding(self, facts: Dict[str, Any], chosen) -> List[Match]:
        """The chosen entries whose every `when` condition is known and holds, most confident first."""
        found = []
        for entry in self.entries:
            if not chosen(entry):
                continue
            satisfied, contradicted, unknown = evaluate(entry.when, facts)
            if satisfied and not contradicted and not unknown:
                found.append(
                    Match(
                        entry,
                        min(0.99, entry.confidence + 0.05 * len(satisfied)),
                        None,
                        [f"{k}: {v}" for k, v in satisfied],
                    )
                )
        found.sort(key=lambda m: m.confidence, reverse=True)
        return found


def _normalise(text: str) -> str:
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _context(text: str, found: "re.Match[str]") -> str:
    """The line(s) holding the match, trimmed for display."""
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.end())
    end = len(text) if end < 0 else end
    snippet = text[start:end].strip()
    if len(snippet) > 400:
        middle = found.start() - start
        snippet = snippet[max(0, middle - 150) : middle + 250].strip()
    return snippet


def evaluate(when: Dict[str, Any], facts: Dict[str, Any]):
    """Split an entry's conditions into satisfied, contradicted and unknown, given a flat fact view."""
    satisfied, contradicted, unknown = [], [], []
    for key, condition in when.items():
        value = facts.get(key)
        if value is None:
            unknown.append((key, condition))
            continue
        verdict = _holds(key, condition, value)
        if verdict is None:
            unknown.append((key, condition))
        elif verdict:
            satisfied.append((key, value))
        else:
            contradicted.append((key, value))
    return satisfied, contradicted, unknown


def _holds(key: str, condition: Any, value: Any) -> Optional[bool]:
    if key in LIST_KEYS:
        values = value if isinstance(value, (list, tuple)) else [value]
        wanted = {str(c).lower() for c in condition}
        return any(str(v).lower() in wanted for v in values)
    if key in ("container", "runtime_found"):
        return bool(value) == bool(condition)
    if key in SPEC_KEYS:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version

        try:
            text = str(value)
            if key == "kernel":
                found = re.match(r"\d+(?:\.\d+){0,2}", text)
                text = found.group(0) if found else text
            return SpecifierSet(str(condition), prereleases=True).contains(Version(text), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return None
    return None


_LOADING = threading.RLock()  # re-entrant: a load that (some day) loads again must not deadlock


def load(folder: Optional[Path] = None) -> Matrix:
    folder = Path(folder) if folder else datafiles.matrix_dir()
    with _LOADING:  # one load at a time: a second caller waits for the first's result instead of redoing it
        return _load_cached(str(folder.resolve()))


def preload(folder: Optional[Path] = None) -> None:
    """Load the matrix and work out the search plans every scan needs, ahead of use: `check` runs this
    beside its probes, which spend most of their time waiting for child processes."""
    try:
        table = load(folder)
        for entry in table.entries:
            for sig in entry.signatures:
                if sig.whole_block:
                    sig.plan  # noqa: B018 - computed and kept on the signature
    except Exception:  # the caller's own load reports whatever is wrong
        pass


@lru_cache(maxsize=4)
def _load_cached(folder_text: str) -> Matrix:
    folder = Path(folder_text)
    key = _source_key(folder)
    table = _read_compiled(folder, key) if key else None
    if table is None:
        table = _build(folder)
        if key:
            _write_compiled(table, key)
    return table


def _build(folder: Path) -> Matrix:
    problems: List[Problem] = []
    causes = _known_causes(folder)
    if not causes:
        problems.append(Problem("causes.toml", None, None, "missing or unreadable: cause codes cannot be checked"))
    entries: List[Entry] = []
    seen: Dict[str, str] = {}
    for path in sorted((folder / "entries").glob("*.toml")):
        name = f"entries/{path.name}"
        try:
            data = load_toml(path)
        except (OSError, ValueError) as exc:
            problems.append(Problem(name, None, None, f"cannot be read: {exc}"))
            continue
        raw_entries = data.get("entry")
        if not isinstance(raw_entries, list):
            problems.append(Problem(name, None, None, "has no [[entry]] tables"))
            continue
        for raw in raw_entries:
            entry = _build_entry(raw, name, causes, problems)
            if entry is None:
                continue
            if entry.id in seen:
                problems.append(Problem(name, entry.id, "id", f"duplicate id (also in {seen[entry.id]})"))
                continue
            seen[entry.id] = name
            entries.append(entry)
    return Matrix(entries, problems, folder)


# --- the compiled cache -----------------------------------------------------------------------------------
#
# Parsing the TOML files, validating every entry and compiling every pattern takes longer than starting
# Python, so `edgedoctor explain "text"` would be slow to start. The validated matrix (entries, problems, each
# signature's literal prefilter) is kept in the user cache folder as JSON, keyed by a hash of the matrix files'
# bytes, this module's source and the Python version; patterns are then compiled only when their literals
# occur in the text. Any failure to read or write it (read-only or full disk, no home folder, two runs at
# once, a corrupt file) only means the matrix is built from its files; writes are atomic renames.

CACHE_ENV = "EDGEDOCTOR_NO_MATRIX_CACHE"  # set to 1: never read or write the compiled cache
_CACHE_FORMAT = 2  # 2: with "mac", the data sealed with this user's key


def _source_key(folder: Path) -> Optional[str]:
    """A hash of everything the loaded matrix depends on, or None when the cache is off."""
    import os
    import sys

    if os.environ.get(CACHE_ENV, "").strip() not in ("", "0"):
        return None
    import hashlib

    digest = hashlib.sha256(f"{_CACHE_FORMAT} {sys.version_info[:2]} {folder}".encode())
    try:
        digest.update(Path(__file__).read_bytes())
        digest.update(Path(signatures.__file__).read_bytes())  # widths and groups are the analysis's
    except OSError:
        return None
    for path in [folder / "causes.toml"] + sorted((folder / "entries").glob("*.toml")):
        try:
            data = path.read_bytes()
        except OSError:
            data = b"\0unreadable"
        digest.update(f"\0{path.name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _cache_file(key: str, folder: Path) -> Optional[Path]:
    """<user cache>/matrix/compiled-<folder hash>-<key>.json: one file per matrix folder (older ones go)."""
    import hashlib

    try:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("edgedoctor", appauthor=False))
    except Exception:  # no platformdirs, no home folder: no cache
        return None
    if not base.is_absolute():  # HOME unset and no password entry: "~/.cache" would be under the cwd
        return None
    where = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return base / "matrix" / f"compiled-{where}-{key[:24]}.json"


def _read_compiled(folder: Path, key: str) -> Optional[Matrix]:
    """The compiled matrix, if its file is there, made from these matrix files (its key) and unchanged since
    this user wrote it (its MAC, keyed with a secret only this user can read: an edited or planted cache file,
    which once showed its own remedies and ran its own signatures, is not used)."""
    import json

    path = _cache_file(key, folder)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        mac = str(data.pop("mac"))
        secret = _cache_secret(path.parent, create=False)
        if secret is None or not _mac_ok(secret, _sealed(data), mac.encode("ascii")):
            return None
        if data.get("key") != key:
            return None
        entries = [_entry_from_json(raw) for raw in data["entries"]]
        problems = [Problem(*raw) for raw in data["problems"]]
    except Exception:  # missing, unreadable, corrupt, or from another layout: build from the files
        return None
    return Matrix(entries, problems, folder)


def _sealed(data: Dict[str, Any]) -> bytes:
    """The bytes the MAC covers: the data in one canonical form."""
    import json

    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _mac_ok(secret: bytes, content: bytes, mac: bytes) -> bool:
    import hashlib
    import hmac

    return hmac.compare_digest(hmac.new(secret, content, hashlib.sha256).hexdigest().encode(), mac.strip())


def _cache_secret(folder: Path, create: bool) -> Optional[bytes]:
    """The random key of this user's compiled cache (`.secret`, mode 0600, in the cache folder): made on the
    first write; None when it is missing (and not to be made), not a regular file of ours, or readable by others."""
    import os
    import stat

    path = folder / ".secret"
    if create and not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(os.urandom(32))
        except FileExistsError:
            pass
        except OSError:
            return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_mode & 0o077
            or (hasattr(os, "getuid") and info.st_uid != os.getuid())
        ):
            return None
        secret = os.read(fd, 64)
    finally:
        os.close(fd)
    return secret if len(secret) >= 16 else None


def _write_compiled(table: Matrix, key: str) -> None:
    import json
    import os
    import tempfile

    path = _cache_file(key, table.folder)
    if path is None:
        return
    data = {
        "key": key,
        "entries": [_entry_to_json(e) for e in table.entries],
        "problems": [[p.file, p.entry, p.field, p.message] for p in table.problems],
    }
    try:
        import hashlib
        import hmac

        path.parent.mkdir(parents=True, exist_ok=True)
        secret = _cache_secret(path.parent, create=True)
        if secret is None:
            return
        mac = hmac.new(secret, _sealed(data), hashlib.sha256).hexdigest()
        handle, temp = tempfile.mkstemp(prefix=".compiled-", suffix=".tmp", dir=str(path.parent))
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(dict(data, mac=mac), out)
            os.replace(temp, path)
            for old in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*.json"):
                if old != path:  # compiled from an earlier state of the same matrix folder
                    try:
                        old.unlink()
                    except OSError:
                        pass
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except (OSError, TypeError, ValueError):  # read-only, full, or odd values: the cache is only a cache
        pass


def _entry_to_json(entry: Entry) -> Dict[str, Any]:
    return {
        "id": entry.id,
        "cause": entry.cause,
        "title": entry.title,
        "explanation": entry.explanation,
        "remedy": entry.remedy,
        "references": entry.references,
        "severity": entry.severity,
        "confidence": entry.confidence,
        "examples": entry.examples,
        "when": entry.when,
        "require_facts": entry.require_facts,
        "file": entry.file,
        "verification": entry.verification,
        "as_of": entry.as_of,
        "signatures": [[s.pattern, [list(g) for g in s.groups], s.width, s.whole_block] for s in entry.signatures],
    }


def _entry_from_json(raw: Dict[str, Any]) -> Entry:
    signatures = []
    for pattern, groups, width, whole_block in raw["signatures"]:
        groups = tuple(tuple(str(x) for x in g) for g in groups)
        signatures.append(
            Signature(
                str(pattern),
                None,
                groups[0] if groups else None,
                groups,
                None if width is None else int(width),
                bool(whole_block),
            )
        )
    return Entry(
        id=str(raw["id"]),
        cause=str(raw["cause"]),
        title=str(raw["title"]),
        explanation=str(raw["explanation"]),
        remedy=dict(raw["remedy"]),
        references=list(raw["references"]),
        severity=str(raw["severity"]),
        confidence=float(raw["confidence"]),
        signatures=signatures,
        examples=list(raw["examples"]),
        when=dict(raw["when"]),
        require_facts=bool(raw["require_facts"]),
        file=str(raw["file"]),
        verification=dict(raw["verification"]),
        as_of=raw["as_of"],
    )


def read_blocks(stream, block_size: int = 1 << 20) -> Iterator[str]:
    """Text blocks of about `block_size` bytes ending at line ends, from a binary stream; invalid UTF-8 is
    replaced, so any log can be scanned with flat memory. See `read_chunks`."""
    for chunk in read_chunks(stream, block_size):
        yield chunk.decode("utf-8", "replace")


def read_chunks(stream, size: int) -> Iterator[bytes]:
    """Chunks of about `size` bytes ending at line ends, from a binary stream. A line longer than a chunk
    (binary data, a minified dump) is cut into pieces of about `size` bytes, at a UTF-8 character boundary. A
    stream that breaks off (a truncated gzip) raises, after every byte read before the break has been
    yielded."""
    pending = b""
    while True:
        chunk, error = read_upto(stream, size)
        if chunk:
            if pending:
                chunk = pending + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut == 0 or len(chunk) - cut > size:
                cut = _char_boundary(chunk, len(chunk))  # one enormous line: scan it in pieces
            pending = chunk[cut:]
            if cut:
                yield chunk[:cut]
        if error is not None:
            if pending:
                yield pending
            raise error
        if not chunk:
            break
    if pending:
        yield pending


def read_upto(stream, size: int):
    """(up to `size` bytes, the error that ended the stream or None). Reads with `read1` where the stream has
    it, so a stream that breaks off (a truncated or corrupt gzip) gives up what it decoded before the break
    instead of losing a whole `read(size)`."""
    parts: List[bytes] = []
    got = 0
    reader = getattr(stream, "read1", None) or stream.read
    while got < size:
        try:
            chunk = reader(size - got)
        except Exception as exc:  # EOFError, OSError (gzip.BadGzipFile), zlib.error, ...
            return b"".join(parts), exc
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts), None


def _char_boundary(data: bytes, end: int) -> int:
    """The last index <= end that does not split a UTF-8 sequence (a cut there loses no character)."""
    at = end
    while at > 0 and end - at < 3 and 0x80 <= data[at - 1] < 0xC0:  # continuation bytes
        at -= 1
    if at > 0 and data[at - 1] >= 0xC0:  # the lead byte: is its sequence complete before `end`?
        lead = data[at - 1]
        need = 4 if lead >= 0xF0 else 3 if lead >= 0xE0 else 2
        if end - (at - 1) < need:
            return at - 1
    return end


def known_causes(folder: Optional[Path] = None) -> Dict[str, str]:
    folder = Path(folder) if folder else datafiles.matrix_dir()
    try:
        return {k: v.get("summary", "") for k, v in (load_toml(folder / "causes.toml").get("cause") or {}).items()}
    except (OSError, ValueError):
        return {}


def validate(folder: Optional[Path] = None) -> List[Problem]:
    """Every problem `matrix validate` reports: schema, regexes, cause codes, examples, duplicate ids."""
    folder = Path(folder) if folder else datafiles.matrix_dir()
    _load_cached.cache_clear()
    table = _build(folder.resolve())  # validated from the files themselves, never from the compiled cache
    key = _source_key(folder.resolve())
    if key:
        _write_compiled(table, key)
    return list(table.problems) + slow_entries(table)


def slow_entries(
    table: "Matrix", size: int = signatures.CRAFTED_SIZE, limit: float = signatures.CRAFTED_LIMIT
) -> List[Problem]:
    """Entries whose search is not linear in the text. A signature with a repeat inside a repeat of varying
    count is named outright (it backtracks exponentially); every other entry is scanned over texts built from
    its own literals (see `signatures.crafted_texts`), and one that takes longer than `limit` seconds on
    `size` characters is named with its time. A backtracking search takes seconds there, a linear one
    milliseconds."""
    found = []
    nested = set()
    for entry in table.entries:
        for index, sig in enumerate(entry.signatures):
            if signatures.nested_repeat(sig.pattern):
                nested.add(entry.id)
                found.append(
                    Problem(
                        entry.file,
                        entry.id,
                        f"signatures[{index}]",
                        "a repeat inside a repeat of varying count backtracks exponentially; write it with one repeat",
                    )
                )
    for entry, seconds in entry_times(table, size, limit=limit, skip=nested):
        if seconds > limit:
            took = f"took {seconds:.2f} s" if seconds != float("inf") else f"was stopped after {2 * limit} s"
            found.append(
                Problem(
                    entry.file,
                    entry.id,
                    "signatures",
                    f"{took} on {size // 1024} KB of text made of its own literals "
                    f"(limit {limit} s): the search is not linear in the text; bound its repeats",
                )
            )
    return found


class _OverBudget(Exception):
    pass


def _timed(scan, seconds: float) -> float:
    """How long `scan()` takes, or infinity when it is stopped after `seconds` (the regex engine heeds signals,
    so a timer interrupts it; without one, on another thread or OS, it runs to its end)."""
    import signal
    import time

    armed = False
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():

        def stop(signum, frame):
            raise _OverBudget()

        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        armed = True
    began = time.perf_counter()
    try:
        scan()
        return time.perf_counter() - began
    except _OverBudget:
        return float("inf")
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def entry_times(
    table: "Matrix",
    size: int = signatures.CRAFTED_SIZE,
    screen: bool = True,
    limit: float = signatures.CRAFTED_LIMIT,
    skip=(),
):
    """(entry, worst seconds over its crafted texts of `size` characters) for each text entry; a scan is stopped
    after twice `limit` (infinity then). With `screen`, an entry that takes under 5 ms on an eighth of that size
    is not timed again at the full size (it is reported with the eighth's time times eight), which keeps the
    check cheap where nothing is wrong."""

    def worst(single: "Matrix", patterns: List[str], length: int) -> float:
        slowest = 0.0
        for text in signatures.crafted_texts(patterns, length):
            slowest = max(slowest, _timed(lambda text=text: single.first_hits([text]), 2 * limit))
            if slowest == float("inf"):
                break
        return slowest

    for entry in table.entries:
        if not entry.signatures or entry.id in skip:
            continue
        single = Matrix([entry], [], table.folder)
        patterns = [sig.pattern for sig in entry.signatures]
        key = (tuple(patterns), size, screen, limit)
        known = _TIMED.get(key)
        if known is not None:  # the time is the patterns': measured once per process
            yield entry, known
            continue
        seconds = worst(single, patterns, max(1, size // 8)) if screen else 0.0
        if screen and seconds < 0.005:
            seconds *= 8
        else:
            seconds = worst(single, patterns, size)
        _TIMED[key] = seconds
        yield entry, seconds


_TIMED: Dict[tuple, float] = {}
