"""The curated compatibility matrix: load and validate `matrix/`, match error texts and Facts to entries.

Data lives in `matrix/entries/*.toml` (format: `matrix/SCHEMA.md`); this module holds no Coral knowledge of
its own. Loading is tolerant: an entry with a bad field is left out and named in `Matrix.problems`, so
`check` still runs with what is valid while `edgedoctor matrix validate` reports the file, entry and field.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from edgedoctor import datafiles


def load_toml(path) -> Dict[str, Any]:
    """tomllib is imported only when a matrix file is parsed (not when the matrix comes from the cache)."""
    from edgedoctor.tomlcompat import load_toml as _load_toml

    return _load_toml(path)

try:  # Python 3.11+
    import re._parser as _sre_parse  # type: ignore[import-not-found]
    import re._constants as _sre_c  # type: ignore[import-not-found]
except ImportError:  # Python 3.9, 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

FLAGS = re.IGNORECASE | re.MULTILINE
SEVERITIES = ("fail", "warn", "info")
LIST_KEYS = {"os", "arch", "link", "device", "usb_state", "board", "runtime_release", "runtime_package",
             "pycoral_identity", "page_size"}
BOOL_KEYS = {"container", "runtime_found", "require_facts"}
SPEC_KEYS = {"python", "tflite_runtime", "ai_edge_litert", "tensorflow", "pycoral", "numpy", "kernel",
             "runtime_version"}
RUNTIME_KEYS = {"runtime_version", "runtime_release", "runtime_package"}
STACK_KEYS = {"tflite_runtime", "ai_edge_litert", "tensorflow", "pycoral", "numpy", "python"}
CONDITION_KEYS = LIST_KEYS | SPEC_KEYS | {"container", "runtime_found"}
ENTRY_KEYS = {"id", "cause", "title", "severity", "confidence", "signatures", "explanation", "remedy",
              "references", "examples", "when", "require_facts"}
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


class Signature:
    """One signature: its pattern, compiled (lazily, when loaded from the cache), and its literal prefilter.

    `literals`: one of these (lower-case) is in any text the pattern matches; None: no prefilter.
    `groups`: every group holds literals (lower-case) one of which is in any text the pattern matches; the
    first is the most selective. `width`: the longest text a match can span (None: unbounded).
    `whole_block`: the pattern looks at the start or end of the text (\\A, \\Z), so it is searched over the
    whole block rather than around its literals."""

    __slots__ = ("pattern", "_regex", "literals", "groups", "width", "whole_block")

    def __init__(self, pattern: str, regex: "Optional[re.Pattern[str]]" = None,
                 literals: Optional[Tuple[str, ...]] = None, groups: Tuple[Tuple[str, ...], ...] = (),
                 width: Optional[int] = None, whole_block: bool = False):
        self.pattern = pattern
        self._regex = regex
        self.literals = literals
        self.groups = groups
        self.width = width
        self.whole_block = whole_block

    @classmethod
    def build(cls, pattern: str) -> "Signature":
        """Compile a pattern and work out its literal prefilter (raises re.error when it does not compile)."""
        regex = re.compile(pattern, FLAGS)
        groups, width, whole_block = analyse(pattern)
        return cls(pattern, regex, groups[0] if groups else None, groups, width, whole_block)

    @property
    def regex(self) -> "re.Pattern[str]":
        if self._regex is None:
            self._regex = re.compile(self.pattern, FLAGS)
        return self._regex

    def __repr__(self) -> str:
        return f"Signature({self.pattern!r}, literals={self.literals!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signature) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


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

    @property
    def is_fact_entry(self) -> bool:
        return not self.signatures

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
            "explanation": self.entry.explanation,
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

MIN_LITERAL = 3
MAX_WINDOW = 1 << 16  # chars around an anchor literal searched for patterns of unbounded width
CARRY = 1 << 14       # chars of the previous block scanned again with the next (matches across a cut)
_UNBOUNDED = 1 << 30
_FOLD_SPECIAL = re.compile("[\u0130\u0131\u017f\u212a]")  # İ ı ſ K: IGNORECASE-equal to i i s k
_FOLD_MAP = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_POSSESSIVE = getattr(_sre_c, "POSSESSIVE_REPEAT", None)
_ATOMIC = getattr(_sre_c, "ATOMIC_GROUP", None)
_STRING_EDGES = (_sre_c.AT_BEGINNING_STRING, _sre_c.AT_END_STRING)


def required_literals(pattern: str) -> Optional[Tuple[str, ...]]:
    """Literal strings one of which every match must contain (lower-cased), or None when none can be found.

    Lets a scan skip the regex on blocks that cannot match, which is what keeps `explain` fast on big logs.
    """
    groups, _, _ = analyse(pattern)
    return groups[0] if groups else None


def analyse(pattern: str) -> Tuple[Tuple[Tuple[str, ...], ...], Optional[int], bool]:
    """(groups, width, whole_block) of a pattern; see `Signature`. A pattern that does not parse has none."""
    try:
        parsed = _sre_parse.parse(pattern, FLAGS)
    except re.error:
        return (), None, True
    groups = {tuple(sorted(g)) for g in _groups(list(parsed)) if min(map(len, g)) >= MIN_LITERAL}
    ordered = tuple(sorted(groups, key=lambda g: (-min(map(len, g)), len(g), g)))
    try:
        high = parsed.getwidth()[1]
    except (OverflowError, ValueError, TypeError):  # pragma: no cover - very old or odd patterns
        high = _UNBOUNDED
    width = None if high >= _UNBOUNDED else int(high)
    return ordered, width, _touches_string_edges(parsed)


def _groups(items) -> List[set]:
    """Literal groups every match of this sequence must contain (each: a set of alternatives, lower-case)."""
    found: List[set] = []
    run: List[str] = []

    def flush() -> None:
        if len(run) >= MIN_LITERAL:
            found.append({"".join(run).lower()})
        run.clear()

    for op, av in items:
        if op is _sre_c.LITERAL and av < 128:
            run.append(chr(av))
            continue
        flush()
        if op is _sre_c.SUBPATTERN:
            found.extend(_groups(list(av[-1])))
        elif _ATOMIC is not None and op is _ATOMIC:
            found.extend(_groups(list(av)))
        elif op is _sre_c.BRANCH:
            alternatives = [_best(_groups(list(branch))) for branch in av[1]]
            if alternatives and all(alternatives):
                found.append(set().union(*alternatives))
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, _POSSESSIVE) and av[0] >= 1:
            found.extend(_groups(list(av[2])))
    flush()
    return found


def _best(groups: List[set]) -> Optional[set]:
    usable = [g for g in groups if min(map(len, g)) >= MIN_LITERAL]
    return max(usable, key=lambda g: (min(map(len, g)), -len(g))) if usable else None


def _touches_string_edges(items) -> bool:
    for op, av in items:
        if op is _sre_c.AT and av in _STRING_EDGES:
            return True
        for part in (av if isinstance(av, (tuple, list)) else (av,)):
            if isinstance(part, _sre_parse.SubPattern) and _touches_string_edges(list(part)):
                return True
            if isinstance(part, (tuple, list)) and any(isinstance(x, _sre_parse.SubPattern) for x in part):
                if any(_touches_string_edges(list(x)) for x in part if isinstance(x, _sre_parse.SubPattern)):
                    return True
    return False


def _fold(text: str) -> str:
    """Lower-case `text` for the literal prefilter, index for index (positions stay those of `text`)."""
    if text.isascii():
        return text.lower()
    if _FOLD_SPECIAL.search(text):
        text = text.translate(_FOLD_MAP)
    return text.lower()


class _Presence:
    """Which literals a block holds; each one looked for once per block."""

    __slots__ = ("text", "known")

    def __init__(self, lowered: str):
        self.text = lowered
        self.known: Dict[str, bool] = {}

    def has(self, literal: str) -> bool:
        found = self.known.get(literal)
        if found is None:
            found = self.known[literal] = literal in self.text
        return found

    def any(self, group: Tuple[str, ...]) -> bool:
        return any(self.has(literal) for literal in group)


def _occurrences(lowered: str, group: Tuple[str, ...]) -> Iterator[Tuple[int, int]]:
    """(start, end) of every occurrence of the group's literals in `lowered`, in order."""
    def each(literal: str) -> Iterator[Tuple[int, int]]:
        at = lowered.find(literal)
        while at >= 0:
            yield at, at + len(literal)
            at = lowered.find(literal, at + 1)

    if len(group) == 1:
        return each(group[0])
    return heapq.merge(*(each(literal) for literal in group))


