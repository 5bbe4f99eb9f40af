"""Property-based tests of the matcher: the literal prefilter and the windowed search never change what a plain
`re.search` over the whole text would find, block cuts do not lose matches, any bytes read as text, and no
input makes the matcher raise."""

import contextlib
import io
import re
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from edgedoctor import matrix
from edgedoctor.matrix import engine, signatures, wordindex

REPO = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _real_errors():
    from edgedoctor.util.tomlcompat import load_toml

    texts = []
    for path in sorted((REPO / "tests" / "fixtures" / "real_errors").glob("*.toml")):
        texts += [str(e["text"]) for e in load_toml(path).get("error", []) if e.get("text")]
    return texts


REAL = _real_errors()
TABLE = matrix.load()
NOISE = [
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "usb 1-1: new high-speed USB device number 3",
    "Traceback (most recent call last):",
    "ModuleNotFoundError: No module named 'cv2'",
    "error: failed",
    "Bus 002 Device 001: ID 1d6b:0003 Linux Foundation 3.0 root hub",
    "",
    "   ",
    "apex 0000:01:00.0: ok",
    "Loading new gasket-1.0 DKMS files...",
    "Node number 3 (CONV_2D) failed to prepare.",
]
# IGNORECASE makes these equal to ASCII letters: the prefilter must fold them too.
SPECIAL = {"i": ["\u0130", "\u0131"], "s": ["\u017f"], "k": ["\u212a"]}


@st.composite
def perturbed(draw, text):
    """The text with some letters' case flipped and some replaced by IGNORECASE-equal non-ASCII letters."""
    chars = list(text)
    for _ in range(draw(st.integers(0, 6))):
        if not chars:
            break
        at = draw(st.integers(0, len(chars) - 1))
        ch = chars[at]
        options = [ch.swapcase()] + SPECIAL.get(ch.lower(), [])
        chars[at] = draw(st.sampled_from(options))
    return "".join(chars)


@st.composite
def log_texts(draw, max_pieces=8):
    pieces = []
    for _ in range(draw(st.integers(1, max_pieces))):
        kind = draw(st.sampled_from(["real", "real", "noise", "cut", "junk"]))
        if kind == "real":
            pieces.append(draw(perturbed(draw(st.sampled_from(REAL)))))
        elif kind == "noise":
            pieces.append(draw(st.sampled_from(NOISE)))
        elif kind == "cut":  # a piece of a real error: matches that almost happen
            text = draw(st.sampled_from(REAL))
            start = draw(st.integers(0, len(text)))
            pieces.append(text[start : start + draw(st.integers(0, 120))])
        else:
            pieces.append(draw(st.text(max_size=40)))
    newline = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return newline.join(pieces)


def brute_force(table, text):
    """The entries a plain re.search over the whole (normalised) text finds: what the scan must equal."""
    text = engine._normalise(text)
    # Without facts, an entry that requires facts is never reported (Matrix._rank): mirror that.
    return {
        entry.id
        for entry in table.entries
        if not (entry.require_facts and entry.when) and any(sig.regex.search(text) for sig in entry.signatures)
    }


@FUZZ
@given(log_texts())
@example("NO EDGETPU WAS DETECTED")
@example("\u017fegmentation fault after loading edgetpu model\nSegmentation fault (core dumped)")
@example("Failed to load delegate from l\u0130bedgetpu.so.1")
def test_scan_finds_exactly_what_a_plain_search_finds(text):
    found = {m.entry.id for m in TABLE.scan([text], {}, limit=10_000)}
    assert found == brute_force(TABLE, text)


@contextlib.contextmanager
def word_index_always():
    """Blocks of any size go through the word index (normally only big blocks whose index is small do)."""
    with mock.patch.object(wordindex, "TOKEN_INDEX_MIN", 0), mock.patch.object(wordindex, "TOKEN_INDEX_SHARE", 1e9):
        yield


@FUZZ
@given(log_texts())
@example("Failed to load delegate from libedgetpu.so.1")
@example("No module named 'pycoral.adapters'")
@example("E:Unable to locate package python3-pycoral")
def test_the_word_index_changes_nothing_found(text):
    with word_index_always():
        found = {m.entry.id for m in TABLE.scan([text], {}, limit=10_000)}
    assert found == brute_force(TABLE, text)


