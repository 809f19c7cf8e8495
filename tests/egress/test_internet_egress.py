"""Internet egress: charged per GB at the first paid tier in the objective, reported at the tiered bill."""

from __future__ import annotations

import pytest

from optimizer.catalog import load_catalog
from optimizer.estate import LoadedEstate, parse_estate
from optimizer.solve import optimize
from policy.sovereignty import load_rules

CATALOG = load_catalog()


def test_the_plan_reports_internet_egress_charged_and_at_the_volume_tiers():
    # 20 TB read each month from a GCP bucket by a job pinned to AWS: it leaves GCP over the internet.
    document = {
        "name": "egress-test", "home": {"cloud": "aws", "region": "us-east-1"},
        "clouds": [{"cloud": "aws", "regions": ["us-east-1"]}, {"cloud": "gcp", "regions": ["us-central1"]}],
        "datasets": [{"name": "corpus", "location": "gcp:us-central1", "size_gb": 20000, "data_class": "internal",
                      "updates_per_month": 1}],  # a monthly refreshed replica would cost more than streaming
        "workloads": [{"name": "prep", "kind": "preprocessing", "team": "ml", "vcpus": 8, "memory_gib": 32,
                       "reads": [{"dataset": "corpus"}], "allowed_places": ["aws:us-east-1"]}],
    }
    plan = optimize(LoadedEstate(parse_estate(document, "test"), load_rules(), "test"), CATALOG)
    (gcp,) = plan.internet_egress
    assert gcp.cloud == "gcp" and gcp.gb_per_month == 20000
    assert gcp.charged_usd_per_month == pytest.approx(20000 * 0.12)
    assert plan.placement("prep").cost.transfer == pytest.approx(20000 * 0.12)
    # marginal tiers: 1,024 GB at 0.12, 9,216 GB at 0.11, 9,760 GB at 0.08
    assert gcp.tiered_usd_per_month == pytest.approx(1024 * 0.12 + 9216 * 0.11 + 9760 * 0.08, abs=0.01)


def test_transfers_inside_one_cloud_are_not_internet_egress():
    document = {
        "name": "egress-test", "home": {"cloud": "aws", "region": "us-east-1"},
        "clouds": [{"cloud": "aws", "regions": ["us-east-1", "us-west-2"]}],
        "datasets": [{"name": "corpus", "location": "aws:us-west-2", "size_gb": 1000, "data_class": "internal"}],
        "workloads": [{"name": "prep", "kind": "preprocessing", "team": "ml", "vcpus": 8, "memory_gib": 32,
                       "reads": [{"dataset": "corpus"}], "allowed_places": ["aws:us-east-1"]}],
    }
    plan = optimize(LoadedEstate(parse_estate(document, "test"), load_rules(), "test"), CATALOG)
    assert plan.internet_egress == []
    assert plan.placement("prep").cost.transfer == pytest.approx(1000 * 0.02)