def _count(lowered: str, literal: str, cap: int = 32) -> int:
    """How often `literal` occurs in `lowered`, counting no further than `cap`."""
    found, at = 0, lowered.find(literal)
    while at >= 0 and found < cap:
        found += 1
        at = lowered.find(literal, at + 1)
    return found


def _search(sig: Signature, text: str, lowered: Optional[str]) -> "Optional[re.Match[str]]":
    """The first match of `sig` in `text`, looked for only around the occurrences of its anchor literals.

    A match contains an occurrence of every group's literal, so searching `width` characters either side of
    each occurrence of the first group finds the first match exactly for patterns of bounded width; for
    unbounded ones (`.*` across lines) matches stay within MAX_WINDOW characters of the anchor."""
    if sig.whole_block or not sig.groups or lowered is None:
        return sig.regex.search(text)
    reach = sig.width if sig.width is not None and sig.width <= MAX_WINDOW else MAX_WINDOW
    size = len(text)
    anchor = sig.groups[0]
    if len(sig.groups) > 1:  # the group that occurs least often in this block: fewest windows to search
        anchor = min(sig.groups, key=lambda group: sum(_count(lowered, literal) for literal in group))
    window_start = window_end = -1
    for start, end in _occurrences(lowered, anchor):
        low, high = max(0, end - reach), min(size, start + reach)
        if window_end >= 0 and low <= window_end:
            window_end = max(window_end, high)
            continue
        if window_end >= 0:
            found = _search_window(sig, text, window_start, window_end)
            if found:
                return found
        window_start, window_end = low, high
        if window_start == 0 and window_end == size:
            return sig.regex.search(text)
    if window_end >= 0:
        return _search_window(sig, text, window_start, window_end)
    return None


