"""The MILP against a brute-force oracle on seeded random estates.

The oracle (tests/optimizer/oracle.py) enumerates every combination of candidates and prices it
from first principles; the solver's plan must cost exactly the oracle's optimum (to the cent,
allowing for per-line rounding in the plan), and an estate the oracle finds infeasible must raise
InfeasibleEstateError.
"""

from __future__ import annotations

import pytest

from optimizer.candidates import Candidate
from optimizer.errors import InfeasibleEstateError
from optimizer.solve import optimize
from tests.optimizer.estates import random_estate
from tests.optimizer.helpers import load_document
from tests.optimizer.oracle import capacities, capacity_usage, oracle_optimum

SEEDS = range(40)


def _document(seed: int) -> dict:
    return random_estate(seed, workloads=2 + seed % 4, contention=seed % 3 == 0)


@pytest.fixture(scope="module")
def outcomes(catalog):
    """seed -> (oracle result, oracle ignoring capacity, plan or the InfeasibleEstateError)."""
    results = {}
    for seed in SEEDS:
        loaded = load_document(_document(seed), f"random-{seed}")
        oracle = oracle_optimum(loaded, catalog)
        free = oracle_optimum(loaded, catalog, ignore_capacity=True)
        try:
            outcome = optimize(loaded, catalog)
        except InfeasibleEstateError as error:
            outcome = error
        results[seed] = (loaded, oracle, free, outcome)
    return results


@pytest.mark.parametrize("seed", SEEDS)
def test_solver_plan_costs_the_oracle_optimum(outcomes, seed):
    loaded, oracle, _, outcome = outcomes[seed]
    if oracle.total is None:
        assert isinstance(outcome, InfeasibleEstateError), (
            f"oracle: no feasible combination, solver returned a plan costing {outcome.total_usd_per_month}")
        assert outcome.reasons and all("To fix:" in reason for reason in outcome.reasons)
        return
    assert not isinstance(outcome, InfeasibleEstateError), f"oracle found {oracle.total:.2f}, solver: {outcome}"
    plan = outcome
    assert plan.total_usd_per_month == pytest.approx(oracle.total, abs=0.05), (
        f"solver {plan.total_usd_per_month} vs oracle {oracle.total:.4f} "
        f"({ {w: (c.place, c.instance_type, c.purchase) for w, c in oracle.assignment.items()} })")
    assert plan.solver.objective_usd_per_month == pytest.approx(oracle.total, abs=0.01)
    if loaded.estate.budget_usd_per_month is not None:
        assert plan.total_usd_per_month <= loaded.estate.budget_usd_per_month + 0.05


def test_the_seeds_exercise_every_hard_part(outcomes):
    """The comparison above proves little if no seed is infeasible, capacity never binds, etc."""
    infeasible = [s for s, (_, o, _, _) in outcomes.items() if o.total is None]
    capacity_binds = [s for s, (_, o, free, _) in outcomes.items()
                      if free.total is not None and (o.total is None or o.total > free.total + 0.01)]
    budget_binds = [s for s, (_, o, _, _) in outcomes.items() if o.cheapest_ignoring_budget is not None
                    and (o.total is None or o.total > o.cheapest_ignoring_budget + 0.01)]
    replicas = [s for s, (_, o, _, _) in outcomes.items() if o.replicas]
    spot = [s for s, (_, o, _, _) in outcomes.items() if any(c.purchase == "spot" for c in o.assignment.values())]
    cross_dag = [s for s, (loaded, o, _, _) in outcomes.items() if o.assignment and any(
        o.assignment[u].place != o.assignment[w.name].place for w in loaded.estate.workloads for u in w.depends_on)]
    assert len(infeasible) >= 3 and len(outcomes) - len(infeasible) >= 25
    assert len(capacity_binds) >= 3, capacity_binds
    assert len(budget_binds) >= 2, budget_binds
    assert len(replicas) >= 5 and len(spot) >= 5 and len(cross_dag) >= 5


def test_plans_respect_capacity_recomputed_from_the_estate(outcomes):
    """Quota pools and on-prem inventory, recomputed from each plan's placements and the estate."""
    checked = 0
    for seed, (loaded, _, _, outcome) in outcomes.items():
        if isinstance(outcome, InfeasibleEstateError):
            continue
        estate = loaded.estate
        used: dict = {}
        for placement in outcome.placements:
            candidate = Candidate(
                workload=placement.workload, place=placement.place, instance_type=placement.instance_type,
                accelerator=placement.accelerator, accelerators_per_node=placement.accelerators_per_node,
                nodes=placement.nodes, replicas=placement.replicas, purchase=placement.purchase,
                node_hours=placement.node_hours_per_month, run_hours=0.0, spot_overhead=placement.spot_overhead,
                compute_usd=0.0, stream_usd=0.0, storage_usd=0.0, usage=())
            for key, amount in capacity_usage(estate, candidate).items():
                used[key] = used.get(key, 0.0) + amount
        pools = capacities(estate)
        for key, amount in used.items():
            if key in pools:
                checked += 1
                assert amount <= pools[key] + 0.01, f"seed {seed}: {key}: {amount} > {pools[key]}"
    assert checked >= 10
