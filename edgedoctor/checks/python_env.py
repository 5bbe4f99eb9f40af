"""Python-stack findings: the examined interpreter, its TFLite interpreter, numpy, pycoral, shadowing.

Causes of captured error texts come from the matrix (`checks.matched_entry`), so that knowledge lives in data.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Dict, List, Optional

from edgedoctor.checks import matched_entry
from edgedoctor.checks.platform import _version_tuple
from edgedoctor.checks.runtime import library_name
from edgedoctor.matrix import support
from edgedoctor.report.findings import FAIL, INFO, PASS, SKIP, WARN, Finding

WORKER_FAILURE = {
    "not-started": "could not be started",
    "crashed": "crashed",
    "timeout": "did not answer in time",
    "garbage": "answered with something that is not a report",
    "worker-error": "failed",
}


GENERIC_PIP = re.compile(r"^(\s*)(?:python3?|py)(?: -3)? -m pip ", re.MULTILINE)


def for_interpreter(remedy: str, facts: Dict[str, Any]) -> str:
    """A matrix remedy's generic `python3 -m pip ...` lines, run by the examined interpreter (named by path),
    so that they install where the problem is and not into whatever `python3` is first on PATH."""
    if not remedy or not (facts.get("platform") or {}).get("python_executable"):
        return remedy
    return GENERIC_PIP.sub(lambda m: f"{m.group(1)}{_pip(facts)} ", remedy)


def _with_cause(
    finding: Finding,
    text: Optional[str],
    facts: Dict[str, Any],
    fallback: Optional[str] = None,
    fallback_remedy: str = "",
) -> Finding:
    match = matched_entry(text, facts)
    os_name = (facts.get("platform") or {}).get("os")
    if match:
        finding.causes = [match.entry.cause]
        finding.remedy = finding.remedy or for_interpreter(match.entry.remedy_for(os_name), facts)
        finding.detail = (finding.detail + "\n" if finding.detail else "") + match.entry.shown_explanation
    elif fallback:
        finding.causes = [fallback]
    if not finding.remedy:
        finding.remedy = fallback_remedy
    return finding


def _pip(facts: Dict[str, Any]) -> str:
    python = (facts.get("platform") or {}).get("python_executable") or "python3"
    return f"{shlex.quote(python)} -m pip"


DEBIAN_LIKE = ("debian", "raspbian", "ubuntu")
# Raspberry Pi OS 64-bit runs on the ARMv8 boards (Pi 3, 4, 400, 5, Zero 2 W, Compute Modules 3-5). The Pi 2 is
# ARMv7 and 32-bit only; the Pi 1, Zero and Zero W are ARMv6, below what tflite-runtime's armv7l wheel (ARMv7
# with NEON) and libedgetpu's armhf build need.
PI_ARMV6 = ("raspberry-pi-1", "raspberry-pi-zero", "raspberry-pi-zero-w")
PI_32_BIT_ONLY = PI_ARMV6 + ("raspberry-pi-2",)


def _arm32(facts: Dict[str, Any]) -> bool:
    """A 32-bit ARM interpreter (armhf: Raspberry Pi OS 32-bit, also on a 64-bit kernel that says aarch64)."""
    python = (facts.get("python_env") or {}).get("python") or {}
    machine = str(python.get("machine") or (facts.get("platform") or {}).get("arch") or "")
    return python.get("bits") == 32 and machine.startswith(("arm", "aarch64"))


def _arm32_stack(facts: Dict[str, Any]) -> str:
    """How a 32-bit ARM system gets tflite-runtime and numpy. PyPI has tflite-runtime for armv7l (2.14.0 is
    tagged manylinux_2_34, so glibc 2.34+: Raspberry Pi OS Bookworm) but no numpy at all for armv7l, so
    `pip install tflite-runtime "numpy<2"` would compile numpy; Debian's python3-numpy (1.24 on Bookworm)
    fills the gap in a venv that sees the system's packages."""
    platform = facts.get("platform") or {}
    python = (facts.get("python_env") or {}).get("python") or {}
    board = platform.get("board") or ""
    if board in PI_ARMV6 or str(python.get("machine") or platform.get("arch") or "").startswith("armv6"):
        return (
            "# tflite-runtime (armv7l) and libedgetpu (armhf) are built for ARMv7 with NEON or newer: none runs "
            "on this ARMv6 board (Raspberry Pi 1, Zero, Zero W).\n"
            "# Use a Raspberry Pi 3, 4, 5 or Zero 2 W with Raspberry Pi OS 64-bit, where "
            '`python3 -m venv ~/coral-venv && ~/coral-venv/bin/python -m pip install tflite-runtime "numpy<2"` '
            "works."
        )
    debian_numpy = (
        "sudo apt-get install python3-numpy python3-venv\n"
        "python3 -m venv --system-site-packages ~/coral-venv\n"
        "~/coral-venv/bin/python -m pip install tflite-runtime"
    )
    sixty_four = (
        ""
        if board in PI_32_BIT_ONLY
        else (
            "Raspberry Pi OS 64-bit (this board runs it), where PyPI has both; then `python3 -m venv ~/coral-venv && "
            '~/coral-venv/bin/python -m pip install tflite-runtime "numpy<2"`'
        )
    )
    libc = platform.get("libc_version") or ""
    if platform.get("distro") in DEBIAN_LIKE and platform.get("libc") == "glibc" and _version_tuple(libc) >= (2, 34):
        return (
            "# PyPI has tflite-runtime for 32-bit ARM but no numpy: take Debian's numpy\n"
            + debian_numpy
            + (f"\n# or install {sixty_four}" if sixty_four else "")
        )
    if sixty_four:
        return (
            f"# On 32-bit ARM with glibc {libc or 'older than 2.34'} PyPI has no usable tflite-runtime and numpy "
            f"stack: install {sixty_four}"
        )
    return (
        "# PyPI's tflite-runtime for 32-bit ARM needs glibc 2.34 and it has no numpy: upgrade to Raspberry Pi OS "
        "Bookworm (32-bit), then\n" + debian_numpy
    )


