"""What the optimizer should do, one scenario per sentence, each with a control that shows the
constraint or trade-off under test is what decides the outcome (prices: catalog/2026-11-29)."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from optimizer.errors import InfeasibleEstateError
from optimizer.estate import load_estate
from optimizer.plan import Plan
from optimizer.solve import optimize
from tests.optimizer.helpers import HEALTHCARE, load_document

EU_DC = {"name": "dc-frankfurt", "jurisdiction": "EU", "location": {"lat": 50.11, "lon": 8.68},
         "accelerators": [{"type": "A100", "count": 8, "usd_per_hour": 1.0}], "vcpus": 512, "memory_gib": 4096,
         "usd_per_vcpu_hour": 0.2, "wan_egress_usd_per_gb": 0.05, "storage_usd_per_gb_month": 0.012}


def estate(workloads, *, datasets=(), onprem=(), regions=None, budget=None, quotas=None) -> dict:
    aws = {"cloud": "aws", "regions": regions or ["eu-central-1", "us-east-1"]}
    if quotas:
        aws["quotas"] = quotas
    document = {"name": "scenario", "home": {"cloud": "aws", "region": aws["regions"][0]},
                "onprem": list(onprem), "clouds": [aws], "datasets": list(datasets), "workloads": list(workloads)}
    if budget is not None:
        document["budget_usd_per_month"] = budget
    return document


def job(name="job", **fields) -> dict:
    base = {"name": name, "kind": "preprocessing", "team": "data", "vcpus": 96, "memory_gib": 384,
            "hours_per_run": 10, "runs_per_month": 30}
    base.update(fields)
    return base


def solve(document, catalog) -> Plan:
    return optimize(load_document(document), catalog)


def dataset(name="data", location="aws:eu-central-1", size_gb=1, data_class="internal", **fields) -> dict:
    return {"name": name, "location": location, "size_gb": size_gb, "data_class": data_class, **fields}


def test_should_not_place_eu_resident_data_outside_eu_sites(catalog):
    # m6i.24xlarge: us-east-1 4.608 $/h, eu-central-1 5.52 $/h; 300 h a month
    control = solve(estate([job(reads=[{"dataset": "data"}])], datasets=[dataset()]), catalog)
    assert control.placement("job").place == "aws:us-east-1", "premise: the US is cheaper for internal data"
    plan = solve(estate([job(reads=[{"dataset": "data"}])], datasets=[dataset(data_class="eu-personal")]), catalog)
    assert plan.placement("job").place == "aws:eu-central-1"
    assert plan.placement("job").jurisdiction == "EU"
    assert "eu-personal" in plan.placement("job").data_classes


def test_should_not_let_eu_outputs_flow_to_a_us_consumer(catalog):
    up = job("up", outputs=[{"name": "feats", "size_gb": 1, "data_class": "eu-personal"}])
    plan = solve(estate([up, job("down", depends_on=["up"])]), catalog)
    assert {plan.placement(w).jurisdiction for w in ("up", "down")} == {"EU"}


def test_should_keep_on_prem_only_data_on_prem(catalog):
    # the data centre charges 0.2 $/vCPU-h: 96 x 300 x 0.2 = 5760 $, far more than any cloud region
    control = solve(estate([job(reads=[{"dataset": "scans"}])], onprem=[EU_DC],
                           datasets=[dataset("scans", "dc-frankfurt", data_class="eu-personal")]), catalog)
    assert control.placement("job").place != "dc-frankfurt", "premise: the cloud is cheaper"
    plan = solve(estate([job(reads=[{"dataset": "scans"}])], onprem=[EU_DC],
                        datasets=[dataset("scans", "dc-frankfurt", data_class="eu-health-sensitive")]), catalog)
    assert plan.placement("job").place == "dc-frankfurt"
    assert plan.placement("job").site_kind == "onprem"
    assert plan.dataset_copies == []


def test_should_use_spot_only_for_checkpointing_jobs(catalog):
    workloads = [job("resumable", checkpointing=True), job("fragile", checkpointing=False),
                 {"name": "serve", "kind": "inference", "team": "apps", "vcpus": 4, "memory_gib": 16, "replicas": 2,
                  "accelerators": [{"type": "L4", "count": 1}]}]
    plan = solve(estate(workloads), catalog)
    assert plan.placement("resumable").purchase == "spot"  # m6i.24xlarge spot ~1.34 vs 4.61 $/h
    assert plan.placement("resumable").spot_overhead > 0
    assert plan.placement("fragile").purchase == "on_demand"
    assert plan.placement("serve").purchase == "on_demand"


def test_should_prefer_the_region_holding_the_data_when_egress_outweighs_the_price_difference(catalog):
    # 20 TB read once per run, 30 runs: streaming to us-east-1 costs 600 TB x 0.02 = 12,000 $ a month
    # (a replica: 20 TB x (0.023 + 0.02) = 860 $), far more than the 0.912 $/h x 300 h compute saving.
    data = [dataset(size_gb=20000)]
    pinned = {place: solve(estate([job(reads=[{"dataset": "data"}], allowed_places=[place])], datasets=data),
                           catalog) for place in ("aws:eu-central-1", "aws:us-east-1")}
    us, eu = pinned["aws:us-east-1"].placement("job"), pinned["aws:eu-central-1"].placement("job")
    assert us.cost.compute < eu.cost.compute, "premise: compute is cheaper in the US"
    assert pinned["aws:us-east-1"].total_usd_per_month > pinned["aws:eu-central-1"].total_usd_per_month
    plan = solve(estate([job(reads=[{"dataset": "data"}])], datasets=data), catalog)
    assert plan.placement("job").place == "aws:eu-central-1"
    assert plan.total_usd_per_month == pinned["aws:eu-central-1"].total_usd_per_month


def test_should_move_to_the_cheaper_region_when_the_compute_saving_outweighs_egress(catalog):
    # 100 GB read once per run: 3 TB x 0.02 = 60 $ of egress against a ~274 $ compute saving
    data = [dataset(size_gb=100)]
    plan = solve(estate([job(reads=[{"dataset": "data"}])], datasets=data), catalog)
    placement = plan.placement("job")
    assert placement.place == "aws:us-east-1"
    assert placement.cost.transfer + sum(c.usd_per_month for c in plan.dataset_copies) > 0
    stay = solve(estate([job(reads=[{"dataset": "data"}], allowed_places=["aws:eu-central-1"])], datasets=data),
                 catalog)
    assert plan.total_usd_per_month < stay.total_usd_per_month


def test_should_respect_a_regional_quota_shared_by_all_workloads(catalog):
    trainers = [job(f"train-{i}", kind="training", accelerators=[{"type": "A100", "count": 8}], vcpus=48,
                    memory_gib=384, hours_per_run=24, runs_per_month=4) for i in range(3)]
    regions = ["us-east-1", "eu-west-1"]
    control = solve(estate(trainers, regions=regions), catalog)
    assert {p.place for p in control.placements} == {"aws:us-east-1"}, "premise: all want us-east-1"
    plan = solve(estate(trainers, regions=regions, quotas={"us-east-1": {"A100": 16}}), catalog)
    in_quota = [p for p in plan.placements if p.place == "aws:us-east-1"]
    assert sum(p.nodes * p.accelerators_per_node for p in in_quota) <= 16
    assert len(in_quota) == 2, "the quota fits two 8-GPU jobs and should be used"
    assert plan.total_usd_per_month > control.total_usd_per_month


def test_should_respect_on_prem_inventory(catalog):
    # two 8x A100 jobs of 400 h: 3,200 device-hours each; 8 A100 x 730 h x 0.85 = 4,964 available
    trainers = [job(f"train-{i}", kind="training", accelerators=[{"type": "A100", "count": 8}], vcpus=48,
                    memory_gib=384, hours_per_run=100, runs_per_month=4) for i in range(2)]
    site = {**EU_DC, "usd_per_vcpu_hour": 0.01}
    plan = solve(estate(trainers, onprem=[site]), catalog)
    onprem = [p for p in plan.placements if p.place == "dc-frankfurt"]
    assert len(onprem) == 1
    assert sum(p.node_hours_per_month * p.accelerators_per_node for p in onprem) <= 8 * 730 * 0.85
    roomy = solve(estate(trainers, onprem=[{**site, "accelerators": [
        {"type": "A100", "count": 16, "usd_per_hour": 1.0}]}]), catalog)
    assert {p.place for p in roomy.placements} == {"dc-frankfurt"}, "premise: on-prem is the cheapest place"


def test_should_pick_a_faster_accelerator_when_the_deadline_demands_it(catalog):
    # us-east-1: 8x A100 (p4d, 32.77 $/h) takes 20 h; 8x H100 (p5, 98.32 $/h) at 2.1x takes 9.5 h
    options = [{"type": "A100", "count": 8}, {"type": "H100", "count": 8, "speedup": 2.1}]
    train = dict(kind="training", accelerators=options, vcpus=48, memory_gib=384, hours_per_run=20, runs_per_month=2)
    relaxed = solve(estate([job(**train)], regions=["us-east-1"]), catalog)
    assert relaxed.placement("job").accelerator.startswith("A100")
    urgent = solve(estate([job(**train, deadline_hours=10)], regions=["us-east-1"]), catalog)
    assert urgent.placement("job").accelerator == "H100"
    assert urgent.total_usd_per_month > relaxed.total_usd_per_month


def test_should_replicate_a_dataset_read_by_many_workloads_far_away(catalog):
    # 5 TB on-prem (WAN 0.05 $/GB), three readers pinned to us-east-1, 4 runs each:
    # streaming 3 x 5,000 x 4 x 0.05 = 3,000 $; a replica 5,000 x (0.023 + 0.05) = 365 $
    readers = [job(f"reader-{i}", vcpus=8, memory_gib=32, runs_per_month=4, reads=[{"dataset": "corpus"}],
                   allowed_places=["aws:us-east-1"]) for i in range(3)]
    data = [dataset("corpus", "dc-frankfurt", size_gb=5000)]
    plan = solve(estate(readers, onprem=[EU_DC], datasets=data), catalog)
    assert [(c.dataset, c.target) for c in plan.dataset_copies] == [("corpus", "aws:us-east-1")]
    assert plan.dataset_copies[0].usd_per_month == pytest.approx(365.0)
    assert all(p.cost.transfer == 0 for p in plan.placements)
    one = solve(estate(readers[:1], onprem=[EU_DC], datasets=data), catalog)
    # one reader streams 5,000 x 4 x 0.05 = 1,000 $ > 365 $: still a replica; with one run, 250 $ < 365 $
    assert len(one.dataset_copies) == 1
    once = solve(estate([{**readers[0], "runs_per_month": 1}], onprem=[EU_DC], datasets=data), catalog)
    assert once.dataset_copies == []
    assert once.placement("reader-0").cost.transfer == pytest.approx(250.0)


def test_should_explain_infeasibility_naming_the_workload_the_accelerator_and_the_quota(catalog):
    document = estate([job("train-llm", kind="training", accelerators=[{"type": "H100", "count": 64}],
                           vcpus=96, memory_gib=1024, reads=[{"dataset": "data"}])],
                      datasets=[dataset(location="aws:eu-north-1", data_class="eu-personal")], regions=["eu-north-1", "us-east-1"],
                      quotas={"eu-north-1": {"H100": 32}, "us-east-1": {"H100": 128}})
    with pytest.raises(InfeasibleEstateError) as info:
        solve(document, catalog)
    text = str(info.value)
    assert "train-llm" in text and "64x H100" in text
    assert "aws:eu-north-1" in text and "64 H100 devices" in text and "quota of 32" in text
    assert "To fix:" in text


def test_should_explain_a_shared_quota_that_cannot_hold_every_workload(catalog):
    trainers = [job(f"train-{i}", kind="training", accelerators=[{"type": "H100", "count": 32}], vcpus=96,
                    memory_gib=1024, reads=[{"dataset": "data"}]) for i in range(2)]
    document = estate(trainers, datasets=[dataset(location="aws:eu-north-1", data_class="eu-personal")], regions=["eu-north-1"],
                      quotas={"eu-north-1": {"H100": 32}})
    with pytest.raises(InfeasibleEstateError) as info:
        solve(document, catalog)
    (reason,) = info.value.reasons
    assert "quota for H100 devices in aws:eu-north-1" in reason
    assert "need 64" in reason and "capacity is 32" in reason
    assert "`train-0` (32)" in reason and "`train-1` (32)" in reason


def test_should_report_an_exceeded_budget(catalog):
    document = yaml.safe_load(HEALTHCARE.read_text(encoding="utf-8"))
    cheapest = optimize(load_document(document), catalog).total_usd_per_month
    with pytest.raises(InfeasibleEstateError) as info:
        optimize(load_document({**document, "budget_usd_per_month": 1000}), catalog)
    (reason,) = info.value.reasons
    assert "monthly budget" in reason and "$1,000.00" in reason
    assert f"${cheapest:,.2f}" in reason
    within = optimize(load_document({**document, "budget_usd_per_month": cheapest + 1}), catalog)
    assert within.total_usd_per_month == cheapest


def test_same_inputs_give_a_byte_identical_plan_file(catalog, tmp_path):
    copy_path = tmp_path / "healthcare.yaml"
    copy_path.write_bytes(HEALTHCARE.read_bytes())
    first = optimize(load_estate(HEALTHCARE, catalog), catalog).canonical_json()
    second = optimize(load_estate(copy_path, catalog), catalog).canonical_json()
    third = optimize(load_estate(HEALTHCARE, catalog), catalog).canonical_json()
    assert first.encode("utf-8") == second.encode("utf-8") == third.encode("utf-8")
    assert json.loads(first)["content_hash"].startswith("sha256:")


def test_the_plan_hash_detects_an_edited_plan(catalog):
    text = optimize(load_estate(HEALTHCARE, catalog), catalog).canonical_json()
    assert Plan.from_json(text).canonical_json() == text, "an unedited plan round-trips"
    body = json.loads(text)
    edited = copy.deepcopy(body)
    edited["placements"][0]["cost"]["compute"] = round(edited["placements"][0]["cost"]["compute"] - 100, 2)
    with pytest.raises(ValueError, match="hash mismatch"):
        Plan.from_json(json.dumps(edited))
    moved = copy.deepcopy(body)
    moved["placements"][0]["place"] = "aws:us-east-1"
    with pytest.raises(ValueError, match="To fix:"):
        Plan.from_json(json.dumps(moved))
