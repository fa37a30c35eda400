"""The guards that skip regex passes change nothing: redaction (text and counts) and signatures
are compared with the unguarded code of c087acc (tests/regex_reference.py) on generated text
made of fragments each pass matches, near misses, and the Unicode that trips literal tests
(``ſ`` and the Kelvin sign fold to ``s`` and ``k`` under ``(?i)``, ``\\d`` takes any digit)."""

from __future__ import annotations

import random
import re
import string
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.signatures import normalise
from pmrecon.redact import _KEYVAL, Redactor
from tests.regex_reference import ReferenceRedactor, reference_normalise

KELVIN, LONG_S = "\u212a", "\u017f"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P"
FRAGMENTS = [
    # e-mail, URL user info, JWT, PEM
    "alice@example.com", "a.b+c@x-y.co.uk", "bob@localhost", "@", "x@y.z",
    "postgres://app:s3cret@db:5432/orders", "https://u:p@h", "s3://a@b", "://",
    JWT, "eyJabc", "eyJhbGciOi.eyJzdWIi.dozjgNry", "eyJ0eXAiOi.eyJpc3Mi.c2lnbmF0",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJB\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----MIIEvQ", "-----BEGIN CERTIFICATE-----",
    "_live_", "gh", "xox", "AKIA",
    # bearer and credentials
    "Bearer abcdefghijklmnop", "token=abcdefghijkl1234", "basic: dXNlcjpwYXNzd29yZA==",
    "ToKeN  abc.def~ghi+jkl/", f"to{KELVIN}en abcdefghijklmn", f"ba{LONG_S}ic abcdefghijklmn",
    "api_key=abcd1234", "Secret: hunter22", 'DB_PASSWORD="x y z w"', "client-secret = 'abcd'",
    "pwd:abcd", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "passwd:=abcd", "x.secret.y: vvvv",
    f"{LONG_S}ecret=abcd", f"api_{KELVIN}ey=abcdef", "PR\u0130VATE_KEY=abcdef", "apikey",
    "private-key :", 'password": "abc', "secret=ab", "key", "pass",
    # cards, addresses
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "1234567890123",
    "\u0664" + "\u0661" * 15, "\uff14" + "\uff11" * 15,
    "10.1.2.3", "10.1.2.3:443", "256.1.1.1", "\u0661\u0660.\u0661.\u0662.\u0663",
    "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:10.0.0.1", "a:b:c", "::",
    # signature folds
    "123e4567-e89b-12d3-a456-426614174000", "2026-06-07T12:00:01Z",
    "2026-06-07 12:00:01.123+02:00", "12:00:01", "9:05:33,123", "0xdeadBEEF", "0X1F", "0x",
    "deadbeef1234", "QWxhZGRpbjpvcGVuIHNlc2FtZQ12ab==", "42", "-7", "1.5", "3012ms",
    "user12345", "1,234,567", "<n>.<n>", "<n>:",
]  # fmt: skip
TRICKY = (
    f"{LONG_S}{KELVIN}\u0130\u0131\u0663\uff13\xa0\u2028\u3000"
    + "é☃"
    + string.printable
    + "=:\"',;&@.-_/+~<>"
)

fragments = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.sampled_from(FRAGMENTS).map(str.upper),
    st.sampled_from(FRAGMENTS).map(str.swapcase),
    st.text(alphabet=TRICKY, max_size=8),
    st.text(max_size=4),
)
#: A credential name built around a keyword, any separator, any value.
credentials = st.builds(
    lambda prefix, keyword, suffix, sep, value: prefix + keyword + suffix + sep + value,
    st.text(alphabet="ab_.-" + LONG_S, max_size=4),
    st.sampled_from(
        [
            "api_key",
            "apikey",
            "API-KEY",
            "secret",
            "password",
            "passwd",
            "pwd",
            "access_key",
            "private-key",
            "client_secret",
            f"{LONG_S}ecret",
            f"api{KELVIN}ey",
            "pa\u017f\u017fwd",
        ]
    ),  # fmt: skip
    st.text(alphabet="xy_.-", max_size=3),
    st.sampled_from(["=", ":", " = ", '"=', '": "', ":=", " ", "\xa0:", "=\"'", ""]),
    st.text(alphabet="abc123=:.-\"',;& ", max_size=8),
)
#: Vendor keys: each prefix _PREFIXED_KEY knows, with bodies around its length limits.
KEY_PREFIXES = ["sk_live_", "pk_test_", "rk_live_", "sk_test_", "AKIA", "ghp_", "gho_", "ghu_",
                "ghs_", "ghr_", "xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "AIza"]  # fmt: skip
KEY_BODIES = ["Q" * 9, "a1B2" * 4, "Z9-" * 5 + "Z9", "b_" * 17 + "b", "C" * 36]
FRAGMENTS += [prefix + body for prefix in KEY_PREFIXES for body in KEY_BODIES[1:4:2]]
prefixed_keys = st.builds(
    lambda prefix, body, tail: prefix + body + tail,
    st.sampled_from(KEY_PREFIXES),
    st.sampled_from(KEY_BODIES),
    st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=3),
)
messages = st.lists(st.one_of(fragments, credentials, prefixed_keys), max_size=10).map("".join)