def _search_window(sig: Signature, text: str, start: int, end: int) -> "Optional[re.Match[str]]":
    if end < len(text):
        newline = text.find("\n", end, end + 4096)  # end the window at a line end: `$` and `\b` behave
        end = newline if newline >= 0 else end
    if start > 0:
        newline = text.rfind("\n", max(0, start - 4096), start)
        start = newline + 1 if newline >= 0 else start
    at = start
    while at <= end:
        found = sig.regex.search(text, at, end)
        if found is None:
            return None
        # A match that touches the window's end might only hold because the text seemed to end there.
        if found.end() < end or end == len(text) or sig.regex.match(text, found.start()):
            return found
        at = found.start() + 1
    return None


# --- loading and validation -------------------------------------------------------------------------------


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
        if not isinstance(raw.get(key), str) or not raw.get(key).strip():
            bad(key, "missing or empty")
    severity = raw.get("severity", "fail")
    if severity not in SEVERITIES:
        bad("severity", f"must be one of {', '.join(SEVERITIES)}")
    confidence = raw.get("confidence", 0.6)
    if not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        bad("confidence", "must be a number from 0 to 1")
    remedy = raw.get("remedy")
    if not isinstance(remedy, dict) or not remedy or set(remedy) - REMEDY_KEYS or not all(
            isinstance(v, str) and v.strip() for v in remedy.values()):
        bad("remedy", f"must be a table with keys from {sorted(REMEDY_KEYS)} and text values")
    references = raw.get("references")
    if not isinstance(references, list) or not references or not all(
            isinstance(r, str) and re.match(r"https?://", r) for r in references):
        bad("references", "must list at least one http(s) URL")
    signatures: List[Signature] = []
    for index, pattern in enumerate(raw.get("signatures") or []):
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
    if len(problems) > start:
        return None
    entry = Entry(id=entry_id, cause=cause, title=raw["title"].strip(), explanation=raw["explanation"].strip(),
                  remedy={k: v.strip() for k, v in remedy.items()}, references=list(references),
                  severity=severity, confidence=float(confidence), signatures=signatures,
                  examples=[str(e) for e in examples], when=dict(when),
                  require_facts=bool(raw.get("require_facts", False)), file=file)
    for index, example in enumerate(entry.examples):
        if not any(sig.regex.search(_normalise(example)) for sig in entry.signatures):
            bad(f"examples[{index}]", "does not match any of the entry's signatures")
    return entry


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
    def match(self, text: str, facts: Optional[Dict[str, Any]] = None, limit: int = 10) -> List[Match]:
        """Entries whose signatures match `text`, ranked by confidence given the flat `facts` view."""
        return self.scan([text], facts, limit)

    def scan(self, blocks: Iterable[str], facts: Optional[Dict[str, Any]] = None, limit: int = 10) -> List[Match]:
        """Like `match`, over text that arrives in blocks (a streamed log). Blocks should end at line ends.

        Memory stays flat: one block (plus CARRY characters of the one before) at a time. Each entry is
        reported with its first match; reading stops once every text entry has matched."""
        hits: Dict[str, Tuple[Entry, str, int]] = {}
        pending = [(entry, sig) for entry in self.entries for sig in entry.signatures]
        carry = ""
        for block in blocks:
            if not pending:
                break
            text = _normalise(carry + block if carry else block)
            lowered: Optional[str] = _fold(text)
            if len(lowered) != len(text):  # pragma: no cover - a case mapping that changes length
                lowered = None
            present = _Presence(lowered if lowered is not None else text.lower())
            for entry, sig in pending:
                if entry.id in hits:
                    continue
                if not all(present.any(group) for group in sig.groups):
                    continue
                found = _search(sig, text, lowered)
                if found:
                    hits[entry.id] = (entry, _context(text, found), found.end() - found.start())
            pending = [(entry, sig) for entry, sig in pending if entry.id not in hits]
            carry = text[-CARRY:] if len(text) > CARRY else text
        return self._rank(hits.values(), facts or {}, limit)

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
            match = Match(entry, confidence, context, [f"{k}: {v}" for k, v in satisfied],
                          [f"{k}: {v}" for k, v in contradicted])
            ranked.append((confidence + specificity, -order[entry.id], match))
        ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [item[2] for item in ranked[:limit]]

    def combination_matches(self, facts: Dict[str, Any]) -> List[Match]:
        """Entries that name a version combination (a runtime condition and a Python-stack condition in
        `when`) which holds entirely for these facts: known-bad before anything fails, text or not."""
        found = []
        for entry in self.entries:
            keys = set(entry.when)
            if not (keys & RUNTIME_KEYS and keys & STACK_KEYS):
                continue
            satisfied, contradicted, unknown = evaluate(entry.when, facts)
            if satisfied and not contradicted and not unknown:
                found.append(Match(entry, min(0.99, entry.confidence + 0.05 * len(satisfied)), None,
                                   [f"{k}: {v}" for k, v in satisfied]))
        found.sort(key=lambda m: m.confidence, reverse=True)
        return found

    def fact_matches(self, facts: Dict[str, Any]) -> List[Match]:
        """Fact entries (no signatures) whose every condition is known and holds."""
        found = []
        for entry in self.entries:
            if not entry.is_fact_entry:
                continue
            satisfied, contradicted, unknown = evaluate(entry.when, facts)
            if satisfied and not contradicted and not unknown:
                found.append(Match(entry, min(0.99, entry.confidence + 0.05 * len(satisfied)), None,
                                   [f"{k}: {v}" for k, v in satisfied]))
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
        snippet = snippet[max(0, middle - 150): middle + 250].strip()
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


