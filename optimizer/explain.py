"""Why the plan is what it is: binding constraints, next-best alternatives, and the naive baseline.

The naive baseline is what a team runs without this tool: every workload on on-demand capacity
in the estate's home cloud region (the nearest allowed region of the home cloud when the home
region is not allowed for its data), on-prem only where a data class demands it, the cheapest
node type that fits, no spot, no replicas (data is read from where it lives). Shared quotas are
not applied to the baseline; its cost is computed with the same prices and network as the plan.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass

from optimizer.candidates import (Candidate, CandidateSet, data_classes_by_workload, enumerate_candidates,
                                  find_candidate)
from optimizer.catalog import Catalog
from optimizer.estate import LoadedEstate
from optimizer.federation import expand_federated
from optimizer.graph import NetworkCosts, build_network_graph, distance_km, network_costs
from optimizer.model import Estate, cloud_place
from optimizer.plan import Plan

__all__ = ["Alternative", "Baseline", "BaselineRow", "WorkloadExplanation", "Explanation", "explain_plan", "naive_baseline"]


@dataclass(frozen=True)
class Alternative:
    place: str
    instance_type: str
    purchase: str
    usd_per_month: float
    delta_usd_per_month: float
    blocked_by: str | None  # a full capacity pool that rules it out given the other placements


@dataclass(frozen=True)
class WorkloadExplanation:
    workload: str
    chosen: str
    usd_per_month: float
    binding: tuple[str, ...]
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class BaselineRow:
    workload: str
    place: str
    instance_type: str
    usd_per_month: float


@dataclass(frozen=True)
class Baseline:
    rows: tuple[BaselineRow, ...]
    total_usd_per_month: float
    plan_total_usd_per_month: float

    @property
    def saving_percent(self) -> float:
        if self.total_usd_per_month <= 0:
            return 0.0
        return round(100.0 * (1 - self.plan_total_usd_per_month / self.total_usd_per_month), 1)


@dataclass(frozen=True)
class Explanation:
    workloads: tuple[WorkloadExplanation, ...]
    baseline: Baseline


@dataclass(frozen=True)
class _CostIndex:
    """Streams and DAG edges indexed by workload, so pricing one candidate is O(its own edges)."""

    streams: dict[tuple[str, str], list[tuple[str, float]]]  # (workload, place) -> [(dataset, usd)]
    inbound: dict[str, list[tuple[str, float]]]  # workload -> [(upstream, GB)]
    outbound: dict[str, list[tuple[str, float]]]  # workload -> [(downstream, GB)]

    @classmethod
    def build(cls, candidates: CandidateSet, edge_gb: dict[tuple[str, str], float]) -> "_CostIndex":
        streams: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
        for (workload, dataset, place), usd in candidates.stream_usd.items():
            streams[(workload, place)].append((dataset, usd))
        inbound: dict[str, list[tuple[str, float]]] = defaultdict(list)
        outbound: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for (upstream, downstream), gb in edge_gb.items():
            inbound[downstream].append((upstream, gb))
            outbound[upstream].append((downstream, gb))
        return cls(streams, inbound, outbound)


def _marginal_cost(network: NetworkCosts, candidate: Candidate, places: dict[str, str],
                   replicas: set[tuple[str, str]], index: _CostIndex) -> float:
    """Monthly cost of ``candidate`` with every other workload where ``places`` puts it."""
    name, place = candidate.workload, candidate.place
    cost = candidate.compute_usd + candidate.storage_usd
    cost += sum(usd for dataset, usd in index.streams.get((name, place), ()) if (dataset, place) not in replicas)
    cost += sum(gb * network.usd_per_gb(places[upstream], place)
                for upstream, gb in index.inbound.get(name, ()) if upstream in places)
    cost += sum(gb * network.usd_per_gb(place, places[downstream])
                for downstream, gb in index.outbound.get(name, ()) if downstream in places)
    return cost


def _pool_usage(plan_choice: dict[str, Candidate]) -> dict[tuple[str, str, str], float]:
    usage: dict[tuple[str, str, str], float] = defaultdict(float)
    for candidate in plan_choice.values():
        for key, amount in candidate.usage:
            usage[key] += amount
    return usage


def _chosen_candidates(plan: Plan, candidates: CandidateSet) -> dict[str, Candidate]:
    chosen = {}
    for placement in plan.placements:
        candidate = find_candidate(candidates.by_workload[placement.workload], placement)
        if candidate is not None:
            chosen[placement.workload] = candidate
    return chosen


def _baseline_place(estate: Estate, catalog: Catalog, candidates: CandidateSet, workload: str,
                    rules_onprem: bool) -> str | None:
    options = candidates.by_workload.get(workload, ())
    places = {c.place for c in options}
    if rules_onprem:
        onprem = sorted(p for p in places if estate.private_site(p) is not None)
        return onprem[0] if onprem else None
    home = cloud_place(estate.home.cloud, estate.home.region)
    if home in places:
        return home
    home_fact = catalog.regions[(estate.home.cloud, estate.home.region)]
    same_cloud = [p for p in places if p.startswith(f"{estate.home.cloud}:")]
    if not same_cloud:
        same_cloud = sorted(places)
    if not same_cloud:
        return None

    def distance(place: str) -> tuple[float, str]:
        if estate.private_site(place) is not None:
            site = estate.private_site(place)
            return distance_km(home_fact.lat, home_fact.lon, site.location.lat, site.location.lon), place
        cloud, region = place.split(":", 1)
        fact = catalog.regions[(cloud, region)]
        return distance_km(home_fact.lat, home_fact.lon, fact.lat, fact.lon), place

    return min(same_cloud, key=distance)


def _explain_serving(loaded: LoadedEstate, placement, network: NetworkCosts) -> WorkloadExplanation:
    """Which latency targets shaped a multi-site service."""
    from optimizer.solve import population_latency

    latency = population_latency(loaded.estate, network)
    targets = {p.name: p.latency_ms for p in loaded.estate.populations}
    binding = []
    for site in placement.serving_sites:
        for population in site.populations:
            reach = sorted(place for (name, place), ms in latency.items()
                           if name == population and ms <= targets[population])
            binding.append(f"latency: `{population}` ({targets[population]:g} ms) served from {site.place} at "
                           f"{latency[(population, site.place)]:g} ms; places in reach: {', '.join(reach)}")
    chosen = "; ".join(f"{s.place} {s.instance_type} x{s.replicas}" for s in placement.serving_sites)
    return WorkloadExplanation(workload=placement.workload, chosen=chosen, usd_per_month=placement.cost.total,
                               binding=tuple(binding), alternatives=())


def naive_baseline(loaded: LoadedEstate, catalog: Catalog, network: NetworkCosts, plan_total: float) -> Baseline:
    expansion = expand_federated(loaded.estate, catalog, loaded.rules)
    estate = expansion.estate
    # Without checkpointing no candidate is spot: the baseline buys on-demand only.
    on_demand_estate = estate.model_copy(update={
        "workloads": [w.model_copy(update={"checkpointing": False}) for w in estate.workloads]})
    candidates = enumerate_candidates(on_demand_estate, catalog, loaded.rules, network)

    choice: dict[str, Candidate] = {}
    classes_of = data_classes_by_workload(estate)
    for workload in estate.workloads:
        onprem_only = any(loaded.rules.rule(c).onprem_only for c in classes_of[workload.name])
        place = _baseline_place(estate, catalog, candidates, workload.name, onprem_only)
        options = [c for c in candidates.by_workload.get(workload.name, ()) if c.place == place]
        if options and workload.serves:  # one site, sized for all users, latency targets ignored
            demand = sum(p.peak_rps for p in estate.populations if p.name in workload.serves)
            best = min(options, key=lambda c: (math.ceil(demand / c.capacity_rps) * c.compute_usd, c.instance_type))
            count = math.ceil(demand / best.capacity_rps)
            choice[workload.name] = dataclasses.replace(best, compute_usd=best.compute_usd * count,
                                                        carbon_kg=best.carbon_kg * count, replicas=count)
        elif options:
            choice[workload.name] = min(options, key=lambda c: (c.compute_usd, c.instance_type))
    places = {name: c.place for name, c in choice.items()}
    edge_gb = _edge_gb(estate, expansion.traffic)
    rows = []
    for name in sorted(choice):
        candidate = choice[name]
        cost = candidate.compute_usd + candidate.storage_usd + candidate.stream_usd
        for (upstream, downstream), gb in edge_gb.items():
            if downstream == name and upstream in places:
                cost += gb * network.usd_per_gb(places[upstream], candidate.place)
        rows.append(BaselineRow(name, candidate.place, candidate.instance_type, round(cost, 2)))
    return Baseline(rows=tuple(rows), total_usd_per_month=round(sum(r.usd_per_month for r in rows), 2),
                    plan_total_usd_per_month=plan_total)


def _edge_gb(estate: Estate, traffic=()) -> dict[tuple[str, str], float]:
    workloads = {w.name: w for w in estate.workloads}
    edges = {(upstream, w.name): sum(o.size_gb for o in workloads[upstream].outputs) * workloads[upstream].runs
             for w in estate.workloads for upstream in w.depends_on}
    edges.update({(u, v): gb for u, v, gb in traffic})
    return edges


def explain_plan(loaded: LoadedEstate, catalog: Catalog, plan: Plan, *, alternatives: int = 3) -> Explanation:
    """Binding constraints and next-best alternatives per workload, plus the naive baseline."""
    expansion = expand_federated(loaded.estate, catalog, loaded.rules)
    estate = expansion.estate
    network = network_costs(build_network_graph(estate, catalog))
    candidates = enumerate_candidates(estate, catalog, loaded.rules, network)
    chosen = _chosen_candidates(plan, candidates)
    places = {name: c.place for name, c in chosen.items()}
    replicas = {(copy.dataset, copy.target) for copy in plan.dataset_copies}
    edge_gb = _edge_gb(estate, expansion.traffic)
    usage = _pool_usage(chosen)
    index = _CostIndex.build(candidates, edge_gb)
    exclusions_by_workload: dict[str, list] = defaultdict(list)
    for exclusion in candidates.exclusions:
        exclusions_by_workload[exclusion.workload].append(exclusion)
    explanations = []
    for workload in estate.workloads:
        current = chosen.get(workload.name)
        if current is None:
            continue
        placement = plan.placement(workload.name)
        if placement.serving_sites:
            explanations.append(_explain_serving(loaded, placement, network))
            continue
        others = places  # _marginal_cost never looks up the workload itself (no self-loops in a DAG)
        current_cost = _marginal_cost(network, current, others, replicas, index)
        best_per_place: dict[str, Alternative] = {}
        for candidate in candidates.by_workload[workload.name]:
            if candidate is current:
                continue
            cost = _marginal_cost(network, candidate, others, replicas, index)
            blocked = None
            for key, amount in candidate.usage:
                capacity = candidates.capacities.get(key)
                if capacity is None:
                    continue
                mine = dict(current.usage).get(key, 0.0)
                if usage[key] - mine + amount > capacity + 1e-6:
                    blocked = f"{key[0]} {key[2] or 'vCPU'} at {key[1]} is full"
                    break
            alternative = Alternative(candidate.place, candidate.instance_type, candidate.purchase, round(cost, 2),
                                      round(cost - current_cost, 2), blocked)
            key = candidate.place
            if key not in best_per_place or (alternative.usd_per_month, alternative.instance_type) < (
                    best_per_place[key].usd_per_month, best_per_place[key].instance_type):
                best_per_place[key] = alternative
        ranked = sorted(best_per_place.values(), key=lambda a: (a.usd_per_month, a.place, a.instance_type))
        binding: list[str] = []
        sovereignty = [e for e in exclusions_by_workload[workload.name] if e.category == "sovereignty"]
        if sovereignty:
            binding.append(f"sovereignty: {len(sovereignty)} of {len(estate.places())} places excluded "
                           f"({sovereignty[0].reason})")
        for category in ("pinned", "deadline", "capacity"):
            found = [e for e in exclusions_by_workload[workload.name] if e.category == category]
            if found:
                shown = "; ".join(f"{e.place}: {e.reason}" for e in found[:2])
                more = f" (+{len(found) - 2} more places)" if len(found) > 2 else ""
                binding.append(f"{category}: {shown}{more}")
        for key, amount in current.usage:
            capacity = candidates.capacities.get(key)
            if capacity is not None and usage[key] >= capacity - 1e-6:
                binding.append(f"capacity pool {key[0]} {key[2] or 'vCPU'} at {key[1]} is fully used")
        cheaper_blocked = [a for a in ranked if a.delta_usd_per_month < 0 and a.blocked_by]
        for alt in cheaper_blocked[:2]:
            binding.append(f"cheaper {alt.place} {alt.instance_type} (-${-alt.delta_usd_per_month:,.2f}) blocked: "
                           f"{alt.blocked_by}")
        if not workload.checkpointing and workload.kind != "inference":
            binding.append("spot not allowed: the workload does not checkpoint")
        elif current.purchase == "spot":
            binding.append(f"spot chosen with expected preemption overhead of {100 * current.spot_overhead:.1f}%")
        if not binding:
            binding.append("none: this is the cheapest option among all allowed places")
        explanations.append(WorkloadExplanation(
            workload=workload.name, chosen=f"{current.place} {current.instance_type} x{current.nodes} {current.purchase}",
            usd_per_month=round(current_cost, 2), binding=tuple(binding), alternatives=tuple(ranked[:alternatives])))
    baseline = naive_baseline(loaded, catalog, network, plan.total_usd_per_month)
    return Explanation(workloads=tuple(explanations), baseline=baseline)

