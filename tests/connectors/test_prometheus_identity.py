"""Service identity: label settings, readable names, selectors, splitting, alerts and analysis."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import SourceContext
from connectors.prometheus import PrometheusSource, build_alerts
from connectors.prometheus.identity import (
    ServiceId,
    group_services,
    label_names,
    parse_service,
    service_name,
)
from connectors.promql import Raw, substitute
from pmrecon.analysis.context import AnalysisContext
from pmrecon.analysis.settings import load_settings
from pmrecon.config import validate
from pmrecon.errors import ConfigError
from pmrecon.model import Alert, Evidence, SourceInfo, Window

UTC = dt.timezone.utc
WINDOW = Window(dt.datetime(2026, 1, 1, 10, tzinfo=UTC), dt.datetime(2026, 1, 1, 11, tzinfo=UTC))


def test_label_names_take_one_label_or_a_list() -> None:
    assert label_names("job", "x") == ("job",)
    assert label_names(["namespace", "ingress", "namespace"], "x") == ("namespace", "ingress")
    for bad in ("1abc", "a-b", "__name__", []):
        with pytest.raises(ConfigError, match="x:"):
            label_names(bad, "x")


def test_readable_name_and_selector() -> None:
    svc = ServiceId((("namespace", "prod"), ("ingress", "web")))
    assert svc.name == "prod/web" and svc.value == "web"
    assert svc.selector() == 'namespace="prod",ingress="web"'
    # a value is a string literal, never PromQL
    evil = ServiceId((("job", 'x"} or vector(1) or up{a="'),))
    query = substitute("sum(rate(m{$selector}[1m]))", {"selector": Raw(evil.selector())})
    assert query == 'sum(rate(m{job="x\\"} or vector(1) or up{a=\\""}[1m]))'


def test_configured_names_are_cut_one_part_per_label() -> None:
    identity = ("namespace", "ingress")
    assert parse_service("prod/web", identity) == ServiceId(
        (("namespace", "prod"), ("ingress", "web"))
    )
    assert parse_service("prod/api/v2", identity) == ServiceId(
        (("namespace", "prod"), ("ingress", "api/v2"))
    )
    assert parse_service("web", identity) is None
    # one label: the whole name is its value, slashes included (OpenTelemetry's job)
    assert parse_service("shop/checkout", ("job",)) == ServiceId((("job", "shop/checkout"),))
    assert service_name({"namespace": "prod", "ingress": "web", "x": "1"}, identity) == "prod/web"
    assert service_name({"ingress": "web"}, identity) is None


def test_a_name_in_two_namespaces_is_split_by_namespace() -> None:
    rows = [
        {"job": "web", "namespace": "prod"},
        {"job": "web", "namespace": "staging"},
        {"job": "api", "namespace": "prod"},
        {"namespace": "prod"},  # a series without the identity label names no service
    ]
    used, services, split = group_services(rows, ("job",))
    assert used == ("namespace", "job")
    assert [s.name for s in services] == ["prod/api", "prod/web", "staging/web"]
    assert split == {"web": {"namespace": ["prod", "staging"]}}


def test_no_split_when_the_identity_already_separates() -> None:
    rows = [
        {"ingress": "web", "namespace": "prod", "cluster": "eu"},
        {"ingress": "web", "namespace": "staging", "cluster": "eu"},
    ]
    used, services, split = group_services(rows, ("namespace", "ingress"))
    assert used == ("namespace", "ingress") and not split
    assert [s.name for s in services] == ["prod/web", "staging/web"]


def test_split_by_cluster_and_namespace_outermost_first() -> None:
    rows = [
        {"app": "web", "cluster": "eu", "namespace": "prod"},
        {"app": "web", "cluster": "us", "namespace": "shop"},
    ]
    used, services, _ = group_services(rows, ("app",))
    assert used == ("cluster", "namespace", "app")
    assert [s.name for s in services] == ["eu/prod/web", "us/shop/web"]


def test_opentelemetry_resource_labels_separate_too() -> None:
    rows = [
        {"service_name": "checkout", "service_namespace": "shop", "job": "shop/checkout"},
        {"service_name": "checkout", "service_namespace": "billing", "job": "billing/checkout"},
    ]
    used, services, _ = group_services(rows, ("service_name",))
    assert used == ("service_namespace", "service_name")
    assert [s.name for s in services] == ["billing/checkout", "shop/checkout"]


def test_alerts_are_kept_by_readable_name() -> None:
    t0 = WINDOW.start.timestamp()
    samples = {t0 + 60 * i: 1.0 for i in range(5)}

    def labels(ns: str) -> tuple[tuple[str, str], ...]:
        return (
            ("alertname", "HighErrorRate"),
            ("alertstate", "firing"),
            ("ingress", "web"),
            ("namespace", ns),
        )

    raw = {labels("prod"): samples, labels("staging"): samples}
    kept = build_alerts(
        raw, {}, WINDOW, services=("prod/web",), service_label=("namespace", "ingress")
    )
    assert [a.labels["namespace"] for a in kept] == ["prod"]
    assert len(build_alerts(raw, {}, WINDOW, service_label=["namespace", "ingress"])) == 2


def test_analysis_names_an_alert_like_its_source_names_services() -> None:
    def ctx(label: object) -> AnalysisContext:
        source = SourceInfo("prom", "prometheus", settings={"service_label": label})
        return AnalysisContext.of(
            Evidence(window=WINDOW, sources=[source]), load_settings(None)[0], "en"
        )

    alert = Alert("HighErrorRate", {"namespace": "prod", "ingress": "web", "job": "nginx"})
    alert.source = "prom"
    assert ctx(["namespace", "ingress"]).alert_service(alert) == "prod/web"
    assert ctx("ingress").alert_service(alert) == "web"
    # an identity the alert does not carry: its own service/app/application/job label
    assert ctx(["namespace", "service"]).alert_service(alert) == "nginx"
    assert ctx(None).alert_service(alert) == "nginx"


def test_settings_accept_a_label_or_a_list_and_check_label_names() -> None:
    def source(**settings: object) -> PrometheusSource:
        checked = validate({"sources": {"p": {"type": "prometheus", **settings}}})
        return PrometheusSource("p", checked["sources"]["p"], SourceContext())

    assert source(service_label="job").service_labels == ("job",)
    assert source(preset="ingress_nginx").service_labels == ("namespace", "ingress")
    assert source(preset="ingress_nginx").status_label == "status"
    assert source(service_label=["env", "app"], status_label="rc").status_label == "rc"
    with pytest.raises(ConfigError, match=r"sources\.p\.status_label: 'http status'"):
        source(status_label="http status")
    with pytest.raises(ConfigError, match=r"sources\.p\.service_label") as both:
        source(service_label=["ok", "not-ok"], status_label="1x")
    assert "sources.p.status_label: '1x'" in str(both.value)
