"""Migration-aware re-planning: move deployed workloads only when it pays, and never flap.

Given the placement currently deployed (the stack's plan lock) and fresh prices:

1. Every candidate that differs from a workload's deployed option carries its one-off migration
   cost ``m`` — state to copy (the workload's outputs: checkpoints, models) from the old place to
   the new one at network prices, a restart (``restart_cost_hours`` of the new nodes) for batch
   work, a warm-up of double-running replicas for inference — amortised over the payback period
   as an objective-only penalty ``m / payback_months`` (see :mod:`optimizer.solve`). The deployed
   option is never pruned, so it is always priced at today's prices.
2. The penalised optimum is adopted only if its saving against the deployed placement, re-priced
   today, clears both thresholds (``min_saving_percent`` and ``min_saving_usd`` per month) and
   the one-off migration cost pays back within ``payback_months``. Otherwise the lock stays as it
   is, byte for byte.
3. A deployed option that is no longer possible (offer withdrawn, quota or inventory lowered,
   estate changed) forces a re-plan of the whole estate, with no threshold.

Penalties make the deployed placement sticky (the solver will not trade it for a marginally
cheaper one), thresholds stop noise from triggering a change, and because an adopted plan
becomes the next anchor, prices oscillating around a level cannot move a workload back and forth.

Everything here is pure: locks, files and price fetching live in :mod:`optimizer.lockfile`,
:mod:`optimizer.prices` and the CLI.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping

from optimizer.assemble import assemble_plan
from optimizer.candidates import Candidate, find_candidate
from optimizer.catalog import Catalog
from optimizer.plan import Placement, Plan, SolverInfo
from optimizer.solve import Problem, ServingChoice, prepare_problem, solve_to_plan

if TYPE_CHECKING:
    from optimizer.estate import LoadedEstate

__all__ = ["Decision", "MigrationPolicy", "Move", "replan"]

CandidateKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class MigrationPolicy:
    """Thresholds that decide whether a cheaper placement is worth a migration."""

    min_saving_percent: float = 5.0  # of the deployed placement's monthly cost at today's prices
    min_saving_usd: float = 100.0  # per month
    payback_months: float = 3.0  # the one-off migration cost must be earned back within this
    inference_warmup_hours: float = 1.0  # old and new replicas both run during a cut-over


@dataclass(frozen=True)
class Move:
    workload: str
    source: str  # "place node-type purchase" deployed
    target: str  # "place node-type purchase" proposed
    usd_per_month_before: float  # deployed option at today's prices
    usd_per_month_after: float
    migration_usd: float  # one-off
    forced: bool  # the deployed option is no longer possible


@dataclass(frozen=True)
class Decision:
    """The outcome of one re-planning run."""

    status: Literal["initial", "unchanged", "moved", "forced"]
    adopted: Plan  # the plan to lock (the deployed plan itself when unchanged)
    proposed: Plan  # the best plan with migration penalties, adopted or not
    current_usd_per_month: float | None  # deployed placement re-priced today (None if not possible)
    moves: tuple[Move, ...]
    reasons: tuple[str, ...]

    @property
    def saving_usd_per_month(self) -> float:
        if self.current_usd_per_month is None:
            return 0.0
        return round(self.current_usd_per_month - self.proposed.total_usd_per_month, 2)

    @property
    def migration_usd(self) -> float:
        return round(sum(move.migration_usd for move in self.moves), 2)


def _key(placement: Placement) -> CandidateKey:
    return (placement.workload, placement.place, placement.instance_type, placement.purchase)


def _describe(place: str, instance_type: str, purchase: str) -> str:
    return f"{place} {instance_type} {purchase}"


def _deployed_keys(placement: Placement) -> set[CandidateKey]:
    """Every option a deployed placement uses: its own, and each serving site's."""
    keys = {_key(placement)}
    keys |= {(placement.workload, site.place, site.instance_type, site.purchase)
             for site in placement.serving_sites}
    return keys