def redact_both(text: str, *, ip_addresses: bool = True) -> tuple[str, str, Redactor, Redactor]:
    new, old = Redactor(ip_addresses=ip_addresses), ReferenceRedactor(ip_addresses=ip_addresses)
    return new.redact(text), old.redact(text), new, old


@settings(max_examples=800, deadline=None)
@given(text=messages, ip_addresses=st.booleans())
def test_redaction_is_the_unguarded_one(text: str, ip_addresses: bool) -> None:
    got, want, new, old = redact_both(text, ip_addresses=ip_addresses)
    assert got == want
    assert new.counts == old.counts


@settings(max_examples=800, deadline=None)
@given(text=messages)
def test_signatures_are_the_unguarded_ones(text: str) -> None:
    assert normalise(text) == reference_normalise(text)
    redacted = Redactor().redact(text)
    assert normalise(redacted) == reference_normalise(redacted)


def test_every_pair_of_fragments_is_redacted_and_folded_as_before() -> None:
    new, old = Redactor(), ReferenceRedactor()
    for first in FRAGMENTS:
        for second in FRAGMENTS:
            for text in (first, first + second, first + " " + second):
                redacted = new.redact(text)
                assert redacted == old.redact(text), text
                assert normalise(text) == reference_normalise(text), text
    assert new.counts == old.counts


def bench_messages(per_template: int = 400) -> list[str]:
    """The message mix of the 24 h benchmark's error signatures (a smaller sample)."""
    r = random.Random(1)
    deps = ("postgres", "kafka", "redis", "payment-gateway", "s3", "ldap")
    templates = [
        "Connection reset by peer while calling {dep} after {n}ms",
        "Redis command GET session:{hex} timed out after {n}ms",
        "Retry budget exhausted for {dep} ({n3} attempts)",
        "Cache lookup took {n}ms for key session:{hex}",
        "Slow query on {dep}: {n}ms",
        "Legacy endpoint /v1/cart called by client {hex} ({n3} calls today)",
        "payment failed for order {uuid} user alice@example.com from 10.1.2.3:443"
        " at 2026-06-07T12:00:01Z",
    ]
    out = []
    for template in templates:
        for _ in range(per_template):
            uuid = (
                f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}"
                f"-{0x8000 | r.getrandbits(14):04x}-{r.getrandbits(48):012x}"
            )
            out.append(
                template.format(
                    n=r.randint(100, 99999),
                    n3=r.randint(1, 250),
                    hex=f"0x{r.getrandbits(32):08x}",
                    uuid=uuid,
                    dep=deps[r.randrange(6)],
                )
            )
    return out


def test_the_benchmark_mix_is_unchanged() -> None:
    new, old = Redactor(), ReferenceRedactor()
    for message in bench_messages():
        redacted = new.redact(message)
        assert redacted == old.redact(message)
        assert normalise(redacted) == reference_normalise(redacted)
    assert new.counts == old.counts and new.counts["email"] > 0


@pytest.mark.parametrize(
    "text",
    [
        f"{LONG_S}ecret=abcd1234",  # folds to "secret" under (?i): no ASCII "secret" in it
        f"api_{KELVIN}ey: abcdef",
        f"TO{KELVIN}EN abcdefghijklmnop",
        f"BA{LONG_S}IC abcdefghijklmnop",
        "\u0664" + "\u0661" * 15,  # Arabic-Indic digits are \d
        "host \u0661\u0660.\u0661.\u0662.\u0663 down",
        "db.password.old = \"hunter22\" and secret_key_base:'abcd'",
        "x-api-key=abcd;password=efgh&pwd=ijkl",
    ],
)
def test_unicode_and_suffixed_names_are_redacted_as_before(text: str) -> None:
    got, want, new, old = redact_both(text)
    assert got == want and got != text
    assert new.counts == old.counts


def test_the_keyword_lookahead_takes_every_first_letter() -> None:
    # _KEYVAL's lookahead on the keywords' first letters is exact only if, under (?i), it
    # takes every character that may start a keyword: compared over every code point.
    lookahead = re.search(r"\(\?=(\[\w+\])\)", _KEYVAL.pattern)
    keywords = re.search(r"\(\(\?:(.*?)\)\[", _KEYVAL.pattern)
    assert lookahead and keywords
    first_letters = "|".join({k[0] for k in keywords.group(1).split("|")})
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    may_start = re.findall("(?i)" + first_letters, every)
    assert re.findall("(?i)" + lookahead.group(1), every) == may_start
    assert LONG_S in may_start and len(first_letters) == len("a|s|p|c")


def test_whitespace_is_collapsed_as_before() -> None:
    # normalise joins str.split(), the reference collapses r"\s+": the same characters?
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    spaces = re.findall(r"\s", every)
    assert spaces == [c for c in every if c.isspace()] and "\xa0" in spaces
    for space in spaces:
        text = f" {space}a{space}{space}b {space}"
        assert normalise(text) == reference_normalise(text), repr(space)
