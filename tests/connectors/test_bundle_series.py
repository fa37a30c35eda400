"""series.csv without the parse-back: a build's evidence equals what a rebuild reads.

A build used to write the bundle, then parse it back, so that it analysed exactly what
``pmrecon build --source <bundle>`` reads. It now takes the points from the series in
memory (:func:`evidence_as_read`); these tests hold it to the same result, the rules of
series.csv spelled out by hand, and the bundle's bytes unchanged.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
from pathlib import Path

import pytest

from connectors.bundle import (
    MANIFEST,
    bundle_files,
    evidence_as_read,
    evidence_from_files,
    read_bundle,
    serialize,
    with_files,
)
from connectors.bundle_series import _csv_rows, _plain_rows, read_rows, usable_points
from pmrecon.errors import EvidenceError
from pmrecon.model import Evidence, Series, Warning, Window
from tests.connectors.test_bundle import sample_evidence

DEMO = Path(__file__).resolve().parents[2] / "pmrecon" / "demo_data" / "evidence"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 10, tzinfo=UTC)
E0 = int(T0.timestamp())


def series(name: str, ts: list, values: list, *, service: str = "checkout", **kw) -> Series:  # noqa: ANN003
    return Series(name, "error_ratio", service, "ratio", ts, values, 15, **kw)


def awkward() -> Evidence:
    """Numbers a connector might hand over that series.csv does not keep as they are."""
    ints = [E0 + 15 * i for i in range(6)]  # epochs as ints, as JSON gives them
    return Evidence(
        window=Window(T0, T0 + dt.timedelta(minutes=10)),
        baseline=Window(T0 - dt.timedelta(minutes=10), T0),
        series=[
            series("ints", ints, [0, 1, 2, 3, 4, 5]),
            series(
                "unusable",
                [float(t) for t in ints],
                [math.nan, math.inf, -math.inf, 1e300, -1e101, 0.25],
            ),
            series("signed_zero", ints, [-0.0, 0.0, -0.0, 1e-320, -5e-324, 1e100]),
            series("empty", [], []),
            series("longer_instants", ints, [0.5, 0.75]),  # zip() writes two points
            series("baseline", [t - 600 for t in ints], [0.1] * 6, baseline=True),
            series("quoted", ints[:3], [1, 2, 3], service='a,"b"\nc'),  # quoted, two lines
            series("all_nan", ints[:2], [math.nan, math.nan]),
        ],
        warnings=[Warning("prom", "3 NaN samples ignored", "nan")],
        pmrecon_version="0.1.0",
    )


def test_a_build_reads_the_demo_bundle_as_a_rebuild_does() -> None:
    evidence = read_bundle(DEMO)
    files = bundle_files(evidence)
    assert evidence_as_read(evidence, files) == evidence_from_files(files)


def test_serialize_writes_the_demo_bundle_byte_for_byte() -> None:
    """The bundle's bytes, and so their SHA-256s, do not change with the writer."""
    committed = {p.name: p.read_bytes() for p in DEMO.iterdir()}
    evidence = read_bundle(DEMO)
    written = serialize(evidence)
    assert written == {name: committed[name] for name in written}
    files = with_files(bundle_files(evidence), {"build.json": committed["build.json"]})
    assert files[MANIFEST] == committed[MANIFEST]


