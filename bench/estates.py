"""Seeded random enterprise estates of any size, for the solver benchmark.

Workloads come in pipelines (preprocess -> train -> serve, sometimes tune) owned by teams, reading
datasets of mixed data classes spread over on-prem sites and cloud regions, with quotas and on-prem
inventory that scale with the estate so that it stays feasible but capacity still binds.
"""

from __future__ import annotations

import random

__all__ = ["random_enterprise_estate"]

_AWS_REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-central-1", "eu-west-1", "eu-north-1"]
_GCP_REGIONS = ["us-central1", "us-east4", "europe-west4", "europe-west1"]
_DATA_CLASSES = ["internal", "internal", "eu-personal", "us-personal", "public"]
_EU_PLACES = ["dc-frankfurt", "aws:eu-central-1", "aws:eu-west-1", "gcp:europe-west4"]
_US_PLACES = ["dc-virginia", "aws:us-east-1", "aws:us-west-2", "gcp:us-central1"]
_TRAINING = [
    [{"type": "A100", "count": 8}, {"type": "H100", "count": 8, "speedup": 2.0}],
    [{"type": "A100", "count": 4}, {"type": "L40S", "count": 4, "speedup": 0.8}],
    [{"type": "H100", "count": 16}, {"type": "tpu-v5p", "count": 16, "speedup": 0.9}],
    [{"type": "A100", "count": 8}, {"type": "Trainium", "count": 16, "speedup": 0.9}],
]
_SERVING = [
    [{"type": "L4", "count": 1}, {"type": "A10G", "count": 1, "speedup": 0.8}],
    [{"type": "L4", "count": 1}, {"type": "Inferentia2", "count": 1, "speedup": 0.9}],
    [{"type": "A10G", "count": 1}, {"type": "L40S", "count": 1, "speedup": 1.6}],
]


_CITIES = [("frankfurt", 50.11, 8.68), ("paris", 48.86, 2.35), ("dublin", 53.35, -6.26),
           ("amsterdam", 52.37, 4.90), ("stockholm", 59.33, 18.07), ("new-york", 40.71, -74.01),
           ("chicago", 41.88, -87.63), ("dallas", 32.78, -96.80), ("seattle", 47.61, -122.33),
           ("atlanta", 33.75, -84.39)]