def _outside_pep668(findings: List[Finding], facts: Dict[str, Any]) -> List[Finding]:
    """pip refuses to install into an interpreter the OS manages (PEP 668): remedies that would run pip there
    create a venv first and install into it (never --break-system-packages)."""
    from edgedoctor.facts.situation import situation
    from edgedoctor.matrix.install import new_env_paths

    sit = situation(facts)
    if not sit.externally_managed:
        return findings
    folder, python = new_env_paths(sit.os)
    pip = _pip(facts)
    for finding in findings:
        if pip + " install" in finding.remedy:
            venv_package = "sudo apt-get install -y python3-venv\n" if sit.system_python and sit.debian_family else ""
            finding.remedy = (
                f"# {sit.executable} is managed by the OS (PEP 668); install into a venv of its own:\n"
                + venv_package
                + f"{shlex.quote(sit.executable or 'python3')} -m venv {folder}\n"
                + finding.remedy.replace(pip + " install", f"{python} -m pip install")
            )
    return findings


def _last_line(text: Optional[str]) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check(facts: Dict[str, Any]) -> List[Finding]:
    env = facts.get("python_env") or {}
    platform = facts.get("platform") or {}
    findings: List[Finding] = []
    worker = env.get("worker") or {}
    python = env.get("python") or {}
    requested = env.get("python_executable_requested") or "the interpreter"
    if not python and env.get("not_examined"):  # a container without python3 (check --container)
        return [
            Finding("python.interpreter", SKIP, "The Python stack was not examined", detail=str(env.get("error") or ""))
        ]
    if not python:
        status = worker.get("status")
        finding = Finding(
            "python.interpreter",
            FAIL,
            f"The Python stack could not be examined: the worker {WORKER_FAILURE.get(status, 'failed')}",  # type: ignore[arg-type]
            detail=f"{requested}: {env.get('error') or worker.get('error') or 'no answer'}",
            remedy="Check that --python names a working Python 3.6+ interpreter (e.g. .venv/bin/python).",
        )
        findings.append(_loader_too_old(finding, env, facts))
        return findings

    version = python.get("version")
    where = python.get("executable")
    venv = " (virtual environment)" if python.get("in_venv") else ""
    findings.append(
        Finding("python.interpreter", PASS, f"{python.get('implementation', 'Python')} {version} at {where}{venv}")
    )
    why = _why_this_interpreter(env)
    if why:
        findings.append(Finding("python.selected", INFO, why[0], detail=why[1]))
    for crash in worker.get("crashes") or []:
        findings.append(
            Finding(
                "python.worker",
                WARN,
                f"Examining the stack {WORKER_FAILURE.get(crash.get('status'), 'failed')} "
                f"while: {crash.get('stage') or 'starting'}",
                detail=(crash.get("error") or "")
                + (f"\n{_last_line(crash.get('stderr'))}" if crash.get("stderr") else ""),
                remedy="edgedoctor skipped that step and examined the rest; the findings below name what failed.",
            )
        )

    findings.extend(_python_support(python, platform, env))
    # A source tree that shadows a package is the cause of that package's import failure: it comes first, so
    # it holds the failure and the import finding refers to it.
    findings.extend(_shadowing(env))
    findings.extend(_tflite(env, facts))
    numpy = _numpy(env, facts)
    smoke = _smoke(env, facts)
    if numpy[0].status == FAIL and smoke[0].status == FAIL and not smoke[0].causes:
        smoke[0].causes = list(numpy[0].causes)  # a model run fails under a numpy known to break it
    findings.extend(numpy + smoke)
    findings.extend(_pycoral(env, facts, platform))
    return _outside_pep668(findings, facts)


