"""Candidate enumeration and network prices against hand-computed expectations on tiny estates.

The oracle trusts optimizer.candidates; these tests are why that trust is earned. Prices quoted
in comments come from catalog/2026-11-29 (e.g. gcp_vms.csv: a2-ultragpu-1g us-central1 host
1.09962 + A100-80GB row 1.8462 = 2.94582 $/h) and egress.csv (AWS internet 0.09, GCP internet 0.12, same-
continent inter-region 0.02, us-east-1 <-> us-east-2 0.01 $/GB).
"""

from __future__ import annotations

import math

import pytest

from optimizer.candidates import enumerate_candidates
from optimizer.graph import build_network_graph, network_costs
from tests.optimizer.estates import random_estate
from tests.optimizer.helpers import load_document

DC = {"name": "dc-frankfurt", "jurisdiction": "EU", "location": {"lat": 50.11, "lon": 8.68},
      "accelerators": [{"type": "A100", "count": 8, "usd_per_hour": 1.35}], "vcpus": 256, "memory_gib": 2048,
      "usd_per_vcpu_hour": 0.018, "wan_egress_usd_per_gb": 0.05, "storage_usd_per_gb_month": 0.012}


def estate(workloads, *, datasets=(), onprem=(DC,), clouds=None, links=(), budget=None) -> dict:
    document = {
        "name": "tiny", "home": {"cloud": "aws", "region": "eu-central-1"},
        "onprem": list(onprem),
        "clouds": clouds if clouds is not None else [
            {"cloud": "aws", "regions": ["eu-central-1", "eu-west-1", "us-east-1"]},
            {"cloud": "gcp", "regions": ["europe-west4", "us-central1"]}],
        "network": {"links": list(links)},
        "datasets": list(datasets),
        "workloads": list(workloads),
    }
    if budget is not None:
        document["budget_usd_per_month"] = budget
    return document


def workload(name="job", **fields) -> dict:
    base = {"name": name, "kind": "training", "team": "ml", "vcpus": 8, "memory_gib": 32,
            "hours_per_run": 10, "runs_per_month": 2}
    base.update(fields)
    return base


def enumerate_for(document, catalog):
    loaded = load_document(document)
    network = network_costs(build_network_graph(loaded.estate, catalog))
    return enumerate_candidates(loaded.estate, catalog, loaded.rules, network), network


def places(candidate_set, name="job"):
    return {c.place for c in candidate_set.by_workload[name]}


def excluded(candidate_set, name="job"):
    return {e.place: e for e in candidate_set.exclusions if e.workload == name}


# --- sovereignty --------------------------------------------------------------------------------

def test_eu_personal_reader_may_only_run_in_eu_places(catalog):
    doc = estate([workload(reads=[{"dataset": "eu"}])],
                 datasets=[{"name": "eu", "location": "aws:eu-central-1", "size_gb": 10, "data_class": "eu-personal"}])
    cands, _ = enumerate_for(doc, catalog)
    assert places(cands) == {"dc-frankfurt", "aws:eu-central-1", "aws:eu-west-1", "gcp:europe-west4"}
    why = excluded(cands)
    assert {p for p, e in why.items() if e.category == "sovereignty"} == {"aws:us-east-1", "gcp:us-central1"}
    assert "eu-personal" in why["aws:us-east-1"].reason and "US" in why["aws:us-east-1"].reason


def test_health_sensitive_reader_may_only_run_on_prem(catalog):
    doc = estate([workload(reads=[{"dataset": "scans"}])],
                 datasets=[{"name": "scans", "location": "dc-frankfurt", "size_gb": 10,
                            "data_class": "eu-health-sensitive"}])
    cands, _ = enumerate_for(doc, catalog)
    assert places(cands) == {"dc-frankfurt"}
    assert all(e.category == "sovereignty" for e in excluded(cands).values())
    assert len(excluded(cands)) == 5


