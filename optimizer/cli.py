"""Command line: ``python -m optimizer plan|explain|schema|catalog`` (and the deploy/check commands).

stdout carries the result (a table, or JSON with ``--json``); progress and errors go to stderr.
Exit codes: 0 ok, 2 invalid input, 3 infeasible estate, 4 mandatory policy violation, 1 unexpected.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optimizer.catalog import BUNDLED_CATALOG_DIR, Catalog, load_catalog
from optimizer.errors import EXIT_INVALID_INPUT, OptimizerError
from optimizer.estate import LoadedEstate, load_estate
from optimizer.explain import Explanation, explain_plan
from optimizer.model import Estate
from optimizer.plan import Plan
from optimizer.solve import optimize

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Place AI workloads across on-prem, EKS, GKE and edge before deploying them.")
# Tables stay readable when piped (CI logs, files): rich would otherwise fall back to 80 columns.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

CatalogOption = typer.Option(None, "--catalog", help="catalog directory in SkyPilot CSV format "
                                                     f"(default: the bundled snapshot {BUNDLED_CATALOG_DIR.name})")
JsonOption = typer.Option(False, "--json", help="print machine-readable JSON instead of tables")
TimeLimitOption = typer.Option(300.0, "--time-limit", min=1.0, help="solver time limit in seconds")


def _run(action: Callable[[], int]) -> None:
    """Run a command body, turning the project's typed errors into messages and exit codes."""
    try:
        code = action()
    except OptimizerError as error:
        # Plain write: errors must not be re-wrapped or styled, scripts grep them.
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(error.exit_code) from None
    raise typer.Exit(code)


def _load(estate_path: Path, catalog_dir: Optional[Path]) -> tuple[LoadedEstate, Catalog]:
    catalog = load_catalog(catalog_dir or BUNDLED_CATALOG_DIR)
    return load_estate(estate_path, catalog), catalog


def _solve(loaded: LoadedEstate, catalog: Catalog, time_limit: float) -> Plan:
    with err.status(f"Solving placement for {len(loaded.estate.workloads)} workloads...", spinner="dots"):
        return optimize(loaded, catalog, time_limit=time_limit)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _money(value: float) -> str:
    return f"${value:,.2f}"


def render_plan(plan: Plan, console: Console) -> None:
    table = Table(title=f"Plan for '{plan.estate}' (catalog snapshot {plan.catalog_snapshot})", show_lines=False)
    for column, justify in [("workload", "left"), ("kind", "left"), ("place", "left"), ("node type", "left"),
                            ("nodes", "right"), ("purchase", "left"), ("compute", "right"), ("transfer", "right"),
                            ("storage", "right"), ("total /month", "right")]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for p in plan.placements:
        accelerator = f" ({p.accelerators_per_node}x {p.accelerator})" if p.accelerator else ""
        table.add_row(p.workload, p.kind, p.place, f"{p.instance_type}{accelerator}", str(p.nodes), p.purchase,
                      _money(p.cost.compute), _money(p.cost.transfer), _money(p.cost.storage), _money(p.cost.total))
    for copy in plan.dataset_copies:
        table.add_row(f"replica of {copy.dataset}", "copy", copy.target, "object storage", "-", "-", "-", "-",
                      _money(copy.usd_per_month), _money(copy.usd_per_month))
    compute = sum(p.cost.compute for p in plan.placements)
    transfer = sum(p.cost.transfer for p in plan.placements)
    storage = sum(p.cost.storage for p in plan.placements) + sum(c.usd_per_month for c in plan.dataset_copies)
    table.add_section()
    table.add_row("total", "", "", "", "", "", _money(compute), _money(transfer), _money(storage),
                  _money(plan.total_usd_per_month), style="bold")
    console.print(table)
    budget = f", budget {_money(plan.budget_usd_per_month)}" if plan.budget_usd_per_month else ""
    console.print(f"Datasets at rest where they live: {_money(plan.fixed_storage_usd_per_month)}/month (not "
                  f"included above){budget}. Solver: {plan.solver.name}, {plan.solver.status}, "
                  f"{plan.solver.candidates} candidates. Plan {plan.canonical_json() and _hash(plan)}")


def _hash(plan: Plan) -> str:
    return json.loads(plan.canonical_json())["content_hash"][:19]