def _why_this_interpreter(env: Dict[str, Any]) -> Optional[tuple]:
    """(title, detail): why this interpreter was examined and how to pick another (None for older reports)."""
    selected = env.get("selected") or {}
    if not isinstance(selected, dict) or not selected.get("reason"):
        return None
    title = f"Examined because it is {selected['reason']}"
    if selected.get("source") == "option":
        return title, ""
    return title + "; --python PATH examines another", (
        "Your project's environment may be another one: name it with `edgedoctor check --python PATH` (an "
        "interpreter or a venv folder), or activate it before running edgedoctor."
    )


# The dynamic loader's words when a program needs a newer C library than the system has.
LOADER_VERSION_MISSING = re.compile(r"version [`'](GLIBC|GLIBCXX)_([\d.]+)' not found \(required by ([^)\n]+)\)")


def _loader_too_old(finding: Finding, env, facts) -> Finding:
    """The interpreter itself cannot start because it was built for a newer glibc (a venv or a Python copied
    from a newer OS release, a Bookworm binary on Bullseye): glibc-too-old, with the loader's own line."""
    worker = env.get("worker") or {}
    text = "\n".join(
        filter(
            None,
            [env.get("error"), worker.get("error")] + [crash.get("stderr") for crash in worker.get("crashes") or []],
        )
    )
    missing = LOADER_VERSION_MISSING.search(text)
    if not missing:
        return finding
    platform = facts.get("platform") or {}
    library = "glibc" if missing.group(1) == "GLIBC" else "libstdc++"
    have = f" (this system has glibc {platform['libc_version']})" if platform.get("libc_version") else ""
    finding.causes = ["glibc-too-old"]
    finding.detail += (
        f"\nThe interpreter was built for a newer {library} than this system has: it needs "
        f"{missing.group(1)}_{missing.group(2)}{have}. A Python or virtual environment copied from a "
        "newer OS release does not run here."
    )
    if str(platform.get("arch") or "").startswith("arm"):
        steps = [_arm32_stack(facts)]
    else:
        steps = (["sudo apt-get install python3-venv"] if platform.get("distro") in DEBIAN_LIKE else []) + [
            "python3 -m venv ~/coral-venv",
            '~/coral-venv/bin/python -m pip install tflite-runtime "numpy<2"   # Python 3.12+: ai-edge-litert',
        ]
    finding.remedy = "\n".join(
        ["# make the environment with this system's own Python instead:"]
        + steps
        + ["edgedoctor check --python ~/coral-venv"]
    )
    return finding