def test_classes_of_upstream_outputs_and_own_outputs_count(catalog):
    doc = estate([workload("up", outputs=[{"name": "feats", "size_gb": 1, "data_class": "us-phi"}]),
                  workload("down", depends_on=["up"]),
                  workload("writer", outputs=[{"name": "out-w", "size_gb": 1, "data_class": "eu-personal"}])])
    cands, _ = enumerate_for(doc, catalog)
    assert places(cands, "up") == places(cands, "down") == {"aws:us-east-1", "gcp:us-central1"}
    assert places(cands, "writer") == {"dc-frankfurt", "aws:eu-central-1", "aws:eu-west-1", "gcp:europe-west4"}


def test_allowed_places_pin(catalog):
    doc = estate([workload(allowed_places=["aws:eu-west-1", "dc-frankfurt"])])
    cands, _ = enumerate_for(doc, catalog)
    assert places(cands) == {"aws:eu-west-1", "dc-frankfurt"}
    assert {e.category for e in excluded(cands).values()} == {"pinned"}


# --- accelerators, capacity, deadline, spot ----------------------------------------------------

def test_accelerator_family_matches_and_cheapest_node_type_is_hand_priced(catalog):
    # 1x A100 for 10 h x 2 runs in gcp:us-central1: a2-ultragpu-1g (A100-80GB, family A100) at
    # 2.94582 $/h is cheaper than a2-highgpu-1g at 0.73948 + 2.93391 = 3.67339 $/h.
    doc = estate([workload(accelerators=[{"type": "A100", "count": 1}], allowed_places=["gcp:us-central1"])])
    cands, _ = enumerate_for(doc, catalog)
    (only,) = cands.by_workload["job"]
    assert (only.instance_type, only.accelerator, only.nodes, only.purchase) == \
        ("a2-ultragpu-1g", "A100-80GB", 1, "on_demand")
    assert only.compute_usd == pytest.approx(20 * 2.94582, abs=1e-6)
    assert only.node_hours == pytest.approx(20)


def test_quota_keeps_options_with_usage_and_prunes_dominated_ones(catalog):
    doc = estate([workload(accelerators=[{"type": "A100", "count": 2}], allowed_places=["gcp:us-central1"])],
                 clouds=[{"cloud": "gcp", "regions": ["us-central1"], "quotas": {"us-central1": {"A100": 16}}}])
    cands, _ = enumerate_for(doc, catalog)
    # a2-ultragpu-2g and 2x a2-ultragpu-1g (both 5.89164 $/h for 2 devices) dominate a2-highgpu-2g
    # (7.34677 $/h) and every larger node, all of which draw at least as many quota devices; of the
    # two equal ones exactly one is kept.
    (kept,) = cands.by_workload["job"]
    assert kept.instance_type in {"a2-ultragpu-1g", "a2-ultragpu-2g"}
    assert kept.nodes * kept.accelerators_per_node == 2
    assert kept.usage == ((("quota", "gcp:us-central1", "A100"), 2.0),)
    assert kept.compute_usd == pytest.approx(20 * 5.89164, abs=1e-6)


def test_gpu_node_count_covers_the_memory_a_run_needs(catalog):
    # 1x L4 but 200 GiB of memory: g6.xlarge has 16 GiB, so one node cannot run it.
    doc = estate([workload(accelerators=[{"type": "L4", "count": 1}], vcpus=4, memory_gib=200,
                           allowed_places=["aws:us-east-1"])])
    cands, _ = enumerate_for(doc, catalog)
    offers = {o.instance_type: o for o in catalog.offers_in("aws", "us-east-1")}
    assert cands.by_workload["job"]
    for candidate in cands.by_workload["job"]:
        offer = offers[candidate.instance_type]
        assert candidate.nodes * offer.memory_gib >= 200, candidate