LITERALS = sorted(
    {literal for entry in TABLE.entries for sig in entry.signatures for group in sig.groups for literal in group}
)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LITERALS),
            st.text(max_size=8),
            st.sampled_from([" ", "\n", ".", "_", "-", "\u0130", "\u00e9", "\udc80"]),
        ),
        max_size=30,
    ),
    st.lists(st.sampled_from(LITERALS), min_size=1, max_size=20),
)
def test_the_word_index_never_hides_a_literal(pieces, probes):
    lowered = signatures._fold("".join(pieces))
    with word_index_always():
        present = wordindex.Presence(lowered)
        for literal in probes + [lit[1:] for lit in probes if len(lit) > 1] + [lit[:-1] for lit in probes]:
            assert present.has(literal) == (literal in lowered), literal


@pytest.mark.parametrize(
    "literal,keys",
    [
        ("edgetpu", ("edgetpu",)),
        ("libedgetpu.so.1", ("\nso\n", "libedgetpu\n")),  # "1": hex digits only, left out of the index
        ("1a6e:089a", ()),
        ("failed to load delegate from ", ("\ndelegate\n", "failed\n", "\nload\n", "\nfrom\n", "\nto\n")),
        ('" [', ()),
        (" see ", ("\nsee\n",)),
    ],
)
def test_word_index_keys(literal, keys):
    assert sorted(wordindex.token_keys(literal)) == sorted(keys)


def test_the_word_index_is_used_on_big_blocks_only_when_it_is_small():
    ordinary = "Nov 29 06:08:00 host kernel: usb 1-1: new high-speed USB device number 3 using xhci_hcd\n" * 2000
    present = wordindex.Presence(signatures._fold(ordinary))
    assert not present.has("libedgetpu.so.1") and present.tokens and len(present.tokens) < 300
    assert present.has("xhci_hcd") and present.has("high-speed usb")
    import random

    rng = random.Random(1)
    hexdump = "".join(f"{rng.getrandbits(64):016x} {rng.getrandbits(32)} id\n" for _ in range(4000))
    present = wordindex.Presence(hexdump)  # every word new, but all hex: left out, the index stays small
    assert not present.has("edgetpu") and present.tokens is not None and len(present.tokens) < 100
    assert present.has(" id") and not present.has("1a6e:089a")
    words = "".join("".join(rng.choice("ghijklmnopqrstuvwxyz") for _ in range(12)) + "\n" for _ in range(4000))
    present = wordindex.Presence(words)  # every word new: an index as big as the block is not made
    assert not present.has("edgetpu") and present.tokens is None
    assert wordindex.Presence("short text").tokens is None


@FUZZ
@given(log_texts(max_pieces=6), st.lists(st.integers(0, 10_000), max_size=5))
def test_cutting_the_text_into_blocks_loses_nothing(text, cuts):
    lines = text.split("\n")
    marks = sorted({c % (len(lines) + 1) for c in cuts})
    blocks, last = [], 0
    for mark in marks + [len(lines)]:
        if mark > last:
            blocks.append("\n".join(lines[last:mark]) + ("\n" if mark < len(lines) else ""))
            last = mark
    assume("".join(blocks) == text)
    whole = {m.entry.id for m in TABLE.scan([text], {}, limit=10_000)}
    pieces = {m.entry.id for m in TABLE.scan(blocks, {}, limit=10_000)}
    assert pieces == whole


@FUZZ
@given(st.binary(max_size=3000), st.integers(1, 64))
@example(b"\xe2\x82\xac" * 50, 4)
@example(b"caf\xc3\xa9\n\xf0\x9f\x98\x80\xff\xfe\n", 3)
def test_read_blocks_decodes_any_bytes_as_the_whole_would_be(data, block_size):
    blocks = list(matrix.read_blocks(io.BytesIO(data), block_size))
    assert "".join(blocks) == data.decode("utf-8", "replace")
    assert all(len(b.encode("utf-8", "surrogatepass")) <= 8 * block_size + 16 for b in blocks)


@FUZZ
@given(st.text(max_size=2000))
def test_scan_never_raises_on_any_text(text):
    for match in TABLE.scan([text], {"os": "linux"}, limit=5):
        assert match.to_dict("linux")["entry"]


# --- the prefilter's analysis, on patterns generated from a small grammar ----------------------------------------
WORDS = ["edgetpu", "Failed", "apex_", "1a6e:089a", "Node number", "kelvin", "sis", "ok"]


