"""sovereignty-compute-location: EKS/GKE clusters and node pools run where their data classes may be processed."""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policy._common import (
    EKS_CLUSTER, EKS_NODEGROUP, GKE_CLUSTER, GKE_NODEPOOL, Unknown, aws_region, class_violations, data_classes,
    get, label_map, plain, provider_props, resource_policy, sovereignty,
)

NAME = "sovereignty-compute-location"
_CLUSTER_ID = re.compile(r"^projects/[^/]+/locations/([^/]+)/clusters/[^/]+$")
_KIND = {EKS_CLUSTER: "EKS cluster", EKS_NODEGROUP: "EKS node group",
         GKE_CLUSTER: "GKE cluster", GKE_NODEPOOL: "GKE node pool"}


def _gcp_location(resource_type: str, props: dict, provider: dict) -> tuple[object, str]:
    location = get(props, "location")
    if location:
        return location, "resource"
    if resource_type == GKE_NODEPOOL:
        cluster = get(props, "cluster")
        match = _CLUSTER_ID.match(cluster) if isinstance(cluster, str) else None
        if match:
            return match.group(1), "cluster id"
    for key in ("region", "zone"):
        value = get(provider, key)
        if value:
            return value, "provider"
    return None, "nowhere"


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = _KIND.get(args.resource_type)
    if kind is None:
        return
    context = sovereignty()
    props = plain(args.props)
    provider = provider_props(args.provider)
    classes, problem = data_classes(label_map(args.resource_type, props, provider), context.rules)
    if classes is None:
        report_violation(f"cannot check where this {kind} may process data: {problem}. "
                         "To fix: label it 'data-classes' with the classes of the workloads it runs", None)
        return
    if not classes:
        return
    cloud = "aws" if args.resource_type.startswith("aws:") else "gcp"
    if cloud == "aws":
        where_value, where = aws_region(props, provider)
    else:
        where_value, where = _gcp_location(args.resource_type, props, provider)
    if isinstance(where_value, Unknown):
        report_violation(f"cannot verify the {kind}'s location during preview ({where_value.path} is unknown) "
                         f"for data classes {', '.join(classes)}", None)
        return
    if not where_value:
        report_violation(f"the {kind}'s location is set neither on the resource nor on its provider; "
                         f"cannot verify data classes {', '.join(classes)}", None)
        return
    location = context.cloud_location(cloud, str(where_value))
    for message in class_violations(classes, location, context.rules):
        report_violation(f"{location.kind} {where_value} (set on the {where}): {message}", None)


POLICY = resource_policy(
    name=NAME,
    description="Clusters and node pools run only in jurisdictions every data class they process allows.",
    severity=Severity.CRITICAL,
    rule="policy/sovereignty.yaml data_classes.*.allowed_jurisdictions and onprem_only",
    validate=validate,
    remediation="Place the cluster or pool in an allowed region (re-run the optimizer), keep on-prem-only "
                "classes off cloud clusters, or correct the 'data-classes' label.",
    tags=["sovereignty", "compute"],
)
