"""How values read in a report: numbers, times, durations and Markdown-safe text.

The numbers and words come from the report language's catalogue (``pmrecon.wording``):
a decimal comma and a thin space between thousands in French, "3 jours" or "3 days".
The Markdown escapes keep text from the data (log lines, label values, titles) text: it
cannot open a link, end a table cell or close a fence.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from ..model import parse_rfc3339
from ..wording import catalogue


class Formatter:
    """Numbers, times and durations the way a reader of ``lang`` expects them."""

    def __init__(self, lang: str, tz: str, multi_day: bool = False) -> None:
        self.lang = lang
        self.words = catalogue(lang)
        self.zone = zoneinfo.ZoneInfo(tz)
        self.multi_day = multi_day

    def _time(self, value: Any) -> dt.datetime | None:
        if value is None or value == "":
            return None
        t = value if isinstance(value, dt.datetime) else parse_rfc3339(str(value))
        return t.astimezone(self.zone)

    def hm(self, value: Any) -> str:
        t = self._time(value)
        if t is None:
            return ""
        return t.strftime("%Y-%m-%d %H:%M") if self.multi_day else t.strftime("%H:%M")

    def dt(self, value: Any) -> str:
        t = self._time(value)
        return "" if t is None else f"{t.strftime('%Y-%m-%d %H:%M')} ({t.tzname()})"

    def dur(self, seconds: Any) -> str:
        if seconds is None:
            return ""
        total = int(round(float(seconds) / 60.0))
        days, rest = divmod(total, 1440)
        hours, minutes = divmod(rest, 60)
        parts = []
        for n, unit in zip((days, hours, minutes), ("day", "hour", "minute")):
            if n:
                parts.append(self._count(n, unit, plural=n != 1))
        if not parts:
            secs = int(round(float(seconds)))
            return f"{secs} s"
        return " ".join(parts)

    def minutes(self, seconds: Any) -> str:
        if seconds is None:
            return ""
        m = float(seconds) / 60.0
        text = f"{m:.1f}" if m < 10 else f"{m:.0f}"
        text = text.removesuffix(".0").replace(".", self.words["number.decimal_point"])
        return self._count(text, "minute", plural=m >= 2 or m == 0)

    def pct(self, ratio: Any, digits: int = 2) -> str:
        if ratio is None:
            return ""
        text = f"{float(ratio) * 100:.{digits}f}".replace(".", self.words["number.decimal_point"])
        return self.words["number.percent"].format(value=text)

    def ms(self, seconds: Any) -> str:
        if seconds is None:
            return ""
        return f"{self.num(round(float(seconds) * 1000))} ms"

    def num(self, value: Any) -> str:
        if value is None:
            return ""
        return f"{int(value):,}".replace(",", self.words["number.thousands_separator"])

    def _count(self, n: Any, unit: str, *, plural: bool) -> str:
        """``n`` followed by ``unit`` ("day", "hour", "minute"), singular or plural."""
        return self.words[f"unit.{unit}s" if plural else f"unit.{unit}"].format(n=n)

    def quantile(self, q: Any) -> str:
        if q is None:
            return ""
        return f"{float(q) * 100:g}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")


def md_inline(value: Any) -> str:
    """Text that stays text in Markdown: no markup, no HTML, one line."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_cell(value: Any) -> str:
    """Text for a Markdown table cell: escaped like inline text, ``|`` cannot end the cell."""
    return md_inline(value)


def md_code(value: Any) -> str:
    """A complete code span that holds any text, backticks included."""
    text = " ".join(str(value).split())
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_fence_line(value: Any) -> str:
    """One line inside a fenced block: a run of three backticks cannot close the fence."""
    text = " ".join(str(value).split())
    return re.sub(r"`{3,}", lambda m: "`\u200b" * len(m.group(0)), text)
