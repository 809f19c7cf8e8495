"""Turn a solver solution into a :class:`Plan`, recomputing every cost from the chosen candidates."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from optimizer.candidates import Candidate, place_jurisdiction, storage_price, data_classes_by_workload
from optimizer.catalog import REPO_ROOT, Catalog
from optimizer.model import parse_place
from optimizer.plan import (CostBreakdown, DatasetCopy, InternetEgress, Placement, Plan, PlanOutput, ServingSite,
                            SolverInfo, Transfer)

if TYPE_CHECKING:
    from optimizer.estate import LoadedEstate
    from optimizer.solve import Problem, ServingChoice

__all__ = ["assemble_plan", "catalog_label"]


def catalog_label(catalog: Catalog) -> str:
    """The catalog directory relative to the repository when it is the bundled one (stable across machines)."""
    try:
        return str(Path(catalog.source_dir).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return catalog.source_dir


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def _site_facts(estate, catalog: Catalog, place: str) -> dict:
    jurisdiction, _ = place_jurisdiction(estate, catalog, place)
    parsed = parse_place(place)
    site = estate.private_site(place)
    return {"place": place, "site_kind": site.kind if site is not None else "cloud",
            "cloud": parsed[0] if parsed else None, "region": parsed[1] if parsed else None,
            "jurisdiction": jurisdiction}


def assemble_plan(loaded: "LoadedEstate", catalog: Catalog, problem: "Problem", chosen: Mapping[str, Candidate],
                  replicas: frozenset[tuple[str, str]], solver: SolverInfo,
                  serving: Mapping[str, tuple["ServingChoice", ...]] | None = None) -> Plan:
    estate = problem.estate  # as planned: federated workloads already expanded
    inbound: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for upstream, downstream, gb in problem.edges:
        inbound[downstream].append((upstream, gb))
    network = problem.network
    datasets = {d.name: d for d in estate.datasets}
    workloads = {w.name: w for w in estate.workloads}
    transfers: list[Transfer] = []
    placements: list[Placement] = []
    edge_gb = {(u, v): gb for u, v, gb in problem.edges}
    classes_of = data_classes_by_workload(estate)
    serving = serving or {}
    populations = {p.name: p for p in estate.populations}
    for workload in estate.workloads:
        if workload.name in serving:
            placements.append(_serving_placement(loaded, catalog, problem, workload, serving[workload.name],
                                                 chosen, edge_gb, classes_of[workload.name], populations,
                                                 replicas, transfers))
            continue
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
        for upstream, gb in inbound[workload.name]:  # DAG artifacts and federated update traffic
            source = chosen[upstream].place
            if source == place or gb == 0:
                continue
            usd = gb * network.usd_per_gb(source, place)
            transfer_usd += usd
            names = ", ".join(out.name for out in workloads[upstream].outputs) or "model updates"
            transfers.append(Transfer(source=source, target=place, gb_per_month=round(gb, 3),
                                      usd_per_month=_money(usd), reason=f"{upstream} -> {workload.name}: {names}"))
        jurisdiction, _ = place_jurisdiction(estate, catalog, place)
        parsed = parse_place(place)
        site = estate.private_site(place)
        role = problem.federation_roles.get(workload.name)
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
            carbon_kg_per_month=round(candidate.carbon_kg, 1),
            federated_of=role.federated_workload if role else None, federated_role=role.role if role else None))
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
    egress = _internet_egress(catalog, network, transfers)
    return Plan(
        estate=estate.name, catalog_snapshot=catalog.snapshot_date, catalog_source=catalog_label(catalog),
        budget_usd_per_month=estate.budget_usd_per_month, solver=solver,
        placements=sorted(placements, key=lambda p: p.workload), dataset_copies=copies,
        transfers=sorted(transfers, key=lambda t: (t.reason, t.source, t.target)),
        fixed_storage_usd_per_month=_money(fixed),
        carbon_price_usd_per_tonne=estate.carbon.price_usd_per_tonne if estate.carbon else None,
        carbon_cap_kg_per_month=estate.carbon.cap_kg_per_month if estate.carbon else None,
        internet_egress=egress)


def _internet_egress(catalog: Catalog, network, transfers: list[Transfer]) -> list[InternetEgress]:
    """Internet egress per cloud: the objective charges the first paid tier per GB (linear); the bill
    applies the cloud's volume tiers to the month's total, which this reports beside it."""
    volume: dict[str, float] = defaultdict(float)
    for transfer in transfers:
        route = network.paths.get((transfer.source, transfer.target), ())
        for cloud in ("aws", "gcp"):
            if f"internet:{cloud}" in route:
                volume[cloud] += transfer.gb_per_month
    return [InternetEgress(cloud=cloud, gb_per_month=round(gb, 3),
                           charged_usd_per_month=_money(gb * catalog.egress.internet_rate(cloud)),
                           tiered_usd_per_month=_money(catalog.egress.tiered_internet_cost(cloud, gb)))
            for cloud, gb in sorted(volume.items()) if gb > 0]


def _serving_placement(loaded: "LoadedEstate", catalog: Catalog, problem: "Problem", workload,
                       sites: tuple["ServingChoice", ...], chosen: Mapping[str, Candidate],
                       edge_gb: Mapping[tuple[str, str], float], data_classes: list[str], populations, replicas,
                       transfers: list[Transfer]) -> Placement:
    """A multi-site service: one placement whose cost spans every site, with the sites listed."""
    estate = problem.estate
    network = problem.network
    spec = problem.serving[workload.name]
    datasets = {d.name: d for d in estate.datasets}
    compute = transfer = carbon = 0.0
    served_sites = []
    for site in sites:
        candidate = site.candidate
        site_compute = candidate.compute_usd * site.replicas
        site_transfer = 0.0
        for read in workload.reads:
            dataset = datasets[read.dataset]
            if dataset.location == candidate.place or (dataset.name, candidate.place) in replicas:
                continue
            gb = dataset.size_gb * read.passes * workload.runs
            usd = gb * network.usd_per_gb(dataset.location, candidate.place)
            site_transfer += usd
            transfers.append(Transfer(source=dataset.location, target=candidate.place, gb_per_month=round(gb, 3),
                                      usd_per_month=_money(usd), reason=f"{workload.name} reads {dataset.name}"))
        for upstream in workload.depends_on:
            source = chosen[upstream].place
            gb = edge_gb.get((upstream, workload.name), 0.0)
            if source == candidate.place or gb == 0:
                continue
            usd = gb * network.usd_per_gb(source, candidate.place)
            site_transfer += usd
            transfers.append(Transfer(source=source, target=candidate.place, gb_per_month=round(gb, 3),
                                      usd_per_month=_money(usd),
                                      reason=f"{upstream} -> {workload.name} at {candidate.place}: model"))
        site_carbon = candidate.carbon_kg * site.replicas
        compute += site_compute
        transfer += site_transfer
        carbon += site_carbon
        served_sites.append(ServingSite(
            **_site_facts(estate, catalog, candidate.place), instance_type=candidate.instance_type,
            purchase=candidate.purchase,
            accelerator=candidate.accelerator, accelerators_per_node=candidate.accelerators_per_node,
            nodes=candidate.nodes * site.replicas, replicas=site.replicas,
            min_replicas=min(site.replicas, max(1, math.ceil(
                sum(populations[p].trough_rps for p in site.populations) / candidate.capacity_rps - 1e-9))),
            populations=list(site.populations),
            requests_per_second=round(sum(populations[p].peak_rps for p in site.populations), 3),
            max_latency_ms=round(max((spec.latency_ms[(p, candidate.place)] for p in site.populations), default=0.0), 2),
            usd_per_month=_money(site_compute + site_transfer), carbon_kg_per_month=round(site_carbon, 1)))
    primary = sites[0].candidate
    facts = _site_facts(estate, catalog, primary.place)
    return Placement(
        workload=workload.name, kind=workload.kind, team=workload.team, cost_centre=workload.cost_centre,
        data_classes=data_classes, **facts, instance_type=primary.instance_type, accelerator=primary.accelerator,
        accelerators_per_node=primary.accelerators_per_node, nodes=sum(s.nodes for s in served_sites),
        replicas=sum(s.replicas for s in served_sites), purchase=primary.purchase,
        checkpointing=workload.checkpointing,
        node_hours_per_month=round(sum(s.candidate.node_hours * s.replicas for s in sites), 3), spot_overhead=0.0,
        reads=[read.dataset for read in workload.reads], depends_on=list(workload.depends_on), outputs=[],
        cost=CostBreakdown(compute=_money(compute), transfer=_money(transfer), storage=0.0),
        carbon_kg_per_month=round(carbon, 1), serving_sites=served_sites)
