"""Redaction of log content before anything is written: personal data and secrets become
``[REDACTED:<kind>]``, and the counts per kind are kept for the report."""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Order matters: the most specific patterns run first, so a JWT is not half-eaten by
# the API-key rule, and an e-mail's domain is not taken for something else.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_BEARER = re.compile(r"(?i)\b(bearer|token|basic)(\s+|[:=]\s*)([A-Za-z0-9._~+/=-]{12,})")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# A credential's name may carry a prefix or suffix (db_password, AWS_SECRET_ACCESS_KEY,
# secret_key_base, client-secret): the keyword is looked for inside the whole name. The
# match starts at the keyword, not at the name: the rest of the name is made of the same
# characters as the suffix, so it is never rewritten and need not be matched (a lazy
# prefix tried from every word boundary cost more than all other passes together). The
# lookahead names the keywords' first letters, which lets the engine skip other positions.
_KEYVAL = re.compile(
    r"(?i)(?=[apsc])((?:api[_-]?key|apikey|secret|password|passwd|pwd|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret)[\w.-]*\"?\s*[:=]\s*\"?)([^\s\"',;&]{4,})"
)
# A PEM private key, whole, or up to the end of the text when the line was cut.
_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|\Z)"
)
# The password of a URL's user info: postgres://app:s3cret@db:5432/orders
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)([^\s/@]+)(@)")
_PREFIXED_KEY = re.compile(
    r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}\b|\bAIza[0-9A-Za-z_-]{35}\b"
)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# "(?=\d)" repeats the first character: the engine skips other positions (a third faster).
_IPV4 = re.compile(r"(?=\d)\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:])"
)


# Guards are closures with plain loops, not any() over a generator: they run ten times per
# message, and the generator alone would cost as much as some of the searches they skip.
def _has_any(*literals: str) -> Callable[[str], bool]:
    def test(text: str) -> bool:
        for literal in literals:  # noqa: SIM110 (see above)
            if literal in text:
                return True
        return False

    return test


def _has_at_least(n: int, literal: str) -> Callable[[str], bool]:
    return lambda text: text.count(literal) >= n


def _has_any_folded(*words: str) -> Callable[[str], bool]:
    """For (?i) patterns: outside ASCII, case-insensitive matching is not ``lower()`` ("ſ"
    matches "s", the Kelvin sign "k"), so non-ASCII text always runs the pass."""
    has_word = _has_any(*words)
    return lambda text: not text.isascii() or has_word(text.lower())


def _both(first: Callable[[str], bool], second: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: first(text) and second(text)


#: For each pattern, a cheap test that is False only when the pattern cannot match: a
#: literal that every match contains. Most messages hold no secret, and these tests skip
#: most passes (a 24 h build folds tens of thousands of messages on its critical path).
#: _PEM and _CARD have none: the engine finds _PEM's leading literal faster than a test,
#: and counting 13 digits costs as much as _CARD's search.
_MAY_MATCH: dict[re.Pattern[str], Callable[[str], bool]] = {
    _URL_PASSWORD: _both(_has_any("://"), _has_any("@")),
    _JWT: _has_any("eyJ"),
    _PREFIXED_KEY: _has_any(
        "_live_", "_test_", "AKIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "AIza"
    ),
    _BEARER: _has_any_folded("bearer", "token", "basic"),
    # every keyword holds one of the words; ":" or "=" separates the value
    _KEYVAL: _both(_has_any(":", "="), _has_any_folded("key", "secret", "pass", "pwd")),
    _EMAIL: _has_any("@"),
    _IPV6: _has_at_least(2, ":"),
    _IPV4: _has_at_least(3, "."),
}


def _sub(pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], text: str) -> str:
    return pattern.sub(repl, text) if _MAY_MATCH[pattern](text) else text


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _valid_ipv6(text: str) -> bool:
    if text.count(":") < 2 or not any(
        c.isdigit() or c in "abcdefABCDEF" for c in text.replace(":", "")
    ):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@dataclass
class Redactor:
    """Replaces sensitive substrings; ``counts`` says how many of each kind it replaced."""

    enabled: bool = True
    ip_addresses: bool = True
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    #: Sources redact from their own threads: counting is one step at a time.
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @classmethod
    def from_config(cls, settings: Mapping[str, Any], secrets: Iterable[str] = ()) -> Redactor:
        patterns = {str(k): re.compile(str(v)) for k, v in (settings.get("patterns") or {}).items()}
        return cls(
            enabled=bool(settings.get("enabled", True)),
            ip_addresses=bool(settings.get("ip_addresses", True)),
            patterns=patterns,
            secrets=[s for s in secrets if s and len(s) >= 4],
        )

    def _mark(self, kind: str, n: int = 1) -> str:
        with self._lock:
            self.counts[kind] += n
        return f"[REDACTED:{kind}]"

    def _mark_match(self, kind: str, _m: re.Match[str]) -> str:
        return self._mark(kind)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        """``text`` with every sensitive substring replaced."""
        if not text:
            return text
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, self._mark("secret", text.count(secret)))
        if not self.enabled:
            return text
        for kind, pattern in self.patterns.items():
            text = pattern.sub(functools.partial(self._mark_match, kind), text)
        text = _PEM.sub(lambda _m: self._mark("private_key"), text)
        text = _sub(
            _URL_PASSWORD, lambda m: f"{m.group(1)}{self._mark('password')}{m.group(3)}", text
        )
        text = _sub(_JWT, lambda _m: self._mark("jwt"), text)
        text = _sub(_PREFIXED_KEY, lambda _m: self._mark("api_key"), text)
        text = _sub(_BEARER, lambda m: f"{m.group(1)}{m.group(2)}{self._mark('token')}", text)
        text = _sub(_KEYVAL, lambda m: f"{m.group(1)}{self._mark('api_key')}", text)
        text = _sub(_EMAIL, lambda _m: self._mark("email"), text)
        text = _CARD.sub(self._card, text)
        if self.ip_addresses:
            text = _sub(_IPV6, self._ipv6, text)
            text = _sub(_IPV4, lambda _m: self._mark("ipv4"), text)
        return text

    def _card(self, m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return self._mark("credit_card")
        return m.group(0)

    def _ipv6(self, m: re.Match[str]) -> str:
        return self._mark("ipv6") if _valid_ipv6(m.group(0)) else m.group(0)