def _python_support(python, platform, env) -> List[Finding]:
    version = python.get("version")
    os_name, arch = platform.get("os"), platform.get("arch")
    pycoral_ok = support.supports_python("pycoral", version, os_name, arch)
    tflite_ok = support.supports_python("tflite-runtime", version, os_name, arch)
    identity = (env.get("pycoral") or {}).get("identity")
    if pycoral_ok is False and identity != "google":
        alternatives = []
        if tflite_ok:
            alternatives.append('tflite-runtime with "numpy<2"')
        alternatives.append("LiteRT (ai-edge-litert)")
        return [
            Finding(
                "python.version",
                WARN,
                f"Python {version} has no wheels of Google's pycoral",
                detail=(support.package("pycoral") or {}).get("note", "")
                + ("" if tflite_ok else " " + (support.package("tflite-runtime") or {}).get("note", "")),
                remedy=(
                    "Create an environment with Python 3.9 for pycoral ("
                    + (
                        "`py -3.9 -m venv %USERPROFILE%\\coral-venv` with Python 3.9 from python.org"
                        if os_name == "windows"
                        else "e.g. `pyenv install 3.9` then `python3.9 -m venv ~/coral-venv`"
                    )
                    + "), or use "
                    + " or ".join(alternatives)
                    + f" with the Edge TPU delegate directly (load_delegate('{library_name(os_name)}'))."
                ),
                causes=["python-unsupported"],
            )
        ]
    return [Finding("python.version", PASS, f"Python {version} is covered by the Coral Python wheels")]


LABELS = {
    "tflite_runtime": "tflite_runtime",
    "ai_edge_litert": "LiteRT (ai_edge_litert)",
    "tensorflow": "tensorflow.lite",
}


def _tflite(env, facts) -> List[Finding]:
    tflite = env.get("tflite") or {}
    if tflite.get("module"):
        label = LABELS.get(tflite["module"], tflite["module"])
        return [
            Finding("python.tflite", PASS, f"TFLite interpreter: {label} {tflite.get('version') or ''}".strip())
        ] + _other_interpreters(env, facts, tflite["module"])
    error = tflite.get("error") or "no TFLite interpreter is installed"
    python = (env.get("python") or {}).get("version")
    installed = any(c.get("found") for c in (tflite.get("candidates") or {}).values())
    finding = Finding("python.tflite", FAIL, "No TFLite interpreter can be imported", detail=error)
    if not installed:
        finding.title = "No TFLite interpreter is installed"
        if support.supports_python("tflite-runtime", python) is False:
            finding.causes = ["python-unsupported"]
            finding.remedy = f"{_pip(facts)} install ai-edge-litert   # tflite-runtime has no wheel for Python {python}"
        elif _arm32(facts):
            finding.remedy = _arm32_stack(facts)
        else:
            finding.remedy = f'{_pip(facts)} install tflite-runtime "numpy<2"'
        return [finding]
    return [
        _with_cause(
            finding,
            error + "\n" + (tflite.get("stderr") or ""),
            facts,
            fallback_remedy=f"{_pip(facts)} install --force-reinstall {_interpreter_package(env)}",
        )
    ]


