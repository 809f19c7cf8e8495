"""Shared helpers of the policy pack: unknown-safe property reads, labels, places, metadata.

Every policy reads resource properties through :func:`plain`, which turns the engine's
``unknown_checking_proxy`` into plain Python values with :class:`Unknown` markers where a value
cannot be known during preview. Policies then report an explicit violation for an unknown value
they need ("cannot verify ... during preview") instead of letting ``UnknownValueError`` escape,
which the engine would downgrade to an advisory note: an unknown is never a silent pass.

Depends on the standard library, ``pulumi_policy`` and :mod:`policy.sovereignty` only, so the pack
runs from inside ``policy/`` with its own virtualenv.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from policy.sovereignty import (
    ResolvedLocation,
    SovereigntyRules,
    default_regions_csv,
    load_region_jurisdictions,
    load_rules,
    resolve_cloud_region,
)

__all__ = [
    "AWS_BUCKET_TYPES", "EKS_CLUSTER", "EKS_NODEGROUP", "GCS_BUCKET", "GKE_CLUSTER", "GKE_NODEPOOL",
    "LAUNCH_TEMPLATE", "K8S_PROVIDER", "LABEL_DATA_CLASSES", "Unknown", "Labels", "Sovereignty",
    "aws_region", "data_classes", "find_keys", "is_k8s_workload", "label_map", "plain",
    "provider_props", "resource_policy", "sovereignty", "stack_policy", "class_violations",
]

AWS_BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
GCS_BUCKET = "gcp:storage/bucket:Bucket"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODEGROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODEPOOL = "gcp:container/nodePool:NodePool"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
K8S_PROVIDER = "pulumi:providers:kubernetes"
LABEL_DATA_CLASSES = "data-classes"
FRAMEWORK = "aiinfra policy pack"

# Kubernetes kinds that run pods (built-in workloads and the training/serving CRDs we deploy).
WORKLOAD_KINDS = frozenset({
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
    "TrainJob", "PyTorchJob", "InferenceService", "JobSet",
})

_UNKNOWN_SENTINELS = frozenset({
    UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE,
})


@dataclass(frozen=True)
class Unknown:
    """A property value that cannot be known during preview."""

    path: str

    def __str__(self) -> str:
        return f"<unknown {self.path}>"


def plain(value: Any, path: str = "") -> Any:
    """Plain dicts/lists from (possibly proxied) props, with :class:`Unknown` for unknown values."""
    if isinstance(value, str):
        return Unknown(path or ".") if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in list(value):
            if key == "__target":
                continue
            sub = f"{path}.{key}" if path else str(key)
            try:
                result[key] = plain(value[key], sub)
            except UnknownValueError:
                result[key] = Unknown(sub)
        return result
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = []
        for index in range(len(value)):
            sub = f"{path}[{index}]"
            try:
                items.append(plain(value[index], sub))
            except UnknownValueError:
                items.append(Unknown(sub))
        return items
    return value


def get(props: Any, *path: str, default: Any = None) -> Any:
    """props[a][b]... on plain values; ``default`` when missing, the Unknown when one is hit."""
    current = props
    for key in path:
        if isinstance(current, Unknown):
            return current
        if not isinstance(current, Mapping) or key not in current:
            return default
        current = current[key]
    return default if current is None else current


def provider_props(provider: Any) -> dict[str, Any]:
    """Plain props of a PolicyProviderResource (or {} when there is none)."""
    if provider is None:
        return {}
    try:
        props = provider.props
    except UnknownValueError:  # pragma: no cover - props itself is never unknown
        return {}
    result = plain(props) if props is not None else {}
    return result if isinstance(result, dict) else {}


def _maybe_json(value: Any) -> Any:
    """Provider inputs of nested objects arrive JSON-encoded as strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def find_keys(value: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a nested structure (pod specs in CRDs)."""
    found: list[Any] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == key:
                found.append(v)
            found.extend(find_keys(v, key))
    elif isinstance(value, list):
        for item in value:
            found.extend(find_keys(item, key))
    return found


# --- labels -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Labels:
    """The labels/tags a resource ends up with, and where they were read from."""

    values: dict[str, Any]  # may contain Unknown values
    container: str          # e.g. "tags", "labels", "metadata.labels"
    present: bool           # False when the resource has no label container at all
    unknown: Optional[Unknown] = None  # the whole container is unknown


def _label_paths(resource_type: str) -> tuple[tuple[str, ...], ...] | None:
    if resource_type.startswith("aws:"):
        return (("tags",),)
    if resource_type == GCS_BUCKET:
        return (("labels",),)
    if resource_type == GKE_CLUSTER:
        return (("resourceLabels",),)
    if resource_type == GKE_NODEPOOL:
        return (("nodeConfig", "resourceLabels"), ("nodeConfig", "labels"))
    if resource_type.startswith("gcp:"):
        return (("labels",),)
    if resource_type.startswith("kubernetes:") and resource_type != K8S_PROVIDER:
        return (("metadata", "labels"),)
    return None


def label_map(resource_type: str, props: Mapping[str, Any],
              provider: Mapping[str, Any] | None = None) -> Labels | None:
    """Labels of a resource merged over its provider's default tags/labels; None if not labellable."""
    paths = _label_paths(resource_type)
    if paths is None:
        return None
    merged: dict[str, Any] = {}
    provider = provider or {}
    if resource_type.startswith("aws:"):
        defaults = _maybe_json(provider.get("defaultTags"))
        tags = get(defaults, "tags") if isinstance(defaults, Mapping) else None
        if isinstance(tags, Mapping):
            merged.update(tags)
    elif resource_type.startswith("gcp:"):
        defaults = _maybe_json(provider.get("defaultLabels"))
        if isinstance(defaults, Mapping):
            merged.update(defaults)
    present = bool(merged)
    for path in paths:
        found = get(props, *path)
        if isinstance(found, Unknown):
            return Labels(merged, ".".join(path), True, unknown=found)
        if isinstance(found, Mapping):
            present = True
            merged.update(found)
    return Labels(merged, ".".join(paths[0]), present)


def data_classes(labels: Labels | None, rules: SovereigntyRules) -> tuple[list[str] | None, str | None]:
    """(classes, problem) from a resource's ``data-classes`` label.

    Reading is deliberately forgiving where forgiving is stricter: a key in odd case
    (``Data-Classes``) and values in odd case are still honoured here (the mandatory-labels
    policy reports the spelling), so mis-spelling a label never lifts a sovereignty check.
    """
    if labels is None:
        return None, "the resource type carries no labels"
    if labels.unknown is not None:
        return None, f"its {labels.container} are unknown during preview"
    raw = labels.values.get(LABEL_DATA_CLASSES)
    if raw is None:
        for key, value in labels.values.items():
            if isinstance(key, str) and key.strip().lower() == LABEL_DATA_CLASSES:
                raw = value
                break
    if raw is None:
        return None, f"it has no '{LABEL_DATA_CLASSES}' label"
    if isinstance(raw, Unknown):
        return None, f"its '{LABEL_DATA_CLASSES}' label is unknown during preview"
    names = [part.strip().lower() for part in str(raw).split("_")]
    if names == ["none"]:
        return [], None
    unknown = [n for n in names if n not in rules.classes]
    if unknown:
        return None, (f"its '{LABEL_DATA_CLASSES}' label names unknown data class(es) "
                      f"{', '.join(repr(n) for n in unknown)} (known: {', '.join(sorted(rules.classes))})")
    return sorted(set(names)), None


# --- sovereignty context ------------------------------------------------------------------------

@dataclass(frozen=True)
class Sovereignty:
    rules: SovereigntyRules
    regions: Mapping[tuple[str, str], str]

    def cloud_location(self, cloud: str, region: str) -> ResolvedLocation:
        return resolve_cloud_region(cloud, region, self.regions)


@functools.lru_cache(maxsize=1)
def sovereignty() -> Sovereignty:
    """Rules and region jurisdictions, read once from the files the optimizer reads."""
    return Sovereignty(load_rules(), load_region_jurisdictions(default_regions_csv()))


def class_violations(classes: list[str], location: ResolvedLocation, rules: SovereigntyRules,
                     *, onprem: bool = False) -> list[str]:
    """One message per data class that may not be held at ``location``."""
    messages = []
    for name in classes:
        rule = rules.rule(name)
        problems = []
        if location.unresolved:
            problem = rule.violation(None, onprem=onprem)
            if problem:
                problems.append(f"{problem} (no jurisdiction known for {', '.join(location.unresolved)})")
        for jurisdiction in sorted(location.jurisdictions):
            problem = rule.violation(jurisdiction, onprem=onprem)
            if problem and problem not in problems:
                problems.append(problem)
        messages.extend(problems)
    return messages


def aws_region(props: Mapping[str, Any], provider: Mapping[str, Any]) -> tuple[Any, str]:
    """(region, where) of an AWS resource: its own ``region`` input, else its provider's."""
    region = get(props, "region")
    if region:
        return region, "resource"
    region = get(provider, "region")
    if region:
        return region, "provider"
    return None, "nowhere"


def is_k8s_workload(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:") and resource_type.rsplit(":", 1)[-1] in WORKLOAD_KINDS


# --- policy construction ------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z0-9-]+[a-z0-9]$")


def _framework(rule: str) -> PolicyComplianceFramework:
    return PolicyComplianceFramework(name=FRAMEWORK, version="1", reference=rule)


def resource_policy(*, name: str, description: str, severity: Severity, rule: str,
                    validate: Callable[..., Any], remediation: str,
                    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
                    config_schema: PolicyConfigSchema | None = None,
                    tags: list[str] | None = None) -> ResourceValidationPolicy:
    assert _NAME.match(name), name
    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=enforcement_level,
        config_schema=config_schema, severity=severity, framework=_framework(rule), tags=tags or [],
        remediation_steps=remediation)


def stack_policy(*, name: str, description: str, severity: Severity, rule: str,
                 validate: Callable[..., Any], remediation: str,
                 enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
                 config_schema: PolicyConfigSchema | None = None,
                 tags: list[str] | None = None) -> StackValidationPolicy:
    assert _NAME.match(name), name
    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=enforcement_level,
        config_schema=config_schema, severity=severity, framework=_framework(rule), tags=tags or [],
        remediation_steps=remediation)


