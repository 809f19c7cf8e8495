"""mandatory-labels: every labellable resource carries the labels/tags of docs/conventions.md, validly spelled."""

from __future__ import annotations

import re

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from policy._common import (
    AWS_BUCKET_TYPES, EKS_CLUSTER, EKS_NODEGROUP, GCS_BUCKET, GKE_CLUSTER, GKE_NODEPOOL, K8S_PROVIDER,
    LABEL_DATA_CLASSES, LAUNCH_TEMPLATE, Unknown, label_map, plain, provider_props, resource_policy, sovereignty,
)

NAME = "mandatory-labels"
ENVIRONMENTS = ("dev", "staging", "prod")
MANAGED_BY = "aiinfra"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
REQUIRED = ("environment", "workload", LABEL_DATA_CLASSES, "team", "cost-centre", "managed-by")

# Types that must carry labels even when the program passes none (absence is the violation).
LABELLED_TYPES = frozenset({
    *AWS_BUCKET_TYPES, EKS_CLUSTER, EKS_NODEGROUP, LAUNCH_TEMPLATE, GCS_BUCKET, GKE_CLUSTER, GKE_NODEPOOL,
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup", "aws:iam/role:Role",
    "aws:kms/key:Key",
})
# Kubernetes kinds without metadata.labels worth enforcing (helm releases, raw YAML groups).
_K8S_EXEMPT_PREFIXES = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")

CONFIG_SCHEMA = PolicyConfigSchema(properties={
    "environment": {"type": "string", "enum": list(ENVIRONMENTS),
                    "description": "the stack's environment; every 'environment' label must equal it"},
})


def _applies(resource_type: str, props: dict) -> bool:
    if resource_type in LABELLED_TYPES:
        return True
    if resource_type.startswith("kubernetes:"):
        if resource_type == K8S_PROVIDER or resource_type.startswith(_K8S_EXEMPT_PREFIXES):
            return False
        return "metadata" in props
    if resource_type.startswith("aws:"):
        return "tags" in props
    if resource_type.startswith("gcp:"):
        return "labels" in props
    return False


def _problems(values: dict, environment: str | None) -> list[str]:
    problems = []
    rules = sovereignty().rules
    for key in REQUIRED:
        if key in values:
            continue
        odd = [k for k in values if isinstance(k, str) and k.strip().lower() == key]
        if odd:
            problems.append(f"label key '{odd[0]}' must be spelled '{key}' (keys are case-sensitive)")
        else:
            problems.append(f"missing label '{key}'")
    for key in REQUIRED:
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, Unknown):
            problems.append(f"label '{key}' is unknown during preview")
            continue
        value = str(value)
        if key == "environment":
            if value not in ENVIRONMENTS:
                problems.append(f"label 'environment' is '{value}', not one of {', '.join(ENVIRONMENTS)}")
            elif environment and value != environment:
                problems.append(f"label 'environment' is '{value}' but this stack is '{environment}'")
        elif key == "managed-by":
            if value != MANAGED_BY:
                problems.append(f"label 'managed-by' is '{value}', not '{MANAGED_BY}'")
        elif key == LABEL_DATA_CLASSES:
            names = value.split("_")
            if value == "none":
                continue
            unknown = [n for n in names if n not in rules.classes]
            if unknown:
                problems.append(f"label '{LABEL_DATA_CLASSES}' names unknown data class(es) "
                                f"{', '.join(repr(n) for n in unknown)}")
            elif names != sorted(set(names)):
                problems.append(f"label '{LABEL_DATA_CLASSES}' is '{value}'; write the classes sorted and once: "
                                f"'{'_'.join(sorted(set(names)))}'")
        elif not _NAME.match(value):
            problems.append(f"label '{key}' is '{value}'; use lower-case letters, digits and '-' (max 63)")
    return problems


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = plain(args.props)
    if not _applies(args.resource_type, props):
        return
    labels = label_map(args.resource_type, props, provider_props(args.provider))
    if labels is None:
        return
    if labels.unknown is not None:
        report_violation(f"cannot verify labels during preview ({labels.unknown.path} is unknown)", None)
        return
    if not labels.present:
        report_violation(f"has no {labels.container}; required: {', '.join(REQUIRED)}", None)
        return
    environment = args.get_config().get("environment")
    for problem in _problems(labels.values, environment):
        report_violation(problem, None)


POLICY = resource_policy(
    name=NAME,
    description="Resources carry the mandatory labels (environment, workload, data-classes, team, cost-centre, managed-by).",
    severity=Severity.MEDIUM,
    rule="docs/conventions.md 'Labels and tags'; cost allocation and data-class tracking",
    validate=validate,
    remediation="Set the six labels/tags of docs/conventions.md on the resource (or via the AWS provider's "
                "default_tags / GCP provider's default_labels), lower-case keys, valid values.",
    config_schema=CONFIG_SCHEMA,
    tags=["labels", "cost", "sovereignty"],
)
