"""sovereignty-workload-location: Kubernetes workloads run on a cluster where their data classes may be processed.

Which cluster a workload runs on is read from its Kubernetes provider, never from the workload's own
labels: by convention (docs/conventions.md) every Kubernetes provider sets ``clusterIdentifier`` to
name the cluster's place: ``eks-<region>``, ``gke-<project>-<region>``, a place (``aws:eu-central-1``)
or a site name such as ``hospital-dc``; regions are recognised from the catalog's regions.csv. Site kinds and jurisdictions come from this policy's ``sites`` config, which the
offline check fills from the plan (``python -m checks policy-config`` writes it for a real preview).
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from policy._common import (
    LABEL_DATA_CLASSES, Labels, Unknown, class_violations, data_classes, find_keys, get, is_k8s_workload, label_map,
    plain, provider_props, resource_policy, sovereignty,
)
from policy.sovereignty import ResolvedLocation

NAME = "sovereignty-workload-location"
_CLOUD_PLACE = re.compile(r"^(aws|gcp):([a-z0-9-]+)$")


def cloud_of_identifier(identifier: str, regions: Any) -> tuple[str, str] | None:
    """(cloud, region) named by a Kubernetes provider's clusterIdentifier, None for a site name."""
    match = _CLOUD_PLACE.match(identifier)
    if match:
        return match.group(1), match.group(2)
    if identifier.startswith("eks-") and ("aws", identifier[4:]) in regions:
        return "aws", identifier[4:]
    if identifier.startswith("gke-"):
        known = [r for (c, r) in regions if c == "gcp" and identifier.endswith(f"-{r}")]
        if known:
            return "gcp", max(known, key=len)
    return None

CONFIG_SCHEMA = PolicyConfigSchema(properties={
    "sites": {
        "type": "object",
        "description": "on-prem and edge sites by name: {kind: onprem|edge, jurisdiction: EU|US|...}",
        "additionalProperties": {
            "type": "object",
            "properties": {"kind": {"enum": ["onprem", "edge"]}, "jurisdiction": {"type": "string"}},
            "required": ["kind", "jurisdiction"],
        },
    },
})


def _workload_labels(resource_type: str, props: dict) -> Labels | None:
    """Workload labels, with the pod templates' data-classes folded in (the stricter union)."""
    labels = label_map(resource_type, props)
    if labels is None or labels.unknown is not None:
        return labels
    values = dict(labels.values)
    extra: list[str] = []
    for metadata in find_keys(get(props, "spec", default={}), "metadata"):
        nested = get(metadata, "labels")
        if isinstance(nested, dict):
            for key, value in nested.items():
                if isinstance(key, str) and key.lower() == LABEL_DATA_CLASSES and isinstance(value, str):
                    extra.append(value)
    if extra:
        own = next((v for k, v in values.items() if isinstance(k, str) and k.lower() == LABEL_DATA_CLASSES), None)
        parts = ([own] if isinstance(own, str) else []) + extra
        values = {k: v for k, v in values.items() if not (isinstance(k, str) and k.lower() == LABEL_DATA_CLASSES)}
        joined = sorted({p for part in parts for p in part.split("_") if p.strip().lower() != "none"})
        values[LABEL_DATA_CLASSES] = "_".join(joined) if joined else "none"
    return Labels(values, labels.container, labels.present or bool(extra))


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_k8s_workload(args.resource_type):
        return
    context = sovereignty()
    props = plain(args.props)
    classes, problem = data_classes(_workload_labels(args.resource_type, props), context.rules)
    if classes is None:
        report_violation(f"cannot check where this workload may process data: {problem}. "
                         "To fix: label it 'data-classes' with the classes it reads and writes", None)
        return
    if not classes:
        return
    provider = args.provider
    if provider is None or provider.name == "default" or provider.name.startswith("default_"):
        report_violation("runs with the default Kubernetes provider, so its cluster is unknown; "
                         f"cannot verify data classes {', '.join(classes)}. "
                         "To fix: create it with the explicit provider of its cluster", None)
        return
    pprops = provider_props(provider)
    place = get(pprops, "clusterIdentifier")
    if isinstance(place, Unknown):
        report_violation(f"cannot verify the cluster's place during preview (provider {provider.name}: "
                         f"clusterIdentifier is unknown) for data classes {', '.join(classes)}", None)
        return
    if not place:
        report_violation(f"provider {provider.name} does not name its cluster's place (clusterIdentifier); "
                         f"cannot verify data classes {', '.join(classes)}", None)
        return
    place = str(place)
    cloud = cloud_of_identifier(place, context.regions)
    onprem = False
    if cloud:
        location = context.cloud_location(*cloud)
    else:
        sites: dict[str, Any] = args.get_config().get("sites") or {}
        site = sites.get(place)
        if not isinstance(site, dict):
            report_violation(f"runs on site '{place}', which is not declared in this policy's 'sites' config; "
                             f"cannot verify data classes {', '.join(classes)}", None)
            return
        jurisdiction = site.get("jurisdiction")
        onprem = site.get("kind") == "onprem"
        location = ResolvedLocation(location=place, kind=str(site.get("kind")), regions=(place,),
                                    jurisdictions=frozenset({jurisdiction}) if jurisdiction else frozenset(),
                                    unresolved=() if jurisdiction else (place,))
    for message in class_violations(classes, location, context.rules, onprem=onprem):
        report_violation(f"runs on cluster '{place}': {message}", None)


POLICY = resource_policy(
    name=NAME,
    description="Kubernetes workloads run only on clusters in jurisdictions (and on-prem sites) their data classes allow.",
    severity=Severity.CRITICAL,
    rule="policy/sovereignty.yaml data_classes.*.allowed_jurisdictions and onprem_only",
    validate=validate,
    remediation="Deploy the workload with the provider of a cluster in an allowed place (re-run the optimizer) "
                "or correct its 'data-classes' label.",
    config_schema=CONFIG_SCHEMA,
    tags=["sovereignty", "kubernetes"],
)