# --- stack-level helpers ------------------------------------------------------------------------

def stack_props(resource: Any) -> dict[str, Any]:
    """Plain props of a PolicyResource (stack policies)."""
    result = plain(resource.props)
    return result if isinstance(result, dict) else {}


def bucket_identifiers(resource: Any, props: Mapping[str, Any]) -> set[str]:
    """Values a companion resource may use to point at this bucket (name, id, ARN, logical name)."""
    keys = {resource.urn}
    for key in ("bucket", "id", "name", "arn", "selfLink", "url"):
        value = props.get(key)
        if isinstance(value, str) and value:
            keys.add(value)
            if key == "bucket":
                keys.add(f"arn:aws:s3:::{value}")
    if not any(isinstance(props.get(k), str) and props.get(k) for k in ("bucket", "name")):
        keys.add(resource.name)
    return keys


def references(resource: Any, props: Mapping[str, Any], prop: str, value: Any,
               targets: list[tuple[Any, dict[str, Any]]]) -> list[Any]:
    """Target resources a companion's ``prop`` (with ``value``) points at.

    Tries, in order: the engine's property dependencies, an equal identifier (name, id, ARN),
    and -- for offline runs where ids are not known -- a shared parent component holding exactly
    one target.
    """
    deps = getattr(resource, "property_dependencies", {}) or {}
    wanted = {t.urn for t, _ in targets}
    by_deps = [t for t in deps.get(prop, []) if t.urn in wanted]
    if by_deps:
        return by_deps
    if isinstance(value, str) and value:
        by_value = [t for t, tprops in targets if value in bucket_identifiers(t, tprops)]
        if by_value:
            return by_value
    parent = getattr(resource, "parent", None)
    if parent is not None:
        if parent.urn in wanted:
            return [t for t, _ in targets if t.urn == parent.urn]
        siblings = [t for t, _ in targets if t.parent is not None and t.parent.urn == parent.urn]
        if len(siblings) == 1:
            return siblings
    return []


