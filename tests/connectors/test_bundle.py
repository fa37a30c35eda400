import datetime as dt
import json

import pytest

from connectors.bundle import bundle_files, read_bundle, write_bundle
from pmrecon.errors import EvidenceError
from pmrecon.model import (
    Alert,
    ErrorSignature,
    Event,
    Evidence,
    Histogram,
    Interval,
    LogSample,
    LogSummary,
    QueryRecord,
    Series,
    SourceInfo,
    Warning,
    Window,
    to_jsonable,
)
from tests import schemacheck

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 10, tzinfo=UTC)


def sample_evidence() -> Evidence:
    ts = [T0.timestamp() + 15 * i for i in range(40)]
    return Evidence(
        window=Window(T0, T0 + dt.timedelta(minutes=10)),
        baseline=Window(T0 - dt.timedelta(minutes=10), T0),
        alerts=[
            Alert(
                name="HighErrorRate",
                labels={
                    "alertname": "HighErrorRate",
                    "service": "checkout",
                    "note": 'quote " and | pipe',
                },
                severity="critical",
                active_at=T0 + dt.timedelta(seconds=45),
                pending=[Interval(T0 + dt.timedelta(seconds=45), T0 + dt.timedelta(seconds=105))],
                firing=[
                    Interval(
                        T0 + dt.timedelta(seconds=105),
                        T0 + dt.timedelta(minutes=8, milliseconds=250),
                        open_end=True,
                    )
                ],
                annotations={"summary": "5xx > 5%"},
                query_ref="q1",
            )
        ],
        series=[
            Series(
                "error_ratio",
                "error_ratio",
                "checkout",
                "ratio",
                ts,
                [0.1 / 3 + i / 7 for i in range(40)],
                15.0,
                "q2",
            ),
            Series(
                "latency_p99",
                "latency",
                "checkout",
                "seconds",
                ts,
                [0.25] * 40,
                15.0,
                "q3",
                quantile=0.99,
                baseline=True,
            ),
        ],
        logs=LogSummary(
            volume_by_level=Histogram(60, [T0.timestamp()], {"error": [3], "info": [100]}, "q4"),
            errors_by_service=Histogram(60, [T0.timestamp()], {"checkout": [3]}, "q5"),
            signatures=[
                ErrorSignature(
                    "TimeoutError: upstream after <n>ms",
                    3,
                    T0,
                    T0 + dt.timedelta(seconds=30),
                    ["checkout"],
                    True,
                )
            ],
            samples=[
                LogSample(
                    T0,
                    "error",
                    "checkout",
                    "<script>alert(1)</script> `x` | y",
                    {"trace.id": "abc"},
                    "first_error",
                )
            ],
            impacted_users=42,
            total_documents=103,
            error_documents=3,
        ),
        events=[
            Event(
                T0 + dt.timedelta(minutes=5),
                "rollback",
                "elasticsearch",
                "rollback checkout v1.2.3",
            )
        ],
        sources=[
            SourceInfo(
                "prom",
                "prometheus",
                "http://127.0.0.1:9090",
                "2.42.0",
                {"scrape_interval": 15},
                [
                    QueryRecord(
                        "q2",
                        "prom",
                        "error_ratio checkout",
                        'sum(rate(x{service="checkout"}[1m]))',
                        T0,
                        T0,
                        15.0,
                    )
                ],
            )
        ],
        warnings=[Warning("prom", "3 NaN samples ignored", "nan")],
        pmrecon_version="0.1.0",
    )


def test_round_trip_is_exact(tmp_path):
    ev = sample_evidence()
    write_bundle(ev, tmp_path / "evidence")
    back = read_bundle(tmp_path / "evidence")
    assert to_jsonable(back) == to_jsonable(ev)
    assert back.series[0].values == ev.series[0].values  # floats survive exactly


def test_files_are_plain_and_documented(tmp_path):
    write_bundle(sample_evidence(), tmp_path / "evidence")
    names = sorted(p.name for p in (tmp_path / "evidence").iterdir())
    assert names == sorted(
        [
            "README.txt",
            "alerts.json",
            "events.json",
            "logs.json",
            "manifest.json",
            "samples.ndjson",
            "series.csv",
            "series.json",
            "sources.json",
            "warnings.json",
        ]
    )
    manifest = json.loads((tmp_path / "evidence" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and len(manifest["files"]) == 9
    assert (
        (tmp_path / "evidence" / "series.csv")
        .read_text()
        .startswith("series_id,timestamp,epoch,value\n")
    )


def test_bundle_is_deterministic():
    assert bundle_files(sample_evidence()) == bundle_files(sample_evidence())


@pytest.mark.parametrize("victim", ["alerts.json", "series.csv", "samples.ndjson"])
def test_tampered_file_is_refused(tmp_path, victim):
    write_bundle(sample_evidence(), tmp_path / "evidence")
    path = tmp_path / "evidence" / victim
    path.write_bytes(path.read_bytes().replace(b"checkout", b"checkoot", 1))
    with pytest.raises(EvidenceError, match=f"{victim} does not match its SHA-256"):
        read_bundle(tmp_path / "evidence")


def test_missing_file_manifest_and_newer_schema(tmp_path):
    target = tmp_path / "evidence"
    write_bundle(sample_evidence(), target)
    (target / "alerts.json").unlink()
    with pytest.raises(EvidenceError, match="missing"):
        read_bundle(target)
    (target / "manifest.json").unlink()
    with pytest.raises(EvidenceError, match="not an evidence bundle"):
        read_bundle(target)
    write_bundle(sample_evidence(), target)
    m = json.loads((target / "manifest.json").read_text())
    m["schema_version"] = 99
    (target / "manifest.json").write_text(json.dumps(m))
    schemacheck.exempt(target / "manifest.json")  # a newer pmrecon's bundle, by hand
    with pytest.raises(EvidenceError, match="upgrade pmrecon"):
        read_bundle(target)
    with pytest.raises(EvidenceError, match="does not exist"):
        read_bundle(tmp_path / "nowhere")


def test_rewrite_replaces_the_old_bundle_whole(tmp_path):
    target = tmp_path / "evidence"
    write_bundle(sample_evidence(), target)
    (target / "stray.txt").write_text("x")
    write_bundle(sample_evidence(), target)
    assert not (target / "stray.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["evidence"]


def test_a_failed_rewrite_keeps_the_old_bundle(tmp_path, monkeypatch):
    from pathlib import Path

    target = tmp_path / "evidence"
    write_bundle(sample_evidence(), target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    real = Path.rename

    def rename(self, dest):
        staged = self.name.startswith(".evidence-") and "-old-" not in self.name
        if staged and Path(dest).name == "evidence":
            raise OSError(28, "No space left on device")
        return real(self, dest)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError):
        write_bundle(sample_evidence(), target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["evidence"]