def load(folder: Optional[Path] = None) -> Matrix:
    folder = Path(folder) if folder else datafiles.matrix_dir()
    return _load_cached(str(folder.resolve()))


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
_CACHE_FORMAT = 1


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
    except OSError:
        return None
    for path in [folder / "causes.toml"] + sorted((folder / "entries").glob("*.toml")):
        try:
            data = path.read_bytes()
        except OSError:
            data = b"\0unreadable"
        digest.update(f"\0{path.name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _cache_file(key: str) -> Optional[Path]:
    try:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("edgedoctor", appauthor=False))
    except Exception:  # no platformdirs, no home folder: no cache
        return None
    if not base.is_absolute():  # HOME unset and no password entry: "~/.cache" would be under the cwd
        return None
    return base / "matrix" / f"compiled-{key[:32]}.json"


def _read_compiled(folder: Path, key: str) -> Optional[Matrix]:
    import json

    path = _cache_file(key)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        entries = [_entry_from_json(raw) for raw in data["entries"]]
        problems = [Problem(*raw) for raw in data["problems"]]
    except Exception:  # missing, unreadable, corrupt, or from another layout: build from the files
        return None
    return Matrix(entries, problems, folder)


def _write_compiled(table: Matrix, key: str) -> None:
    import json
    import os
    import tempfile

    path = _cache_file(key)
    if path is None:
        return
    data = {"key": key, "entries": [_entry_to_json(e) for e in table.entries],
            "problems": [[p.file, p.entry, p.field, p.message] for p in table.problems]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".compiled-", suffix=".tmp", dir=str(path.parent))
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except (OSError, TypeError, ValueError):  # read-only, full, or odd values: the cache is only a cache
        pass


