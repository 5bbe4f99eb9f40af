"""Redaction a security reviewer would sign (issue #15), and never over-redaction (issue #18): URL credentials,
secrets in environment dumps, every IPv6 form, MACs in any notation, host names in any case; a home folder
only as whole path components; a fact value that merely equals the user's name stays."""

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgedoctor.diagnosis.judge import judge
from edgedoctor.render import render
from edgedoctor.report import redact

PAIRS = [("/root", "~"), ("/home/zelda", "~"), ("Zelda-Pi", "<host>"), ("zelda", "<user>")]


def _r(text, pairs=PAIRS):
    return redact.redact_text(text, pairs)


@pytest.mark.parametrize(
    "text,kept",
    [
        ("/x/pi/root/usr/bin/python3.11", "/x/pi/root/usr/bin/python3.11"),  # issue #18: not "/x/pi~/usr/..."
        ("/srv/root", "/srv/root"),
        ("/rootfs/etc", "/rootfs/etc"),
        ("/home/zeldas/x", "/home/zeldas/x"),
    ],
)
def test_a_home_folder_inside_another_path_is_kept(text, kept):
    assert _r(text) == kept


@pytest.mark.parametrize(
    "text,redacted",
    [
        ("/root/venv/bin/python", "~/venv/bin/python"),
        ("cd /root", "cd ~"),
        ("PYTHONPATH=/root/lib:/home/zelda/lib", "PYTHONPATH=~/lib:~/lib"),
        ('File "/home/zelda/.venv/x.py"', 'File "~/.venv/x.py"'),
    ],
)
def test_a_home_folder_is_replaced_as_whole_components(text, redacted):
    assert _r(text) == redacted


def test_a_value_that_merely_equals_the_user_name_is_kept():
    report = judge({"platform": {"os": "linux", "user": "linux", "hostname": "h1"}})
    out = redact.redact_report(report)
    assert out["facts"]["platform"]["os"] == "linux"  # USER=linux once made it "<user>"
    assert out["facts"]["platform"]["user"] == "<user>"


@pytest.mark.parametrize(
    "text",
    [
        "http://user:pass@mirror.lab/models",
        "https://ghp_tok@github.com/x.git",
        "ftp://anon:@ftp.example.org/",
        "git+https://me:s3cr3t@gitlab.example/x",
    ],
)
def test_credentials_in_urls_are_removed(text):
    out = _r(text)
    assert "<credentials>@" in out and "pass" not in out and "s3cr3t" not in out and "ghp_tok" not in out


@pytest.mark.parametrize(
    "text,secret",
    [
        ("GITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", "ghp_0123456789"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("  DB_PASSWORD: hunter2", "hunter2"),
        ('{"api_key": "abc123def"}', "abc123def"),
        ("export OPENAI_API_KEY='sk-abcdefghijklmnopqrstuvwxyz'", "sk-abcdef"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnop"),
        ("token xoxb-123456789012-abcdefghijkl", "xoxb-1234"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ],
)
def test_secrets_in_an_environment_dump_are_removed(text, secret):
    assert secret not in _r(text)


def test_ordinary_environment_values_are_kept():
    text = "PATH=/usr/bin LANG=C.UTF-8 KEYBOARD=us MONKEY=1 PYTHONPATH=/opt/lib"
    assert _r(text) == text


@pytest.mark.parametrize(
    "address",
    [
        "fe80::1",
        "fe80::1%eth0",
        "2001:db8::1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "2001:db8:85a3::8a2e:370:7334",
        "::ffff:192.0.2.128",
        "fd00::abcd:1",
    ],
)
def test_every_ipv6_form_is_removed(address):
    assert address not in _r(f"from {address} port 22") and "<ip>" in _r(f"from {address} port 22")


@pytest.mark.parametrize("text", ["12:34:56", "std::string", "1a6e:089a", "::1", "a::b::c", "Node 3:5:7"])
def test_things_that_are_not_addresses_are_kept(text):
    assert _r(text) == text


@pytest.mark.parametrize("mac", ["3c:22:fb:9a:10:07", "3C-22-FB-9A-10-07", "3c22.fb9a.1007", "3c22fb9a1007"])
def test_macs_in_any_notation_are_removed(mac):
    assert mac not in _r(f"ether {mac} brd") and "<mac>" in _r(f"ether {mac} brd")


def test_numbers_and_hashes_are_not_macs():
    text = "serial-less 123456789012 sha 5d41402abc4b2a76b9719d911017c592 version 2.14.0"
    assert _r(text) == text


@pytest.mark.parametrize("text", ["on zelda-pi today", "on ZELDA-PI today", "on Zelda-Pi today"])
def test_host_names_in_any_case_are_removed(text):
    assert _r(text) == "on <host> today"


@given(st.ip_addresses(v=6))
def test_any_ipv6_address_is_removed(address):
    text = f"addr {address} up"
    if str(address) in redact.KEEP_IPS:
        return
    assert "<ip>" in _r(text) and str(address) not in _r(text).replace("<ip>", "")


@given(st.ip_addresses(v=4))
def test_any_ipv4_address_is_removed(address):
    if str(address) in redact.KEEP_IPS:
        return
    assert str(address) not in _r(f"addr {address} up")


def test_a_report_with_planted_secrets_leaks_none_in_any_format():
    facts = {
        "platform": {"os": "linux", "hostname": "Zelda-Pi", "user": "zelda"},
        "python_env": {
            "tflite": {
                "module": None,
                "version": None,
                "error": (
                    "GITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB fetched http://u:pw@10.0.0.5/x from "
                    "fe80::1%wlan0 (mac 3c22fb9a1007) on ZELDA-PI"
                ),
            }
        },
    }
    report = redact.redact_report(judge(facts))
    for fmt in ("json", "markdown", "terminal", "junit"):
        text = render(report, fmt, fancy=False)
        for leaked in ("ghp_0123", ":pw@", "10.0.0.5", "fe80::1", "3c22fb9a1007", "ZELDA-PI", "Zelda-Pi"):
            assert leaked not in text, (fmt, leaked)
    assert json.loads(render(report, "json"))["facts"]["platform"]["os"] == "linux"


del ipaddress
