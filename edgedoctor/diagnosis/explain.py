"""explain: error text (or logs) to ranked known causes. The core behind `edgedoctor explain`."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from edgedoctor import matrix
from edgedoctor.facts import factview
from edgedoctor.matrix import signatures

SCHEMA_VERSION = 1


def facts_view(report_path: Optional[str] = None, pairs: Iterable[str] = ()) -> Dict[str, Any]:
    """The flat fact view from a saved report and/or KEY=VALUE pairs (pairs win). Raises ValueError."""
    base = None
    if report_path:
        try:
            data = json.loads(Path(report_path).read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise ValueError(f"--report {report_path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ValueError(f"--report {report_path}: not a JSON report ({exc})") from None
        except RecursionError:
            raise ValueError(f"--report {report_path}: not a JSON report (nested too deeply)") from None
        if not isinstance(data, dict) or not isinstance(data.get("facts"), dict):
            raise ValueError(f"--report {report_path}: not an edgedoctor report (no 'facts')")
        # A section that is not an object (a hand-edited or truncated report) is as good as unknown.
        facts = {key: value for key, value in data["facts"].items() if isinstance(value, dict)}
        try:
            base = factview.from_facts(facts)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"--report {report_path}: malformed facts ({type(exc).__name__}: {exc})") from None
        # A fact view holds plain values; a list or an object where one belongs is as good as unknown.
        base = {
            key: value if value is None or isinstance(value, (str, int, float, bool)) else None
            for key, value in base.items()
        }
    return factview.from_pairs(pairs, base)


def open_log(path: str):
    """A binary stream of a log file, gunzipped when it is gzip (by magic bytes, not by name)."""
    return gunzipped(open(path, "rb"))


def gunzipped(stream):
    """`stream`, or what it holds when it is gzip (a rotated log, `cat syslog.2.gz | edgedoctor explain -`),
    told by its first two bytes without consuming them (a stream that cannot peek is taken as it is)."""
    magic = stream.peek(2)[:2] if hasattr(stream, "peek") else b""
    if magic == b"\x1f\x8b":
        import gzip

        return gzip.GzipFile(fileobj=stream)
    return stream


def blocks_from_files(paths: Iterable[str], problems: Optional[List[str]] = None) -> Iterator[str]:
    """Text blocks of every log in turn. A file that cannot be opened raises OSError (a wrong path is the
    user's to fix); one that breaks off while being read (a truncated or corrupt gzip, an I/O error, a log
    on a device that went away) ends there: what was read is still scanned, and `problems` gets a line."""
    for path in paths:
        with open_log(path) as stream:
            try:
                yield from matrix.read_blocks(stream)
            except Exception as exc:
                if not broke_off(exc):
                    raise
                _note(problems, path, exc)


def broke_off(exc: BaseException) -> bool:
    """Whether `exc` is a stream breaking off (an I/O error, a truncated or corrupt gzip: OSError including
    gzip.BadGzipFile, EOFError, zlib.error), which ends a log where it broke, rather than a bug."""
    return isinstance(exc, (OSError, EOFError)) or type(exc).__module__ in ("zlib", "gzip", "_compression")


def _note(problems: Optional[List[str]], path: str, exc: BaseException) -> None:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        reason = "the compressed log ends early (truncated)"
    if problems is not None:
        problems.append(f"{path}: {reason}; only the part before it was explained")


def blocks_from_stream(stream) -> Iterator[str]:
    raw = getattr(stream, "buffer", stream)
    if isinstance(raw, io.TextIOBase):
        while True:
            chunk = raw.read(1 << 20)
            if not chunk:
                break
            yield chunk
        return
    yield from matrix.read_blocks(raw)


# --- big logs: scanned in pieces side by side -------------------------------------------------------------------
#
# The scan is bound by one pass over the text per literal (see matrix.py), so a big plain log on a machine
# with several cores is cut into byte ranges at line ends, each scanned by a forked child; each entry keeps its
# first match in file order. A piece also scans the CARRY bytes before its start, so a match across a cut is
# not lost. Anything that goes wrong with the children falls back to one sequential scan.

PARALLEL_MIN_BYTES = 48 << 20
MAX_PIECES = 4
_OVERLAP_BYTES = 4 * signatures.CARRY


def explain_files(
    paths: Iterable[str],
    facts: Optional[Dict[str, Any]] = None,
    limit: int = 10,
    problems: Optional[List[str]] = None,
    table: Optional[matrix.Matrix] = None,
    pieces: Optional[int] = None,
) -> Dict[str, Any]:
    """explain over log files: like explain_blocks(blocks_from_files(paths)), faster on big plain logs.
    Raises OSError when a file cannot be opened."""
    table = table or matrix.load()
    facts = facts or {}
    parts: List[tuple] = []  # (key prefix, details) of every file or piece, in stream order
    definite: set = set()
    context: List[str] = []  # lines with Coral context, for the statistical cause model
    for number, path in enumerate(paths):
        found = None
        workers = _pieces_for(path, pieces)
        if workers > 1:
            found = _scan_in_pieces(table, path, workers, skip=definite)
        if found is None:
            details: Dict[str, Any] = {}
            collector = matrix.ContextCollector(blocks_from_files([path], problems))
            table.first_hits(collector, skip=definite, details=details)
            collector.drain()
            context.append(collector.text)
            found = [((), details)]
        for prefix, details in found:
            parts.append(((number,) + prefix, details))
            definite.update(details["definite"])
    # Big logs scanned in pieces give the statistical model no context lines: curated signatures only there.
    ranked = table._rank(_merge(parts), facts, limit)
    return _result(table.with_guess(ranked, "\n".join(context)[:65536], facts, limit), facts)


def _merge(parts: List[tuple]) -> List[tuple]:
    """Each entry's first hit over all parts of the stream; a hit whose signature said "nowhere X" is
    dropped when any part holds X."""
    vetoed = set().union(*(details["vetoed"] for _, details in parts)) if parts else set()
    best: Dict[str, tuple] = {}
    for prefix, details in parts:
        candidates = list(details["definite"].items()) + [
            (entry_id, hit)
            for (entry_id, index), hit in details["tentative"].items()
            if (entry_id, index) not in vetoed
        ]
        for entry_id, (entry, context, span, where) in candidates:
            key = prefix + tuple(where)
            if entry_id not in best or key < best[entry_id][3]:
                best[entry_id] = (entry, context, span, key)
    return [hit[:3] for hit in best.values()]


def _pieces_for(path: str, requested: Optional[int]) -> int:
    import os
    import sys

    if requested is not None:
        wanted = requested
    else:
        wanted = min(
            MAX_PIECES, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        )
    if wanted <= 1 or not sys.platform.startswith("linux") or os.environ.get("EDGEDOCTOR_NO_PARALLEL"):
        return 1
    import stat

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return 1  # a pipe (`--file <(zcat log.gz)`), a device: read once, from its start
        size = info.st_size
        if requested is None and size < PARALLEL_MIN_BYTES:
            return 1
        with open(path, "rb") as handle:
            if handle.read(2) == b"\x1f\x8b":
                return 1  # gzip is read from its start
    except OSError:
        return 1
    return max(1, min(wanted, size // (1 << 20)))


def _scan_in_pieces(table: matrix.Matrix, path: str, workers: int, skip) -> Optional[List[tuple]]:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    global _SHARED_TABLE
    try:
        size = os.path.getsize(path)
        cuts = [0] + [_line_start(path, size * i // workers) for i in range(1, workers)] + [size]
        ranges = [(cuts[i], cuts[i + 1]) for i in range(workers) if cuts[i + 1] > cuts[i]]
        _SHARED_TABLE = table  # inherited by the forked children, never pickled
        # ProcessPoolExecutor, not Pool: a child killed by a signal (the OOM killer) raises BrokenProcessPool
        # here instead of leaving us waiting forever.
        with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_scan_range, path, start, end, sorted(skip)) for start, end in ranges]
            pieces = [future.result() for future in futures]
    except Exception:  # no fork, no /dev/shm, a child that died: one sequential scan instead
        return None
    finally:
        _SHARED_TABLE = None
    if any(piece is None for piece in pieces):
        return None
    return [((number,), _entries_back(table, piece)) for number, piece in enumerate(pieces)]  # type: ignore[arg-type]


def _entries_back(table: matrix.Matrix, piece: Dict[str, Any]) -> Dict[str, Any]:
    """A piece's details as they came from the child (entry ids), with the entries put back."""

    def full(hit):
        context, span, where = hit
        return None, context, span, where

    definite = {entry_id: (table.get(entry_id),) + full(hit)[1:] for entry_id, hit in piece["definite"].items()}
    tentative = {key: (table.get(key[0]),) + full(hit)[1:] for key, hit in piece["tentative"].items()}
    return {"definite": definite, "tentative": tentative, "vetoed": piece["vetoed"]}


