"""`edgedoctor models list | fetch | verify`: the known-good model sets, their files, the cache."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List

from edgedoctor import exitcodes

NAME = "models"


def _common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option left out keeps whatever the main parser put in the namespace.
    parser.add_argument(
        "--models-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="a mirror folder with the known-good files (used before the cache)",
    )
    parser.add_argument(
        "--models-url",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="download from this mirror base URL + '/' + file name (env: EDGEDOCTOR_MODELS_URL)",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the cache folder (default: the user cache folder)",
    )
    parser.add_argument(
        "--offline", action="store_true", default=argparse.SUPPRESS, help="never open a network connection"
    )
    parser.add_argument("--format", choices=["terminal", "text", "json"], default=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    listing = actions.add_parser("list", help="the known-good sets, their files and where each is available")
    _common(listing)
    fetch = actions.add_parser(
        "fetch", help="download the files of the named sets into the cache (default: the default set)"
    )
    fetch.add_argument("sets", nargs="*", metavar="SET")
    fetch.add_argument("--all", action="store_true", help="every set")
    _common(fetch)
    verify = actions.add_parser(
        "verify", help="check the sha256 of the files in the cache and the mirror folder (no network)"
    )
    verify.add_argument("sets", nargs="*", metavar="SET")
    _common(verify)
    _common(parser)


def _opt(args: argparse.Namespace, name: str, default=None):
    return getattr(args, name, default)


def _resolver(args, manifest, network_progress=None):
    from edgedoctor import models

    settings = models.DownloadSettings.from_env(os.environ)
    settings.progress = network_progress
    return models.Resolver(
        manifest,
        models_dir=_opt(args, "models_dir"),
        models_url=_opt(args, "models_url") or os.environ.get(models.MODELS_URL_ENV),
        cache_dir=_opt(args, "cache_dir"),
        offline=bool(_opt(args, "offline", False)),
        settings=settings,
    )


def _availability(resolver, name: str) -> Dict[str, Any]:
    result = resolver.resolve(name, network=False)
    return {
        "available": result.ok,
        "origin": result.origin,
        "path": result.path,
        "problem": None if result.ok else next((a for a in result.attempts if "sha256" in a or "bytes" in a), None),
    }


def do_list(args, manifest) -> int:
    resolver = _resolver(args, manifest)
    rows = []
    for model_set in manifest.sets.values():
        files = []
        for name in model_set.files:
            spec = manifest.files[name]
            files.append(
                dict(
                    {"name": name, "size": spec.size, "sha256": spec.sha256, "url": resolver.url_for(spec)},
                    **_availability(resolver, name),
                )
            )
        rows.append(
            {
                "name": model_set.name,
                "title": model_set.title,
                "default": model_set.name == manifest.default_set,
                "expected": model_set.expected,
                "cpu_model": model_set.cpu_model,
                "tpu_model": model_set.tpu_model,
                "files": files,
            }
        )
    if _opt(args, "format") == "json":
        sys.stdout.write(
            json.dumps(
                {"schema_version": 1, "default_set": manifest.default_set, "where": resolver.describe(), "sets": rows},
                indent=2,
            )
            + "\n"
        )
        return exitcodes.SUCCESS
    out = [f"Cache: {resolver.cache}" + (f"   mirror: {resolver.models_dir}" if resolver.models_dir else "")]
    for row in rows:
        expected = row["expected"]
        out.append("")
        out.append(f"{row['name']}{' (default)' if row['default'] else ''}: {row['title']}")
        out.append(f"  expected top-1: {expected.get('id')} '{expected.get('label')}'")
        for f in row["files"]:
            where = f["origin"] if f["available"] else ("DAMAGED: " + f["problem"] if f["problem"] else "not fetched")
            out.append(f"  {f['name']:<54} {f['size']:>10,} bytes  {where}")
    sys.stdout.write("\n".join(out) + "\n")
    return exitcodes.SUCCESS


def do_fetch(args, manifest) -> int:
    if _opt(args, "all"):
        chosen = list(manifest.sets.values())
    elif _opt(args, "sets"):
        chosen = [manifest.get_set(n) for n in args.sets]
    else:
        chosen = [manifest.get_set(None)]
    resolver = _resolver(args, manifest, network_progress=None)
    results: List[Dict[str, Any]] = []
    for model_set in chosen:
        for name in model_set.files:
            if any(r["name"] == name for r in results):
                continue
            results.append(_into_cache(resolver, manifest, resolver.resolve(name).to_fact()))
    failed = [r for r in results if not r["ok"]]
    if _opt(args, "format") == "json":
        sys.stdout.write(
            json.dumps(
                {"schema_version": 1, "where": resolver.describe(), "files": results, "ok": not failed}, indent=2
            )
            + "\n"
        )
    else:
        for r in results:
            state = f"ok ({r['origin']}: {r['path']})" if r["ok"] else f"FAILED: {r['error']}"
            if r.get("cached"):
                state += f", copied into the cache: {r['cached']}"
            elif r.get("cache_error"):
                state += f", {r['cache_error']}"
            sys.stdout.write(f"{r['name']}: {state}\n")
        if failed:
            sys.stdout.write(
                f"{len(failed)} of {len(results)} files could not be fetched and verified; nothing bad "
                "was kept in the cache.\n"
            )
    return exitcodes.FAILURE if failed else exitcodes.SUCCESS


def _into_cache(resolver, manifest, fact: Dict[str, Any]) -> Dict[str, Any]:
    """`models fetch` fills the cache: a file verified in the mirror folder is copied there too (atomically,
    checked again), so later runs without --models-dir find it."""
    from edgedoctor import models

    if not fact.get("ok") or fact.get("origin") != models.MIRROR:
        return fact
    import tempfile

    source, dest = Path(fact["path"]), resolver.cache / fact["name"]
    temporary = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # named as a download's partial file (`.<name>.<random>.part`), so the stale-part cleanup knows it and
        # two fetches at once never write the same file
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=str(dest.parent))
        os.close(fd)
        temporary = Path(name)
        shutil.copyfile(source, temporary)
        problem = models.check_file(temporary, manifest.files[fact["name"]])
        if problem:
            raise OSError(problem)
        os.replace(temporary, dest)
    except OSError as exc:
        try:
            if temporary is not None:
                temporary.unlink()
        except OSError:
            pass
        return dict(fact, cache_error=f"not copied into the cache {resolver.cache}: {exc}")
    return dict(fact, cached=str(dest))


def do_verify(args, manifest) -> int:
    from edgedoctor import models

    wanted = None
    if _opt(args, "sets"):
        wanted = set()
        for name in args.sets:
            wanted.update(manifest.get_set(name).files)
    rows = [
        r
        for r in models.verify_cache(manifest, _opt(args, "cache_dir"), _opt(args, "models_dir"))
        if wanted is None or r["name"] in wanted
    ]
    damaged = [r for r in rows if r["origin"] and not r["ok"]]
    missing = [r for r in rows if not r["origin"]]
    if _opt(args, "format") == "json":
        sys.stdout.write(
            json.dumps({"schema_version": 1, "files": rows, "damaged": len(damaged), "missing": len(missing)}, indent=2)
            + "\n"
        )
    else:
        for r in rows:
            state = "ok" if r["ok"] else ("not present" if not r["origin"] else f"DAMAGED: {r['error']}")
            sys.stdout.write(f"{r['name']}: {state}" + (f" ({r['origin']}: {r['path']})" if r["origin"] else "") + "\n")
        if damaged:
            sys.stdout.write("Damaged files are replaced by the next `edgedoctor models fetch` or check.\n")
    if damaged or (wanted is not None and missing):
        return exitcodes.FAILURE
    return exitcodes.SUCCESS


def run(args: argparse.Namespace) -> int:
    from edgedoctor import models

    action = getattr(args, "models_action", None) or "list"
    try:
        manifest = models.load_manifest()
    except (OSError, ValueError) as exc:
        print(f"edgedoctor models: cannot read the manifest: {exc}", file=sys.stderr)
        return exitcodes.INTERNAL_ERROR
    try:
        if action == "list":
            return do_list(args, manifest)
        if action == "fetch":
            return do_fetch(args, manifest)
        if action == "verify":
            return do_verify(args, manifest)
    except KeyError as exc:
        print(f"edgedoctor models: {exc.args[0]}", file=sys.stderr)
        return exitcodes.USAGE_ERROR
    print(f"edgedoctor models: unknown action {action!r}", file=sys.stderr)
    return exitcodes.USAGE_ERROR