def render_explanation(explanation: Explanation, console: Console) -> None:
    for item in explanation.workloads:
        console.print(f"\n[bold]{escape(item.workload)}[/] -> {escape(item.chosen)} "
                      f"({_money(item.usd_per_month)}/month)")
        for reason in item.binding:
            console.print(f"  binding: {escape(reason)}", highlight=False)
        for alt in item.alternatives:
            blocked = f" [blocked: {alt.blocked_by}]" if alt.blocked_by else ""
            console.print(escape(f"  alternative: {alt.place} {alt.instance_type} {alt.purchase} "
                                 f"{_money(alt.usd_per_month)} ({'+' if alt.delta_usd_per_month >= 0 else '-'}"
                                 f"{_money(abs(alt.delta_usd_per_month))}){blocked}"), highlight=False)
        if not item.alternatives:
            console.print("  alternative: none (no other allowed place can run it)")
    baseline = explanation.baseline
    table = Table(title="Naive baseline: home region, on-demand, cheapest fitting type, no spot, no data locality")
    for column in ("workload", "place", "node type", "total /month"):
        table.add_column(column)
    for row in baseline.rows:
        table.add_row(row.workload, row.place, row.instance_type, _money(row.usd_per_month))
    console.print()
    console.print(table)
    console.print(f"[bold]Baseline {_money(baseline.total_usd_per_month)}/month vs plan "
                  f"{_money(baseline.plan_total_usd_per_month)}/month: saving {baseline.saving_percent}%[/]")


def _explanation_json(explanation: Explanation) -> dict:
    body = asdict(explanation)
    body["baseline"]["saving_percent"] = explanation.baseline.saving_percent
    return body


@app.command()
def plan(
    estate: Path = typer.Argument(..., help="estate YAML file"),
    catalog: Optional[Path] = CatalogOption,
    output: Optional[Path] = typer.Option(None, "--out", "-o", help="write the plan JSON here (atomically)"),
    explain: bool = typer.Option(False, "--explain", help="also print binding constraints and the baseline"),
    json_output: bool = JsonOption,
    time_limit: float = TimeLimitOption,
) -> None:
    """Compute the cheapest compliant placement of every workload of an estate."""

    def body() -> int:
        loaded, cat = _load(estate, catalog)
        result = _solve(loaded, cat, time_limit)
        if output:
            write_atomically(output, result.canonical_json())
        explanation = explain_plan(loaded, cat, result) if explain else None
        if json_output:
            document = json.loads(result.canonical_json())
            if explanation:
                document = {"plan": document, "explanation": _explanation_json(explanation)}
            sys.stdout.write(json.dumps(document, sort_keys=True, indent=2) + "\n")
        else:
            render_plan(result, out)
            if explanation:
                render_explanation(explanation, out)
            if output:
                out.print(f"Plan written to {output}")
        return 0

    _run(body)


@app.command()
def explain(
    estate: Path = typer.Argument(..., help="estate YAML file"),
    catalog: Optional[Path] = CatalogOption,
    json_output: bool = JsonOption,
    time_limit: float = TimeLimitOption,
) -> None:
    """Plan, then say why: binding constraints, next-best alternatives, saving against the naive baseline."""

    def body() -> int:
        loaded, cat = _load(estate, catalog)
        result = _solve(loaded, cat, time_limit)
        explanation = explain_plan(loaded, cat, result)
        if json_output:
            sys.stdout.write(json.dumps(_explanation_json(explanation), sort_keys=True, indent=2) + "\n")
        else:
            render_plan(result, out)
            render_explanation(explanation, out)
        return 0

    _run(body)


@app.command()
def schema(output: Optional[Path] = typer.Option(None, "--out", "-o", help="write the schema here")) -> None:
    """Print the JSON Schema of estate files (for editor completion and validation)."""
    text = json.dumps(Estate.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if output:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)


@app.command("catalog")
def catalog_info(catalog: Optional[Path] = CatalogOption, json_output: bool = JsonOption) -> None:
    """Show the catalog's snapshot date, offer counts and every quirk handled while loading it."""

    def body() -> int:
        cat = load_catalog(catalog or BUNDLED_CATALOG_DIR)
        summary = {"source": cat.source_dir, "snapshot_date": cat.snapshot_date, "offers": len(cat.offers),
                   "regions": len({(o.cloud, o.region) for o in cat.offers}),
                   "accelerators": sorted(cat.accelerator_names()), "quirks": list(cat.quirks)}
        if json_output:
            sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        else:
            out.print(f"Catalog {cat.source_dir} (snapshot {cat.snapshot_date}): {len(cat.offers)} offers in "
                      f"{summary['regions']} regions")
            out.print("Accelerators: " + ", ".join(summary["accelerators"]))
            for quirk in cat.quirks:
                out.print(f"  - {quirk}", highlight=False)
        return 0

    _run(body)


def _register_optional_commands() -> None:
    """Commands from the deploy and check packages, when those packages are present."""
    try:
        from deploy.commands import preview_command
    except ImportError:
        preview_command = None
    if preview_command is not None:
        @app.command()
        def preview(stack: str = typer.Option(..., "--stack", "-s", help="stack name: dev, staging or prod"),
                    json_output: bool = JsonOption) -> None:
            """Run the Pulumi program offline (mock engine) and print what `pulumi up` would create."""
            _run(lambda: preview_command(stack, json_output))


_register_optional_commands()


def main() -> None:
    try:
        app(standalone_mode=True)
    except SystemExit as exit_:
        if exit_.code not in (0, None) and isinstance(exit_.code, int) and exit_.code == 2:
            raise SystemExit(EXIT_INVALID_INPUT) from None
        raise
