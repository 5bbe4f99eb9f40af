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

from edgedoctor.wordindex import Presence

try:  # Python 3.11+
    import re._compiler as _sre_compile  # type: ignore[import-not-found]
    import re._parser as _sre_parse  # type: ignore[import-not-found]
    import re._constants as _sre_c  # type: ignore[import-not-found]
except ImportError:  # Python 3.9, 3.10
    import sre_compile as _sre_compile  # type: ignore[no-redef]
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]


FLAGS = re.IGNORECASE | re.MULTILINE

# Words that nearly every Coral/Edge TPU text holds, and that ordinary logs rarely do.
CONTEXT_WORDS = ("edgetpu", "edge tpu", "edge_tpu", "coral", "apex", "gasket", "tflite", "1a6e", "18d1", "089a", "9302",
                 "unichip", "darwinn")


class Signature:
    """One signature: its pattern, compiled (lazily, when loaded from the cache), and its literal prefilter.

    `literals`: one of these (lower-case) is in any text the pattern matches; None: no prefilter.
    `groups`: every group holds literals (lower-case) one of which is in any text the pattern matches; the
    first is the most selective. `width`: the longest text a match can span (None: unbounded).
    `whole_block`: the pattern looks at the start or end of the text (\\A, \\Z), so it is searched over the
    whole block rather than around its literals."""

    __slots__ = ("pattern", "_regex", "literals", "groups", "width", "whole_block", "_plan", "_needs_context")

    def __init__(self, pattern: str, regex: "Optional[re.Pattern[str]]" = None,
                 literals: Optional[Tuple[str, ...]] = None, groups: Tuple[Tuple[str, ...], ...] = (),
                 width: Optional[int] = None, whole_block: bool = False):
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
            self._needs_context = any(all(any(word in literal for word in CONTEXT_WORDS) for literal in group)
                                      for group in self.groups)
        return self._needs_context

    @classmethod
    def build(cls, pattern: str) -> "Signature":
        """Compile a pattern and work out its literal prefilter (raises re.error when it does not compile)."""
        try:
            regex = re.compile(pattern, FLAGS)
        except (OverflowError, RecursionError, ValueError) as exc:  # `a{99999999999}`, absurd nesting
            raise re.error(f"{type(exc).__name__}: {exc}") from None
        groups, width, whole_block = analyse(pattern)
        return cls(pattern, regex, groups[0] if groups else None, groups, width, whole_block)

    @property
    def plan(self) -> "_Plan":
        """How to search for it cheaply (worked out on first use, so loading stays fast)."""
        if self._plan is None:
            self._plan = _make_plan(self.pattern)
        return self._plan

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
                found.append(set().union(*alternatives))
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

    __slots__ = ("starts", "lead_in", "choices", "follow", "single_line")

    def __init__(self, starts: Optional[Tuple[str, ...]] = None,
                 lead_in: Optional[Tuple[List[Signature], Signature]] = None, choices=(), follow=None,
                 single_line: bool = False):
        self.starts = starts
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


MAX_STARTS = 32


def _make_plan(pattern: str) -> _Plan:
    try:
        parsed = _sre_parse.parse(pattern, FLAGS)
        items = list(parsed)
        return _Plan(_starts(items), _lead_in(parsed, items), _choices(items), _follow(parsed, items),
                     _single_line(parsed, items))
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
    found = []
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
            gap_like = _is_any(inner, dotall) or inner[0] is _sre_c.ANY or (
                inner[0] is _sre_c.NOT_LITERAL)  # [\s\S], ., [^\n]: the gap lets anything (or almost) pass
            if not gap_like or av[0] != 0 or av[1] >= _UNBOUNDED or at == 0:
                return None
            before = _sre_parse.SubPattern(parsed.state, list(items[:at])).getwidth()[1]
            after = _starts(list(items[at + 1:]))
            if before >= _UNBOUNDED or not after:
                return None
            return int(before), int(av[1]), after
        if op not in (_sre_c.LITERAL, _sre_c.AT, _sre_c.IN, _sre_c.SUBPATTERN, _sre_c.BRANCH):
            return None
    return None


