"""Signatures and the search engine behind the matrix: a regex signature, the literals every match must hold
(so most text is skipped without running the regex), and the windowed searches around those literals.

Knows nothing about Coral or the matrix's data: `edgedoctor.matrix` builds Signatures from entries and scans
text blocks with them.
"""

from __future__ import annotations

import bisect
import heapq
import re
from typing import Any, Iterator, List, Optional, Tuple

from edgedoctor.matrix.wordindex import Presence

try:  # Python 3.11+
    import re._compiler as _sre_compile
    import re._constants as _sre_c
    import re._parser as _sre_parse
except ImportError:  # Python 3.9, 3.10
    import sre_compile as _sre_compile  # type: ignore[no-redef,unused-ignore]
    import sre_constants as _sre_c  # type: ignore[no-redef,unused-ignore]
    import sre_parse as _sre_parse  # type: ignore[no-redef,unused-ignore]


FLAGS = re.IGNORECASE | re.MULTILINE

# Words that nearly every Coral/Edge TPU text holds, and that ordinary logs rarely do.
CONTEXT_WORDS = (
    "edgetpu",
    "edge tpu",
    "edge_tpu",
    "coral",
    "apex",
    "gasket",
    "tflite",
    "1a6e",
    "18d1",
    "089a",
    "9302",
    "unichip",
    "darwinn",
)


class Signature:
    """One signature: its pattern, compiled (lazily, when loaded from the cache), and its literal prefilter.

    `literals`: one of these (lower-case) is in any text the pattern matches; None: no prefilter.
    `groups`: every group holds literals (lower-case) one of which is in any text the pattern matches; the
    first is the most selective. `width`: the longest text a match can span (None: unbounded).
    `whole_block`: the pattern looks at the start or end of the text (\\A, \\Z), so it is searched over the
    whole block rather than around its literals."""

    __slots__ = ("pattern", "_regex", "literals", "groups", "width", "whole_block", "_plan", "_needs_context")

    def __init__(
        self,
        pattern: str,
        regex: "Optional[re.Pattern[str]]" = None,
        literals: Optional[Tuple[str, ...]] = None,
        groups: Tuple[Tuple[str, ...], ...] = (),
        width: Optional[int] = None,
        whole_block: bool = False,
    ):
        self.pattern = pattern
        self._regex = regex
        self.literals = literals
        self.groups = groups
        self.width = width
        self.whole_block = whole_block
        self._plan: Optional[_Plan] = None
        self._needs_context: Optional[bool] = None

    @property
    def needs_context(self) -> bool:
        """Every text it matches holds one of CONTEXT_WORDS (a group whose literals all contain one): a block
        without any of them is skipped with one cheap look instead of a search per literal."""
        if self._needs_context is None:
            self._needs_context = any(
                all(any(word in literal for word in CONTEXT_WORDS) for literal in group) for group in self.groups
            )
        return self._needs_context

    @classmethod
    def build(cls, pattern: str) -> "Signature":
        """Compile a pattern and work out its literal prefilter (raises re.error when it does not compile)."""
        try:
            re.compile(pattern, FLAGS)  # the error message of the pattern as written
            regex = compile_pattern(pattern)
        except (OverflowError, RecursionError, ValueError) as exc:  # `a{99999999999}`, absurd nesting
            raise re.error(f"{type(exc).__name__}: {exc}") from None
        groups, width, whole_block = analyse(pattern)
        return cls(pattern, regex, groups[0] if groups else None, groups, width, whole_block)

    @property
    def plan(self) -> "_Plan":
        """How to search for it cheaply (worked out on first use, so loading stays fast)."""
        if self._plan is None:
            self._plan = _make_plan(self.pattern, only_lead_in=self.whole_block)
        return self._plan

    @property
    def regex(self) -> "re.Pattern[str]":
        if self._regex is None:
            self._regex = compile_pattern(self.pattern)
        return self._regex

    def __repr__(self) -> str:
        return f"Signature({self.pattern!r}, literals={self.literals!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signature) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)


MIN_LITERAL = 3
MAX_WINDOW = 1 << 16  # chars around an anchor literal searched for patterns of unbounded width
CARRY = 1 << 14  # chars of the previous block scanned again with the next (matches across a cut)
_UNBOUNDED = 1 << 30
_FOLD_SPECIAL = re.compile("[\u0130\u0131\u017f\u212a]")  # İ ı ſ K: IGNORECASE-equal to i i s k
_FOLD_MAP = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_POSSESSIVE = getattr(_sre_c, "POSSESSIVE_REPEAT", None)
_ATOMIC = getattr(_sre_c, "ATOMIC_GROUP", None)
_STRING_EDGES = (_sre_c.AT_BEGINNING_STRING, _sre_c.AT_END_STRING)


GAP_SPLIT = 32  # a gap of any text longer than this is searched as the pieces either side of it
REPEAT_CAP = 256  # an unbounded repeat of anything but "any text" (`\\w+`, `\\s*`, `[^"]*`) matches this many at most
SMALL_BLOCK = 2048  # a text this short is searched with the whole regex (exact, and cheap at that size)
MAX_BACKREF_VALUES = 64  # distinct values of a group a later piece refers back to, tried per block


def parse(pattern: str):
    """The parsed pattern with every unbounded repeat capped at REPEAT_CAP, except the runs of any text that
    the search handles by splitting (top-level gaps, and the lead-in's `(?![\\s\\S]*X)` and `[\\s\\S]*?`):
    no backtracking then costs more than a constant per place tried, so every search is linear in the text.
    Raises what `sre_parse.parse` raises."""
    parsed = _sre_parse.parse(pattern, FLAGS)
    dotall = bool(parsed.state.flags & re.DOTALL)
    items = list(parsed)
    if len(items) == 1 and items[0][0] is _sre_c.BRANCH:
        branches = [_sub(parsed.state, _capped(list(branch), dotall, True)) for branch in items[0][1][1]]
        parsed.data = [(_sre_c.BRANCH, (None, branches))]
    else:
        parsed.data = _capped(items, dotall, True)
    parsed.width = None
    return parsed


def compile_pattern(pattern: str) -> "re.Pattern[str]":
    """The regex of a signature, its unbounded repeats capped (see `parse`)."""
    return _sre_compile.compile(parse(pattern), FLAGS)


def _sub(state, items):
    return _sre_parse.SubPattern(state, list(items))


def _gap_like(item, dotall: bool) -> Optional[bool]:
    """For a single-character item: True if it matches any character, False if any but a newline, else None."""
    op, av = item
    if _is_any(item, dotall):
        return True
    if op is _sre_c.ANY or (op is _sre_c.NOT_LITERAL and av == 10):
        return False
    return None


def _gap(item, dotall: bool):
    """(minimum, maximum or None, crosses lines) of a run of any text (`.*`, `[\\s\\S]{0,600}?`), else None."""
    op, av = item
    if op not in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) or len(av[2]) != 1:
        return None
    lines = _gap_like(av[2][0], dotall)
    if lines is None:
        return None
    return av[0], (None if av[1] >= _sre_c.MAXREPEAT else int(av[1])), lines


