"""Candidate enumeration: every (place, node type, count, purchase option) a workload may use, priced.

Hard constraints that concern one workload alone are applied here, exactly, by filtering:
sovereignty of every data class the workload touches, pins, accelerator compatibility, the
largest single-job capacity of a site or quota, spot only for checkpointing jobs, and deadlines.
Each exclusion is recorded with its reason so that infeasibility and explanations can name it.

Within one place, transfer and storage costs do not depend on the node type, so a candidate is
dropped when another at the same place is no more expensive and uses no more of every capacity
pool (exact dominance pruning; the optimum is unchanged).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from optimizer.catalog import Catalog, Offer, accelerator_family
from optimizer.geo import distance_km
from optimizer.graph import NetworkCosts
from optimizer.model import AcceleratorOption, EdgeSite, Estate, OnPremSite, Workload, parse_place
from policy.sovereignty import SovereigntyRules

if TYPE_CHECKING:
    from optimizer.plan import Placement

__all__ = [
    "CARBON_POOL",
    "Candidate",
    "CarbonModel",
    "carbon_model",
    "CandidateSet",
    "Exclusion",
    "PoolKey",
    "enumerate_candidates",
    "find_candidate",
    "place_jurisdiction",
    "storage_price",
    "data_classes_by_workload",
    "workload_data_classes",
]

PoolKey = tuple[str, str, str]  # ("quota", place, family) | ("devices", site, type) | ("vcpus", site, "")
CARBON_POOL: PoolKey = ("carbon", "estate", "kgCO2e")  # the estate's monthly carbon cap, when it has one
_MAX_CPU_NODES = 64
_WATTS_PER_VCPU = 4.0  # host CPU and memory per vCPU: an assumption, stated in the catalog manifest
_DEFAULT_ACCELERATOR_WATTS = 300.0  # for accelerators the catalog has no power figure for
CLOUD_PUE = 1.1


@dataclass(frozen=True)
class CarbonModel:
    """What turns node-hours into kgCO2e at each place, and how emissions weigh in the plan."""

    intensity_g_per_kwh: Mapping[str, float]  # place -> grid intensity
    pue: Mapping[str, float]  # place -> power usage effectiveness
    watts: Mapping[str, float]  # accelerator -> watts per device
    price_usd_per_kg: float = 0.0  # carbon price in the objective (0 when none)
    cap_kg: float | None = None  # hard cap, enforced as the CARBON_POOL capacity

    def node_kw(self, accelerator: str | None, devices: int, vcpus: float) -> float:
        accelerator_w = self.watts.get(accelerator, _DEFAULT_ACCELERATOR_WATTS) * devices if accelerator else 0.0
        return (accelerator_w + vcpus * _WATTS_PER_VCPU) / 1000.0

    def kg(self, place: str, node_hours: float, node_kw: float) -> float:
        return node_hours * node_kw * self.pue[place] * self.intensity_g_per_kwh[place] / 1000.0


def carbon_model(estate: Estate, catalog: Catalog) -> CarbonModel:
    """Grid intensity and PUE per place; a private site without a declared intensity takes the
    nearest cloud region's from the catalog (great-circle distance)."""
    intensity: dict[str, float] = {}
    pue: dict[str, float] = {}
    for place in estate.places():
        parsed = parse_place(place)
        if parsed:
            intensity[place] = catalog.carbon_g_per_kwh.get(parsed, 0.0)
            pue[place] = CLOUD_PUE
    for site in [*estate.onprem, *estate.edge]:
        pue[site.name] = site.pue
        if site.grid_carbon_g_per_kwh is not None:
            intensity[site.name] = site.grid_carbon_g_per_kwh
        else:
            nearest = min((key for key in catalog.carbon_g_per_kwh if key in catalog.regions),
                          key=lambda key: (distance_km(site.location.lat, site.location.lon,
                                                       catalog.regions[key].lat, catalog.regions[key].lon), key))
            intensity[site.name] = catalog.carbon_g_per_kwh[nearest]
    policy = estate.carbon
    return CarbonModel(
        intensity_g_per_kwh=intensity, pue=pue, watts=catalog.accelerator_watts,
        price_usd_per_kg=(policy.price_usd_per_tonne or 0.0) / 1000.0 if policy else 0.0,
        cap_kg=policy.cap_kg_per_month if policy else None)


