"""Reference copies of redaction and normalisation as they were before their regex passes got
guards (c087acc), kept verbatim so that a guard which is not an exact necessary condition shows
up as a difference on generated text."""

# ruff: noqa: E501
from __future__ import annotations

import functools
import ipaddress
import re

from connectors.signatures import EMPTY, MAX_LENGTH, first_line, truncate
from pmrecon.redact import Redactor, luhn_ok

# ---------------------------------------------------------------------- pmrecon/redact.py

R_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
R_BEARER = re.compile(r"(?i)\b(bearer|token|basic)(\s+|[:=]\s*)([A-Za-z0-9._~+/=-]{12,})")
R_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# A credential's name may carry a prefix or suffix (db_password, AWS_SECRET_ACCESS_KEY,
# secret_key_base, client-secret): the keyword is looked for inside the whole name.
R_KEYVAL = re.compile(
    r"(?i)\b([\w.-]*?(?:api[_-]?key|apikey|secret|password|passwd|pwd|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret)[\w.-]*)"
    r"(\"?\s*[:=]\s*\"?)([^\s\"',;&]{4,})"
)
# A PEM private key, whole, or up to the end of the text when the line was cut.
R_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|\Z)"
)
# The password of a URL's user info: postgres://app:s3cret@db:5432/orders
R_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)([^\s/@]+)(@)")
R_PREFIXED_KEY = re.compile(
    r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}\b|\bAIza[0-9A-Za-z_-]{35}\b"
)
R_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
R_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
R_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:])"
)


def R_valid_ipv6(text: str) -> bool:
    if text.count(":") < 2 or not any(
        c.isdigit() or c in "abcdefABCDEF" for c in text.replace(":", "")
    ):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


class ReferenceRedactor(Redactor):
    """The redactor of c087acc: every pass runs on every text."""

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
        text = R_PEM.sub(lambda _m: self._mark("private_key"), text)
        text = R_URL_PASSWORD.sub(
            lambda m: f"{m.group(1)}{self._mark('password')}{m.group(3)}", text
        )
        text = R_JWT.sub(lambda _m: self._mark("jwt"), text)
        text = R_PREFIXED_KEY.sub(lambda _m: self._mark("api_key"), text)
        text = R_BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{self._mark('token')}", text)
        text = R_KEYVAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{self._mark('api_key')}", text)
        text = R_EMAIL.sub(lambda _m: self._mark("email"), text)
        text = R_CARD.sub(self._card, text)
        if self.ip_addresses:
            text = R_IPV6.sub(self._ipv6, text)
            text = R_IPV4.sub(lambda _m: self._mark("ipv4"), text)
        return text

    def _card(self, m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return self._mark("credit_card")
        return m.group(0)

    def _ipv6(self, m: re.Match[str]) -> str:
        return self._mark("ipv6") if R_valid_ipv6(m.group(0)) else m.group(0)


# ---------------------------------------------------------------------- connectors/signatures.py

S_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
S_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"

S_UUID = re.compile(
    S_NOT_ALNUM_BEFORE
    + r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    + S_NOT_ALNUM_AFTER
)
S_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
S_CLOCK = re.compile(
    S_NOT_ALNUM_BEFORE + r"[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?" + S_NOT_ALNUM_AFTER
)
S_IPV4 = re.compile(
    S_NOT_ALNUM_BEFORE + r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]{1,5})?" + S_NOT_ALNUM_AFTER
)
S_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
S_HEX0X = re.compile(S_NOT_ALNUM_BEFORE + r"0[xX][0-9a-fA-F]+" + S_NOT_ALNUM_AFTER)
S_HEXRUN = re.compile(
    S_NOT_ALNUM_BEFORE + r"(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}" + S_NOT_ALNUM_AFTER
)
S_TOKEN = re.compile(r"[A-Za-z0-9_+/-]{16,}={0,2}")
S_NUMBER = re.compile(r"(?<![A-Za-z0-9])[0-9]+(?:[.,][0-9]+)*|[0-9]{4,}")
S_SPACE = re.compile(r"\s+")
S_PLACEHOLDER_RUN = re.compile(r"<n>(?:[.,:]<n>)+")


def S_fold_token(m: re.Match[str]) -> str:
    text = m.group(0)
    digits = sum(c.isdigit() for c in text)
    letters = sum(c.isalpha() for c in text)
    return "<id>" if digits >= 2 and letters >= 1 else text


def reference_normalise(message: object, max_length: int = MAX_LENGTH) -> str:
    """The signature of one log message: variable parts folded, whitespace collapsed, bounded."""
    text = first_line(message if isinstance(message, str) else str(message or ""))
    text = S_UUID.sub("<uuid>", text)
    text = S_ISO_TIME.sub("<time>", text)
    text = S_CLOCK.sub("<time>", text)
    text = S_IPV4.sub("<ip>", text)
    text = S_EMAIL.sub("<email>", text)
    text = S_HEX0X.sub("<hex>", text)
    text = S_HEXRUN.sub("<hex>", text)
    text = S_TOKEN.sub(S_fold_token, text)
    text = S_NUMBER.sub("<n>", text)
    text = S_PLACEHOLDER_RUN.sub("<n>", text)
    text = S_SPACE.sub(" ", text).strip()
    if not text:
        return EMPTY
    return truncate(text, max_length)