def random_enterprise_estate(seed: int, workloads: int, *, extended: bool = False) -> dict:
    """An estate document with about ``workloads`` workloads (a multiple of the pipeline sizes).

    ``extended`` adds the second-generation features: user populations served from several places
    within latency targets (multi-site inference), and federated training over datasets at two sites.
    """
    rng = random.Random(seed)
    scale = max(1, workloads // 40)
    estate: dict = {
        "name": f"bench-{workloads}-{seed}",
        "home": {"cloud": "aws", "region": "us-east-1"},
        "onprem": [
            {"name": "dc-frankfurt", "jurisdiction": "EU", "location": {"lat": 50.1, "lon": 8.7},
             "accelerators": [{"type": "A100", "count": 16 * scale, "usd_per_hour": 1.2}],
             "vcpus": 512 * scale, "memory_gib": 4096 * scale, "usd_per_vcpu_hour": 0.02,
             "wan_egress_usd_per_gb": 0.01, "storage_usd_per_gb_month": 0.01},
            {"name": "dc-virginia", "jurisdiction": "US", "location": {"lat": 38.9, "lon": -77.4},
             "accelerators": [{"type": "H100", "count": 16 * scale, "usd_per_hour": 2.4}],
             "vcpus": 512 * scale, "memory_gib": 4096 * scale, "usd_per_vcpu_hour": 0.02,
             "wan_egress_usd_per_gb": 0.01, "storage_usd_per_gb_month": 0.01},
        ],
        "clouds": [
            {"cloud": "aws", "regions": _AWS_REGIONS,
             "quotas": {"us-east-1": {"H100": 32 * scale, "A100": 32 * scale},
                        "eu-central-1": {"H100": 16 * scale, "A100": 16 * scale}}},
            {"cloud": "gcp", "regions": _GCP_REGIONS,
             "quotas": {"europe-west4": {"tpu-v5p": 64 * scale}}},
        ],
        "network": {"links": [
            {"a": "dc-frankfurt", "b": "aws:eu-central-1", "usd_per_gb": 0.02, "bandwidth_gbps": 10},
            {"a": "dc-virginia", "b": "aws:us-east-1", "usd_per_gb": 0.02, "bandwidth_gbps": 10},
        ]},
        "datasets": [],
        "workloads": [],
    }
    count = 0
    pipeline = 0
    while count < workloads:
        pipeline += 1
        team = f"team-{rng.randrange(max(2, workloads // 25))}"
        data_class = rng.choice(_DATA_CLASSES)
        places = _EU_PLACES if data_class == "eu-personal" else _US_PLACES if data_class == "us-personal" else \
            _EU_PLACES + _US_PLACES
        raw = f"raw-{pipeline}"
        estate["datasets"].append({"name": raw, "location": rng.choice(places),
                                   "size_gb": rng.choice([200, 1000, 5000, 20000]), "data_class": data_class})
        prep, train, serve = f"prep-{pipeline}", f"train-{pipeline}", f"serve-{pipeline}"
        if extended and rng.random() < 0.2:  # a federated pipeline: two sites keep their own data
            shards = []
            for shard, location in enumerate(rng.sample(places, 2)):
                shards.append(f"shard-{pipeline}-{shard}")
                estate["datasets"].append({"name": shards[-1], "location": location,
                                           "size_gb": rng.choice([500, 5000]), "data_class": data_class})
            update_class = "eu-model-weights" if data_class == "eu-personal" else "internal"
            estate["workloads"].append({
                "name": train, "kind": "training", "team": team,
                "accelerators": [{"type": "A100", "count": 4}, {"type": "H100", "count": 4, "speedup": 2.0}],
                "vcpus": 48, "memory_gib": 384, "hours_per_run": 12, "runs_per_month": 2,
                "reads": [{"dataset": shard} for shard in shards], "checkpointing": True,
                "outputs": [{"name": f"model-{pipeline}", "size_gb": 10, "data_class": update_class}],
                "federation": {"rounds_per_run": rng.choice([50, 200]), "update_gb": rng.choice([0.5, 2]),
                               "update_data_class": update_class}})
            count += 1
            continue
        estate["workloads"].append({
            "name": prep, "kind": "preprocessing", "team": team, "vcpus": rng.choice([16, 64, 192]),
            "memory_gib": rng.choice([64, 256, 768]), "hours_per_run": rng.choice([2, 6, 12]),
            "runs_per_month": rng.choice([4, 8, 30]), "reads": [{"dataset": raw}],
            "outputs": [{"name": f"features-{pipeline}", "size_gb": rng.choice([50, 200, 1000]),
                         "data_class": data_class}],
            "checkpointing": rng.random() < 0.7})
        count += 1
        if count >= workloads:
            break
        estate["workloads"].append({
            "name": train, "kind": "training", "team": team, "accelerators": rng.choice(_TRAINING),
            "vcpus": 48, "memory_gib": 384, "hours_per_run": rng.choice([8, 24, 72]),
            "runs_per_month": rng.choice([1, 2, 4]), "reads": [{"dataset": raw, "passes": rng.choice([1, 3])}],
            "depends_on": [prep], "checkpointing": rng.random() < 0.6,
            "outputs": [{"name": f"model-{pipeline}", "size_gb": rng.choice([2, 20, 140]),
                         "data_class": data_class}]})
        count += 1
        if count >= workloads:
            break
        service = {"name": serve, "kind": "inference", "team": team, "accelerators": rng.choice(_SERVING),
                   "vcpus": 4, "memory_gib": 16, "replicas": rng.choice([1, 2, 4]), "depends_on": [train]}
        if extended:
            eu = data_class == "eu-personal"
            cities = [c for c in _CITIES[:5]] if eu else [c for c in _CITIES[5:]] if data_class == "us-personal" \
                else _CITIES
            chosen = rng.sample(cities, rng.randint(2, 4))
            service.pop("replicas")
            service["replica_requests_per_second"] = rng.choice([20, 40])
            service["serves"] = [f"users-{name}-{pipeline}" for name, _, _ in chosen]
            for name, lat, lon in chosen:
                estate.setdefault("populations", []).append({
                    "name": f"users-{name}-{pipeline}", "location": {"lat": lat, "lon": lon},
                    "requests_per_second": rng.choice([10, 50, 120]), "latency_ms": rng.choice([20, 30, 60])})
        estate["workloads"].append(service)
        count += 1
        if count < workloads and rng.random() < 0.25:
            estate["workloads"].append({
                "name": f"tune-{pipeline}", "kind": "tuning", "team": team,
                "accelerators": [{"type": "A100", "count": 1}, {"type": "L4", "count": 2, "speedup": 0.7}],
                "vcpus": 8, "memory_gib": 64, "hours_per_run": 4, "runs_per_month": 8,
                "depends_on": [train], "checkpointing": True,
                "outputs": [{"name": f"tuned-{pipeline}", "size_gb": 20, "data_class": data_class}]})
            count += 1
    return estate