def _other_interpreters(env, facts, chosen) -> List[Finding]:
    """The other TFLite stacks installed in the same environment, each examined: one that no longer imports
    (e.g. tensorflow after numpy was pinned below 2) fails with its own verbatim error."""
    findings = []
    for module, info in ((env.get("tflite") or {}).get("candidates") or {}).items():
        if module == chosen or not isinstance(info, dict) or not info.get("found"):
            continue
        label = LABELS.get(module, module)
        version = info.get("version") or info.get("dist_version") or ""
        if info.get("imported") or (info.get("version") and not info.get("error")):
            findings.append(Finding(f"python.tflite-{module}", PASS, f"Also installed: {label} {version}".strip()))
        elif info.get("error") and not str(info.get("error")).startswith("skipped"):
            finding = Finding(
                f"python.tflite-{module}",
                FAIL,
                f"{label} {version} is installed but cannot be imported".replace("  ", " "),
                detail=_last_line(info["error"]),
            )
            findings.append(
                _with_cause(
                    finding,
                    info["error"] + "\n" + (info.get("stderr") or ""),
                    facts,
                    fallback_remedy=f"{_pip(facts)} install --force-reinstall {_dist_name(env, module)}",
                )
            )
    return findings


def _dist_name(env, module) -> str:
    packages = env.get("packages") or {}
    if module == "tensorflow" and "tensorflow-cpu" in packages and "tensorflow" not in packages:
        return "tensorflow-cpu"
    return module.replace("_", "-")


def _interpreter_package(env) -> str:
    """What pip installs for this interpreter's TFLite stack: tflite-runtime with "numpy<2" (its last release,
    2.14, is built against NumPy 1.x), or LiteRT where tflite-runtime has no wheel or LiteRT is what is used."""
    module = (env.get("tflite") or {}).get("module")
    version = (env.get("python") or {}).get("version")
    if module == "ai_edge_litert" or (
        module != "tflite_runtime" and support.supports_python("tflite-runtime", version) is False
    ):
        return "ai-edge-litert"
    return 'tflite-runtime "numpy<2"'


def _numpy_requirement(env) -> str:
    return '"numpy<2"' if _interpreter_package(env).startswith("tflite-runtime") else "numpy"


def _numpy(env, facts) -> List[Finding]:
    numpy = env.get("numpy") or {}
    if numpy.get("error") and numpy.get("found"):
        finding = Finding("python.numpy", FAIL, "numpy cannot be imported", detail=numpy["error"])
        return [
            _with_cause(
                finding,
                numpy["error"] + "\n" + (numpy.get("stderr") or ""),
                facts,
                fallback_remedy=f"{_pip(facts)} install --force-reinstall {_numpy_requirement(env)}",
            )
        ]
    if not numpy.get("found"):
        return [
            Finding(
                "python.numpy",
                FAIL,
                "numpy is not installed",
                detail="Every TFLite Python interpreter needs numpy."
                + (" PyPI has no numpy wheel for 32-bit ARM." if _arm32(facts) else ""),
                remedy=_arm32_stack(facts) if _arm32(facts) else f"{_pip(facts)} install {_numpy_requirement(env)}",
            )
        ]
    held = _numpy_entries(facts)
    if held:
        # The installed numpy is itself the cause of a failure (e.g. numpy 2 under a tflite_runtime built for
        # NumPy 1.x): this finding fails, and the failures it causes refer to it.
        entry = held[0].entry
        return [
            Finding(
                "python.numpy",
                FAIL,
                f"numpy {numpy.get('version')}: {entry.title}",
                detail=f"{entry.explanation} (matrix entry {entry.id})",
                remedy=_numpy_remedy(env, facts),
                causes=[entry.cause],
            )
        ]
    return [Finding("python.numpy", PASS, f"numpy {numpy.get('version')}")]