def _capped(items, dotall: bool, top: bool = False, state=None) -> list:
    """`items` with unbounded repeats capped; at the top level, runs of any text are left for the search to
    split, and so is the `[\\s\\S]*` that opens a top-level negative lookahead (the lead-in idiom)."""
    out = []
    for op, av in items:
        if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) or (_POSSESSIVE is not None and op is _POSSESSIVE):
            low, high, inner = av
            if not (top and _gap((op, av), dotall) is not None):
                if high >= _sre_c.MAXREPEAT:
                    high = max(low, REPEAT_CAP)
                inner = _sub(inner.state, _capped(list(inner), dotall))
            out.append((op, (low, high, inner)))
        elif op is _sre_c.SUBPATTERN:
            group, add_flags, del_flags, inner = av
            inner_dotall = (dotall or bool(add_flags & re.DOTALL)) and not del_flags & re.DOTALL
            out.append((op, (group, add_flags, del_flags, _sub(inner.state, _capped(list(inner), inner_dotall)))))  # type: ignore[arg-type]
        elif op is _sre_c.BRANCH:
            out.append((op, (av[0], [_sub(b.state, _capped(list(b), dotall)) for b in av[1]])))  # type: ignore[arg-type]
        elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            inner = list(av[1])
            if top and op is _sre_c.ASSERT_NOT and inner and _any_run(inner[0], dotall, lazy=False):
                inner = [inner[0]] + _capped(inner[1:], dotall, True)
            else:
                inner = _capped(inner, dotall)
            out.append((op, (av[0], _sub(av[1].state, inner))))  # type: ignore[arg-type]
        elif _ATOMIC is not None and op is _ATOMIC:
            out.append((op, _sub(av.state, _capped(list(av), dotall))))
        else:
            out.append((op, av))
    return out


def required_literals(pattern: str) -> Optional[Tuple[str, ...]]:
    """Literal strings one of which every match must contain (lower-cased), or None when none can be found.

    Lets a scan skip the regex on blocks that cannot match, which is what keeps `explain` fast on big logs.
    """
    groups, _, _ = analyse(pattern)
    return groups[0] if groups else None


def analyse(pattern: str) -> Tuple[Tuple[Tuple[str, ...], ...], Optional[int], bool]:
    """(groups, width, whole_block) of a pattern; see `Signature`. A pattern that does not parse has none."""
    try:
        parsed = parse(pattern)
    except (re.error, OverflowError, RecursionError, ValueError):
        return (), None, True
    ordered = _literal_groups(list(parsed))
    try:
        high = parsed.getwidth()[1]
    except (OverflowError, ValueError, TypeError):  # pragma: no cover - very old or odd patterns
        high = _UNBOUNDED
    width = None if high >= _UNBOUNDED else int(high)
    return ordered, width, _touches_string_edges(parsed)


def _literal_groups(items) -> Tuple[Tuple[str, ...], ...]:
    """The groups of a parsed sequence, most selective first. Groups of literals of MIN_LITERAL characters
    or more come first; then, for what only two-character literals pin down (`\\bVM\\b`, `[A-Z]:\\\\`),
    groups holding such literals: weak alone, but the rarest group of a block is chosen as the search anchor,
    and one absent from a block rules the signature out there."""
    strong = {tuple(sorted(g)) for g in _groups(items) if min(map(len, g)) >= MIN_LITERAL}
    weak = {tuple(sorted(g)) for g in _groups(items, 2) if min(map(len, g)) == 2}
    return tuple(sorted(strong | weak, key=lambda g: (-min(map(len, g)), len(g), g)))


def _groups(items, minimum: int = MIN_LITERAL) -> List[set]:
    """Literal groups every match of this sequence must contain (each: a set of alternatives, lower-case),
    of literals of at least `minimum` characters."""
    found: List[set] = []
    run: List[str] = []

    def flush() -> None:
        if len(run) >= minimum:
            found.append({"".join(run).lower()})
        run.clear()

    for op, av in items:
        if op is _sre_c.LITERAL and av < 128:
            run.append(chr(av))
            continue
        flush()
        if op is _sre_c.SUBPATTERN:
            found.extend(_groups(list(av[-1]), minimum))
        elif _ATOMIC is not None and op is _ATOMIC:
            found.extend(_groups(list(av), minimum))
        elif op is _sre_c.BRANCH:
            alternatives = [_best(_groups(list(branch), minimum), minimum) for branch in av[1]]
            if alternatives and all(alternatives):
                found.append(set().union(*alternatives))  # type: ignore[arg-type]
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, _POSSESSIVE) and av[0] >= 1:
            found.extend(_groups(list(av[2]), minimum))
    flush()
    return found


def _best(groups: List[set], minimum: int = MIN_LITERAL) -> Optional[set]:
    usable = [g for g in groups if min(map(len, g)) >= minimum]
    return max(usable, key=lambda g: (min(map(len, g)), -len(g))) if usable else None


def _touches_string_edges(items) -> bool:
    """Whether a parsed pattern uses \\A or \\Z anywhere (in groups, branches, repeats, lookarounds)."""

    def nested(value) -> Iterator[Any]:
        if isinstance(value, _sre_parse.SubPattern):
            yield value
        elif isinstance(value, (tuple, list)):
            for part in value:
                yield from nested(part)

    for op, av in items:
        if op is _sre_c.AT and av in _STRING_EDGES:
            return True
        if any(_touches_string_edges(list(sub)) for sub in nested(av)):
            return True
    return False


def _fold(text: str) -> str:
    """Lower-case `text` for the literal prefilter, index for index (positions stay those of `text`)."""
    if text.isascii():
        return text.lower()
    if _FOLD_SPECIAL.search(text):
        text = text.translate(_FOLD_MAP)
    return text.lower()


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


SAMPLE = 1 << 16


