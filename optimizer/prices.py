"""Pluggable price sources for re-optimization, and the plausibility gate every refresh must pass.

Sources:

* :class:`CatalogDirSource` — the bundled snapshot or any directory in SkyPilot's CSV format;
* :class:`AwsPriceListSource` — on-demand prices from the AWS Price List API (``pricing``
  ``GetProducts``) and spot prices from EC2 ``DescribeSpotPriceHistory``, through boto3;
* :class:`GcpBillingCatalogSource` — the Cloud Billing Catalog API (``services/6F81-5844-456A/skus``,
  Compute Engine), pricing a machine type as vCPUs x core SKU + GiB x RAM SKU (+ GPUs x GPU SKU).

A live source only updates the offers of the regions the estate uses, starting from the last good
catalog, so anything it cannot price keeps its previous price (and is reported).

:func:`validate_refresh` rejects a refresh with regions missing, offers dropped in bulk, or prices
that moved by more than a factor of five (a unit or currency error, not a market move); the caller
then keeps the last good plan and reports why.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from optimizer.catalog import REPO_ROOT, Catalog, Offer, load_catalog
from optimizer.errors import OptimizerError

__all__ = [
    "AwsPriceListSource",
    "CatalogDirSource",
    "GcpBillingCatalogSource",
    "PriceRefreshError",
    "PriceSource",
    "validate_refresh",
]

EXIT_REFRESH_REJECTED = 6
_MAX_RATIO = 5.0
_MAX_DROPPED_SHARE = 0.2


class PriceRefreshError(OptimizerError):
    """A price refresh failed or looks implausible; the last good plan is kept."""

    exit_code = EXIT_REFRESH_REJECTED


class PriceSource(Protocol):
    name: str

    def refresh(self, baseline: Catalog, regions: set[tuple[str, str]]) -> tuple[Catalog, tuple[str, ...]]:
        """A catalog with fresh prices for ``regions`` (cloud, region), and notes on what was not refreshed."""
        ...


@dataclasses.dataclass(frozen=True)
class CatalogDirSource:
    directory: Path

    @property
    def name(self) -> str:
        try:
            shown = Path(self.directory).resolve().relative_to(REPO_ROOT)
        except ValueError:
            shown = Path(self.directory)
        return f"catalog directory {shown}"

    def refresh(self, baseline: Catalog, regions: set[tuple[str, str]]) -> tuple[Catalog, tuple[str, ...]]:
        return load_catalog(self.directory), ()


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


# --- AWS -------------------------------------------------------------------------------------------

def _aws_on_demand_price(price_list_item: str) -> float | None:
    """Hourly USD of a Price List product whose terms hold exactly one on-demand hourly price."""
    product = json.loads(price_list_item)
    prices = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") == "Hrs" and "USD" in dimension.get("pricePerUnit", {}):
                prices.append(float(dimension["pricePerUnit"]["USD"]))
    prices = [p for p in prices if p > 0]
    return min(prices) if prices else None


class AwsPriceListSource:
    """AWS Price List (on-demand) + EC2 spot price history, through boto3 clients."""

    name = "AWS Price List API + EC2 spot price history"

    def __init__(self, pricing_client: Any = None, ec2_client_for: Callable[[str], Any] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        if pricing_client is None or ec2_client_for is None:
            import boto3  # imported lazily: only this source needs the AWS SDK

            pricing_client = pricing_client or boto3.client("pricing", region_name="us-east-1")
            ec2_client_for = ec2_client_for or (lambda region: boto3.client("ec2", region_name=region))
        self._pricing = pricing_client
        self._ec2_for = ec2_client_for
        self._now = now

    def _on_demand(self, region: str, instance_type: str) -> float | None:
        filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in (
            ("instanceType", instance_type), ("regionCode", region), ("operatingSystem", "Linux"),
            ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))]
        prices = []
        token = None
        while True:
            kwargs = {"ServiceCode": "AmazonEC2", "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            response = self._pricing.get_products(**kwargs)
            prices += [p for p in map(_aws_on_demand_price, response.get("PriceList", [])) if p is not None]
            token = response.get("NextToken")
            if not token:
                break
        return min(prices) if prices else None

    def _spot(self, region: str, instance_types: list[str]) -> dict[str, float]:
        client = self._ec2_for(region)
        latest: dict[tuple[str, str], tuple[datetime, float]] = {}
        token = None
        while True:
            kwargs = {"InstanceTypes": instance_types, "ProductDescriptions": ["Linux/UNIX"],
                      "StartTime": self._now() - timedelta(hours=3), "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            response = client.describe_spot_price_history(**kwargs)
            for item in response.get("SpotPriceHistory", []):
                key = (item["InstanceType"], item["AvailabilityZone"])
                stamp = item["Timestamp"]
                if key not in latest or stamp > latest[key][0]:
                    latest[key] = (stamp, float(item["SpotPrice"]))
            token = response.get("NextToken")
            if not token:
                break
        per_type: dict[str, list[float]] = defaultdict(list)
        for (instance_type, _zone), (_stamp, price) in latest.items():
            per_type[instance_type].append(price)
        return {t: statistics.median(v) for t, v in per_type.items()}

    def refresh(self, baseline: Catalog, regions: set[tuple[str, str]]) -> tuple[Catalog, tuple[str, ...]]:
        notes = []
        updated: list[Offer] = []
        for offer in baseline.offers:
            if offer.cloud != "aws" or (offer.cloud, offer.region) not in regions:
                updated.append(offer)
        for region in sorted(r for c, r in regions if c == "aws"):
            offers = sorted(baseline.offers_in("aws", region), key=lambda o: o.instance_type)
            spot = self._spot(region, [o.instance_type for o in offers]) if offers else {}
            for offer in offers:
                on_demand = self._on_demand(region, offer.instance_type)
                if on_demand is None:
                    notes.append(f"aws {region} {offer.instance_type}: no on-demand price returned, kept "
                                 f"{offer.on_demand_usd_per_hour}")
                    on_demand = offer.on_demand_usd_per_hour
                spot_price = spot.get(offer.instance_type)
                updated.append(dataclasses.replace(
                    offer, on_demand_usd_per_hour=round(on_demand, 6),
                    spot_usd_per_hour=round(spot_price, 6) if spot_price is not None and spot_price < on_demand
                    else None))
        return baseline.with_offers(updated, snapshot_date=f"{_today()} (live AWS prices)"), tuple(notes)


# --- GCP -------------------------------------------------------------------------------------------

COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
_GCP_FAMILY = {"n2": "N2", "e2": "E2", "c3": "C3", "a2": "A2", "a3": "A3", "g2": "G2"}
_GCP_GPU_SKU = {"A100": "Nvidia Tesla A100 GPU", "A100-80GB": "Nvidia A100 80GB GPU", "H100": "Nvidia H100 80GB GPU",
                "H100-MEGA": "Nvidia H100 80GB Mega GPU", "H200": "Nvidia H200 141GB GPU", "L4": "Nvidia L4 GPU"}


def _unit_price(sku: dict) -> float | None:
    for info in sku.get("pricingInfo", []):
        rates = info.get("pricingExpression", {}).get("tieredRates", [])
        if rates:
            price = rates[-1].get("unitPrice", {})
            if price.get("currencyCode", "USD") != "USD":
                return None
            return int(price.get("units", "0") or 0) + int(price.get("nanos", 0) or 0) / 1e9
    return None


def _urllib_get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https URL built below
        return json.loads(response.read().decode("utf-8"))


class GcpBillingCatalogSource:
    """Cloud Billing Catalog API over HTTPS with an API key (no SDK needed)."""

    name = "GCP Cloud Billing Catalog API"

    def __init__(self, api_key: str, get_json: Callable[[str], dict] = _urllib_get):
        self._api_key = api_key
        self._get_json = get_json

    def _skus(self) -> list[dict]:
        skus: list[dict] = []
        token = ""
        while True:
            query = {"key": self._api_key, "pageSize": 5000}
            if token:
                query["pageToken"] = token
            url = (f"https://cloudbilling.googleapis.com/v1/services/{COMPUTE_ENGINE_SERVICE}/skus?"
                   + urllib.parse.urlencode(query))
            page = self._get_json(url)
            skus += page.get("skus", [])
            token = page.get("nextPageToken", "")
            if not token:
                return skus

    @staticmethod
    def _rates(skus: Iterable[dict]) -> dict[tuple[str, str, str], float]:
        """(region, resource, usage) -> $/unit/hour; resource like 'N2 core', 'N2 ram', 'GPU L4'."""
        rates: dict[tuple[str, str, str], float] = {}
        for sku in skus:
            category = sku.get("category", {})
            usage = {"OnDemand": "on_demand", "Preemptible": "spot"}.get(category.get("usageType", ""))
            if usage is None:
                continue
            description = re.sub(r"^Spot Preemptible ", "", sku.get("description", ""))
            resource = None
            match = re.match(r"^(N2|E2|C3|A2|A3|G2) Instance (Core|Ram) running in ", description)
            if match and "Custom" not in description:
                resource = f"{match.group(1)} {match.group(2).lower()}"
            else:
                for accelerator, prefix in _GCP_GPU_SKU.items():
                    if description.startswith(prefix + " running in "):
                        resource = f"GPU {accelerator}"
            price = _unit_price(sku)
            if resource is None or price is None:
                continue
            for region in sku.get("serviceRegions", []):
                rates[(region, resource, usage)] = price
        return rates

    def refresh(self, baseline: Catalog, regions: set[tuple[str, str]]) -> tuple[Catalog, tuple[str, ...]]:
        rates = self._rates(self._skus())
        notes = []
        updated = []
        for offer in baseline.offers:
            if offer.cloud != "gcp" or (offer.cloud, offer.region) not in regions:
                updated.append(offer)
                continue
            family = _GCP_FAMILY.get(offer.instance_type.split("-")[0])
            prices = {}
            for usage in ("on_demand", "spot"):
                core = rates.get((offer.region, f"{family} core", usage)) if family else None
                ram = rates.get((offer.region, f"{family} ram", usage)) if family else None
                gpu = rates.get((offer.region, f"GPU {offer.accelerator}", usage), 0.0 if not offer.accelerator else None)
                if core is None or ram is None or gpu is None:
                    prices[usage] = None
                else:
                    prices[usage] = offer.vcpus * core + offer.memory_gib * ram + offer.accelerators_per_node * gpu
            if prices["on_demand"] is None:
                notes.append(f"gcp {offer.region} {offer.instance_type}: no matching SKUs, kept "
                             f"{offer.on_demand_usd_per_hour}")
                updated.append(offer)
                continue
            spot = prices["spot"]
            updated.append(dataclasses.replace(
                offer, on_demand_usd_per_hour=round(prices["on_demand"], 6),
                spot_usd_per_hour=round(spot, 6) if spot is not None and spot < prices["on_demand"] else None))
        unpriced = len(notes)
        summary = (f"{unpriced} GCP offers (TPU slices and machine families without core/RAM SKUs) kept their "
                   "previous prices",) if unpriced else ()
        return baseline.with_offers(updated, snapshot_date=f"{_today()} (live GCP prices)"), summary


# --- plausibility gate -----------------------------------------------------------------------------

def validate_refresh(previous: Catalog, fresh: Catalog, regions: set[tuple[str, str]]) -> list[str]:
    """Reasons to reject ``fresh`` (empty when plausible), comparing only the regions in use."""
    problems = []
    old = {(o.cloud, o.region, o.instance_type): o for o in previous.offers if (o.cloud, o.region) in regions}
    new = {(o.cloud, o.region, o.instance_type): o for o in fresh.offers if (o.cloud, o.region) in regions}
    missing_regions = sorted(f"{c}:{r}" for c, r in regions
                             if any(k[:2] == (c, r) for k in old) and not any(k[:2] == (c, r) for k in new))
    if missing_regions:
        problems.append(f"no offers at all for regions in use: {', '.join(missing_regions)}")
    dropped = [key for key in old if key not in new]
    if old and len(dropped) > _MAX_DROPPED_SHARE * len(old):
        problems.append(f"{len(dropped)} of {len(old)} offers in the regions in use disappeared (truncated data?)")
    implausible = []
    for key, offer in sorted(new.items()):
        before = old.get(key)
        if before is None or before.on_demand_usd_per_hour <= 0:
            continue
        if offer.on_demand_usd_per_hour <= 0:
            implausible.append(f"{key[0]}:{key[1]} {key[2]} priced {offer.on_demand_usd_per_hour}")
            continue
        ratio = offer.on_demand_usd_per_hour / before.on_demand_usd_per_hour
        if ratio > _MAX_RATIO or ratio < 1 / _MAX_RATIO:
            implausible.append(f"{key[0]}:{key[1]} {key[2]} {before.on_demand_usd_per_hour:g} -> "
                               f"{offer.on_demand_usd_per_hour:g} $/h")
    if implausible:
        problems.append(f"{len(implausible)} prices moved by more than {_MAX_RATIO:g}x (e.g. "
                        + "; ".join(implausible[:3]) + ")")
    return problems
