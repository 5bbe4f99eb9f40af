"""The word index of a block of text: which literals the block holds, settled for most literals without a
pass over the block. The standard library has no multi-string search, and one `in` per literal costs a pass per
literal; a log's distinct words are few, so a look-up in them rules most literals out at once.

Knows nothing about signatures or Coral: `edgedoctor.matrix.signatures` asks it which literals a block holds.
"""

from __future__ import annotations

import functools
import re
from typing import Dict, Optional, Tuple

# A block's words are its maximal runs of [a-z0-9_] (the lower-cased text, any other character a separator). The
# index is the set of distinct words, each between newlines: "\nword\n". A literal's own runs of word characters
# say what the block's words must hold if the literal occurs: a run with separators inside the literal on both
# sides is a whole word ("\nso\n" in "libedgetpu.so.1"), one that ends the literal begins a word ("\nload" in
# "failed to load"), one that starts it ends a word ("libedgetpu\n"), and a literal that is one run lies inside
# a word. These are necessary conditions only: when they hold, the block itself is searched, so the index never
# hides a literal.

TOKEN_INDEX_MIN = 1 << 15  # smaller blocks (a pasted error) are searched literal by literal
TOKEN_INDEX_SHARE = 0.25  # an index bigger than this share of its block saves too little: not used
_TOKEN_BYTES = bytes(c if (48 <= c <= 57 or 97 <= c <= 122 or c == 95) else 32 for c in range(256))
_WORD_RUN = re.compile(r"[a-z0-9_]+")
_HEX = "0123456789abcdef"
_HEX_BYTES = _HEX.encode("ascii")


def token_index(lowered: str) -> Optional[str]:
    """The block's distinct words, each between newlines; None when that is no smaller than the block itself
    (random identifiers everywhere), where it would save nothing. Words of hex digits only (numbers, ids,
    hashes, addresses: most of the distinct words of a log) are left out; keys made only of hex digits are
    then never asked of the index (see `token_keys`)."""
    words = {
        word
        for word in set(lowered.encode("utf-8", "replace").translate(_TOKEN_BYTES).split())
        if word.translate(None, _HEX_BYTES)
    }
    if sum(map(len, words)) + len(words) > len(lowered) * TOKEN_INDEX_SHARE:
        return None
    return "\n" + "\n".join(word.decode("ascii") for word in words) + "\n"


@functools.lru_cache(maxsize=8192)
def token_keys(literal: str) -> Tuple[str, ...]:
    """What the word index must hold for `literal` (lower-case) to occur in the block; longest first."""
    keys = []
    for run in _WORD_RUN.finditer(literal):
        if run.group().strip(_HEX):  # a word of hex digits only may be one the index left out
            keys.append(("\n" if run.start() > 0 else "") + run.group() + ("\n" if run.end() < len(literal) else ""))
    return tuple(sorted(keys, key=len, reverse=True))


class Presence:
    """Which literals a block holds; each one looked for once per block.

    A literal absent from a block costs a pass over the whole block, and most literals are absent from most
    blocks. So a big block is first reduced to its word index (see `token_index`): a literal whose words the
    index lacks cannot be in the block, which a look-up in the small index settles; only literals that pass
    are looked for in the block itself."""

    __slots__ = ("text", "known", "counts", "tokens")

    def __init__(self, lowered: str):
        self.text = lowered
        self.known: Dict[str, bool] = {}
        self.counts: Dict[str, int] = {}  # occurrences (estimated), for choosing search anchors
        # The word index, made on the first look-up ("" until then; None: the block is searched directly).
        self.tokens: Optional[str] = "" if len(lowered) >= TOKEN_INDEX_MIN else None

    def has(self, literal: str) -> bool:
        found = self.known.get(literal)
        if found is None:
            tokens = self.tokens
            if tokens == "":
                tokens = self.tokens = token_index(self.text)
            if tokens is not None and not all(key in tokens for key in token_keys(literal)):
                found = False
            else:
                found = literal in self.text
            self.known[literal] = found
        return found

    def any(self, group: Tuple[str, ...]) -> bool:
        return any(self.has(literal) for literal in group)
