"""Command line: ``python -m optimizer plan|explain|schema|catalog`` (and the deploy/check commands).

stdout carries the result (a table, or JSON with ``--json``); progress and errors go to stderr.
Exit codes: 0 ok, 2 invalid input, 3 infeasible estate, 4 mandatory policy violation, 1 unexpected.
"""

from __future__ import annotations

import dataclasses
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
from optimizer.errors import EXIT_INVALID_INPUT, EstateError, OptimizerError
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
                            ("storage", "right"), ("total /month", "right"), ("kgCO2e", "right")]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for p in plan.placements:
        accelerator = f" ({p.accelerators_per_node}x {p.accelerator})" if p.accelerator else ""
        table.add_row(p.workload, p.kind, p.place, f"{p.instance_type}{accelerator}", str(p.nodes), p.purchase,
                      _money(p.cost.compute), _money(p.cost.transfer), _money(p.cost.storage), _money(p.cost.total),
                      f"{p.carbon_kg_per_month:,.1f}")
    for copy in plan.dataset_copies:
        table.add_row(f"replica of {copy.dataset}", "copy", copy.target, "object storage", "-", "-", "-", "-",
                      _money(copy.usd_per_month), _money(copy.usd_per_month), "-")
    compute = sum(p.cost.compute for p in plan.placements)
    transfer = sum(p.cost.transfer for p in plan.placements)
    storage = sum(p.cost.storage for p in plan.placements) + sum(c.usd_per_month for c in plan.dataset_copies)
    table.add_section()
    table.add_row("total", "", "", "", "", "", _money(compute), _money(transfer), _money(storage),
                  _money(plan.total_usd_per_month), f"{plan.total_carbon_kg_per_month:,.1f}", style="bold")
    console.print(table)
    budget = f", budget {_money(plan.budget_usd_per_month)}" if plan.budget_usd_per_month else ""
    if plan.carbon_price_usd_per_tonne is not None:
        budget += f", carbon priced at {_money(plan.carbon_price_usd_per_tonne)}/tCO2e"
    if plan.carbon_cap_kg_per_month is not None:
        budget += f", carbon capped at {plan.carbon_cap_kg_per_month:,.0f} kgCO2e/month"
    console.print(f"Datasets at rest where they live: {_money(plan.fixed_storage_usd_per_month)}/month (not "
                  f"included above){budget}. Solver: {plan.solver.name}, {plan.solver.status}, "
                  f"{plan.solver.candidates} candidates. Plan {plan.canonical_json() and _hash(plan)}")
    for egress in plan.internet_egress:
        console.print(f"Internet egress from {egress.cloud.upper()}: {egress.gb_per_month:,.0f} GB/month, charged "
                      f"{_money(egress.charged_usd_per_month)} at the first paid tier; at the volume tiers the bill "
                      f"would be {_money(egress.tiered_usd_per_month)}.", highlight=False)


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
        if not item.alternatives and not any(reason.startswith("latency:") for reason in item.binding):
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


def _stack_estate(stacks_dir: Path, stack: str) -> tuple[Path, Optional[Path], Optional[float]]:
    """(estate path, catalog dir or None, budget or None) named by ``stacks/Pulumi.<stack>.yaml``."""
    import yaml

    stack_file = stacks_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise EstateError(str(stack_file), [("(file)", f"stack '{stack}' has no config file",
                                             f"use one of: {', '.join(known) or '(none)'}")])
    config = (yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}).get("config") or {}
    estate = config.get("aiinfra:estate")
    if not isinstance(estate, str) or not estate:
        raise EstateError(str(stack_file), [("config.aiinfra:estate", "is missing",
                                             "set it to the estate file, relative to the repository root")])
    root = stacks_dir.resolve().parent
    catalog = config.get("aiinfra:catalog")
    budget = config.get("aiinfra:budgetUsdPerMonth")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
        raise EstateError(str(stack_file), [("config.aiinfra:budgetUsdPerMonth", f"'{budget}' is not a positive number",
                                             "write the monthly budget in USD, e.g. 250000")])
    return (root / estate, (root / catalog if isinstance(catalog, str) and catalog else None),
            float(budget) if budget is not None else None)


