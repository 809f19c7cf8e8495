"""Federated training: data stays put, trainers go to it, the aggregator goes where updates are cheapest."""

from __future__ import annotations

import copy

import pytest

from optimizer.catalog import load_catalog
from optimizer.errors import EstateError
from optimizer.estate import LoadedEstate, data_class_problems, parse_estate
from optimizer.solve import optimize
from policy.sovereignty import load_rules

CATALOG = load_catalog()
RULES = load_rules()

BASE = {
    "name": "federated-hospitals",
    "home": {"cloud": "aws", "region": "eu-central-1"},
    "onprem": [
        {"name": "charite-berlin", "jurisdiction": "EU", "location": {"lat": 52.52, "lon": 13.40},
         "accelerators": [{"type": "A100", "count": 8, "usd_per_hour": 1.4}], "vcpus": 256, "memory_gib": 2048,
         "usd_per_vcpu_hour": 0.02, "wan_egress_usd_per_gb": 0.05},
        {"name": "ap-hp-paris", "jurisdiction": "EU", "location": {"lat": 48.86, "lon": 2.35},
         "accelerators": [{"type": "A100", "count": 8, "usd_per_hour": 1.5}], "vcpus": 256, "memory_gib": 2048,
         "usd_per_vcpu_hour": 0.02, "wan_egress_usd_per_gb": 0.05},
        {"name": "mayo-rochester", "jurisdiction": "US", "location": {"lat": 44.02, "lon": -92.47},
         "accelerators": [{"type": "H100", "count": 8, "usd_per_hour": 2.5}], "vcpus": 256, "memory_gib": 2048,
         "usd_per_vcpu_hour": 0.01, "wan_egress_usd_per_gb": 0.0},
    ],
    "clouds": [{"cloud": "aws", "regions": ["eu-central-1", "us-east-1"]},
               {"cloud": "gcp", "regions": ["europe-west4"]}],
    "datasets": [
        {"name": "scans-berlin", "location": "charite-berlin", "size_gb": 30000, "data_class": "eu-health-sensitive"},
        {"name": "scans-paris", "location": "ap-hp-paris", "size_gb": 20000, "data_class": "eu-health-sensitive"},
    ],
    "workloads": [
        {"name": "fed-tumour", "kind": "training", "team": "research",
         "accelerators": [{"type": "A100", "count": 8}], "vcpus": 64, "memory_gib": 512,
         "hours_per_run": 20, "runs_per_month": 2,
         "reads": [{"dataset": "scans-berlin"}, {"dataset": "scans-paris"}],
         "outputs": [{"name": "fed-model", "size_gb": 2, "data_class": "eu-model-weights"}],
         "federation": {"rounds_per_run": 200, "update_gb": 2, "update_data_class": "eu-model-weights"}},
        {"name": "serve", "kind": "inference", "team": "research", "accelerators": [{"type": "L4", "count": 1}],
         "depends_on": ["fed-tumour"]},
    ],
}


def plan_of(document):
    return optimize(LoadedEstate(parse_estate(document, "test"), RULES, "test"), CATALOG)


def test_should_not_move_hospital_data_for_federated_training():
    plan = plan_of(BASE)
    assert plan.placement("fed-tumour-trainer-scans-berlin").place == "charite-berlin"
    assert plan.placement("fed-tumour-trainer-scans-paris").place == "ap-hp-paris"
    assert not [t for t in plan.transfers if "reads scans-" in t.reason], "no dataset may be streamed anywhere"
    assert {p.federated_role for p in plan.placements if p.federated_of == "fed-tumour"} == {"trainer", "aggregator"}


def test_should_place_the_aggregator_where_update_traffic_is_cheapest():
    plan = plan_of(BASE)
    aggregator = plan.placement("fed-tumour-aggregator").place
    # Both hospitals charge WAN egress; with the aggregator at one of them only the other one's traffic
    # leaves a site; a cloud region would make both hospitals send updates out and pay cloud egress back.
    assert aggregator in ("charite-berlin", "ap-hp-paris")
    volume = 2 * 200 * 2  # GB per month each way per trainer
    update_transfers = [t for t in plan.transfers if "fed-tumour-aggregator" in t.reason]
    assert sorted(t.gb_per_month for t in update_transfers if "-> serve" not in t.reason) == [volume, volume]


def test_updates_only_go_where_their_data_class_allows():
    document = copy.deepcopy(BASE)
    for site in document["onprem"][:2]:
        site["wan_egress_usd_per_gb"] = 5.0  # make the EU hospitals very expensive senders ...
    document["onprem"][2]["usd_per_vcpu_hour"] = 0.0  # ... and the US site free
    plan = plan_of(document)
    assert plan.placement("fed-tumour-aggregator").jurisdiction == "EU"  # eu-model-weights stays in the EU


def test_dependents_of_a_federated_workload_take_the_model_from_its_aggregator():
    plan = plan_of(BASE)
    assert plan.placement("serve").depends_on == ["fed-tumour-aggregator"]
    assert "fed-tumour" not in {p.workload for p in plan.placements}


def test_trainers_may_use_another_place_of_the_jurisdiction_when_allowed():
    document = copy.deepcopy(BASE)
    document["datasets"].append({"name": "scans-cloud", "location": "aws:eu-central-1", "size_gb": 500,
                                 "data_class": "eu-personal"})
    document["workloads"][0]["reads"] = [{"dataset": "scans-cloud"}]
    document["workloads"][0]["federation"]["trainers_at"] = "jurisdiction"
    plan = plan_of(document)
    assert plan.placement("fed-tumour-trainer-scans-cloud").jurisdiction == "EU"


def test_federation_needs_known_update_class_and_datasets():
    document = copy.deepcopy(BASE)
    document["workloads"][0]["federation"]["update_data_class"] = "no-such-class"
    estate = parse_estate(document, "test")
    problems = data_class_problems(estate, RULES)
    assert [p[0] for p in problems] == ["workloads[0].federation.update_data_class"]
    document["workloads"][0]["reads"] = []
    with pytest.raises(EstateError) as error:
        parse_estate(document, "bad.yaml")
    assert "workloads[0].reads" in str(error.value)