@dataclass(frozen=True)
class Candidate:
    """One way to run a workload, with its monthly cost at that place before shared decisions."""

    workload: str
    place: str
    instance_type: str
    accelerator: str | None
    accelerators_per_node: int
    nodes: int
    replicas: int
    purchase: str  # on_demand | spot | owned
    node_hours: float  # per month, including spot overhead
    run_hours: float  # wall time of one run
    spot_overhead: float
    compute_usd: float
    stream_usd: float  # reading every dataset remotely at this place (0 when local)
    storage_usd: float  # the workload's outputs kept at this place
    usage: tuple[tuple[PoolKey, float], ...]  # capacity pools this candidate draws on
    carbon_kg: float = 0.0  # kgCO2e per month (energy x PUE x grid intensity)
    capacity_rps: float = 0.0  # multi-site serving: requests/s of ONE replica; costs above are per replica

    @property
    def standalone_usd(self) -> float:
        return self.compute_usd + self.stream_usd + self.storage_usd


@dataclass(frozen=True)
class Exclusion:
    workload: str
    place: str
    category: str  # sovereignty | pinned | accelerator | capacity | deadline | spot
    reason: str


@dataclass(frozen=True)
class CandidateSet:
    """Candidates per workload (sorted, deterministic), exclusions, and the capacity of each pool."""

    by_workload: Mapping[str, tuple[Candidate, ...]]
    exclusions: tuple[Exclusion, ...]
    capacities: Mapping[PoolKey, float]
    stream_usd: Mapping[tuple[str, str, str], float]  # (workload, dataset, place) -> $/month if streamed

    @property
    def count(self) -> int:
        return sum(len(c) for c in self.by_workload.values())


def place_jurisdiction(estate: Estate, catalog: Catalog, place: str) -> tuple[str, bool]:
    """(jurisdiction, is_onprem) of a place: what a data-class rule needs to judge it."""
    parsed = parse_place(place)
    if parsed:
        return catalog.regions[parsed].jurisdiction, False
    site = estate.private_site(place)
    assert site is not None
    return site.jurisdiction, site.kind == "onprem"


def storage_price(estate: Estate, catalog: Catalog, place: str) -> float:
    parsed = parse_place(place)
    if parsed:
        return catalog.storage_usd_per_gb_month[parsed[0]]
    site = estate.private_site(place)
    assert site is not None
    return site.storage_usd_per_gb_month


def data_classes_by_workload(estate: Estate) -> dict[str, list[str]]:
    """Per workload: classes of the datasets read, the upstream outputs consumed, the outputs written."""
    datasets = {d.name: d.data_class for d in estate.datasets}
    outputs = {w.name: {out.data_class for out in w.outputs} for w in estate.workloads}
    result = {}
    for workload in estate.workloads:
        classes = {datasets[read.dataset] for read in workload.reads} | outputs[workload.name]
        for upstream in workload.depends_on:
            classes |= outputs[upstream]
        result[workload.name] = sorted(classes)
    return result


def workload_data_classes(estate: Estate, workload: Workload) -> list[str]:
    """The data classes one workload touches (see data_classes_by_workload for all at once)."""
    return data_classes_by_workload(estate)[workload.name]


def find_candidate(candidates: Iterable[Candidate], placement: "Placement") -> Candidate | None:
    """The candidate a plan placement uses. A multi-site service's placement stands for its primary
    site, whose option is priced per replica, so its node count is not compared."""
    for candidate in candidates:
        if (candidate.place, candidate.instance_type, candidate.purchase) == (
                placement.place, placement.instance_type, placement.purchase) and (
                placement.serving_sites or candidate.nodes == placement.nodes):
            return candidate
    return None


def _matches(option: AcceleratorOption, accelerator: str) -> bool:
    wanted = option.type.lower()
    return accelerator.lower() == wanted or accelerator_family(accelerator).lower() == wanted


def _spot_rate(estate: Estate, cloud: str) -> float:
    for account in estate.clouds:
        if account.cloud == cloud:
            return account.spot_interruptions_per_hour
    return 0.0


def _run_hours(workload: Workload, speedup: float, overhead: float) -> float:
    return workload.hours_per_run / speedup * (1.0 + overhead)


