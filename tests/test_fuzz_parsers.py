"""Property-based tests of the pure parsers that read machine output (sysfs, dpkg, os-release, ldconfig, lspci,
system_profiler, pnputil, runtime version strings, ...). Every `parse_*` function in edgedoctor/probes/*.py
is found by name, so parsers added later are fuzzed too: none may raise on any input, and each returns
JSON-serialisable data. Round-trip properties pin down the ones whose format we can generate."""

import importlib
import inspect
import json
import pkgutil
import sys
import typing

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import edgedoctor.probes
from edgedoctor.worker import WORKER_DIR

FUZZ = settings(max_examples=200, deadline=None)


def _worker_module(name):
    if WORKER_DIR not in sys.path:
        sys.path.insert(0, WORKER_DIR)
    return importlib.import_module(name)


KNOWN_BUGS = {}  # parsers with a known bug (strict xfail until fixed); none left


def parsers():
    found = []
    for info in pkgutil.iter_modules(edgedoctor.probes.__path__):
        module = importlib.import_module(f"edgedoctor.probes.{info.name}")
        for name, function in sorted(vars(module).items()):
            if (
                name.startswith(("parse_", "_parse_"))
                and inspect.isfunction(function)
                and function.__module__ == module.__name__
            ):
                key = f"{info.name}.{name}"
                marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[key])] if key in KNOWN_BUGS else []
                found.append(pytest.param(function, id=key, marks=marks))
    found.append(pytest.param(_worker_module("wk_runtime").parse_version, id="worker.wk_runtime.parse_version"))
    return found


def _wants_bytes(function, parameter):
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    hint = hints.get(parameter.name, parameter.annotation)
    return "bytes" in str(hint) or parameter.name in ("raw", "data", "blob")


LINES = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet="0123456789abcdefABCDEF:.=- \t/()[],_\"'", max_size=60),
        st.sampled_from(
            [
                "",
                "=",
                "==",
                "\x00",
                "ii ",
                "ID=",
                'ID="',
                '"',
                "BuildLabel(",
                "RuntimeVersion(",
                "Coral",
                "1a6e:089a",
                "18d1:9302",
                "apex",
                "gasket",
                "5000",
                "480",
                "Up to 5 Gb/s",
                "_items",
                "{",
                "}",
                "[",
                "]",
                "null",
                "0x",
                "temp",
                "Secure Boot enabled",
                "DKMS",
            ]
        ),
    ),
    max_size=12,
)
TEXT = st.one_of(st.text(max_size=400), LINES.map("\n".join), LINES.map("\r\n".join))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "_items",
                    "_name",
                    "vendor_id",
                    "product_id",
                    "speed",
                    "location_id",
                    "SPUSBDataType",
                    "Status",
                    "InstanceId",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("function", parsers())
@FUZZ
@given(data=st.data())
def test_no_parser_raises_on_any_input(function, data):
    arguments = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        if _wants_bytes(function, parameter):
            arguments.append(data.draw(st.one_of(st.none(), st.binary(max_size=64)), label=parameter.name))
        elif "json" in function.__name__:
            arguments.append(data.draw(st.one_of(TEXT, JSONISH.map(json.dumps)), label=parameter.name))
        else:
            arguments.append(data.draw(TEXT, label=parameter.name))
    try:
        result = function(*arguments)
    except ValueError:
        # The JSON parsers' callers catch ValueError for output that is not JSON; valid JSON must parse.
        if "json" not in function.__name__:
            raise
        try:
            json.loads(arguments[0])
        except ValueError:
            return
        raise
    json.dumps(result)


@pytest.mark.parametrize(
    "function",
    [
        p
        for p in parsers()
        if "Optional"
        in str(
            inspect.signature(p.values[0]).parameters[next(iter(inspect.signature(p.values[0]).parameters))].annotation
        )
    ],
)
def test_parsers_of_optional_text_take_none(function):
    json.dumps(function(None))


# --- round trips ---------------------------------------------------------------------------------------------------
KEYS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12)
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\"\\$`'"), max_size=30)