def _estimate(lowered: str, literal: str) -> int:
    """About how often `literal` occurs in `lowered` (which holds it): counted in a sample at the start of a
    big block, so a literal that occurs once costs no pass over the block, and one that occurs on every line
    is told from one that occurs on every tenth. Only the choice of anchor depends on it, never what is found."""
    if len(lowered) <= 2 * SAMPLE:
        return _count(lowered, literal, 256)
    seen = lowered.count(literal, 0, SAMPLE)
    return max(1, seen * len(lowered) // SAMPLE)


def _count(lowered: str, literal: str, cap: int = 32) -> int:
    """How often `literal` occurs in `lowered`, counting no further than `cap`."""
    found, at = 0, lowered.find(literal)
    while at >= 0 and found < cap:
        found += 1
        at = lowered.find(literal, at + 1)
    return found


class _Plan:
    """`starts`: lower-case literals one of which every match begins with (the regex is then tried only where
    one occurs), or None. `lead_in`: for the `\\A(?![\\s\\S]*X)...[\\s\\S]*?REST` idiom ("no X anywhere, and REST
    somewhere"), the X parts and REST as signatures of their own, so each is searched the cheap way instead of
    running the whole pattern over the whole block; or None."""

    __slots__ = ("starts", "lead_in", "choices", "follow", "single_line", "_chain", "_chain_of")

    def __init__(
        self,
        starts: Optional[Tuple[str, ...]] = None,
        lead_in: Optional[Tuple[List[Signature], Signature]] = None,
        choices=(),
        follow=None,
        single_line: bool = False,
        chain: "Optional[_Chain]" = None,
        chain_of=None,
    ):
        self.starts = starts
        # Runs of any text (`A.*B`, `A[\\s\\S]{0,600}?B`): the pieces between them searched one after the other,
        # each from where the last one ended, so no piece is tried twice at one place; or None. With
        # `chain_of` ((parsed, items)), worked out on first use: most signatures never reach a big block.
        self._chain = chain
        self._chain_of = chain_of
        # No match can hold a newline (and no lookaround looks past one): only the lines of the anchor's
        # occurrences are searched, however wide the pattern (`fail\w*`, `[^\n]*`).
        self.single_line = single_line
        # `A[\\s\\S]{0,N}?B...`: (longest A, N, literals B begins with). A match at p needs one of them to
        # begin within the gap after A, which rules out most candidate places before the regex is tried.
        self.follow = follow
        self.lead_in = lead_in
        # Alternations every match goes through: per alternative, the literal groups any one of which its
        # text holds. The search picks, per block, the rarest group of each alternative for its anchor.
        self.choices = choices

    @property
    def chain(self) -> "Optional[_Chain]":
        if self._chain_of is not None:
            parsed, items = self._chain_of
            self._chain_of = None
            try:
                self._chain = _chain(parsed, items)
            except Exception:  # a shape the split does not follow: searched the windowed way
                self._chain = None
        return self._chain


MAX_STARTS = 32


def _make_plan(pattern: str, only_lead_in: bool = False) -> _Plan:
    """The plan of a pattern. `only_lead_in`: for a whole-block signature (\\A, \\Z), searched with its whole
    regex, whose plan serves only for its lead-in: nothing else is worked out (start-up)."""
    try:
        parsed = parse(pattern)
        items = list(parsed)
        if only_lead_in:
            return _Plan(lead_in=_lead_in(parsed, items))
        return _Plan(
            _starts(items),
            _lead_in(parsed, items),
            _choices(items),
            _follow(parsed, items),
            _single_line(parsed, items),
            chain_of=(parsed, items),
        )
    except Exception:  # a pattern our analysis does not follow: searched plainly, never wrongly
        return _Plan()


def _starts(items) -> Optional[Tuple[str, ...]]:
    expanded = _expand(items)
    if expanded is None:
        return None
    found, _ = expanded
    if not found or len(found) > MAX_STARTS or min(map(len, found)) < 2:
        return None
    return tuple(sorted(found))


def _expand(items, depth: int = 0):
    """(set of lower-case strings every match of `items` begins with, whether they are the whole of it)."""
    out = {""}
    for op, av in items:
        if op is _sre_c.AT or op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            continue  # zero width: no text of its own
        part = _expand_one(op, av, depth)
        if part is None:
            return (out, False) if all(out) else None
        strings, complete = part
        longer = {a + b for a in out for b in strings}
        if len(longer) > MAX_STARTS:  # too many ways on: the starts found so far, if long enough
            return (out, False) if min(map(len, out)) >= 2 else None
        out = longer
        if not complete or min(map(len, out)) >= 12:
            return out, False
    return out, True


def _expand_one(op, av, depth: int):
    if depth > 8:
        return None
    if op is _sre_c.LITERAL:
        return ({chr(av).lower()}, True) if av < 128 else None
    if op is _sre_c.IN:
        chars = set()
        for kind, value in av:
            if kind is not _sre_c.LITERAL or value >= 128:
                return None
            chars.add(chr(value).lower())
        return (chars, True) if 0 < len(chars) <= 4 else None
    if op is _sre_c.SUBPATTERN:
        return _expand(list(av[-1]), depth + 1)
    if op is _sre_c.BRANCH:
        union, complete = set(), True
        for branch in av[1]:
            part = _expand(list(branch), depth + 1)
            if part is None:
                return None
            union |= part[0]
            complete = complete and part[1]
        return union, complete
    if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[1] >= 1:
        inner = _expand(list(av[2]), depth + 1)
        if inner is None:
            return None
        strings, complete = inner
        if av[0] == 0 and av[1] == 1 and complete:  # optional: with it or without
            return strings | {""}, True
        if av[0] >= 1:  # at least once: its first time is part of every match
            return strings, complete and av[0] == av[1] == 1
    return None


def _choices(items, depth: int = 0) -> Tuple[Tuple[Tuple[Tuple[str, ...], ...], ...], ...]:
    """For each alternation on the path of every match: per alternative, its candidate literal groups."""
    found: list = []
    for op, av in items:
        if depth > 6:
            break
        if op is _sre_c.SUBPATTERN:
            found.extend(_choices(list(av[-1]), depth + 1))
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] >= 1:
            found.extend(_choices(list(av[2]), depth + 1))
        elif op is _sre_c.BRANCH:
            per_branch = []
            for branch in av[1]:
                branch = list(branch)
                candidates = {tuple(sorted(g)) for g in _groups(branch, 2)}
                starts = _starts(branch)
                if starts:
                    candidates.add(starts)
                for inner in _choices(branch, depth + 1):  # a nested alternation, resolved its cheapest way
                    if all(inner):
                        candidates.add(tuple(sorted({x for alternative in inner for x in alternative[0]})))
                if not candidates:
                    break
                per_branch.append(tuple(sorted(candidates)))
            else:
                if per_branch:
                    found.append(tuple(per_branch))
    return tuple(found)


def _follow(parsed, items):
    """(longest text before the gap, the gap's longest length, the literals after it begins with), or None."""
    dotall = bool(parsed.state.flags & re.DOTALL)
    for at, (op, av) in enumerate(items):
        if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and len(av[2]) == 1:
            inner = list(av[2])[0]
            gap_like = (
                _is_any(inner, dotall) or inner[0] is _sre_c.ANY or (inner[0] is _sre_c.NOT_LITERAL)
            )  # [\s\S], ., [^\n]: the gap lets anything (or almost) pass
            if not gap_like or av[0] != 0 or av[1] >= _UNBOUNDED or at == 0:
                return None
            before = _sre_parse.SubPattern(parsed.state, list(items[:at])).getwidth()[1]
            after = _starts(list(items[at + 1 :]))
            if before >= _UNBOUNDED or not after:
                return None
            return int(before), int(av[1]), after
        if op not in (_sre_c.LITERAL, _sre_c.AT, _sre_c.IN, _sre_c.SUBPATTERN, _sre_c.BRANCH):
            return None
    return None


_NEWLINE_CATEGORIES = {
    _sre_c.CATEGORY_SPACE,
    _sre_c.CATEGORY_NOT_DIGIT,
    _sre_c.CATEGORY_NOT_WORD,
    _sre_c.CATEGORY_LINEBREAK,
}


