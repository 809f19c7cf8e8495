"""spot-pools-checkpointing-only: spot pools are tainted, and only checkpointing workloads may land on them.

Spot capacity is reclaimed at two minutes' notice (30 s on GCP); a workload without checkpoints loses
its progress and, for a long training run, costs more than on-demand. Per docs/conventions.md spot
pools carry ``aiinfra.dev/capacity-type=spot:NoSchedule`` and only workloads labelled
``checkpointing=true`` tolerate it.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policy._common import (
    no_schedule as _no_schedule,
    EKS_NODEGROUP, GKE_NODEPOOL, Unknown, find_keys, get, is_k8s_workload, plain, resource_policy,
)

NAME = "spot-pools-checkpointing-only"
CAPACITY_KEY = "aiinfra.dev/capacity-type"
POOL_KEY = "aiinfra.dev/pool"
SPOT_POOL_SUFFIX = "-spot"


def _is_spot_pool(resource_type: str, props: dict) -> object:
    if resource_type == EKS_NODEGROUP:
        value = get(props, "capacityType")
        return value if isinstance(value, Unknown) else str(value or "").upper() == "SPOT"
    spot = get(props, "nodeConfig", "spot")
    preemptible = get(props, "nodeConfig", "preemptible")
    for value in (spot, preemptible):
        if isinstance(value, Unknown):
            return value
    return any(v is True or str(v).lower() == "true" for v in (spot, preemptible))


def _check_pool(resource_type: str, props: dict, report_violation: ReportViolation) -> None:
    spot = _is_spot_pool(resource_type, props)
    if isinstance(spot, Unknown):
        report_violation("cannot tell during preview whether the pool is spot (capacity type is unknown)", None)
        return
    if not spot:
        return
    taints = get(props, "taints", default=[]) if resource_type == EKS_NODEGROUP \
        else get(props, "nodeConfig", "taints", default=[])
    if isinstance(taints, Unknown):
        report_violation(f"cannot verify the spot pool's taints during preview; it needs {CAPACITY_KEY}=spot:NO_SCHEDULE",
                         None)
        return
    if not any(isinstance(t, dict) and t.get("key") == CAPACITY_KEY and t.get("value") == "spot"
               and _no_schedule(t.get("effect")) for t in taints):
        report_violation(f"spot pool is not tainted {CAPACITY_KEY}=spot:NO_SCHEDULE, so workloads that cannot "
                         "checkpoint may be scheduled on it", None)


def _spot_reasons(props: dict) -> list[str]:
    """Why a workload's pods may run on spot nodes (tolerations, node selectors)."""
    reasons = []
    for tolerations in find_keys(get(props, "spec", default={}), "tolerations"):
        for toleration in tolerations if isinstance(tolerations, list) else []:
            if not isinstance(toleration, dict):
                continue
            key = toleration.get("key")
            operator = toleration.get("operator", "Equal")
            if key == CAPACITY_KEY and (operator == "Exists" or toleration.get("value") == "spot"):
                reasons.append(f"tolerates {CAPACITY_KEY}=spot")
            elif not key and operator == "Exists":
                reasons.append("tolerates every taint")
    for selector in find_keys(get(props, "spec", default={}), "nodeSelector"):
        if not isinstance(selector, dict):
            continue
        if str(selector.get(CAPACITY_KEY, "")).lower() == "spot":
            reasons.append(f"selects {CAPACITY_KEY}=spot")
        pool = selector.get(POOL_KEY)
        if isinstance(pool, str) and pool.endswith(SPOT_POOL_SUFFIX):
            reasons.append(f"selects spot pool {pool}")
    return sorted(set(reasons))


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in (EKS_NODEGROUP, GKE_NODEPOOL):
        _check_pool(args.resource_type, plain(args.props), report_violation)
        return
    if not is_k8s_workload(args.resource_type):
        return
    props = plain(args.props)
    reasons = _spot_reasons(props)
    if not reasons:
        return
    labels = get(props, "metadata", "labels", default={})
    value = get(labels, "checkpointing") if isinstance(labels, dict) else labels
    if isinstance(value, Unknown):
        report_violation(f"may run on spot nodes ({'; '.join(reasons)}) but its checkpointing label is unknown "
                         "during preview", None)
    elif value != "true":
        shown = "missing" if value is None else f"'{value}'"
        report_violation(f"may run on spot nodes ({'; '.join(reasons)}) but its 'checkpointing' label is {shown}, "
                         "not 'true'", None)


POLICY = resource_policy(
    name=NAME,
    description="Spot pools are tainted and run only workloads that checkpoint.",
    severity=Severity.MEDIUM,
    rule="docs/conventions.md 'Kubernetes placement': spot pools tainted, only checkpointing=true tolerates",
    validate=validate,
    remediation="Taint spot pools aiinfra.dev/capacity-type=spot:NO_SCHEDULE and give the spot toleration only "
                "to workloads labelled checkpointing=true (or run the workload on-demand).",
    tags=["kubernetes", "spot", "cost"],
)
