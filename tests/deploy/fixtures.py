"""Hand-built plans and estates for component tests (independent of the solver)."""

from __future__ import annotations

from optimizer.plan import CostBreakdown, Placement, Plan, SolverInfo


def placement(workload: str, *, kind: str = "training", place: str = "aws:us-east-1", instance_type: str = "p4d.24xlarge",
              accelerator: str | None = "A100", per_node: int = 8, nodes: int = 1, replicas: int = 1,
              purchase: str = "spot", checkpointing: bool = True, team: str = "ml", classes: tuple[str, ...] = ("internal",),
              jurisdiction: str = "US", site_kind: str = "cloud") -> Placement:
    cloud, region = (place.split(":", 1) if ":" in place else (None, None))
    return Placement(
        workload=workload, kind=kind, team=team, cost_centre=f"{team}-cc", data_classes=list(classes), place=place,
        site_kind=site_kind, cloud=cloud, region=region, jurisdiction=jurisdiction, instance_type=instance_type,
        accelerator=accelerator, accelerators_per_node=per_node, nodes=nodes, replicas=replicas, purchase=purchase,
        checkpointing=checkpointing, node_hours_per_month=100.0, spot_overhead=0.0, reads=[], depends_on=[],
        outputs=[], cost=CostBreakdown(compute=100.0, transfer=0.0, storage=0.0))


def plan(*placements: Placement) -> Plan:
    return Plan(estate="fixture", catalog_snapshot="2026-11-29", catalog_source="fixture", budget_usd_per_month=None,
                solver=SolverInfo(name="hand", status="optimal", strategy="fixture", objective_usd_per_month=0.0,
                                  lower_bound_usd_per_month=0.0, candidates=0),
                placements=list(placements), dataset_copies=[], transfers=[], fixed_storage_usd_per_month=0.0)
