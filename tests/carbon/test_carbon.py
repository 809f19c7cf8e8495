"""Carbon: emissions per workload and plan, a carbon price that trades cost for carbon, a hard cap."""

from __future__ import annotations

import copy

import pytest
import yaml

from optimizer.catalog import load_catalog
from optimizer.errors import EstateError, InfeasibleEstateError
from optimizer.estate import LoadedEstate, parse_estate
from optimizer.solve import optimize
from policy.sovereignty import load_rules

CATALOG = load_catalog()
RULES = load_rules()

# One CPU batch job, free to run in a coal-heavy or a hydro-powered EU region.
BASE = {
    "name": "carbon-test",
    "home": {"cloud": "aws", "region": "eu-central-1"},
    "clouds": [{"cloud": "aws", "regions": ["eu-central-1", "eu-north-1"]},
               {"cloud": "gcp", "regions": ["europe-west3", "europe-north1"]}],
    "workloads": [{"name": "train", "kind": "training", "team": "ml",
                   "accelerators": [{"type": "A100", "count": 8}, {"type": "L4", "count": 8, "speedup": 0.3}],
                   "hours_per_run": 100, "runs_per_month": 4}],
}


def plan_with(carbon):
    document = copy.deepcopy(BASE)
    if carbon is not None:
        document["carbon"] = carbon
    return optimize(LoadedEstate(parse_estate(document, "test"), RULES, "test"), CATALOG)


def test_every_placement_reports_its_emissions_from_energy_pue_and_grid_intensity():
    plan = plan_with(None)
    placement = plan.placement("train")
    region = (placement.cloud, placement.region)
    watts = CATALOG.accelerator_watts[placement.accelerator] * placement.accelerators_per_node
    vcpus = next(o for o in CATALOG.offers_in(*region) if o.instance_type == placement.instance_type).vcpus
    expected = placement.node_hours_per_month * (watts + 4.0 * vcpus) / 1000 * 1.1 \
        * CATALOG.carbon_g_per_kwh[region] / 1000
    assert placement.carbon_kg_per_month == pytest.approx(expected, rel=1e-3)
    assert plan.total_carbon_kg_per_month == pytest.approx(sum(p.carbon_kg_per_month for p in plan.placements))


def test_should_trade_cost_for_carbon_as_the_carbon_price_rises():
    results = [plan_with({"price_usd_per_tonne": price}) for price in (0, 50, 500, 5000, 50000)]
    costs = [p.total_usd_per_month for p in results]
    emissions = [p.total_carbon_kg_per_month for p in results]
    assert costs == sorted(costs), "a higher carbon price never buys a cheaper plan"
    assert emissions == sorted(emissions, reverse=True), "a higher carbon price never emits more"
    assert emissions[-1] < emissions[0] and costs[-1] > costs[0], "at some price the plan really changes"
    assert results[-1].carbon_price_usd_per_tonne == 50000


def test_a_carbon_cap_is_a_hard_limit_and_an_unreachable_one_is_diagnosed():
    free = plan_with(None)
    cap = free.total_carbon_kg_per_month / 2
    capped = plan_with({"cap_kg_per_month": cap})
    assert capped.total_carbon_kg_per_month <= cap + 0.1
    assert capped.total_usd_per_month >= free.total_usd_per_month
    with pytest.raises(InfeasibleEstateError, match="carbon cap: even the lowest-emission plan"):
        plan_with({"cap_kg_per_month": 0.001})


def test_price_and_cap_together_are_refused():
    document = copy.deepcopy(BASE)
    document["carbon"] = {"price_usd_per_tonne": 100, "cap_kg_per_month": 10}
    with pytest.raises(EstateError, match="set exactly one of price_usd_per_tonne or cap_kg_per_month"):
        parse_estate(document, "bad.yaml")


def test_a_private_site_without_a_declared_intensity_takes_the_nearest_regions():
    from optimizer.candidates import carbon_model

    document = copy.deepcopy(BASE)
    document["onprem"] = [{"name": "dc-frankfurt", "jurisdiction": "EU", "location": {"lat": 50.11, "lon": 8.68}}]
    model = carbon_model(parse_estate(document, "test"), CATALOG)
    # aws:eu-central-1 and gcp:europe-west3 are both in Frankfurt: the tie goes to the first key
    nearest = min((k for k in CATALOG.carbon_g_per_kwh if k in CATALOG.regions),
                  key=lambda k: (round((CATALOG.regions[k].lat - 50.11) ** 2 + (CATALOG.regions[k].lon - 8.68) ** 2, 6), k))
    assert nearest == ("aws", "eu-central-1")
    assert model.intensity_g_per_kwh["dc-frankfurt"] == CATALOG.carbon_g_per_kwh[nearest]
    assert model.pue["dc-frankfurt"] == 1.5
