"""Demand forecasts per user population, to size inference replicas and autoscaler bounds.

Input: an hourly history of request rates, CSV ``timestamp,population,requests_per_second`` with
ISO-8601 UTC timestamps (``2026-10-19T00:00:00Z``). Rows of different populations may interleave;
each population's rows must be in time order, one per hour, without gaps.

Model: Holt-Winters exponential smoothing (statsmodels ``ExponentialSmoothing``) with an additive
damped trend and a seasonal component of ``season_hours`` (24: daily; 168 also captures the
weekly shape), multiplicative when every value is positive, additive otherwise; parameters are
fitted by maximum likelihood (statsmodels' SSE minimisation).

* Point forecast: the fitted model's forecast for ``horizon_hours``; peak, p95, mean and trough
  are taken over it (negative values are clipped to 0).
* Hold-out: the model is refitted on the first ``1 - holdout_fraction`` of the history only and
  forecasts the rest; MAPE and the peak error compare that forecast with the held-out actuals.
* Upper bound (residual quantiles, out of sample): the 95th percentile of the hold-out's relative
  errors ``(actual - predicted) / predicted`` over its busy hours (predicted at or above the
  hold-out's median) gives a factor ``1 + q95`` (never below 1); the upper bound is the point
  forecast times that factor, so ``upper_peak_rps = peak_rps x factor``. Multi-step errors on unseen
  data are used on purpose: they include what the model gets wrong (e.g. a weekly rhythm that a
  24-hour season cannot represent), which in-sample residuals or model simulations would not.

Everything here is a pure function of its arguments: no global state, same input, same numbers.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from optimizer.errors import EXIT_INVALID_INPUT, OptimizerError

__all__ = [
    "Forecast",
    "ForecastError",
    "Holdout",
    "HistoryError",
    "evaluate_holdout",
    "forecast_population",
    "load_history",
    "minimum_history_hours",
    "size_replicas",
]

HEADER = ("timestamp", "population", "requests_per_second")
HOUR = timedelta(hours=1)
UPPER_QUANTILE = 95.0

Series = list[tuple[datetime, float]]


class ForecastError(OptimizerError):
    """Forecast inputs that cannot give a meaningful forecast (too short a series, bad options)."""

    exit_code = EXIT_INVALID_INPUT


class HistoryError(ForecastError):
    """A history file that cannot be read; names the file, the line and how to fix it."""

    def __init__(self, path: str | Path, line: int | None, what: str, fix: str):
        self.path = str(path)
        self.line = line
        self.what = what
        self.fix = fix
        where = f"{path}: line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {what}. To fix: {fix}")


@dataclass(frozen=True)
class Holdout:
    """A forecast of the last part of a history by a model fitted only on the part before it."""

    train_hours: int
    predicted: tuple[float, ...]
    actual: tuple[float, ...]
    mape_percent: float  # mean |predicted - actual| / actual over hours with actual > 0
    peak_error_percent: float  # (max predicted - max actual) / max actual; positive = over-forecast
    upper_factor: float  # 1 + 95th percentile of relative errors at busy hours, at least 1


@dataclass(frozen=True)
class Forecast:
    """Forecast demand of one population over the next ``horizon_hours``, in requests per second."""

    population: str
    horizon_hours: int
    peak_rps: float  # maximum of the point forecast
    p95_rps: float  # 95th percentile of the point forecast's hours
    mean_rps: float
    trough_rps: float  # minimum of the point forecast
    upper_peak_rps: float  # peak x the hold-out's 95% relative-error factor (see the module docstring)
    holdout_mape_percent: float
    holdout_peak_error_percent: float
    model: str


def minimum_history_hours(season_hours: int = 24, holdout_fraction: float = 0.2) -> int:
    """Fewest hours that leave two full seasons to fit after the hold-out is set aside."""
    _check_options(season_hours, holdout_fraction)
    hours = 2 * season_hours + 1
    while hours - _holdout_hours(hours, holdout_fraction) < 2 * season_hours:
        hours += 1
    return hours


def choose_season_hours(series: "Series") -> int:
    """A weekly season when the history leaves two weeks to fit after the hold-out, else a daily one:
    a daily season cannot represent quiet weekends (see the README's hold-out errors)."""
    return 168 if len(series) >= minimum_history_hours(168) else 24


def load_history(path: str | Path, *, season_hours: int = 24,
                 holdout_fraction: float = 0.2) -> dict[str, Series]:
    """Read an hourly history CSV into ``{population: [(timestamp, rps), ...]}`` in time order.

    Raises :class:`HistoryError` (exit code 2) naming the file, the line and a fix for a missing or
    wrong header, a malformed row, a timestamp without UTC offset, a negative or non-finite value,
    timestamps out of order or repeated, a gap, or a population with too little history to fit two
    seasons and keep a hold-out.
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise HistoryError(path, None, f"cannot be read ({exc.strerror})",
                           "check the path of the history CSV") from None
    series: dict[str, Series] = {}
    last_line: dict[str, int] = {}
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(cell.strip() for cell in header) != HEADER:
            raise HistoryError(path, 1, f"header is {header!r}, expected {','.join(HEADER)}",
                               f"make the first line exactly '{','.join(HEADER)}'")
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 3:
                raise HistoryError(path, line, f"has {len(row)} fields, expected 3",
                                   "write timestamp,population,requests_per_second on each line")
            stamp = _timestamp(path, line, row[0].strip())
            population = row[1].strip()
            if not population:
                raise HistoryError(path, line, "population is empty", "name the user population of the row")
            value = _value(path, line, row[2].strip())
            points = series.setdefault(population, [])
            if points:
                previous = points[-1][0]
                if stamp == previous:
                    raise HistoryError(path, line, f"duplicate timestamp {row[0].strip()} for '{population}' "
                                                   f"(also on line {last_line[population]})",
                                       "keep one row per population and hour")
                if stamp < previous:
                    raise HistoryError(path, line, f"timestamp {row[0].strip()} for '{population}' is before the "
                                                   f"one on line {last_line[population]}",
                                       "sort the rows by timestamp")
                step = stamp - previous
                if step % HOUR:
                    raise HistoryError(path, line, f"'{population}' is not hourly: {step} after line "
                                                   f"{last_line[population]}",
                                       "aggregate the history to one row per whole hour")
                if step > HOUR:
                    missing = step // HOUR - 1
                    raise HistoryError(path, line, f"gap of {missing} hour(s) in '{population}' after line "
                                                   f"{last_line[population]}",
                                       "fill the missing hours (e.g. interpolate) or start the history after the gap")
            points.append((stamp, value))
            last_line[population] = line
    if not series:
        raise HistoryError(path, None, "has no data rows", "add hourly rows after the header")
    needed = minimum_history_hours(season_hours, holdout_fraction)
    for population, points in series.items():
        if len(points) < needed:
            raise HistoryError(path, last_line[population],
                               f"'{population}' has {len(points)} hours of history, the forecast needs at least "
                               f"{needed} (two {season_hours}-hour seasons to fit plus a "
                               f"{holdout_fraction:.0%} hold-out)",
                               f"provide at least {math.ceil(needed / 24)} days of hourly history")
    return series


def _timestamp(path: Path, line: int, text: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise HistoryError(path, line, f"timestamp '{text}' is not ISO-8601",
                           "write timestamps like 2026-10-19T14:00:00Z") from None
    if stamp.tzinfo is None or stamp.utcoffset() != timedelta(0):
        raise HistoryError(path, line, f"timestamp '{text}' is not in UTC",
                           "convert to UTC and mark it with Z or +00:00")
    return stamp.astimezone(timezone.utc)


def _value(path: Path, line: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise HistoryError(path, line, f"requests_per_second '{text}' is not a number",
                           "write a decimal number such as 12.5") from None
    if not math.isfinite(value):
        raise HistoryError(path, line, f"requests_per_second '{text}' is not finite", "write a finite number")
    if value < 0:
        raise HistoryError(path, line, f"requests_per_second {text} is negative",
                           "correct the row: request rates are 0 or more")
    return value


def _check_options(season_hours: int, holdout_fraction: float) -> None:
    if season_hours < 2:
        raise ForecastError(f"season_hours is {season_hours}. To fix: use 24 (daily) or 168 (weekly)")
    if not 0 < holdout_fraction < 1:
        raise ForecastError(f"holdout_fraction is {holdout_fraction}. To fix: use a fraction such as 0.2")


def _holdout_hours(total: int, holdout_fraction: float) -> int:
    return max(1, math.ceil(total * holdout_fraction))


def _fit(values: np.ndarray, season_hours: int):
    """Holt-Winters fit of ``values``; returns (results, description)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "mul" if float(values.min()) > 0 else "add"
    model = ExponentialSmoothing(values, trend="add", damped_trend=True, seasonal=seasonal,
                                 seasonal_periods=season_hours, initialization_method="estimated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = model.fit(optimized=True)
    note = " (optimizer warned: " + str(caught[0].message).split(".")[0] + ")" if caught else ""
    description = (f"Holt-Winters: additive damped trend, {'multiplicative' if seasonal == 'mul' else 'additive'} "
                   f"{season_hours}-hour seasonality, fitted on {len(values)} hours{note}")
    return results, description


def _as_array(series: Series, population: str) -> np.ndarray:
    values = np.asarray([value for _, value in series], dtype=float)
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
        raise ForecastError(f"'{population}': values must be finite and 0 or more. To fix: clean the history")
    return values


def evaluate_holdout(series: Series, *, season_hours: int = 24, holdout_fraction: float = 0.2,
                     population: str = "series") -> Holdout:
    """Fit on the first ``1 - holdout_fraction`` of ``series`` only, forecast the rest, compare."""
    _check_options(season_hours, holdout_fraction)
    values = _as_array(series, population)
    needed = minimum_history_hours(season_hours, holdout_fraction)
    if values.size < needed:
        raise ForecastError(f"'{population}' has {values.size} hours of history, at least {needed} are needed. "
                            "To fix: provide a longer history")
    held = _holdout_hours(values.size, holdout_fraction)
    train, actual = values[:-held], values[-held:]
    results, _ = _fit(train, season_hours)
    predicted = np.clip(np.asarray(results.forecast(held), dtype=float), 0.0, None)
    positive = actual > 0
    mape = float(np.mean(np.abs(predicted[positive] - actual[positive]) / actual[positive]) * 100) \
        if positive.any() else float("nan")
    peak_actual = float(actual.max())
    peak_error = (float(predicted.max()) - peak_actual) / peak_actual * 100 if peak_actual > 0 else float("nan")
    busy = predicted >= np.median(predicted)
    busy &= predicted > 0
    relative = (actual[busy] - predicted[busy]) / predicted[busy]
    factor = 1.0 + max(0.0, float(np.percentile(relative, UPPER_QUANTILE))) if relative.size else 1.0
    return Holdout(train_hours=int(train.size), predicted=tuple(float(v) for v in predicted),
                   actual=tuple(float(v) for v in actual), mape_percent=round(mape, 2),
                   peak_error_percent=round(peak_error, 2), upper_factor=round(factor, 4))


def forecast_population(series: Series, *, horizon_hours: int = 168, season_hours: int = 24,
                        holdout_fraction: float = 0.2, population: str = "series") -> Forecast:
    """Forecast the next ``horizon_hours`` of one population's hourly history.

    ``series`` is ``[(timestamp, rps), ...]`` in time order, hourly, as :func:`load_history` returns.
    The hold-out figures come from :func:`evaluate_holdout`; the forecast itself uses the whole history.
    """
    if horizon_hours < 1:
        raise ForecastError(f"horizon_hours is {horizon_hours}. To fix: forecast at least 1 hour ahead")
    holdout = evaluate_holdout(series, season_hours=season_hours, holdout_fraction=holdout_fraction,
                               population=population)
    values = _as_array(series, population)
    results, description = _fit(values, season_hours)
    point = np.clip(np.asarray(results.forecast(horizon_hours), dtype=float), 0.0, None)
    upper = point * holdout.upper_factor
    return Forecast(
        population=population,
        horizon_hours=horizon_hours,
        peak_rps=round(float(point.max()), 2),
        p95_rps=round(float(np.percentile(point, 95)), 2),
        mean_rps=round(float(point.mean()), 2),
        trough_rps=round(float(point.min()), 2),
        upper_peak_rps=round(float(upper.max()), 2),
        holdout_mape_percent=holdout.mape_percent,
        holdout_peak_error_percent=holdout.peak_error_percent,
        model=f"{description}; upper bound: forecast x {holdout.upper_factor:.3f} (95th percentile of hold-out "
              f"relative errors at busy hours)",
    )


def size_replicas(forecast: Forecast, rps_per_replica: float, headroom: float = 0.2) -> tuple[int, int]:
    """(min, max) inference replicas: min serves the forecast trough (at least 1), max serves the
    upper peak plus ``headroom`` (0.2 = 20% spare). Use them as autoscaler bounds."""
    if not rps_per_replica > 0 or not math.isfinite(rps_per_replica):
        raise ForecastError(f"rps_per_replica is {rps_per_replica}. To fix: give the requests per second one "
                            "replica serves at its latency target (a positive number)")
    if not headroom >= 0 or not math.isfinite(headroom):
        raise ForecastError(f"headroom is {headroom}. To fix: use 0 or more (0.2 = 20% spare capacity)")
    minimum = max(1, math.ceil(forecast.trough_rps / rps_per_replica - 1e-9))
    maximum = max(minimum, math.ceil(forecast.upper_peak_rps * (1 + headroom) / rps_per_replica - 1e-9))
    return minimum, maximum