def _numpy_remedy(env, facts) -> str:
    """Pin numpy for the TFLite interpreter, unless other packages here need numpy 2 (recent TensorFlow through
    ml-dtypes, JAX): then the Edge TPU stack gets a venv of its own and numpy stays."""
    from edgedoctor.facts.situation import situation
    from edgedoctor.matrix.install import new_env_paths, numpy2_users

    sit = situation(facts)
    users = numpy2_users(sit.packages, sit.view)
    if not users or not _numpy_requirement(env).startswith('"numpy<2'):
        return f"{_pip(facts)} install {_numpy_requirement(env)}"
    folder, python = new_env_paths(sit.os)
    return (
        f"# {', '.join(users)} in this environment need numpy 2: leave numpy here as it is and give the Edge "
        "TPU stack a venv of its own:\n"
        f"{shlex.quote(sit.executable or 'python3')} -m venv {folder}\n"
        f"{python} -m pip install {_interpreter_package(env)}"
    )


def _numpy_entries(facts):
    """Fact entries of the matrix that hold and name numpy in their conditions, failures first."""
    try:
        from edgedoctor import matrix
        from edgedoctor.facts import factview

        found = matrix.load().fact_matches(factview.from_facts(facts))
    except Exception:  # noqa: BLE001 - a matrix that fails to load must not hide the rest
        return []
    return sorted(
        (m for m in found if "numpy" in m.entry.when and m.entry.severity == FAIL), key=lambda m: -m.confidence
    )


def _smoke(env, facts) -> List[Finding]:
    smoke = env.get("smoke")
    if not smoke:
        return [
            Finding(
                "python.smoke",
                SKIP,
                "Embedded tiny model not run",
                detail="The embedded model or its manifest entry is missing from this installation.",
            )
        ]
    if smoke.get("status") == "skip":
        return [Finding("python.smoke", SKIP, "Embedded tiny model not run", detail=smoke.get("error") or "")]
    if smoke.get("status") != "pass":
        text = "\n".join(filter(None, [smoke.get("error"), smoke.get("stderr")]))
        finding = Finding(
            "python.smoke",
            FAIL,
            "The TFLite interpreter cannot run a model",
            detail=_last_line(smoke.get("error")) or "the run failed",
        )
        return [
            _with_cause(
                finding,
                text,
                facts,
                fallback_remedy=f"{_pip(facts)} install --force-reinstall {_interpreter_package(env)}",
            )
        ]
    expected = smoke.get("expected_output")
    got = smoke.get("raw_output")
    tolerance = smoke.get("tolerance", 1)
    runs = (smoke.get("timings_ms") or {}).get("runs") or []
    timing = f" ({min(runs):.3g} ms per inference)" if runs else ""
    if expected and got is not None:
        worst = max((abs(a - b) for a, b in zip(expected, got)), default=0)
        if len(expected) != len(got) or worst > tolerance:
            return [
                Finding(
                    "python.smoke",
                    FAIL,
                    "The TFLite interpreter computes a wrong answer",
                    detail=f"embedded model output {got}, expected {expected} (tolerance {tolerance})",
                    remedy=f"{_pip(facts)} install --force-reinstall {_interpreter_package(env)}",
                )
            ]
    return [Finding("python.smoke", PASS, f"The TFLite interpreter runs the embedded model correctly{timing}")]


def _pycoral_install(facts, env, version) -> str:
    """Google's pycoral for the examined interpreter: Coral's apt package only for the distribution's own
    python3 below 3.10 (apt never installs into a venv, and python3-pycoral needs python3 < 3.10); otherwise
    pip with Coral's index, run by the examined interpreter."""
    from edgedoctor.facts.situation import situation

    sit = situation(facts)
    if (
        sit.system_python
        and sit.debian_family
        and support.supports_python("pycoral", version)
        and not sit.externally_managed
    ):
        return "sudo apt-get install python3-pycoral"
    return f"{_pip(facts)} install --extra-index-url https://google-coral.github.io/py-repo/ pycoral~=2.0"