def _deployed_serving(placement: Placement, candidates: tuple[Candidate, ...]) -> tuple[ServingChoice, ...] | None:
    """The deployed sites of a multi-site service as solver choices, or None if one is gone."""
    sites = []
    for site in placement.serving_sites:
        match = next((c for c in candidates if (c.place, c.instance_type, c.purchase) ==
                      (site.place, site.instance_type, site.purchase)), None)
        if match is None:
            return None
        sites.append(ServingChoice(match, site.replicas, tuple(site.populations)))
    return tuple(sites)


def _layout(placement: Placement) -> tuple:
    """What a move changes: the place and node type (and, for services, every site and replica count)."""
    if placement.serving_sites:
        return tuple(sorted((s.place, s.instance_type, s.replicas) for s in placement.serving_sites))
    return (placement.place, placement.instance_type, placement.purchase, placement.nodes)


def _hourly(candidate: Candidate) -> float:
    """Cost per hour of the whole allocation (all nodes)."""
    hours = candidate.node_hours / candidate.nodes if candidate.nodes else 0.0
    return candidate.compute_usd / hours if hours else 0.0


def migration_cost(loaded: "LoadedEstate", problem: Problem, current: Placement, target: Candidate,
                   policy: MigrationPolicy) -> float:
    """One-off cost of moving a workload from its deployed option to ``target``."""
    workload = next(w for w in problem.estate.workloads if w.name == current.workload)
    cost = 0.0
    if target.place != current.place:
        state_gb = sum(output.size_gb for output in workload.outputs)
        cost += state_gb * problem.network.usd_per_gb(current.place, target.place)
    if workload.kind == "inference":
        cost += policy.inference_warmup_hours * _hourly(target)
    else:
        cost += workload.restart_cost_hours * _hourly(target)
    return round(cost, 6)


def _capacity_ok(problem: Problem, chosen: Mapping[str, Candidate]) -> list[str]:
    usage: dict[tuple[str, str, str], float] = defaultdict(float)
    for candidate in chosen.values():
        for key, amount in candidate.usage:
            usage[key] += amount
    problems = []
    for key, used in sorted(usage.items()):
        capacity = problem.candidates.capacities.get(key)
        if capacity is not None and used > capacity + 1e-6:
            problems.append(f"{key[0]} {key[2] or 'vCPU'} at {key[1]}: deployed placement uses {used:,.0f}, "
                            f"limit is now {capacity:,.0f}")
    return problems