@FUZZ
@given(st.dictionaries(KEYS, VALUES, max_size=8), st.sampled_from(['"', "'", ""]))
def test_os_release_round_trip(values, quote):
    from edgedoctor.probes.platform import parse_os_release

    if quote == "":
        values = {k: v.strip() for k, v in values.items() if v.strip() and " " not in v and "#" not in v}
    text = "\n".join(f"{key}={quote}{value}{quote}" for key, value in values.items())
    assert parse_os_release("# a comment\n\n" + text + "\n") == {
        k: (v.strip() if quote == "" else v) for k, v in values.items()
    }


PACKAGES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789+-.", min_size=1, max_size=20)
DEB_VERSIONS = st.text(alphabet="0123456789.~+-:abcdefgtf", min_size=1, max_size=16)
STATUSES = st.sampled_from(["ii ", "hi ", "iU ", "iF ", "un ", "rc ", "pn ", "ii", "iHR"])


@FUZZ
@given(st.lists(st.tuples(PACKAGES, DEB_VERSIONS, STATUSES), max_size=6))
def test_dpkg_query_keeps_exactly_the_installed_packages(rows):
    from edgedoctor.probes.runtime import parse_dpkg_query

    text = "".join(f"{p} {v} {s}\n" for p, v, s in rows)
    expected = [
        {"package": p, "version": v, "status": s.strip()} for p, v, s in rows if s[:2] in ("ii", "hi", "iU", "iF")
    ]
    assert parse_dpkg_query(text) == expected


LABELS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60).filter(
    lambda s: "), RuntimeVersion(" not in s and ")" not in s[-1:]
)


@FUZZ
@given(LABELS, st.integers(0, 10**6), st.sampled_from(["", "I runtime.cc:12] ", "junk\n"]))
@example("N/A", 13, "")
@example("", 10, "")
@example("COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted", 14, "")
def test_runtime_version_strings_parse_the_same_in_parent_and_worker(label, number, prefix):
    from edgedoctor.probes.runtime import parse_version

    worker = _worker_module("wk_runtime").parse_version
    text = f"{prefix}BuildLabel({label}), RuntimeVersion({number})"
    expected = (None if label in ("", "N/A") else label, number)
    assert parse_version(text) == expected
    assert worker(text) == expected


@FUZZ
@given(st.integers(0, 0xFFFFF), st.sampled_from(["throttled={}", "{}", "  {}\n"]))
def test_throttled_flags_are_the_bits(value, template):
    from edgedoctor.probes.platform import THROTTLE_BITS, parse_throttled

    parsed = parse_throttled(template.format(hex(value)))
    assert parsed["value"] == hex(value)
    assert parsed["flags"] == [label for bit, label in sorted(THROTTLE_BITS.items()) if value & (1 << bit)]
    assert parsed["under_voltage"] == bool(value & 0x10001)


@FUZZ
@given(
    st.sampled_from(["2.17", "2.31", "2.36", "2.39"]),
    st.sampled_from(["Debian GLIBC 2.36-9+deb12u4", "Ubuntu GLIBC 2.35-0ubuntu3.8", "GNU libc"]),
)
def test_ldd_version(version, vendor):
    from edgedoctor.probes.platform import parse_ldd_version

    text = f"ldd ({vendor}) {version}\nCopyright (C) 2022 Free Software Foundation, Inc.\n"
    assert parse_ldd_version(text) == ("glibc", version)


@FUZZ
@given(st.integers(1, 20_000))
def test_usb_speed_numbers_and_words(mbps):
    from edgedoctor.probes.usb import parse_speed

    assert parse_speed(str(mbps)) == mbps
    assert parse_speed(f"{mbps} Mb/s") == mbps
    assert parse_speed(f"Up to {mbps} Gb/s") == mbps * 1000


@FUZZ
@given(JSONISH)
def test_system_profiler_json_of_any_shape(value):
    from edgedoctor.probes.usb import parse_system_profiler_json

    for wrapped in (value, {"SPUSBDataType": value}, {"SPUSBDataType": [{"_items": value}]}):
        devices = parse_system_profiler_json(json.dumps(wrapped))
        assert isinstance(devices, list)
        json.dumps(devices)
