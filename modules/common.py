"""Shared vocabulary of the components: labels, pool names, taints and accelerator kinds (docs/conventions.md).

Not a component: plain, side-effect-free helpers so every component spells a label, a pool name or a
taint exactly the same way the policy pack expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = [
    "CAPACITY_LABEL",
    "MANAGED_BY",
    "POOL_LABEL",
    "AcceleratorKind",
    "Labels",
    "NodePoolSpec",
    "Taint",
    "TpuSlice",
    "accelerator_kind",
    "accelerator_resource",
    "pool_name",
    "slug",
    "tpu_slice",
]

MANAGED_BY = "aiinfra"
POOL_LABEL = "aiinfra.dev/pool"
CAPACITY_LABEL = "aiinfra.dev/capacity-type"
AcceleratorKind = Literal["nvidia", "neuron", "tpu"]

_NEURON = ("inferentia", "trainium")


@dataclass(frozen=True)
class Labels:
    """The policy labels of one resource (conventions: Labels and tags)."""

    environment: str
    """dev, staging or prod: policies and cost reports split by it."""
    workload: str = "shared"
    """workload name, or ``shared`` for infrastructure several workloads use."""
    data_classes: tuple[str, ...] = ()
    """data classes stored or processed; sovereignty policies read them. Empty means ``none``."""
    team: str = "platform"
    """owning team (chargeback, on-call)."""
    cost_centre: str = "platform"
    """finance cost centre (chargeback)."""

    def as_dict(self) -> dict[str, str]:
        """Plain keys valid as Kubernetes labels, AWS tags and GCP labels alike."""
        return {
            "environment": self.environment,
            "workload": self.workload,
            "data-classes": "_".join(sorted(set(self.data_classes))) or "none",
            "team": self.team,
            "cost-centre": self.cost_centre,
            "managed-by": MANAGED_BY,
        }

    def with_data_classes(self, *classes: str) -> "Labels":
        return replace(self, data_classes=tuple(sorted(set(self.data_classes) | set(classes))))


@dataclass(frozen=True)
class Taint:
    """A Kubernetes taint; ``effect`` in Kubernetes spelling (NoSchedule)."""

    key: str
    value: str
    effect: str = "NoSchedule"

    def toleration(self) -> dict[str, str]:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


ACCELERATOR_TAINTS: dict[str, Taint] = {
    "nvidia": Taint("nvidia.com/gpu", "present"),
    "neuron": Taint("aws.amazon.com/neuron", "present"),
    "tpu": Taint("google.com/tpu", "present"),
}
SPOT_TAINT = Taint(CAPACITY_LABEL, "spot")


def accelerator_kind(accelerator: str | None) -> AcceleratorKind | None:
    """nvidia / neuron / tpu for a catalog accelerator name (A100, Inferentia2, tpu-v5p), None for CPU."""
    if not accelerator:
        return None
    lower = accelerator.lower()
    if lower.startswith("tpu"):
        return "tpu"
    if lower.startswith(_NEURON):
        return "neuron"
    return "nvidia"


def accelerator_resource(kind: AcceleratorKind | None) -> str | None:
    """The extended resource a pod requests for this accelerator kind."""
    return {"nvidia": "nvidia.com/gpu", "neuron": "aws.amazon.com/neuron", "tpu": "google.com/tpu"}.get(kind or "")


def pool_name(instance_type: str, purchase: str) -> str:
    """``<instance-type-with-dots-as-dashes>-<spot|od>``; owned (on-prem/edge) capacity has no suffix."""
    base = instance_type.replace(".", "-").lower()
    if purchase == "owned":
        return base
    return f"{base}-{'spot' if purchase == 'spot' else 'od'}"


def slug(text: str) -> str:
    """A place or name as a resource-name fragment: ``aws:eu-west-1`` -> ``aws-eu-west-1``."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class TpuSlice:
    """A GKE TPU slice: machine type, topology and VMs per slice."""

    version: str
    """v4, v5p, v5litepod or v6e."""
    chips: int
    accelerator_label: str
    """value of cloud.google.com/gke-tpu-accelerator."""
    machine_type: str
    topology: str
    vms: int
    """VMs per slice; > 1 means a multi-host slice (COMPACT placement, atomic scaling)."""

    @property
    def multi_host(self) -> bool:
        return self.vms > 1


