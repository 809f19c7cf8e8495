"""Write a seeded, realistic hourly request history for three user populations.

Six weeks (1,008 hours from Monday 2026-10-19 00:00 UTC) per population, with:

* a daily shape in local time (clinicians: office hours; stores: opening hours into the evening),
* a weekly shape (clinicians are quiet at weekends, stores are busiest on Saturday),
* a linear trend (growth per week), multiplicative log-normal noise,
* one outage in frankfurt-clinicians (week 2, Wednesday): two hours near zero, then a retry spike.

Usage: python examples/demand/make_history.py [OUT.csv]   (default: clinician-requests.csv beside this file)
The same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import math
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

SEED = 20261119
START = datetime(2026, 10, 19, tzinfo=timezone.utc)  # a Monday
HOURS = 6 * 7 * 24

# name: (base rps, UTC offset of local time, weekly growth, noise sigma, daily shape, weekday factors Mon..Sun)
POPULATIONS = {
    "frankfurt-clinicians": (120.0, 1, 0.006, 0.06, "office", (1.0, 1.04, 1.02, 1.0, 0.92, 0.38, 0.30)),
    "paris-clinicians": (80.0, 1, 0.004, 0.07, "office", (1.0, 1.02, 1.0, 0.98, 0.90, 0.35, 0.28)),
    "chicago-stores": (210.0, -6, 0.010, 0.05, "retail", (0.85, 0.82, 0.86, 0.9, 1.05, 1.30, 1.12)),
}
OUTAGE = ("frankfurt-clinicians", START + timedelta(days=9, hours=13))  # 14:00 local on Wednesday of week 2


def daily_shape(kind: str, local_hour: float) -> float:
    """Relative load by local hour: a night floor plus one or two smooth bumps."""
    if kind == "office":  # morning rounds peak at 10:00, a smaller afternoon peak at 15:00
        return 0.12 + math.exp(-((local_hour - 10.0) / 2.2) ** 2) + 0.7 * math.exp(-((local_hour - 15.0) / 2.0) ** 2)
    return 0.08 + math.exp(-((local_hour - 17.5) / 3.5) ** 2)  # stores: 09:00-21:00, evening peak


def rows() -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(SEED)
    out: list[tuple[str, str, str]] = []
    noise = {name: rng.normal(0.0, spec[3], HOURS) for name, spec in POPULATIONS.items()}
    for hour in range(HOURS):
        stamp = START + timedelta(hours=hour)
        for name, (base, offset, growth, _sigma, kind, weekly) in POPULATIONS.items():
            local = stamp + timedelta(hours=offset)
            value = (base * daily_shape(kind, local.hour + 0.5) * weekly[local.weekday()]
                     * (1.0 + growth * hour / 168.0) * math.exp(noise[name][hour]))
            if name == OUTAGE[0]:
                since = (stamp - OUTAGE[1]) / timedelta(hours=1)
                if 0 <= since < 2:
                    value *= 0.03  # outage: only health checks get through
                elif since == 2:
                    value *= 2.6  # clients retry their queued requests
            out.append((stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), name, f"{value:.2f}"))
    return out


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else Path(__file__).with_name("clinician-requests.csv")
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "population", "requests_per_second"])
        writer.writerows(rows())
    print(f"wrote {target} ({HOURS} hours x {len(POPULATIONS)} populations)")


if __name__ == "__main__":
    main(sys.argv[1:])