def _entry_to_json(entry: Entry) -> Dict[str, Any]:
    return {"id": entry.id, "cause": entry.cause, "title": entry.title, "explanation": entry.explanation,
            "remedy": entry.remedy, "references": entry.references, "severity": entry.severity,
            "confidence": entry.confidence, "examples": entry.examples, "when": entry.when,
            "require_facts": entry.require_facts, "file": entry.file,
            "signatures": [[s.pattern, [list(g) for g in s.groups], s.width, s.whole_block]
                           for s in entry.signatures]}


def _entry_from_json(raw: Dict[str, Any]) -> Entry:
    signatures = []
    for pattern, groups, width, whole_block in raw["signatures"]:
        groups = tuple(tuple(str(x) for x in g) for g in groups)
        signatures.append(Signature(str(pattern), None, groups[0] if groups else None, groups,
                                    None if width is None else int(width), bool(whole_block)))
    return Entry(id=str(raw["id"]), cause=str(raw["cause"]), title=str(raw["title"]),
                 explanation=str(raw["explanation"]), remedy=dict(raw["remedy"]),
                 references=list(raw["references"]), severity=str(raw["severity"]),
                 confidence=float(raw["confidence"]), signatures=signatures, examples=list(raw["examples"]),
                 when=dict(raw["when"]), require_facts=bool(raw["require_facts"]), file=str(raw["file"]))


def read_blocks(stream, block_size: int = 1 << 20) -> Iterator[str]:
    """Text blocks of about `block_size` bytes ending at line ends, from a binary stream; invalid UTF-8 is
    replaced, so any log can be scanned with flat memory. A line longer than a block (binary data, a
    minified dump) is cut into pieces of about `block_size` bytes, at a character boundary."""
    pending = b""
    while True:
        chunk = stream.read(block_size)
        if not chunk:
            break
        if pending:
            chunk = pending + chunk
        cut = chunk.rfind(b"\n") + 1
        if cut == 0 or len(chunk) - cut > block_size:
            cut = _char_boundary(chunk, len(chunk))  # one enormous line: scan it in pieces
        if cut == 0:
            pending = chunk
            continue
        pending = chunk[cut:]
        yield chunk[:cut].decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


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
    return list(table.problems)