def _pycoral_remedy(env, facts, platform) -> str:
    """How to install Google's pycoral for the examined interpreter; for a Python that no pycoral build supports,
    in a Python 3.9 environment of its own."""
    os_name = platform.get("os")
    version = (env.get("python") or {}).get("version")
    if support.supports_python("pycoral", version, os_name, platform.get("arch")) is not False:
        return _pycoral_install(facts, env, version)
    # Neither Coral's index nor apt (python3-pycoral needs python3 < 3.10) has a pycoral for this Python.
    venv, python = (
        ("py -3.9 -m venv %USERPROFILE%\\coral-venv", "%USERPROFILE%\\coral-venv\\Scripts\\python")
        if os_name == "windows"
        else ("python3.9 -m venv ~/coral-venv", "~/coral-venv/bin/python")
    )
    return (
        f"# Google's pycoral has no build for Python {version}; install it in a Python 3.9 environment:\n"
        f"{venv}\n{python} -m pip install --extra-index-url https://google-coral.github.io/py-repo/ "
        "pycoral~=2.0"
    )


def _pycoral_impostor(pycoral, facts, install: str) -> Finding:
    """The unrelated PyPI package that took the name `pycoral`."""
    return Finding(
        "python.pycoral",
        FAIL,
        f"The installed 'pycoral' {pycoral.get('version') or ''} is not Google's pycoral".replace("  ", " "),
        detail=(
            f"It is the unrelated PyPI package ({pycoral.get('summary') or 'a CLI for the Allen Coral Atlas'})"
            ", which takes the name `pycoral` and has no pycoral.utils.edgetpu. Google's pycoral comes "
            "from Coral's own package index or apt repository."
        ),
        remedy=f"{_pip(facts)} uninstall -y pycoral\n{install}",
        causes=["pycoral-wrong-package"],
    )


def _pycoral_import_failed(pycoral, facts, install: str) -> Finding:
    """pycoral is there but its import fails; the cause comes from the captured error text."""
    finding = Finding(
        "python.pycoral",
        FAIL,
        f"pycoral {pycoral.get('version') or ''} cannot be imported".replace("  ", " "),
        detail=_last_line(pycoral["error"]),
    )
    return _with_cause(
        finding,
        pycoral["error"] + "\n" + (pycoral.get("stderr") or ""),
        facts,
        fallback="pycoral-api-mismatch",
        fallback_remedy=install,
    )


def _pycoral(env, facts, platform) -> List[Finding]:
    pycoral = env.get("pycoral") or {}
    identity = pycoral.get("identity")
    install = _pycoral_remedy(env, facts, platform)
    if identity == "pypi-impostor":
        return [_pycoral_impostor(pycoral, facts, install)]
    if identity == "absent":
        return [
            Finding(
                "python.pycoral",
                INFO,
                "pycoral is not installed (optional)",
                detail="pycoral is optional: the TFLite interpreter with load_delegate() drives the Edge TPU.",
                remedy=install,
            )
        ]
    if pycoral.get("error"):
        return [_pycoral_import_failed(pycoral, facts, install)]
    if identity == "google":
        return [Finding("python.pycoral", PASS, f"Google's pycoral {pycoral.get('version') or ''}".strip())]
    return [
        Finding(
            "python.pycoral",
            WARN,
            "A 'pycoral' package of unknown origin is installed",
            detail=f"at {pycoral.get('path')}",
            remedy=install,
        )
    ]


def _shadowing(env) -> List[Finding]:
    findings = []
    cwd = env.get("cwd")
    shadowed = [
        name for name, info in ((env.get("tflite") or {}).get("candidates") or {}).items() if info.get("shadowed")
    ]
    if (env.get("pycoral") or {}).get("shadowed"):
        shadowed.append("pycoral")
    if shadowed:
        findings.append(
            Finding(
                "python.shadowing",
                FAIL,
                f"{', '.join(shadowed)} is imported from the current folder, not from site-packages",
                detail=(
                    f"The folder {cwd} holds a source tree named like the package (a cloned repository), which "
                    "Python imports before the installed one; it lacks the compiled parts (e.g. "
                    "No module named 'pycoral.pybind')."
                ),
                remedy="Run your script from another folder, or rename the cloned source folder.",
                causes=["source-tree-shadowing"],
            )
        )
    return findings