def _cloud_candidates(estate: Estate, workload: Workload, place: str, offers: Mapping[str, tuple[Offer, ...]],
                      quotas: Mapping[str, int], exclusions: list[Exclusion],
                      keep: frozenset[tuple[str, str, str, str]], carbon: CarbonModel) -> list[Candidate]:
    """Priced node options for one workload in one cloud region.

    Options that draw on no capacity pool differ only in (carbon-priced) cost here, so only the
    cheapest of them is materialised (the one dominance pruning would keep); the rest never become
    objects. Under a carbon cap, emissions are a pool, so every option is kept for pruning.
    """
    cloud = parse_place(place)[0]  # type: ignore[index]
    rate = _spot_rate(estate, cloud)
    # raw option: (effective $, node type, purchase, nodes, offer, replicas, overhead, run hours, hours, usage,
    #              compute $, kgCO2e)
    cheapest_free: tuple | None = None
    others: list[tuple] = []
    over_quota: list[str] = []
    too_slow: list[tuple[str, str, float]] = []
    options: list[tuple[AcceleratorOption | None, float]] = (
        [(option, option.speedup) for option in workload.accelerators] or [(None, 1.0)])
    batch = workload.kind != "inference"
    per_replica_pricing = bool(workload.serves)  # multi-site serving: the solver sizes replicas per place
    for option, speedup in options:
        replicas = 1 if batch or per_replica_pricing else math.ceil(workload.replicas / speedup)
        rps = (workload.replica_requests_per_second or 0.0) * speedup if per_replica_pricing else 0.0
        base_hours = workload.monthly_hours / (speedup if batch else 1.0)
        for offer in offers.get(option.type.lower() if option else "", ()):
            if option is None:
                if offer.accelerator is not None or offer.vcpus <= 0 or offer.memory_gib <= 0:
                    continue
                per_replica = max(math.ceil(workload.vcpus / offer.vcpus),
                                  math.ceil(workload.memory_gib / offer.memory_gib))
                if per_replica > _MAX_CPU_NODES:
                    continue
            else:
                if offer.accelerator is None or not _matches(option, offer.accelerator):
                    continue
                if offer.is_tpu:
                    if offer.accelerators_per_node < option.count:
                        continue
                    per_replica = 1
                else:
                    per_replica = math.ceil(option.count / offer.accelerators_per_node)
                    if offer.vcpus > 0:
                        per_replica = max(per_replica, math.ceil(workload.vcpus / offer.vcpus))
                    if offer.memory_gib > 0:  # a run needs its memory too, as on CPU nodes
                        per_replica = max(per_replica, math.ceil(workload.memory_gib / offer.memory_gib))
            nodes = per_replica * replicas
            usage: tuple[tuple[PoolKey, float], ...] = ()
            family = offer.family
            if family is not None and family in quotas:
                devices = nodes * offer.accelerators_per_node
                if devices > quotas[family]:
                    if len(over_quota) < 3:
                        over_quota.append(f"{devices} {family} devices on {offer.instance_type} exceed the "
                                          f"quota of {quotas[family]}")
                    continue
                usage = ((("quota", place, family), float(devices)),)
            purchases = [("on_demand", offer.on_demand_usd_per_hour, 0.0)]
            if offer.spot_usd_per_hour is not None and workload.checkpointing and batch:
                purchases.append(("spot", offer.spot_usd_per_hour, rate * workload.restart_cost_hours))
            for purchase, price, overhead in purchases:
                run_hours = _run_hours(workload, speedup, overhead)
                if batch and workload.deadline_hours is not None and run_hours > workload.deadline_hours:
                    if len(too_slow) < 3:
                        too_slow.append((offer.instance_type, purchase, run_hours))
                    continue
                hours = base_hours * (1 + overhead)
                compute = round(nodes * hours * price, 6)
                kg = round(carbon.kg(place, nodes * hours, carbon.node_kw(offer.accelerator,
                                                                         offer.accelerators_per_node,
                                                                         offer.vcpus)), 6)
                option_usage = usage + (((CARBON_POOL, kg),) if carbon.cap_kg is not None else ())
                raw = (round(compute + carbon.price_usd_per_kg * kg, 6), offer.instance_type, purchase, nodes, offer,
                       replicas, overhead, run_hours, hours, option_usage, compute, kg, rps)
                if option_usage or per_replica_pricing or (workload.name, place, offer.instance_type, purchase) in keep:
                    others.append(raw)
                elif cheapest_free is None or raw[:4] < cheapest_free[:4]:
                    cheapest_free = raw
    raws = others + ([cheapest_free] if cheapest_free is not None else [])
    results = [Candidate(
        workload=workload.name, place=place, instance_type=instance_type, accelerator=offer.accelerator,
        accelerators_per_node=offer.accelerators_per_node, nodes=nodes, replicas=replicas, purchase=purchase,
        node_hours=round(nodes * hours, 6), run_hours=round(run_hours, 6), spot_overhead=round(overhead, 6),
        compute_usd=compute, stream_usd=0.0, storage_usd=0.0, usage=usage, carbon_kg=kg, capacity_rps=rps)
        for _, instance_type, purchase, nodes, offer, replicas, overhead, run_hours, hours, usage, compute, kg, rps
        in raws]
    if not results:
        if over_quota:
            exclusions.append(Exclusion(workload.name, place, "capacity", "; ".join(sorted(set(over_quota)))))
        elif too_slow:
            slow = "; ".join(f"{t} {p} needs {h:.1f} h" for t, p, h in too_slow)
            exclusions.append(Exclusion(workload.name, place, "deadline",
                                        f"no node type meets the {workload.deadline_hours} h deadline ({slow})"))
        else:
            wanted = ", ".join(f"{o.count}x {o.type}" for o in workload.accelerators) or "CPU nodes"
            exclusions.append(Exclusion(workload.name, place, "accelerator", f"no offer of {wanted} in {place}"))
    return results