def _price_source(spec: str):
    from optimizer.prices import AwsPriceListSource, CatalogDirSource, GcpBillingCatalogSource

    if spec == "snapshot":
        return CatalogDirSource(BUNDLED_CATALOG_DIR)
    if spec.startswith("dir:"):
        return CatalogDirSource(Path(spec[4:]))
    if spec == "aws":
        return AwsPriceListSource()
    if spec == "gcp":
        key = os.environ.get("GCP_BILLING_API_KEY")
        if not key:
            raise EstateError("--prices gcp", [("GCP_BILLING_API_KEY", "is not set",
                                                "export an API key allowed to call the Cloud Billing API")])
        return GcpBillingCatalogSource(key)
    raise EstateError("--prices", [("(option)", f"unknown price source '{spec}'",
                                    "use snapshot, dir:PATH, aws or gcp")])


@app.command()
def reoptimize(
    stack: str = typer.Option(..., "--stack", "-s", help="stack name (stacks/Pulumi.<stack>.yaml)"),
    prices: str = typer.Option("snapshot", "--prices", help="price source: snapshot, dir:PATH, aws, gcp"),
    report: Optional[Path] = typer.Option(None, "--report", help="markdown report (default out/reoptimize-<stack>.md)"),
    stacks_dir: Path = typer.Option(Path("stacks"), "--stacks-dir", help="directory of stack configs and plan locks"),
    min_saving_percent: float = typer.Option(5.0, "--min-saving-percent", min=0.0),
    min_saving_usd: float = typer.Option(100.0, "--min-saving-usd", min=0.0),
    payback_months: float = typer.Option(3.0, "--payback-months", min=0.01),
    apply: bool = typer.Option(False, "--apply", help="run `pulumi up` when the plan changed and policies pass"),
    time_limit: float = TimeLimitOption,
) -> None:
    """Re-plan a deployed stack with fresh prices; move workloads only when the saving clears the thresholds.

    Writes the markdown report and, when the placement changes, the plan lock
    stacks/<stack>.plan.lock.json, atomically. Exit codes: 0 ok (changed or not), 2 invalid input,
    3 infeasible, 4 policy violation blocked --apply, 5 another run holds the stack, 6 price refresh
    rejected (the last good plan is kept).
    """
    from optimizer.lockfile import exclusive_run, lock_path, read_plan_lock, write_files_atomically
    from optimizer.prices import PriceRefreshError, validate_refresh
    from optimizer.reoptimize import MigrationPolicy, replan
    from optimizer.report import render_report

    def body() -> int:
        estate_path, catalog_dir, budget = _stack_estate(stacks_dir, stack)
        lock = lock_path(stacks_dir, stack)
        report_path = report or Path("out") / f"reoptimize-{stack}.md"
        policy = MigrationPolicy(min_saving_percent=min_saving_percent, min_saving_usd=min_saving_usd,
                                 payback_months=payback_months)
        with exclusive_run(lock):
            deployed = read_plan_lock(lock)
            baseline = load_catalog(catalog_dir or BUNDLED_CATALOG_DIR)
            loaded = load_estate(estate_path, baseline)
            if budget is not None:  # the stack's budget replaces the estate's, as in the Pulumi program
                loaded = dataclasses.replace(loaded, estate=loaded.estate.model_copy(
                    update={"budget_usd_per_month": budget}))
            regions = {(a.cloud, r) for a in loaded.estate.clouds for r in a.regions}
            source = _price_source(prices)
            try:
                fresh, notes = source.refresh(baseline, regions)
            except OptimizerError as error:
                problems = [str(error)]
            except Exception as error:  # a live API can fail in many ways; none may lose the last good plan
                problems = [f"{source.name} failed: {type(error).__name__}: {error}"]
            else:
                problems = validate_refresh(baseline, fresh, regions)
            if problems:
                text = (f"# Re-optimization of stack `{stack}`: price refresh rejected\n\n"
                        f"The last good plan lock is kept unchanged. Source: {source.name}.\n\n"
                        + "".join(f"- {p}\n" for p in problems))
                write_files_atomically([(report_path, text)])
                raise PriceRefreshError(f"{source.name}: refresh rejected, last good plan kept ({'; '.join(problems)})"
                                        f". Report: {report_path}. To fix: retry later or check the price source")
            with err.status(f"Re-planning stack {stack}...", spinner="dots"):
                decision = replan(loaded, fresh, deployed, policy, time_limit=time_limit)
            text = render_report(stack, decision, policy, price_source=source.name, refresh_notes=notes)
            changed = decision.status in ("initial", "moved", "forced")
            files = [(report_path, text)] + ([(lock, decision.adopted.canonical_json())] if changed else [])
            write_files_atomically(files)
        out.print(f"{stack}: {decision.status} - {decision.reasons[0] if decision.reasons else ''}", highlight=False)
        out.print(f"Report: {report_path}" + (f"; plan lock: {lock}" if changed else "; plan lock unchanged"))
        if apply and changed:
            return _apply_stack(stack)
        return 0

    _run(body)


