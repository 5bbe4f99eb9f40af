"""One plan per machine: the target stack and the ordered steps that take this machine there.

Pure (Facts in, plan out). The target comes from a known-good row of `matrix/releases.toml` (never a row the
matrix's fact entries call known-bad), with the wheels and runtime packages that exist for this OS,
architecture and Python (`matrix/install.toml`). Of the targets that fit, the one that changes the fewest
things the user has wins; ties go to the Python closest to the examined one (the easiest to get), then to
the official runtime.

Commands name the examined interpreter by path. An externally-managed interpreter (PEP 668), a Python with no
fitting wheel, or an environment whose other packages need numpy 2 gets a new venv instead of a pip install
into it. `apply_changes(facts, changes)` gives the facts as they will be after the plan (what the consistency
tests judge again).

Plan shape (report key `plan`): {"target": {fact: value}, "steps": [{"title", "commands", "fixes",
"changes"}], "notes": [...]}.
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from edgedoctor.facts.situation import Situation, major_minor, situation, spec_holds
from edgedoctor.matrix import install, releases

INTERPRETERS = ("tflite_runtime", "ai_edge_litert", "tensorflow")
PIP_NAMES = {"tflite_runtime": "tflite-runtime", "ai_edge_litert": "ai-edge-litert", "tensorflow": "tensorflow"}
DEBARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf"}
FALLBACK_PYTHONS = ("3.11", "3.10", "3.9", "3.8")
PLAN_KEYS = (
    "python",
    "python_executable",
    "tflite_runtime",
    "ai_edge_litert",
    "tensorflow",
    "numpy",
    "pycoral",
    "pycoral_identity",
    "runtime_found",
    "runtime_release",
    "runtime_package",
    "runtime_version",
)

# Facts in, the findings (as dicts) a judgement of them gives out.
Rejudge = Callable[[Dict[str, Any]], List[Dict[str, Any]]]


def _version_key(version: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


# --- what exists -----------------------------------------------------------------------------------------------


def _arch_in(arch: Optional[str], wanted: List[str]) -> bool:
    if not wanted:
        return True
    aliases = {arch, {"arm64": "aarch64", "aarch64": "arm64"}.get(arch or "", arch)}
    return any(a in wanted for a in aliases)


def wheels(package: str, python_mm: str, sit: Situation) -> List[Dict[str, Any]]:
    """Wheel rows of `package` installable on this OS/arch/Python, newest first."""
    found = []
    for row in install.data().get("wheel") or []:
        if row.get("package") != package or sit.os not in (row.get("os") or [sit.os]):
            continue
        if not _arch_in(sit.arch, row.get("arch") or []):
            continue
        if not spec_holds(row.get("python"), python_mm):
            continue
        if row.get("glibc") and sit.glibc and not spec_holds(f">={row['glibc']}", sit.glibc):
            continue
        found.append(row)
    return sorted(found, key=lambda r: _version_key(r["version"]), reverse=True)


def numpy_below_2(python_mm: str) -> str:
    return str((install.data().get("numpy_below_2") or {}).get(python_mm, "1.26.4"))


def runtime_recipe(release_id: str, sit: Situation) -> Optional[Dict[str, Any]]:
    """How to install `release_id` here: {"package", "commands", ...}, or None when no install is known."""
    for row in install.data().get("runtime") or []:
        if row.get("release") != release_id or sit.os not in (row.get("os") or []):
            continue
        if row.get("debian_family") and not sit.debian_family:
            continue
        commands = list(row.get("commands") or [])
        if row.get("url"):
            debarch = DEBARCH.get(sit.arch or "")
            if not sit.dist or debarch not in ((row.get("assets") or {}).get(sit.dist) or []):
                continue
            url = row["url"].format(dist=sit.dist, debarch=debarch)
            commands = [c.format(url=url, file=url.rsplit("/", 1)[1]) for c in commands]
        return {
            "release": release_id,
            "package": row.get("package"),
            "commands": commands,
            "note": row.get("note"),
            "references": list(row.get("references") or []),
        }
    return None


# --- targets ---------------------------------------------------------------------------------------------------


@dataclass
class Target:
    release: Dict[str, Any]
    row: Dict[str, Any]
    python: str  # X.Y (or the examined X.Y.Z when it stays)
    new_env: bool
    env_reason: str
    interpreter: str
    interpreter_version: str
    interpreter_index: Optional[str]
    numpy: str
    numpy_spec: str
    pycoral: Optional[str]
    pycoral_index: Optional[str]
    recipe: Optional[Dict[str, Any]]  # None: the installed runtime stays
    kept_package: Optional[str] = None
    cost: int = 0

    @property
    def community(self) -> bool:
        return bool(self.release.get("community"))

    def facts(self) -> Dict[str, Any]:
        return {
            "python": self.python,
            "tflite_runtime": self.interpreter_version if self.interpreter == "tflite_runtime" else None,
            "numpy": self.numpy,
            "pycoral": self.pycoral,
            "pycoral_identity": "google" if self.pycoral else "absent",
            "runtime_release": self.release["id"],
            "runtime_package": (self.recipe or {}).get("package") if self.recipe else self.kept_package,
            "runtime_version": self.release.get("runtime_version"),
        }


def _other_interpreters(sit: Situation, keep: str) -> List[str]:
    return [m for m in INTERPRETERS if m != keep and sit.view.get(m)]


def candidates(sit: Situation) -> List[Target]:
    from edgedoctor import matrix
    from edgedoctor.checks.combination import row_holds

    view = sit.view
    if not sit.mm:
        return []
    table = matrix.load()
    stack_keys = matrix.STACK_KEYS | matrix.RUNTIME_KEYS | {"pycoral_identity", "runtime_found"}
    pythons = [sit.mm] + sorted(
        (p for p in FALLBACK_PYTHONS if p != sit.mm),
        key=lambda p: (abs(_version_key(p).minor - _version_key(sit.mm).minor), p),  # type: ignore[arg-type]
    )
    identity = view.get("pycoral_identity")
    wants_pycoral = identity in ("google", "pypi-impostor", "unknown")
    found: List[Target] = []
    for release in releases.load():
        keep_runtime = bool(view.get("runtime_found")) and view.get("runtime_release") == release.get("id")
        recipe = None if keep_runtime else runtime_recipe(release.get("id"), sit)  # type: ignore[arg-type]
        if not keep_runtime and recipe is None:
            continue
        for row in release.get("compatible") or []:
            if "os" in row and sit.os not in row["os"]:
                continue
            if "arch" in row and not _arch_in(sit.arch, row["arch"]):
                continue
            for python in pythons:
                if not spec_holds(row.get("python"), python):
                    continue
                for target in _targets_for(sit, release, row, python, recipe, wants_pycoral):
                    planned = dict(view)
                    planned.update(target.facts())
                    for other in INTERPRETERS:
                        if other != target.interpreter and target.new_env:
                            planned[other] = None
                    bad = [
                        m
                        for m in table.fact_matches(planned) + table.combination_matches(planned)
                        if m.entry.severity in ("fail", "warn") and set(m.entry.when) & stack_keys
                    ]
                    if bad or not row_holds(row, planned):
                        continue
                    target.cost = _cost(sit, target)
                    found.append(target)
    return found


def _targets_for(sit, release, row, python, recipe, wants_pycoral) -> List[Target]:
    """The targets (at most two tflite_runtime versions) of one compatible `row` of `release` on `python`."""
    view = sit.view
    same_python = python == sit.mm
    targets = []
    for version, index, numpy_spec in _interpreter_options(sit, row, python, same_python)[:2]:
        numpy_spec = row.get("numpy") or numpy_spec
        env_reasons = _env_reasons(sit, python, same_python, numpy_spec)
        new_env = bool(env_reasons) or not same_python
        keep_numpy = not new_env and view.get("numpy") and spec_holds(numpy_spec, view.get("numpy"))
        numpy = (
            view.get("numpy")
            if keep_numpy
            else (numpy_below_2(python) if numpy_spec == "<2" else view.get("numpy") or numpy_below_2(python))
        )
        pycoral, pycoral_index = _target_pycoral(sit, row, python, version, new_env) if wants_pycoral else (None, None)
        targets.append(
            Target(
                release=release,
                row=row,
                python=sit.python if same_python else python,
                new_env=new_env,
                env_reason="; ".join(env_reasons),
                interpreter="tflite_runtime",
                interpreter_version=version,
                interpreter_index=index,
                numpy=numpy,
                numpy_spec=numpy_spec,
                pycoral=pycoral,
                pycoral_index=pycoral_index,
                recipe=recipe,
                kept_package=view.get("runtime_package"),
            )
        )
    return targets


def _interpreter_options(sit, row, python: str, same_python: bool) -> List[Tuple[str, Optional[str], str]]:
    """The tflite_runtime versions the row allows, as (version, index, numpy spec): the installed one first
    when it stays, then the wheels there are, newest first."""
    spec = row.get("tflite_runtime")
    current = sit.view.get("tflite_runtime")
    options: List[Tuple[str, Optional[str], str]] = []
    if same_python and current and spec_holds(spec, current):
        options.append((current, None, "<2" if spec_holds("<=2.14", current) else ""))
    for wheel in wheels("tflite-runtime", python, sit):
        if spec_holds(spec, wheel["version"]) and wheel["version"] not in [o[0] for o in options]:
            options.append((wheel["version"], wheel.get("index"), wheel.get("numpy") or ""))
    return options


def _env_reasons(sit, python: str, same_python: bool, numpy_spec: str) -> List[str]:
    """Why the Edge TPU stack gets a new environment (none: it goes into the examined one)."""
    reasons = []
    if not same_python:
        reasons.append(f"the Edge TPU stack needs Python {python} here")
    elif sit.externally_managed:
        reasons.append(f"{sit.executable} is managed by the OS (PEP 668): pip must not install into it")
    users = install.numpy2_users(sit.packages, sit.view)
    if same_python and numpy_spec == "<2" and users and not spec_holds("<2", sit.view.get("numpy") or "2"):
        reasons.append(
            f"{', '.join(users)} in this environment need numpy 2, and tflite_runtime needs "
            "numpy<2: the two get separate environments"
        )
    others = _other_interpreters(sit, "tflite_runtime")
    if same_python and others and not reasons:
        reasons.append(f"{', '.join(others)} stays untouched in this environment; the Edge TPU stack gets its own")
    return reasons


def _target_pycoral(sit, row, python: str, version: str, new_env: bool) -> Tuple[Optional[str], Optional[str]]:
    """(pycoral version, its index) for a user who wants pycoral: Google's installed one when it stays, else
    the newest wheel that goes with tflite_runtime `version`; (None, None) when there is none."""
    view = sit.view
    if (
        not new_env
        and view.get("pycoral_identity") == "google"
        and view.get("pycoral")
        and spec_holds(row.get("pycoral"), view.get("pycoral"))
    ):
        return view.get("pycoral"), None
    for wheel in wheels("pycoral", python, sit):
        needs = (wheel.get("requires") or {}).get("tflite_runtime")
        if (needs in (None, version)) and spec_holds(row.get("pycoral"), wheel["version"]):
            return wheel["version"], wheel.get("index")
    return None, None


def _cost(sit: Situation, target: Target) -> int:
    view = sit.view
    cost = 0
    if target.new_env:
        cost += 1 + (0 if major_minor(target.python) == sit.mm else 1)
    if target.new_env or view.get("tflite_runtime") != target.interpreter_version:
        cost += 1
    if target.new_env or view.get("numpy") != target.numpy:
        cost += 1
    identity = view.get("pycoral_identity")
    if identity == "google":
        cost += 0 if target.pycoral == view.get("pycoral") and not target.new_env else 1
    elif identity in ("pypi-impostor", "unknown"):  # the user wants pycoral: Google's is the fix, none a loss
        cost += 1 + (0 if target.pycoral else 1)
    elif target.pycoral:
        cost += 1
    if target.recipe is not None:
        cost += 1
    return cost


def choose(sit: Situation) -> Optional[Target]:
    found = candidates(sit)
    if not found:
        return None
    return min(
        found,
        key=lambda t: (
            t.cost,
            abs(_version_key(major_minor(t.python) or "3.0").minor - _version_key(sit.mm or "3.0").minor),
            t.community,
            [-x for x in _version_key(t.interpreter_version).release],
        ),
    )


# --- commands ----------------------------------------------------------------------------------------------------


def _quote(path: str, os_name: str) -> str:
    if os_name == "windows":
        return f'"{path}"' if " " in path else path
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:]) if shlex.quote(path[2:]) == path[2:] else shlex.quote(path)
    return shlex.quote(path)


def _pip_install(python: str, items: List[str], indexes: List[str]) -> str:
    extra = "".join(f" --extra-index-url {i}" for i in dict.fromkeys(x for x in indexes if x))
    return f"{python} -m pip install{extra} " + " ".join(items)


def _steps(sit: Situation, target: Target) -> List[Dict[str, Any]]:
    view = sit.view
    steps: List[Dict[str, Any]] = []
    python = _quote(sit.executable or "python3", sit.os)
    new_python = sit.executable or "python3"
    if target.new_env:
        new_env, new_python = _new_env_step(sit, target, python)
        steps.append(new_env)
        python = new_python
        view = dict(view, **new_env["changes"])
    apt_pycoral = _pycoral_from_apt(sit, target, view)
    runtime_step = _runtime_step(target, view)
    python_step = _python_step(sit, target, view, python, apt_pycoral)
    ordered = [runtime_step, python_step] if apt_pycoral else [python_step, runtime_step]
    steps.extend(s for s in ordered if s)
    check = f"edgedoctor check --python {new_python if target.new_env else python}"
    steps.append({"title": "Check again", "commands": [check], "changes": {}})
    return steps


def _new_env_step(sit: Situation, target: Target, python: str) -> Tuple[Dict[str, Any], str]:
    """(the step that makes a new environment for the stack, the new environment's python)."""
    folder, new_python = install.new_env_paths(sit.os)
    same = major_minor(target.python) == sit.mm
    if same and sit.executable:
        creator = python
    else:
        creator = f"py -{target.python}" if sit.os == "windows" else f"python{target.python}"
    title = f"Create a Python {major_minor(target.python)} environment for the Edge TPU stack: {target.env_reason}"
    if not same:
        where = (
            "from python.org"
            if sit.os in ("windows", "darwin")
            else f"e.g. `pyenv install {target.python}` or `uv python install {target.python}`"
        )
        title += f" (install Python {target.python} first, {where})"
    changes = {
        "python_executable": new_python,
        "python": target.python,
        "numpy": None,
        "pycoral": None,
        "pycoral_identity": "absent",
    }
    changes.update({m: None for m in INTERPRETERS})
    commands = [f"{creator} -m venv {folder}"]
    if same and sit.system_python and sit.debian_family:
        # Debian and Ubuntu ship venv apart from python3 ("ensurepip is not available" without it).
        commands.insert(0, "sudo apt-get install -y python3-venv")
    return {"title": title, "commands": commands, "changes": changes}, new_python


def _pycoral_from_apt(sit: Situation, target: Target, view: Dict[str, Any]) -> bool:
    """Whether Google's pycoral comes from Coral's apt repository (the system Python of an old Debian or
    Ubuntu, with the tflite_runtime that package brings): then the runtime step goes first."""
    has_pycoral = view.get("pycoral") if view.get("pycoral_identity") == "google" else None
    return bool(
        target.pycoral
        and target.pycoral != has_pycoral
        and not target.new_env
        and sit.system_python
        and sit.debian_family
        and spec_holds("<3.10", sit.python)
        and target.interpreter_version == "2.5.0.post1"
    )


def _runtime_step(target: Target, view: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The step that installs (or replaces) the Edge TPU runtime; None when the installed one stays."""
    if target.recipe is None:
        return None
    old = view.get("runtime_release") if view.get("runtime_found") else None
    name = target.release.get("name") or target.release["id"]
    title = f"Replace the Edge TPU runtime ({old}) with {name}" if old else f"Install the Edge TPU runtime {name}"
    title += f", built for {target.interpreter} {target.interpreter_version}" if target.community else ""
    commands = list(target.recipe["commands"])
    if target.recipe.get("note"):
        title += f" ({target.recipe['note']})"
    return {
        "title": title,
        "commands": commands,
        "changes": {
            "runtime_found": True,
            "runtime_release": target.release["id"],
            "runtime_package": target.recipe.get("package"),
            "runtime_version": target.release.get("runtime_version"),
        },
    }


def _python_step(sit, target, view, python, apt_pycoral) -> Optional[Dict[str, Any]]:
    commands, changes, said = [], {}, []
    if view.get("pycoral_identity") == "pypi-impostor":
        commands.append(f"{python} -m pip uninstall -y pycoral")
        changes.update({"pycoral": None, "pycoral_identity": "absent"})
        said.append("remove the PyPI 'pycoral' (not Google's)")
    if apt_pycoral:
        commands.append("sudo apt-get install python3-pycoral")
        changes.update(
            {
                "pycoral": target.pycoral,
                "pycoral_identity": "google",
                "tflite_runtime": "2.5.0.post1",
                "numpy": view.get("numpy") or target.numpy,
            }
        )
        said.append(f"install Google's pycoral {target.pycoral} from Coral's apt repository")
        return {"title": "Python stack: " + ", ".join(said), "commands": commands, "changes": changes}
    items, indexes = [], []
    if view.get("tflite_runtime") != target.interpreter_version:
        items.append(f"tflite-runtime=={target.interpreter_version}")
        indexes.append(target.interpreter_index)
        changes["tflite_runtime"] = target.interpreter_version
        said.append(f"tflite_runtime {target.interpreter_version}")
    if view.get("numpy") != target.numpy or (items and target.numpy_spec):
        # with the interpreter, numpy's bound goes on the same line: otherwise pip may satisfy the
        # interpreter's own numpy requirement with numpy 2
        items.append(f'"numpy{target.numpy_spec}"' if target.numpy_spec else "numpy")
        if view.get("numpy") != target.numpy:
            changes["numpy"] = target.numpy
            said.append(f"numpy {target.numpy}" + (f" (numpy{target.numpy_spec})" if target.numpy_spec else ""))
    wanted_pycoral = (
        target.pycoral
        if target.pycoral != (view.get("pycoral") if view.get("pycoral_identity") == "google" else None)
        else None
    )
    if wanted_pycoral:
        items.append(f"pycoral=={wanted_pycoral}")
        indexes.append(target.pycoral_index)
        changes.update({"pycoral": wanted_pycoral, "pycoral_identity": "google"})
        said.append(f"Google's pycoral {wanted_pycoral}")
    elif view.get("pycoral_identity") == "pypi-impostor" or (
        sit.view.get("pycoral_identity") == "pypi-impostor" and target.new_env
    ):
        said.append(
            f"Google's pycoral has no build for Python {target.python}: use the TFLite interpreter's "
            "load_delegate() directly"
        )
    if items:
        commands.append(_pip_install(python, items, indexes))
    if not commands:
        return None
    return {"title": "Python stack: " + "; ".join(said), "commands": commands, "changes": changes}


# --- the plan ------------------------------------------------------------------------------------------------------


def build(facts: Dict[str, Any], rejudge: Rejudge, findings: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The plan for these facts. Each step says which findings it fixes: `rejudge` judges the facts as they will
    be once the steps before it are done (the judge passes itself in, so this module never imports it);
    `findings` (the report's, as dicts) are the ones open today."""
    sit = situation(facts)
    notes: List[str] = []
    target = choose(sit)
    if target is None:
        if not sit.mm:
            notes.append("The examined Python could not be run, so no plan for its stack can be made.")
        else:
            notes.append(
                f"No known-good Edge TPU stack is recorded for {sit.os} {sit.arch or ''} with an install "
                "edgedoctor knows; see `edgedoctor matrix list`.".replace("  ", " ")
            )
        return {"target": {}, "steps": [], "notes": notes}
    steps = _steps(sit, target)
    if major_minor(target.python) != sit.mm:
        notes.append(
            f"A change of Python is unavoidable: no known-good Edge TPU stack exists for Python {sit.mm} "
            f"on {sit.os} {sit.arch or ''}".rstrip()
            + f"; Python {target.python} has one."
        )
    if target.community:
        notes.append(
            f"{target.release.get('name')} is a community build (feranick), the maintained way to pair "
            "libedgetpu with tflite_runtime newer than 2.11; Google's last runtime (Grouper, TF 2.5) "
            "segfaults with those."
        )
    _attach_fixes(facts, steps, findings, rejudge)
    target_facts = {k: v for k, v in _merged_changes(steps).items()}
    for key in ("python", "tflite_runtime", "numpy", "pycoral", "runtime_release", "runtime_package"):
        target_facts.setdefault(key, target.facts().get(key) if key != "python" else sit.python)
    target_facts.setdefault("python_executable", sit.executable)
    return {"target": target_facts, "steps": steps, "notes": notes}


def _merged_changes(steps: List[Dict[str, Any]]) -> Dict[str, Any]:
    merged: Dict[str, Any] = {}
    for step in steps:
        merged.update(step.get("changes") or {})
    return merged


def _attach_fixes(
    facts: Dict[str, Any], steps: List[Dict[str, Any]], findings: Optional[List[Dict[str, Any]]], rejudge: Rejudge
) -> None:
    """Each step fixes the warnings and failures that are gone once its changes (and those before it) hold."""

    def open_ids(report_findings) -> List[str]:
        return [f["id"] for f in report_findings if f.get("status") in ("fail", "warn")]

    before = open_ids(findings if findings is not None else rejudge(facts))
    applied: Dict[str, Any] = {}
    still = list(before)
    for step in steps:
        applied.update(step.get("changes") or {})
        if not step.get("changes"):
            step["fixes"] = []
            continue
        after = set(open_ids(rejudge(apply_changes(facts, applied))))
        step["fixes"] = [i for i in still if i not in after]
        still = [i for i in still if i in after]
    for step in steps:  # a stable key order for JSON and golden files
        ordered = {k: step.get(k) for k in ("title", "commands", "fixes", "changes")}
        step.clear()
        step.update(ordered)


def changes_of(plan: Dict[str, Any]) -> Dict[str, Any]:
    return _merged_changes(plan.get("steps") or [])


# --- the facts after the plan ----------------------------------------------------------------------------------


def apply_changes(facts: Dict[str, Any], changes: Dict[str, Any]) -> Dict[str, Any]:
    """The facts as they will be once `changes` ({fact: value}, the keys of PLAN_KEYS) hold. What the plan
    cannot know before it is followed (the smoke run, the runtime's device list) becomes unknown, not pass."""
    facts = copy.deepcopy(facts)
    if not changes:
        return facts
    stack = _apply_python_changes(facts, changes)
    if stack:
        _settle_stack(facts["python_env"], changes)
    runtime_changed = any(k.startswith("runtime_") for k in changes)
    if stack or runtime_changed:
        # the model runs were made with the old stack: unknown until `check` runs them again
        facts["inference"] = {"cpu": None, "tpu": None, "speedup": None, "skipped": "planned"}
    if runtime_changed:
        _apply_runtime_changes(facts, changes)
    return facts


def _apply_python_changes(facts: Dict[str, Any], changes: Dict[str, Any]) -> bool:
    """The interpreter, TFLite modules, numpy and pycoral as `changes` says; True when the stack changed."""
    platform = facts.setdefault("platform", {})
    env = facts.setdefault("python_env", {})
    python = env.setdefault("python", {})
    stack = False
    if "python_executable" in changes:
        platform["python_executable"] = python["executable"] = changes["python_executable"]
        platform["in_venv"] = python["in_venv"] = True
        python["externally_managed"] = False
        env["packages"] = {}
        env["legacy_edgetpu"] = {"found": False}
        stack = True
    if "python" in changes:
        platform["python_version"] = python["version"] = changes["python"]
        stack = True
    candidates = env.setdefault("tflite", {}).setdefault("candidates", {})
    for module in INTERPRETERS:
        if module in changes:
            version = changes[module]
            candidates[module] = (
                {"found": True, "version": version, "dist_version": version, "imported": True, "shadowed": False}
                if version
                else {"found": False}
            )
            stack = True
    if "numpy" in changes:
        version = changes["numpy"]
        env["numpy"] = {"found": version is not None, "version": version, "error": None, "stderr": ""}
        stack = True
    if "pycoral_identity" in changes or "pycoral" in changes:
        identity = changes.get("pycoral_identity") or ("google" if changes.get("pycoral") else "absent")
        env["pycoral"] = {
            "identity": identity,
            "version": changes.get("pycoral"),
            "error": None,
            "shadowed": False,
            "imported": True if identity == "google" else None,
            "stderr": "",
        }
        stack = True
    return stack


def _settle_stack(env: Dict[str, Any], changes: Dict[str, Any]) -> None:
    """After a stack change: which TFLite module imports, the worker and smoke run as planned, pip's list."""
    tflite = env["tflite"]
    candidates = tflite["candidates"]
    chosen = next((m for m in INTERPRETERS if (candidates.get(m) or {}).get("found")), None)
    tflite.update(
        {
            "module": chosen,
            "version": (candidates.get(chosen) or {}).get("version") if chosen else None,
            "error": None if chosen else "no TFLite interpreter is installed",
            "stderr": "",
        }
    )
    if not chosen:
        tflite["error_source"] = "edgedoctor"
    env["smoke"] = {"status": "skip", "planned": True}
    env["worker"] = {"status": "ok", "error": None, "crashes": []}
    env["error"] = None
    packages = env.setdefault("packages", {})
    names = {module: PIP_NAMES[module] for module in INTERPRETERS}
    names["numpy"] = "numpy"
    for key, name in names.items():
        if key in changes:
            if changes[key]:
                packages[name] = changes[key]
            else:
                packages.pop(name, None)


def _apply_runtime_changes(facts: Dict[str, Any], changes: Dict[str, Any]) -> None:
    platform = facts.setdefault("platform", {})
    runtime = facts.setdefault("runtime", {})
    release = releases.get(changes.get("runtime_release"))
    runtime.update(
        {
            "found": changes.get("runtime_found", True),
            "loaded": True,
            "release": changes.get("runtime_release"),
            "package": changes.get("runtime_package"),
            "runtime_version": changes.get("runtime_version"),
            "error": None,
            "load_error": None,
            "worker": {"status": "ok"},
            "devices": None,
            "planned": True,
            "package_version": ((release or {}).get("debian_versions") or [None])[-1],
        }
    )
    runtime.setdefault("path", None)
    runtime["path"] = runtime["path"] or {"windows": "edgetpu.dll", "darwin": "libedgetpu.1.dylib"}.get(
        platform.get("os"), "libedgetpu.so.1"
    )
