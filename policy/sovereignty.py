"""Data-sovereignty rules: one loader shared by the optimizer and the policy pack.

The rules live in ``policy/sovereignty.yaml`` (next to this file) so that ``pulumi preview
--policy-pack policy``, which runs the pack from inside ``policy/`` with its own virtualenv,
reads exactly the file the optimizer reads. This module therefore depends on the standard
library and PyYAML only (both in ``policy/requirements.txt``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

__all__ = [
    "ANY_JURISDICTION",
    "DEFAULT_RULES_PATH",
    "DataClassRule",
    "SovereigntyRules",
    "SovereigntyRulesError",
    "load_rules",
    "load_region_jurisdictions",
    "GCS_MULTI_REGIONS",
    "GCS_PREDEFINED_DUAL_REGIONS",
    "REPO_ROOT",
    "ResolvedLocation",
    "default_regions_csv",
    "region_of_zone",
    "resolve_cloud_region",
    "resolve_gcs_location",
]

DEFAULT_RULES_PATH = Path(__file__).resolve().with_name("sovereignty.yaml")
REPO_ROOT = Path(__file__).resolve().parent.parent
ANY_JURISDICTION = "*"
_CLASS_NAME = re.compile(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")


class SovereigntyRulesError(ValueError):
    """The sovereignty rules file, or a reference to a data class in it, is wrong."""


@dataclass(frozen=True)
class DataClassRule:
    """Where data of one class may be processed and stored."""

    name: str
    description: str
    regulation: str
    allowed_jurisdictions: frozenset[str]
    onprem_only: bool

    @property
    def any_jurisdiction(self) -> bool:
        return ANY_JURISDICTION in self.allowed_jurisdictions

    def violation(self, jurisdiction: str | None, *, onprem: bool) -> str | None:
        """Why a place in ``jurisdiction`` (on-prem or not) may not hold this class, or None."""
        if self.onprem_only and not onprem:
            return f"data class '{self.name}' may only be processed and stored on-prem ({self.regulation})"
        if self.any_jurisdiction:
            return None
        if jurisdiction is None:
            return (
                f"data class '{self.name}' is restricted to {self.describe_jurisdictions()} "
                "but the location's jurisdiction is unknown"
            )
        if jurisdiction not in self.allowed_jurisdictions:
            return (
                f"data class '{self.name}' may not be processed or stored in {jurisdiction}; "
                f"allowed: {self.describe_jurisdictions()} ({self.regulation})"
            )
        return None

    def allows(self, jurisdiction: str | None, *, onprem: bool) -> bool:
        return self.violation(jurisdiction, onprem=onprem) is None

    def describe_jurisdictions(self) -> str:
        if self.any_jurisdiction:
            return "any jurisdiction"
        return ", ".join(sorted(self.allowed_jurisdictions))


@dataclass(frozen=True)
class SovereigntyRules:
    """All data-class rules of an organisation, keyed by class name."""

    classes: Mapping[str, DataClassRule]
    source: str = field(default=str(DEFAULT_RULES_PATH))

    def rule(self, data_class: str) -> DataClassRule:
        try:
            return self.classes[data_class]
        except KeyError:
            known = ", ".join(sorted(self.classes))
            raise SovereigntyRulesError(
                f"unknown data class '{data_class}'. Known classes in {self.source}: {known}. "
                "To fix: use one of these names, or add the class to the rules file."
            ) from None


def _fail(source: str, where: str, problem: str, fix: str) -> SovereigntyRulesError:
    return SovereigntyRulesError(f"{source}: {where}: {problem}. To fix: {fix}")


def load_rules(path: str | Path = DEFAULT_RULES_PATH) -> SovereigntyRules:
    """Read and validate a sovereignty rules file; raises SovereigntyRulesError on any defect."""
    source = str(path)
    if Path(path).exists() and not Path(path).is_file():  # a device (/dev/zero) or directory would hang or fail oddly
        raise _fail(source, "file", "is not a regular file", "point sovereignty_rules at a YAML file")
    if Path(path).is_file() and Path(path).stat().st_size > 1_048_576:
        raise _fail(source, "file", "is larger than 1 MiB", "keep the rules file small; it lists data classes only")
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(source, "file", f"cannot be read ({exc.strerror})", "check the path") from None
    except yaml.YAMLError as exc:
        raise _fail(source, "file", f"is not valid YAML ({exc})", "fix the YAML syntax") from None
    if not isinstance(document, dict):
        raise _fail(source, "top level", "must be a mapping", "start the file with 'data_classes:'")
    groups_raw = document.get("groups") or {}
    if not isinstance(groups_raw, dict):
        raise _fail(source, "groups", "must be a mapping of name -> list", "write 'groups: {NAME: [EU, UK]}'")
    groups: dict[str, list[str]] = {}
    for group_name, members in groups_raw.items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            raise _fail(source, f"groups.{group_name}", "must be a list of jurisdiction codes", "e.g. [EU, UK]")
        groups[str(group_name)] = members
    classes_raw = document.get("data_classes")
    if not isinstance(classes_raw, dict) or not classes_raw:
        raise _fail(source, "data_classes", "is missing or empty", "declare at least one data class")
    classes: dict[str, DataClassRule] = {}
    for name, body in classes_raw.items():
        where = f"data_classes.{name}"
        if not isinstance(name, str) or not _CLASS_NAME.match(name):
            raise _fail(source, where, "is not a valid class name",
                        "use lower-case letters, digits and '-' (no '_': labels join class names with it)")
        if not isinstance(body, dict):
            raise _fail(source, where, "must be a mapping", "give allowed_jurisdictions and onprem_only")
        unknown_keys = set(body) - {"description", "regulation", "allowed_jurisdictions", "onprem_only"}
        if unknown_keys:
            raise _fail(source, where, f"unknown keys {sorted(unknown_keys)}",
                        "use description, regulation, allowed_jurisdictions, onprem_only")
        allowed = body.get("allowed_jurisdictions")
        if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) and a for a in allowed):
            raise _fail(source, f"{where}.allowed_jurisdictions", "must be a non-empty list of codes",
                        "e.g. [EU] or ['*'] for anywhere")
        expanded: set[str] = set()
        for code in allowed:
            expanded.update(groups.get(code, [code]))
        onprem_only = body.get("onprem_only", False)
        if not isinstance(onprem_only, bool):
            raise _fail(source, f"{where}.onprem_only", "must be true or false", "write onprem_only: true")
        regulation = body.get("regulation")
        if not isinstance(regulation, str) or not regulation.strip():
            raise _fail(source, f"{where}.regulation", "is missing", "name the law or rule this class follows")
        classes[str(name)] = DataClassRule(
            name=str(name),
            description=str(body.get("description", "")),
            regulation=regulation.strip(),
            allowed_jurisdictions=frozenset(expanded),
            onprem_only=onprem_only,
        )
    return SovereigntyRules(classes=classes, source=source)


def load_region_jurisdictions(regions_csv: str | Path) -> dict[tuple[str, str], str]:
    """Map (cloud, region) -> jurisdiction code from a catalog's regions.csv."""
    result: dict[tuple[str, str], str] = {}
    with open(regions_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            result[(row["cloud"], row["region"])] = row["jurisdiction"]
    return result


# --- Locations -> jurisdictions (used by the policy pack) ----------------------------------------

# Predefined GCS dual-regions and their member regions
# (https://cloud.google.com/storage/docs/locations#predefined; verify when the list changes).
# EUR5, EUR7 and EUR8 span two jurisdictions (EU + UK, EU + UK, EU + CH).
GCS_PREDEFINED_DUAL_REGIONS: dict[str, tuple[str, ...]] = {
    "ASIA1": ("asia-northeast1", "asia-northeast2"),
    "EUR4": ("europe-north1", "europe-west4"),
    "EUR5": ("europe-west1", "europe-west2"),
    "EUR7": ("europe-west2", "europe-west3"),
    "EUR8": ("europe-west3", "europe-west6"),
    "NAM4": ("us-central1", "us-east1"),
}
# GCS multi-regions: the region-name prefix of the catalog regions each may store data in
# (Google's service-specific terms bind EU to EU member states and US to the United States;
# ASIA is every Asian region, i.e. several jurisdictions).
GCS_MULTI_REGIONS: dict[str, tuple[str, ...]] = {
    "EU": ("europe-",),
    "US": ("us-",),
    "ASIA": ("asia-",),
}
_ZONE_SUFFIX = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


@dataclass(frozen=True)
class ResolvedLocation:
    """Where a storage or compute location may hold data, by jurisdiction."""

    location: str
    kind: str  # region | zone | dual-region | multi-region
    regions: tuple[str, ...]
    jurisdictions: frozenset[str]
    unresolved: tuple[str, ...] = ()  # regions without a known jurisdiction

    def describe(self) -> str:
        if self.kind in ("region", "zone"):
            return self.location
        if self.kind == "multi-region":
            return f"{self.location} (multi-region)"
        return f"{self.location} ({self.kind}: {', '.join(self.regions)})"


def default_regions_csv() -> Path:
    """regions.csv of the newest catalog snapshot in the repository (the one the optimizer bundles)."""
    candidates = sorted((REPO_ROOT / "catalog").glob("*/regions.csv"))
    if not candidates:
        raise SovereigntyRulesError(f"no catalog/*/regions.csv under {REPO_ROOT}. To fix: restore the catalog")
    return candidates[-1]


def region_of_zone(location: str) -> str:
    """'europe-west4-a' -> 'europe-west4'; a region is returned unchanged."""
    match = _ZONE_SUFFIX.match(location)
    return match.group(1) if match else location


def resolve_cloud_region(cloud: str, location: str,
                         regions: Mapping[tuple[str, str], str]) -> ResolvedLocation:
    """Jurisdiction of one cloud region or zone (lower-case names as in regions.csv)."""
    name = location.strip().lower()
    region = name if (cloud, name) in regions else region_of_zone(name)
    kind = "region" if region == name else "zone"
    jurisdiction = regions.get((cloud, region))
    return ResolvedLocation(location=location, kind=kind, regions=(region,),
                            jurisdictions=frozenset({jurisdiction}) if jurisdiction else frozenset(),
                            unresolved=() if jurisdiction else (region,))


def resolve_gcs_location(location: str, regions: Mapping[tuple[str, str], str],
                         data_locations: "list[str] | tuple[str, ...]" = ()) -> ResolvedLocation:
    """Jurisdictions a GCS bucket location may store data in.

    Handles regions (``europe-west4``, any case), predefined dual-regions (``EUR5``), multi-regions
    (``EU``, ``US``, ``ASIA``), configurable dual-regions given as a multi-region plus
    ``customPlacementConfig.dataLocations``, and the ``region1+region2`` form.
    """
    code = location.strip().upper()
    members: tuple[str, ...]
    if data_locations:
        members = tuple(region_of_zone(d.strip().lower()) for d in data_locations)
        kind = "dual-region"
    elif "+" in code:
        members = tuple(region_of_zone(part.strip().lower()) for part in code.split("+") if part.strip())
        kind = "dual-region"
    elif code in GCS_PREDEFINED_DUAL_REGIONS:
        members = GCS_PREDEFINED_DUAL_REGIONS[code]
        kind = "dual-region"
    elif code in GCS_MULTI_REGIONS:
        prefixes = GCS_MULTI_REGIONS[code]
        members = tuple(sorted(r for (c, r) in regions if c == "gcp" and r.startswith(prefixes)))
        kind = "multi-region"
        if code == "EU":
            # The EU multi-region is bound to EU member states, not to every European region.
            members = tuple(r for r in members if regions.get(("gcp", r)) == "EU")
    else:
        resolved = resolve_cloud_region("gcp", code.lower(), regions)
        return ResolvedLocation(location=location, kind=resolved.kind, regions=resolved.regions,
                                jurisdictions=resolved.jurisdictions, unresolved=resolved.unresolved)
    jurisdictions = {regions[("gcp", r)] for r in members if ("gcp", r) in regions}
    unresolved = tuple(r for r in members if ("gcp", r) not in regions)
    if not members:
        unresolved = (code,)
    return ResolvedLocation(location=location, kind=kind, regions=members,
                            jurisdictions=frozenset(jurisdictions), unresolved=unresolved)