def _single_line(parsed, items) -> bool:
    """Whether no match of the parsed pattern can contain a newline, lookarounds included. Conservative: a
    construct it does not know, or a `.` anywhere under DOTALL, says no."""
    dotall = bool(parsed.state.flags & re.DOTALL)
    try:
        return _no_newline(items, dotall)
    except Exception:  # a parse shape of another Python version: searched the ordinary way
        return False


def _no_newline(items, dotall: bool) -> bool:
    for op, av in items:
        if op is _sre_c.LITERAL:
            if av == 10:
                return False
        elif op is _sre_c.NOT_LITERAL:
            if av != 10:
                return False
        elif op is _sre_c.ANY:
            if dotall:
                return False
        elif op is _sre_c.IN:
            if _set_has_newline(av):
                return False
        elif op is _sre_c.AT:
            continue
        elif op is _sre_c.SUBPATTERN:
            group, add_flags, del_flags, sub = av
            if not _no_newline(list(sub), (dotall or bool(add_flags & re.DOTALL)) and not del_flags & re.DOTALL):
                return False
        elif op is _sre_c.BRANCH:
            if not all(_no_newline(list(branch), dotall) for branch in av[1]):
                return False
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, _POSSESSIVE):
            if not _no_newline(list(av[2]), dotall):
                return False
        elif _ATOMIC is not None and op is _ATOMIC:
            if not _no_newline(list(av), dotall):
                return False
        elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            if not _no_newline(list(av[1]), dotall):
                return False
        elif op is _sre_c.GROUPREF:
            continue  # the group it repeats is checked where it stands
        else:
            return False
    return True


def _set_has_newline(members) -> bool:
    negate, found = False, False
    for kind, value in members:
        if kind is _sre_c.NEGATE:
            negate = True
        elif kind is _sre_c.LITERAL:
            found = found or value == 10
        elif kind is _sre_c.RANGE:
            found = found or value[0] <= 10 <= value[1]
        elif kind is _sre_c.CATEGORY:
            found = found or value in _NEWLINE_CATEGORIES
        else:
            raise ValueError(kind)  # unknown member: not single-line
    return found != negate


def _is_any(item, dotall: bool) -> bool:
    op, av = item
    if op is _sre_c.ANY:
        return dotall
    if op is _sre_c.IN and len(av) == 2 and all(kind is _sre_c.CATEGORY for kind, _ in av):
        pairs = (
            {_sre_c.CATEGORY_SPACE, _sre_c.CATEGORY_NOT_SPACE},
            {_sre_c.CATEGORY_DIGIT, _sre_c.CATEGORY_NOT_DIGIT},
            {_sre_c.CATEGORY_WORD, _sre_c.CATEGORY_NOT_WORD},
        )
        return {value for _, value in av} in pairs
    return False


def _any_run(item, dotall: bool, lazy: bool) -> bool:
    op, av = item
    wanted = _sre_c.MIN_REPEAT if lazy else _sre_c.MAX_REPEAT
    return (
        op is wanted
        and av[0] == 0
        and av[1] == _sre_c.MAXREPEAT
        and len(av[2]) == 1
        and _is_any(list(av[2])[0], dotall)
    )


def _lead_in(parsed, items) -> Optional[Tuple[List[Signature], Signature]]:
    if not items or items[0] != (_sre_c.AT, _sre_c.AT_BEGINNING_STRING):
        return None
    dotall = bool(parsed.state.flags & re.DOTALL)
    negatives: List[Signature] = []
    at = 1
    while at < len(items) and items[at][0] is _sre_c.ASSERT_NOT and items[at][1][0] == 1:
        content = list(items[at][1][1])
        if len(content) < 2 or not _any_run(content[0], dotall, lazy=False):
            return None
        negatives.append(_part(parsed, content[1:]))
        at += 1
    if at >= len(items) - 1 or not _any_run(items[at], dotall, lazy=True):
        return None
    return negatives, _part(parsed, items[at + 1 :])


def _part(parsed, items) -> Signature:
    """A piece of a parsed pattern as a signature of its own (compiled from the parse, never re-parsed; its
    regex and plan are worked out on first use, so pieces no block reaches cost next to nothing)."""
    return _Part(parsed, list(items))


class _Part(Signature):
    __slots__ = ("_parsed", "_items")

    def __init__(self, parsed, items: list):
        groups = _literal_groups(items)
        high = _sre_parse.SubPattern(parsed.state, list(items)).getwidth()[1]
        super().__init__(
            "<part>",
            None,
            groups[0] if groups else None,
            groups,
            None if high >= _UNBOUNDED else int(high),
            _touches_string_edges(items),
        )
        self._parsed = parsed
        self._items = items

    @property
    def regex(self) -> "re.Pattern[str]":
        if self._regex is None:
            self._regex = _sre_compile.compile(_sre_parse.SubPattern(self._parsed.state, list(self._items)), FLAGS)
        return self._regex

    @property
    def plan(self) -> "_Plan":
        if self._plan is None:
            parsed, items = self._parsed, self._items
            try:
                self._plan = _Plan(
                    _starts(items),
                    None,
                    _choices(items),
                    _follow(parsed, items),
                    _single_line(parsed, items),
                    chain_of=(parsed, items),
                )
            except Exception:  # a piece our analysis does not follow: searched plainly, never wrongly
                self._plan = _Plan()
        return self._plan


class _Chain:
    """A signature split at its runs of any text: per alternative of a top-level alternation (or the one
    sequence), its pieces and the gaps between them ((minimum, maximum or None, crosses lines) each)."""

    __slots__ = ("alternatives", "parsed")

    def __init__(self, alternatives, parsed):
        self.alternatives = alternatives
        self.parsed = parsed


