"""The plan: the optimizer's output and the Pulumi program's input (one way: estate -> plan -> stack).

A plan is a frozen pydantic model written as canonical JSON (sorted keys, fixed rounding) with a
SHA-256 content hash over everything but the hash itself, so the same inputs give a byte-identical
file and any edit to a committed plan is detectable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CostBreakdown",
    "DatasetCopy",
    "InternetEgress",
    "Placement",
    "Plan",
    "PlanOutput",
    "ServingSite",
    "SolverInfo",
    "Transfer",
    "PLAN_SCHEMA_VERSION",
]

PLAN_SCHEMA_VERSION = 1
SiteKind = Literal["onprem", "edge", "cloud"]
Purchase = Literal["on_demand", "spot", "owned"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CostBreakdown(_Frozen):
    """Monthly cost in USD, split the way finance asks for it."""

    compute: float
    transfer: float
    storage: float

    @property
    def total(self) -> float:
        return round(self.compute + self.transfer + self.storage, 2)


class PlanOutput(_Frozen):
    """An artifact a workload writes each run, stored where the workload runs."""

    name: str
    size_gb: float
    data_class: str


class ServingSite(_Frozen):
    """One place a multi-site inference service runs at, and the users it serves from there."""

    place: str
    site_kind: SiteKind
    cloud: str | None
    region: str | None
    jurisdiction: str
    instance_type: str
    purchase: Purchase = "on_demand"
    accelerator: str | None
    accelerators_per_node: int
    nodes: int
    replicas: int  # sized for the peak demand routed here
    min_replicas: int = Field(default=1, description="autoscaler minimum: the demand trough routed here")
    populations: list[str]
    requests_per_second: float
    max_latency_ms: float = Field(description="worst latency among the populations served from here")
    usd_per_month: float
    carbon_kg_per_month: float


class Placement(_Frozen):
    """Where and on what one workload runs."""

    workload: str
    kind: Literal["training", "inference", "preprocessing", "tuning"]
    team: str
    cost_centre: str
    data_classes: list[str] = Field(description="every class the workload reads or writes, sorted")
    place: str = Field(description="site name or '<cloud>:<region>'")
    site_kind: SiteKind
    cloud: str | None
    region: str | None
    jurisdiction: str
    instance_type: str = Field(description="EC2/GCE type, TPU slice (tpu-v5p-8), or 'onprem-<accelerator>'")
    accelerator: str | None
    accelerators_per_node: int
    nodes: int = Field(description="nodes running at once (inference: all replicas)")
    replicas: int = Field(description="inference replicas; 1 for batch workloads")
    purchase: Purchase
    checkpointing: bool
    node_hours_per_month: float = Field(description="nodes x hours, including the spot overhead")
    spot_overhead: float = Field(description="expected extra run time from preemptions (0.03 = +3%)")
    reads: list[str] = Field(description="datasets read")
    depends_on: list[str]
    outputs: list[PlanOutput]
    cost: CostBreakdown
    carbon_kg_per_month: float = Field(default=0.0, description="kgCO2e of the compute (energy x PUE x grid)")
    federated_of: str | None = Field(default=None, description="federated training this trainer/aggregator belongs to")
    federated_role: Literal["trainer", "aggregator"] | None = None
    serving_sites: list[ServingSite] = Field(
        default_factory=list, description="multi-site inference: every place it serves from (the first is 'place')")


class DatasetCopy(_Frozen):
    """A replica of a dataset the optimizer decided to keep near its readers."""

    dataset: str
    data_class: str
    size_gb: float
    source: str
    target: str
    cloud: str | None
    region: str | None
    usd_per_month: float


class Transfer(_Frozen):
    """A recurring data movement the plan pays for."""

    source: str
    target: str
    gb_per_month: float
    usd_per_month: float
    reason: str


class InternetEgress(_Frozen):
    """A cloud's monthly internet egress in the plan, as charged and at its real tiered rates."""

    cloud: str
    gb_per_month: float
    charged_usd_per_month: float = Field(description="at the first paid tier, as in the objective")
    tiered_usd_per_month: float = Field(description="at the cloud's marginal volume tiers (the bill)")


class SolverInfo(_Frozen):
    name: str
    status: str
    strategy: str
    objective_usd_per_month: float
    lower_bound_usd_per_month: float
    candidates: int


class Plan(_Frozen):
    """The full placement for an estate at one catalog snapshot."""

    schema_version: int = PLAN_SCHEMA_VERSION
    estate: str
    catalog_snapshot: str
    catalog_source: str
    budget_usd_per_month: float | None
    solver: SolverInfo
    placements: list[Placement]
    dataset_copies: list[DatasetCopy]
    transfers: list[Transfer]
    fixed_storage_usd_per_month: float = Field(description="datasets at rest where they already live")
    carbon_price_usd_per_tonne: float | None = None
    carbon_cap_kg_per_month: float | None = None
    internet_egress: list[InternetEgress] = Field(
        default_factory=list, description="per cloud: internet egress volume, charged vs tiered")
    content_hash: str = ""

    @property
    def total_usd_per_month(self) -> float:
        return round(sum(p.cost.total for p in self.placements)
                     + sum(c.usd_per_month for c in self.dataset_copies), 2)

    @property
    def total_carbon_kg_per_month(self) -> float:
        return round(sum(p.carbon_kg_per_month for p in self.placements), 1)

    def placement(self, workload: str) -> Placement:
        for placement in self.placements:
            if placement.workload == workload:
                return placement
        raise KeyError(workload)

    def canonical_json(self) -> str:
        """Sorted, stable JSON including the content hash (computed here if absent)."""
        body = self.model_dump(mode="json")
        body["content_hash"] = ""
        digest = hashlib.sha256(_dump(body).encode("utf-8")).hexdigest()
        body["content_hash"] = f"sha256:{digest}"
        body["total_usd_per_month"] = self.total_usd_per_month
        body["total_carbon_kg_per_month"] = self.total_carbon_kg_per_month
        return _dump(body)

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        """Read a plan file, verifying its hash over the file's own content.

        The hash is checked on the body as written (not as this version of the model would write it),
        so a lock written before a field was added still verifies, and any edit is still caught.
        """
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("a plan file must hold a JSON object")
        body.pop("total_usd_per_month", None)
        body.pop("total_carbon_kg_per_month", None)
        written = body.get("content_hash", "")
        if written:
            digest = "sha256:" + hashlib.sha256(_dump({**body, "content_hash": ""}).encode("utf-8")).hexdigest()
            if digest != written:
                raise ValueError(f"plan content hash mismatch: file says {written}, content gives {digest}. "
                                 "To fix: regenerate the plan with 'python -m optimizer plan' instead of editing it")
        plan = cls.model_validate(body)
        return plan.model_copy(update={"content_hash": written or json.loads(plan.canonical_json())["content_hash"]})


def _dump(body: object) -> str:
    return json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
