"""`check --container NAME`: the host's view of the Edge TPU joined with the container's.

"The host sees the accelerator at 18d1:9302 on bus 2; the container `frigate` has no /dev/bus/usb: add
`devices: [/dev/bus/usb:/dev/bus/usb]` to its compose file." Remedies come in the forms a Frigate or Home
Assistant user reaches for: the compose file (when the container was started by compose), `docker run` /
`podman run`, and the Proxmox LXC configuration when the engine itself runs in an LXC container.
Pure over Facts; no facts["container"] means no findings.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from edgedoctor.report.findings import FAIL, INFO, PASS, WARN, Finding

USB_VENDORS = {("1a6e", "089a"), ("18d1", "9302")}
USB_MAJOR = 189


def _obj(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def _host_usb(facts: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [
        d
        for d in _list(_obj(facts.get("usb")).get("devices"))
        if isinstance(d, dict) and (str(d.get("vendor_id")).lower(), str(d.get("product_id")).lower()) in USB_VENDORS
    ]


def _host_apex(facts: Dict[str, Any]) -> List[str]:
    pcie = _obj(facts.get("pcie"))
    nodes = [str(d.get("dev_node")) for d in _list(pcie.get("devices")) if isinstance(d, dict) and d.get("dev_node")]
    return sorted(set(nodes + [str(n) for n in _list(pcie.get("dev_apex"))]))


def _where(dev: Dict[str, Any]) -> str:
    state = {"runtime": "18d1:9302", "bootloader": "1a6e:089a"}.get(
        str(dev.get("state")), f"{dev.get('vendor_id')}:{dev.get('product_id')}"
    )
    where = f"at {state}"
    if dev.get("bus") is not None:
        where += f" on bus {int(dev['bus']) if str(dev['bus']).isdigit() else dev['bus']}"
    if dev.get("speed_mbps"):
        where += f" ({dev['speed_mbps']} Mbit/s)"
    return where


def _node(dev: Dict[str, Any]) -> Optional[str]:
    if dev.get("dev_node"):
        return str(dev["dev_node"])
    try:
        return f"/dev/bus/usb/{int(dev['bus']):03d}/{int(dev['address']):03d}"
    except (KeyError, TypeError, ValueError):
        return None


def remedy_forms(container: Dict[str, Any], facts: Dict[str, Any], nodes: List[str], cgroup_majors: List[int]) -> str:
    """The same device mapping as a compose file, a `docker run` / `podman run`, and a Proxmox LXC config."""
    engine = str(container.get("engine") or "docker")
    name = str(container.get("name") or "NAME")
    image = str(container.get("image") or "IMAGE")
    compose = _obj(container.get("compose"))
    lines = []
    if compose.get("service"):
        files = str(compose.get("config_files") or "docker-compose.yml").split(",")[0]
        lines += [
            f"# {files}, service '{compose['service']}':",
            "services:",
            f"  {compose['service']}:",
            "    devices:",
        ]
        lines += [f"      - {n}:{n}" for n in nodes]
        up = "docker compose" if engine == "docker" else "podman compose"
        where = f"cd {compose['working_dir']} && " if compose.get("working_dir") else ""
        lines += [f"# then recreate it: {where}{up} up -d {compose['service']}", ""]
    devices = " ".join(f"--device {n}:{n}" for n in nodes)
    lines += [
        f"# {engine} run: add {devices} to the command that starts '{name}' ({image}), before the image",
        f"# name, then replace the container: `{engine} rm -f {name}` and run that command again.",
    ]
    lines += [
        "",
        "# If the engine runs inside a Proxmox LXC container, pass the devices into the LXC first: on the",
        "# Proxmox host, add to /etc/pve/lxc/<CTID>.conf, then `pct reboot <CTID>`:",
    ]
    for major in cgroup_majors:
        lines.append(f"lxc.cgroup2.devices.allow: c {major}:* rwm")
    for node in nodes:
        if node == "/dev/bus/usb":
            lines.append("lxc.mount.entry: /dev/bus/usb dev/bus/usb none bind,optional,create=dir")
        else:
            lines.append(f"lxc.mount.entry: {node} {node.lstrip('/')} none bind,optional,create=file")
    return "\n".join(lines)


def _apex_major(facts: Dict[str, Any]) -> Optional[int]:
    """The apex driver's character major on the host (dynamically allocated), from /sys/class/apex/*/dev."""
    majors = _list(_obj(facts.get("container")).get("host_apex_majors"))
    return majors[0] if majors and isinstance(majors[0], int) else None


