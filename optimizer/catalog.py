"""Price catalog: instance offers per cloud region, region facts, egress and storage prices.

Reads a directory in SkyPilot's catalog CSV format (the bundled snapshot lives in
``catalog/<date>/``). Either the flat layout of the bundled snapshot (``aws_vms.csv``,
``gcp_vms.csv``) or SkyPilot's own (``aws/vms.csv``, ``gcp/vms.csv``) is accepted; region,
egress and storage facts missing from a user's directory come from the bundled snapshot.

Every quirk of the snapshot is handled on purpose and recorded in :attr:`Catalog.quirks`:

* exact duplicate rows are dropped (GCP tpu-v4 / tpu-v6e / tpu-v5p rows appear twice);
* rows with an empty on-demand price are dropped (e.g. every ``p5e.48xlarge``);
* an empty spot price, or a spot price at or above on-demand, means "no spot in that zone";
* GCP TPU placeholder prices (exactly 700.0) are treated as missing;
* GCP GPU VMs are priced as host row + accelerator row of the same model, count and zone;
* a zone price below half the median of the same offer (instance type, or GPU model and count)
  is dropped as an anomaly (the README's 4.20076 $/GPU-h H100 zones); GCP T4/V100/P100/P4 are skipped
  because the extract has no n1 host rows to attach them to;
* ``trn2.48xlarge`` has no accelerator in the source: it is read as 16 Trainium2 chips.

Region prices: on-demand is the cheapest zone (zones normally agree); spot is the median
over the region's zones that offer spot, since node groups spread over zones.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from optimizer.errors import CatalogError
from optimizer.geo import distance_km

__all__ = [
    "BUNDLED_CATALOG_DIR",
    "Catalog",
    "EgressPrices",
    "Offer",
    "RegionFact",
    "accelerator_family",
    "load_catalog",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CATALOG_DIR = REPO_ROOT / "catalog" / "2026-11-29"

_FAMILIES = {
    "A100": "A100", "A100-80GB": "A100", "H100": "H100", "H100-MEGA": "H100", "H200": "H200",
    "B200": "B200", "L4": "L4", "L40S": "L40S", "A10G": "A10G", "T4": "T4", "T4g": "T4",
    "V100": "V100", "V100-32GB": "V100", "Inferentia": "Inferentia", "Inferentia2": "Inferentia",
    "Trainium": "Trainium", "Trainium2": "Trainium",
}
_GCP_VM_GPU = [  # machine-family prefix -> GPU model (SkyPilot's mapping)
    ("a2-highgpu-", "A100"), ("a2-megagpu-", "A100"), ("a2-ultragpu-", "A100-80GB"),
    ("a3-highgpu-", "H100"), ("a3-edgegpu-", "H100"), ("a3-megagpu-", "H100-MEGA"),
    ("a3-ultragpu-", "H200"), ("g2-standard-", "L4"),
]
_G2_GPUS = {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1, "24": 2, "48": 4, "96": 8}
_TPU_NAME = re.compile(r"^tpu-(v2|v3|v4|v5p|v5litepod|v6e)-(\d+)$")
_TPU_PLACEHOLDER_PRICE = 700.0
_ANOMALY_RATIO = 0.5


def accelerator_family(accelerator: str) -> str:
    """Quota/compatibility family: A100-80GB -> A100, Inferentia2 -> Inferentia, tpu-v5p -> tpu-v5p."""
    return _FAMILIES.get(accelerator, accelerator)


@dataclass(frozen=True)
class Offer:
    """One purchasable node type in one cloud region, with region-level prices."""

    cloud: str
    region: str
    instance_type: str  # EC2 type, GCE machine type, or TPU slice name (tpu-v5p-8)
    accelerator: str | None  # canonical model (A100, H100, Inferentia2, tpu-v5p) or None for CPU
    accelerators_per_node: int  # GPUs / Neuron devices per node; TPU: chips per slice
    vcpus: float
    memory_gib: float
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float | None
    zones: tuple[str, ...]

    @property
    def family(self) -> str | None:
        return accelerator_family(self.accelerator) if self.accelerator else None

    @property
    def is_tpu(self) -> bool:
        return bool(self.accelerator and self.accelerator.startswith("tpu-"))


@dataclass(frozen=True)
class RegionFact:
    cloud: str
    region: str
    country: str
    jurisdiction: str
    city: str
    lat: float
    lon: float


@dataclass(frozen=True)
class EgressPrices:
    """Per-GB transfer prices by scope. Tiered internet prices are kept for reports; the
    optimizer uses the first paid tier as the marginal rate (see solve.py)."""

    internet_tiers: Mapping[str, tuple[tuple[float, float | None, float], ...]]  # cloud -> (from, to, $/GB)
    inter_region: Mapping[str, float]  # cloud -> $/GB between regions of one continent group
    inter_region_pairs: Mapping[frozenset[str], float]  # special pairs (us-east-1 <-> us-east-2)
    inter_continent_assumption: Mapping[str, float]  # not in the source data: see ``internet_rate``

    def internet_rate(self, cloud: str) -> float:
        """First paid tier of internet egress: the marginal $/GB for a month under 10 TB."""
        return next(rate for _, _, rate in self.internet_tiers[cloud] if rate > 0)

    def tiered_internet_cost(self, cloud: str, gb: float) -> float:
        """Cost of ``gb`` of internet egress in one month with marginal tiers."""
        cost = 0.0
        for start, end, rate in self.internet_tiers[cloud]:
            upper = gb if end is None else min(gb, end)
            if upper > start:
                cost += (upper - start) * rate
        return cost


@dataclass(frozen=True)
class Catalog:
    """Everything price- and place-related the optimizer needs, read once from a directory."""

    source_dir: str
    snapshot_date: str
    offers: tuple[Offer, ...]
    regions: Mapping[tuple[str, str], RegionFact]
    egress: EgressPrices
    storage_usd_per_gb_month: Mapping[str, float]
    quirks: tuple[str, ...] = ()
    carbon_g_per_kwh: Mapping[tuple[str, str], float] = field(default_factory=dict)  # grid intensity per region
    accelerator_watts: Mapping[str, float] = field(default_factory=dict)
    _by_region: Mapping[tuple[str, str], tuple[Offer, ...]] = field(default_factory=dict, repr=False)

    def offers_in(self, cloud: str, region: str) -> tuple[Offer, ...]:
        return self._by_region.get((cloud, region), ())

    def with_offers(self, offers: Iterable[Offer], *, snapshot_date: str | None = None) -> "Catalog":
        """A copy with other offers (e.g. refreshed prices); everything else is shared."""
        offers = tuple(offers)
        by_region: dict[tuple[str, str], list[Offer]] = defaultdict(list)
        for offer in offers:
            by_region[(offer.cloud, offer.region)].append(offer)
        return replace(self, offers=offers, snapshot_date=snapshot_date or self.snapshot_date,
                       _by_region={key: tuple(value) for key, value in by_region.items()})

    def accelerator_names(self) -> set[str]:
        return {offer.accelerator for offer in self.offers if offer.accelerator}


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.strerror}). To fix: check the catalog directory") from None


def _float(value: str, path: Path, line: int, column: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise CatalogError(
            f"{path}: line {line}, column {column}: '{value}' is not a number. "
            "To fix: correct the row or re-export the catalog") from None


def _find(directory: Path, *candidates: str) -> Path | None:
    for candidate in candidates:
        path = directory / candidate
        if path.is_file():
            return path
    return None


def _dedupe(rows: list[dict[str, str]], label: str, quirks: list[str]) -> list[dict[str, str]]:
    seen: set[tuple[tuple[str, str], ...]] = set()
    unique = []
    for row in rows:
        key = tuple(sorted(row.items()))
        if key in seen:
            continue
        seen.add(key)
        unique.append(row)
    if len(unique) != len(rows):
        quirks.append(f"{label}: dropped {len(rows) - len(unique)} exact duplicate rows")
    return unique


@dataclass
class _ZonePrice:
    instance_type: str
    accelerator: str | None
    count: int
    vcpus: float
    memory_gib: float
    price: float
    spot: float | None
    region: str
    zone: str


def _aws_zone_prices(path: Path, quirks: list[str]) -> list[_ZonePrice]:
    rows = _dedupe(_read_csv(path), path.name, quirks)
    result: list[_ZonePrice] = []
    empty_price = spot_missing = spot_not_cheaper = 0
    for line, row in enumerate(rows, start=2):
        price = _float(row["Price"], path, line, "Price")
        if price is None:
            empty_price += 1
            continue
        spot = _float(row["SpotPrice"], path, line, "SpotPrice")
        if spot is None:
            spot_missing += 1
        elif spot >= price:
            spot_not_cheaper += 1
            spot = None
        accelerator = row["AcceleratorName"] or None
        count = int(float(row["AcceleratorCount"])) if row["AcceleratorCount"] else 0
        if row["InstanceType"] == "trn2.48xlarge" and accelerator is None:
            accelerator, count = "Trainium2", 16
        result.append(_ZonePrice(
            row["InstanceType"], accelerator, count, _float(row["vCPUs"], path, line, "vCPUs") or 0.0,
            _float(row["MemoryGiB"], path, line, "MemoryGiB") or 0.0, price, spot, row["Region"],
            row["AvailabilityZone"]))
    anomalies = _drop_anomalies(path.name, {(zp.instance_type, zp.zone): zp.price for zp in result}, quirks)
    result = [zp for zp in result if (zp.instance_type, zp.zone) not in anomalies]
    quirks.append(f"{path.name}: dropped {empty_price} rows with an empty on-demand price")
    quirks.append(f"{path.name}: {spot_missing} zone rows without spot price and {spot_not_cheaper} with spot >= "
                  "on-demand are treated as 'no spot in that zone'")
    quirks.append(f"{path.name}: trn2.48xlarge read as 16 Trainium2 chips (not encoded in the source)")
    return result


def _gcp_vm_gpu(instance_type: str) -> tuple[str, int] | None:
    for prefix, gpu in _GCP_VM_GPU:
        if instance_type.startswith(prefix):
            if prefix == "g2-standard-":
                return gpu, _G2_GPUS.get(instance_type[len(prefix):], 0)
            match = re.search(r"-(\d+)g", instance_type)
            return (gpu, int(match.group(1))) if match else None
    return None


def _tpu_chips(slice_name: str) -> tuple[str, int] | None:
    match = _TPU_NAME.match(slice_name)
    if not match:
        return None
    version, size = match.group(1), int(match.group(2))
    chips = size if version in ("v5litepod", "v6e") else size // 2  # v2-v5p names count TensorCores
    return f"tpu-{version}", max(chips, 1)


def _gcp_zone_prices(path: Path, quirks: list[str]) -> list[_ZonePrice]:
    rows = _dedupe(_read_csv(path), path.name, quirks)
    vms: list[tuple[int, dict[str, str]]] = []
    gpu_rows: dict[tuple[str, int, str], tuple[float, float | None]] = {}
    result: list[_ZonePrice] = []
    placeholders = no_host = 0
    for line, row in enumerate(rows, start=2):
        price = _float(row["Price"], path, line, "Price")
        spot = _float(row["SpotPrice"], path, line, "SpotPrice")
        if row["InstanceType"]:
            vms.append((line, row))
            continue
        name = row["AcceleratorName"]
        tpu = _tpu_chips(name)
        if tpu:
            if price == _TPU_PLACEHOLDER_PRICE:
                placeholders += 1
                continue
            if spot == _TPU_PLACEHOLDER_PRICE:
                placeholders += 1
                spot = None
            if price is None:
                continue
            result.append(_ZonePrice(name, tpu[0], tpu[1], 0.0, 0.0, price,
                                     spot if spot is not None and spot < price else None,
                                     row["Region"], row["AvailabilityZone"]))
            continue
        if price is None:
            continue
        gpu_rows[(name, int(float(row["AcceleratorCount"])), row["AvailabilityZone"])] = (price, spot)
    anomalies = _drop_anomalies(
        path.name, {(f"{name} x{count}", zone): price for (name, count, zone), (price, _) in gpu_rows.items()}, quirks)
    gpu_rows = {key: value for key, value in gpu_rows.items() if (f"{key[0]} x{key[1]}", key[2]) not in anomalies}
    for line, row in vms:
        price = _float(row["Price"], path, line, "Price")
        if price is None:
            continue
        spot = _float(row["SpotPrice"], path, line, "SpotPrice")
        gpu = _gcp_vm_gpu(row["InstanceType"])
        accelerator, count = (None, 0)
        if gpu:
            accelerator, count = gpu
            attached = gpu_rows.get((accelerator, count, row["AvailabilityZone"]))
            if attached is None or count == 0:
                no_host += 1
                continue
            gpu_price, gpu_spot = attached
            price += gpu_price
            spot = spot + gpu_spot if spot is not None and gpu_spot is not None else None
        result.append(_ZonePrice(
            row["InstanceType"], accelerator, count, _float(row["vCPUs"], path, line, "vCPUs") or 0.0,
            _float(row["MemoryGiB"], path, line, "MemoryGiB") or 0.0, price,
            spot if spot is not None and spot < price else None, row["Region"], row["AvailabilityZone"]))
    quirks.append(f"{path.name}: {placeholders} TPU placeholder prices (700.0) treated as missing")
    quirks.append(f"{path.name}: GPU VMs priced as host row + accelerator row; {no_host} host rows without a "
                  "matching accelerator row skipped; T4/V100/P100/P4 skipped (no n1 host rows)")
    return result


def _drop_anomalies(label: str, prices: dict[tuple[str, str], float], quirks: list[str]) -> set[tuple[str, str]]:
    """Keys (offer, zone) whose price is below half the median of the same offer in all zones.

    Catches the README's H100 rows at 4.20076 $/GPU-h (list price is 10-12) without touching
    ordinary regional differences, which stay well within a factor of two.
    """
    by_offer: dict[str, list[float]] = defaultdict(list)
    for (offer, _zone), price in prices.items():
        by_offer[offer].append(price)
    medians = {offer: statistics.median(values) for offer, values in by_offer.items()}
    anomalies = {key for key, price in prices.items() if price < _ANOMALY_RATIO * medians[key[0]]}
    counted: dict[str, int] = defaultdict(int)
    for offer, _zone in anomalies:
        counted[offer] += 1
    for offer, count in sorted(counted.items()):
        quirks.append(f"{label}: dropped {count} zone prices of {offer} below half its median "
                      f"({medians[offer]:.4f} $/h): treated as anomalies")
    return anomalies


def _aggregate(cloud: str, zone_prices: Iterable[_ZonePrice]) -> list[Offer]:
    grouped: dict[tuple[str, str], list[_ZonePrice]] = defaultdict(list)
    for zp in zone_prices:
        grouped[(zp.region, zp.instance_type)].append(zp)
    offers = []
    for (region, instance_type), zones in sorted(grouped.items()):
        first = zones[0]
        spots = sorted(z.spot for z in zones if z.spot is not None)
        offers.append(Offer(
            cloud=cloud, region=region, instance_type=instance_type, accelerator=first.accelerator,
            accelerators_per_node=first.count, vcpus=first.vcpus, memory_gib=first.memory_gib,
            on_demand_usd_per_hour=round(min(z.price for z in zones), 6),
            spot_usd_per_hour=round(statistics.median(spots), 6) if spots else None,
            zones=tuple(sorted({z.zone for z in zones}))))
    return offers


def _regions(path: Path) -> dict[tuple[str, str], RegionFact]:
    facts = {}
    for line, row in enumerate(_read_csv(path), start=2):
        try:
            facts[(row["cloud"], row["region"])] = RegionFact(
                row["cloud"], row["region"], row["country_iso2"], row["jurisdiction"], row["city"],
                float(row["lat"]), float(row["lon"]))
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"{path}: line {line}: malformed region row ({exc}). "
                               "To fix: columns are cloud,region,country_iso2,jurisdiction,city,lat,lon") from None
    return facts


def _egress(path: Path) -> EgressPrices:
    rows = _read_csv(path)
    tiers: dict[str, list[tuple[float, float | None, float]]] = defaultdict(list)
    inter_region: dict[str, float] = {}
    pairs: dict[frozenset[str], float] = {}
    for line, row in enumerate(rows, start=2):
        cloud, source, target = row["cloud"], row["from_scope"], row["to_scope"]
        rate = _float(row["usd_per_gb"], path, line, "usd_per_gb")
        start = _float(row["tier_gb_from"], path, line, "tier_gb_from") or 0.0
        end = _float(row["tier_gb_to"], path, line, "tier_gb_to")
        if rate is None:
            continue
        if target.startswith("internet") and source.startswith("region ("):
            tiers[cloud].append((start, end, rate))
        elif target.startswith("other AWS region") or target.startswith("other region in"):
            inter_region[cloud] = max(inter_region.get(cloud, 0.0), rate)
        elif cloud == "aws" and source == "us-east-1" and target.startswith("us-east-2"):
            pairs[frozenset({"aws:us-east-1", "aws:us-east-2"})] = rate
    for cloud in ("aws", "gcp"):
        if not tiers.get(cloud) or cloud not in inter_region:
            raise CatalogError(f"{path}: no internet or inter-region egress rows for {cloud}. "
                               "To fix: use the bundled egress.csv layout (cloud,from_scope,to_scope,...)")
    return EgressPrices(
        internet_tiers={cloud: tuple(sorted(values)) for cloud, values in tiers.items()},
        inter_region=inter_region,
        inter_region_pairs=pairs,
        # Not in the source data: transfers between continents (and out of AWS APAC/SA/ME/AF source
        # regions) are charged at the cloud's first internet tier, an upper bound on the real rate.
        inter_continent_assumption={cloud: next(r for _, _, r in sorted(tiers[cloud]) if r > 0)
                                    for cloud in ("aws", "gcp")},
    )


def _required_values(path: Path, key_column: str, value_column: str) -> dict[str, float]:
    """``{key: number}`` from a two-column fact table; an empty number is an error naming the line."""
    result = {}
    for line, row in enumerate(_read_csv(path), start=2):
        value = _float(row[value_column], path, line, value_column)
        if value is None:
            raise CatalogError(f"{path}: line {line}: empty {value_column}. To fix: fill it")
        result[row[key_column]] = value
    return result


def _carbon(directory: Path, regions: Mapping[tuple[str, str], RegionFact],
            quirks: list[str]) -> dict[tuple[str, str], float]:
    """Grid carbon intensity per region: Google's figures for GCP, the third-party table for AWS;
    a region without a figure takes its nearest region's (great-circle), recorded as a quirk."""
    values: dict[tuple[str, str], float] = {}
    gcp_path = _find(directory, "gcp_region_carbon.csv") or BUNDLED_CATALOG_DIR / "gcp_region_carbon.csv"
    for line, row in enumerate(_read_csv(gcp_path), start=2):
        value = _float(row["Grid carbon intensity (gCO2eq / kWh)"], gcp_path, line, "Grid carbon intensity")
        if value is not None:
            values[("gcp", row["Google Cloud Region"])] = value
    aws_path = _find(directory, "aws_region_carbon.csv") or BUNDLED_CATALOG_DIR / "aws_region_carbon.csv"
    for line, row in enumerate(_read_csv(aws_path), start=2):
        value = _float(row["grid_carbon_intensity_gco2e_per_kwh"], aws_path, line, "grid_carbon_intensity")
        if value is not None:
            values[(row["cloud"], row["region"])] = value
    known = sorted(key for key in values if key in regions)
    for key, fact in sorted(regions.items()):
        if key in values or not known:
            continue
        nearest = min(known, key=lambda k: (distance_km(fact.lat, fact.lon, regions[k].lat, regions[k].lon), k))
        values[key] = values[nearest]
        quirks.append(f"carbon: {key[0]}:{key[1]} has no grid intensity figure; using {nearest[0]}:{nearest[1]}'s "
                      f"({values[nearest]:g} g/kWh), the nearest region with one")
    return values