def _chain(parsed, items) -> Optional[_Chain]:
    """The chain of a parsed pattern, or None when it has no run of any text worth splitting at (or one the
    split cannot follow: at its very start or end with a minimum, two in a row, \\A or \\Z, conditionals).

    Each piece is matched where it first can be, its repeats made lazy so it ends as early as it can; the next
    piece is then looked for from there. A bounded run is split at only after the first piece (every place that
    piece matches is tried): after a later piece it stays inside that piece, whose own regex then finds the
    occurrence within reach. That is the whole regex's answer whenever a piece has one way to end
    at a place (literals, classes, repeats of one character: every signature of the matrix). A piece that can
    end in two places by alternation, `(?:ab|a).*b` on "ab", is taken at its first alternative's end."""
    if _touches_string_edges(items) or _has_op(items, _sre_c.GROUPREF_EXISTS):
        return None
    dotall = bool(parsed.state.flags & re.DOTALL)
    sequences = (
        [list(branch) for branch in items[0][1][1]] if len(items) == 1 and items[0][0] is _sre_c.BRANCH else [items]
    )
    alternatives: list = []
    sequences_gaps: list = []
    split = False
    for sequence in sequences:
        pieces: List[list] = []
        gaps: list = []
        current: list = []
        for item in sequence:
            gap = _gap(item, dotall)
            if gap is None or (gap[1] is not None and (gap[1] < GAP_SPLIT or pieces)):
                # A bounded run stays inside its piece unless it follows the first one: the piece after a gap
                # is taken where it first occurs, and before a bounded gap a later occurrence may be the one
                # within reach of what follows (`a.*b[\s\S]{0,40}c` on "a b ...(41)... b c").
                current.append(item)
                continue
            split = True
            if not current:
                if gap[0] or pieces:  # a leading run with a minimum, or two runs in a row
                    return None
                continue  # a leading "any text or none" changes where a match starts, never whether one exists
            pieces.append(current)
            gaps.append(gap)
            current = []
        if current:
            pieces.append(current)
        elif gaps:
            if gaps[-1][0]:
                return None
            gaps.pop()  # a trailing "any text or none"
        if not pieces:
            return None
        alternatives.append(pieces)
        sequences_gaps.append(gaps)
    if not split:
        return None
    built_alternatives = []
    for pieces, gaps in zip(alternatives, sequences_gaps):
        built = [_part(parsed, _rebuilt(piece, lazy=number < len(pieces) - 1)) for number, piece in enumerate(pieces)]
        defined = [_groups_defined(piece) for piece in pieces]
        refs = [_refs(piece) for piece in pieces]
        built_alternatives.append((pieces, built, gaps, defined, refs))
    return _Chain(built_alternatives, parsed)


def _has_op(items, wanted) -> bool:
    for op, av in items:
        if op is wanted:
            return True
        if any(_has_op(list(sub), wanted) for sub in _nested(av)):
            return True
    return False


def _nested(value) -> Iterator[Any]:
    if isinstance(value, _sre_parse.SubPattern):
        yield value
    elif isinstance(value, (tuple, list)):
        for part in value:
            yield from _nested(part)


def _groups_defined(items) -> set:
    found = set()
    for op, av in items:
        if op is _sre_c.SUBPATTERN and av[0]:
            found.add(av[0])
        for sub in _nested(av):
            found |= _groups_defined(list(sub))
    return found


def _refs(items) -> set:
    found = set()
    for op, av in items:
        if op is _sre_c.GROUPREF:
            found.add(av)
        for sub in _nested(av):
            found |= _refs(list(sub))
    return found


def _rebuilt(items, lazy: bool = False, values: Optional[dict] = None) -> list:
    """`items` with greedy repeats made lazy (a piece before a gap then ends as early as it can, which leaves
    the most room for what follows) and references to groups in `values` replaced by their text."""
    out: list = []
    for op, av in items:
        if op is _sre_c.GROUPREF and values is not None and av in values:
            out.extend((_sre_c.LITERAL, ord(ch)) for ch in values[av])
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT):
            low, high, inner = av
            op = _sre_c.MIN_REPEAT if lazy else op
            out.append((op, (low, high, _sub(inner.state, _rebuilt(list(inner), lazy, values)))))
        elif op is _sre_c.SUBPATTERN:
            group, add_flags, del_flags, inner = av
            out.append((op, (group, add_flags, del_flags, _sub(inner.state, _rebuilt(list(inner), lazy, values)))))
        elif op is _sre_c.BRANCH:
            out.append((op, (av[0], [_sub(b.state, _rebuilt(list(b), lazy, values)) for b in av[1]])))
        elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            out.append((op, (av[0], _sub(av[1].state, _rebuilt(list(av[1]), False, values)))))
        else:
            out.append((op, av))
    return out


class _Span:
    """Where a chain matched: what the scan needs of a match (start, end, the text)."""

    __slots__ = ("_start", "_end", "string")

    def __init__(self, start: int, end: int, string: str):
        self._start, self._end, self.string = start, end, string

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> Tuple[int, int]:
        return self._start, self._end

    def group(self, index: int = 0) -> str:
        if index:
            raise IndexError("a chained match keeps no groups")
        return self.string[self._start : self._end]

    def __bool__(self) -> bool:
        return True


_NO_MORE = object()  # what a finder returns when nothing begins anywhere after the position asked


class _Cursor:
    """The first place at or after a position where something is found; asked at positions that mostly only
    grow, it searches each part of the text once. Asked with a `limit`, only places up to it count (None
    beyond it), and only so much is searched (`find(position, limit)` may stop there; what it finds further
    on is kept all the same), so a piece wanted within a gap is not looked for all over the block."""

    __slots__ = ("find", "asked", "upto", "found")

    def __init__(self, find):
        self.find = find
        self.asked = -1
        self.upto = -1
        self.found: Any = None

    def at(self, position: int, limit: int = _UNBOUNDED):
        start = asked = position
        if 0 <= self.asked <= position:
            found = self.found
            if found is not None:
                if _begin(found) >= position:
                    return found if _begin(found) <= limit else None
            elif position <= self.upto + 1:  # nothing begins in [asked, upto]
                if self.upto >= limit:
                    return None
                start, asked = self.upto + 1, self.asked
        found = self.find(start, limit)
        if found is _NO_MORE:  # searched to the end of the text: nothing further on
            found, limit = None, _UNBOUNDED
        self.asked, self.upto, self.found = asked, limit, found
        return found if found is None or _begin(found) <= limit else None


def _begin(found) -> int:
    return found if isinstance(found, int) else found.start()


def _finder(piece: Signature, text: str, lowered: str, present: "Optional[Presence]"):
    """`_next_match` for one piece and block, with what does not depend on the position worked out once: the
    start literals the block holds, and for a single one of them a loop without the merging machinery."""
    plan = piece.plan
    starts = plan.starts
    if piece.whole_block:
        return lambda position, limit: _next_match(piece, text, lowered, present, position)
    if starts is None:
        if piece.groups and piece.width is not None and not _has_lookaround(piece):  # type: ignore[arg-type]
            group = piece.groups[0]
            if present is not None:
                group = tuple(literal for literal in group if present.has(literal))
            return (
                _windowed(piece.regex, text, lowered, group, piece.width) if group else (lambda position, limit: None)
            )
        return lambda position, limit: _next_match(piece, text, lowered, present, position)
    follow = plan.follow
    if present is not None:
        starts = tuple(literal for literal in starts if present.has(literal))
        if follow is not None:
            follow = (follow[0], follow[1], tuple(literal for literal in follow[2] if present.has(literal)))
    size = len(text)
    if not starts or (follow is not None and not follow[2]):
        return lambda position, limit: None
    regex = piece.regex
    if len(starts) == 1 and follow is None:
        literal, find, match = starts[0], lowered.find, regex.match

        def one(position: int, limit: int):
            if position > size:
                return None
            stop = min(size, limit) + len(literal)
            at = find(literal, position, stop)
            while at >= 0:
                found = match(text, at)
                if found:
                    return found
                at = find(literal, at + 1, stop)
            return None

        return one
    return _several(regex, text, lowered, starts, follow)


