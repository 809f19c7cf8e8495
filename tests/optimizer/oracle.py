"""A brute-force oracle for the placement MILP, independent of optimizer.solve.

It takes the candidates of optimizer.candidates.enumerate_candidates as given (the oracle checks the
solver, not the enumeration; the enumeration has its own tests) and tries every combination of one
candidate per workload. For each combination it

* checks every capacity pool, with usage and capacity recomputed from the estate (regional quotas:
  concurrent devices of an accelerator family; on-prem: device-hours and vCPU-hours per month times
  the site's maximum utilisation);
* computes the monthly cost from first principles: compute (the candidate's priced node-hours) +
  storage of the workload's outputs at its place + for every (dataset, place) the cheaper of
  streaming it to all readers there and keeping a replica there (size x storage + size x refreshes
  x $/GB) + DAG artifact transfers (outputs x upstream runs x $/GB between the two places);
* checks the optional budget.

$/GB between places is the all-pairs cheapest price of optimizer.graph (tested separately by hand).
Partial assignments that already break a capacity pool are cut (no feasible completion exists), so
the search stays exhaustive.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from optimizer.candidates import Candidate, enumerate_candidates
from optimizer.catalog import Catalog, accelerator_family
from optimizer.estate import LoadedEstate
from optimizer.graph import NetworkCosts, build_network_graph, network_costs
from optimizer.model import HOURS_PER_MONTH, Estate, parse_place

__all__ = ["OracleResult", "oracle_optimum", "capacity_usage", "capacities", "storage_price_of"]

_TOLERANCE = 1e-6


@dataclass(frozen=True)
class OracleResult:
    total: float | None  # None: no combination satisfies capacity and budget
    assignment: dict[str, Candidate]
    replicas: frozenset[tuple[str, str]]
    combinations: int  # leaves evaluated
    cheapest_ignoring_budget: float | None


def storage_price_of(estate: Estate, catalog: Catalog, place: str) -> float:
    parsed = parse_place(place)
    if parsed:
        return catalog.storage_usd_per_gb_month[parsed[0]]
    site = estate.private_site(place)
    assert site is not None
    return site.storage_usd_per_gb_month


def capacities(estate: Estate) -> dict[tuple[str, str, str], float]:
    """Every capacity pool of the estate, from the estate alone."""
    result: dict[tuple[str, str, str], float] = {}
    for account in estate.clouds:
        for region, families in account.quotas.items():
            for family, limit in families.items():
                result[("quota", f"{account.cloud}:{region}", family)] = float(limit)
    for site in [*estate.onprem, *estate.edge]:
        hours = HOURS_PER_MONTH * site.max_utilization
        result[("vcpus", site.name, "")] = site.vcpus * hours
        for inventory in site.accelerators:
            result[("devices", site.name, inventory.type)] = inventory.count * hours
    return result


def capacity_usage(estate: Estate, candidate: Candidate) -> dict[tuple[str, str, str], float]:
    """What one chosen candidate draws from each pool, recomputed from its shape and the estate."""
    workload = next(w for w in estate.workloads if w.name == candidate.workload)
    parsed = parse_place(candidate.place)
    usage: dict[tuple[str, str, str], float] = {}
    if parsed:
        cloud, region = parsed
        quotas = next((a.quotas.get(region, {}) for a in estate.clouds if a.cloud == cloud), {})
        if candidate.accelerator is not None:
            family = accelerator_family(candidate.accelerator)
            if family in quotas:
                usage[("quota", candidate.place, family)] = float(candidate.nodes * candidate.accelerators_per_node)
    else:
        hours = candidate.node_hours
        usage[("vcpus", candidate.place, "")] = workload.vcpus * candidate.replicas * hours
        if candidate.accelerator is not None:
            usage[("devices", candidate.place, candidate.accelerator)] = candidate.accelerators_per_node * hours
    return usage


def oracle_optimum(loaded: LoadedEstate, catalog: Catalog, *, max_combinations: int = 3_000_000,
                   network: NetworkCosts | None = None, ignore_capacity: bool = False) -> OracleResult:
    """The cheapest combination of candidates (see module docstring); ``ignore_capacity`` drops
    every capacity pool, which tells a test whether capacity binds at the optimum."""
    estate = loaded.estate
    network = network or network_costs(build_network_graph(estate, catalog))
    candidate_set = enumerate_candidates(estate, catalog, loaded.rules, network)
    workloads = list(estate.workloads)
    choices = [candidate_set.by_workload.get(w.name, ()) for w in workloads]
    if any(not options for options in choices):
        return OracleResult(None, {}, frozenset(), 0, None)
    size = math.prod(len(options) for options in choices)
    if size > max_combinations:
        raise RuntimeError(f"{size} combinations: too many for the oracle; use a smaller estate")

    def price(source: str, target: str) -> float:
        return 0.0 if source == target else network.price[(source, target)]

    datasets = {d.name: d for d in estate.datasets}
    by_name = {w.name: w for w in estate.workloads}
    pools = {} if ignore_capacity else capacities(estate)
    # Place-dependent pieces, cached per (workload, place).
    base: list[list[tuple[float, str, dict]]] = []
    for workload, options in zip(workloads, choices):
        outputs_gb = sum(out.size_gb for out in workload.outputs)
        row = []
        for candidate in options:
            cost = candidate.compute_usd + outputs_gb * storage_price_of(estate, catalog, candidate.place)
            usage = {k: v for k, v in capacity_usage(estate, candidate).items() if k in pools}
            row.append((cost, candidate.place, usage))
        base.append(row)
    edges = []
    for workload in workloads:
        for upstream in workload.depends_on:
            gb = sum(out.size_gb for out in by_name[upstream].outputs) * by_name[upstream].runs
            edges.append((upstream, workload.name, gb))
    index_of = {w.name: i for i, w in enumerate(workloads)}
    reads = [[(datasets[r.dataset], datasets[r.dataset].size_gb * r.passes * w.runs) for r in w.reads]
             for w in workloads]
    replica_cost: dict[tuple[str, str], float] = {}

    def rho(dataset_name: str, place: str) -> float:
        key = (dataset_name, place)
        if key not in replica_cost:
            dataset = datasets[dataset_name]
            replica_cost[key] = dataset.size_gb * (storage_price_of(estate, catalog, place)
                                                   + dataset.updates_per_month * price(dataset.location, place))
        return replica_cost[key]

    best: list = [math.inf, None, frozenset()]
    cheapest = [math.inf]
    leaves = [0]
    budget = estate.budget_usd_per_month
    picked: list[int] = [0] * len(workloads)
    used: dict[tuple[str, str, str], float] = defaultdict(float)

    def leaf() -> None:
        leaves[0] += 1
        places = [base[i][picked[i]][1] for i in range(len(workloads))]
        total = sum(base[i][picked[i]][0] for i in range(len(workloads)))
        streams: dict[tuple[str, str], float] = defaultdict(float)
        for i, place in enumerate(places):
            for dataset, gb in reads[i]:
                if dataset.location != place:
                    streams[(dataset.name, place)] += gb * price(dataset.location, place)
        replicas = []
        for (dataset_name, place), streamed in sorted(streams.items()):
            copy = rho(dataset_name, place)
            if copy < streamed:
                total += copy
                replicas.append((dataset_name, place))
            else:
                total += streamed
        for upstream, downstream, gb in edges:
            total += gb * price(places[index_of[upstream]], places[index_of[downstream]])
        cheapest[0] = min(cheapest[0], total)
        if budget is not None and total > budget + _TOLERANCE:
            return
        if total < best[0]:
            best[0] = total
            best[1] = {workloads[i].name: choices[i][picked[i]] for i in range(len(workloads))}
            best[2] = frozenset(replicas)

    def search(depth: int) -> None:
        if depth == len(workloads):
            leaf()
            return
        for option, (_, _, usage) in enumerate(base[depth]):
            if any(used[k] + amount > pools[k] + _TOLERANCE for k, amount in usage.items()):
                continue
            for k, amount in usage.items():
                used[k] += amount
            picked[depth] = option
            search(depth + 1)
            for k, amount in usage.items():
                used[k] -= amount

    search(0)
    if best[1] is None:
        return OracleResult(None, {}, frozenset(), leaves[0], None if math.isinf(cheapest[0]) else cheapest[0])
    return OracleResult(best[0], best[1], best[2], leaves[0], cheapest[0])