@st.composite
def patterns(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 9 if depth < 2 else 5))
        if choice <= 2:
            parts.append(re.escape(draw(st.sampled_from(WORDS))))
        elif choice == 3:
            parts.append(
                draw(
                    st.sampled_from(
                        [
                            r"\d+",
                            r"\s*",
                            r"[^\n]*",
                            r".",
                            r"\w",
                            r"[a-f0-9]{2}",
                            r"\b",
                            r"[^a]",
                            r"[^K]{3}",
                            r"[^:]b",
                            r"[ -]",
                            r"[sS]",
                            r"[:.]?",
                            r"[iK]",
                        ]
                    )
                )
            )
        elif choice == 4:
            parts.append(draw(st.sampled_from([r".*", r"[\s\S]{0,40}?", r"(?:\n|$)", "^", r"[^\n]{0,30}?", r".{0,8}"])))
        elif choice == 5:
            parts.append(re.escape(draw(st.text(alphabet="abKSi:_- ", min_size=1, max_size=5))))
        elif choice == 6:
            parts.append("(?:" + "|".join(draw(st.lists(patterns(depth + 1), min_size=2, max_size=3))) + ")")
        elif choice == 7:
            # no + or * on groups: nested unbounded repeats backtrack catastrophically, which tests nothing
            parts.append("(" + draw(patterns(depth + 1)) + ")" + draw(st.sampled_from(["", "?", "{2}"])))
        elif choice == 8:
            parts.append("(?!" + draw(patterns(depth + 1)) + ")")
        else:
            parts.append("(?s:" + draw(patterns(depth + 1)) + ")")
    return "".join(parts)