def _has_lookaround(piece: "_Part") -> bool:
    return _has_op(piece._items, _sre_c.ASSERT) or _has_op(piece._items, _sre_c.ASSERT_NOT)


WINDOW_CHUNK = 1 << 16  # characters of merged windows searched at once by `_windowed`
WINDOWED_LIMITED = 16  # searches of one piece in a block confined to a gap; then each runs to the next match


def _windowed(regex, text: str, lowered: str, group: Tuple[str, ...], width: int):
    """The leftmost match at or after a position of a chain piece of bounded `width` that has no literal start
    and no lookaround: searched only in windows of `width` around the occurrences of one of `group`'s literals
    (every match holds one), not over all the rest of the block. A window ends at a line end where one is near,
    where `$` and `\\b` behave as at the end of the text; one that cannot is checked against the whole text."""
    size = len(text)

    def search(low: int, high: int, before: int):
        """The leftmost match from `low` on, as the whole text matches there (a window's end might have let a
        shorter alternative through); None when there is none beginning before `before` within [low, high)."""
        if high < size:
            newline = text.find("\n", high, high + 4096)
            high = newline if newline >= 0 else high
        at = low
        while at <= high:
            found = regex.search(text, at, high)
            if found is None:
                return None
            if found.start() >= before and high < size and found.start() > high - width:
                return None  # (one that begins within `width` of the window's end may not be the first there)
            # Beyond `before` but far enough from the window's end, it is the first match from `low` on
            # (every match beginning earlier would end within the window): kept, so it is not searched again.
            again = regex.match(text, found.start())
            if again:
                return again
            at = found.start() + 1
        return None

    asked = [0]

    def find(position: int, limit: int):
        if position > size:
            return None
        asked[0] += 1
        if asked[0] > WINDOWED_LIMITED:
            # Asked often (a block dense with its literals): each search within a gap would read the piece's
            # width past it again; from now on each search runs to the next match, which is kept.
            found = find_any(position, size)
            return _NO_MORE if found is None else found
        return find_any(position, min(limit, size))

    def find_any(position: int, limit: int):
        low = high = -1
        for start, _end in _occurrences_from(lowered, group, position, limit + width + 1):
            first, last = max(position, start - width), min(size, start + width)
            if high >= 0 and first <= high:
                if high - low < WINDOW_CHUNK:
                    high = max(high, last)
                    continue
                # A big run of windows: what starts before this occurrence's reach is settled in it; the
                # rest is searched again with what follows.
                found = search(low, high, min(start - width, limit + 1))
                if found:
                    return found
                low, high = max(position, start - width), last
                continue
            if high >= 0:
                found = search(low, high, limit + 1)
                if found:
                    return found
            low, high = first, last
        return search(low, high, limit + 1) if high >= 0 else None

    return find


def _occurrences_from(lowered: str, group: Tuple[str, ...], position: int, stop: int) -> Iterator[Tuple[int, int]]:
    """(start, end) of every occurrence of the group's literals in `lowered` starting in [position, stop), in
    order."""

    def each(literal: str) -> Iterator[Tuple[int, int]]:
        last = stop + len(literal) - 1
        at = lowered.find(literal, position, last)
        while at >= 0:
            yield at, at + len(literal)
            at = lowered.find(literal, at + 1, last)

    if len(group) == 1:
        return each(group[0])
    return heapq.merge(*(each(literal) for literal in group))


def _next_occurrence(lowered: str):
    """A function: where `literal` next occurs at or after `position` (-1: nowhere), for positions that mostly
    grow; each literal's last answer is remembered, so a block is read about once per literal."""
    seen: dict = {}

    def occurrence(literal: str, position: int) -> int:
        known = seen.get(literal)
        if known is not None and known[0] <= position and (known[1] < 0 or known[1] >= position):
            return known[1]
        at = lowered.find(literal, position)
        seen[literal] = (position, at)
        return at

    return occurrence


def _several(regex, text: str, lowered: str, starts: Tuple[str, ...], follow):
    """`_match_at_starts` over the whole rest of the block for a chain piece, asked at positions that mostly
    grow: each literal's next occurrence is remembered, so the block is read about once per literal however
    often the piece is asked for (and a literal's far occurrence is not looked for again at each place)."""
    size = len(text)
    then, reach = (follow[2], follow[0] + follow[1]) if follow is not None else (None, 0)
    occurrence = _next_occurrence(lowered)

    heap: List[Tuple[int, int]] = []  # (next occurrence at or after `since`, which literal), for each that has one
    since = [-1]

    def find(position: int, limit: int):
        if position > size:
            return None
        if position < since[0] or since[0] < 0:  # asked further back: every literal looked for again
            heap[:] = [
                (at, number)
                for number, at in ((n, lowered.find(lit, position)) for n, lit in enumerate(starts))
                if at >= 0
            ]
            heapq.heapify(heap)
        since[0] = position
        while True:
            while heap and heap[0][0] < position:
                number = heap[0][1]
                at = lowered.find(starts[number], position)
                if at >= 0:
                    heapq.heapreplace(heap, (at, number))
                else:
                    heapq.heappop(heap)
            if not heap or heap[0][0] > limit:
                return None
            best = heap[0][0]
            if then is not None:  # what follows the gap must begin within it
                for literal in then:
                    at = occurrence(literal, best)
                    if 0 <= at <= best + reach:
                        break
                else:
                    position = since[0] = best + 1
                    continue
            found = regex.match(text, best)
            if found:
                return found
            position = since[0] = best + 1

    return find


def _next_match(piece: Signature, text: str, lowered: str, present: "Optional[Presence]", position: int):
    """The leftmost match of a chain piece beginning at or after `position`."""
    if position > len(text):
        return None
    starts = piece.plan.starts
    if starts is not None and not piece.whole_block:
        if len(starts) == 1 and piece.plan.follow is None:  # the common case, without the merging machinery
            literal, regex = starts[0], piece.regex
            at = lowered.find(literal, position)
            while at >= 0:
                found = regex.match(text, at)
                if found:
                    return found
                at = lowered.find(literal, at + 1)
            return None
        return _match_at_starts(piece.regex, text, lowered, starts, position, len(text), piece.plan.follow, present)
    if piece.groups and piece.width is not None:  # no match begins before its rarest literal's reach
        first = -1
        for literal in piece.groups[0]:
            at = lowered.find(literal, position)
            if at >= 0 and (first < 0 or at < first):
                first = at
        if first < 0:
            return None
        position = max(position, first - piece.width)
    return piece.regex.search(text, position)


