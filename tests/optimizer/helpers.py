"""Small helpers shared by the optimizer tests: turn an estate document into a LoadedEstate."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

from optimizer.catalog import Catalog, load_catalog
from optimizer.errors import EstateError
from optimizer.estate import LoadedEstate, check_against_catalog, data_class_problems, parse_estate
from policy.sovereignty import DEFAULT_RULES_PATH, load_rules

REPO = Path(__file__).resolve().parents[2]
HEALTHCARE = REPO / "stacks" / "estates" / "healthcare.yaml"


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The bundled snapshot, read once per test session."""
    return load_catalog()


@lru_cache(maxsize=1)
def rules():
    return load_rules(DEFAULT_RULES_PATH)


def load_document(document: dict, source: str = "<test>") -> LoadedEstate:
    """What load_estate does, without a file: validate, check data classes and the catalog."""
    estate = parse_estate(copy.deepcopy(document), source)
    problems = data_class_problems(estate, rules()) + check_against_catalog(estate, catalog())
    if problems:
        raise EstateError(source, problems)
    return LoadedEstate(estate=estate, rules=rules(), source=source)