@st.composite
def texts_for(draw, pattern):
    pieces = [draw(perturbed(w)) for w in draw(st.lists(st.sampled_from(WORDS), max_size=5))]
    pieces += [
        draw(st.text(alphabet="abKSi:_- 0123456789\n\u0130\u0131\u017f\u212a", max_size=12))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return "".join(draw(st.permutations(pieces)))


@FUZZ
@given(st.data())
def test_every_match_holds_a_literal_of_every_group(data):
    pattern = data.draw(patterns())
    try:
        regex = re.compile(pattern, signatures.FLAGS)
    except re.error:
        assume(False)
    groups, width, _ = signatures.analyse(pattern)
    text = data.draw(texts_for(pattern))
    found = regex.search(text)
    if found is None:
        return
    folded = signatures._fold(found.group(0))
    for group in groups:
        assert any(literal in folded for literal in group), (pattern, group, found.group(0))
    if width is not None:
        assert len(found.group(0)) <= width


@st.composite
def lead_ins(draw):
    """The "no X anywhere, REST somewhere" idiom the matrix uses: \\A(?![\\s\\S]*X)...[\\s\\S]*?REST."""
    negatives = "".join("(?![\\s\\S]*" + draw(patterns(depth=2)) + ")" for _ in range(draw(st.integers(0, 2))))
    any_run = draw(st.sampled_from(["[\\s\\S]*?", "(?s:.*?)"])) if negatives else "[\\s\\S]*?"
    if draw(st.booleans()):
        return "(?s)\\A" + negatives + ".*?" + draw(patterns())
    return "\\A" + negatives + any_run + draw(patterns())


@FUZZ
@given(st.data())
def test_every_match_begins_with_one_of_the_start_literals(data):
    pattern = data.draw(st.one_of(patterns(), lead_ins()))
    try:
        regex = re.compile(pattern, signatures.FLAGS)
    except re.error:
        assume(False)
    plan = signatures._make_plan(pattern)
    text = data.draw(texts_for(pattern))
    folded = signatures._fold(text)
    for found in regex.finditer(text):
        if plan.starts is not None:
            assert any(folded.startswith(s, found.start()) for s in plan.starts), (pattern, plan.starts, found)


@FUZZ
@given(st.data())
def test_a_generated_signature_is_found_as_a_plain_search_finds_it(data):
    pattern = data.draw(st.one_of(patterns(), lead_ins()))
    try:
        sig = signatures.Signature.build(pattern)
    except re.error:
        assume(False)
    text = data.draw(texts_for(pattern)) * data.draw(st.integers(1, 3))
    entry = matrix.Entry(
        id="generated",
        cause="x",
        title="t",
        explanation="e",
        remedy={"all": "r"},
        references=["https://example.org"],
        signatures=[sig],
    )
    table = matrix.Matrix([entry], [], Path("."))
    expected = sig.regex.search(engine._normalise(text)) is not None
    assert bool(table.scan([text])) == expected
    with word_index_always():
        assert bool(table.scan([text])) == expected


def test_literal_analysis_of_the_real_matrix():
    """Every real signature has a prefilter (else every block runs its regex), and each of its examples
    contains a literal of every group."""
    for entry in TABLE.entries:
        for sig in entry.signatures:
            assert sig.groups, f"{entry.id}: no literal prefilter for {sig.pattern!r}"
        for example_text in entry.examples:
            folded = signatures._fold(engine._normalise(example_text))
            assert any(all(any(lit in folded for lit in g) for g in sig.groups) for sig in entry.signatures), entry.id


@pytest.mark.parametrize(
    "pattern,expected",
    [
        (r"Failed to load delegate from libedgetpu\.so\.1", (("failed to load delegate from libedgetpu.so.1",),)),
        (r"(?:abc|def)ghi", (("ghi",), ("abc", "def"))),
        (r"ab", (("ab",),)),
        (r"a", ()),
        (r"(?:\bVM\b|virtual machine)", (("virtual machine", "vm"),)),
        (r"(?:Windows|\b[A-Z]:\\)", ((":\\", "windows"),)),
        (r"x(?!forbidden)y", ()),
        (r"edgetpu[^a]", (("edgetpu",),)),
        (r"(?:edgetpu)+x", (("edgetpu",),)),
        (r"(?:edgetpu)?xyz", (("xyz",),)),
        (r"apex_\d+/temp", (("apex_",), ("/temp",))),
        (r"\u0130stanbul", (("stanbul",),)),
    ],
)
def test_analyse_examples(pattern, expected):
    groups, _, _ = signatures.analyse(pattern)
    assert set(groups) == set(expected)


def test_string_edge_patterns_are_searched_over_the_whole_block():
    assert signatures.analyse(r"\A(?![\s\S]*foo)[\s\S]*?bar")[2] is True
    assert signatures.analyse(r"foo\Z")[2] is True
    assert signatures.analyse(r"^foo$")[2] is False


def _one_entry_table(pattern):
    entry = matrix.Entry(
        id="only",
        cause="x",
        title="t",
        explanation="e",
        remedy={"all": "r"},
        references=["https://example.org"],
        signatures=[signatures.Signature.build(pattern)],
    )
    return matrix.Matrix([entry], [], Path("."))


def test_nowhere_x_is_judged_over_the_whole_stream_and_all_pieces(tmp_path):
    """`\\A(?![\\s\\S]*X)[\\s\\S]*?REST`: a REST early in a log does not count when X comes much later, in a
    later block or in a later piece of a big file scanned side by side."""
    from edgedoctor.diagnosis import explain

    table = _one_entry_table(r"\A(?![\s\S]*zebra-veto)[\s\S]*?quokka-target")
    filler = "ordinary line of a log\n" * 20_000
    assert table.scan(["quokka-target\n", filler, "nothing else\n"])
    assert not table.scan(["quokka-target\n", filler, "zebra-veto\n"])
    assert not table.scan(["zebra-veto\n", filler, "quokka-target\n"])
    log = tmp_path / "log"
    log.write_text("quokka-target\n" + filler * 10 + "ZEBRA-VETO\n")
    assert log.stat().st_size > 4 << 20
    for pieces in (1, 3):
        assert explain.explain_files([str(log)], table=table, pieces=pieces, limit=5)["matches"] == []
    log.write_text("quokka-target\n" + filler * 10)
    for pieces in (1, 3):
        assert explain.explain_files([str(log)], table=table, pieces=pieces, limit=5)["matches"]


def test_single_line_signatures_search_only_the_lines_that_can_match():
    """A signature that cannot span a newline is searched line by line around its rarest literal; in a big
    block full of its common words it still finds exactly what a plain search finds, and nothing across lines."""
    pattern = r"(?:second|another) (?:process|container)[^\n]{0,60}?(?:can.?t|fail\w*)[^\n]{0,60}?(?:edge ?tpu|coral)"
    assert signatures._make_plan(pattern).single_line
    table = _one_entry_table(pattern)
    noise = "".join(
        f"[INFO] detector.coral: another process {n} started; scan failed by coral? no\n" for n in range(6000)
    )
    split = "another process started\nand then it failed to open the Edge TPU\n"
    hit = "Nov 29 kernel: the second container can't open the Edge TPU: busy\n"
    assert len(noise) > 4 * signatures.SAMPLE
    for text, expected in (
        (noise, True),
        (noise.replace("coral", "cam"), False),
        (noise.replace("coral", "cam") + split, False),
        (noise.replace("coral", "cam") + split + hit, True),
    ):
        assert bool(table.match(text)) == expected == bool(re.search(pattern, text, signatures.FLAGS))
        if expected:
            assert table.match(text)[0].matched_text == engine._context(
                text, re.search(pattern, text, signatures.FLAGS)
            )