def _search_chain(
    chain: _Chain,
    text: str,
    lowered: str,
    present: "Optional[Presence]" = None,
    anchored: "Optional[Tuple[Tuple[str, ...], int]]" = None,
) -> "Optional[_Span]":
    """The leftmost match of a chained signature (see `_Plan.chain`), in time linear in the text.

    `anchored`: (literals one of which every match holds, the longest match): a match holds an occurrence at
    or after its start and begins at most that far before it, so the search skips to within reach of the
    next occurrence (in an ordinary log, most of the block) instead of trying every place a first piece
    matches."""
    best = None
    newline = _Cursor(lambda at, limit: text.find("\n", at) % (len(text) + 1))
    skip = None
    if anchored is not None:
        anchor, width = anchored
        if not anchor:
            return None
        nearest = _nearest(lowered, anchor)

        def skip(position):
            return -1 if nearest(position) < 0 else max(position, nearest(position) - width)

    for pieces, built, gaps, defined, refs in chain.alternatives:
        found = _chain_one(chain.parsed, pieces, built, gaps, defined, refs, text, lowered, present, newline, skip)
        if found is not None and (best is None or found.start() < best.start()):
            best = found
    return best


def _nearest(lowered: str, group: Tuple[str, ...]):
    """A function: the first place at or after a position where one of `group` occurs (-1: none), for positions
    that mostly grow (each literal's next occurrence is remembered)."""
    occurrence = _next_occurrence(lowered)

    def nearest(position: int) -> int:
        best = -1
        for literal in group:
            at = occurrence(literal, position)
            if at >= 0 and (best < 0 or at < best):
                best = at
        return best

    return nearest


def _chain_one(parsed, pieces, built, gaps, defined, refs, text, lowered, present, newline, skip=None):
    cursors: dict = {}
    referring = any(refs[number] - defined[number] for number in range(len(pieces)))

    def cursor(number: int, values: Optional[dict]) -> Optional[_Cursor]:
        key = (number, tuple(sorted(values.items())) if values else ())
        found = cursors.get(key)
        if found is None:
            if len(cursors) > MAX_BACKREF_VALUES + len(pieces):
                return None
            piece = built[number]
            if values:
                piece = _part(parsed, _rebuilt(pieces[number], number < len(pieces) - 1, values))
            found = cursors[key] = _Cursor(_finder(piece, text, lowered, present))
        return found

    position = 0
    while True:
        if skip is not None:
            position = skip(position)
            if position < 0:
                return None
        first = cursor(0, None).at(position)
        if first is None:
            return None
        values: dict = {}
        if referring:
            values.update((group, first.group(group)) for group in defined[0])
        end, complete = first.end(), True
        for number, (low, high, lines) in enumerate(gaps, 1):
            wanted = None
            if referring:
                wanted = {g: values[g] for g in refs[number] - defined[number] if g in values}
                if any(value is None for value in wanted.values()):
                    complete = False
                    break
            seek = cursor(number, wanted or None)
            if seek is None:
                return None  # too many values of a group referred back to: given up on, in bounded time
            limit = _UNBOUNDED if high is None else end + high
            if not lines:
                limit = min(limit, newline.at(end))
            found = seek.at(end + low, limit)
            if found is None:
                if referring or limit < len(text):  # none within this gap: a later start may have one
                    complete = False
                    break
                return None  # no later place holds this piece: no later start can complete a match
            if (high is not None and found.start() - end > high) or (not lines and newline.at(end) < found.start()):
                complete = False
                break
            if referring:
                values.update((group, found.group(group)) for group in defined[number])
            end = found.end()
        if complete:
            return _Span(first.start(), end, text)
        position = first.start() + 1


def _vetoed(sig: Signature, text: str, lowered: Optional[str], present: "Presence") -> bool:
    """Whether this block holds an X of the signature's "\\A(?![\\s\\S]*X)" lead-in (so it can never match)."""
    lead_in = sig.plan.lead_in
    if lead_in is None:
        return False
    if lowered is None:
        return any(negative.regex.search(text) for negative in lead_in[0])
    return any(_found_anywhere(negative, text, lowered, present) for negative in lead_in[0])


def _found_anywhere(sig: Signature, text: str, lowered: str, present: "Presence") -> bool:
    """Exactly whether `sig` matches anywhere in `text` (for the X of a lead-in: no approximation)."""
    if not all(present.any(group) for group in sig.groups):
        return False
    starts = sig.plan.starts
    if starts is None or sig.whole_block:
        return sig.regex.search(text) is not None
    return _match_at_starts(sig.regex, text, lowered, starts, 0, len(text), sig.plan.follow, present) is not None


def _match_at_starts(
    regex,
    text: str,
    lowered: str,
    starts: Tuple[str, ...],
    begin: int,
    end: int,
    follow=None,
    present: "Optional[Presence]" = None,
) -> "Optional[re.Match[str]]":
    """The leftmost match beginning in [begin, end) at an occurrence of one of `starts` (checked in order).
    With `present`, start literals the block does not hold are not looked for."""
    if present is not None:
        starts = tuple(literal for literal in starts if present.has(literal))
        if follow is not None:
            follow = (follow[0], follow[1], tuple(literal for literal in follow[2] if present.has(literal)))

    def each(literal: str, first: int, last: int) -> Iterator[int]:
        at = lowered.find(literal, first, last + len(literal) - 1)
        while at >= 0:
            yield at
            at = lowered.find(literal, at + 1, last + len(literal) - 1)

    after: Optional[List[int]] = None
    if follow is not None:
        before, gap, then = follow
        limit = min(len(lowered), end + before + gap + 1)
        after = list(heapq.merge(*(each(literal, begin, limit) for literal in then)))
    last = -1
    for at in heapq.merge(*(each(literal, begin, end) for literal in starts)):
        if at == last:
            continue
        last = at
        if after is not None:  # what follows the gap must begin within it
            index = bisect.bisect_left(after, at)
            if index == len(after) or after[index] > at + before + gap:
                continue
        found = regex.match(text, at)
        if found:
            return found
    return None


