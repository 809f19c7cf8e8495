"""Markdown report of a re-optimization run: the body of the pull request it opens."""

from __future__ import annotations

import json

from optimizer.reoptimize import Decision, MigrationPolicy

__all__ = ["render_report"]


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def render_report(stack: str, decision: Decision, policy: MigrationPolicy, *, price_source: str,
                  refresh_notes: tuple[str, ...] = (), policy_result: str | None = None) -> str:
    """A stable, reviewable markdown summary (no timestamps, so reruns on the same inputs match)."""
    proposed = decision.proposed
    headline = {
        "initial": "First plan for this stack",
        "unchanged": "No change: the deployed placement stays",
        "moved": "Re-placement proposed",
        "forced": "Re-placement required",
    }[decision.status]
    lines = [
        f"# Re-optimization of stack `{stack}`: {headline}",
        "",
        f"- Prices: {price_source}, catalog snapshot {proposed.catalog_snapshot}",
        f"- Deployed placement at today's prices: {_money(decision.current_usd_per_month)}/month",
        f"- Best placement with migration costs counted: {_money(proposed.total_usd_per_month)}/month",
        f"- Saving: {_money(decision.saving_usd_per_month)}/month; one-off migration: "
        f"{_money(decision.migration_usd)}",
        f"- Emissions after this run: {decision.adopted.total_carbon_kg_per_month:,.1f} kgCO2e/month "
        f"(best placement: {proposed.total_carbon_kg_per_month:,.1f})",
        f"- Thresholds: at least {policy.min_saving_percent:g}% and {_money(policy.min_saving_usd)}/month, "
        f"payback within {policy.payback_months:g} months",
        f"- Plan lock: `{json.loads(decision.adopted.canonical_json())['content_hash']}`",
    ]
    if policy_result is not None:
        lines.append(f"- Policy check: {policy_result}")
    lines += ["", "## Why", ""]
    lines += [f"- {reason}" for reason in decision.reasons]
    for note in refresh_notes:
        lines.append(f"- Price refresh: {note}")
    if decision.moves:
        lines += ["", "## Moves" if decision.status != "unchanged" else "## Moves considered and not made", "",
                  "| workload | from | to | $/month before | $/month after | one-off migration |",
                  "|---|---|---|---:|---:|---:|"]
        for move in decision.moves:
            forced = " (forced)" if move.forced else ""
            lines.append(f"| `{move.workload}`{forced} | {move.source} | {move.target} | "
                         f"{_money(move.usd_per_month_before)} | {_money(move.usd_per_month_after)} | "
                         f"{_money(move.migration_usd)} |")
    lines += ["", "## Placement after this run", "",
              "| workload | place | node type | nodes | purchase | $/month | kgCO2e/month |",
              "|---|---|---|---:|---|---:|---:|"]
    for placement in decision.adopted.placements:
        lines.append(f"| `{placement.workload}` | {placement.place} | {placement.instance_type} | {placement.nodes} | "
                     f"{placement.purchase} | {_money(placement.cost.total)} | {placement.carbon_kg_per_month:,.1f} |")
    lines.append("")
    return "\n".join(lines)

