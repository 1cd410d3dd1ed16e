"""Tests of `agentkit/builtins/_address_guard.py`: which URLs and addresses `fetch_url` may reach.

These check the URL alone, before any lookup; `test_fetch.py` shows the same refusals stop
the tool before it resolves or connects, and covers the resolver with a fake DNS.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.builtins._address_guard import PUBLIC_ONLY, Refused, address_class, check_url
from agentkit.errors import ToolError


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("127.0.0.53", "a loopback address"),
        ("10.255.255.255", "a private-network address"),
        ("fd00:ec2::254", "the cloud metadata service"),
        ("ff02::1", "a multicast address"),
        ("198.18.0.1", "a private-network address"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo form of 10.0.0.1"),
    ],
)
def test_address_classes(address: str, reason: str | None) -> None:
    found = address_class(ipaddress.ip_address(address))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


@pytest.mark.parametrize(
    ("host", "meant"),
    [
        ("2130706433", "127.0.0.1"),  # one number
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # two parts: 8 + 24 bits
        ("0x7f.1", "127.0.0.1"),
        ("0177.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),  # three parts: 8 + 8 + 16 bits
        ("0177.0.0.1", "127.0.0.1"),  # four parts, octal or hex each
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("000000000177.0.0.1", "127.0.0.1"),  # leading zeros galore are still octal
        ("0x00000000007f.1", "127.0.0.1"),
        ("127.1.", "127.0.0.1"),  # a trailing dot (a fully qualified name)
        ("0xa.1", "10.0.0.1"),
        ("012.1", "10.0.0.1"),
        ("167772161", "10.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("0.0", "0.0.0.0"),
        ("00", "0.0.0.0"),
    ],
)
def test_every_numeric_spelling_of_a_private_address_is_refused(host: str, meant: str) -> None:
    with pytest.raises(Refused) as caught:
        check_url(f"http://{host}/", False, f"http://{host}/")
    assert f"(that is {meant}) is " in str(caught.value)
    assert PUBLIC_ONLY in str(caught.value)


@pytest.mark.parametrize(
    "host",
    [
        "08",  # 8 in an octal part
        "0179.0.0.1",
        "0x",  # hex with no digits
        "0x7f.0x",
        "256.1",  # a leading part over 255
        "1.2.3.256",
        "1.16777216",  # the last part over what its bits hold
        "1.2.65536",
        "4294967296",
        "0x100000000",
        "99999999999999999999",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_numeric_host_that_is_no_address_is_refused(host: str, allow_private: bool) -> None:
    with pytest.raises(Refused, match="is not a valid IPv4 address; write the address in full"):
        check_url(f"http://{host}/", allow_private, f"http://{host}/")


def test_public_address_in_a_numeric_spelling_is_answered_with_its_dotted_form() -> None:
    with pytest.raises(ToolError, match=r"use the usual dotted form, e\.g\. http://8\.8\.8\.8/") as caught:
        check_url("http://0x8.0x8.0x8.0x8/", False, "http://0x8.0x8.0x8.0x8/")
    assert not isinstance(caught.value, Refused)


def test_allowed_private_address_in_a_numeric_spelling_still_needs_the_dotted_form() -> None:
    with pytest.raises(ToolError, match=r"e\.g\. http://127\.0\.0\.1/"):
        check_url("http://127.1/", True, "http://127.1/")


@pytest.mark.parametrize("host", ["127.0.0.1 x", "127.0.0.1%20x", "1.2.3.4.5"])
def test_host_that_only_starts_with_numbers_is_left_to_the_resolver(host: str) -> None:
    # inet_aton itself would read "127.0.0.1 x" as 127.0.0.1; such a host is not a numeric
    # spelling here, so it is not answered with a dotted form: it is looked up, and the
    # resolver refuses whatever non-public address the lookup gives (see test_fetch.py).
    assert check_url(f"http://{host}/", False, "u").host == host


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://[::ffff:127.0.0.1]/", "a loopback address (IPv4-mapped form of 127.0.0.1)"),
        ("http://[::ffff:7f00:1]/", "a loopback address (IPv4-mapped form of 127.0.0.1)"),
        ("http://[::ffff:10.0.0.1]/", "a private-network address (IPv4-mapped form of 10.0.0.1)"),
        ("http://[::ffff:169.254.169.254]/", "the cloud metadata service) (IPv4-mapped"),
        ("http://[::ffff:0.0.0.0]/", "an unspecified address (IPv4-mapped form of 0.0.0.0)"),
    ],
)
def test_ipv4_mapped_private_addresses_are_refused(url: str, named: str) -> None:
    with pytest.raises(Refused, match=named.replace("(", r"\(").replace(")", r"\)")):
        check_url(url, False, url)


def _spellings(value: int) -> list[str]:
    """Numeric spellings of the IPv4 address `value`, as browsers and `inet_aton` read them."""
    a, b, c, d = value.to_bytes(4, "big")
    return [
        str(value),
        hex(value),
        f"0{value:o}",
        f"{a}.{value & 0xFFFFFF}",
        f"{a}.{b}.{value & 0xFFFF}",
        f"0{a:o}.0x{b:x}.{c}.0{d:o}",
        f"0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}",
    ]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_a_numeric_spelling_is_refused_exactly_when_its_address_is_not_public(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    reason = address_class(address)
    for host in _spellings(value):
        if host == str(address):
            continue
        with pytest.raises(ToolError) as caught:
            check_url(f"http://{host}/", False, host)
        if reason is None:
            assert f"http://{address}/" in str(caught.value), host
        else:
            assert isinstance(caught.value, Refused), host
            assert f"(that is {address}) is {reason}" in str(caught.value), host
