"""Populations sized from a demand history: forecast peak sizes replicas, the trough the autoscaler minimum."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import yaml

from optimizer.catalog import load_catalog
from optimizer.errors import EstateError
from optimizer.estate import load_estate
from optimizer.solve import optimize

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "examples" / "demand" / "clinician-requests.csv"
CATALOG = load_catalog()


def write_estate(tmp_path: Path, populations: list[dict]) -> Path:
    shutil.copy(HISTORY, tmp_path / "history.csv")
    document = {
        "name": "forecast-link",
        "home": {"cloud": "gcp", "region": "europe-west4"},
        "clouds": [{"cloud": "gcp", "regions": ["europe-west4", "europe-west3"]}],
        "populations": populations,
        "workloads": [{"name": "serve", "kind": "inference", "team": "ml",
                       "accelerators": [{"type": "L4", "count": 1}], "replica_requests_per_second": 5,
                       "serves": [p["name"] for p in populations]}],
    }
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_replicas_follow_the_forecast_peak_and_the_autoscaler_minimum_its_trough(tmp_path):
    path = write_estate(tmp_path, [{"name": "frankfurt-clinicians", "location": {"lat": 50.11, "lon": 8.68},
                                    "demand_history": "history.csv", "latency_ms": 30}])
    loaded = load_estate(path, CATALOG)
    forecast = loaded.forecasts["frankfurt-clinicians"]
    population = loaded.estate.populations[0]
    assert population.requests_per_second == pytest.approx(forecast.upper_peak_rps)
    assert population.trough_requests_per_second == pytest.approx(forecast.trough_rps)
    assert forecast.trough_rps < forecast.peak_rps <= forecast.upper_peak_rps
    site = optimize(loaded, CATALOG).placement("serve").serving_sites[0]
    assert site.replicas == math.ceil(forecast.upper_peak_rps / 5 - 1e-9)
    assert site.min_replicas == max(1, math.ceil(forecast.trough_rps / 5 - 1e-9))
    assert 1 <= site.min_replicas < site.replicas


def test_a_population_missing_from_the_history_is_an_error_naming_the_field(tmp_path):
    path = write_estate(tmp_path, [{"name": "tokyo-users", "location": {"lat": 35.7, "lon": 139.7},
                                    "demand_history": "history.csv", "latency_ms": 30}])
    with pytest.raises(EstateError) as error:
        load_estate(path, CATALOG)
    assert "populations[0].demand_history" in str(error.value)
    assert "no rows for population 'tokyo-users'" in str(error.value)


def test_peak_and_history_together_are_refused(tmp_path):
    path = write_estate(tmp_path, [{"name": "frankfurt-clinicians", "location": {"lat": 50.11, "lon": 8.68},
                                    "requests_per_second": 10, "demand_history": "history.csv",
                                    "latency_ms": 30}])
    with pytest.raises(EstateError) as error:
        load_estate(path, CATALOG)
    assert "give exactly one of requests_per_second or demand_history" in str(error.value)


def test_without_a_forecast_there_is_no_scale_in():
    from tests.serving.test_serving import estate, loaded, population

    document = estate([population("dublin-users", 53.35, -6.26, 100, 40)], edge=False)
    site = optimize(loaded(document), CATALOG).placement("serve").serving_sites[0]
    assert site.min_replicas == site.replicas