def _apply_stack(stack: str) -> int:
    """`pulumi up` through the Automation API, only after the offline policy check passes."""
    import shutil

    try:
        from checks.commands import check_command
    except ImportError:
        check_command = None
    if check_command is not None:
        code = check_command(stack, None, None, False)
        if code != 0:
            err.print(f"--apply blocked: the policy check of stack {stack} failed (exit {code})")
            return code
    if shutil.which("pulumi") is None:
        err.print("--apply skipped: the Pulumi CLI is not installed on this machine. To fix: install it "
                  "(https://www.pulumi.com/docs/install/) and log in, then rerun with --apply")
        return 0
    from pulumi import automation

    workspace_stack = automation.select_stack(stack_name=stack, work_dir=str(Path.cwd()))
    result = workspace_stack.up(on_output=lambda line: err.print(line, highlight=False, markup=False))
    out.print(f"pulumi up: {result.summary.result}")
    return 0 if result.summary.result == "succeeded" else 1


# --- forecast and diagram commands (optimizer/forecast.py, optimizer/diagram.py) -------------------------------


@app.command()
def forecast(
    history: Path = typer.Argument(..., help="hourly history CSV: timestamp,population,requests_per_second"),
    horizon_hours: int = typer.Option(168, "--horizon-hours", min=1, help="hours to forecast"),
    season_hours: Optional[int] = typer.Option(
        None, "--season-hours", min=2,
        help="seasonal period: 24 (daily) or 168 (weekly); default: 168 when the history allows it, else 24"),
    rps_per_replica: Optional[float] = typer.Option(None, "--rps-per-replica", min=0.0,
                                                    help="requests/s one replica serves: adds min/max replicas"),
    headroom: float = typer.Option(0.2, "--headroom", min=0.0, help="spare capacity on top of the upper peak"),
    json_output: bool = JsonOption,
) -> None:
    """Forecast demand per user population (Holt-Winters) and size inference replicas from it."""
    from optimizer.forecast import choose_season_hours, forecast_population, load_history, size_replicas

    def body() -> int:
        series = load_history(history, season_hours=season_hours or 24)
        rows = []
        with err.status(f"Forecasting {len(series)} population(s)...", spinner="dots"):
            for population in sorted(series):
                season = season_hours or choose_season_hours(series[population])
                result = forecast_population(series[population], horizon_hours=horizon_hours,
                                             season_hours=season, population=population)
                row = asdict(result)
                row["season_hours"] = season
                if rps_per_replica:
                    row["min_replicas"], row["max_replicas"] = size_replicas(result, rps_per_replica, headroom)
                rows.append(row)
        if json_output:
            document = {"history": str(history), "horizon_hours": horizon_hours, "season_hours": season_hours or "auto",
                        "rps_per_replica": rps_per_replica, "headroom": headroom, "forecasts": rows}
            sys.stdout.write(json.dumps(document, sort_keys=True, indent=2) + "\n")
            return 0
        table = Table(title=f"Demand forecast for the next {horizon_hours} hours (requests/s) from {history}")
        columns = ["population", "peak", "p95", "mean", "trough", "upper peak", "hold-out MAPE",
                   "hold-out peak err"] + (["replicas min", "replicas max"] if rps_per_replica else [])
        for column in columns:
            table.add_column(column, justify="left" if column == "population" else "right")
        for row in rows:
            cells = [row["population"]] + [f"{row[key]:,.1f}" for key in
                                           ("peak_rps", "p95_rps", "mean_rps", "trough_rps", "upper_peak_rps")]
            cells += [f"{row['holdout_mape_percent']:.1f}%", f"{row['holdout_peak_error_percent']:+.1f}%"]
            if rps_per_replica:
                cells += [str(row["min_replicas"]), str(row["max_replicas"])]
            table.add_row(*cells)
        out.print(table)
        for row in rows:
            out.print(f"{row['population']}: {row['model']}.", highlight=False)
        if rps_per_replica:
            out.print(f"Replicas: min serves the trough, max serves the upper peak + {headroom:.0%} headroom at "
                      f"{rps_per_replica:g} requests/s per replica.", highlight=False)
        return 0

    _run(body)


