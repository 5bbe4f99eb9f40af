"""`edgedoctor matrix list | show ID | validate`."""

from __future__ import annotations

import argparse
import json
import sys

from edgedoctor import exitcodes

NAME = "matrix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="one line per entry")
    listing.add_argument("--cause", help="only entries with this cause code")
    listing.add_argument("--format", choices=["terminal", "json"], default="terminal")
    listing.add_argument(
        "--stale",
        action="store_true",
        help="only entries whose remedy depends on another project's state (as_of) older than a year",
    )
    show = sub.add_parser("show", help="an entry in full")
    show.add_argument("id")
    show.add_argument("--format", choices=["terminal", "json"], default="terminal")
    validate = sub.add_parser("validate", help="schema, regexes, cause codes, examples, duplicate ids")
    validate.add_argument("--dir", help="validate this matrix folder instead of the installed one")
    for p in (listing, show):
        p.add_argument("--dir", help=argparse.SUPPRESS)


def _entry_dict(entry):
    return {
        "id": entry.id,
        "cause": entry.cause,
        "title": entry.title,
        "severity": entry.severity,
        "confidence": entry.confidence,
        "signatures": [s.pattern for s in entry.signatures],
        "when": entry.when,
        "explanation": entry.explanation,
        "remedy": entry.remedy,
        "references": entry.references,
        "examples": entry.examples,
        "file": entry.file,
        "verification": entry.verification,
        "as_of": entry.as_of,
    }


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgedoctor import matrix

    folder = Path(args.dir) if getattr(args, "dir", None) else None
    if args.action == "validate":
        return _validate(folder)
    table = matrix.load(folder)
    if args.action == "show":
        return _show(table, args)
    if args.action == "list":
        return _list(table, args)
    print("edgedoctor matrix: choose list, show ID or validate", file=sys.stderr)
    return exitcodes.USAGE_ERROR


def _validate(folder) -> int:
    """Every problem of the matrix (and the releases table), then a summary line with the cause codes covered."""
    from edgedoctor import matrix

    problems = matrix.validate(folder)
    table = matrix.load(folder)
    releases_problems: list = []
    try:
        from edgedoctor.matrix import releases

        releases_problems = releases.validate(folder) if hasattr(releases, "validate") else []
    except ImportError:
        pass
    for problem in list(problems) + list(releases_problems):
        print(str(problem))
    covered = {e.cause for e in table.entries}
    missing = sorted(set(matrix.known_causes(folder)) - covered)
    total = len(problems) + len(releases_problems)
    print(
        f"{len(table.entries)} valid entries, {total} problem{'s' if total != 1 else ''}; "
        f"{len(covered)} cause codes covered" + (f", not covered: {', '.join(missing)}" if missing else "")
    )
    return exitcodes.FAILURE if total else exitcodes.SUCCESS


def _show(table, args: argparse.Namespace) -> int:
    entry = table.get(args.id)
    if entry is None:
        print(f"edgedoctor matrix: no entry {args.id!r}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    if args.format == "json":
        print(json.dumps(_entry_dict(entry), indent=2))
        return exitcodes.SUCCESS
    data = _entry_dict(entry)
    print(f"{entry.id}  [{entry.cause}, {entry.severity}]  ({entry.file})\n{entry.title}\n")
    print(entry.explanation + "\n")
    if data["signatures"]:
        print("signatures:\n" + "\n".join(f"  {s}" for s in data["signatures"]))
    if entry.when:
        print("when:\n" + "\n".join(f"  {k} = {v}" for k, v in entry.when.items()))
    print("remedy:\n" + "\n".join(f"  {k}: {v}" for k, v in entry.remedy.items()))
    print("references:\n" + "\n".join(f"  {r}" for r in entry.references))
    if entry.verification:
        print(
            f"verification: {entry.verification.get('status')} {entry.verification.get('date')}: "
            f"{entry.verification.get('how')}"
        )
    if entry.as_of:
        print(f"remedy as of: {entry.as_of}")
    return exitcodes.SUCCESS


def _list(table, args: argparse.Namespace) -> int:
    from edgedoctor import matrix

    entries = [e for e in table.entries if not args.cause or e.cause == args.cause]
    if args.stale:
        entries = matrix.stale(entries)
    if args.format == "json":
        print(json.dumps([_entry_dict(e) for e in entries], indent=2))
    elif args.stale:
        for entry in entries:
            print(f"{entry.id:45} as of {entry.as_of}  {entry.title}")
        print(
            f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} with a remedy last checked more than "
            "a year ago (recheck the project it depends on, then update as_of)"
        )
    else:
        for entry in entries:
            kind = "facts" if entry.is_fact_entry else "text "
            mark = " (inferred)" if entry.inferred else ""
            print(f"{entry.id:45} {entry.cause:26} {kind} {entry.title}{mark}")
        print(f"{len(entries)} entries")
    return exitcodes.SUCCESS