_NEWLINE_CATEGORIES = {_sre_c.CATEGORY_SPACE, _sre_c.CATEGORY_NOT_DIGIT, _sre_c.CATEGORY_NOT_WORD,
                       _sre_c.CATEGORY_LINEBREAK}


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
        pairs = ({_sre_c.CATEGORY_SPACE, _sre_c.CATEGORY_NOT_SPACE}, {_sre_c.CATEGORY_DIGIT, _sre_c.CATEGORY_NOT_DIGIT},
                 {_sre_c.CATEGORY_WORD, _sre_c.CATEGORY_NOT_WORD})
        return {value for _, value in av} in pairs
    return False


def _any_run(item, dotall: bool, lazy: bool) -> bool:
    op, av = item
    wanted = _sre_c.MIN_REPEAT if lazy else _sre_c.MAX_REPEAT
    return (op is wanted and av[0] == 0 and av[1] == _sre_c.MAXREPEAT and len(av[2]) == 1
            and _is_any(list(av[2])[0], dotall))


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
    return negatives, _part(parsed, items[at + 1:])


def _part(parsed, items) -> Signature:
    """A piece of a parsed pattern as a signature of its own (compiled from the parse, never re-parsed)."""
    sub = _sre_parse.SubPattern(parsed.state, list(items))
    regex = _sre_compile.compile(sub, FLAGS)
    groups = _literal_groups(list(items))
    high = sub.getwidth()[1]
    whole = _touches_string_edges(list(items))
    piece = Signature("<part>", regex, groups[0] if groups else None, groups,
                      None if high >= _UNBOUNDED else int(high), whole)
    piece._plan = _Plan(_starts(list(items)), None, _choices(list(items)), _follow(parsed, list(items)),
                        _single_line(parsed, list(items)))
    return piece


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


def _match_at_starts(regex, text: str, lowered: str, starts: Tuple[str, ...], begin: int,
                     end: int, follow=None, present: "Optional[Presence]" = None) -> "Optional[re.Match[str]]":
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


def _search(sig: Signature, text: str, lowered: Optional[str],
            present: "Optional[Presence]" = None) -> "Optional[re.Match[str]]":
    """The first match of `sig` in `text`, looked for only around the occurrences of its anchor literals.

    A match contains an occurrence of every group's literal, so searching `width` characters either side of
    each occurrence of the first group finds the first match exactly for patterns of bounded width; for
    unbounded ones (`.*` across lines) matches stay within MAX_WINDOW characters of the anchor. A pattern that
    cannot span a newline is searched on the anchor's lines only, whatever its width. The anchor is the
    required group (or the union over an alternation's branches) that occurs least often in this block."""
    if lowered is None:
        return sig.regex.search(text)
    plan = sig.plan
    if plan.lead_in is not None:
        negatives, rest = plan.lead_in
        present = present or Presence(lowered)
        if any(_found_anywhere(negative, text, lowered, present) for negative in negatives):
            return None
        if not all(present.any(group) for group in rest.groups):
            return None
        return _search(rest, text, lowered, present)
    if sig.whole_block:
        return sig.regex.search(text)
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


def _search_lines(sig: Signature, text: str, lowered: str, anchor: Tuple[str, ...],
                  others: List[Tuple[str, ...]], present: "Optional[Presence]" = None) -> "Optional[re.Match[str]]":
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


def _search_window(sig: Signature, text: str, start: int, end: int, lowered: Optional[str] = None,
                   present: "Optional[Presence]" = None) -> "Optional[re.Match[str]]":
    starts = sig.plan.starts if lowered is not None else None
    if starts is not None:  # try the regex only where a match can begin; a match may run past the window
        return _match_at_starts(sig.regex, text, lowered, starts, max(0, start), end, sig.plan.follow, present)
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
