"""The quirks of the real snapshot (catalog/2026-11-29) are handled, checked against the raw CSVs."""

from __future__ import annotations

import csv
import statistics
from collections import Counter

import pytest

from optimizer.catalog import BUNDLED_CATALOG_DIR


def raw_rows(name: str) -> list[dict[str, str]]:
    with open(BUNDLED_CATALOG_DIR / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def offer(catalog, cloud, region, instance_type):
    matches = [o for o in catalog.offers_in(cloud, region) if o.instance_type == instance_type]
    assert len(matches) <= 1, matches
    return matches[0] if matches else None


def test_the_raw_snapshot_really_has_the_quirks():
    """Guards the tests below: each quirk they rely on is present in the source files."""
    gcp = raw_rows("gcp_vms.csv")
    duplicates = Counter(tuple(sorted(row.items())) for row in gcp)
    assert any(count > 1 for count in duplicates.values())
    assert any(row["Price"] == "700.0" and row["AcceleratorName"].startswith("tpu-") for row in gcp)
    aws = raw_rows("aws_vms.csv")
    p5e = [row for row in aws if row["InstanceType"] == "p5e.48xlarge"]
    assert p5e and all(row["Price"] == "" for row in p5e)
    trn2 = [row for row in aws if row["InstanceType"] == "trn2.48xlarge"]
    assert trn2 and all(row["AcceleratorName"] == "" for row in trn2)
    assert any(row["AcceleratorName"] == "H100" and row["Price"] == "4.20076" for row in gcp)


def test_exact_duplicates_are_dropped_and_recorded(catalog):
    gcp = raw_rows("gcp_vms.csv")
    extra = len(gcp) - len({tuple(sorted(row.items())) for row in gcp})
    assert f"gcp_vms.csv: dropped {extra} exact duplicate rows" in catalog.quirks
    keys = [(o.cloud, o.region, o.instance_type) for o in catalog.offers]
    assert len(keys) == len(set(keys)), "one offer per (cloud, region, node type)"


def test_placeholder_tpu_prices_are_not_offers(catalog):
    assert all(o.on_demand_usd_per_hour != 700.0 for o in catalog.offers)
    assert all(o.spot_usd_per_hour != 700.0 for o in catalog.offers)
    # tpu-v6e-1 in us-central2 exists only at the placeholder price
    rows = [r for r in raw_rows("gcp_vms.csv") if r["AcceleratorName"] == "tpu-v6e-1" and r["Region"] == "us-central2"]
    assert rows and all(r["Price"] == "700.0" for r in rows)
    assert offer(catalog, "gcp", "us-central2", "tpu-v6e-1") is None
    assert any("TPU placeholder prices (700.0) treated as missing" in q for q in catalog.quirks)


def test_gcp_gpu_vm_is_host_plus_accelerator_row(catalog):
    a2 = offer(catalog, "gcp", "us-central1", "a2-highgpu-1g")
    assert a2 is not None
    assert a2.on_demand_usd_per_hour == pytest.approx(0.73948 + 2.93391) == pytest.approx(3.67339)
    assert (a2.accelerator, a2.accelerators_per_node) == ("A100", 1)
    assert a2.spot_usd_per_hour == pytest.approx(0.29576 + 1.1472)
    eight = offer(catalog, "gcp", "us-central1", "a2-highgpu-8g")
    assert (eight.accelerator, eight.accelerators_per_node) == ("A100", 8)


def test_anomalous_h100_zone_prices_are_dropped(catalog):
    gcp = raw_rows("gcp_vms.csv")
    h100x1 = [float(r["Price"]) for r in gcp if r["AcceleratorName"] == "H100" and r["AcceleratorCount"] == "1"
              and r["Price"]]
    median = statistics.median(h100x1)
    assert 4.20076 < median / 2
    for o in catalog.offers:
        if o.cloud == "gcp" and o.accelerator == "H100" and o.accelerators_per_node == 1:
            host = [float(r["Price"]) for r in gcp if r["InstanceType"] == o.instance_type and r["Region"] == o.region]
            assert o.on_demand_usd_per_hour - min(host) > median / 2, o
    # asia-southeast1-b/c had only the anomalous price: no a3-highgpu-1g zone there survives it
    sg = offer(catalog, "gcp", "asia-southeast1", "a3-highgpu-1g")
    assert sg is None or not {"asia-southeast1-b", "asia-southeast1-c"} & set(sg.zones)
    assert any("H100 x1 below half its median" in q for q in catalog.quirks)


def test_p5e_with_an_empty_price_is_absent(catalog):
    assert not [o for o in catalog.offers if o.instance_type == "p5e.48xlarge"]


def test_trn2_has_16_trainium2_chips(catalog):
    trn2 = [o for o in catalog.offers if o.instance_type == "trn2.48xlarge"]
    assert trn2
    for o in trn2:
        assert (o.accelerator, o.accelerators_per_node, o.family) == ("Trainium2", 16, "Trainium")
    assert offer(catalog, "aws", "us-east-2", "trn2.48xlarge").on_demand_usd_per_hour == pytest.approx(85.964)


def test_spot_at_or_above_on_demand_is_no_spot(catalog):
    assert all(o.spot_usd_per_hour is None or o.spot_usd_per_hour < o.on_demand_usd_per_hour
               for o in catalog.offers)
