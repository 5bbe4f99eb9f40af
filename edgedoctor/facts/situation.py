"""The examined machine as an installer sees it: OS family and release, architecture, glibc, the examined
interpreter (its version, path, venv or system Python, PEP 668 marker) and its installed packages. Pure: built
from Facts, read by the checks that give install advice and by the planner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from edgedoctor.facts import factview

DEBIAN_FAMILY = ("debian", "ubuntu", "raspbian", "linuxmint", "pop", "mendel", "elementary", "kali", "zorin")


def spec_holds(spec: Optional[str], version: Optional[str]) -> Optional[bool]:
    if not spec:
        return True
    if version is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(str(version)), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None


def major_minor(version: Optional[str]) -> Optional[str]:
    parts = str(version or "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else None


@dataclass
class Situation:
    facts: Dict[str, Any]
    view: Dict[str, Any]
    os: str
    arch: Optional[str]
    distro_ids: List[str]
    dist: Optional[str]  # `bookworm`, `ubuntu24.04`: how community .deb assets are named
    glibc: Optional[str]
    python: Optional[str]  # X.Y.Z of the examined interpreter
    executable: Optional[str]
    in_venv: Optional[bool]
    externally_managed: bool
    system_python: bool  # the distribution's own /usr/bin/python3, not a venv
    packages: Dict[str, str] = field(default_factory=dict)

    @property
    def mm(self) -> Optional[str]:
        return major_minor(self.python)

    @property
    def debian_family(self) -> bool:
        return any(i in DEBIAN_FAMILY for i in self.distro_ids)


def situation(facts: Dict[str, Any]) -> Situation:
    view = factview.from_facts(facts)
    platform = factview._obj(facts.get("platform"))
    env = factview._obj(facts.get("python_env"))
    python = factview._obj(env.get("python"))
    release = factview._obj(platform.get("os_release"))
    ids = " ".join(str(release.get(k) or "") for k in ("ID", "ID_LIKE")).lower().split()
    if not ids and platform.get("distro"):
        ids = [str(platform["distro"]).lower()]
    codename = release.get("VERSION_CODENAME")
    dist: Optional[str]
    if "ubuntu" in ids[:1] and release.get("VERSION_ID"):
        dist = f"ubuntu{release['VERSION_ID']}"
    else:
        dist = codename or (
            {"12": "bookworm", "11": "bullseye", "13": "trixie"}.get(str(release.get("VERSION_ID")))
            if ids[:1] in (["debian"], ["raspbian"])
            else None
        )
    executable = platform.get("python_executable") or python.get("executable")
    in_venv = python.get("in_venv") if "in_venv" in python else platform.get("in_venv")
    os_name = view.get("os") or "linux"
    system_python = bool(
        os_name == "linux" and not in_venv and executable and str(executable).startswith("/usr/bin/python3")
    )
    managed = python.get("externally_managed")
    if managed is None:
        # Facts recorded before the worker read the marker: Debian 12+ and Ubuntu 23.04+ mark their python3.
        managed = bool(
            system_python
            and any(i in ("debian", "ubuntu", "raspbian") for i in ids)
            and spec_holds(">=3.11", view.get("python"))
        )
    packages = {str(k).lower(): v for k, v in factview._obj(env.get("packages")).items()}
    return Situation(
        facts=facts,
        view=view,
        os=os_name,
        arch=view.get("arch") or factview._arch(python.get("machine")),
        distro_ids=ids,
        dist=dist,
        glibc=platform.get("libc_version") if platform.get("libc") == "glibc" else None,
        python=view.get("python"),
        executable=executable,
        in_venv=in_venv,
        externally_managed=bool(managed),
        system_python=system_python,
        packages=packages,
    )
