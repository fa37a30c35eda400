"""Regenerate the demo incident shipped with pmrecon, from REAL servers.

The bundle in ``pmrecon/demo_data/evidence`` is what ``pmrecon demo`` builds from. It is
produced the way a user's build produces one: a scenario's metrics are backfilled into a
real Prometheus, its logs bulk-loaded into a real Elasticsearch, and ``pmrecon build``
collects them through the connectors. Run it after changing a connector or the model:

    .venv/bin/python scripts/make_demo_bundle.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.infra.es import ElasticsearchNode, bulk_load, make_client, pinned_version  # noqa: E402
from tests.infra.prometheus import PrometheusServer, backfill  # noqa: E402
from tests.scenarios import (  # noqa: E402
    AlertSpec,
    ChangeEvent,
    LogSignature,
    Phase,
    Scenario,
    ServiceProfile,
    rules_yaml,
    t,
)

TARGET = ROOT / "pmrecon" / "demo_data" / "evidence"
INDEX = "logs-shop-2026.02.17"
KEYWORD = {"type": "keyword"}
MAPPING = {
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
        },
        "log": {"properties": {"level": KEYWORD}},
        "service": {"properties": {"name": KEYWORD}},
        "host": {"properties": {"name": KEYWORD}},
        "trace": {"properties": {"id": KEYWORD}},
        "user": {"properties": {"id": KEYWORD}},
        "event": {"properties": {"category": KEYWORD, "action": KEYWORD}},
        "error": {"properties": {"type": KEYWORD, "message": {"type": "text"}}},
        "tags": KEYWORD,
    }
}


def demo_scenario() -> Scenario:
    """A payments deploy slows the payment gateway; checkout fails; a rollback fixes it."""
    start, end = t("2026-02-17 13:30"), t("2026-02-17 15:30")
    bad = (t("2026-02-17 14:05"), t("2026-02-17 14:47"))
    return Scenario(
        "demo",
        start,
        end,
        services=[
            ServiceProfile(
                "payments", rps=25, phases=(Phase(*bad, error_ratio=0.12, latency_seconds=2.2),)
            ),
            ServiceProfile(
                "checkout", rps=40, phases=(Phase(*bad, error_ratio=0.31, latency_seconds=0.9),)
            ),
            ServiceProfile("cart", rps=15),
        ],
        alerts=[
            AlertSpec(
                "PaymentsHighLatency",
                "payments",
                ((t("2026-02-17 14:06"), t("2026-02-17 14:48")),),
                for_seconds=120,
                severity="warning",
                summary="p99 latency of {{ $labels.service }} above 1s",
                description="Payment gateway calls are slow.",
                runbook_url="https://runbooks.example.com/payments-latency",
            ),
            AlertSpec(
                "CheckoutHighErrorRate",
                "checkout",
                ((t("2026-02-17 14:07"), t("2026-02-17 14:48")),),
                summary="More than 5% of checkout requests fail",
                runbook_url="https://runbooks.example.com/checkout-errors",
            ),
        ],
        log_signatures=[
            LogSignature(
                "gw-timeout",
                "checkout",
                "Payment gateway timed out after {n}ms for order {uuid} (customer jane.doe@example.com)",
                error_type="GatewayTimeoutError",
                per_failures=40,
            ),
            LogSignature(
                "tls-handshake",
                "payments",
                "TLS handshake with acquirer 10.20.3.{n} failed: certificate chain too long",
                error_type="SSLHandshakeError",
                per_failures=25,
            ),
            LogSignature(
                "legacy",
                "cart",
                "Legacy endpoint /v1/cart called by client {hex} ({n} calls today)",
                error_type="DeprecatedApiError",
                mode="periodic",
                every_seconds=420,
            ),
            LogSignature(
                "slow-cache",
                "checkout",
                "Cache lookup took {n}ms for key session:{uuid}",
                level="warn",
                mode="periodic",
                every_seconds=600,
            ),
        ],
        change_events=[
            ChangeEvent(t("2026-02-17 14:02"), "payments", "deploy", "3.2.0"),
            ChangeEvent(t("2026-02-17 14:41"), "payments", "rollback", "3.1.4", actor="alice"),
        ],
        mitigation=t("2026-02-17 14:41"),
        description="payments 3.2.0 slows the gateway; checkout fails; rollback at 14:41",
    )


def main() -> int:
    from pmrecon.api import BuildRequest, build
    from pmrecon.config import Config, validate
    from pmrecon.model import Window

    sc = demo_scenario()
    work = Path(tempfile.mkdtemp(prefix="pmrecon-demo-"))
    try:
        backfill([sc], work / "tsdb", work / "om")
        with (
            PrometheusServer(work / "prom", work / "tsdb", rules=rules_yaml([sc])) as prom,
            ElasticsearchNode(pinned_version(9)) as es,
        ):
            client = make_client(es.url, es.major)
            client.indices.create(index=INDEX, mappings=MAPPING)
            bulk_load(es.url, INDEX, sc.log_docs(), major=es.major)
            data = validate(
                {
                    "timezone": "Europe/Paris",
                    "language": "fr",
                    "sources": {
                        "prometheus": {
                            "type": "prometheus",
                            "url": prom.url,
                            "services": ["checkout", "payments", "cart"],
                        },
                        "elasticsearch": {
                            "type": "elasticsearch",
                            "hosts": [es.url],
                            "index": "logs-*",
                        },
                    },
                }
            )
            result = build(
                Config(data=data),
                BuildRequest(window=Window(*sc.window), out=work / "out", png=False),
            )
            if result.degraded:
                print("a source failed while building the demo:", result.warnings, file=sys.stderr)
                return 1
        if TARGET.exists():
            shutil.rmtree(TARGET)
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(work / "out" / "evidence", TARGET)
        print(f"demo bundle written to {TARGET.relative_to(ROOT)}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