def replan(loaded: "LoadedEstate", catalog: Catalog, deployed: Plan | None,
           policy: MigrationPolicy = MigrationPolicy(), *, time_limit: float = 300.0) -> Decision:
    """Decide the plan to lock for ``loaded`` at ``catalog`` prices, given the deployed plan."""
    if deployed is None:
        plan = solve_to_plan(loaded, catalog, prepare_problem(loaded, catalog), time_limit=time_limit)
        return Decision(status="initial", adopted=plan, proposed=plan, current_usd_per_month=None, moves=(),
                        reasons=("no plan was locked for this stack yet",))
    deployed_by_workload = {p.workload: p for p in deployed.placements}
    keep = frozenset(key for p in deployed.placements for key in _deployed_keys(p))
    problem = prepare_problem(loaded, catalog, keep)
    by_workload = problem.candidates.by_workload

    current: dict[str, Candidate] = {}
    current_serving: dict[str, tuple[ServingChoice, ...]] = {}
    forced: list[str] = []
    for workload in problem.estate.workloads:
        placement = deployed_by_workload.get(workload.name)
        if placement is None:
            forced.append(f"`{workload.name}` is new: it has no deployed placement")
            continue
        found = find_candidate(by_workload[workload.name], placement)
        if found is not None and placement.serving_sites:
            sites = _deployed_serving(placement, by_workload[workload.name])
            if sites is None:
                found = None
            else:
                current_serving[workload.name] = sites
        if found is None:
            forced.append(f"`{workload.name}`: deployed {_describe(placement.place, placement.instance_type, placement.purchase)}"
                          " is no longer possible (offer withdrawn, or a constraint changed)")
        else:
            current[workload.name] = found
    removed = sorted(set(deployed_by_workload) - {w.name for w in problem.estate.workloads})
    forced += [f"`{name}` was removed from the estate" for name in removed]
    if not forced:
        forced += _capacity_ok(problem, current)

    penalties: dict[CandidateKey, float] = {}
    migration: dict[CandidateKey, float] = {}
    for name, candidates in by_workload.items():
        placement = deployed_by_workload.get(name)
        if placement is None:
            continue
        for candidate in candidates:
            key = (name, candidate.place, candidate.instance_type, candidate.purchase)
            if key in _deployed_keys(placement):
                continue
            cost = migration_cost(loaded, problem, placement, candidate, policy)
            migration[key] = cost
            penalties[key] = cost / policy.payback_months
    sticky = dataclasses.replace(problem, penalties=penalties)  # everything else exactly as prepared
    proposed = solve_to_plan(loaded, catalog, sticky, time_limit=time_limit)

    current_total: float | None = None
    if len(current) == len(problem.estate.workloads) and not forced:
        replicas = frozenset((c.dataset, c.target) for c in deployed.dataset_copies
                             if (c.dataset, c.target) in problem.replica_costs)
        info = SolverInfo(name="re-priced deployed plan", status="deployed", strategy="fixed",
                          objective_usd_per_month=0.0, lower_bound_usd_per_month=0.0,
                          candidates=problem.candidates.count)
        repriced = assemble_plan(loaded, catalog, problem, current, replicas, info, current_serving)
        current_total = repriced.total_usd_per_month

    moves = []
    for placement in proposed.placements:
        before = deployed_by_workload.get(placement.workload)
        if before is not None and _layout(before) == _layout(placement):
            continue
        was = current.get(placement.workload)
        moves.append(Move(
            workload=placement.workload,
            source=_describe(before.place, before.instance_type, before.purchase) if before else "(new)",
            target=_describe(placement.place, placement.instance_type, placement.purchase),
            usd_per_month_before=round(was.standalone_usd, 2) if was else 0.0,
            usd_per_month_after=placement.cost.total,
            migration_usd=round(migration.get(_key(placement), 0.0), 2),
            forced=was is None))

    if forced:
        return Decision(status="forced", adopted=proposed, proposed=proposed, current_usd_per_month=current_total,
                        moves=tuple(moves), reasons=tuple(forced))
    saving = round((current_total or 0.0) - proposed.total_usd_per_month, 2)
    migration_total = round(sum(move.migration_usd for move in moves), 2)
    percent = 100.0 * saving / current_total if current_total else 0.0
    if not moves:
        return Decision(status="unchanged", adopted=deployed, proposed=proposed, current_usd_per_month=current_total,
                        moves=(), reasons=("the deployed placement is still the best once migration costs count",))
    reasons = []
    if saving < policy.min_saving_usd:
        reasons.append(f"saving ${saving:,.2f}/month is below the ${policy.min_saving_usd:,.2f} threshold")
    if percent < policy.min_saving_percent:
        reasons.append(f"saving {percent:.1f}% is below the {policy.min_saving_percent:g}% threshold")
    if saving > 0 and migration_total / saving > policy.payback_months:
        reasons.append(f"migration ${migration_total:,.2f} pays back in {migration_total / saving:.1f} months, "
                       f"more than {policy.payback_months:g}")
    if reasons:
        return Decision(status="unchanged", adopted=deployed, proposed=proposed, current_usd_per_month=current_total,
                        moves=tuple(moves), reasons=tuple(reasons))
    payback = migration_total / saving if saving > 0 else 0.0
    return Decision(status="moved", adopted=proposed, proposed=proposed, current_usd_per_month=current_total,
                    moves=tuple(moves), reasons=(
                        f"saves ${saving:,.2f}/month ({percent:.1f}%) for a one-off ${migration_total:,.2f} "
                        f"(payback {payback:.1f} months)",))
