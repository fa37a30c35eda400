"""Log content masked before it is kept, with the masks of one collect counted once.

The redactor (``context.redactor``) is shared by the whole build and its counts say how many
values of each kind were masked. Messages are redacted before they are folded into signatures
so that signatures merge over masked values; that redaction is not counted (a message is read
many times), the masks of the signatures kept are (see :meth:`Redaction.count_masks`).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import Counter
from typing import Any

_MASK = re.compile(r"\[REDACTED:([A-Za-z0-9_-]+)\]")


class Redaction:
    """One collect's use of the build's redactor (None: nothing is masked)."""

    def __init__(self, redactor: Any) -> None:
        self.redactor = redactor
        self._counts_before = dict(redactor.counts) if redactor is not None else {}
        self._silent: Any = None  # the redactor without counts, made on first use
        self._lock = threading.Lock()  # the counts are shared by the parts running at once

    def prefold(self, text: str) -> str:
        """``text`` redacted before folding, not counted."""
        redactor = self.redactor
        if redactor is None or not text:
            return text
        with self._lock:
            if self._silent is None:
                try:
                    self._silent = dataclasses.replace(redactor, counts=Counter())
                except TypeError:  # not the dataclass Redactor: redact without a silent copy
                    return str(redactor.redact(text))
        return str(self._silent.redact(text))

    def redact(self, text: str) -> str:
        """``text`` redacted, its masks counted."""
        redactor = self.redactor
        if redactor is None or not text:
            return text
        with self._lock:
            return str(redactor.redact(text))

    def count_masks(self, text: str) -> None:
        """Count the masks ``prefold`` left in ``text`` (a signature that is kept)."""
        if self.redactor is None or self._silent is None:
            return
        with self._lock:
            for m in _MASK.finditer(text):
                self.redactor.counts[m.group(1)] += 1

    def since_start(self) -> dict[str, int]:
        """Values masked since this collect began (the redactor is shared by the whole build)."""
        redactor = self.redactor
        if redactor is None:
            return {}
        out = {
            str(k): int(v) - int(self._counts_before.get(k, 0))
            for k, v in dict(redactor.counts).items()
        }
        return {k: v for k, v in sorted(out.items()) if v > 0}
