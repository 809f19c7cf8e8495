"""Solver benchmark: time and cost for random estates against the full bundled catalog.

Prints one JSON line per estate size:
  workloads, seconds (enumerate / solve / assemble / total), plan cost, MILP dual bound,
  LP-relaxation bound and the gap of the plan against it, model size.

Targets on a 2-core machine: 100 workloads < 1 s, 1,000 < 10 s, 10,000 < 60 s with a gap < 1 %.
The solver is exact (relative gap 1e-6) below 200,000 columns and stops at a proven 0.1 % above; the
gap reported here is against the LP relaxation of the same (full, unpruned) model.
Usage: python -m bench.solve_bench [--sizes 10 100 1000 10000] [--seed 1] [--no-lp] [--extended]
(--extended: user populations served from several places within latency targets, federated training)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.estates import random_enterprise_estate
from optimizer.assemble import assemble_plan
from optimizer.catalog import load_catalog
from optimizer.estate import LoadedEstate, parse_estate
from optimizer.plan import SolverInfo
from optimizer.solve import prepare_problem, solve_problem
from policy.sovereignty import load_rules


def run(size: int, seed: int, with_lp: bool, extended: bool = False) -> dict:
    catalog = load_catalog()
    rules = load_rules()
    estate = parse_estate(random_enterprise_estate(seed, size, extended=extended), f"bench-{size}")
    loaded = LoadedEstate(estate=estate, rules=rules, source=f"bench-{size}")
    started = time.perf_counter()
    problem = prepare_problem(loaded, catalog)
    candidates = problem.candidates
    enumerated = time.perf_counter()
    solution = solve_problem(problem)
    solved = time.perf_counter()
    strategy = "exact" if solution.mip_rel_gap <= 1e-6 else f"proven gap <= {100 * solution.mip_rel_gap:g}%"
    info = SolverInfo(name="HiGHS", status=solution.status, strategy=strategy,
                      objective_usd_per_month=round(solution.objective, 2),
                      lower_bound_usd_per_month=round(solution.dual_bound, 2), candidates=candidates.count)
    plan = assemble_plan(loaded, catalog, problem, solution.chosen, solution.replicas, info, solution.serving)
    assembled = time.perf_counter()
    result = {
        "workloads": len(estate.workloads), "variant": "extended" if extended else "core",
        "planned_workloads": len(problem.estate.workloads), "populations": len(estate.populations),
        "seed": seed, "status": solution.status, "strategy": strategy,
        "seconds_enumerate": round(enumerated - started, 3), "seconds_solve": round(solved - enumerated, 3),
        "seconds_assemble": round(assembled - solved, 3), "seconds_total": round(assembled - started, 3),
        "plan_usd_per_month": plan.total_usd_per_month, "milp_objective": round(solution.objective, 2),
        "milp_dual_bound": round(solution.dual_bound, 2), "columns": solution.columns, "rows": solution.rows,
        "candidates": candidates.count,
    }
    if with_lp:
        relaxation = solve_problem(problem, relax=True)
        result["lp_relaxation"] = round(relaxation.objective, 2)
        result["gap_vs_lp_percent"] = round(100 * (solution.objective - relaxation.objective)
                                            / max(solution.objective, 1e-9), 4)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lp", action="store_true", help="skip the LP relaxation bound")
    parser.add_argument("--extended", action="store_true",
                        help="estates with multi-site serving to user populations and federated training")
    args = parser.parse_args(argv)
    for size in args.sizes:
        print(json.dumps(run(size, args.seed, not args.no_lp, args.extended)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
