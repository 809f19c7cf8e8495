"""Explain infeasible estates in the user's terms: which constraint binds, for which workload."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from optimizer.candidates import CandidateSet, Exclusion, workload_data_classes
from optimizer.model import Estate
from policy.sovereignty import SovereigntyRules

if TYPE_CHECKING:
    from optimizer.solve import Problem, Solution

__all__ = ["diagnose_unplaceable", "diagnose_shared_limits"]


def _allowed_jurisdictions(estate: Estate, rules: SovereigntyRules, workload_name: str) -> str:
    workload = next(w for w in estate.workloads if w.name == workload_name)
    allowed: set[str] | None = None
    onprem = False
    for data_class in workload_data_classes(estate, workload):
        rule = rules.rule(data_class)
        onprem = onprem or rule.onprem_only
        if not rule.any_jurisdiction:
            allowed = set(rule.allowed_jurisdictions) if allowed is None else allowed & rule.allowed_jurisdictions
    where = "any jurisdiction" if allowed is None else (", ".join(sorted(allowed)) or "no jurisdiction at all")
    return f"{where}{' (on-prem only)' if onprem else ''}"


def diagnose_unplaceable(estate: Estate, rules: SovereigntyRules, candidates: CandidateSet) -> list[str]:
    """One sentence per workload with no candidate at all, naming what excluded each place."""
    reasons = []
    by_workload: dict[str, list[Exclusion]] = defaultdict(list)
    for exclusion in candidates.exclusions:
        by_workload[exclusion.workload].append(exclusion)
    for workload in estate.workloads:
        if candidates.by_workload.get(workload.name):
            continue
        need = " or ".join(f"{o.count}x {o.type}" for o in workload.accelerators) or \
            f"{workload.vcpus:g} vCPUs / {workload.memory_gib:g} GiB"
        exclusions = by_workload[workload.name]
        non_sovereign = [e for e in exclusions if e.category != "sovereignty"]
        sovereign = [e for e in exclusions if e.category == "sovereignty"]
        parts = [f"{e.place}: {e.category} - {e.reason}" for e in non_sovereign]
        if sovereign:
            parts.append(f"{len(sovereign)} place(s) excluded by sovereignty ({sovereign[0].reason})")
        reasons.append(
            f"{workload.kind} `{workload.name}` needs {need} in {_allowed_jurisdictions(estate, rules, workload.name)}; "
            f"no allowed place can host it: " + "; ".join(parts)
            + ". To fix: raise a quota or inventory, allow another region for its data class, relax the deadline, "
              "or accept another accelerator")
    return reasons


def diagnose_shared_limits(problem: "Problem", elastic: "Solution") -> list[str]:
    """From the elastic solve: the capacity pools (and budget) that cannot all be honoured at once."""
    reasons = []
    for key in sorted(elastic.capacity_slack):
        kind, place, item = key
        capacity = problem.candidates.capacities[key]
        over = elastic.capacity_slack[key]
        users = sorted(
            (name, dict(c.usage)[key]) for name, c in elastic.chosen.items() if key in dict(c.usage))
        who = ", ".join(f"`{name}` ({amount:g})" for name, amount in users)
        if kind == "carbon":
            reasons.append(f"carbon cap: even the lowest-emission plan within every other limit emits {capacity + over:,.0f} "
                           f"kgCO2e per month, the cap is {capacity:,.0f}. To fix: raise carbon.cap_kg_per_month, "
                           "allow lower-carbon regions, or reduce runs and replicas")
            continue
        if kind == "quota":
            what = f"quota for {item} devices in {place}"
            unit = "devices at once"
        elif kind == "devices":
            what = f"{item} inventory of {place}"
            unit = "device-hours per month"
        else:
            what = f"vCPU inventory of {place}"
            unit = "vCPU-hours per month"
        reasons.append(f"{what}: the workloads that can only go there need {capacity + over:,.0f} {unit}, "
                       f"capacity is {capacity:,.0f} (users: {who}). To fix: raise the limit, allow other "
                       "places for these workloads' data classes, or give them alternative accelerators")
    if elastic.budget_slack > 1e-6 and problem.budget is not None:
        reasons.append(f"monthly budget: the cheapest feasible plan costs ${problem.budget + elastic.budget_slack:,.2f}"
                       f", over the budget of ${problem.budget:,.2f}. To fix: raise budget_usd_per_month or "
                       "reduce runs, replicas or accelerators")
    return reasons
