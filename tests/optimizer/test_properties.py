"""Properties every plan must have, on random estates (hypothesis draws the generator's seed and
shape). Each property is recomputed from the estate and the rules, not read back from the plan."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer.candidates import Candidate
from optimizer.errors import InfeasibleEstateError
from optimizer.model import parse_place
from optimizer.solve import optimize
from tests.optimizer.estates import random_estate
from tests.optimizer.helpers import catalog, load_document
from tests.optimizer.oracle import capacities, capacity_usage

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

estates = st.builds(lambda seed, workloads, contention, budget: random_estate(
    seed, workloads, contention=contention, budget=budget),
    st.integers(0, 2**32 - 1), st.integers(2, 5), st.booleans(), st.sampled_from([None, False]))


def plan_or_skip(document):
    loaded = load_document(document)
    try:
        return loaded, optimize(loaded, catalog())
    except InfeasibleEstateError as error:
        assert error.reasons and all("To fix:" in reason for reason in error.reasons)
        assume(False)


def jurisdiction(estate, place):
    parsed = parse_place(place)
    if parsed:
        return catalog().regions[parsed].jurisdiction, False
    site = estate.private_site(place)
    return site.jurisdiction, site.kind == "onprem"


def touched_classes(estate, name):
    workloads = {w.name: w for w in estate.workloads}
    datasets = {d.name: d for d in estate.datasets}
    w = workloads[name]
    classes = {datasets[r.dataset].data_class for r in w.reads} | {o.data_class for o in w.outputs}
    for upstream in w.depends_on:
        classes |= {o.data_class for o in workloads[upstream].outputs}
    return classes


@PROPERTY_SETTINGS
@given(estates)
def test_sovereignty_is_never_violated(document):
    loaded, plan = plan_or_skip(document)
    estate, rules = loaded.estate, loaded.rules
    for placement in plan.placements:
        where, onprem = jurisdiction(estate, placement.place)
        assert placement.jurisdiction == where
        classes = touched_classes(estate, placement.workload)
        assert set(placement.data_classes) == classes
        for data_class in classes:
            assert rules.rule(data_class).violation(where, onprem=onprem) is None, (placement.workload, data_class)
    datasets = {d.name: d for d in estate.datasets}
    for copy in plan.dataset_copies:
        where, onprem = jurisdiction(estate, copy.target)
        assert copy.data_class == datasets[copy.dataset].data_class
        assert rules.rule(copy.data_class).violation(where, onprem=onprem) is None, copy


@PROPERTY_SETTINGS
@given(estates)
def test_the_same_estate_gives_the_same_plan(document):
    _, plan = plan_or_skip(document)
    again = optimize(load_document(document), catalog())
    assert again.canonical_json() == plan.canonical_json()


@PROPERTY_SETTINGS
@given(estates)
def test_every_plan_respects_quotas_and_on_prem_inventory(document):
    loaded, plan = plan_or_skip(document)
    estate = loaded.estate
    pools = capacities(estate)
    used: dict = {}
    for p in plan.placements:
        candidate = Candidate(
            workload=p.workload, place=p.place, instance_type=p.instance_type, accelerator=p.accelerator,
            accelerators_per_node=p.accelerators_per_node, nodes=p.nodes, replicas=p.replicas,
            purchase=p.purchase, node_hours=p.node_hours_per_month, run_hours=0.0, spot_overhead=p.spot_overhead,
            compute_usd=0.0, stream_usd=0.0, storage_usd=0.0, usage=())
        for key, amount in capacity_usage(estate, candidate).items():
            used[key] = used.get(key, 0.0) + amount
        site = estate.private_site(p.place)
        if site is not None and p.accelerator is not None:
            inventory = next(i for i in site.accelerators if i.type == p.accelerator)
            assert p.accelerators_per_node <= inventory.count  # devices at once
    for key, amount in used.items():
        if key in pools:
            assert amount <= pools[key] * (1 + 1e-6) + 1e-3, (key, amount, pools[key])


@PROPERTY_SETTINGS
@given(estates)
def test_costs_are_non_negative_and_add_up(document):
    loaded, plan = plan_or_skip(document)
    workloads = {w.name: w for w in loaded.estate.workloads}
    for p in plan.placements:
        assert min(p.cost.compute, p.cost.transfer, p.cost.storage) >= 0
        assert p.cost.total == pytest.approx(p.cost.compute + p.cost.transfer + p.cost.storage, abs=0.005)
        lines = [t for t in plan.transfers if t.target == p.place and (
            t.reason.startswith(f"{p.workload} reads ") or t.reason.split(":")[0].endswith(f"-> {p.workload}"))]
        assert p.cost.transfer == pytest.approx(sum(t.usd_per_month for t in lines), abs=0.01 * (len(lines) + 1))
        if p.purchase == "spot":
            assert workloads[p.workload].checkpointing and p.kind != "inference"
    assert all(t.usd_per_month >= 0 and t.gb_per_month >= 0 for t in plan.transfers)
    assert all(c.usd_per_month >= 0 for c in plan.dataset_copies)
    total = sum(p.cost.total for p in plan.placements) + sum(c.usd_per_month for c in plan.dataset_copies)
    assert plan.total_usd_per_month == pytest.approx(total, abs=0.01)
    assert plan.total_usd_per_month == pytest.approx(plan.solver.objective_usd_per_month, abs=0.05)
    assert plan.solver.lower_bound_usd_per_month <= plan.solver.objective_usd_per_month + 1e-9
    if loaded.estate.budget_usd_per_month is not None:
        assert plan.total_usd_per_month <= loaded.estate.budget_usd_per_month + 0.05