def test_single_job_above_the_regional_quota_is_excluded_with_its_reason(catalog):
    doc = estate([workload(accelerators=[{"type": "H100", "count": 64}], allowed_places=["gcp:europe-west4"])],
                 clouds=[{"cloud": "gcp", "regions": ["europe-west4"], "quotas": {"europe-west4": {"H100": 32}}}])
    cands, _ = enumerate_for(doc, catalog)
    assert cands.by_workload["job"] == ()
    reason = excluded(cands)["gcp:europe-west4"]
    assert reason.category == "capacity"
    assert "64 H100 devices" in reason.reason and "quota of 32" in reason.reason


def test_on_prem_inventory_and_hand_priced_owned_compute(catalog):
    # 8x A100 on-prem, 96 vCPUs, 60 h x 2 runs: 120 h x (8 x 1.35 + 96 x 0.018) = 1503.36 $.
    doc = estate([workload(accelerators=[{"type": "A100", "count": 8}], vcpus=96, hours_per_run=60,
                           allowed_places=["dc-frankfurt"]),
                  workload("big", accelerators=[{"type": "A100", "count": 16}], allowed_places=["dc-frankfurt"])])
    cands, _ = enumerate_for(doc, catalog)
    (owned,) = cands.by_workload["job"]
    assert owned.purchase == "owned" and owned.accelerator == "A100"
    assert owned.compute_usd == pytest.approx(1503.36, abs=1e-6)
    assert dict(owned.usage) == {("vcpus", "dc-frankfurt", ""): 96 * 120.0,
                                 ("devices", "dc-frankfurt", "A100"): 8 * 120.0}
    assert cands.capacities[("devices", "dc-frankfurt", "A100")] == pytest.approx(8 * 730 * 0.85)
    assert cands.by_workload["big"] == ()
    assert excluded(cands, "big")["dc-frankfurt"].category == "capacity"


def test_deadline_keeps_only_options_fast_enough(catalog):
    options = [{"type": "A100", "count": 8}, {"type": "H100", "count": 8, "speedup": 2.0}]
    doc = estate([workload(accelerators=options, hours_per_run=10, deadline_hours=6)],
                 onprem=[{**DC, "accelerators": [{"type": "A100", "count": 8, "usd_per_hour": 1.0}]}])
    cands, _ = enumerate_for(doc, catalog)
    assert cands.by_workload["job"]
    assert all(c.run_hours <= 6 for c in cands.by_workload["job"])
    assert {c.accelerator for c in cands.by_workload["job"]} <= {"H100", "H100-MEGA"}
    assert excluded(cands)["dc-frankfurt"].category == "deadline"  # 10 h on its A100s
    tighter = estate([workload(accelerators=options, hours_per_run=10, deadline_hours=4.9)])
    cands, _ = enumerate_for(tighter, catalog)
    assert cands.by_workload["job"] == ()
    assert "deadline" in {e.category for e in excluded(cands).values()}


def test_spot_only_for_checkpointing_batch_jobs_with_the_overhead_priced_in(catalog):
    clouds = [{"cloud": "aws", "regions": ["eu-central-1"], "spot_interruptions_per_hour": 0.1}]
    offers = {o.instance_type: o for o in catalog.offers_in("aws", "eu-central-1")}
    for checkpointing, kind, spot_expected in [(True, "training", True), (False, "training", False),
                                               (True, "inference", False)]:
        fields = dict(checkpointing=checkpointing, kind=kind, restart_cost_hours=0.5,
                      accelerators=[{"type": "L4", "count": 1}])
        if kind == "inference":
            fields.pop("kind")
            fields.update(kind="inference", runs_per_month=1)
        doc = estate([workload(**fields)], onprem=[], clouds=clouds)
        cands, _ = enumerate_for(doc, catalog)
        purchases = {c.purchase for c in cands.by_workload["job"]}
        assert ("spot" in purchases) == spot_expected, (checkpointing, kind, purchases)
        for c in cands.by_workload["job"]:
            if c.purchase == "spot":
                # 0.1 preemptions/h x 0.5 h lost = +5 % run time, billed at the spot price
                assert c.spot_overhead == pytest.approx(0.05)
                assert c.node_hours == pytest.approx(c.nodes * 20 * 1.05)
                assert c.compute_usd == pytest.approx(c.node_hours * offers[c.instance_type].spot_usd_per_hour,
                                                      abs=1e-5)