def _private_candidates(workload: Workload, site: OnPremSite | EdgeSite,
                        exclusions: list[Exclusion], carbon: CarbonModel) -> list[Candidate]:
    results: list[Candidate] = []
    reasons: list[tuple[str, str]] = []
    options: list[tuple[AcceleratorOption | None, float]] = (
        [(option, option.speedup) for option in workload.accelerators] or [(None, 1.0)])
    per_replica_pricing = bool(workload.serves)
    for option, speedup in options:
        replicas = math.ceil(workload.replicas / speedup) \
            if workload.kind == "inference" and not per_replica_pricing else 1
        rps = (workload.replica_requests_per_second or 0.0) * speedup if per_replica_pricing else 0.0
        vcpus = workload.vcpus * replicas
        if vcpus > site.vcpus or workload.memory_gib * replicas > site.memory_gib:
            reasons.append(("capacity", f"needs {vcpus:g} vCPUs / {workload.memory_gib * replicas:g} GiB, "
                                        f"site has {site.vcpus} / {site.memory_gib:g}"))
            continue
        hours = workload.monthly_hours / (1.0 if workload.kind == "inference" else speedup)
        run_hours = _run_hours(workload, speedup, 0.0)
        if workload.deadline_hours is not None and workload.kind != "inference" \
                and run_hours > workload.deadline_hours:
            reasons.append(("deadline", f"needs {run_hours:.1f} h, deadline {workload.deadline_hours} h"))
            continue
        usage: list[tuple[PoolKey, float]] = [(("vcpus", site.name, ""), vcpus * hours)]
        if option is None:
            inventory_type, devices, device_price = None, 0, 0.0
        else:
            match = next((inv for inv in site.accelerators if _matches(option, inv.type)), None)
            if match is None:
                reasons.append(("accelerator", f"has no {option.type}"))
                continue
            devices = option.count * replicas
            if devices > match.count:
                reasons.append(("capacity", f"needs {devices} {match.type}, site has {match.count}"))
                continue
            inventory_type, device_price = match.type, match.usd_per_hour
            usage.append((("devices", site.name, match.type), devices * hours))
        compute = hours * (devices * device_price + vcpus * site.usd_per_vcpu_hour)
        kg = carbon.kg(site.name, hours, carbon.node_kw(inventory_type, devices, vcpus))
        if carbon.cap_kg is not None:
            usage.append((CARBON_POOL, round(kg, 6)))
        results.append(Candidate(
            workload=workload.name, place=site.name,
            instance_type=f"{site.kind}-{(inventory_type or 'cpu').lower()}",
            accelerator=inventory_type, accelerators_per_node=devices, nodes=1 if devices or vcpus else 0,
            replicas=replicas, purchase="owned", node_hours=round(hours, 6), run_hours=round(run_hours, 6),
            spot_overhead=0.0, compute_usd=round(compute, 6), stream_usd=0.0, storage_usd=0.0,
            usage=tuple(usage), carbon_kg=round(kg, 6), capacity_rps=rps))
    if not results:
        category, _ = reasons[0] if reasons else ("accelerator", "")
        unique = list(dict.fromkeys(reason for _, reason in reasons))
        exclusions.append(Exclusion(workload.name, site.name, category, "; ".join(unique) or "no usable inventory"))
    return results


def _index_offers(offers: Iterable[Offer]) -> dict[str, tuple[Offer, ...]]:
    """Offers of one region by lower-case accelerator name and family ("" = CPU-only nodes)."""
    index: dict[str, list[Offer]] = defaultdict(list)
    for offer in offers:
        if offer.accelerator is None:
            index[""].append(offer)
        else:
            keys = {offer.accelerator.lower(), accelerator_family(offer.accelerator).lower()}
            for key in sorted(keys):
                index[key].append(offer)
    return {key: tuple(value) for key, value in index.items()}


