"""Evidence, findings and config for the report-output tests (graphs, HTML, merge, output).

A typical incident: two services, one of them degraded (error ratio and latency), two
alerts, logs with an error burst, a rollback, and hostile strings where the data can
carry them (a log line with ``<script>``, ``|`` and backticks; a label with quotes).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from pmrecon.config import load_config
from pmrecon.model import ErrorSignature, Event, Evidence, LogSample
from tests.evidence_factory import AlertDecl, Deg, LogDecl, Svc, T, build

W0 = T("2026-03-01 09:00")
W1 = T("2026-03-01 11:00")

HOSTILE_LOG = "<script>alert(1)</script> failed | retry `x` and ``y``"
#: A service name (a label value) with quotes, a pipe and markup.
HOSTILE_SERVICE = 'pay "eu" | <b>west</b>'


def evidence(error_ratio: float = 0.3, incident_end: str = "2026-03-01 10:10") -> Evidence:
    """The typical incident; ``error_ratio`` and ``incident_end`` move its derived numbers."""
    api = Svc(
        "checkout",
        rps=20,
        latency={0.5: 0.05, 0.99: 0.25},
        phases=[Deg(T("2026-03-01 09:40"), T(incident_end), error_ratio=error_ratio, latency=1.5)],
    )
    ev = build(
        W0,
        W1,
        [api, Svc(HOSTILE_SERVICE, rps=5)],
        step=60.0,
        alerts=[
            AlertDecl("HighErrorRate", "checkout", [(T("2026-03-01 09:44"), T(incident_end))]),
            AlertDecl(
                "HighLatency",
                HOSTILE_SERVICE,
                [(T("2026-03-01 09:50"), T("2026-03-01 09:58"))],
                severity="warning",
            ),
        ],
        logs=LogDecl(
            bursts=[(T("2026-03-01 09:40"), T(incident_end), "checkout", 40)],
            signatures=[
                ErrorSignature(
                    HOSTILE_LOG,
                    120,
                    T("2026-03-01 09:40"),
                    T("2026-03-01 10:09"),
                    ["checkout"],
                    True,
                )
            ],
            users=321,
        ),
        events=[Event(T("2026-03-01 10:02"), "rollback", "deploys", "rollback checkout v1.2.3")],
    )
    assert ev.logs is not None
    ev.logs.samples.append(
        LogSample(T("2026-03-01 09:41"), "error", "checkout", HOSTILE_LOG, reason="first_error")
    )
    return ev


def findings_for(ev: Evidence, tz: str = "Europe/Paris", lang: str = "fr") -> dict[str, Any]:
    """Findings as pmrecon's analysis derives them, its texts in ``lang``."""
    from pmrecon.analysis import analyse
    from pmrecon.findings import findings_to_json

    cfg = config(tz=tz, lang=lang)
    return findings_to_json(analyse(ev, cfg["analysis"], timezone=tz, human={}, language=lang))


def config(tz: str = "Europe/Paris", lang: str = "fr", **report: Any) -> Any:
    overrides: dict[str, Any] = {"timezone": tz, "language": lang}
    overrides.update({f"report.{k}": v for k, v in report.items()})
    return load_config(None, overrides=overrides, env={})


# --------------------------------------------------------------------------- PNG checks


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of raw pixel bytes) of an 8-bit, non-interlaced PNG.

    A small decoder (no imaging library in the test dependencies): chunk CRCs are
    checked, scanline filters undone (numpy where the filter allows it).
    """
    import numpy as np

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    idat = b""
    width = height = 0
    channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            width, height, depth, color, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, (depth, interlace)
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    assert len(raw) == height * (stride + 1), "truncated image data"
    rows: list[bytes] = []
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        if f == 0:
            out = line.copy()
        elif f == 1:  # Sub: running sum per channel
            out = np.cumsum(line.reshape(width, channels), axis=0, dtype=np.uint64) % 256
            out = out.astype(np.uint8).reshape(stride)
        elif f == 2:  # Up
            out = (line.astype(np.uint16) + prev).astype(np.uint8)
        else:  # Average, Paeth: each byte depends on the one before it
            cur = bytearray(line.tobytes())
            up = prev.tobytes()
            for i in range(stride):
                a = cur[i - channels] if i >= channels else 0
                b = up[i]
                if f == 3:
                    cur[i] = (cur[i] + (a + b) // 2) & 0xFF
                else:
                    c = up[i - channels] if i >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[i] = (cur[i] + pred) & 0xFF
            out = np.frombuffer(bytes(cur), dtype=np.uint8)
        rows.append(out.tobytes())
        prev = out
    return width, height, rows


def distinct_colors(rows: list[bytes], width: int, sample_every: int = 7) -> int:
    """How many distinct pixel values decoded rows hold (sampled): a blank image has one."""
    seen: set[bytes] = set()
    channels = len(rows[0]) // width if rows else 1
    for row in rows[::sample_every]:
        for x in range(0, width, sample_every):
            seen.add(row[x * channels : (x + 1) * channels])
    return len(seen)


def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path
