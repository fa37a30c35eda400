"""``pmrecon init``'s log identity, decided from a mapping: the fields naming a service as the
metrics' labels do, or a comment that logs are matched by name only (issue 20). The real
servers' case is in test_init.py (one name in two namespaces, errors in prod only)."""

from __future__ import annotations

from connectors.elasticsearch.discover import FieldCaps
from pmrecon.initconfig.logs import _identity, candidate_fields
from pmrecon.initconfig.plan import SourcePlan


def caps(**types: tuple[str, ...]) -> FieldCaps:
    names = {k.replace("__", "."): v for k, v in types.items()}
    return FieldCaps(
        names, 1, {n: {t: {"aggregatable": True} for t in v} for n, v in names.items()}
    )


def decided(found: FieldCaps, conv: str, labels: list[str]) -> SourcePlan:
    plan = SourcePlan("elasticsearch")
    _identity(plan, found, conv, labels)
    return plan


def test_the_presets_namespace_field_makes_the_identity() -> None:
    plan = decided(caps(kubernetes__namespace=("keyword",)), "ecs", ["namespace", "ingress"])
    assert plan.settings == {"identity": ["namespace", "service"]}
    (why,) = plan.why["identity"]
    assert "the metrics name a service by namespace, ingress" in why
    assert "kubernetes.namespace" in why


def test_another_namespace_field_is_written_with_the_identity() -> None:
    """OTel's service.namespace where the preset's k8s one is absent; text counted on its
    keyword sub-field."""
    found = caps(
        resource__attributes__service__namespace=("text",),
        resource__attributes__service__namespace__keyword=("keyword",),
    )
    plan = decided(found, "otel", ["k8s_namespace_name", "service_name"])
    assert plan.settings == {
        "identity": ["namespace", "service"],
        "fields": {"namespace": "resource.attributes.service.namespace"},
    }


def test_every_part_is_matched_outermost_first() -> None:
    found = caps(orchestrator__cluster__name=("keyword",), kubernetes__namespace=("keyword",))
    plan = decided(found, "ecs", ["cluster", "namespace", "job"])
    assert plan.settings["identity"] == ["cluster", "namespace", "service"]


def test_without_a_field_for_a_part_the_logs_are_matched_by_name_and_it_says_so() -> None:
    # a namespace that cannot be counted (text only) is as good as none
    plan = decided(caps(kubernetes__namespace=("text",)), "ecs", ["namespace", "ingress"])
    assert plan.settings == {}
    (about,) = plan.about
    assert about.startswith("Logs are matched to services by name only")
    assert "namespace (looked for kubernetes.namespace" in about
    # a label pmrecon knows no log field for
    plan = decided(caps(kubernetes__namespace=("keyword",)), "ecs", ["team", "job"])
    assert plan.settings == {} and "no countable log field holds team" in plan.about[0]


def test_one_label_needs_no_identity() -> None:
    plan = decided(caps(kubernetes__namespace=("keyword",)), "ecs", ["job"])
    assert plan.settings == {} and plan.about == []


def test_init_asks_about_every_identity_field() -> None:
    asked = candidate_fields()
    for name in (
        "kubernetes.namespace",
        "resource.attributes.k8s.namespace.name",
        "resource.attributes.service.namespace",
        "service.environment",
        "orchestrator.cluster.name",
    ):
        assert name in asked