def no_schedule(effect: Any) -> bool:
    """NO_SCHEDULE (EKS/GKE API spelling) or NoSchedule (Kubernetes spelling)."""
    return isinstance(effect, str) and effect.replace("_", "").lower() == "noschedule"


def bucket_location(resource_type: str, props: Mapping[str, Any], provider: Mapping[str, Any],
                    context: Sovereignty) -> tuple[ResolvedLocation | None, str]:
    """(location, description) of an S3 or GCS bucket; (None, why) when it cannot be determined."""
    from policy.sovereignty import resolve_gcs_location

    if resource_type in AWS_BUCKET_TYPES:
        region, where = aws_region(props, provider)
        if isinstance(region, Unknown):
            return None, f"its region is unknown during preview ({region.path})"
        if not region:
            return None, "its region is set neither on the bucket nor on its provider"
        return context.cloud_location("aws", str(region)), f"region {region} (set on the {where})"
    raw = get(props, "location")
    data_locations = get(props, "customPlacementConfig", "dataLocations", default=[])
    if isinstance(raw, Unknown) or isinstance(data_locations, Unknown) \
            or any(isinstance(d, Unknown) for d in data_locations):
        return None, "its location is unknown during preview"
    if not raw:
        return None, "it has no location"
    location = resolve_gcs_location(str(raw), context.regions, [str(d) for d in data_locations])
    return location, f"location {location.describe()}"