def _search(
    sig: Signature, text: str, lowered: Optional[str], present: "Optional[Presence]" = None
) -> "Optional[re.Match[str]]":
    """The first match of `sig` in `text`, looked for only around the occurrences of its anchor literals.

    A match contains an occurrence of every group's literal, so searching `width` characters either side of
    each occurrence of the first group finds the first match exactly for patterns of bounded width; for
    unbounded ones (`.*` across lines) matches stay within MAX_WINDOW characters of the anchor. A pattern that
    cannot span a newline is searched on the anchor's lines only, whatever its width. The anchor is the
    required group (or the union over an alternation's branches) that occurs least often in this block."""
    if lowered is None or (len(text) <= SMALL_BLOCK and not sig.whole_block):
        return sig.regex.search(text)  # (a lead-in begins with \\A: only whole-block signatures have one)
    plan = sig.plan
    if plan.lead_in is not None:
        negatives, rest = plan.lead_in
        present = present or Presence(lowered)
        if any(_found_anywhere(negative, text, lowered, present) for negative in negatives):
            return None
        if not all(present.any(group) for group in rest.groups):
            return None
        return _search(rest, text, lowered, present)
    if sig.whole_block or len(text) <= SMALL_BLOCK:
        return sig.regex.search(text)
    if plan.chain is not None and (not sig.groups or sig.width is None):
        return _search_chain(plan.chain, text, lowered, present)  # type: ignore[return-value]
    if not sig.groups:
        if plan.starts is not None:
            return _match_at_starts(sig.regex, text, lowered, plan.starts, 0, len(text), plan.follow, present)
        return sig.regex.search(text)
    reach = sig.width if sig.width is not None and sig.width <= MAX_WINDOW else MAX_WINDOW
    size = len(text)
    anchor = sig.groups[0]
    if len(sig.groups) > 1 or plan.choices:  # the group that occurs least often here: fewest windows to search
        counts = present.counts if present is not None else {}

        def often(group) -> int:
            total = 0
            for literal in group:
                if literal not in counts:
                    absent = present is not None and not present.has(literal)
                    counts[literal] = 0 if absent else _estimate(lowered, literal)
                total += counts[literal]
            return total

        anchor = min(sig.groups, key=often)
        if plan.choices and often(anchor) > 4:  # a common literal: an alternation may pin matches down better
            candidates = [anchor]
            for choice in plan.choices:
                union: set = set()
                for alternative in choice:
                    best, fewest = None, None
                    # Long literals first: they are the likeliest to be absent, which settles it (0 places).
                    for group in sorted(alternative, key=lambda g: -min(map(len, g))):
                        many = often(group)
                        if fewest is None or many < fewest:
                            best, fewest = group, many
                        if many == 0:
                            break
                    union.update(best or ())
                candidates.append(tuple(sorted(union)))
            anchor = min(candidates, key=often)
    others = [group for group in sig.groups if group != anchor]  # the groups a line must also hold
    if present is not None:  # literals the block does not hold need no look
        anchor = tuple(literal for literal in anchor if present.has(literal))
    if plan.chain is not None:
        return _search_chain(plan.chain, text, lowered, present, (anchor, sig.width))  # type: ignore[arg-type,return-value]
    if plan.single_line:
        return _search_lines(sig, text, lowered, anchor, others, present)
    window_start = window_end = -1
    for start, end in _occurrences(lowered, anchor):
        low, high = max(0, end - reach), min(size, start + reach)
        if window_end >= 0 and low <= window_end:
            window_end = max(window_end, high)
            continue
        if window_end >= 0:
            found = _search_window(sig, text, window_start, window_end, lowered, present)
            if found:
                return found
        window_start, window_end = low, high
        if window_start == 0 and window_end == size and plan.starts is None:
            return sig.regex.search(text)
    if window_end >= 0:
        return _search_window(sig, text, window_start, window_end, lowered, present)
    return None


def _search_lines(
    sig: Signature,
    text: str,
    lowered: str,
    anchor: Tuple[str, ...],
    others: List[Tuple[str, ...]],
    present: "Optional[Presence]" = None,
) -> "Optional[re.Match[str]]":
    """The first match of a single-line signature: only lines holding the anchor, and a literal of each of the
    `others` groups, are searched (the first line with a match holds the first match)."""
    line_end = -1
    for start, end in _occurrences(lowered, anchor):
        if start < line_end:
            continue  # this line was searched already
        line_start = lowered.rfind("\n", 0, start) + 1
        line_end = lowered.find("\n", end)
        if line_end < 0:
            line_end = len(lowered)
        if others:
            line = lowered[line_start:line_end]
            if not all(any(literal in line for literal in group) for group in others):
                continue
        found = _search_window(sig, text, line_start, line_end, lowered, present)
        if found:
            return found
    return None


def _search_window(
    sig: Signature, text: str, start: int, end: int, lowered: Optional[str] = None, present: "Optional[Presence]" = None
) -> "Optional[re.Match[str]]":
    starts = sig.plan.starts if lowered is not None else None
    if starts is not None:  # try the regex only where a match can begin; a match may run past the window
        return _match_at_starts(sig.regex, text, lowered, starts, max(0, start), end, sig.plan.follow, present)  # type: ignore[arg-type]
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


# --- the linear-time check of `matrix validate` ----------------------------------------------------------------

CRAFTED_SIZE = 1 << 16  # characters of each crafted text `matrix validate` times a signature on
CRAFTED_LIMIT = 0.5  # seconds one entry may take on it (linear entries take about a hundredth of that)


def own_literals(pattern: str) -> List[str]:
    """The literal runs of a pattern (lower-case, 2 characters or more, in order): the words a crafted text is
    built from, so that every part of the pattern finds something to try."""
    try:
        parsed = parse(pattern)
    except Exception:
        return []
    found: List[str] = []

    def walk(items) -> None:
        run: List[str] = []
        for op, av in items:
            if op is _sre_c.LITERAL:
                run.append(chr(av))
                continue
            if len(run) >= 2:
                found.append("".join(run).lower())
            run = []
            for sub in _nested(av):
                walk(list(sub))
        if len(run) >= 2:
            found.append("".join(run).lower())

    walk(list(parsed))
    return list(dict.fromkeys(found))


def crafted_texts(patterns: List[str], size: int = CRAFTED_SIZE) -> List[str]:
    """Texts of about `size` characters made of the patterns' own literals over and over (joined by spaces, by
    nothing, by newlines, and with a word and a number between): what drives a backtracking search to its
    worst, because every literal invites the regex to try and almost succeed."""
    literals = [literal for pattern in patterns for literal in own_literals(pattern)]
    if not literals:
        return []
    texts = []
    for joint in (" ", "", "\n", " x1 "):
        unit = joint.join(literals) + joint
        texts.append((unit * (size // max(1, len(unit)) + 1))[:size])
    return texts


def nested_repeat(pattern: str) -> bool:
    """Whether a repeat of the pattern holds a repeat of varying count (`(?:\\w+\\s)+`, `(a|ab){2,9}`): the
    shape that backtracks exponentially, which no cap makes cheap."""
    try:
        parsed = parse(pattern)
    except Exception:
        return False

    def varying(items) -> bool:
        for op, av in items:
            if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, _POSSESSIVE) and av[0] != av[1]:
                return True
            if any(varying(list(sub)) for sub in _nested(av)):
                return True
        return False

    def delimited(body) -> bool:
        """`(?:\\w+ )`, `(?:[^\\n]*\\n)`: each time round ends at a character its inner repeats cannot
        match, so the text decides where each time round ends (no choices to backtrack through)."""
        if not body or body[-1][0] is not _sre_c.LITERAL:
            return False
        end = chr(body[-1][1])
        for op, av in body[:-1]:
            if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT, _POSSESSIVE) and av[0] != av[1]:
                if len(av[2]) != 1 or _sre_compile.compile(_sub(parsed.state, list(av[2])), FLAGS).match(end):
                    return False
            elif op is not _sre_c.LITERAL and op is not _sre_c.IN and op is not _sre_c.AT:
                if varying([(op, av)]):
                    return False
        return True

    def walk(items) -> bool:
        for op, av in items:
            if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[1] > 1 and varying(list(av[2])):
                body = list(av[2])
                if len(body) == 1 and body[0][0] is _sre_c.SUBPATTERN:
                    body = list(body[0][1][-1])
                if not delimited(body):
                    return True
            if any(walk(list(sub)) for sub in _nested(av)):
                return True
        return False

    return walk(list(parsed))
