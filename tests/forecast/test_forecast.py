"""Behaviour of the demand forecast: accuracy on known series, an honest hold-out, typed input errors, sizing."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from optimizer.errors import OptimizerError
from optimizer.forecast import (Forecast, ForecastError, HistoryError, evaluate_holdout, forecast_population,
                                load_history, minimum_history_hours, size_replicas)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "demand" / "clinician-requests.csv"
START = datetime(2026, 1, 5, tzinfo=timezone.utc)


def synthetic(hours: int, *, base: float = 100.0, amplitude: float = 60.0, noise: float = 0.0,
              seed: int = 7) -> list[tuple[datetime, float]]:
    """A daily sine around ``base``: peak base + amplitude at 12:00 UTC every day."""
    import numpy as np

    jitter = np.random.default_rng(seed).normal(0.0, noise, hours) if noise else [0.0] * hours
    return [(START + timedelta(hours=h), base + amplitude * math.sin(2 * math.pi * (h - 6) / 24) + jitter[h])
            for h in range(hours)]


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("timestamp,population,requests_per_second\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def hourly_rows(hours: int, population: str = "p", value: float = 10.0) -> list[str]:
    return [f"{(START + timedelta(hours=h)).strftime('%Y-%m-%dT%H:%M:%SZ')},{population},{value}"
            for h in range(hours)]


def test_forecast_recovers_the_peak_of_a_known_daily_series_within_3_percent():
    series = synthetic(24 * 14, noise=2.0)
    forecast = forecast_population(series, horizon_hours=48, population="sine")
    assert forecast.peak_rps == pytest.approx(160.0, rel=0.03)
    assert forecast.trough_rps == pytest.approx(40.0, rel=0.10)
    assert forecast.mean_rps == pytest.approx(100.0, rel=0.03)
    assert forecast.trough_rps <= forecast.mean_rps <= forecast.p95_rps <= forecast.peak_rps <= forecast.upper_peak_rps
    assert forecast.holdout_mape_percent < 3.0
    assert abs(forecast.holdout_peak_error_percent) < 3.0
    assert "Holt-Winters" in forecast.model


def test_holdout_forecast_depends_only_on_the_first_80_percent():
    series = synthetic(24 * 10, noise=1.0)
    changed = series[:192] + [(t, v * 2.0) for t, v in series[192:]]  # demand doubles in the last 20%
    before, after = evaluate_holdout(series), evaluate_holdout(changed)
    assert before.train_hours == after.train_hours == 192
    assert after.predicted == before.predicted, "the hold-out forecast must not see the held-out hours"
    assert after.actual != before.actual
    # the model never saw the doubling, so it misses by about half of every held-out value
    assert after.mape_percent == pytest.approx(50.0, abs=3.0)
    assert after.mape_percent > 10 * before.mape_percent


def test_holdout_mape_is_the_mean_absolute_percentage_error_of_its_own_numbers():
    holdout = evaluate_holdout(synthetic(24 * 8, noise=4.0))
    expected = sum(abs(p - a) / a for p, a in zip(holdout.predicted, holdout.actual)) / len(holdout.actual) * 100
    assert holdout.mape_percent == pytest.approx(expected, abs=0.01)


def test_a_forecast_is_the_same_for_the_same_history():
    series = synthetic(24 * 7, noise=3.0)
    assert forecast_population(series, population="a") == forecast_population(series, population="a")


def test_sample_history_loads_and_forecasts_with_weekly_season_within_10_percent_holdout_error():
    history = load_history(SAMPLE)
    assert set(history) == {"frankfurt-clinicians", "paris-clinicians", "chicago-stores"}
    assert all(len(points) == 6 * 7 * 24 for points in history.values())
    forecast = forecast_population(history["chicago-stores"], season_hours=168, population="chicago-stores")
    assert forecast.holdout_mape_percent < 10.0


@pytest.mark.parametrize("rows, line, words", [
    (["2026-01-05T00:00:00Z,p,abc"], 2, "not a number"),
    (["2026-01-05T00:00:00Z,p,-3"], 2, "negative"),
    (["2026-01-05T00:00:00,p,3"], 2, "not in UTC"),
    (["2026-01-05T00:00:00+02:00,p,3"], 2, "not in UTC"),
    (["yesterday,p,3"], 2, "not ISO-8601"),
    (["2026-01-05T00:00:00Z,p"], 2, "fields"),
    (["2026-01-05T00:00:00Z,p,1", "2026-01-05T01:00:00Z,p,1", "2026-01-05T01:00:00Z,p,1"], 4, "duplicate"),
    (["2026-01-05T00:00:00Z,p,1", "2026-01-05T02:00:00Z,p,1", "2026-01-05T01:00:00Z,p,1"], 3, "gap of 1 hour"),
    (["2026-01-05T02:00:00Z,p,1", "2026-01-05T01:00:00Z,p,1"], 3, "before"),
    (["2026-01-05T00:00:00Z,p,1", "2026-01-05T00:30:00Z,p,1"], 3, "not hourly"),
])
def test_bad_rows_raise_a_typed_error_naming_file_line_and_fix(tmp_path, rows, line, words):
    path = write_csv(tmp_path / "history.csv", rows)
    with pytest.raises(HistoryError) as caught:
        load_history(path)
    message = str(caught.value)
    assert f"{path}: line {line}:" in message
    assert words in message
    assert "To fix:" in message
    assert isinstance(caught.value, OptimizerError) and caught.value.exit_code == 2


def test_wrong_header_is_reported_on_line_1(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("time,pop,rps\n", encoding="utf-8")
    with pytest.raises(HistoryError, match=r"h\.csv: line 1: header .* To fix:"):
        load_history(path)


def test_too_little_history_is_refused_and_the_minimum_is_accepted(tmp_path):
    needed = minimum_history_hours(24, 0.2)
    assert needed - math.ceil(needed * 0.2) >= 48  # two full seasons remain to fit after the hold-out
    short = write_csv(tmp_path / "short.csv", hourly_rows(needed - 1, "q"))
    with pytest.raises(HistoryError, match=r"'q' has \d+ hours of history.*To fix: provide at least"):
        load_history(short)
    assert len(load_history(write_csv(tmp_path / "ok.csv", hourly_rows(needed, "q")))["q"]) == needed
    with pytest.raises(ForecastError):
        forecast_population(synthetic(needed - 1))


def test_interleaved_populations_are_split_in_time_order(tmp_path):
    rows = [r for pair in zip(hourly_rows(80, "a", 1.0), hourly_rows(80, "b", 2.0)) for r in pair]
    history = load_history(write_csv(tmp_path / "two.csv", rows))
    assert {name: len(points) for name, points in history.items()} == {"a": 80, "b": 80}
    assert [t for t, _ in history["b"]] == sorted(t for t, _ in history["b"])
    assert history["b"][0] == (START, 2.0)


def fake(trough: float, upper_peak: float) -> Forecast:
    return Forecast("p", 168, upper_peak, upper_peak, (trough + upper_peak) / 2, trough, upper_peak, 0.0, 0.0, "m")


def test_replicas_serve_trough_and_upper_peak_with_headroom():
    assert size_replicas(fake(95.0, 400.0), rps_per_replica=50.0, headroom=0.2) == (2, 10)  # 400 x 1.2 / 50 = 9.6
    assert size_replicas(fake(0.0, 0.0), rps_per_replica=50.0) == (1, 1)


@pytest.mark.parametrize("rps_per_replica", [1.0, 7.5, 40.0, 1000.0])
def test_replicas_never_fall_below_one_and_grow_with_demand(rps_per_replica):
    previous = (1, 1)
    for demand in [0.0, 0.5, 3.0, 10.0, 99.0, 100.0, 101.0, 2500.0, 1e6]:
        low, high = size_replicas(fake(demand / 3, demand), rps_per_replica)
        assert 1 <= low <= high
        assert low >= previous[0] and high >= previous[1]
        previous = (low, high)


def test_replica_sizing_rejects_a_non_positive_capacity():
    with pytest.raises(ForecastError, match="To fix:"):
        size_replicas(fake(1.0, 2.0), rps_per_replica=0.0)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_cli_forecast_prints_json_per_population_with_replica_bounds():
    import json

    result = run_cli("forecast", str(SAMPLE), "--horizon-hours", "48", "--rps-per-replica", "20", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    rows = {row["population"]: row for row in body["forecasts"]}
    assert set(rows) == {"frankfurt-clinicians", "paris-clinicians", "chicago-stores"}
    for row in rows.values():
        assert 1 <= row["min_replicas"] <= row["max_replicas"]
        assert row["max_replicas"] >= math.ceil(row["upper_peak_rps"] * 1.2 / 20 - 1e-9)


def test_cli_forecast_exits_2_with_the_file_and_line_of_a_bad_row(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", ["2026-01-05T00:00:00Z,p,-1"])
    result = run_cli("forecast", str(bad))
    assert result.returncode == 2
    assert f"{bad}: line 2:" in result.stderr and "To fix:" in result.stderr
