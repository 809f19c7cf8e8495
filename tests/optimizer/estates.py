"""Seeded random small estates for the optimizer's tests (and anyone else who wants them).

``random_estate(seed, workloads)`` returns a plain estate *document* (the dict a YAML file holds):
1-2 on-prem sites, a few real AWS/GCP regions of catalog/2026-11-29, datasets of mixed data classes
(each stored somewhere its class allows), 2-5 workloads wired into a DAG, regional quotas and
on-prem inventory that sometimes bind, checkpointing (spot-eligible) jobs, deadlines and an
optional budget. Estates are small on purpose: a brute-force oracle must be able to enumerate
every combination of candidates. Some are infeasible on purpose too (tight quotas, budgets).

The module depends on the standard library only, so a benchmark can import it as-is.
"""

from __future__ import annotations

import random

__all__ = ["EU_REGIONS", "US_REGIONS", "SITES", "random_estate"]

# (cloud, region) of catalog/2026-11-29/regions.csv, by jurisdiction.
EU_REGIONS = [("aws", "eu-central-1"), ("aws", "eu-west-1"), ("aws", "eu-north-1"),
              ("gcp", "europe-west4"), ("gcp", "europe-west1")]
US_REGIONS = [("aws", "us-east-1"), ("aws", "us-east-2"), ("aws", "us-west-2"),
              ("gcp", "us-central1"), ("gcp", "us-east4")]
# name -> (jurisdiction, lat, lon)
SITES = {"dc-frankfurt": ("EU", 50.11, 8.68), "dc-paris": ("EU", 48.86, 2.35),
         "dc-virginia": ("US", 38.90, -77.40)}

_TRAINING = [
    [{"type": "A100", "count": 8}, {"type": "H100", "count": 8, "speedup": 2.0}],
    [{"type": "A100", "count": 4}, {"type": "L40S", "count": 4, "speedup": 0.8}],
    [{"type": "H100", "count": 8}, {"type": "tpu-v5p", "count": 8, "speedup": 0.9}],
    [{"type": "A100", "count": 1}, {"type": "L4", "count": 2, "speedup": 0.7}],
    [{"type": "L4", "count": 1}],
]
_SERVING = [
    [{"type": "L4", "count": 1}, {"type": "A10G", "count": 1, "speedup": 0.8}],
    [{"type": "L4", "count": 1}, {"type": "Inferentia2", "count": 1, "speedup": 0.9}],
    [{"type": "A10G", "count": 1}, {"type": "L40S", "count": 1, "speedup": 1.6}],
]
# data class -> weight
_CLASSES = [("public", 2), ("internal", 3), ("eu-personal", 3), ("us-personal", 2), ("us-phi", 1),
            ("eu-health-sensitive", 1)]


def _allowed(data_class: str, place: str, sites: dict[str, str], regions: dict[str, str]) -> bool:
    """Whether ``place`` may hold ``data_class`` (mirrors policy/sovereignty.yaml for these classes)."""
    if place in sites:
        jurisdiction, onprem = sites[place], True
    else:
        jurisdiction, onprem = regions[place], False
    if data_class in ("public", "internal"):
        return True
    if data_class == "eu-health-sensitive":
        return onprem and jurisdiction == "EU"
    if data_class in ("eu-personal", "eu-model-weights"):
        return jurisdiction == "EU"
    return jurisdiction == "US"  # us-personal, us-phi


def _compatible(data_class: str, family: str) -> bool:
    """Whether a class may be processed in the EU ('EU') or the US ('US') family of places."""
    if data_class.startswith("eu-"):
        return family == "EU"
    if data_class.startswith("us-"):
        return family == "US"
    return True


