"""Turn a solver solution into a :class:`Plan`, recomputing every cost from the chosen candidates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from optimizer.candidates import Candidate, place_jurisdiction, storage_price, data_classes_by_workload
from optimizer.catalog import REPO_ROOT, Catalog
from optimizer.model import parse_place
from optimizer.plan import CostBreakdown, DatasetCopy, Placement, Plan, PlanOutput, SolverInfo, Transfer

if TYPE_CHECKING:
    from optimizer.estate import LoadedEstate
    from optimizer.solve import Problem

__all__ = ["assemble_plan", "catalog_label"]


def catalog_label(catalog: Catalog) -> str:
    """The catalog directory relative to the repository when it is the bundled one (stable across machines)."""
    try:
        return str(Path(catalog.source_dir).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return catalog.source_dir


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def assemble_plan(loaded: "LoadedEstate", catalog: Catalog, problem: "Problem", chosen: Mapping[str, Candidate],
                  replicas: frozenset[tuple[str, str]], solver: SolverInfo) -> Plan:
    estate = loaded.estate
    network = problem.network
    datasets = {d.name: d for d in estate.datasets}
    workloads = {w.name: w for w in estate.workloads}
    transfers: list[Transfer] = []
    placements: list[Placement] = []
    edge_gb = {(u, v): gb for u, v, gb in problem.edges}
    classes_of = data_classes_by_workload(estate)
    for workload in estate.workloads:
        candidate = chosen[workload.name]
        place = candidate.place
        transfer_usd = 0.0
        for read in workload.reads:
            dataset = datasets[read.dataset]
            if dataset.location == place or (dataset.name, place) in replicas:
                continue
            gb = dataset.size_gb * read.passes * workload.runs
            usd = gb * network.usd_per_gb(dataset.location, place)
            transfer_usd += usd
            transfers.append(Transfer(source=dataset.location, target=place, gb_per_month=round(gb, 3),
                                      usd_per_month=_money(usd), reason=f"{workload.name} reads {dataset.name}"))
        for upstream in workload.depends_on:
            source = chosen[upstream].place
            gb = edge_gb.get((upstream, workload.name), 0.0)
            if source == place or gb == 0:
                continue
            usd = gb * network.usd_per_gb(source, place)
            transfer_usd += usd
            names = ", ".join(out.name for out in workloads[upstream].outputs)
            transfers.append(Transfer(source=source, target=place, gb_per_month=round(gb, 3),
                                      usd_per_month=_money(usd), reason=f"{upstream} -> {workload.name}: {names}"))
        jurisdiction, private = place_jurisdiction(estate, catalog, place)
        parsed = parse_place(place)
        site = estate.private_site(place)
        placements.append(Placement(
            workload=workload.name, kind=workload.kind, team=workload.team, cost_centre=workload.cost_centre,
            data_classes=classes_of[workload.name], place=place,
            site_kind=site.kind if site is not None else "cloud",
            cloud=parsed[0] if parsed else None, region=parsed[1] if parsed else None, jurisdiction=jurisdiction,
            instance_type=candidate.instance_type, accelerator=candidate.accelerator,
            accelerators_per_node=candidate.accelerators_per_node, nodes=candidate.nodes,
            replicas=candidate.replicas if workload.kind == "inference" else 1,
            purchase=candidate.purchase, checkpointing=workload.checkpointing,
            node_hours_per_month=round(candidate.node_hours, 3), spot_overhead=round(candidate.spot_overhead, 4),
            reads=[read.dataset for read in workload.reads], depends_on=list(workload.depends_on),
            outputs=[PlanOutput(name=o.name, size_gb=o.size_gb, data_class=o.data_class) for o in workload.outputs],
            cost=CostBreakdown(compute=_money(candidate.compute_usd), transfer=_money(transfer_usd),
                               storage=_money(candidate.storage_usd)),
            carbon_kg_per_month=round(candidate.carbon_kg, 1)))
    copies = []
    for dataset_name, place in sorted(replicas):
        dataset = datasets[dataset_name]
        refresh_gb = dataset.size_gb * dataset.updates_per_month
        refresh_usd = refresh_gb * network.usd_per_gb(dataset.location, place)
        parsed = parse_place(place)
        copies.append(DatasetCopy(
            dataset=dataset_name, data_class=dataset.data_class, size_gb=dataset.size_gb, source=dataset.location,
            target=place, cloud=parsed[0] if parsed else None, region=parsed[1] if parsed else None,
            usd_per_month=_money(problem.replica_costs[(dataset_name, place)])))
        if refresh_gb > 0:
            transfers.append(Transfer(source=dataset.location, target=place, gb_per_month=round(refresh_gb, 3),
                                      usd_per_month=_money(refresh_usd), reason=f"replica refresh of {dataset_name}"))
    fixed = sum(d.size_gb * storage_price(estate, catalog, d.location) for d in estate.datasets)
    return Plan(
        estate=estate.name, catalog_snapshot=catalog.snapshot_date, catalog_source=catalog_label(catalog),
        budget_usd_per_month=estate.budget_usd_per_month, solver=solver,
        placements=sorted(placements, key=lambda p: p.workload), dataset_copies=copies,
        transfers=sorted(transfers, key=lambda t: (t.reason, t.source, t.target)),
        fixed_storage_usd_per_month=_money(fixed),
        carbon_price_usd_per_tonne=estate.carbon.price_usd_per_tonne if estate.carbon else None,
        carbon_cap_kg_per_month=estate.carbon.cap_kg_per_month if estate.carbon else None)