_SHARED_TABLE: Optional[matrix.Matrix] = None


def _line_start(path: str, offset: int) -> int:
    """The first line start at or after `offset` (or `offset` itself inside a line of over a megabyte)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, offset - 1))
        data = handle.read(1 << 20)
    cut = data.find(b"\n")
    return offset if cut < 0 else max(0, offset - 1) + cut + 1


def _scan_range(path: str, start: int, end: int, skip) -> Optional[Dict[str, tuple]]:
    """In a child: the first hits of the bytes [start, end) of `path` (plus the overlap before `start`)."""
    table = _SHARED_TABLE or matrix.load()
    details: Dict[str, Any] = {}
    try:
        begin = _line_start(path, start - _OVERLAP_BYTES) if start > 0 else 0
        with open(path, "rb") as handle:
            handle.seek(begin)
            table.first_hits(matrix.read_blocks(_Limited(handle, end - begin)), skip=skip, details=details)
    except OSError:
        return None
    return _portable(details)


def _portable(details: Dict[str, Any]) -> Dict[str, Any]:
    """A child's details as they cross back: entries stay in the parent, only their ids, the matched text and
    where (`_entries_back` puts the entries back)."""
    return {
        "definite": {entry_id: hit[1:] for entry_id, hit in details["definite"].items()},
        "tentative": {key: hit[1:] for key, hit in details["tentative"].items()},
        "vetoed": details["vetoed"],
    }


class _Limited:
    """A binary stream that ends after `left` bytes."""

    def __init__(self, stream, left: int):
        self.stream, self.left = stream, left

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.stream.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


# --- standard input: read once, scanned in segments side by side ---------------------------------------------------
#
# A stream cannot be cut by offset, so it is read in order, in segments of SEGMENT_BYTES ending at line ends. A
# stream of one segment is scanned here; a longer one goes to forked children (forked before anything is scanned,
# while this process is small), each segment with the _OVERLAP_BYTES before it, at most one segment more than
# there are children in flight (flat memory). The merge is the one the pieces of a file use. A child that fails
# leaves its segment, and every later one, to this process.

SEGMENT_BYTES = 1 << 20


def explain_stream(
    raw,
    facts: Optional[Dict[str, Any]] = None,
    limit: int = 10,
    table: Optional[matrix.Matrix] = None,
    workers: Optional[int] = None,
    segment_bytes: int = SEGMENT_BYTES,
    problems: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """explain over a binary stream read once (`explain -`): the same answer as explain_blocks over the whole
    stream, faster on a long one where there are cores to spare."""
    table = table or matrix.load()
    facts = facts or {}
    raw = gunzipped(raw)
    collector = matrix.ContextCollector(())
    wanted = {entry.id for entry in table.entries if entry.signatures}
    scan = _StreamScan(table)

    global _SHARED_TABLE
    segments = _segments(raw, segment_bytes, problems)
    ahead = [segment for segment in (next(segments, None), next(segments, None)) if segment is not None]
    try:
        if len(ahead) > 1:  # a stream longer than one segment: children, when there are cores, forked while
            scan.pool, scan.count = _stream_pool(table, workers)  # this process is still small
        for number, data in enumerate(itertools.chain(ahead, segments)):
            if collector.size < collector.cap:
                for block in matrix.read_blocks(io.BytesIO(data)):
                    collector.feed(block)
            scan.add(number, data)
            if wanted <= scan.definite:
                break  # every text entry has matched earlier in the stream than anything still in flight
        scan.finish()
    finally:
        scan.close()
        _SHARED_TABLE = None
    ranked = table._rank(_merge(sorted(scan.parts, key=lambda part: part[0])), facts, limit)
    return _result(table.with_guess(ranked, collector.text, facts, limit), facts)


class _StreamScan:
    """The segments of one stream, each scanned here or by a forked child (`pool`, `count` children), and
    settled in stream order: `parts` as explain_files has them, `definite` the entries matched so far."""

    def __init__(self, table: matrix.Matrix):
        self.table = table
        self.parts: List[tuple] = []
        self.definite: set = set()
        self.pool: Any = None
        self.count = 0
        self.inflight: List[tuple] = []  # (segment number, its bytes, the child's future), in stream order

    def add(self, number: int, data: bytes) -> None:
        """Scan a segment here, or hand it to a child; settle what the children have done, in order."""
        if self.pool is None:
            self._scan_here(number, data)
        else:
            self.inflight.append((number, data, self.pool.submit(_scan_bytes, data, sorted(self.definite))))
        while self.inflight and (len(self.inflight) > self.count or self.inflight[0][2].done()):
            if not self._take_oldest():  # children fail: this process scans what is left, in order
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.pool = None
                self._scan_rest_here()

    def finish(self) -> None:
        """Settle every segment still in flight."""
        while self.inflight and self.pool is not None:
            if not self._take_oldest():
                self._scan_rest_here()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, number: int, details: Dict[str, Any]) -> None:
        self.parts.append(((number,), details))
        self.definite.update(details["definite"])

    def _scan_here(self, number: int, data: bytes) -> None:
        details: Dict[str, Any] = {}
        self.table.first_hits(matrix.read_blocks(io.BytesIO(data)), skip=self.definite, details=details)
        self._settle(number, details)

    def _scan_rest_here(self) -> None:
        while self.inflight:
            self._scan_here(*self.inflight.pop(0)[:2])

    def _take_oldest(self) -> bool:
        """Settle the oldest segment in flight; False when its child failed (it is scanned here instead)."""
        number, data, future = self.inflight.pop(0)
        try:
            piece = future.result()
        except Exception:  # a child killed by a signal, a broken pool
            piece = None
        if piece is None:
            self._scan_here(number, data)
            return False
        self._settle(number, _entries_back(self.table, piece))
        return True


def _segments(raw, size: int, problems: Optional[List[str]] = None) -> Iterator[bytes]:
    """The stream in segments of about `size` bytes ending at line ends (`matrix.read_chunks`), each with the
    _OVERLAP_BYTES before it (from a line start) put in front, so a match across a cut is not lost. A stream
    that breaks off (a truncated or corrupt gzip) ends there: what was read is still scanned, and `problems`
    gets a line."""
    tail = b""
    chunks = matrix.read_chunks(raw, size)
    while True:
        try:
            data = next(chunks)
        except StopIteration:
            return
        except Exception as exc:
            if not broke_off(exc):
                raise
            _note(problems, "standard input", exc)
            return
        yield tail + data
        tail = data[-_OVERLAP_BYTES:]
        newline = tail.find(b"\n")
        tail = tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail


def _stream_pool(table: matrix.Matrix, workers: Optional[int]):
    """(a pool of forked children, their number), or (None, 0) where there is one core, no fork or it is off."""
    import multiprocessing
    import os
    import sys
    from concurrent.futures import ProcessPoolExecutor

    global _SHARED_TABLE
    count = (
        workers
        if workers is not None
        else min(
            MAX_PIECES, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        )
    )
    if count <= 1 or not sys.platform.startswith("linux") or os.environ.get("EDGEDOCTOR_NO_PARALLEL"):
        return None, 0
    try:
        _SHARED_TABLE = table  # inherited by the forked children, never pickled
        return ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")), count
    except Exception:  # no fork, no /dev/shm: this process scans every segment
        return None, 0


def _scan_bytes(data: bytes, skip) -> Optional[Dict[str, Any]]:
    """In a child: the first hits of one segment of a stream."""
    table = _SHARED_TABLE or matrix.load()
    details: Dict[str, Any] = {}
    table.first_hits(matrix.read_blocks(io.BytesIO(data)), skip=skip, details=details)
    return _portable(details)


def _result(matches: List[matrix.Match], facts: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "matches": [m.to_dict(facts.get("os")) for m in matches],
        "facts": {k: v for k, v in facts.items() if v is not None},
    }


def explain_blocks(
    blocks: Iterable[str],
    facts: Optional[Dict[str, Any]] = None,
    limit: int = 10,
    table: Optional[matrix.Matrix] = None,
) -> Dict[str, Any]:
    table = table or matrix.load()
    facts = facts or {}
    return _result(table.scan(blocks, facts, limit, guess=True), facts)


def explain_text(text: str, facts: Optional[Dict[str, Any]] = None, limit: int = 10) -> Dict[str, Any]:
    return explain_blocks([text], facts, limit)


def render_terminal(result: Dict[str, Any]) -> str:
    from edgedoctor.util import safetext

    result = safetext.deep(result, safetext.terminal)  # the matched text is the log's: no escape sequences
    matches: List[Dict[str, Any]] = result["matches"]
    if not matches:
        return (
            "No known Coral Edge TPU cause matches this text. edgedoctor only names causes it has seen "
            "in real reports; run `edgedoctor check` to examine the setup itself.\n"
        )
    out = []
    for rank, match in enumerate(matches, 1):
        out.append(f"{rank}. {match['title']}")
        out.append(f"   cause: {match['cause']}   entry: {match['entry']}   confidence: {match['confidence']:.2f}")
        if match.get("matched_text"):
            out.append(f"   matched: {match['matched_text']}")
        if match.get("evidence") and match["entry"].startswith("statistical."):
            out.append(f"   telling {'; '.join(match['evidence'])}")
        elif match.get("evidence"):
            out.append(f"   facts that support it: {'; '.join(match['evidence'])}")
        if match.get("contradicted"):
            out.append(f"   facts that speak against it: {'; '.join(match['contradicted'])}")
        out.append(f"   why: {match['explanation']}")
        out.append("   remedy:")
        out.extend("     " + line for line in match["remedy"].splitlines())
        for ref in match["references"]:
            out.append(f"   see: {ref}")
        out.append("")
    return "\n".join(out)