@app.command()
def diagram(
    estate: Path = typer.Argument(..., help="estate YAML file"),
    output: Path = typer.Option(..., "--out", "-o", help="image to write: .png or .svg"),
    catalog: Optional[Path] = CatalogOption,
    time_limit: float = TimeLimitOption,
) -> None:
    """Plan an estate, then draw where every workload runs and what data flows between sites."""
    from optimizer.diagram import write_diagram

    def body() -> int:
        loaded, cat = _load(estate, catalog)
        result = _solve(loaded, cat, time_limit)
        write_diagram(result, loaded.estate, cat, output)
        out.print(f"Placement diagram written to {output}")
        return 0

    _run(body)


# --- end of forecast and diagram commands ---------------------------------------------------------------------


# Deployment and pull-request commands live in their own packages; they are imported when used,
# so that planning does not pay for loading the Pulumi SDKs.

StackOption = typer.Option(..., "--stack", "-s", help="stack name: dev, staging or prod (stacks/Pulumi.<stack>.yaml)")


@app.command()
def preview(stack: str = StackOption, json_output: bool = JsonOption) -> None:
    """Run the Pulumi program offline (mock engine) and print what `pulumi up` would create."""
    from deploy.commands import preview_command

    _run(lambda: preview_command(stack, json_output))


@app.command()
def check(
    stack: str = StackOption,
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="write a markdown summary here"),
    sarif: Optional[Path] = typer.Option(None, "--sarif", help="write SARIF 2.1.0 here (code scanning)"),
    json_output: bool = JsonOption,
) -> None:
    """Run every policy of the pack over the stack's resources, offline; exit 4 on a mandatory violation."""
    from checks.commands import check_command

    _run(lambda: check_command(stack, markdown, sarif, json_output))


@app.command()
def costdiff(
    base: str = typer.Option(..., "--base", help="git ref, checkout directory or plan JSON"),
    head: str = typer.Option(".", "--head", help="checkout directory, git ref or plan JSON"),
    stack: list[str] = typer.Option([], "--stack", "-s", help="repeatable; default: every stack"),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="write the pull-request comment here"),
    json_output: bool = JsonOption,
) -> None:
    """Monthly cost difference per stack and per workload between two revisions (a PR comment)."""
    from checks.commands import costdiff_command

    _run(lambda: costdiff_command(base, head, stack, markdown, json_output))


@app.command("policy-config")
def policy_config(stack: str = StackOption,
                  output: Optional[Path] = typer.Option(None, "--out", "-o", help="write the JSON here")) -> None:
    """The --policy-pack-config JSON for `pulumi preview --policy-pack policy` on a stack."""
    from checks.commands import policy_config_command

    _run(lambda: policy_config_command(stack, output))


def main() -> None:
    try:
        app(standalone_mode=True)
    except SystemExit as exit_:
        if exit_.code not in (0, None) and isinstance(exit_.code, int) and exit_.code == 2:
            raise SystemExit(EXIT_INVALID_INPUT) from None
        raise
