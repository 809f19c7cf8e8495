"""Strict assertion helpers over recorded mock registrations.

Every helper reads the inputs the engine would receive (camelCase) *after* the run finished, and a
missing key is a failure, never a skip: a snake_case path or an input dropped because an upstream
output was unknown cannot make an assertion pass. tests/deploy/test_traps.py feeds deliberately
wrong resources through each helper to prove it can fail.
"""

from __future__ import annotations

from typing import Any, Iterable

from pulumi.output import Unknown

from deploy.preview import RegisteredResource

_MISSING = object()


def get(resource: RegisteredResource, path: str) -> Any:
    """Input at a dotted path (``scalingConfig.minSize``, ``taints.0.key``); AssertionError when absent."""
    value: Any = resource.inputs
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise AssertionError(f"{resource.type} {resource.name}: no input at '{path}' "
                                 f"(top-level keys: {sorted(resource.inputs)})")
        if isinstance(value, Unknown):
            raise AssertionError(f"{resource.type} {resource.name}: input '{path}' is unknown (preview mode)")
    return value


def find(resources: Iterable[RegisteredResource], type_: str, name: str | None = None) -> RegisteredResource:
    """The one resource of a type (and name); AssertionError if none or several."""
    matches = [r for r in resources if r.type == type_ and (name is None or r.name == name)]
    if len(matches) != 1:
        raise AssertionError(f"expected one {type_} {name or ''}, found {[m.name for m in matches]}")
    return matches[0]


def all_of(resources: Iterable[RegisteredResource], type_: str) -> list[RegisteredResource]:
    found = [r for r in resources if r.type == type_]
    if not found:
        raise AssertionError(f"no {type_} registered")
    return found


def assert_explicit_provider(resource: RegisteredResource, provider_urn: str | None = None) -> None:
    """The resource names an explicit provider (and, if given, exactly that one)."""
    if not resource.provider:
        raise AssertionError(f"{resource.type} {resource.name} uses the default provider")
    if provider_urn is not None and resource.provider_urn != provider_urn:
        raise AssertionError(f"{resource.type} {resource.name} uses {resource.provider_urn}, expected {provider_urn}")


def assert_tolerates_exactly(pod_spec: dict[str, Any], taints: set[tuple[str, str]]) -> None:
    """The pod tolerates exactly these (key, value) NoSchedule taints."""
    tolerations = {(t["key"], t["value"]) for t in pod_spec.get("tolerations") or []
                   if t.get("effect") == "NoSchedule" and t.get("operator") == "Equal"}
    if tolerations != taints:
        raise AssertionError(f"tolerations {sorted(tolerations)} != expected {sorted(taints)}")


def assert_selects_pool(pod_spec: dict[str, Any], pool: str) -> None:
    selector = pod_spec.get("nodeSelector") or {}
    if selector.get("aiinfra.dev/pool") != pool:
        raise AssertionError(f"nodeSelector {selector} does not select pool {pool}")


def assert_labels(labels: dict[str, str] | None, **expected: str) -> None:
    """The six policy labels are present, and the named ones have the expected values."""
    required = {"environment", "workload", "data-classes", "team", "cost-centre", "managed-by"}
    labels = labels or {}
    missing = required - set(labels)
    if missing:
        raise AssertionError(f"labels {labels} miss {sorted(missing)}")
    for key, value in expected.items():
        key = key.replace("_", "-")
        if labels.get(key) != value:
            raise AssertionError(f"label {key}={labels.get(key)!r}, expected {value!r}")


def pod_specs(resource: RegisteredResource) -> list[dict[str, Any]]:
    """Every pod spec a workload object carries (Deployment, CronJob, TrainJob patch, PyTorchJob, KServe)."""
    spec = resource.inputs.get("spec") or {}
    kind = resource.inputs.get("kind")
    if kind == "Deployment":
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if kind == "TrainJob":
        return [job["template"]["spec"]["template"]["spec"]
                for patch in spec["runtimePatches"]
                for job in patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]]
    if kind == "PyTorchJob":
        return [replica["template"]["spec"] for replica in spec["pytorchReplicaSpecs"].values()]
    if kind == "InferenceService":
        return [spec["predictor"]]
    raise AssertionError(f"{resource.type} {resource.name} is not a workload object")


WORKLOAD_KINDS = {"Deployment", "CronJob", "TrainJob", "PyTorchJob", "InferenceService"}
