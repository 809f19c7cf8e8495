"""Federated training: keep every dataset where it is and place the aggregator.

A training workload with a ``federation`` block is expanded, before candidates are enumerated, into
one local trainer per dataset it reads and one aggregator:

* ``<name>-trainer-<dataset>`` has the workload's accelerators, run length and schedule, reads only
  its dataset, and runs at the dataset's own place (``trainers_at: data-site``, the default: the data
  never moves) or, with ``trainers_at: jurisdiction``, anywhere in the jurisdiction of that place
  where model updates may also go;
* ``<name>-aggregator`` is a CPU service that runs during every run, may run only where the update
  data class is allowed, and keeps the workload's outputs (the final model);
* each trainer and the aggregator exchange ``update_gb`` per round in both directions (updates up,
  the aggregated model down): traffic edges of ``update_gb x rounds_per_run x runs_per_month`` GB that
  the MILP prices like any other transfer, so the aggregator lands where update traffic is cheapest;
* workloads that depended on the federated workload now depend on its aggregator.

The expansion is a pure function of the estate, the catalog and the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from optimizer.candidates import place_jurisdiction
from optimizer.catalog import Catalog
from optimizer.model import Estate, Workload
from policy.sovereignty import SovereigntyRules

__all__ = ["FederationRole", "Expansion", "expand_federated"]


@dataclass(frozen=True)
class FederationRole:
    federated_workload: str
    role: str  # trainer | aggregator
    dataset: str | None


@dataclass(frozen=True)
class Expansion:
    estate: Estate
    traffic: tuple[tuple[str, str, float], ...]  # (from workload, to workload, GB per month)
    roles: Mapping[str, FederationRole]


def trainer_name(workload: str, dataset: str) -> str:
    return f"{workload}-trainer-{dataset}"


def aggregator_name(workload: str) -> str:
    return f"{workload}-aggregator"


def expand_federated(estate: Estate, catalog: Catalog, rules: SovereigntyRules) -> Expansion:
    """The estate with every federated workload replaced by its trainers and aggregator."""
    federated = {w.name: w for w in estate.workloads if w.federation is not None}
    if not federated:
        return Expansion(estate=estate, traffic=(), roles={})
    datasets = {d.name: d for d in estate.datasets}
    places = estate.places()
    workloads: list[Workload] = []
    traffic: list[tuple[str, str, float]] = []
    roles: dict[str, FederationRole] = {}
    for workload in estate.workloads:
        if workload.name not in federated:
            depends = [aggregator_name(u) if u in federated else u for u in workload.depends_on]
            workloads.append(workload.model_copy(update={"depends_on": depends}))
            continue
        federation = workload.federation
        assert federation is not None
        update_rule = rules.rule(federation.update_data_class)
        may_hold_updates = []
        for place in places:
            jurisdiction, onprem = place_jurisdiction(estate, catalog, place)
            if update_rule.allows(jurisdiction, onprem=onprem):
                may_hold_updates.append(place)
        pinned = set(workload.allowed_places) if workload.allowed_places is not None else set(places)
        upstream = [aggregator_name(u) if u in federated else u for u in workload.depends_on]
        volume = federation.update_gb * federation.rounds_per_run * workload.runs_per_month
        trainers = []
        for read in workload.reads:
            dataset = datasets[read.dataset]
            home, _ = place_jurisdiction(estate, catalog, dataset.location)
            if federation.trainers_at == "data-site":
                local = [dataset.location]  # the data never leaves its site
            else:
                local = [p for p in may_hold_updates if p in pinned and place_jurisdiction(estate, catalog, p)[0] == home]
            name = trainer_name(workload.name, dataset.name)
            trainers.append(name)
            workloads.append(workload.model_copy(update={
                "name": name, "reads": [read], "outputs": [], "depends_on": upstream, "federation": None,
                "allowed_places": local or [dataset.location]}))
            roles[name] = FederationRole(workload.name, "trainer", dataset.name)
        aggregator = aggregator_name(workload.name)
        workloads.append(workload.model_copy(update={
            "name": aggregator, "accelerators": [], "vcpus": federation.aggregator_vcpus,
            "memory_gib": federation.aggregator_memory_gib, "reads": [], "depends_on": trainers, "federation": None,
            "checkpointing": False, "deadline_hours": None,
            "allowed_places": [p for p in may_hold_updates if p in pinned] or list(places)}))
        roles[aggregator] = FederationRole(workload.name, "aggregator", None)
        for trainer in trainers:
            traffic.append((trainer, aggregator, round(volume, 6)))  # updates up
            traffic.append((aggregator, trainer, round(volume, 6)))  # aggregated model down
    return Expansion(estate=estate.model_copy(update={"workloads": workloads}), traffic=tuple(traffic), roles=roles)