def test_awkward_numbers_are_read_as_a_rebuild_reads_them() -> None:
    evidence = awkward()
    files = bundle_files(evidence)
    built = evidence_as_read(evidence, files)
    assert built == evidence_from_files(files)
    points = {s.id: (list(s.timestamps), list(s.values)) for s in built.series}
    ints = [float(E0 + 15 * i) for i in range(6)]
    # The rules spelled out: every number a float; NaN, ±inf and beyond ±1e100 left out.
    assert points["ints.checkout"] == (ints, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert all(type(x) is float for x in points["ints.checkout"][0] + points["ints.checkout"][1])
    assert points["unusable.checkout"] == ([ints[5]], [0.25])
    assert points["signed_zero.checkout"][1] == [-0.0, 0.0, -0.0, 1e-320, -5e-324, 1e100]
    assert math.copysign(1, points["signed_zero.checkout"][1][0]) == -1
    assert points["empty.checkout"] == ([], [])
    assert points["longer_instants.checkout"] == (ints[:2], [0.5, 0.75])
    assert points["baseline.checkout-baseline"] == ([t - 600 for t in ints], [0.1] * 6)
    assert points['quoted.a,"b"\nc'] == (ints[:3], [1.0, 2.0, 3.0])
    assert points["all_nan.checkout"] == ([], [])
    (warning,) = [w for w in built.warnings if w.code == "unusable_values"]
    assert warning.params == {"count": 7, "series": "all_nan.checkout, unusable.checkout"}
    assert built.warnings[0] == evidence.warnings[0]  # the collected ones first
    assert [s.step_seconds for s in built.series] == [15.0] * 8


def test_the_sample_evidence_is_read_as_a_rebuild_reads_it() -> None:
    evidence = sample_evidence()
    files = bundle_files(evidence)
    assert evidence_as_read(evidence, files) == evidence_from_files(files)


def _refusal(read) -> str:  # noqa: ANN001
    with pytest.raises(EvidenceError) as caught:
        read()
    return caught.value.format_message()


@pytest.mark.parametrize(
    ("where", "ts", "words"),
    [
        ("checkout", [E0, E0 + 15, E0 + 15], "line 10: series 'x.checkout' goes back in time"),
        ('a\n"b', [E0, E0 + 30, E0 + 15], "line 13: series 'x.a\\n\"b' goes back in time"),
        ("checkout", [E0, 2.6e11, E0], "line 9: epoch 260000000000.0 is not between 1970"),
    ],
    ids=["repeat", "quoted-id", "year-10208"],
)
def test_a_build_refuses_what_a_rebuild_refuses_naming_the_same_line(
    monkeypatch, where: str, ts: list, words: str
) -> None:  # noqa: ANN001
    evidence = awkward()
    evidence.series[:] = [evidence.series[0], series("x", ts, [1, 2, 3], service=where)]
    if ts[1] > 1e11:  # past year 9999: serialize could not write it, a forger could
        monkeypatch.setattr("connectors.bundle.utc", lambda t: T0)
    files = bundle_files(evidence)
    message = _refusal(lambda: evidence_as_read(evidence, files))
    assert message == _refusal(lambda: evidence_from_files(files))
    assert words in message


def _rewrite(data: bytes, change) -> bytes:  # noqa: ANN001
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    change(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _set(row: int, column: int, value: str):  # noqa: ANN202
    def change(rows: list[list[str]]) -> None:
        rows[row][column] = value

    return change


#: Edits of a plain series.csv, with what a rebuild says, and whether numpy's reader reads
#: it (else the csv module does).
PLAIN_EDITS = [
    ("as-written", lambda rows: None, None, True),
    ("nan-text", _set(3, 3, "nan"), None, True),
    ("underscore", _set(3, 3, "1_000.5"), None, False),  # float() reads it, numpy does not
    ("back-in-time", lambda rows: rows.insert(4, rows[2]), "line 5: series", True),
    ("nan-then-repeat", lambda rows: (_set(2, 3, "nan")(rows), rows.insert(3, rows[2])), None, True),
    ("epoch-1e20", _set(2, 2, "1e20"), "line 3: epoch 1e20 is not", True),
    ("epoch-nan", _set(2, 2, "nan"), "line 3: epoch nan is not", True),
    ("value-text", _set(2, 3, "many"), "could not convert string to float: 'many'", False),
    ("epoch-text", _set(2, 2, "soon"), "could not convert string to float: 'soon'", False),
    ("three-columns", lambda rows: rows[2].pop(), "line 3: 3 columns, not 4", False),
    ("blank-line", lambda rows: rows.insert(2, []), "line 3: 0 columns, not 4", False),
    ("repeat-before-bad-value", lambda rows: (rows.insert(3, rows[2]), _set(5, 3, "x")(rows)), "line 4: series", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "words", "fast"), [e[1:] for e in PLAIN_EDITS], ids=[e[0] for e in PLAIN_EDITS]
)
def test_the_fast_reader_reads_series_csv_as_the_csv_module_does(change, words, fast) -> None:  # noqa: ANN001
    data = _rewrite(serialize(sample_evidence())["series.csv"], change)
    for variant in (data, data.replace(b"\n", b"\r\n")):  # CRLF: the csv module alone
        outcomes = []
        for read in (read_rows, _csv_rows):
            warnings: list[Warning] = []
            try:
                outcomes.append((usable_points(read(variant), warnings), warnings))
            except ValueError as exc:
                outcomes.append((type(exc), str(exc)))
        assert outcomes[0] == outcomes[1]
        if words is not None:
            assert words in outcomes[0][1]
    assert _plain_rows(data.replace(b"\n", b"\r\n")) is None
    assert (_plain_rows(data) is not None) == fast


def test_the_fast_reader_leaves_quoted_ids_to_the_csv_module() -> None:
    data = serialize(awkward())["series.csv"]
    assert b'"' in data and _plain_rows(data) is None
    assert usable_points(read_rows(data), []) == usable_points(_csv_rows(data), [])


def test_series_split_across_chunks_are_read_whole(monkeypatch) -> None:  # noqa: ANN001
    evidence = sample_evidence()
    data = serialize(evidence)["series.csv"]
    whole = usable_points(read_rows(data), [])
    monkeypatch.setattr("connectors.bundle_series.CHUNK_BYTES", 100)  # a line or two a chunk
    assert usable_points(read_rows(data), []) == whole
    assert whole == {s.id: (s.timestamps, s.values) for s in evidence.series}
    assert dataclasses.replace(evidence.series[0]).values == whole["error_ratio.checkout"][1]


def test_series_csv_writes_each_value_by_repr_even_when_values_repeat() -> None:
    """Repeated values are formatted once; a negative zero among zeros stays negative."""
    evidence = awkward()
    grid = [E0 + 15 * i for i in range(600)]
    evidence.series += [
        series("zeros", grid, [0.0] * 299 + [-0.0] + [0] * 300),
        series("uptime", grid, [1, 1.0, True] * 200),
        series("nan", grid, [math.nan, 0.5] * 300),
    ]
    expected = ["series_id,timestamp,epoch,value\n"]
    for s in evidence.series:
        sid = f'"{s.id}"'.replace('"b"', '""b""') if '"' in s.id else s.id
        for t, v in zip(s.timestamps, s.values):
            stamp = dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            expected.append(f"{sid},{stamp},{float(t)!r},{float(v)!r}\n")
    written = serialize(evidence)["series.csv"].decode("utf-8")
    assert written == "".join(expected)
    assert written.count(",-0.0\n") == 3  # two in signed_zero, one among the zeros


def test_the_fast_reader_tells_apart_ids_of_one_width() -> None:
    """Adjacent series whose ids differ in one byte only, first or last, or in width."""
    grid = [E0 + 15 * i for i in range(4)]
    names = ["a1", "b1", "b2", "b2x", "c2", "é2"]  # é: two bytes, as wide as "b2x"
    evidence = awkward()
    evidence.series = [series(name, grid, [i + 0.5] * 4) for i, name in enumerate(names)]
    data = serialize(evidence)["series.csv"]
    rows = _plain_rows(data)
    assert rows is not None
    points = usable_points(rows, [])
    assert points == usable_points(_csv_rows(data), [])
    assert {k: (list(t), list(v)) for k, (t, v) in points.items()} == {
        f"{n}.checkout": ([float(t) for t in grid], [i + 0.5] * 4) for i, n in enumerate(names)
    }


def test_a_build_keeps_its_own_points_when_every_one_is_usable() -> None:
    """No second copy of a build's points: the series read are the series collected, unless
    a rule changes them (a value dropped, instants cut), and the collected are never changed."""
    from connectors.bundle_checks import MAX_MAGNITUDE

    ev = awkward()
    before = {s.id: (list(s.timestamps), list(s.values)) for s in ev.series}
    read = evidence_as_read(ev, bundle_files(ev))
    assert read == evidence_from_files(bundle_files(ev))
    collected = {s.id: s for s in ev.series}
    kept = set()
    for s in read.series:
        c = collected[s.id]
        if s.timestamps is c.timestamps and s.values is c.values:
            kept.add(s.id)
        whole = len(c.values) == len(c.timestamps) > 0 and all(
            abs(v) <= MAX_MAGNITUDE for v in c.values
        )
        assert (s.id in kept) == whole, s.id
    assert len(kept) >= 3  # ints, signed_zero, baseline
    assert {s.id: (list(s.timestamps), list(s.values)) for s in ev.series}.keys() == before.keys()
    for s in ev.series:  # untouched, NaN included
        assert [repr(v) for v in s.values] == [repr(v) for v in before[s.id][1]], s.id
        assert list(s.timestamps) == before[s.id][0], s.id


def test_two_runs_of_one_series_never_grow_the_collected_points() -> None:
    """A series id met twice: its first run's columns are copied before the second is added."""
    first = series("twice", [E0, E0 + 15], [0.5, 0.25])
    second = series("twice", [E0 + 30, E0 + 45], [0.125, 1.0])
    from connectors.bundle_series import written_rows

    warnings: list[Warning] = []
    points = usable_points(written_rows([first, second]), warnings)
    ts, vs = points[first.id]
    assert list(ts) == [E0, E0 + 15, E0 + 30, E0 + 45] and list(vs) == [0.5, 0.25, 0.125, 1.0]
    assert list(first.timestamps) == [E0, E0 + 15] and list(first.values) == [0.5, 0.25]
    assert ts is not first.timestamps