def _prune(candidates: list[Candidate], keep: frozenset[tuple[str, str, str, str]] = frozenset(),
           carbon_price_usd_per_kg: float = 0.0) -> list[Candidate]:
    """Keep candidates not dominated in (cost incl. carbon price, usage of every pool) at one place."""
    ordered = sorted(candidates, key=lambda c: (round(c.compute_usd + carbon_price_usd_per_kg * c.carbon_kg, 6),
                                                c.instance_type, c.purchase, c.nodes))
    kept: list[Candidate] = []
    for candidate in ordered:
        if (candidate.workload, candidate.place, candidate.instance_type, candidate.purchase) in keep:
            kept.append(candidate)
            continue
        usage = dict(candidate.usage)
        dominated = False
        for better in kept:
            better_usage = dict(better.usage)
            if set(better_usage) <= set(usage) and all(better_usage[k] <= usage[k] for k in better_usage) \
                    and better.capacity_rps >= candidate.capacity_rps:
                dominated = True
                break
        if not dominated:
            kept.append(candidate)
    return kept


def enumerate_candidates(estate: Estate, catalog: Catalog, rules: SovereigntyRules,
                         network: NetworkCosts, keep: frozenset[tuple[str, str, str, str]] = frozenset(),
                         carbon: CarbonModel | None = None) -> CandidateSet:
    """All feasible-on-their-own candidates per workload, priced for a month.

    ``keep`` lists (workload, place, node type, purchase) options exempt from dominance pruning:
    re-optimization needs the deployed option priced even when a cheaper one exists at its place.
    """
    carbon = carbon or carbon_model(estate, catalog)
    datasets = {d.name: d for d in estate.datasets}
    quotas_by_place: dict[str, Mapping[str, int]] = {}
    for account in estate.clouds:
        for region in account.regions:
            quotas_by_place[f"{account.cloud}:{region}"] = account.quotas.get(region, {})
    capacities: dict[PoolKey, float] = {}
    for place, quotas in quotas_by_place.items():
        for family, limit in quotas.items():
            capacities[("quota", place, family)] = float(limit)
    for site in [*estate.onprem, *estate.edge]:
        month = 730.0 * site.max_utilization
        capacities[("vcpus", site.name, "")] = site.vcpus * month
        for inventory in site.accelerators:
            capacities[("devices", site.name, inventory.type)] = inventory.count * month
    if carbon.cap_kg is not None:
        capacities[CARBON_POOL] = carbon.cap_kg

    offer_index = {place: _index_offers(catalog.offers_in(*parse_place(place)))  # type: ignore[misc]
                   for place in estate.places() if parse_place(place)}
    by_workload: dict[str, tuple[Candidate, ...]] = {}
    exclusions: list[Exclusion] = []
    stream: dict[tuple[str, str, str], float] = {}
    places = estate.places()
    classes_of = data_classes_by_workload(estate)
    for workload in estate.workloads:
        classes = classes_of[workload.name]
        candidates: list[Candidate] = []
        for place in places:
            jurisdiction, onprem = place_jurisdiction(estate, catalog, place)
            violations = [v for v in (rules.rule(c).violation(jurisdiction, onprem=onprem) for c in classes) if v]
            if violations:
                exclusions.append(Exclusion(workload.name, place, "sovereignty", violations[0]))
                continue
            if workload.allowed_places is not None and place not in workload.allowed_places:
                exclusions.append(Exclusion(workload.name, place, "pinned", "not in the workload's allowed_places"))
                continue
            site = estate.private_site(place)
            if site is not None:
                found = _private_candidates(workload, site, exclusions, carbon)
            else:
                cloud, region = parse_place(place)  # type: ignore[misc]
                found = _cloud_candidates(estate, workload, place, offer_index[place],
                                          quotas_by_place.get(place, {}), exclusions, keep, carbon)
            if not found:
                continue
            stream_usd = 0.0
            for read in workload.reads:
                dataset = datasets[read.dataset]
                cost = dataset.size_gb * read.passes * workload.runs * network.usd_per_gb(dataset.location, place)
                if cost > 0:  # summed: a workload may list the same dataset twice
                    key = (workload.name, dataset.name, place)
                    stream[key] = round(stream.get(key, 0.0) + cost, 6)
                stream_usd += cost
            outputs_gb = sum(out.size_gb for out in workload.outputs)
            storage_usd = outputs_gb * storage_price(estate, catalog, place)
            candidates.extend(
                Candidate(**{**c.__dict__, "stream_usd": round(stream_usd, 6), "storage_usd": round(storage_usd, 6)})
                for c in _prune(found, keep, carbon.price_usd_per_kg))
        by_workload[workload.name] = tuple(candidates)
    return CandidateSet(by_workload=by_workload, exclusions=tuple(exclusions), capacities=capacities,
                        stream_usd=stream)
