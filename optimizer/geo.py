"""Geography shared by the catalog (nearest region with a carbon figure) and the network graph."""

from __future__ import annotations

import math

__all__ = ["distance_km", "estimate_latency_ms"]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def estimate_latency_ms(km: float) -> float:
    """5 ms plus 1 ms per 100 km great-circle, which allows for indirect fibre routes."""
    return round(5.0 + km / 100.0, 2)
