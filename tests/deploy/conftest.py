"""Shared helpers: run component builders under the offline mocks and return what they registered."""

from __future__ import annotations

from typing import Any, Callable

from deploy.preview import RegisteredResource, record_resources


def recorded(builder: Callable[[], Any]) -> list[RegisteredResource]:
    """Run a builder under mocks (preview=False) and return every registered resource."""
    resources, _ = record_resources(builder)
    return resources