_TPU_NAME = re.compile(r"^tpu-(v4|v5p|v5litepod|v6e)-(\d+)$")
# chips -> topology, per TPU generation (https://cloud.google.com/kubernetes-engine/docs/concepts/plan-tpus).
_TOPOLOGY_3D = {4: "2x2x1", 8: "2x2x2", 16: "2x2x4", 32: "2x4x4", 64: "4x4x4", 128: "4x4x8", 256: "4x8x8",
                512: "8x8x8"}
_TOPOLOGY_2D = {1: "1x1", 4: "2x2", 8: "2x4", 16: "4x4", 32: "4x8", 64: "8x8", 128: "8x16", 256: "16x16"}


def tpu_slice(instance_type: str) -> TpuSlice:
    """Machine type, topology and VM count of a catalog TPU slice name (tpu-v5p-8 = 8 TensorCores = 4 chips).

    Raises ValueError for names GKE cannot provision as a node pool (v2/v3, odd sizes).
    """
    match = _TPU_NAME.match(instance_type)
    if not match:
        raise ValueError(f"'{instance_type}' is not a GKE TPU slice. To fix: plan v4, v5p, v5litepod or v6e slices")
    version, size = match.group(1), int(match.group(2))
    chips = size if version in ("v5litepod", "v6e") else size // 2
    if version in ("v4", "v5p"):
        topology = _TOPOLOGY_3D.get(chips)
        machine, per_vm = ("ct4p-hightpu-4t" if version == "v4" else "ct5p-hightpu-4t"), 4
        label = "tpu-v4-podslice" if version == "v4" else "tpu-v5p-slice"
    else:
        topology = _TOPOLOGY_2D.get(chips)
        prefix = "ct5lp-hightpu" if version == "v5litepod" else "ct6e-standard"
        label = "tpu-v5-lite-podslice" if version == "v5litepod" else "tpu-v6e-slice"
        # single-host slices use a VM with all chips (1t, 4t, 8t); larger slices are built from 4-chip VMs
        per_vm = chips if chips in (1, 4, 8) else 4
        machine = f"{prefix}-{per_vm}t"
    if topology is None:
        raise ValueError(f"'{instance_type}' ({chips} chips) has no GKE topology. To fix: plan a standard slice size")
    return TpuSlice(version=version, chips=chips, accelerator_label=label, machine_type=machine,
                    topology=topology, vms=max(chips // per_vm, 1))


@dataclass(frozen=True)
class NodePoolSpec:
    """One managed node pool, derived from the plan: one per (place, instance type, purchase option)."""

    name: str
    """pool name per conventions; also the value of the aiinfra.dev/pool node label."""
    instance_type: str
    """EC2 / GCE machine type, or a TPU slice name (tpu-v5p-8)."""
    purchase: Literal["spot", "on_demand"]
    """capacity type: spot pools get the spot taint."""
    accelerator: str | None
    """catalog accelerator name (A100, Inferentia2, tpu-v5p) or None for CPU pools."""
    accelerators_per_node: int
    """devices per node (TPU: chips per slice)."""
    min_nodes: int
    """lower autoscaling bound (0 lets batch pools scale away when idle)."""
    desired_nodes: int
    """nodes the plan sized (inference replicas run at once)."""
    max_nodes: int
    """upper autoscaling bound: the plan's node count plus the stack's headroom."""
    workloads: tuple[str, ...] = field(default=())
    """workloads planned onto the pool (for the labels and the preview)."""

    @property
    def kind(self) -> AcceleratorKind | None:
        return accelerator_kind(self.accelerator)

    @property
    def taints(self) -> tuple[Taint, ...]:
        taints: list[Taint] = []
        if self.kind:
            taints.append(ACCELERATOR_TAINTS[self.kind])
        if self.purchase == "spot":
            taints.append(SPOT_TAINT)
        return tuple(taints)

    @property
    def node_labels(self) -> dict[str, str]:
        return {POOL_LABEL: self.name, CAPACITY_LABEL: "spot" if self.purchase == "spot" else "on-demand"}