def test_inference_replicas_scale_with_speedup(catalog):
    doc = estate([{"name": "serve", "kind": "inference", "team": "ml", "vcpus": 4, "memory_gib": 16, "replicas": 3,
                   "accelerators": [{"type": "L4", "count": 1}, {"type": "A10G", "count": 1, "speedup": 0.8}]}],
                 onprem=[], clouds=[{"cloud": "aws", "regions": ["us-east-1"],
                                     "quotas": {"us-east-1": {"L4": 64, "A10G": 64}}}])
    cands, _ = enumerate_for(doc, catalog)
    by_family = {}
    for c in cands.by_workload["serve"]:
        by_family.setdefault(c.accelerator, []).append(c)
    assert {c.replicas for c in by_family["L4"]} == {3}
    assert {c.replicas for c in by_family["A10G"]} == {4}  # ceil(3 / 0.8)
    cheapest_l4 = min(by_family["L4"], key=lambda c: c.compute_usd)
    assert cheapest_l4.instance_type == "g6.xlarge"
    assert cheapest_l4.compute_usd == pytest.approx(3 * 730 * 0.8048, abs=1e-4)


# --- streaming, storage and network prices ------------------------------------------------------

def test_stream_and_output_storage_costs_by_hand(catalog):
    doc = estate([workload(reads=[{"dataset": "data", "passes": 3}],
                           outputs=[{"name": "out", "size_gb": 50, "data_class": "internal"}])],
                 datasets=[{"name": "data", "location": "aws:eu-central-1", "size_gb": 1000, "data_class": "internal"}])
    cands, _ = enumerate_for(doc, catalog)
    by_place = {c.place: c for c in cands.by_workload["job"]}
    gb = 1000 * 3 * 2
    assert by_place["aws:eu-central-1"].stream_usd == 0
    assert by_place["aws:eu-west-1"].stream_usd == pytest.approx(gb * 0.02)
    assert by_place["gcp:europe-west4"].stream_usd == pytest.approx(gb * 0.09)
    assert by_place["aws:us-east-1"].stream_usd == pytest.approx(gb * 0.02)  # AWS EU source: standard rate
    assert by_place["dc-frankfurt"].stream_usd == pytest.approx(gb * 0.09)
    assert by_place["aws:eu-west-1"].storage_usd == pytest.approx(50 * 0.023)
    assert by_place["gcp:europe-west4"].storage_usd == pytest.approx(50 * 0.02)
    assert by_place["dc-frankfurt"].storage_usd == pytest.approx(50 * 0.012)


def test_network_prices_by_hand(catalog):
    doc = estate([workload()], links=[{"a": "dc-frankfurt", "b": "aws:eu-central-1", "usd_per_gb": 0.02}],
                 clouds=[{"cloud": "aws", "regions": ["eu-central-1", "eu-west-1", "us-east-1", "us-east-2"]},
                         {"cloud": "gcp", "regions": ["europe-west4", "europe-west1", "us-central1"]}])
    _, net = enumerate_for(doc, catalog)
    expected = {
        ("aws:eu-central-1", "aws:eu-west-1"): 0.02,
        ("aws:us-east-1", "aws:us-east-2"): 0.01,  # special pair
        ("aws:eu-central-1", "gcp:europe-west4"): 0.09,  # AWS internet egress
        ("gcp:europe-west4", "gcp:europe-west1"): 0.02,
        ("gcp:europe-west4", "gcp:us-central1"): 0.12,  # GCP inter-continent: internet rate
        ("gcp:europe-west4", "aws:eu-central-1"): 0.12,
        ("dc-frankfurt", "aws:eu-central-1"): 0.02,  # dedicated link
        # link to eu-central-1 (0.02) then AWS inter-region (0.02) beats the 0.05 WAN egress
        ("dc-frankfurt", "aws:eu-west-1"): 0.04,
        ("aws:eu-central-1", "dc-frankfurt"): 0.02,
        ("aws:eu-west-1", "dc-frankfurt"): 0.04,  # inter-region to eu-central-1, then the link
        # a private site never relays cloud traffic: not 0.02 link + 0.05 WAN
        ("aws:eu-central-1", "gcp:us-central1"): 0.09,
    }
    for (source, target), price in expected.items():
        assert net.usd_per_gb(source, target) == pytest.approx(price), (source, target)
    assert net.usd_per_gb("aws:eu-west-1", "aws:eu-west-1") == 0


