"""Warnings a person can read: one line per cause in the report's language, the whole list in
findings.json, and an unknown cause shown in its own English words."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from connectors.base import CollectRequest, SourceContext
from connectors.prometheus import PrometheusSource
from pmrecon.model import Evidence
from pmrecon.report.causes import warning_lines
from tests.connectors.test_prometheus_unit import FLAPPING, replay
from tests.infra.prometheus import FakeHTTPServer
from tests.report.test_html_report import make_report
from tests.report.test_languages import data_strings, other_language_words, own_text
from tests.report_data import findings_for

SERVICES = ["checkout", "payments", "search"]
#: Five SLIs on metrics the server does not have (as when the selectors name a label the
#: series lack): every query answers an empty matrix, as Prometheus does.
SLIS = {
    "error_ratio": "rate(http_requests_total{service=$service}[5m])",
    "latency": "histogram_quantile($quantile, http_request_duration_seconds_bucket{service=$service})",
    "throughput": "rate(http_requests_total{service=$service}[5m])",
    "requests_total": "increase(http_requests_total{service=$service}[$step])",
    "requests_bad": "increase(http_requests_total{service=$service,code=~'5..'}[$step])",
    "uptime": "off",
}


def silent_evidence() -> Evidence:
    """What the Prometheus connector collects when every SLI query of 3 services is empty."""
    settings = {"services": SERVICES, "slis": SLIS, "quantiles": [0.99], "retry_backoff": 0.01}
    with FakeHTTPServer(replay()) as fake:
        source = PrometheusSource("prometheus", {"url": fake.url, **settings}, SourceContext())
        return source.collect(CollectRequest(window=FLAPPING))


def notice_lines(markdown: str) -> list[str]:
    """The notice lines at the top of the report, without quote marks or Markdown escapes."""
    head = markdown.split("\n## ", 1)[0]
    quoted = [line[2:] for line in head.splitlines() if line.startswith("> ") and line[2:]]
    return [re.sub(r"\\(.)", r"\1", line) for line in quoted]


@pytest.fixture(scope="module")
def silent() -> Evidence:
    ev = silent_evidence()
    assert [w.code for w in ev.warnings] == ["metric_missing"] * 15
    return ev


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "fr",
            "Aucune donnée : aucune série de http_requests_total, http_request_duration_seconds_bucket "
            "(services : checkout, payments, search ; SLI : error_ratio, latency_p99, throughput, "
            "requests_total, requests_bad) (15 requêtes, adressées à prometheus). Les sélecteurs des "
            "requêtes ne correspondent pas aux séries : lancez `pmrecon check`, puis réglez "
            "`service_label` (ou le preset) sur les labels de la métrique.",
        ),
        (
            "en",
            "No data: no series of http_requests_total, http_request_duration_seconds_bucket "
            "(services: checkout, payments, search; SLIs: error_ratio, latency_p99, throughput, "
            "requests_total, requests_bad) (15 queries; sources: prometheus). The queries' "
            "selectors do not match the series: run `pmrecon check`, then set `service_label` (or "
            "the preset) to the labels the metric has.",
        ),
    ],
)
def test_fifteen_empty_sli_queries_make_one_line_in_the_reports_language(
    silent: Evidence, tmp_path: Path, lang: str, expected: str
) -> None:
    out = make_report(tmp_path / lang, lang, ev=silent)
    markdown = (out / "postmortem.md").read_text(encoding="utf-8")
    lines = notice_lines(markdown)
    about_data = [line for line in lines if "http_requests_total" in line]
    assert about_data == [expected]
    assert sum("findings.json (warnings)" in line for line in lines) == 1
    if lang == "fr":
        findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
        names = data_strings(findings) | set(SERVICES) | set(SLIS) | {"findings.json"}
        names |= set(re.findall(r"\b\w+_\w+\b", expected))  # metric, SLI and setting names
        assert other_language_words(own_text("\n".join(lines), names), "fr") == []


def test_findings_json_keeps_every_warning_in_english_with_its_values(
    silent: Evidence, tmp_path: Path
) -> None:
    out = make_report(tmp_path / "fr", "fr", ev=silent)
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    empty = [w for w in findings["warnings"] if w["code"] == "metric_missing"]
    assert len(empty) == 15
    assert all(": no data: metric " in w["message"] for w in empty)
    assert {(w["params"]["service"], w["params"]["sli"]) for w in empty} == {
        (svc, sli)
        for svc in SERVICES
        for sli in ("error_ratio", "latency_p99", "throughput", "requests_total", "requests_bad")
    }
    assert {w["params"]["period"] for w in empty} == {"window"}
    saved = json.loads((out / "evidence" / "warnings.json").read_text(encoding="utf-8"))
    assert [w["params"] for w in saved] == [w["params"] for w in empty]


def test_an_unknown_cause_shows_each_english_message() -> None:
    """A third-party connector's code has no wording: its own words show, none is dropped."""
    warnings = [
        {"source": "acme", "message": "acme: quota low", "code": "acme_quota", "params": {}},
        {"source": "acme", "message": "acme: quota low", "code": "acme_quota", "params": {}},
        {"source": "acme", "message": "acme: token expires", "code": "acme_quota", "params": {}},
        {"source": "analysis", "message": "legacy", "code": "warning"},
    ]
    assert warning_lines(warnings, "fr") == [
        "Avertissement (acme) : acme: quota low",
        "Avertissement (acme) : acme: token expires",
        "Avertissement (analysis) : legacy",
    ]