def check(facts: Dict[str, Any]) -> List[Finding]:
    container = facts.get("container")
    if not isinstance(container, dict):
        return []
    seen = _Seen(container)
    host_usb, host_apex = _host_usb(facts), _host_apex(facts)
    findings = [_examined(container)]
    if host_usb:
        findings.append(_usb_finding(container, facts, host_usb, seen))
    if host_apex:
        findings.append(_pcie_finding(container, facts, host_apex, seen))
    if not host_usb and not host_apex:
        findings.append(_no_device_on_host(container, seen))
    if _list(container.get("not_seen")):
        findings.append(_seen_from_outside_only(container))
    return findings


class _Seen:
    """The device nodes inside the container."""

    def __init__(self, container: Dict[str, Any]) -> None:
        usb = [n for n in _list(container.get("usb_nodes")) if isinstance(n, dict)]
        self.usb_paths = {str(n.get("path")) for n in usb}
        self.apex = {str(n.get("path")) for n in _list(container.get("apex_nodes")) if isinstance(n, dict)}
        self.has_bus = container.get("dev_bus_usb")


def _names(container: Dict[str, Any]):
    return container.get("name") or "the container", container.get("engine") or "docker"


def _started_with(container: Dict[str, Any]) -> List[str]:
    started = []
    if container.get("privileged"):
        started.append("privileged")
    if container.get("devices"):
        started.append(
            "devices " + ", ".join(f"{d.get('host')}:{d.get('container')}" for d in _list(container.get("devices")))
        )
    if container.get("dev_mounts"):
        started.append(
            "bind mounts "
            + ", ".join(f"{m.get('host')}:{m.get('container')}" for m in _list(container.get("dev_mounts")))
        )
    if container.get("device_cgroup_rules"):
        started.append("device cgroup rules " + ", ".join(container["device_cgroup_rules"]))
    return started


def _examined(container: Dict[str, Any]) -> Finding:
    name, engine = _names(container)
    os_release = _obj(container.get("os_release"))
    python = _obj(container.get("python"))
    started = _started_with(container)
    return Finding(
        "container.examined",
        INFO,
        f"Examined the {engine} container '{name}' ({container.get('image') or 'image unknown'})",
        detail=(
            f"{os_release.get('PRETTY_NAME') or 'OS unknown'}; "
            + (f"Python {python.get('version')} at {python.get('executable')}" if python else "no python3")
            + "; started with "
            + ("; ".join(started) if started else "no devices passed in and not privileged")
            + ". The platform, USB and PCIe findings are the host's; the Python stack, runtime and models are "
            f"the container's: their remedies are for inside it (a RUN line in its image's Dockerfile, or "
            f"`{engine} exec -it {name} sh` to try them first)."
        ),
    )


def _usb_finding(container: Dict[str, Any], facts: Dict[str, Any], host_usb: List[Dict[str, Any]], seen: _Seen):
    name, _engine = _names(container)
    where = "; ".join(_where(d) for d in host_usb)
    missing = [d for d in host_usb if _node(d) and _node(d) not in seen.usb_paths]
    if not seen.has_bus:
        return Finding(
            "container.usb",
            FAIL,
            f"The container '{name}' cannot see the USB Accelerator",
            causes=["container-device"],
            detail=(
                f"The host sees the accelerator {where}; the container '{name}' has no /dev/bus/usb, so "
                f"nothing in it can open the Edge TPU. Pass the whole bus, not one device node: the "
                f"accelerator changes id (1a6e:089a -> 18d1:9302) and device number when the runtime "
                f"loads its firmware."
            ),
            remedy=remedy_forms(container, facts, ["/dev/bus/usb"], [USB_MAJOR]),
        )
    if missing:
        return Finding(
            "container.usb",
            FAIL,
            f"The container '{name}' has /dev/bus/usb, but not the accelerator's node",
            causes=["container-device"],
            detail=(
                f"The host sees the accelerator {where} at {', '.join(_node(d) or '' for d in missing)}; inside "
                f"'{name}' /dev/bus/usb holds only {', '.join(sorted(seen.usb_paths)) or 'nothing'}. A single "
                f"device node was passed, or the accelerator re-enumerated after the container started "
                f"(it does on first use). Pass the whole bus."
            ),
            remedy=remedy_forms(container, facts, ["/dev/bus/usb"], [USB_MAJOR]),
        )
    if _bind_mounted_without_access(container):
        return _bind_mount_warning(container)
    return Finding(
        "container.usb",
        PASS,
        f"The container '{name}' sees the USB Accelerator",
        detail=f"The host sees the accelerator {where}; the container has "
        f"{', '.join(_node(d) or '' for d in host_usb)}.",
    )


