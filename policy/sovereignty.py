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
]

DEFAULT_RULES_PATH = Path(__file__).resolve().with_name("sovereignty.yaml")
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