def _snapshot_date(directory: Path, vm_files: list[Path]) -> str:
    manifest = directory / "CATALOG.json"
    if manifest.is_file():
        try:
            return str(json.loads(manifest.read_text(encoding="utf-8"))["snapshot_date"])
        except (ValueError, KeyError):
            raise CatalogError(f"{manifest}: needs a 'snapshot_date' field. "
                               "To fix: write {\"snapshot_date\": \"YYYY-MM-DD\"}") from None
    newest = max(path.stat().st_mtime for path in vm_files)
    return datetime.fromtimestamp(newest, tz=timezone.utc).strftime("%Y-%m-%d") + " (file date)"


def load_catalog(directory: str | Path = BUNDLED_CATALOG_DIR) -> Catalog:
    """Load and clean a catalog directory. Raises CatalogError with a "To fix:" hint."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError(f"{directory}: catalog directory does not exist. "
                           f"To fix: pass a directory with aws_vms.csv/gcp_vms.csv, e.g. {BUNDLED_CATALOG_DIR}")
    aws_path = _find(directory, "aws_vms.csv", "aws/vms.csv")
    gcp_path = _find(directory, "gcp_vms.csv", "gcp/vms.csv")
    if aws_path is None and gcp_path is None:
        raise CatalogError(f"{directory}: no aws_vms.csv, aws/vms.csv, gcp_vms.csv or gcp/vms.csv. "
                           "To fix: point --catalog at a SkyPilot catalog directory")
    quirks: list[str] = []
    offers: list[Offer] = []
    if aws_path:
        offers += _aggregate("aws", _aws_zone_prices(aws_path, quirks))
    if gcp_path:
        offers += _aggregate("gcp", _gcp_zone_prices(gcp_path, quirks))
    regions_path = _find(directory, "regions.csv") or BUNDLED_CATALOG_DIR / "regions.csv"
    egress_path = _find(directory, "egress.csv") or BUNDLED_CATALOG_DIR / "egress.csv"
    storage_path = _find(directory, "storage.csv") or BUNDLED_CATALOG_DIR / "storage.csv"
    regions = _regions(regions_path)
    unknown = sorted({(o.cloud, o.region) for o in offers} - set(regions))
    if unknown:
        quirks.append(f"offers in regions without region facts are ignored: {unknown}")
        offers = [o for o in offers if (o.cloud, o.region) in regions]
    by_region: dict[tuple[str, str], list[Offer]] = defaultdict(list)
    for offer in offers:
        by_region[(offer.cloud, offer.region)].append(offer)
    carbon = _carbon(directory, regions, quirks)
    return Catalog(
        source_dir=str(directory),
        snapshot_date=_snapshot_date(directory, [p for p in (aws_path, gcp_path) if p]),
        offers=tuple(offers),
        regions=regions,
        egress=_egress(egress_path),
        storage_usd_per_gb_month=_required_values(storage_path, "cloud", "usd_per_gb_month"),
        quirks=tuple(quirks),
        carbon_g_per_kwh=carbon,
        accelerator_watts=_required_values(
            _find(directory, "accelerator_power.csv") or BUNDLED_CATALOG_DIR / "accelerator_power.csv",
            "accelerator", "watts_per_device"),
        _by_region={key: tuple(value) for key, value in by_region.items()},
    )