def _bind_mounted_without_access(container: Dict[str, Any]) -> bool:
    """/dev/bus/usb bind-mounted (-v) rather than passed as a device, with nothing that opens the cgroup."""
    bind_only = any(str(m.get("container", "")).startswith("/dev") for m in _list(container.get("dev_mounts")))
    passed_as_device = any(
        str(d.get("container", "")).startswith("/dev/bus/usb") for d in _list(container.get("devices"))
    )
    rules = " ".join(_list(container.get("device_cgroup_rules")))
    return bind_only and not passed_as_device and not container.get("privileged") and "189:" not in rules


def _bind_mount_warning(container: Dict[str, Any]) -> Finding:
    name, engine = _names(container)
    return Finding(
        "container.usb",
        WARN,
        f"The container '{name}' sees the accelerator but may not open it",
        causes=["container-device"],
        detail=(
            "/dev/bus/usb is bind-mounted (-v), not passed with --device, and the container is not "
            "privileged: the device cgroup denies opening USB devices (LIBUSB_ERROR_ACCESS / "
            "'Failed to load delegate')."
        ),
        remedy=(
            f"# allow USB character devices (major {USB_MAJOR}) for the bind mount:\n"
            f"{engine} run --device-cgroup-rule='c {USB_MAJOR}:* rmw' -v /dev/bus/usb:/dev/bus/usb ...\n"
            f"# or pass it as a device instead:\n{engine} run --device /dev/bus/usb:/dev/bus/usb ..."
        ),
    )


def _pcie_finding(container: Dict[str, Any], facts: Dict[str, Any], host_apex: List[str], seen: _Seen) -> Finding:
    name, _engine = _names(container)
    missing = [n for n in host_apex if n not in seen.apex]
    if not missing:
        return Finding("container.pcie", PASS, f"The container '{name}' sees {', '.join(host_apex)}")
    major = _apex_major(facts)
    return Finding(
        "container.pcie",
        FAIL,
        f"The container '{name}' cannot see the PCIe Edge TPU",
        causes=["container-device"],
        detail=(
            f"The host has {', '.join(host_apex)}; the container '{name}' has "
            f"{', '.join(sorted(seen.apex)) or 'no /dev/apex_N'}."
        ),
        remedy=remedy_forms(container, facts, missing, [major] if major else [120])
        + (
            ""
            if major
            else "\n# (120 is an example: the apex major is given by `ls -l /dev/apex_0` on the "
            "host, the number before the comma)"
        ),
    )


def _no_device_on_host(container: Dict[str, Any], seen: _Seen) -> Finding:
    name, _engine = _names(container)
    if seen.usb_paths:
        inside = ", ".join(sorted(seen.usb_paths))
    else:
        inside = "/dev/bus/usb with no devices" if seen.has_bus else "no /dev/bus/usb"
    return Finding(
        "container.device",
        INFO,
        "The host sees no Edge TPU to pass into the container",
        detail=(
            f"Inside '{name}': "
            + inside
            + (f"; {', '.join(sorted(seen.apex))}" if seen.apex else "")
            + ". See the host's device findings."
        ),
    )


def _seen_from_outside_only(container: Dict[str, Any]) -> Finding:
    name, engine = _names(container)
    not_seen = [str(x) for x in _list(container.get("not_seen"))]
    libs = _list(container.get("libedgetpu"))
    return Finding(
        "container.python",
        WARN,
        f"The container '{name}' has no python3: examined from outside only",
        detail=(
            "Could not be seen: "
            + "; ".join(not_seen)
            + ". Seen with `"
            + f"{engine} exec {name} ls/cat`: "
            + (
                "libedgetpu at " + ", ".join(str(x) for x in libs)
                if libs
                else "no libedgetpu in the usual library folders"
            )
            + ", the device nodes and the OS release."
        ),
        remedy=(
            f"Run the image's own application and pipe its log in: `{engine} logs {name} 2>&1 | edgedoctor "
            f"explain -`; or examine an image that has python3 (the worker needs Python 3.6+)."
        ),
    )
