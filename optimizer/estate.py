"""Load an estate file: YAML -> validated :class:`Estate` plus its sovereignty rules.

Every failure becomes an :class:`EstateError` that names the file, the field path, what was
wrong and how to fix it; nothing here ever lets a raw traceback reach the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from optimizer.catalog import Catalog, accelerator_family
from optimizer.errors import EstateError
from optimizer.model import Estate, EstateProblems, parse_place
from policy.sovereignty import DEFAULT_RULES_PATH, SovereigntyRules, SovereigntyRulesError, load_rules

__all__ = ["LoadedEstate", "load_estate", "parse_estate", "check_against_catalog"]

_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class LoadedEstate:
    """An estate, the rules its data classes refer to, and where both came from."""

    estate: Estate
    rules: SovereigntyRules
    source: str
    forecasts: Mapping[str, Any] = field(default_factory=dict)  # population -> optimizer.forecast.Forecast


def resolve_demand_histories(estate: Estate, base_dir: Path, source: str) -> tuple[Estate, dict[str, Any]]:
    """Forecast every population that gives a demand history instead of a peak.

    The next week's upper-bound peak sizes the replicas and the forecast trough sets the autoscaler
    minimum. A weekly season is used when the history holds enough weeks for it, a daily one otherwise.
    """
    if not any(p.demand_history for p in estate.populations):
        return estate, {}
    from optimizer.errors import OptimizerError
    from optimizer.forecast import choose_season_hours, forecast_population, load_history

    populations = []
    forecasts: dict[str, Any] = {}
    loaded_files: dict[Path, dict] = {}
    for index, population in enumerate(estate.populations):
        if population.demand_history is None:
            populations.append(population)
            continue
        where = f"populations[{index}].demand_history"
        path = (base_dir / population.demand_history).resolve()
        try:
            if path not in loaded_files:
                loaded_files[path] = load_history(path)
            histories = loaded_files[path]
            if population.name not in histories:
                raise EstateError(source, [(where, f"{path} has no rows for population '{population.name}'",
                                            f"use one of: {', '.join(sorted(histories))}, or rename the population")])
            series = histories[population.name]
            season = choose_season_hours(series)
            forecast = forecast_population(series, horizon_hours=168, season_hours=season, population=population.name)
        except EstateError:
            raise
        except OptimizerError as error:
            raise EstateError(source, [(where, str(error).split(" To fix:")[0].rstrip("."),
                                        "fix the history file (see the message)")]) from None
        forecasts[population.name] = forecast
        populations.append(population.model_copy(update={
            "requests_per_second": max(forecast.upper_peak_rps, 1e-6),
            "trough_requests_per_second": forecast.trough_rps}))
    return estate.model_copy(update={"populations": populations}), forecasts


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


_FIX_BY_TYPE = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or correct its spelling (see 'python -m optimizer schema')",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lower-case letters, digits and '-' (places: a site name or '<cloud>:<region>')",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "too_short": "add at least one entry",
}


def _problems_from_validation(error: ValidationError) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    for item in error.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, EstateProblems):
            problems.extend(cause.problems)
            continue
        message = item["msg"].removeprefix("Value error, ")
        fix = _FIX_BY_TYPE.get(item["type"], "correct the value (see 'python -m optimizer schema')")
        if "To fix:" in message:
            message, fix = (part.strip() for part in message.split("To fix:", 1))
            message = message.rstrip(".")
        problems.append((_location(item["loc"]), message, fix))
    return problems


def parse_estate(document: object, source: str) -> Estate:
    """Validate an already-parsed YAML document into an Estate."""
    if not isinstance(document, dict):
        raise EstateError(source, [("(top level)", "the file must hold a mapping",
                                    "start with 'name:', 'home:', 'workloads:' (see stacks/estates/)")])
    try:
        return Estate.model_validate(document)
    except ValidationError as error:
        raise EstateError(source, _problems_from_validation(error)) from None
    except (TypeError, ValueError, RecursionError) as error:  # pragma: no cover - defensive
        raise EstateError(source, [("(top level)", f"cannot be validated ({error})", "check the file")]) from None


def load_estate(path: str | Path, catalog: Catalog | None = None) -> LoadedEstate:
    """Read, parse and validate an estate file (and, given a catalog, its accelerators and regions)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise EstateError(source, [("(file)", f"cannot be read ({exc.strerror})", "check the path")]) from None
    if len(raw) > _MAX_BYTES:
        raise EstateError(source, [("(file)", f"is {len(raw)} bytes", "split it; estates above 20 MiB are refused")])
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise EstateError(source, [("(file)", "is not UTF-8 text", "save it as UTF-8")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise EstateError(source, [(where, f"is not valid YAML: {problem}", "fix the YAML syntax there")]) from None
    except RecursionError:
        raise EstateError(source, [("(file)", "is nested too deeply", "flatten the YAML")]) from None
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        # PyYAML's scalar constructors raise these for 2001-13-45, '!!int abc', '!!bool maybe', 0x_ ...
        raise EstateError(source, [("(file)", f"has a value YAML cannot read ({type(exc).__name__}: {exc})",
                                    "quote the value or correct it")]) from None
    estate = parse_estate(document, source)
    estate, forecasts = resolve_demand_histories(estate, Path(path).parent, source)
    rules_path = (Path(path).parent / estate.sovereignty_rules) if estate.sovereignty_rules else DEFAULT_RULES_PATH
    try:
        rules = load_rules(rules_path)
    except SovereigntyRulesError as exc:
        raise EstateError(source, [("sovereignty_rules", *_split_fix(str(exc), "point it at a valid rules file"))]) from None
    except (OSError, ValueError) as exc:  # a NUL in the path, a file that is not UTF-8 text
        raise EstateError(source, [("sovereignty_rules", f"'{rules_path}' cannot be read as rules ({exc})",
                                    "point it at a valid rules file")]) from None
    problems = data_class_problems(estate, rules)
    if catalog is not None:
        problems += check_against_catalog(estate, catalog)
    if problems:
        raise EstateError(source, problems)
    return LoadedEstate(estate=estate, rules=rules, source=source, forecasts=forecasts)


def _split_fix(message: str, default_fix: str) -> tuple[str, str]:
    """(what, fix) from a message that may already carry its own "To fix:" hint."""
    if "To fix:" in message:
        what, fix = message.split("To fix:", 1)
        return what.strip().rstrip("."), fix.strip()
    return message, default_fix


def data_class_problems(estate: Estate, rules: SovereigntyRules) -> list[tuple[str, str, str]]:
    """Every data class named in the estate must exist in the rules."""
    problems = []
    known = ", ".join(sorted(rules.classes))
    fix = f"use one of: {known} (rules file {rules.source})"
    for index, dataset in enumerate(estate.datasets):
        if dataset.data_class not in rules.classes:
            problems.append((f"datasets[{index}].data_class", f"unknown data class '{dataset.data_class}'", fix))
    for index, workload in enumerate(estate.workloads):
        if workload.federation and workload.federation.update_data_class not in rules.classes:
            problems.append((f"workloads[{index}].federation.update_data_class",
                             f"unknown data class '{workload.federation.update_data_class}'", fix))
        for out_index, output in enumerate(workload.outputs):
            if output.data_class not in rules.classes:
                problems.append((f"workloads[{index}].outputs[{out_index}].data_class",
                                 f"unknown data class '{output.data_class}'", fix))
    return problems


def check_against_catalog(estate: Estate, catalog: Catalog) -> list[tuple[str, str, str]]:
    """Regions must exist in the catalog and accelerator names must be known somewhere."""
    problems = []
    for index, account in enumerate(estate.clouds):
        for region_index, region in enumerate(account.regions):
            if (account.cloud, region) not in catalog.regions:
                known = sorted(r for c, r in catalog.regions if c == account.cloud)
                problems.append((f"clouds[{index}].regions[{region_index}]",
                                 f"'{region}' is not a {account.cloud} region of the catalog",
                                 f"use one of: {', '.join(known)}"))
    if (estate.home.cloud, estate.home.region) not in catalog.regions:
        problems.append(("home.region", f"'{estate.home.region}' is not a {estate.home.cloud} region of the catalog",
                         "use a region listed in the catalog's regions.csv"))
    known = catalog.accelerator_names() | {inv.type for site in [*estate.onprem, *estate.edge]
                                          for inv in site.accelerators}
    known_lower = {name.lower() for name in known} | {accelerator_family(name).lower() for name in known}
    for index, workload in enumerate(estate.workloads):
        for acc_index, option in enumerate(workload.accelerators):
            if option.type.lower() not in known_lower:
                problems.append((f"workloads[{index}].accelerators[{acc_index}].type",
                                 f"unknown accelerator '{option.type}'",
                                 f"use a catalog name or family: {', '.join(sorted(known))}"))
    for index, site in enumerate([*estate.onprem, *estate.edge]):
        if parse_place(site.name):
            problems.append((f"site[{index}].name", "looks like a cloud region", "choose another name"))
    return problems
