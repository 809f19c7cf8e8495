"""Fixtures of the optimizer tests (kept here, not in tests/conftest.py, so other suites are untouched)."""

from __future__ import annotations

import pytest

from tests.optimizer.helpers import catalog as _catalog


@pytest.fixture(scope="session")
def catalog():
    """The bundled catalog snapshot (catalog/2026-11-29), read once."""
    return _catalog()