def test_a_known_cause_without_the_values_it_names_falls_back_to_english() -> None:
    """A bundle written before warnings carried their values still shows every warning."""
    old = {"source": "prom", "code": "metric_missing", "message": "source 'prom': no data (q1)"}
    new = dict(old, message="source 'prom': no data (q2)", params={"metric": "up"})
    assert warning_lines([old, new], "en") == [
        "Warning (prom): source 'prom': no data (q1)",
        "Warning (prom): source 'prom': no data (q2)",
    ]


def test_one_warning_of_a_cause_and_the_analysis_lines() -> None:
    warnings = [
        {
            "source": "es",
            "message": "source 'es': server version unknown",
            "code": "version_unknown",
            "params": {"major": 8},
        },
        {
            "source": "analysis",
            "message": "3 separate incidents in the window",
            "code": "several_incidents",
            "params": {"incidents": 3},
        },
        {
            "source": "prom",
            "message": "q1 failed",
            "code": "sli_timeout",
            "params": {"kind": "timeout", "sli": "latency_p99", "service": "cart"},
        },
    ]
    assert warning_lines(warnings, "fr") == [
        "Version d'Elasticsearch inconnue : 8.x supposée (1 requête, adressée à es). "
        "Renseignez `server_major` si des requêtes échouent.",
        "3 incidents distincts dans la fenêtre : le principal est analysé, les autres sont listés. "
        "Resserrez `--from/--to` pour en analyser un autre.",
        "Échec de requêtes SLI (timeout ; SLI : latency_p99 ; services : cart) (1 requête, "
        "adressée à prom). Ces SLI manquent dans les chiffres : lancez `pmrecon check` ; en cas de "
        "délai dépassé, augmentez le timeout de la source.",
    ]


def test_many_values_are_counted_beyond_the_first_five() -> None:
    warnings = [
        {
            "source": "prom",
            "message": f"m{i}",
            "code": "no_threshold",
            "params": {"sli": f"latency_{i}"},
        }
        for i in range(7)
    ]
    (line, detail) = warning_lines(warnings, "en")
    assert line.startswith(
        "No latency threshold can be derived for latency_0, latency_1, latency_2, latency_3, "
        "latency_4 (+2) (7 queries; sources: prom)"
    )
    assert detail == "Each warning, in full: findings.json (warnings)."


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_cause_line_has_no_word_of_the_other_language(lang: str) -> None:
    """Each cause as a report line, its values taken out: the report's language only."""
    from pmrecon.wording import catalogue
    from tests.wording.test_catalogues import SAMPLES

    codes = [k.removeprefix("cause.") for k in catalogue(lang) if k.startswith("cause.")]
    values = {k: v for k, v in SAMPLES.items() if k not in ("what", "fix", "sources", "n")}
    for code in codes:
        member = {"source": "prom", "message": "x", "code": code.replace("*", "x")}
        for members in ([member], [member, member]):
            (line, *_) = warning_lines([dict(m, params=values) for m in members], lang)
            assert not line.startswith(("Warning (", "Avertissement (")), code
            data = {str(v) for v in values.values()} | {"prom"}
            found = other_language_words(own_text(line, data), lang)
            assert found == [], (code, found, line)


def test_a_warning_its_notice_already_says_adds_only_its_fix() -> None:
    """In progress at the window's start: the notice with the start time, and the fix, once."""
    from pmrecon.output import notices
    from tests.evidence_factory import Deg, Svc, T, build

    svc = Svc("api", phases=[Deg(T("2026-03-01 09:00"), T("2026-03-01 10:20"), error_ratio=0.3)])
    ev = build(T("2026-03-01 10:00"), T("2026-03-01 12:00"), [svc])
    findings = findings_for(ev, lang="fr")
    assert "ongoing_at_start" in {w["code"] for w in findings["warnings"]}
    lines = notices(findings, "fr", lambda t: "11:00", {})
    about = [line for line in lines if "déjà en cours" in line]
    assert about == [
        "Incident déjà en cours au début de la fenêtre (11:00) : le début réel peut être "
        "antérieur. Élargissez `--from` pour voir son début."
    ]