def test_a_workload_reading_a_dataset_twice_pays_both_reads_in_the_solver(catalog):
    """Regression: stream costs were keyed per (workload, dataset, place) and the second read
    overwrote the first, so the MILP saw half the transfer and missed a cheaper replica."""
    from optimizer.solve import optimize
    from tests.optimizer.oracle import oracle_optimum

    doc = estate([workload("prep", kind="preprocessing", hours_per_run=10, runs_per_month=10,
                           reads=[{"dataset": "big"}, {"dataset": "big"}])],
                 onprem=[{**DC, "accelerators": [], "usd_per_vcpu_hour": 0.5, "wan_egress_usd_per_gb": 0.01}],
                 clouds=[{"cloud": "aws", "regions": ["eu-central-1"]}],
                 datasets=[{"name": "big", "location": "dc-frankfurt", "size_gb": 1000, "data_class": "internal",
                            "updates_per_month": 15}])
    loaded = load_document(doc)
    plan = optimize(loaded, catalog)
    # cloud: m6i.2xlarge 0.46 $/h x 100 h = 46; streaming 2 x 1000 GB x 10 runs x 0.01 = 200, a
    # replica costs 1000 x (0.023 + 15 x 0.01) = 173, so 46 + 173 = 219 (on-prem: 8 x 0.5 x 100 = 400).
    assert plan.total_usd_per_month == pytest.approx(219.0, abs=0.01)
    assert plan.solver.objective_usd_per_month == pytest.approx(plan.total_usd_per_month, abs=0.01)
    assert oracle_optimum(loaded, catalog).total == pytest.approx(219.0, abs=0.01)
    assert [(c.dataset, c.target) for c in plan.dataset_copies] == [("big", "aws:eu-central-1")]


@pytest.mark.parametrize("seed", range(12))
def test_every_candidate_is_priced_from_its_offer(catalog, seed):
    """On random estates: compute = node-hours x the offer's (spot or on-demand) price, nodes cover
    the accelerators and vCPUs a run needs, and spot appears only for checkpointing batch jobs."""
    loaded = load_document(random_estate(seed, workloads=4))
    network = network_costs(build_network_graph(loaded.estate, catalog))
    cands = enumerate_candidates(loaded.estate, catalog, loaded.rules, network)
    workloads = {w.name: w for w in loaded.estate.workloads}
    checked = 0
    for name, candidates in cands.by_workload.items():
        w = workloads[name]
        for c in candidates:
            if c.purchase == "owned":
                continue
            cloud, region = c.place.split(":")
            offer = next(o for o in catalog.offers_in(cloud, region) if o.instance_type == c.instance_type)
            price = offer.spot_usd_per_hour if c.purchase == "spot" else offer.on_demand_usd_per_hour
            assert c.compute_usd == pytest.approx(c.node_hours * price, rel=1e-6, abs=1e-5)
            if c.purchase == "spot":
                assert w.checkpointing and w.kind != "inference"
            if offer.vcpus > 0:
                assert c.nodes * offer.vcpus >= w.vcpus * c.replicas
            if c.accelerator and not offer.is_tpu:
                need = max(o.count for o in w.accelerators if o.type.lower() in
                           (c.accelerator.lower(), offer.family.lower()))
                assert c.nodes * offer.accelerators_per_node >= need * c.replicas
            checked += 1
    assert checked > 0
    assert math.isfinite(sum(c.standalone_usd for cs in cands.by_workload.values() for c in cs))