def random_estate(seed: int, workloads: int = 3, *, sites: int | None = None, regions: int | None = None,
                  budget: bool | None = None, tight: float = 0.3, contention: bool = False) -> dict:
    """A small random estate document.

    ``workloads`` is the exact number of workloads; ``sites`` (1-2) and ``regions`` (cloud regions
    in total, 2-6) default to random choices; ``budget`` True/False forces a budget on or off
    (None: random); ``tight`` is the probability of a quota or inventory small enough to bind;
    ``contention`` makes every GPU job want 8 A100 or 8 H100 from small quotas and inventories.
    """
    if workloads < 1:
        raise ValueError("workloads must be at least 1")
    rng = random.Random(seed)
    site_count = sites if sites is not None else rng.choice([1, 1, 2])
    region_count = regions if regions is not None else rng.randint(3, 5)
    site_names = rng.sample(sorted(SITES), site_count)
    chosen_regions = sorted(rng.sample(EU_REGIONS + US_REGIONS, region_count))
    region_jurisdiction = {f"{cloud}:{region}": ("EU" if (cloud, region) in EU_REGIONS else "US")
                           for cloud, region in chosen_regions}
    site_jurisdiction = {name: SITES[name][0] for name in site_names}
    places = site_names + sorted(region_jurisdiction)

    onprem = []
    for name in site_names:
        jurisdiction, lat, lon = SITES[name]
        inventory = []
        for accelerator, price in rng.sample([("A100", 1.3), ("H100", 2.4), ("L4", 0.35)], rng.randint(1, 2)):
            count = rng.choice([2, 4] if rng.random() < tight else [8, 16])
            inventory.append({"type": accelerator, "count": count, "usd_per_hour": round(price * rng.uniform(0.7, 1.4), 3)})
        onprem.append({
            "name": name, "jurisdiction": jurisdiction, "location": {"lat": lat, "lon": lon},
            "accelerators": inventory, "vcpus": rng.choice([64, 256, 512]), "memory_gib": rng.choice([512, 2048]),
            "usd_per_vcpu_hour": rng.choice([0.01, 0.02, 0.04]),
            "max_utilization": rng.choice([0.5, 0.85, 1.0]),
            "wan_egress_usd_per_gb": rng.choice([0.0, 0.01, 0.05]),
            "storage_usd_per_gb_month": rng.choice([0.008, 0.012, 0.03])})

    clouds = []
    for cloud in ("aws", "gcp"):
        names = [region for c, region in chosen_regions if c == cloud]
        if not names:
            continue
        quotas: dict[str, dict[str, int]] = {}
        for region in names:
            if rng.random() < 0.6:
                families = ["A100", "H100", "L4"] + (["tpu-v5p"] if cloud == "gcp" else [])
                quotas[region] = {family: rng.choice([0, 4, 8, 12] if rng.random() < tight else [16, 32])
                                  for family in rng.sample(families, rng.randint(1, 2))}
        clouds.append({"cloud": cloud, "regions": names, "quotas": quotas,
                       "spot_interruptions_per_hour": rng.choice([0.0, 0.02, 0.1])})

    links = []
    for name in site_names:
        if rng.random() < 0.5:
            links.append({"a": name, "b": rng.choice(sorted(region_jurisdiction)),
                          "usd_per_gb": rng.choice([0.0, 0.005, 0.02]), "bandwidth_gbps": 10})

    datasets = []
    names, weights = zip(*_CLASSES)
    for index in range(rng.randint(1, 3)):
        data_class = rng.choices(names, weights)[0]
        homes = [p for p in places if _allowed(data_class, p, site_jurisdiction, region_jurisdiction)]
        if not homes:
            data_class, homes = "internal", places
        datasets.append({"name": f"data-{index}", "location": rng.choice(homes),
                         "size_gb": rng.choice([50, 500, 2000, 10000]), "data_class": data_class,
                         "updates_per_month": rng.choice([0.5, 1, 4])})

    items: list[dict] = []
    items_by_name: dict[str, dict] = {}
    for index in range(workloads):
        kind = rng.choice(["preprocessing", "training", "training", "tuning", "inference"])
        name = f"w{index}-{kind[:5]}"
        upstream = [items[i]["name"] for i in range(index) if rng.random() < 0.5]
        workload: dict = {"name": name, "kind": kind, "team": rng.choice(["team-a", "team-b"])}
        if kind == "preprocessing":
            workload.update(vcpus=rng.choice([8, 32, 96]), memory_gib=rng.choice([32, 128, 384]),
                            hours_per_run=rng.choice([1, 4, 10]), runs_per_month=rng.choice([4, 8, 30]))
        elif kind == "inference":
            workload.update(accelerators=rng.choice(_SERVING), vcpus=4, memory_gib=16,
                            replicas=rng.choice([1, 2, 3]))
        else:
            workload.update(accelerators=rng.choice(_TRAINING), vcpus=rng.choice([8, 48]),
                            memory_gib=rng.choice([64, 384]), hours_per_run=rng.choice([4, 12, 24, 72]),
                            runs_per_month=rng.choice([1, 2, 4]))
        # Mostly keep a workload's data within one jurisdiction family (EU or US), so that most
        # estates are feasible; now and then mix them to produce a sovereignty dead end.
        family = rng.choice(["EU", "US"])
        mix = rng.random() < 0.05
        upstream = [u for u in upstream if mix or all(_compatible(o["data_class"], family)
                                                     for o in items_by_name[u].get("outputs", []))]
        readable = [d for d in datasets if mix or _compatible(d["data_class"], family)]
        reads = rng.sample(readable, rng.randint(0, min(2, len(readable))))
        if reads:
            workload["reads"] = [{"dataset": d["name"], "passes": rng.choice([1, 3])} for d in reads]
        touched = [d["data_class"] for d in reads] + [o["data_class"] for u in upstream
                                                       for o in items_by_name[u].get("outputs", [])]
        if upstream:
            workload["depends_on"] = upstream
        if kind != "inference":
            out_class = rng.choice(touched) if touched and rng.random() < 0.7 else "internal"
            workload["outputs"] = [{"name": f"out-{index}", "size_gb": rng.choice([5, 50, 400]),
                                    "data_class": out_class}]
            workload["checkpointing"] = rng.random() < 0.6
            workload["restart_cost_hours"] = rng.choice([0.1, 0.5])
            if rng.random() < 0.3:
                fastest = max((o.get("speedup", 1.0) for o in workload.get("accelerators", [])), default=1.0)
                factors = [1.0, 1.5] + ([0.6] if fastest >= 2 or rng.random() < 0.1 else [])
                workload["deadline_hours"] = round(workload["hours_per_run"] * rng.choice(factors), 3)
        items.append(workload)
        items_by_name[name] = workload

    estate: dict = {
        "name": f"random-{seed}",
        "home": {"cloud": chosen_regions[0][0], "region": chosen_regions[0][1]},
        "onprem": onprem,
        "clouds": clouds,
        "network": {"links": links},
        "datasets": datasets,
        "workloads": items,
    }
    if contention:
        # Everyone wants the same GPUs and every pool is small: capacity decides the plan.
        for workload in items:
            if workload["kind"] in ("training", "tuning"):
                workload["accelerators"] = [{"type": "A100", "count": 8}, {"type": "H100", "count": 8, "speedup": 2.0}]
                workload["hours_per_run"] = rng.choice([24, 72])
                workload["runs_per_month"] = rng.choice([2, 4])
                workload.pop("deadline_hours", None)
        for account in clouds:
            account["quotas"] = {region: {"A100": rng.choice([8, 12, 16]), "H100": rng.choice([0, 8, 12])}
                                 for region in account["regions"]}
        for site in onprem:
            site["accelerators"] = [{"type": "A100", "count": 8, "usd_per_hour": 1.0},
                                    {"type": "H100", "count": 8, "usd_per_hour": 1.8}]
            site["max_utilization"] = rng.choice([0.3, 0.5])
    if budget or (budget is None and rng.random() < 0.3):
        estate["budget_usd_per_month"] = rng.choice([500, 1500, 4000, 20000])
    return estate
